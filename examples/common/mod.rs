//! Small helpers shared by the examples: argument parsing, logging, Ctrl-C, the body of
//! a server ([`serve_main`], [`serve`], with the flags every server takes), and the clock
//! driver of the timer examples ([`ClockReactor`], [`run_timers`]).
#![allow(dead_code)]

use std::fmt;
use std::future::Future;
use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use torsade::endpoints::{
    client_from_string, server_from_string, ClientEndpoint, ServerEndpoint, TcpServer,
};
use torsade::testing::FakeClock;
#[cfg(feature = "tls")]
use torsade::tls::rustls::ServerConfig;
use torsade::{Clock, Deferred, DelayedCall};
use torsade::{ClockExt, LimitPolicy, ProtocolFactory, Reactor, SignalHandling};

/// Command-line flags as `--name value` pairs (and bare `--flag`s).
pub struct Args {
    pairs: Vec<(String, Option<String>)>,
}

impl Args {
    /// Parses `std::env::args`, accepting only the `known` flags (`--help` prints `usage`).
    pub fn parse(usage: &str, known: &[&str]) -> Result<Args, ExitCode> {
        let (args, operands) = Args::parse_with_operands(usage, known)?;
        match operands.first() {
            None => Ok(args),
            Some(operand) => {
                eprintln!("error: unexpected argument {operand:?}\n\n{usage}");
                Err(ExitCode::from(2))
            }
        }
    }

    /// Like [`Args::parse`], also taking operands (`URL...`): the arguments that are
    /// neither a flag nor a flag's value.
    pub fn parse_with_operands(
        usage: &str,
        known: &[&str],
    ) -> Result<(Args, Vec<String>), ExitCode> {
        let mut pairs = Vec::new();
        let mut operands = Vec::new();
        let mut args = std::env::args().skip(1).peekable();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                println!("{usage}");
                return Err(ExitCode::SUCCESS);
            }
            if !arg.starts_with("--") {
                operands.push(arg);
                continue;
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
        Ok((Args { pairs }, operands))
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

    /// The value of `--name` as a positive number of seconds (`1`, `0.5`), if given.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, ExitCode> {
        if !self.flag(name) {
            return Ok(None);
        }
        let text = self.value(name).unwrap_or_default();
        text.parse::<f64>()
            .ok()
            .filter(|seconds| *seconds > 0.0)
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .map(Some)
            .ok_or_else(|| {
                eprintln!("error: --{name} expects a positive number of seconds, got {text:?}");
                ExitCode::from(2)
            })
    }
}

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (default: warnings), in colour
/// only when stderr is a terminal (and `NO_COLOR` is not set): a log written to a file or
/// a pipe carries no escape codes.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

/// Stops `reactor` gracefully on Ctrl-C where [`Reactor::run`] does not: on Unix, `run`
/// itself stops on SIGINT and SIGTERM (a second signal aborts), and a handler of ours
/// would make one Ctrl-C count twice.
pub fn stop_on_ctrl_c(reactor: &Reactor) {
    #[cfg(not(unix))]
    {
        let stopper = reactor.clone();
        reactor
            .spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    let _ = stopper.stop();
                }
            })
            .detach();
    }
    #[cfg(unix)]
    let _ = reactor;
}

/// The flags every server example takes: where to listen ([`server_endpoint`]) and how
/// to run ([`ServerOptions`]).
pub const SERVER_FLAGS: [&str; 8] = [
    "port",
    "listen",
    "tls-cert",
    "tls-key",
    "loops",
    "idle-timeout",
    "max-connections",
    "stop-deadline",
];

