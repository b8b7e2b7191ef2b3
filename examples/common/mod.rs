//! Small helpers shared by the examples: argument parsing, logging, Ctrl-C.
#![allow(dead_code)]

use std::process::ExitCode;

use torsade::{ProtocolFactory, Reactor};

/// Command-line flags as `--name value` pairs (and bare `--flag`s).
pub struct Args {
    pairs: Vec<(String, Option<String>)>,
}

impl Args {
    /// Parses `std::env::args`, accepting only the `known` flags (`--help` prints `usage`).
    pub fn parse(usage: &str, known: &[&str]) -> Result<Args, ExitCode> {
        let mut pairs = Vec::new();
        let mut args = std::env::args().skip(1).peekable();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                println!("{usage}");
                return Err(ExitCode::SUCCESS);
            }
            let Some(name) = arg.strip_prefix("--").filter(|name| known.contains(name)) else {
                eprintln!("error: unexpected argument {arg:?}\n\n{usage}");
                return Err(ExitCode::from(2));
            };
            let value = match args.peek() {
                Some(next) if !next.starts_with("--") => args.next(),
                _ => None,
            };
            pairs.push((name.to_string(), value));
        }
        Ok(Args { pairs })
    }

    /// The value of `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(flag, _)| flag == name)
            .and_then(|(_, value)| value.as_deref())
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.pairs.iter().any(|(flag, _)| flag == name)
    }

    /// The value of `--name` parsed as a number, or `default`.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, ExitCode> {
        match self.value(name) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                eprintln!("error: --{name} expects a number, got {text:?}");
                ExitCode::from(2)
            }),
        }
    }
}

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Stops `reactor` gracefully on Ctrl-C (SIGINT), as Twisted's reactor does.
pub fn stop_on_ctrl_c(reactor: &Reactor) {
    let stopper = reactor.clone();
    reactor
        .spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = stopper.stop();
            }
        })
        .detach();
}

/// The body of a server example: parses `--port` (default `default_port`), listens on
/// 127.0.0.1 with `factory`, prints `listening on ADDR`, and runs until Ctrl-C.
pub fn serve_main<F: ProtocolFactory>(usage: &str, default_port: u16, factory: F) -> ExitCode {
    init_logging();
    let port =
        match Args::parse(usage, &["port"]).and_then(|args| args.number("port", default_port)) {
            Ok(port) => port,
            Err(code) => return code,
        };
    let serve = || -> torsade::Result<()> {
        let reactor = Reactor::new()?;
        let listening = reactor.listen_tcp(format!("127.0.0.1:{port}"), factory)?;
        println!("listening on {}", listening.local_addr());
        stop_on_ctrl_c(&reactor);
        reactor.run()
    };
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
