//! The greeting server from "Turning Asynchronous Networking Inside-Out": send a name on a
//! line, get `Hello, <name>!` back.
//!
//! ```text
//! cargo run --example greeting_server -- --port 9999
//! nc -C 127.0.0.1 9999          # then type a name and press Enter
//! ```
//!
//! `--port 0` picks a free port. The first line printed is always `listening on ADDR`.
//! Ctrl-C or SIGTERM stops the server gracefully (a second one aborts at once;
//! `--stop-deadline SECS` aborts what has not closed after that long, default 10 s).
//! `--idle-timeout SECS` closes connections idle that long and `--max-connections N`
//! serves at most N at once (both off by default).
//! `--listen ENDPOINT` listens where an endpoint string says
//! (`tcp:9999:interface=0.0.0.0`, `unix:/tmp/greeting.sock`, `tls:...`):
//!
//! ```text
//! cargo run --example greeting_server -- --listen unix:/tmp/greeting.sock
//! cargo run --example greeting_getter -- --connect unix:/tmp/greeting.sock
//! ```
//!
//! With `--tls-cert cert.pem --tls-key key.pem` (or `--listen
//! tls:9999:certKey=cert.pem:privateKey=key.pem`) it serves TLS instead:
//!
//! ```text
//! cargo run --example greeting_server -- --port 9999 --tls-cert cert.pem --tls-key key.pem
//! cargo run --example greeting_getter -- --tls --ca ca.pem --connect localhost:9999
//! cargo run --example greeting_getter -- --connect tls:host=localhost:port=9999:caCerts=ca.pem
//! openssl s_client -quiet -CAfile ca.pem -connect localhost:9999   # then type a name
//! ```

mod common;

use std::process::ExitCode;

use torsade_protocols::GreetingServer;

const USAGE: &str = concat!(
    "usage: greeting_server [--port PORT [--tls-cert FILE --tls-key FILE] | --listen ENDPOINT]
                       [--loops N] [--idle-timeout SECS] [--max-connections N]
                       [--stop-deadline SECS]
   --port defaults to 9999 on 127.0.0.1 (0 picks a free port); --tls-cert and --tls-key (PEM)
   serve TLS; --listen takes an endpoint string (tcp:9999:interface=127.0.0.1,
   unix:/tmp/greeting.sock, tls:9999:certKey=FILE:privateKey=FILE);
",
    common::server_options_usage!()
);

fn main() -> ExitCode {
    common::serve_main(USAGE, 9999, GreetingServer::factory())
}