/// The usage lines of the flags [`ServerOptions`] reads, as a literal for `concat!`.
#[allow(unused_macros)] // Only the server examples use it.
macro_rules! server_options_usage {
    () => {
        "   --loops N runs N event loops (default 1); --idle-timeout SECS closes a connection
   that has been idle that long (default: never); --max-connections N serves at most N
   connections at once, the next ones waiting to be accepted until one closes (default: no
   limit); --stop-deadline SECS aborts what has not closed that long after Ctrl-C or
   SIGTERM (default 10; a second signal aborts at once)"
    };
}
#[allow(unused_imports)]
pub(crate) use server_options_usage;

/// How a server example runs, besides where it listens: `--loops N` (default 1),
/// `--idle-timeout SECS` (default: none), `--max-connections N` (default: no limit) and
/// `--stop-deadline SECS` (default [`torsade::SIGNAL_STOP_DEADLINE`], 10 s). The idle
/// timeout and the connection limit are off unless given, as in Twisted and Netty.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Event loops (one per core at most is useful).
    pub loops: NonZeroUsize,
    /// Every connection accepted is closed after being idle this long (nothing received
    /// and nothing sent).
    pub idle_timeout: Option<Duration>,
    /// At most this many connections are served at once; the next ones wait in the
    /// kernel's backlog until one closes ([`LimitPolicy::PauseAccepting`]).
    pub max_connections: Option<usize>,
    /// How long a stop on Ctrl-C or SIGTERM waits for connections to close before
    /// aborting them (a peer that never reads).
    pub stop_deadline: Duration,
}

impl ServerOptions {
    /// Reads the options from `args`; a value that is not usable is one line on stderr
    /// and exit status 2.
    pub fn from_args(args: &Args) -> Result<ServerOptions, ExitCode> {
        let usage_error = |message: &str| {
            eprintln!("error: {message}");
            ExitCode::from(2)
        };
        let loops = NonZeroUsize::new(args.number("loops", 1usize)?)
            .ok_or_else(|| usage_error("--loops must be at least 1"))?;
        let max_connections = match args.flag("max-connections") {
            false => None,
            true => match args.number("max-connections", 0usize)? {
                0 => return Err(usage_error("--max-connections must be at least 1")),
                max => Some(max),
            },
        };
        Ok(ServerOptions {
            loops,
            idle_timeout: args.seconds("idle-timeout")?,
            max_connections,
            stop_deadline: args
                .seconds("stop-deadline")?
                .unwrap_or(torsade::SIGNAL_STOP_DEADLINE),
        })
    }
}

/// The body of a server example: parses where to listen (`--listen ENDPOINT`, or
/// `--port P` on 127.0.0.1, default `default_port`, with `--tls-cert FILE --tls-key FILE`
/// (PEM) for TLS; see [`server_endpoint`]) and how to run ([`ServerOptions`]), then
/// [`serve`]s `factory` there.
pub fn serve_main<F: ProtocolFactory>(usage: &str, default_port: u16, factory: F) -> ExitCode {
    init_logging();
    let args = match Args::parse(usage, &SERVER_FLAGS) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let (endpoint, options) = match (
        server_endpoint(&args, usage, default_port),
        ServerOptions::from_args(&args),
    ) {
        (Ok(endpoint), Ok(options)) => (endpoint, options),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    serve(endpoint, factory, &options)
}

/// Listens on `endpoint` with `factory` as `options` say, prints `listening on ADDR`
/// (always the first line on stdout), and runs until Ctrl-C or SIGTERM, which stop it
/// gracefully (a second one aborts at once). Exit status 0 after a stop, 1 if it cannot
/// listen.
pub fn serve<F: ProtocolFactory>(
    endpoint: Box<dyn ServerEndpoint>,
    factory: F,
    options: &ServerOptions,
) -> ExitCode {
    let serve = || -> torsade::Result<()> {
        let reactor = Reactor::with_loops(options.loops)?;
        reactor.set_signal_handling(SignalHandling::Stop {
            deadline: options.stop_deadline,
        });
        let listening = reactor.listen(endpoint, factory)?;
        if let Some(max) = options.max_connections {
            listening.set_max_connections(Some(max), LimitPolicy::PauseAccepting);
        }
        listening.set_idle_timeout(options.idle_timeout);
        println!("listening on {}", listening.local_addr());
        stop_on_ctrl_c(&reactor);
        reactor.run()
    };
    exit_code(serve().map(|()| ExitCode::SUCCESS))
}

/// The exit status of a program that ended with `outcome`: its own, or, for an error,
/// failure after one `error: ...` line on stderr.
pub fn exit_code(outcome: Result<ExitCode, impl std::fmt::Display>) -> ExitCode {
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        ExitCode::FAILURE
    })
}

