//! The last version of the seed article's greeting client — the asyncio coroutine
//! (`open_connection`, write, `readline`) — in a few lines of async Rust.
//!
//! ```text
//! cargo run --example greeting_coroutine                   # starts its own server
//! cargo run --example greeting_coroutine -- --connect 127.0.0.1:9999 --name Alice
//! cargo run --example greeting_coroutine -- --connect unix:path=/tmp/greeting.sock
//! ```
//!
//! `--connect` takes `HOST:PORT` or an endpoint string (`tcp:host=H:port=P`,
//! `tls:host=H:port=P:caCerts=FILE`, `unix:path=FILE`). Prints the greeting line; a
//! connection failure prints one line on stderr and exits 1, a malformed endpoint exits 2.

mod common;

use std::process::ExitCode;
use std::sync::Arc;

use torsade::endpoints::{ClientEndpoint, IntoClientEndpoint};
use torsade::Reactor;
use torsade_protocols::GreetingServer;

const USAGE: &str = "usage: greeting_coroutine [--connect ENDPOINT] [--name NAME]
   --connect takes HOST:PORT or an endpoint string (tcp:host=H:port=P,
   tls:host=H:port=P:caCerts=FILE, unix:path=FILE)";

/// The seed's `get_greeting` coroutine.
async fn get_greeting(
    reactor: &Reactor,
    server: Arc<dyn ClientEndpoint>,
    name: &str,
) -> torsade::Result<String> {
    let mut connection = reactor.open_connection(server).await?;
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
    let server = match args.value("connect") {
        Some(text) => match common::client_endpoint("--connect", text) {
            Ok(server) => Some(server),
            Err(code) => return code,
        },
        None if args.flag("connect") => {
            eprintln!("error: --connect needs an endpoint, such as 127.0.0.1:9999\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => None,
    };
    match run(server, name) {
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

/// Runs the coroutine on a reactor (with its own greeting server unless `server` is given).
fn run(
    server: Option<Arc<dyn ClientEndpoint>>,
    name: String,
) -> Result<String, Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let server = match server {
        Some(server) => server,
        None => reactor
            .listen("127.0.0.1:0", GreetingServer::factory())?
            .local_addr()
            .into_client_endpoint()?,
    };
    let r = reactor.clone();
    let mut greeting = reactor.spawn(async move {
        let greeting = get_greeting(&r, server, &name).await;
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
