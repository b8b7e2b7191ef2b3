//! A line echo server: every line received is sent back, ended with `\r\n`.
//!
//! ```text
//! cargo run --example line_echo -- --port 8000
//! nc 127.0.0.1 8000             # type lines; each comes back
//! ```
//!
//! Lines may end with `\n` or `\r\n` (`with_any_line_ending`). Lines longer than 16 KiB, a
//! `\r` before the `\n` not counted, close the connection (the `LineOnlyReceiver` default);
//! a peer that does not read its echoes is not read from either.
//! `--port 0` picks a free port; the first line printed is always `listening on ADDR`.
//! Ctrl-C or SIGTERM stops the server gracefully (a second one aborts at once).
//! `--tls-cert FILE --tls-key FILE` (PEM) serve TLS instead. `--listen ENDPOINT` listens
//! elsewhere, given as an endpoint string:
//!
//! ```text
//! cargo run --example line_echo -- --listen tcp:8000:interface=0.0.0.0
//! cargo run --example line_echo -- --listen unix:/tmp/line_echo.sock
//! cargo run --example line_echo -- --listen tls:8443:certKey=cert.pem:privateKey=key.pem
//! ```
//!
//! Against idle and excess connections (both off by default): `--idle-timeout SECS` closes
//! a connection that has been idle that long, `--max-connections N` serves at most N at
//! once (the next ones wait to be accepted until one closes). `--stop-deadline SECS` bounds
//! the graceful stop (default 10 s): what has not closed by then is aborted.

mod common;

use std::process::ExitCode;

use torsade::{factory_fn, Address, Transport};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};

const USAGE: &str = concat!(
    "usage: line_echo [--port PORT [--tls-cert FILE --tls-key FILE] | --listen ENDPOINT] [--loops N]
                 [--idle-timeout SECS] [--max-connections N] [--stop-deadline SECS]
   --port defaults to 8000 on 127.0.0.1 (0 picks a free port); --tls-cert and --tls-key (PEM)
   serve TLS; --listen takes an endpoint string (tcp:8000:interface=127.0.0.1,
   unix:/tmp/line_echo.sock, tls:8443:certKey=FILE:privateKey=FILE);
",
    common::server_options_usage!()
);

/// Sends every line back. A peer that sends and does not read fills our write buffer:
/// past its high-water mark we stop reading (the peer's sends back up in TCP), and read
/// again once it has drained (the lines of a chunk already read wait for that too), so each
/// connection holds at most about 64 KiB.
struct LineEcho;

impl LineHandler for LineEcho {
    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        lines.send_line(&line);
    }

    fn pause_producing(&mut self, lines: &mut LineContext<'_>) {
        lines.pause_reading();
    }

    fn resume_producing(&mut self, lines: &mut LineContext<'_>) {
        lines.resume_reading();
    }
}

fn main() -> ExitCode {
    let factory = factory_fn(|_: &Address| LineOnlyReceiver::new(LineEcho).with_any_line_ending());
    common::serve_main(USAGE, 8000, factory)
}
