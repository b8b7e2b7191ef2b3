//! Twisted's chat server: each client is asked its name, then every line it sends goes to
//! everyone else as `<name> line`. `/who` lists who is here; arrivals and departures are
//! announced.
//!
//! ```text
//! cargo run --example chat -- --port 8123
//! nc -C 127.0.0.1 8123          # in two or three terminals (or telnet 127.0.0.1 8123)
//! ```
//!
//! The protocol is in `chat/protocol.rs` (the `sim_chat` example runs it too, on a
//! simulated network): the state every connection shares is the `Room`, held by the
//! factory and handed to each connection it builds (Twisted's `self.factory.users`), a
//! table of `LineSender`s, one per named user; a user that does not read is dropped. The
//! same code serves with `--loops N`: the table is behind a `Mutex`, so connections on
//! different loops can share it. The README's "Sharing state between connections" walks
//! through it; the tests at the end of `chat/protocol.rs` (run by `cargo test`) put three
//! users in memory.
//!
//! Lines end with `\r\n`, both ways. `--port 0` picks a free port; the first line printed
//! is always `listening on ADDR`. It takes the flags of every server example: `--listen
//! ENDPOINT`, `--tls-cert FILE --tls-key FILE`, `--idle-timeout SECS`,
//! `--max-connections N`, `--stop-deadline SECS`.

mod common;
#[path = "chat/protocol.rs"]
mod protocol;

use std::process::ExitCode;

use protocol::ChatFactory;

const USAGE: &str = concat!(
    "usage: chat [--port PORT [--tls-cert FILE --tls-key FILE] | --listen ENDPOINT] [--loops N]
            [--idle-timeout SECS] [--max-connections N] [--stop-deadline SECS]
   --port defaults to 8123 on 127.0.0.1 (0 picks a free port); --tls-cert and --tls-key (PEM)
   serve TLS; --listen takes an endpoint string (tcp:8123:interface=127.0.0.1,
   unix:/tmp/chat.sock, tls:8123:certKey=FILE:privateKey=FILE);
",
    common::server_options_usage!()
);

fn main() -> ExitCode {
    common::serve_main(USAGE, 8123, ChatFactory::default())
}
