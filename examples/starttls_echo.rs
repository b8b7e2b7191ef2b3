//! A line echo that switches to TLS mid-connection, in SMTP's shape: the line `STARTTLS`
//! is answered `READY`, the connection upgrades to TLS, and lines are echoed inside TLS
//! from then on. Both ends are here: the server, and a client that talks in the clear,
//! asks for the upgrade, then talks in TLS.
//!
//! ```text
//! cargo run --example starttls_echo -- --port 8025 --tls-cert cert.pem --tls-key key.pem
//! cargo run --example starttls_echo -- --connect localhost:8025 --ca ca.pem "a secret"
//! ```
//!
//! The client sends `hello in the clear` and prints its echo as `clear: ...`, sends
//! `STARTTLS`, waits for `READY`, upgrades (checking that the server's certificate is for
//! the host of `--connect`, or for `--server-name NAME`, and is signed by the CA in `--ca
//! FILE`, or by one of the platform's roots without it), then sends each LINE given (by
//! default `hello over TLS`) and prints each echo as `tls: ...`. It exits 0 once every
//! echo came back; a failure (a certificate it does not trust, say) is one line on stderr
//! and status 1.
//!
//! The server is a plain line echo until `STARTTLS`. `--tls-cert FILE --tls-key FILE`
//! (PEM) are the certificate it upgrades with; without them it makes a throwaway one (for
//! localhost and 127.0.0.1, signed by a CA it keeps to itself, so no client trusts it) and
//! says so on stderr. `--port 0` picks a free port; the first line printed is always
//! `listening on ADDR`. `--listen ENDPOINT` listens where an endpoint string says
//! (`tcp:8025:interface=0.0.0.0`, `unix:/tmp/starttls.sock`). A client that sends
//! anything after `STARTTLS` before the TLS handshake (plaintext that would pass for
//! protected data, CVE-2011-0411) has its connection aborted, unanswered. The server flags
//! of the other examples apply: `--idle-timeout SECS`, `--max-connections N`,
//! `--stop-deadline SECS`, `--loops N`.

mod common;

use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use torsade::endpoints::ClientEndpoint;
use torsade::prelude::*;
use torsade::testing::TestCertificates;
use torsade::tls::rustls::{ClientConfig, ServerConfig};
use torsade::tls::StartTls;
use torsade::{factory_fn, Address, Reactor};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};

const USAGE: &str = concat!(
    "usage: starttls_echo [--port PORT | --listen ENDPOINT] [--tls-cert FILE --tls-key FILE]
                     [--loops N] [--idle-timeout SECS] [--max-connections N]
                     [--stop-deadline SECS]
       starttls_echo --connect ADDRESS [--ca FILE] [--server-name NAME] [LINE...]
   Serves (the first form) or connects (the second). --port defaults to 8025 on 127.0.0.1
   (0 picks a free port); --listen takes an endpoint string (tcp:8025:interface=127.0.0.1,
   unix:/tmp/starttls.sock); --tls-cert and --tls-key (PEM) are what STARTTLS upgrades
   with (without them, a throwaway certificate no client trusts);
",
    common::server_options_usage!(),
    "
   --connect takes HOST:PORT or an endpoint string (tcp:host=H:port=P, unix:path=FILE;
   then give --server-name); --ca (PEM) is the CA to trust, else the platform's roots;
   --server-name is the name the certificate must hold, else the host of HOST:PORT"
);

/// The flags of client mode.
const CLIENT_FLAGS: [&str; 3] = ["connect", "ca", "server-name"];

/// How many lines the client sends over TLS, at most.
const MAX_LINES: usize = 100;

/// The server's side: echoes lines; upgrades on `STARTTLS`.
struct StartTlsEcho {
    config: Arc<ServerConfig>,
}

impl LineHandler for StartTlsEcho {
    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line != b"STARTTLS" {
            lines.write_many(&[line, b"\r\n"]);
            return;
        }
        if lines.tls_info().is_some() {
            lines.write(b"ERROR already TLS\r\n");
            return;
        }
        // READY goes out in the clear, before the handshake starts; whatever is written
        // after this point is encrypted.
        lines.write(b"READY\r\n");
        if let Err(error) = lines.start_tls(StartTls::server(self.config.clone())) {
            // Plaintext after STARTTLS: the connection is aborted, READY never sent.
            tracing::debug!(peer = %lines.peer_addr(), "STARTTLS refused: {error}");
        }
    }

    fn pause_producing(&mut self, lines: &mut LineContext<'_>) {
        lines.pause_reading();
    }

    fn resume_producing(&mut self, lines: &mut LineContext<'_>) {
        lines.resume_reading();
    }
}

/// Where the client is in the conversation.
enum Step {
    /// Waiting for the echo of the line sent in the clear.
    Clear,
    /// Sent `STARTTLS`; waiting for `READY`.
    Ready,
    /// Upgraded; `echoed` of the lines have come back.
    Tls { echoed: usize },
}

/// The client's side: one line in the clear, `STARTTLS`, then `lines` in TLS. Records
/// what went wrong in `failure` and stops the reactor once the connection is over.
struct Client {
    tls: StartTls,
    lines: Vec<String>,
    step: Step,
    failure: Arc<Mutex<Option<String>>>,
    reactor: Reactor,
}

impl Client {
    fn fail(&mut self, lines: &mut LineContext<'_>, message: String) {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(message);
        lines.lose_connection();
    }
}

