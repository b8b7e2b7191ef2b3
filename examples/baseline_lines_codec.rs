//! Baseline for the benchmarks: a line echo server on tokio-util's
//! `Framed<TcpStream, LinesCodec>` (with a 16 KiB line limit), the idiomatic
//! high-level tokio way.
//!
//! ```text
//! cargo run --release --example baseline_lines_codec -- --port 8002
//! ```
//!
//! Nearly `line_echo`'s contract: `LinesCodec` accepts `\n` or `\r\n` but answers with
//! `\n` (the load generator accepts both); lines over 16 KiB end the connection. Writes are batched the
//! way `Framed` allows: every line already decoded from one read is fed, then flushed
//! once. `--port 0` picks a free port; the first line printed is `listening on ADDR`.
//! Not part of torsade: it is what torsade is measured against (docs/BENCHMARKS.md).

mod common;

use std::process::ExitCode;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LinesCodec};

const USAGE: &str = "usage: baseline_lines_codec [--port PORT]   (0 picks a free port)";

fn main() -> ExitCode {
    common::tokio_serve_main(USAGE, 8002, echo)
}

async fn echo(stream: TcpStream) {
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(16 * 1024));
    while let Some(Ok(line)) = lines.next().await {
        // Feed every line that is already decoded, then flush once.
        if lines.feed(line).await.is_err() {
            return;
        }
        while let Some(Some(Ok(line))) = futures::FutureExt::now_or_never(lines.next()) {
            if lines.feed(line).await.is_err() {
                return;
            }
        }
        if SinkExt::<String>::flush(&mut lines).await.is_err() {
            return;
        }
    }
}
