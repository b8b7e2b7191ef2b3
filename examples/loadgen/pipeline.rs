//! The pipelined loop of the line (`pipelined`) and WebSocket (`ws`) modes: one
//! connection keeps `--in-flight` requests outstanding, writes each batch in one go,
//! checks and counts the echoes as they come, and sends one new request per echo until
//! the deadline or its request limit.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{now, Plan, Stream};

/// What a mode's requests and echoes are on the wire: how a request is written and how
/// echoes are read back. Called through a type parameter, so the loop has no dynamic call
/// per request.
pub trait Exchange {
    /// What the requests are called in errors: `lines`, `messages`.
    const UNIT: &'static str;

    /// Appends request `seq` to `output`.
    fn push_request(&mut self, seq: u64, output: &mut Vec<u8>);

    /// Takes every complete echo out of `input`, checking each against request `*next`
    /// onward, and advances `*next` past them; returns how many there were.
    fn take_echoes(&mut self, input: &mut BytesMut, next: &mut u64) -> Result<u64, String>;
}

/// Runs connection `index`'s pipelined exchange on `stream`: `plan.in_flight` requests
/// outstanding, at most `limit` in all, new ones sent until `plan.duration` has passed;
/// returns how many echoes came back.
pub async fn run<E: Exchange>(
    mut stream: impl Stream,
    index: usize,
    plan: &Plan,
    limit: u64,
    mut exchange: E,
) -> Result<u64, String> {
    let deadline = now() + plan.duration;
    let (mut sent, mut received) = (0u64, 0u64);
    let mut output = Vec::new();
    let mut input = BytesMut::with_capacity(64 * 1024);
    while sent < (plan.in_flight as u64).min(limit) {
        exchange.push_request(sent, &mut output);
        sent += 1;
    }
    loop {
        if !output.is_empty() {
            stream
                .write_all(&output)
                .await
                .map_err(|error| error.to_string())?;
            output.clear();
        }
        if received == sent {
            break;
        }
        if stream
            .read_buf(&mut input)
            .await
            .map_err(|error| error.to_string())?
            == 0
        {
            return Err(format!(
                "connection {index}: the server closed after {received} {}",
                E::UNIT
            ));
        }
        let echoed = exchange.take_echoes(&mut input, &mut received)?;
        if now() < deadline {
            for _ in 0..echoed {
                if sent == limit {
                    break;
                }
                exchange.push_request(sent, &mut output);
                sent += 1;
            }
        }
    }
    Ok(received)
}