impl LineHandler for Client {
    fn connection_made(&mut self, lines: &mut LineContext<'_>) {
        lines.write(b"hello in the clear\r\n");
    }

    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        let text = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(&line)).into_owned();
        match self.step {
            Step::Clear => {
                println!("clear: {text}");
                lines.write(b"STARTTLS\r\n");
                self.step = Step::Ready;
            }
            Step::Ready if text == "READY" => {
                self.step = Step::Tls { echoed: 0 };
                if let Err(error) = lines.start_tls(self.tls.clone()) {
                    self.fail(lines, format!("cannot start TLS: {error}"));
                }
            }
            Step::Ready => self.fail(lines, format!("the server answered {text:?} to STARTTLS")),
            Step::Tls { ref mut echoed } => {
                println!("tls: {text}");
                *echoed += 1;
                if *echoed == self.lines.len() {
                    lines.lose_connection();
                }
            }
        }
    }

    fn handshake_completed(&mut self, lines: &mut LineContext<'_>) {
        for line in &self.lines {
            lines.write_many(&[line.as_bytes(), b"\r\n"]);
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let done = matches!(self.step, Step::Tls { echoed } if echoed == self.lines.len());
        if !done {
            let message = match reason {
                DisconnectReason::Done => {
                    "the server closed the connection before every echo came back".to_string()
                }
                other => other.to_string(),
            };
            self.failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(message);
        }
        let _ = self.reactor.stop();
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let valued: Vec<&str> = common::SERVER_FLAGS
        .iter()
        .chain(&CLIENT_FLAGS)
        .copied()
        .collect();
    let (args, operands) = match common::Args::parse_command(USAGE, &valued, &[], MAX_LINES) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let usage_error = |message: String| {
        eprintln!("error: {message}\n\n{USAGE}");
        ExitCode::from(2)
    };
    if args.flag("connect") {
        if let Some(flag) = common::SERVER_FLAGS.iter().find(|flag| args.flag(flag)) {
            return usage_error(format!("--{flag} is for the server, not with --connect"));
        }
        return client_main(&args, operands);
    }
    if let Some(flag) = CLIENT_FLAGS[1..].iter().find(|flag| args.flag(flag)) {
        return usage_error(format!("--{flag} goes with --connect"));
    }
    if let Some(line) = operands.first() {
        return usage_error(format!("lines to send ({line:?}) go with --connect"));
    }
    server_main(&args)
}

fn server_main(args: &common::Args) -> ExitCode {
    let (endpoint, options, config) = match (
        common::plain_server_endpoint(args, USAGE, 8025),
        common::ServerOptions::from_args(args),
        common::tls_server_config(args),
    ) {
        (Ok(endpoint), Ok(options), Ok(config)) => (endpoint, options, config),
        (Err(code), _, _) | (_, Err(code), _) | (_, _, Err(code)) => return code,
    };
    let config = match config {
        Some(config) => config,
        None => match throwaway_config() {
            Ok(config) => config,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    let factory = factory_fn(move |_: &Address| {
        LineOnlyReceiver::new(StartTlsEcho {
            config: config.clone(),
        })
        .with_delimiter(b"\n")
    });
    common::serve(endpoint, factory, &options)
}

/// A server configuration with a certificate made on the spot.
fn throwaway_config() -> torsade::Result<Arc<ServerConfig>> {
    eprintln!(
        "note: no --tls-cert and --tls-key: STARTTLS upgrades with a throwaway certificate \
         for localhost and 127.0.0.1, which no client trusts"
    );
    TestCertificates::new(&["localhost", "127.0.0.1"])?.server_config()
}

fn client_main(args: &common::Args, lines: Vec<String>) -> ExitCode {
    let Some(text) = args.value("connect") else {
        eprintln!("error: --connect needs an address, such as localhost:8025\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let server = match common::client_endpoint("--connect", text) {
        Ok(server) => server,
        Err(code) => return code,
    };
    let host = common::host_and_port(text).map(|(host, _)| host);
    let Some(server_name) = args.value("server-name").or(host) else {
        eprintln!(
            "error: give --server-name NAME, the name the server's certificate must hold \
             ({text:?} names no host)\n\n{USAGE}"
        );
        return ExitCode::from(2);
    };
    let lines = match lines.is_empty() {
        true => vec!["hello over TLS".to_string()],
        false => lines,
    };
    let tls = || -> torsade::Result<StartTls> {
        let config: Arc<ClientConfig> = match args.value("ca") {
            Some(ca) => torsade::tls::client_config_with_ca(ca)?,
            None => torsade::tls::client_config_with_platform_roots()?,
        };
        StartTls::client(server_name, config)
    };
    let outcome = tls()
        .map_err(|error| error.to_string())
        .and_then(|tls| talk(server, tls, lines));
    common::exit_code(outcome.map(|()| ExitCode::SUCCESS))
}

/// Connects to `server` and has the conversation; `Err` says what went wrong.
fn talk(server: Arc<dyn ClientEndpoint>, tls: StartTls, lines: Vec<String>) -> Result<(), String> {
    let reactor = Reactor::new().map_err(|error| error.to_string())?;
    let failure = Arc::new(Mutex::new(None));
    let (f, r) = (failure.clone(), reactor.clone());
    let factory = factory_fn(move |_: &Address| {
        LineOnlyReceiver::new(Client {
            tls: tls.clone(),
            lines: lines.clone(),
            step: Step::Clear,
            failure: f.clone(),
            reactor: r.clone(),
        })
        .with_delimiter(b"\n")
    });
    let (f, r) = (failure.clone(), reactor.clone());
    reactor
        .connect(server, factory)
        .add_callbacks(
            |_connected| Ok::<(), Failure>(()),
            move |failure| {
                // Not connected: no protocol will stop the reactor.
                f.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(failure.to_string());
                let _ = r.stop();
                Ok::<(), Failure>(())
            },
        )
        .detach();
    reactor.run().map_err(|error| error.to_string())?;
    let failure = failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    failure.map_or(Ok(()), Err)
}
