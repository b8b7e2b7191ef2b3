//! A WebSocket echo server: every text and binary message comes back as it came.
//!
//! ```text
//! cargo run --example websocket_echo -- --port 9000
//! cargo run --example websocket_client -- ws://127.0.0.1:9000/ hello world
//! ```
//!
//! The first line printed is always `listening on ADDR` (`--port 0` picks a free port).
//! `--listen ENDPOINT` listens where an endpoint string says; `--tls-cert FILE --tls-key
//! FILE` (PEM) serve `wss://` on `--port`. `--max-message-size BYTES` (default 16 MiB)
//! bounds messages and frames: a larger one closes the connection with 1009. Ctrl-C or
//! SIGTERM stops the server gracefully.

mod common;

use std::process::ExitCode;

use bytes::Bytes;
use torsade::Transport;
use torsade_protocols::websocket::{
    WebSocketContext, WebSocketHandler, WebSocketOptions, WebSocketServerFactory,
    DEFAULT_MAX_MESSAGE_SIZE,
};

const USAGE: &str = concat!(
    "usage: websocket_echo [--port PORT [--tls-cert FILE --tls-key FILE] | --listen ENDPOINT]
            [--max-message-size BYTES] [--loops N] [--idle-timeout SECS]
            [--max-connections N] [--stop-deadline SECS]
   --port defaults to 9000 on 127.0.0.1 (0 picks a free port); --tls-cert and --tls-key (PEM)
   serve wss; --listen takes an endpoint string (tcp:9000:interface=127.0.0.1,
   tls:9443:certKey=FILE:privateKey=FILE); --max-message-size bounds each message and
   frame (default 16 MiB; larger ones close the connection with 1009);
",
    common::server_options_usage!()
);

/// Sends every message back, text as text and binary as binary. Past the write buffer's
/// high-water mark (a peer that does not read its echoes) it stops reading, and reads
/// again once the buffer has drained.
struct Echo;

impl WebSocketHandler for Echo {
    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
        // Only a closing WebSocket refuses a message: then there is no one to echo to.
        let _ = ws.send_message(payload, is_binary);
    }

    fn pause_producing(&mut self, ws: &mut WebSocketContext<'_>) {
        ws.pause_reading();
    }

    fn resume_producing(&mut self, ws: &mut WebSocketContext<'_>) {
        ws.resume_reading();
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let mut flags = common::SERVER_FLAGS.to_vec();
    flags.push("max-message-size");
    let args = match common::Args::parse(USAGE, &flags) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let max = match args.number("max-message-size", DEFAULT_MAX_MESSAGE_SIZE) {
        Ok(max) => max,
        Err(code) => return code,
    };
    let (endpoint, options) = match (
        common::server_endpoint(&args, USAGE, 9000),
        common::ServerOptions::from_args(&args),
    ) {
        (Ok(endpoint), Ok(options)) => (endpoint, options),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let websocket = WebSocketOptions::new()
        .max_message_size(max)
        .max_frame_size(max);
    let factory = WebSocketServerFactory::with_options(|| Echo, websocket);
    common::serve(endpoint, factory, &options)
}
