//! Baseline for the benchmarks: a line echo server written by hand on tokio, the way a
//! careful tokio user would — a `BytesMut` per connection (8 KiB), `memchr` for the
//! delimiter, and one write per read carrying every line that read completed.
//!
//! ```text
//! cargo run --release --example baseline_tokio_echo -- --port 8001
//! ```
//!
//! Same contract as `line_echo`: lines end with `\n` (a `\r` before it is dropped), each
//! comes back ended with `\r\n`, lines over 16 KiB close the connection. `--port 0`
//! picks a free port; the first line printed is `listening on ADDR`. Not part of
//! torsade: it is what torsade is measured against (docs/BENCHMARKS.md).

mod common;

use std::process::ExitCode;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USAGE: &str = "usage: baseline_tokio_echo [--port PORT]   (0 picks a free port)";
const MAX_LINE: usize = 16 * 1024;

fn main() -> ExitCode {
    common::tokio_serve_main(USAGE, 8001, |stream| async move {
        if let Err(error) = echo(stream).await {
            tracing::debug!("connection ended: {error}");
        }
    })
}

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut input = BytesMut::with_capacity(8 * 1024);
    let mut output = Vec::with_capacity(8 * 1024);
    loop {
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        let mut start = 0;
        while let Some(at) = memchr::memchr(b'\n', &input[start..]) {
            let line = &input[start..start + at];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            output.extend_from_slice(line);
            output.extend_from_slice(b"\r\n");
            start += at + 1;
        }
        let _ = input.split_to(start);
        if input.len() > MAX_LINE {
            return Ok(());
        }
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
        if input.capacity() - input.len() < 1024 {
            input.reserve(8 * 1024);
        }
    }
}
