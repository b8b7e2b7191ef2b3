//! A UDP echo server, and a client that sends lines as datagrams and waits for each
//! echo, retrying after a timeout: request/response over a lossy transport.
//!
//! ```text
//! cargo run --example udp_echo -- --port 9007
//! cargo run --example udp_echo -- --listen udp:9007:interface=0.0.0.0
//! cargo run --example udp_echo -- --connect 127.0.0.1:9007 hello world   # prints each echo
//! printf 'one\ntwo\n' | cargo run --example udp_echo -- --connect 127.0.0.1:9007
//! ```
//!
//! The server sends every datagram back to where it came from. It listens on 127.0.0.1
//! port `--port P` (0 picks a free port), or where `--listen ENDPOINT` says: a UDP
//! endpoint string (`udp:PORT[:interface=IP]`, IPv6 colons escaped as in
//! `udp:0:interface=\:\:1`) or an address (`[::1]:9007`). The first line printed is
//! always `listening on ADDR`. The client sends its
//! arguments (or, with none, each line of stdin) one at a time, and prints each echo. An
//! echo that does not come within `--timeout SECS` (default 1) is asked for again, up to
//! `--retries N` more times (default 3); then the client gives up with exit status 1. A
//! refusal (nothing listens there) ends it at once, also with status 1. The timeouts run
//! on the reactor's clock, so the same client is tested in memory on a fake clock, under
//! loss (see the tests at the end of this file).

mod common;

use std::collections::VecDeque;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use torsade::datagram::{DatagramContext, DatagramHandle, DatagramProtocol};
use torsade::endpoints::IntoDatagramAddress;
use torsade::{Clock, ClockExt, DelayedCall, Reactor};

const USAGE: &str = "usage: udp_echo [--port PORT | --listen ENDPOINT]
       udp_echo --connect ADDR [--timeout SECS] [--retries N] [LINE...]
   the server listens on 127.0.0.1, port 9007 unless --port says (0 picks a free port),
   or where --listen says: udp:PORT[:interface=IP] (escape IPv6's colons as \\:) or ADDR:PORT;
   the client sends each LINE (or each line of stdin) to ADDR and prints its echo";

/// Sends every datagram back to its sender.
struct Echo;

impl DatagramProtocol for Echo {
    fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, from: SocketAddr) {
        if let Err(error) = cx.write(&data, from) {
            tracing::warn!(%from, %error, "cannot echo");
        }
    }
}

/// How an [`EchoClient`] run ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Every line came back.
    AllEchoed,
    /// A line did not come back after every try.
    NoAnswer { line: String, tries: u32 },
    /// The server's address refused.
    Refused,
}

/// Sends lines one at a time to a connected peer, each until its echo comes back or the
/// tries run out.
struct EchoClient {
    server: SocketAddr,
    lines: VecDeque<String>,
    timeout: Duration,
    retries: u32,
    clock: Arc<dyn Clock>,
    /// What to do with each echo.
    print: Box<dyn FnMut(&str) + Send>,
    /// Called once, when the run ends.
    done: Option<Box<dyn FnOnce(Ending) + Send>>,
    /// Set by [`EchoClient::begin`]: reaches this protocol from its timers.
    handle: Option<DatagramHandle<EchoClient>>,
    /// The try of the line in flight (1 for the first send), and its timer.
    tries: u32,
    timer: Option<DelayedCall>,
}

impl EchoClient {
    /// Starts the run on `port`'s protocol.
    fn begin(handle: &DatagramHandle<EchoClient>) {
        let own = handle.clone();
        handle.call(move |client, cx| {
            client.handle = Some(own);
            if let Err(error) = cx.connect(client.server) {
                tracing::warn!(%error, "cannot connect");
                client.finish(cx, Ending::Refused);
                return;
            }
            client.send_next(cx);
        });
    }

    fn send_next(&mut self, cx: &mut DatagramContext<'_>) {
        if self.lines.is_empty() {
            self.finish(cx, Ending::AllEchoed);
            return;
        }
        self.tries = 0;
        self.send_current(cx);
    }

    /// Sends the line in flight (again) and arms its timeout.
    fn send_current(&mut self, cx: &mut DatagramContext<'_>) {
        let Some(line) = self.lines.front() else {
            return;
        };
        self.tries += 1;
        if let Err(error) = cx.write_connected(line.as_bytes()) {
            tracing::debug!(%error, "send failed; the timeout will retry");
        }
        let Some(handle) = self.handle.clone() else {
            return;
        };
        let try_number = self.tries;
        self.timer = Some(self.clock.call_later(self.timeout, move || {
            handle.call(move |client, cx| client.timed_out(cx, try_number));
        }));
    }

