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

mod common;

use std::process::ExitCode;

use torsade::Reactor;
use torsade_protocols::GreetingServer;

const USAGE: &str = "usage: greeting_server [--port PORT]   (default 9999; 0 picks a free port)";

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(USAGE, &["port"]) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let port: u16 = match args.number("port", 9999) {
        Ok(port) => port,
        Err(code) => return code,
    };
    match serve(port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(port: u16) -> torsade::Result<()> {
    let reactor = Reactor::new()?;
    let listening = reactor.listen_tcp(format!("127.0.0.1:{port}"), GreetingServer::factory())?;
    println!("listening on {}", listening.local_addr());
    common::stop_on_ctrl_c(&reactor);
    reactor.run()
}