/// Where a server example listens:
///
/// - `--listen ENDPOINT`: an endpoint string (`tcp:8000:interface=127.0.0.1`,
///   `unix:/tmp/echo.sock`, `tls:8443:certKey=cert.pem:privateKey=key.pem`, a bare
///   `127.0.0.1:8000`...), which says everything, TLS included;
/// - otherwise TCP on 127.0.0.1, port `--port P` (default `default_port`), over TLS if
///   `--tls-cert FILE --tls-key FILE` are given.
///
/// A usage mistake (both `--listen` and `--port`, `--listen` with the TLS flags, a
/// malformed endpoint) is one line on stderr and exit status 2; a certificate or key file
/// that is not usable is one line and status 1.
pub fn server_endpoint(
    args: &Args,
    usage: &str,
    default_port: u16,
) -> Result<Box<dyn ServerEndpoint>, ExitCode> {
    if !args.flag("listen") {
        return over_tls_if_asked(args, port_endpoint(args, default_port)?);
    }
    let endpoint = plain_server_endpoint(args, usage, default_port)?;
    if args.flag("tls-cert") || args.flag("tls-key") {
        eprintln!(
            "error: --tls-cert and --tls-key go with --port; with --listen, name the files in \
             the endpoint: tls:PORT:certKey=FILE:privateKey=FILE\n\n{usage}"
        );
        return Err(ExitCode::from(2));
    }
    Ok(endpoint)
}

/// Where a server example listens when its `--tls-cert` and `--tls-key` are not for the
/// port itself (a STARTTLS server's): `--listen ENDPOINT`, or TCP on 127.0.0.1 port
/// `--port P` (default `default_port`). Mistakes are reported as [`server_endpoint`]
/// reports them.
pub fn plain_server_endpoint(
    args: &Args,
    usage: &str,
    default_port: u16,
) -> Result<Box<dyn ServerEndpoint>, ExitCode> {
    match listen_flag(args, usage, "tcp:8000")? {
        None => Ok(Box::new(port_endpoint(args, default_port)?)),
        Some(text) => server_from_string(text).map_err(|error| endpoint_error("--listen", error)),
    }
}

/// The endpoint `--listen ENDPOINT` gives, `None` if it is not given (then `--port`, or
/// its default, says where). `--listen` without a value (the message suggests
/// `sample`), or with `--port`, is one line and the usage on stderr, and exit status 2.
pub fn listen_flag<'a>(
    args: &'a Args,
    usage: &str,
    sample: &str,
) -> Result<Option<&'a str>, ExitCode> {
    if !args.flag("listen") {
        return Ok(None);
    }
    let usage_error = |message: &str| {
        eprintln!("error: {message}\n\n{usage}");
        ExitCode::from(2)
    };
    let Some(text) = args.value("listen") else {
        return Err(usage_error(&format!(
            "--listen needs an endpoint, such as {sample}"
        )));
    };
    if args.flag("port") {
        return Err(usage_error("give --listen or --port, not both"));
    }
    Ok(Some(text))
}

/// TCP on 127.0.0.1, port `--port P` (default `default_port`).
fn port_endpoint(args: &Args, default_port: u16) -> Result<TcpServer, ExitCode> {
    let port = args.number("port", default_port)?;
    Ok(TcpServer::from(SocketAddr::from((
        Ipv4Addr::LOCALHOST,
        port,
    ))))
}

