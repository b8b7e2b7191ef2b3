//! The greeting client from "Turning Asynchronous Networking Inside-Out", written both
//! ways the article shows: Twisted-style callbacks, then async/await.
//!
//! ```text
//! cargo run --example greeting_getter                      # starts its own server
//! cargo run --example greeting_getter -- --connect 127.0.0.1:9999 --name Alice
//! cargo run --example greeting_getter --features test-certificates -- --tls   # over TLS
//! cargo run --example greeting_getter -- --tls --ca ca.pem --connect localhost:9999
//! ```
//!
//! With no `--connect`, a greeting server runs in the same process on a free port (with
//! `--tls`, using a certificate generated on the spot: that needs torsade's
//! `test-certificates` feature). Each style prints its greeting on
//! a line labelled with the style. A connection failure prints one line on stderr and
//! exits with status 1; a malformed endpoint, with status 2.
//!
//! `--connect` takes `HOST:PORT` or an endpoint string, which can say everything itself:
//!
//! ```text
//! cargo run --example greeting_getter -- --connect tcp:host=localhost:port=9999
//! cargo run --example greeting_getter -- --connect tls:host=localhost:port=9999:caCerts=ca.pem
//! cargo run --example greeting_getter -- --connect unix:path=/tmp/greeting.sock
//! ```
//!
//! `--tls` speaks TLS to the server of `--connect HOST:PORT`, checking its certificate
//! against the CA in `--ca FILE` (PEM), or against the platform's roots without it, for
//! that host (or `--server-name NAME`).
//! A self-signed server certificate is its own CA: `openssl req -x509 -newkey ec -pkeyopt
//! ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out cert.pem -subj /CN=localhost
//! -addext subjectAltName=DNS:localhost` makes one for `greeting_server --tls-cert cert.pem
//! --tls-key key.pem`, and `--ca cert.pem` trusts it.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use torsade::endpoints::{ClientEndpoint, TcpClient};
use torsade::prelude::*;
use torsade::{Address, Reactor};
use torsade_protocols::{GreetingGetter, GreetingServer, LineOnlyReceiver, RemoteGreetingGetter};

const USAGE: &str = "usage: greeting_getter [--connect ENDPOINT] [--name NAME] \
                     [--tls [--ca FILE] [--server-name NAME]]
   --connect takes HOST:PORT or an endpoint string (tcp:host=H:port=P,
   tls:host=H:port=P:caCerts=FILE, unix:path=FILE); --tls goes with --connect HOST:PORT";

/// How to reach the server.
type Dialer = Arc<dyn ClientEndpoint>;

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
    reactor
        .connect(dialer, factory)
        .add_callbacks(
            |_connected| {},
            move |failure| {
                // Could not connect: the greeting will never come.
                let _ = resolver.errback(failure);
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
    let getter = reactor.connect(dialer, GreetingGetter::factory()).await?;
    let greeting = getter.get_greeting(&name).await?;
    getter.lose_connection();
    Ok(greeting)
}

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(USAGE, &["connect", "name", "tls", "ca", "server-name"]) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let usage_error = |message: &str| {
        eprintln!("error: {message}\n\n{USAGE}");
        ExitCode::from(2)
    };
    if !args.flag("tls") && (args.flag("ca") || args.flag("server-name")) {
        return usage_error("--ca and --server-name go with --tls");
    }
    if args.value("connect").is_none() && args.flag("ca") {
        return usage_error("--ca is the CA of the server given by --connect");
    }
    if args.flag("connect") && args.value("connect").is_none() {
        return usage_error("--connect needs an endpoint, such as 127.0.0.1:9999");
    }
    let server = match remote_server(&args) {
        Ok(server) => server,
        Err(code) => return code,
    };
    let name = args.value("name").unwrap_or("World").to_string();
    common::exit_code(run(
        server,
        args.flag("tls"),
        args.value("server-name"),
        name,
    ))
}

