//! The last version of the seed article's greeting client — the asyncio coroutine
//! (`open_connection`, write, `readline`) — in a few lines of async Rust.
//!
//! ```text
//! cargo run --example greeting_coroutine                   # starts its own server
//! cargo run --example greeting_coroutine -- --connect 127.0.0.1:9999 --name Alice
//! ```
//!
//! Prints the greeting line; a connection failure prints one line on stderr and exits 1.

mod common;

use std::process::ExitCode;

use torsade::Reactor;
use torsade_protocols::GreetingServer;

const USAGE: &str = "usage: greeting_coroutine [--connect HOST:PORT] [--name NAME]";

/// The seed's `get_greeting` coroutine.
async fn get_greeting(reactor: &Reactor, address: &str, name: &str) -> torsade::Result<String> {
    let mut connection = reactor.open_connection(address).await?;
    connection.write_line(name.as_bytes()).await?;
    let greeting = connection.read_line().await?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&greeting).into_owned())
}

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(USAGE, &["connect", "name"]) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let name = args.value("name").unwrap_or("World").to_string();
    match run(args.value("connect"), name) {
        Ok(greeting) => {
            println!("{greeting}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the coroutine on a reactor (with its own greeting server unless `connect` is given).
fn run(connect: Option<&str>, name: String) -> Result<String, Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let address = match connect {
        Some(address) => address.to_string(),
        None => reactor
            .listen_tcp("127.0.0.1:0", GreetingServer::factory())?
            .local_addr()
            .to_string(),
    };
    let r = reactor.clone();
    let mut greeting = reactor.spawn(async move {
        let greeting = get_greeting(&r, &address, &name).await;
        let _ = r.stop();
        greeting
    });
    reactor.run()?;
    match greeting.take_result() {
        Some(Ok(greeting)) => Ok(greeting?),
        Some(Err(failure)) => Err(failure.to_string().into()),
        None => Err("the reactor stopped before the greeting came".into()),
    }
}