/// The client endpoint `text`, given as `--FLAG text`: `HOST:PORT`, or an endpoint string
/// (`tcp:host=H:port=P`, `tls:host=H:port=P:caCerts=FILE`, `unix:path=FILE`...). A
/// malformed one is one line on stderr and exit status 2; a CA file that is not usable is
/// one line and status 1.
pub fn client_endpoint(flag: &str, text: &str) -> Result<Arc<dyn ClientEndpoint>, ExitCode> {
    client_from_string(text).map_err(|error| endpoint_error(flag, error))
}

/// The host and port of `HOST:PORT` (`[::1]:443` gives `::1` and 443); the host is the
/// name a TLS server's certificate must be for. `None` for anything else (an endpoint
/// string such as `tcp:host=H:port=P`).
pub fn host_and_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = match host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
    {
        Some(bracketed) => bracketed,
        // Only a bracketed IPv6 address holds colons: `tcp:host=...` is no host.
        None if host.contains(':') => return None,
        None => host,
    };
    (!host.is_empty()).then_some((host, port))
}

/// Reports an endpoint that cannot be used: status 2 for a malformed string (a usage
/// mistake; the message names the string, the field and what was expected), 1 for a file
/// it names that is not usable.
pub fn endpoint_error(flag: &str, error: torsade::Error) -> ExitCode {
    eprintln!("error: {flag}: {error}");
    match error {
        torsade::Error::InvalidEndpoint { .. } => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// The server's TLS configuration from `--tls-cert FILE --tls-key FILE`, `None` if
/// neither is given. One without the other, or a file that is not usable PEM, is a
/// one-line error (exit status 2 for a usage mistake, 1 for a bad file).
#[cfg(feature = "tls")]
pub fn tls_server_config(args: &Args) -> Result<Option<Arc<ServerConfig>>, ExitCode> {
    match (args.value("tls-cert"), args.value("tls-key")) {
        (None, None) if !args.flag("tls-cert") && !args.flag("tls-key") => Ok(None),
        (Some(cert), Some(key)) => torsade::tls::server_config_from_pem(cert, key)
            .map(Some)
            .map_err(|error| {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }),
        _ => {
            eprintln!("error: TLS needs both --tls-cert FILE and --tls-key FILE");
            Err(ExitCode::from(2))
        }
    }
}

/// `tcp`, under TLS if `--tls-cert` and `--tls-key` say so.
#[cfg(feature = "tls")]
fn over_tls_if_asked(args: &Args, tcp: TcpServer) -> Result<Box<dyn ServerEndpoint>, ExitCode> {
    Ok(match tls_server_config(args)? {
        None => Box::new(tcp),
        Some(config) => Box::new(torsade::endpoints::TlsServer::new(tcp, config)),
    })
}

/// `tcp`; the TLS flags are refused, since this build has no TLS.
#[cfg(not(feature = "tls"))]
fn over_tls_if_asked(args: &Args, tcp: TcpServer) -> Result<Box<dyn ServerEndpoint>, ExitCode> {
    if args.flag("tls-cert") || args.flag("tls-key") {
        let error = torsade::Error::FeatureDisabled {
            what: "--tls-cert and --tls-key".to_string(),
            feature: "tls",
        };
        eprintln!("error: {error}");
        return Err(ExitCode::FAILURE);
    }
    Ok(Box::new(tcp))
}

impl Args {
    /// Parses `std::env::args` strictly: each of the `valued` flags takes a value
    /// (`--seed 7`), each of the `switches` takes none (`--fake-clock`), and up to
    /// `max_operands` plain arguments may come anywhere (`slow_square async`). Returns the
    /// flags and the operands. `--help` prints `usage`; a mistake prints one line and the
    /// usage on stderr, and exits 2.
    pub fn parse_command(
        usage: &str,
        valued: &[&str],
        switches: &[&str],
        max_operands: usize,
    ) -> Result<(Args, Vec<String>), ExitCode> {
        let usage_error = |message: String| {
            eprintln!("error: {message}\n\n{usage}");
            ExitCode::from(2)
        };
        let mut pairs = Vec::new();
        let mut operands = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                println!("{usage}");
                return Err(ExitCode::SUCCESS);
            }
            match arg.strip_prefix("--") {
                Some(name) if switches.contains(&name) => pairs.push((name.to_string(), None)),
                Some(name) if valued.contains(&name) => match args.next() {
                    Some(value) => pairs.push((name.to_string(), Some(value))),
                    None => return Err(usage_error(format!("--{name} needs a value"))),
                },
                Some(_) => return Err(usage_error(format!("unexpected argument {arg:?}"))),
                None if operands.len() < max_operands => operands.push(arg),
                None => return Err(usage_error(format!("unexpected argument {arg:?}"))),
            }
        }
        Ok((Args { pairs }, operands))
    }
}

