//! Why the asynchronous model wins when tasks wait: Dave Peticolas' "In Which We Begin at
//! the Beginning" (seed `002`) made concrete with the greeting client of "Turning
//! Asynchronous Networking Inside-Out" (seed `004`).
//!
//! ```text
//! cargo run --example blocking_vs_async
//! cargo run --example blocking_vs_async -- --servers 5 --delay-ms 1000
//! ```
//!
//! The program starts `--servers N` slow greeting servers (default 3) in its own reactor:
//! each answers a name `--delay-ms D` milliseconds after it arrives (default 500). Then it
//! fetches one greeting from every server twice:
//!
//! - **blocking**: the article's `get_greeting` with `std::net` — connect, send, read until
//!   the line ends — one server after another, on a thread of its own (a blocking client
//!   must never run on the reactor: it would stall the servers too). It takes about
//!   N × D: each wait is spent doing nothing.
//! - **async**: the asyncio coroutine (`open_connection`, `write_line`, `read_line`),
//!   one task per server, all started at once on the reactor. It takes about D: the
//!   waits overlap.
//!
//! Each greeting is printed labelled with its approach, then each approach's wall time.
//! Wall time is the point, so this example runs in real time (there is no `--fake-clock`);
//! the times vary from run to run. An error prints one line on stderr and exits 1.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Args;
use torsade::prelude::*;
use torsade::{factory_fn, gather_results, Address, Clock, Reactor, Transport};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};

const USAGE: &str =
    "usage: blocking_vs_async [--servers N] [--delay-ms D]   (default 3 servers, 500 ms)";

/// The most servers accepted.
const MAX_SERVERS: usize = 100;

/// The longest delay accepted, in milliseconds (a minute).
const MAX_DELAY_MS: u64 = 60_000;

/// The seed's `BUFSIZE`: how much one `recv` may return.
const BUFSIZE: usize = 4096;

/// How long the blocking client waits on a socket beyond the servers' delay before
/// giving up (a bound, so a broken server cannot hang it).
const IO_SLACK: Duration = Duration::from_secs(10);

/// Names to greet, one per server.
const NAMES: [&str; 8] = [
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi",
];

/// The name sent to server `index`: Alice, Bob, ..., then Alice 2, Bob 2, ...
fn name(index: usize) -> String {
    let base = NAMES[index % NAMES.len()];
    match index / NAMES.len() {
        0 => base.to_string(),
        round => format!("{base} {}", round + 1),
    }
}

/// A greeting server that takes its time: each name is answered `delay` after it arrives,
/// by a timed call on the connection's clock, so the server itself never blocks and
/// serves everyone at once.
struct SlowGreeter {
    delay: Duration,
}

impl LineHandler for SlowGreeter {
    fn line_received(&mut self, lines: &mut LineContext<'_>, name: Line<'_>) {
        let answer = match std::str::from_utf8(&name) {
            Ok("") => "ERROR empty name".to_string(),
            Ok(name) => format!("Hello, {name}!"),
            Err(_) => "ERROR name is not valid UTF-8".to_string(),
        };
        let sender = lines.line_sender();
        lines
            .clock()
            .call_later(self.delay, move || sender.send_line(answer.as_bytes()));
    }
}

/// Starts `count` slow greeting servers on free ports of 127.0.0.1; returns their
/// addresses.
fn start_servers(
    reactor: &Reactor,
    count: usize,
    delay: Duration,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error>> {
    (0..count)
        .map(|_| {
            let factory =
                factory_fn(move |_: &Address| LineOnlyReceiver::new(SlowGreeter { delay }));
            let port = reactor.listen("127.0.0.1:0", factory)?;
            let address = port.local_addr();
            match address.socket_addr() {
                Some(address) => Ok(address),
                None => Err(format!("a greeting server listens on {address}, not on TCP").into()),
            }
        })
        .collect()
}

/// The seed's blocking `get_greeting`: connect, send the name and CR/LF, then read until
/// the greeting's line has ended. Every call waits, doing nothing, until it is done.
fn get_greeting(address: SocketAddr, name: &str, timeout: Duration) -> io::Result<String> {
    let mut sock = TcpStream::connect_timeout(&address, timeout)?;
    sock.set_read_timeout(Some(timeout))?;
    sock.write_all(format!("{name}\r\n").as_bytes())?;
    let mut greeting = Vec::new();
    let mut buffer = [0; BUFSIZE];
    while !greeting.ends_with(b"\r\n") {
        let received = sock.read(&mut buffer)?;
        if received == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{address} closed the connection before the greeting ended"),
            ));
        }
        greeting.extend_from_slice(&buffer[..received]);
    }
    greeting.truncate(greeting.len() - 2);
    Ok(String::from_utf8_lossy(&greeting).into_owned())
}

/// The seed's coroutine: the same steps as [`get_greeting`], but each wait lets the
/// reactor run everything else.
async fn get_greeting_async(
    reactor: Reactor,
    address: SocketAddr,
    name: String,
) -> Result<String, Failure> {
    let mut connection = reactor.open_connection(address).await?;
    connection.write_line(name.as_bytes()).await?;
    let greeting = connection.read_line().await?;
    connection.close().await?;
    match greeting {
        Some(greeting) => Ok(String::from_utf8_lossy(&greeting).into_owned()),
        None => Err(Failure::new(format!(
            "{address} closed the connection without a greeting"
        ))),
    }
}