/// The server `--connect` names, over TLS with `--tls`; `None` without `--connect`.
/// A mistake in the flags is one line on stderr and status 2; a CA file that is not
/// usable, one line and status 1.
fn remote_server(args: &common::Args) -> Result<Option<Dialer>, ExitCode> {
    let Some(text) = args.value("connect") else {
        return Ok(None);
    };
    if !args.flag("tls") {
        return common::client_endpoint("--connect", text).map(Some);
    }
    let Some((host, port)) = common::host_and_port(text) else {
        eprintln!(
            "error: --tls goes with --connect HOST:PORT, not {text:?} (an endpoint string says \
             TLS itself: tls:host=H:port=P:caCerts=FILE)\n\n{USAGE}"
        );
        return Err(ExitCode::from(2));
    };
    let server_name = args.value("server-name").unwrap_or(host);
    tls_client(TcpClient::new(host, port), server_name, args.value("ca"))
        .map(Some)
        .map_err(|error| {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        })
}

/// TLS over `tcp` to `server_name`, trusting the CA in the PEM file `ca`, or the
/// platform's roots without one.
#[cfg(feature = "tls")]
fn tls_client(tcp: TcpClient, server_name: &str, ca: Option<&str>) -> torsade::Result<Dialer> {
    let config = match ca {
        Some(ca) => torsade::tls::client_config_with_ca(ca)?,
        None => torsade::tls::client_config_with_platform_roots()?,
    };
    let client = torsade::endpoints::TlsClient::new(tcp, server_name, config)?;
    Ok(Arc::new(client))
}

#[cfg(not(feature = "tls"))]
fn tls_client(_: TcpClient, _: &str, _: Option<&str>) -> torsade::Result<Dialer> {
    Err(torsade::Error::FeatureDisabled {
        what: "--tls".to_string(),
        feature: "tls",
    })
}

/// A greeting server of our own on `listen`, with a certificate made for it on the spot,
/// and the way to reach it over TLS, trusting that certificate's CA only.
#[cfg(feature = "test-certificates")]
fn own_tls_server(
    reactor: &Reactor,
    listen: SocketAddr,
    server_name: &str,
) -> Result<Dialer, Box<dyn std::error::Error>> {
    use torsade::endpoints::{TcpServer, TlsClient, TlsServer};

    let certificates = torsade::testing::TestCertificates::new(&["localhost"])?;
    let endpoint = TlsServer::new(TcpServer::from(listen), certificates.server_config()?);
    let listening = reactor.listen(endpoint, GreetingServer::factory())?;
    let tcp = TcpClient::from(bound_socket(&listening.local_addr())?);
    let client = TlsClient::new(tcp, server_name, certificates.client_config()?)?;
    Ok(Arc::new(client))
}

#[cfg(not(feature = "test-certificates"))]
fn own_tls_server(
    _: &Reactor,
    _: SocketAddr,
    _: &str,
) -> Result<Dialer, Box<dyn std::error::Error>> {
    Err(Box::new(torsade::Error::FeatureDisabled {
        what: "--tls without --connect (a server with a certificate made on the spot)".to_string(),
        feature: "test-certificates",
    }))
}

/// Runs both styles against `server`, or against a greeting server of our own (over TLS
/// if `tls`) when there is none; the exit status says whether both got their greeting.
fn run(
    server: Option<Dialer>,
    tls: bool,
    server_name: Option<&str>,
    name: String,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let dialer: Dialer = match (server, tls) {
        (Some(server), _) => server,
        (None, false) => {
            let listening = reactor.listen(loopback, GreetingServer::factory())?;
            Arc::new(TcpClient::from(bound_socket(&listening.local_addr())?))
        }
        (None, true) => own_tls_server(&reactor, loopback, server_name.unwrap_or("localhost"))?,
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
                    *code.lock().unwrap_or_else(PoisonError::into_inner) = ExitCode::FAILURE;
                }
                let _ = stopper.stop();
            })
            .detach();
    });
    reactor.run()?;
    let code = *exit.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(code)
}

/// The TCP address a port of ours is bound to.
fn bound_socket(address: &Address) -> Result<SocketAddr, String> {
    address
        .socket_addr()
        .ok_or_else(|| format!("the greeting server listens on {address}, not on TCP"))
}
