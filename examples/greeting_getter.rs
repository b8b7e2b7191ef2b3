//! The greeting client from "Turning Asynchronous Networking Inside-Out", written both
//! ways the article shows: Twisted-style callbacks, then async/await.
//!
//! ```text
//! cargo run --example greeting_getter                      # starts its own server
//! cargo run --example greeting_getter -- --connect 127.0.0.1:9999 --name Alice
//! cargo run --example greeting_getter -- --tls             # the same over TLS
//! cargo run --example greeting_getter -- --tls --ca ca.pem --connect localhost:9999
//! ```
//!
//! With no `--connect`, a greeting server runs in the same process on a free port (with
//! `--tls`, using a certificate generated on the spot). Each style prints its greeting on
//! a line labelled with the style. A connection failure prints one line on stderr and
//! exits with status 1.
//!
//! `--tls` speaks TLS to the server, checking its certificate against the CA in `--ca
//! FILE` (PEM), or against the platform's roots without it, for the host of `--connect`
//! (or `--server-name NAME`). A self-signed server certificate is its own CA: `openssl req
//! -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out
//! cert.pem -subj /CN=localhost -addext subjectAltName=DNS:localhost` makes one for
//! `greeting_server --tls-cert cert.pem --tls-key key.pem`, and `--ca cert.pem` trusts it.

mod common;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use torsade::prelude::*;
use torsade::testing::TestCertificates;
use torsade::tls::rustls::ClientConfig;
use torsade::{Address, ProtocolHandle, Reactor};
use torsade_protocols::{GreetingGetter, GreetingServer, LineOnlyReceiver, RemoteGreetingGetter};

const USAGE: &str = "usage: greeting_getter [--connect HOST:PORT] [--name NAME] \
                     [--tls [--ca FILE] [--server-name NAME]]";

/// How to reach the server: its address, and the TLS settings if it speaks TLS.
#[derive(Clone)]
struct Dialer {
    address: String,
    tls: Option<(String, Arc<ClientConfig>)>,
}

impl Dialer {
    /// Connects `factory`'s protocol to the server, over TLS if configured.
    fn connect<F: ClientFactory>(
        &self,
        reactor: &Reactor,
        factory: F,
    ) -> Deferred<ProtocolHandle<F::Protocol>> {
        match &self.tls {
            None => reactor.connect_tcp(&self.address, factory),
            Some((name, config)) => {
                reactor.connect_tls(&self.address, name, factory, config.clone())
            }
        }
    }
}

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
fn greeting_with_callbacks(reactor: &Reactor, dialer: &Dialer, name: &str) -> Deferred<String> {
    let (greeting, resolver) = Deferred::new();
    let factory = GreetingGetterFactory {
        name: name.to_string(),
        greeting: resolver.clone(),
    };
    dialer
        .connect(reactor, factory)
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
    dialer: Dialer,
    name: String,
) -> Result<String, Failure> {
    let getter = dialer.connect(&reactor, GreetingGetter::factory()).await?;
    let greeting = getter.get_greeting(&name).await?;
    getter.transport().lose_connection();
    Ok(greeting)
}

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(USAGE, &["connect", "name", "tls", "ca", "server-name"]) {
        Ok(args) => args,
        Err(code) => return code,
    };
    if !args.flag("tls") && (args.flag("ca") || args.flag("server-name")) {
        eprintln!("error: --ca and --server-name go with --tls\n\n{USAGE}");
        return ExitCode::from(2);
    }
    if args.value("connect").is_none() && args.flag("ca") {
        eprintln!("error: --ca is the CA of the server given by --connect\n\n{USAGE}");
        return ExitCode::from(2);
    }
    let name = args.value("name").unwrap_or("World").to_string();
    match run(&args, name) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &common::Args, name: String) -> torsade::Result<ExitCode> {
    let reactor = Reactor::new()?;
    let dialer = match (args.value("connect"), args.flag("tls")) {
        (Some(address), false) => Dialer {
            address: address.to_string(),
            tls: None,
        },
        (Some(address), true) => {
            let config = match args.value("ca") {
                Some(ca) => torsade::tls::client_config_with_ca(ca)?,
                None => torsade::tls::client_config_with_platform_roots()?,
            };
            let server_name = match args.value("server-name") {
                Some(name) => name.to_string(),
                None => host_of(address).to_string(),
            };
            Dialer {
                address: address.to_string(),
                tls: Some((server_name, config)),
            }
        }
        (None, false) => Dialer {
            address: reactor
                .listen_tcp("127.0.0.1:0", GreetingServer::factory())?
                .local_addr()
                .to_string(),
            tls: None,
        },
        (None, true) => {
            // A server of our own, with a certificate made for it and trusted by us only.
            let certificates = TestCertificates::new(&["localhost"])?;
            let listening = reactor.listen_tls(
                "127.0.0.1:0",
                GreetingServer::factory(),
                certificates.server_config()?,
            )?;
            let server_name = args.value("server-name").unwrap_or("localhost");
            Dialer {
                address: listening.local_addr().to_string(),
                tls: Some((server_name.to_string(), certificates.client_config()?)),
            }
        }
    };
    let exit = Arc::new(Mutex::new(ExitCode::SUCCESS));
    let (r, code) = (reactor.clone(), exit.clone());
    reactor.call_when_running(move || {
        let (async_reactor, stopper) = (r.clone(), r.clone());
        greeting_with_callbacks(&r, &dialer, &name)
            .add_callback(|greeting| println!("callbacks: {greeting}"))
            .and_then(move |()| {
                async_reactor.spawn(greeting_with_async(async_reactor.clone(), dialer, name))
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

/// The host part of `HOST:PORT` (`[::1]:443` gives `::1`): the name the server's
/// certificate must be for.
fn host_of(address: &str) -> &str {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(host, _port)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}
