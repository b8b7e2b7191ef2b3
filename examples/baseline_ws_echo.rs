//! Baseline for the WebSocket benchmark: an echo server written directly on
//! tokio-tungstenite, the way a careful tokio user would — one task per connection, every
//! message ready fed back without a flush, one flush when no more input is ready (what
//! `StreamExt::forward` does, without splitting the stream), a 16 KiB read buffer.
//!
//! ```text
//! cargo run --release --example baseline_ws_echo -- --port 8002
//! ```
//!
//! Same contract as `websocket_echo`: every text and binary message comes back; pings are
//! answered and a close is echoed (tungstenite does both); `--max-message-size BYTES`
//! (default 16 MiB) bounds messages and frames, and a larger one is closed with 1009, text
//! that is not UTF-8 with 1007, a protocol error (an unmasked client frame) with 1002.
//! `--port 0` picks a free port; the first line printed is `listening on ADDR`. Not part
//! of torsade: it is what torsade is measured against (docs/BENCHMARKS.md).

mod common;

use std::future::poll_fn;
use std::io;
use std::process::ExitCode;
use std::task::Poll;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::WebSocketStream;

const USAGE: &str = "usage: baseline_ws_echo [--port PORT] [--max-message-size BYTES]
   (--port 0 picks a free port; messages and frames over --max-message-size, default
   16 MiB, close the connection with 1009)";

/// How long a connection closed for an error is read and discarded before it is dropped,
/// so that the peer reads the close frame rather than a reset.
const LINGER: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(USAGE, &["port", "max-message-size"]) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let (port, max_size) = match (
        args.number("port", 8002u16),
        args.number("max-message-size", 16usize << 20),
    ) {
        (Ok(port), Ok(max_size)) => (port, max_size),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    // tungstenite zeroes its read buffer's free space before each read: torsade's
    // WebSocket runs tungstenite with 16 KiB, and so does this baseline, so that the two
    // are compared on what is around tungstenite (the default is 128 KiB).
    let config = WebSocketConfig::default()
        .read_buffer_size(16 << 10)
        .max_message_size(Some(max_size))
        .max_frame_size(Some(max_size));
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| runtime.block_on(serve(port, config)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts on 127.0.0.1:`port` and echoes each connection in a task of its own.
async fn serve(port: u16, config: WebSocketConfig) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            match tokio_tungstenite::accept_async_with_config(stream, Some(config)).await {
                Ok(socket) => echo(socket).await,
                Err(error) => tracing::debug!("handshake failed: {error}"),
            }
        });
    }
}

/// Echoes text and binary messages until the peer closes; an error closes the connection
/// with its code.
async fn echo(mut socket: WebSocketStream<TcpStream>) {
    loop {
        let outcome = match next_or_flush(&mut socket).await {
            None => return,
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                socket.feed(message).await
            }
            // Pings are answered and a close is echoed by tungstenite itself.
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(error),
        };
        if let Err(error) = outcome {
            close_for(socket, error).await;
            return;
        }
    }
}

/// The next message; while none is ready, what was fed is flushed (as
/// `StreamExt::forward` does): one write for all the messages a read brought.
async fn next_or_flush(socket: &mut WebSocketStream<TcpStream>) -> Option<Result<Message, Error>> {
    poll_fn(|cx| match socket.poll_next_unpin(cx) {
        Poll::Ready(next) => Poll::Ready(next),
        Poll::Pending => match socket.poll_flush_unpin(cx) {
            Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error))),
            // Flushed, or waiting to be: the stream's waker or the flush's wakes this.
            Poll::Ready(Ok(())) | Poll::Pending => Poll::Pending,
        },
    })
    .await
}

/// Closes `socket` with the code `error` calls for (when it is still open), then reads and
/// discards what the peer still sends, for at most [`LINGER`].
async fn close_for(mut socket: WebSocketStream<TcpStream>, error: Error) {
    tracing::debug!("connection ended: {error}");
    let code = match error {
        Error::Capacity(_) => CloseCode::Size,
        Error::Utf8(_) => CloseCode::Invalid,
        Error::Protocol(_) => CloseCode::Protocol,
        _ => return,
    };
    let close = CloseFrame {
        code,
        reason: "".into(),
    };
    if socket.close(Some(close)).await.is_err() {
        return;
    }
    let stream = socket.get_mut();
    let _ = stream.shutdown().await;
    let mut discard = [0u8; 16 * 1024];
    let drain = async { while matches!(stream.read(&mut discard).await, Ok(read) if read > 0) {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