    fn timed_out(&mut self, cx: &mut DatagramContext<'_>, try_number: u32) {
        if try_number != self.tries || self.lines.is_empty() {
            return; // The answer came; this timer was stale.
        }
        if self.tries > self.retries {
            let line = self.lines.front().cloned().unwrap_or_default();
            let tries = self.tries;
            self.finish(cx, Ending::NoAnswer { line, tries });
        } else {
            self.send_current(cx);
        }
    }

    fn finish(&mut self, cx: &mut DatagramContext<'_>, ending: Ending) {
        if let Some(timer) = self.timer.take() {
            let _ = timer.cancel();
        }
        self.lines.clear();
        if let Some(done) = self.done.take() {
            done(ending);
        }
        cx.stop();
    }
}

impl DatagramProtocol for EchoClient {
    fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, _: SocketAddr) {
        // A late or duplicated echo of an earlier line is not this line's answer.
        if self.lines.front().map(String::as_bytes) != Some(&data[..]) {
            return;
        }
        if let Some(timer) = self.timer.take() {
            let _ = timer.cancel();
        }
        if let Some(line) = self.lines.pop_front() {
            (self.print)(&line);
        }
        self.send_next(cx);
    }

    fn connection_refused(&mut self, cx: &mut DatagramContext<'_>) {
        self.finish(cx, Ending::Refused);
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, operands) = match common::Args::parse_with_operands(
        USAGE,
        &["port", "listen", "connect", "timeout", "retries"],
    ) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    match args.value("connect") {
        None if operands.is_empty() => match listen_address(&args) {
            Ok(address) => serve(address),
            Err(code) => code,
        },
        None => {
            eprintln!("error: lines to send need --connect ADDR\n\n{USAGE}");
            ExitCode::from(2)
        }
        Some(server) => {
            let Ok(server) = server.parse::<SocketAddr>() else {
                eprintln!("error: --connect expects HOST:PORT, got {server:?}");
                return ExitCode::from(2);
            };
            let (timeout, retries) = match (args.seconds("timeout"), args.number("retries", 3u32)) {
                (Ok(timeout), Ok(retries)) => (timeout.unwrap_or(Duration::from_secs(1)), retries),
                (Err(code), _) | (_, Err(code)) => return code,
            };
            let lines = if operands.is_empty() {
                std::io::stdin()
                    .lock()
                    .lines()
                    .map_while(Result::ok)
                    .collect()
            } else {
                operands
            };
            ask(server, lines, timeout, retries)
        }
    }
}

/// Where the server listens: `--listen ENDPOINT`, or 127.0.0.1 port `--port P` (default
/// 9007). A malformed endpoint is one line naming the field, and exit status 2.
fn listen_address(args: &common::Args) -> Result<SocketAddr, ExitCode> {
    match common::listen_flag(args, USAGE, "udp:9007")? {
        None => {
            let port = args.number("port", 9007u16)?;
            Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))
        }
        Some(text) => text
            .into_datagram_address()
            .map_err(|error| common::endpoint_error("--listen", error)),
    }
}

fn serve(address: SocketAddr) -> ExitCode {
    let serve = || -> torsade::Result<()> {
        let reactor = Reactor::new()?;
        let listening = reactor.listen_udp(address, Echo)?;
        println!("listening on {}", listening.local_addr());
        common::stop_on_ctrl_c(&reactor);
        reactor.run()
    };
    common::exit_code(serve().map(|()| ExitCode::SUCCESS))
}

