//! An echo server written as a plain `Protocol`: every byte received is sent back as it
//! came, with no framing.
//!
//! ```text
//! cargo run --example echo -- --port 8007
//! nc 127.0.0.1 8007             # type anything; it comes back
//! ```
//!
//! A peer that sends and does not read is not read from either, so each connection holds
//! at most about the write buffer's high-water mark. `--port 0` picks a free port; the
//! first line printed is always `listening on ADDR`. Ctrl-C or SIGTERM stops the server
//! gracefully (a second one aborts at once). `--listen ENDPOINT` listens where an endpoint
//! string says (`tcp:8007:interface=0.0.0.0`, `unix:/tmp/echo.sock`, `tls:...`), and
//! `--tls-cert FILE --tls-key FILE` (PEM) serve TLS on `--port`.
//!
//! Against idle and excess connections (both off by default): `--idle-timeout SECS` closes
//! a connection that has been idle that long, `--max-connections N` serves at most N at
//! once (the next ones wait to be accepted until one closes). `--stop-deadline SECS` bounds
//! the graceful stop (default 10 s).

mod common;

use std::process::ExitCode;

use bytes::Bytes;
use torsade::prelude::*;
use torsade::{factory_fn, Address};

const USAGE: &str = concat!(
    "usage: echo [--port PORT [--tls-cert FILE --tls-key FILE] | --listen ENDPOINT] [--loops N]
            [--idle-timeout SECS] [--max-connections N] [--stop-deadline SECS]
   --port defaults to 8007 on 127.0.0.1 (0 picks a free port); --tls-cert and --tls-key (PEM)
   serve TLS; --listen takes an endpoint string (tcp:8007:interface=127.0.0.1,
   unix:/tmp/echo.sock, tls:8007:certKey=FILE:privateKey=FILE);
",
    common::server_options_usage!()
);

/// Sends back whatever arrives. Past the write buffer's high-water mark (a peer that does
/// not read its echoes) it stops reading, so the peer's sends back up in TCP, and reads
/// again once the buffer has drained.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        cx.pause_reading();
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        cx.resume_reading();
    }
}

fn main() -> ExitCode {
    common::serve_main(USAGE, 8007, factory_fn(|_: &Address| Echo))
}
