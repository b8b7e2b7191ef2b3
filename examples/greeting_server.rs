//! The greeting server from "Turning Asynchronous Networking Inside-Out": send a name on a
//! line, get `Hello, <name>!` back.
//!
//! ```text
//! cargo run --example greeting_server -- --port 9999
//! nc -C 127.0.0.1 9999          # then type a name and press Enter
//! ```
//!
//! `--port 0` picks a free port. The first line printed is always `listening on ADDR`.
//! Ctrl-C stops the server gracefully.
//!
//! With `--tls-cert cert.pem --tls-key key.pem` it serves TLS instead:
//!
//! ```text
//! cargo run --example greeting_server -- --port 9999 --tls-cert cert.pem --tls-key key.pem
//! cargo run --example greeting_getter -- --tls --ca ca.pem --connect localhost:9999
//! openssl s_client -quiet -CAfile ca.pem -connect localhost:9999   # then type a name
//! ```

mod common;

use std::process::ExitCode;

use torsade_protocols::GreetingServer;

const USAGE: &str =
    "usage: greeting_server [--port PORT] [--loops N] [--tls-cert FILE --tls-key FILE]
   --port defaults to 9999 (0 picks a free port); --tls-cert and --tls-key (PEM) serve TLS";

fn main() -> ExitCode {
    common::serve_main(USAGE, 9999, GreetingServer::factory())
}