fn ask(server: SocketAddr, lines: Vec<String>, timeout: Duration, retries: u32) -> ExitCode {
    let ending = Arc::new(Mutex::new(None));
    let run = || -> torsade::Result<()> {
        let reactor = Reactor::new()?;
        let stopper = reactor.clone();
        let record = ending.clone();
        let client = EchoClient {
            server,
            lines: lines.into(),
            timeout,
            retries,
            clock: reactor.clock(),
            print: Box::new(|line| println!("{line}")),
            done: Some(Box::new(move |end| {
                *record.lock().unwrap_or_else(|e| e.into_inner()) = Some(end);
                let _ = stopper.stop();
            })),
            handle: None,
            tries: 0,
            timer: None,
        };
        let any: IpAddr = match server {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let port = reactor.listen_udp(SocketAddr::new(any, 0), client)?;
        EchoClient::begin(port.handle());
        reactor.run()
    };
    if let Err(error) = run() {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let ending = ending.lock().unwrap_or_else(|e| e.into_inner()).take();
    match ending {
        Some(Ending::AllEchoed) => ExitCode::SUCCESS,
        Some(Ending::NoAnswer { line, tries }) => {
            eprintln!("error: no echo of {line:?} from {server} after {tries} tries");
            ExitCode::FAILURE
        }
        Some(Ending::Refused) => {
            eprintln!("error: {server} refused");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("error: stopped before every line was echoed");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torsade::testing::{DatagramNetwork, Faults};

    const SERVER: &str = "10.0.0.1:9007";

    /// Runs a client sending `lines` on `network` until it ends; returns what it printed,
    /// how it ended, how many datagrams it sent, and when it ended.
    fn run_client(
        network: &DatagramNetwork,
        lines: &[&str],
        retries: u32,
    ) -> (Vec<String>, Ending, u64, Duration) {
        let printed = Arc::new(Mutex::new(Vec::new()));
        let ending = Arc::new(Mutex::new(None));
        let (out, end, clock) = (printed.clone(), ending.clone(), network.clock().clone());
        let client = EchoClient {
            server: SERVER.parse().unwrap(),
            lines: lines.iter().map(|line| line.to_string()).collect(),
            timeout: Duration::from_secs(1),
            retries,
            clock: Arc::new(network.clock().clone()),
            print: Box::new(move |line| out.lock().unwrap().push(line.to_string())),
            done: Some(Box::new(move |ending| {
                *end.lock().unwrap() = Some((ending, clock.now()));
            })),
            handle: None,
            tries: 0,
            timer: None,
        };
        let port = network.bind("10.0.0.2:0".parse().unwrap(), client).unwrap();
        EchoClient::begin(port.handle());
        for _ in 0..1000 {
            if ending.lock().unwrap().is_some() {
                break;
            }
            network.clock().advance(Duration::from_millis(100));
        }
        let (ending, at) = ending.lock().unwrap().take().expect("the client ended");
        let printed = printed.lock().unwrap().clone();
        (printed, ending, port.stats().sent, at)
    }

    #[test]
    fn every_line_comes_back_in_order_on_a_clean_network() {
        let network = DatagramNetwork::new();
        network.bind(SERVER.parse().unwrap(), Echo).unwrap();
        let (printed, ending, sent, _) = run_client(&network, &["one", "two", "three"], 3);
        assert_eq!(printed, ["one", "two", "three"]);
        assert_eq!(ending, Ending::AllEchoed);
        assert_eq!(sent, 3, "no retries were needed");
    }

    #[test]
    fn retries_get_every_line_through_a_lossy_duplicating_network() {
        let network = DatagramNetwork::with_seed(11);
        network.set_faults(Faults {
            loss: 0.4,
            duplication: 0.3,
            jitter: Duration::from_millis(300),
            ..Faults::default()
        });
        network.bind(SERVER.parse().unwrap(), Echo).unwrap();
        let lines: Vec<String> = (0..20).map(|n| format!("line {n}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (printed, ending, sent, _) = run_client(&network, &lines, 10);
        assert_eq!(printed, lines, "each line once, in order");
        assert_eq!(ending, Ending::AllEchoed);
        assert!(sent > 20, "losses were retried ({sent} sent)");
    }

    #[test]
    fn the_client_gives_up_after_its_retries_on_the_clock() {
        let network = DatagramNetwork::new();
        network.set_faults(Faults {
            loss: 1.0,
            ..Faults::default()
        });
        network.bind(SERVER.parse().unwrap(), Echo).unwrap();
        let (printed, ending, sent, at) = run_client(&network, &["hello"], 2);
        assert_eq!(printed, Vec::<String>::new());
        assert_eq!(
            ending,
            Ending::NoAnswer {
                line: "hello".into(),
                tries: 3
            }
        );
        assert_eq!(sent, 3);
        assert_eq!(at, Duration::from_secs(3), "three tries, a second each");
    }

    #[test]
    fn nobody_at_the_address_is_a_refusal() {
        let network = DatagramNetwork::new();
        let (printed, ending, _, _) = run_client(&network, &["hello"], 3);
        assert!(printed.is_empty());
        assert_eq!(ending, Ending::Refused);
    }
}
