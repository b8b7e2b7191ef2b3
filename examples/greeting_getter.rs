//! The greeting client from "Turning Asynchronous Networking Inside-Out", written both
//! ways the article shows: Twisted-style callbacks, then async/await.
//!
//! ```text
//! cargo run --example greeting_getter                      # starts its own server
//! cargo run --example greeting_getter -- --connect 127.0.0.1:9999 --name Alice
//! ```
//!
//! With no `--connect`, a greeting server runs in the same process on a free port. Each
//! style prints its greeting on a line labelled with the style. A connection failure
//! prints one line on stderr and exits with status 1.

mod common;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use torsade::prelude::*;
use torsade::{Address, Reactor};
use torsade_protocols::{GreetingGetter, GreetingServer, LineOnlyReceiver, RemoteGreetingGetter};

const USAGE: &str = "usage: greeting_getter [--connect HOST:PORT] [--name NAME]";

/// The seed's `GreetingGetterFactory`: builds a getter that asks for a greeting as soon as
/// it is connected (`getterConnected`), and fires `greeting` with the answer.
struct GreetingGetterFactory {
    name: String,
    greeting: Resolver<String>,
}

impl ProtocolFactory for GreetingGetterFactory {
    type Protocol = LineOnlyReceiver<GreetingGetter>;

    fn build_protocol(&self, _peer: &Address) -> Option<Self::Protocol> {
        let (name, greeting) = (self.name.clone(), self.greeting.clone());
        let getter = GreetingGetter::new().on_connected(move |getter| {
            // getterConnected: ask, and hand the answer on when it arrives.
            getter
                .get_greeting(&name)
                .add_both(move |result| {
                    let _ = match result {
                        Ok(text) => greeting.callback(text),
                        Err(failure) => greeting.errback(failure),
                    };
                    Ok::<(), Failure>(())
                })
                .detach();
        });
        Some(getter.into_protocol())
    }
}

impl ClientFactory for GreetingGetterFactory {}

/// The callback style: a factory, a protocol, and a Deferred.
fn greeting_with_callbacks(reactor: &Reactor, address: &str, name: &str) -> Deferred<String> {
    let (greeting, resolver) = Deferred::new();
    let factory = GreetingGetterFactory {
        name: name.to_string(),
        greeting: resolver.clone(),
    };
    reactor
        .connect_tcp(address, factory)
        .add_callbacks(
            |_connected| Ok::<(), Failure>(()),
            move |failure| {
                // Could not connect: the greeting will never come.
                let _ = resolver.errback(failure);
                Ok::<(), Failure>(())
            },
        )
        .detach();
    greeting
}

/// The async style: connect, ask, await — the getter's protocol, driven from a task.
async fn greeting_with_async(
    reactor: Reactor,
    address: String,
    name: String,
) -> Result<String, Failure> {
    let getter = reactor
        .connect_tcp(&address, GreetingGetter::factory())
        .await?;
    let greeting = getter.get_greeting(&name).await?;
    getter.transport().lose_connection();
    Ok(greeting)
}

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(USAGE, &["connect", "name"]) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let name = args.value("name").unwrap_or("World").to_string();
    match run(args.value("connect"), name) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(connect: Option<&str>, name: String) -> torsade::Result<ExitCode> {
    let reactor = Reactor::new()?;
    let address = match connect {
        Some(address) => address.to_string(),
        None => reactor
            .listen_tcp("127.0.0.1:0", GreetingServer::factory())?
            .local_addr()
            .to_string(),
    };
    let exit = Arc::new(Mutex::new(ExitCode::SUCCESS));
    let (r, code) = (reactor.clone(), exit.clone());
    reactor.call_when_running(move || {
        let (async_reactor, stopper) = (r.clone(), r.clone());
        greeting_with_callbacks(&r, &address, &name)
            .add_callback(|greeting| println!("callbacks: {greeting}"))
            .and_then(move |()| {
                async_reactor.spawn(greeting_with_async(async_reactor.clone(), address, name))
            })
            .and_then(|result| result)
            .add_callback(|greeting| println!("async/await: {greeting}"))
            .add_both(move |result| {
                if let Err(failure) = result {
                    eprintln!("error: {failure}");
                    *code.lock().unwrap() = ExitCode::FAILURE;
                }
                let _ = stopper.stop();
                Ok::<(), Failure>(())
            })
            .detach();
    });
    reactor.run()?;
    let code = *exit.lock().unwrap();
    Ok(code)
}