/// A reactor reduced to what the timer examples use — a [`Clock`] and `stop` — running
/// either in real time on a [`Reactor`] or instantly on the fake
/// [`testing::FakeClock`](torsade::testing::FakeClock). Cheap to clone.
///
/// The example's program is written once against this type; [`run_timers`] picks the
/// clock. Times printed with [`say`](ClockReactor::say) are measured from the moment the
/// program starts and rounded to 0.1 s, so a run prints the same times on either clock.
#[derive(Clone)]
pub struct ClockReactor {
    clock: Arc<dyn Clock>,
    mode: Mode,
    /// The clock's time when the program started.
    origin: Duration,
    /// Set by [`ClockReactor::fail`]: the program exits with status 1.
    failed: Arc<AtomicBool>,
}

#[derive(Clone)]
enum Mode {
    /// Real time: the reactor runs until stopped.
    Real(Reactor),
    /// Fake time: the driver advances the clock until this is set.
    Fake { stopped: Arc<AtomicBool> },
}

impl ClockReactor {
    /// The clock to schedule on (and to pass to `torsade::sleep`).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Runs `call` once, `delay` from now. Twisted's `reactor.callLater`.
    pub fn call_later(&self, delay: Duration, call: impl FnOnce() + Send + 'static) -> DelayedCall {
        self.clock.call_later(delay, call)
    }

    /// Runs `future` as a task; the Deferred fires with its output. On the reactor it is
    /// a task on the loop ([`Reactor::spawn`]); on the fake clock it is polled inline
    /// ([`Deferred::from_future`]) whenever what it awaits fires.
    pub fn spawn<T, F>(&self, future: F) -> Deferred<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        match &self.mode {
            Mode::Real(reactor) => reactor.spawn(future),
            Mode::Fake { .. } => Deferred::from_future(future),
        }
    }

    /// Ends the program: stops the reactor, or the fake clock's driver. Calls not yet due
    /// never run. Stopping twice is harmless.
    pub fn stop(&self) {
        match &self.mode {
            Mode::Real(reactor) => {
                // Fails only if the reactor is already stopping: nothing more to do.
                let _ = reactor.stop();
            }
            Mode::Fake { stopped, .. } => stopped.store(true, Ordering::SeqCst),
        }
    }

    /// Reports `error` as one line on stderr and stops; the program exits with status 1.
    pub fn fail(&self, error: impl fmt::Display) {
        eprintln!("error: {error}");
        self.failed.store(true, Ordering::SeqCst);
        self.stop();
    }

    /// Stops when `done` fires, after reporting it with [`fail`](ClockReactor::fail) if
    /// it failed.
    pub fn stop_when<T: Send + 'static>(&self, done: Deferred<T>) {
        let reactor = self.clone();
        done.add_both(move |result| match result {
            Ok(_) => reactor.stop(),
            Err(failure) => reactor.fail(failure),
        })
        .detach();
    }

    /// Time since the program started.
    pub fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.origin)
    }

    /// Prints `text` on stdout after the elapsed time: `[1.5 s] text` (see [`seconds`]).
    pub fn say(&self, text: impl fmt::Display) {
        println!("[{}] {text}", seconds(self.elapsed()));
    }
}