/// Greetings, and how long they took to get.
type Timed = (Vec<String>, Duration);

/// Gets a greeting from each server, one after another, with the blocking client.
fn fetch_blocking(
    clock: &dyn Clock,
    servers: &[(SocketAddr, String)],
    timeout: Duration,
) -> io::Result<Timed> {
    let start = clock.now();
    let greetings = servers
        .iter()
        .map(|(address, name)| get_greeting(*address, name, timeout))
        .collect::<io::Result<Vec<_>>>()?;
    Ok((greetings, clock.now().saturating_sub(start)))
}

/// Gets a greeting from every server at once: one task each, on the reactor.
fn fetch_async(reactor: &Reactor, servers: &[(SocketAddr, String)]) -> Deferred<Timed> {
    let start = reactor.now();
    let fetches = servers.iter().map(|(address, name)| {
        reactor
            .spawn(get_greeting_async(reactor.clone(), *address, name.clone()))
            .and_then(|greeting| greeting)
    });
    let clock = reactor.clone();
    gather_results(fetches)
        .add_callback(move |greetings| (greetings, clock.now().saturating_sub(start)))
}

/// Runs `work` on a thread of its own; the Deferred fires with its result on the reactor
/// thread (handed over by a zero-delay timed call). Twisted's `deferToThread` and
/// `callFromThread`.
fn defer_to_thread<T: Send + 'static>(
    reactor: &Reactor,
    work: impl FnOnce() -> T + Send + 'static,
) -> Deferred<T> {
    let (d, resolver) = Deferred::new();
    let r = reactor.clone();
    let spawned = std::thread::Builder::new()
        .name("blocking client".to_string())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            r.call_later(Duration::ZERO, move || {
                // Fails only if the Deferred was already fired; this is its only firer.
                let _ = match result {
                    Ok(value) => resolver.callback(value),
                    Err(_) => resolver.errback(Failure::new("the blocking client panicked")),
                };
            });
        });
    match spawned {
        Ok(_) => d,
        Err(error) => Deferred::fail(error),
    }
}

/// Prints one approach's greetings and wall time.
fn report(label: &str, how: &str, (greetings, took): Timed) {
    for greeting in &greetings {
        println!("{label}: {greeting}");
    }
    println!(
        "{label}: {} greetings in {:.2} s, {how}",
        greetings.len(),
        took.as_secs_f64()
    );
}

/// Runs the blocking client and then the async one against `servers` (each answering
/// after `delay`), prints what they got, and stops the reactor.
fn compare(
    reactor: &Reactor,
    servers: Vec<(SocketAddr, String)>,
    delay: Duration,
    failed: Arc<AtomicBool>,
) {
    let (blocking_servers, clock) = (servers.clone(), reactor.clock());
    let (r, stopper) = (reactor.clone(), reactor.clone());
    defer_to_thread(reactor, move || {
        fetch_blocking(&*clock, &blocking_servers, delay + IO_SLACK)
    })
    .and_then(|fetched| fetched)
    .add_callback(|timed| report("blocking", "one server after another (own thread)", timed))
    .and_then(move |()| fetch_async(&r, &servers))
    .add_callback(|timed| report("async", "all servers at once (on the reactor)", timed))
    .add_both(move |result| {
        if let Err(failure) = result {
            eprintln!("error: {failure}");
            failed.store(true, Ordering::SeqCst);
        }
        // Fails only if the reactor is already stopping.
        let _ = stopper.stop();
    })
    .detach();
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, _) = match Args::parse_command(USAGE, &["servers", "delay-ms"], &[], 0) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let (count, delay_ms) = match (
        args.number("servers", 3usize),
        args.number("delay-ms", 500u64),
    ) {
        (Ok(count), Ok(delay_ms)) => (count, delay_ms),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    if count == 0 || count > MAX_SERVERS {
        eprintln!("error: --servers takes 1 to {MAX_SERVERS}\n\n{USAGE}");
        return ExitCode::from(2);
    }
    if delay_ms > MAX_DELAY_MS {
        eprintln!("error: --delay-ms takes 0 to {MAX_DELAY_MS}\n\n{USAGE}");
        return ExitCode::from(2);
    }
    let delay = Duration::from_millis(delay_ms);
    let failed = Arc::new(AtomicBool::new(false));
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let reactor = Reactor::new()?;
        let servers: Vec<(SocketAddr, String)> = start_servers(&reactor, count, delay)?
            .into_iter()
            .enumerate()
            .map(|(index, address)| (address, name(index)))
            .collect();
        println!(
            "{count} slow greeting servers, each answering {delay_ms} ms after a name arrives"
        );
        let (r, failed) = (reactor.clone(), failed.clone());
        reactor.call_when_running(move || compare(&r, servers, delay, failed));
        common::stop_on_ctrl_c(&reactor);
        Ok(reactor.run()?)
    };
    match run() {
        Ok(()) if failed.load(Ordering::SeqCst) => ExitCode::FAILURE,
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