/// `duration` in seconds rounded to the nearest 0.1 s (halves up), as `1.5 s`: coarse
/// enough that a run on the reactor, a few milliseconds late here and there, prints the
/// same as a run on the fake clock.
pub fn seconds(duration: Duration) -> String {
    let tenths = (duration.as_millis() + 50) / 100;
    format!("{}.{} s", tenths / 10, tenths % 10)
}

impl fmt::Debug for ClockReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Real(_) => "real time",
            Mode::Fake { .. } => "fake clock",
        };
        f.debug_struct("ClockReactor")
            .field("mode", &mode)
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

/// Runs a timer example's `program` and returns its exit status.
///
/// - Real time (`fake` false): a [`Reactor`] runs `program` once it is running, and runs
///   until the program calls [`ClockReactor::stop`] (or Ctrl-C).
/// - Fake time (`fake` true): `program` runs on a [`testing::FakeClock`](FakeClock) at time
///   zero; then the driver advances the clock straight to the next due call, again and
///   again, until the program stops. Nothing waits, so it finishes at once, with the
///   same calls in the same order at the same clock times. If nothing is left scheduled
///   and the program has not stopped, it never would (a reactor would wait forever): that
///   is reported as an error.
///
/// The status is 1 if the program called [`ClockReactor::fail`] or could not run.
pub fn run_timers(fake: bool, program: impl FnOnce(ClockReactor) + Send + 'static) -> ExitCode {
    let failed = Arc::new(AtomicBool::new(false));
    let outcome = if fake {
        run_on_fake_clock(failed.clone(), program)
    } else {
        run_on_reactor(failed.clone(), program)
    };
    match outcome {
        Ok(()) if !failed.load(Ordering::SeqCst) => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_on_reactor(
    failed: Arc<AtomicBool>,
    program: impl FnOnce(ClockReactor) + Send + 'static,
) -> Result<(), String> {
    let reactor = Reactor::new().map_err(|error| error.to_string())?;
    let r = reactor.clone();
    reactor.call_when_running(move || {
        program(ClockReactor {
            clock: r.clock(),
            origin: r.now(),
            mode: Mode::Real(r),
            failed,
        });
    });
    stop_on_ctrl_c(&reactor);
    reactor.run().map_err(|error| error.to_string())
}

fn run_on_fake_clock(
    failed: Arc<AtomicBool>,
    program: impl FnOnce(ClockReactor),
) -> Result<(), String> {
    let clock = FakeClock::new();
    let stopped = Arc::new(AtomicBool::new(false));
    program(ClockReactor {
        clock: Arc::new(clock.clone()),
        origin: Duration::ZERO,
        mode: Mode::Fake {
            stopped: stopped.clone(),
        },
        failed,
    });
    while !stopped.load(Ordering::SeqCst) {
        let Some(due) = clock.next_due() else {
            return Err("nothing left to happen, but the program never stopped".to_string());
        };
        clock.advance(due.saturating_sub(clock.now()));
    }
    Ok(())
}

/// The body of a baseline (plain tokio) server example: parses `--port` (default
/// `default_port`), binds 127.0.0.1, prints `listening on ADDR`, and runs `serve` for
/// every connection on a single-threaded tokio runtime.
pub fn tokio_serve_main<F, Fut>(usage: &str, default_port: u16, serve: F) -> ExitCode
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    init_logging();
    let port =
        match Args::parse(usage, &["port"]).and_then(|args| args.number("port", default_port)) {
            Ok(port) => port,
            Err(code) => return code,
        };
    let run = async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(serve(stream));
        }
    };
    let outcome: std::io::Result<()> = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| runtime.block_on(run));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
