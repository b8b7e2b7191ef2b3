//! The chat server (the `chat` example's protocol, unchanged) and 20 clients, each on its
//! own host of a simulated network ([`Simulation`]): latency, every write cut into
//! segments, and a third of the clients cut off from the server for a while, until the
//! partition heals. One seed decides the whole run, in no real time.
//!
//! ```text
//! cargo run --example sim_chat                  # seed 7
//! cargo run --example sim_chat -- --seed 42     # another run, the same on every machine
//! cargo run --example sim_chat -- --explore 100 # seeds 7 to 106, stopping at a failure
//! cargo run --example sim_chat -- --explore 50 --resets 0.00003  # a fault it cannot survive
//! ```
//!
//! What the check holds the server to is what it guarantees. A line the server reads from
//! a named user goes to every user named at that moment but its sender, through each
//! one's connection, under one lock. So the clients are named first: every client answers
//! the name question, and nobody speaks until all 20 have been welcomed (by then all 20
//! are in the room). Then each client sends its lines on a schedule; the partition
//! starts while they talk and holds what crosses it (TCP retransmits; no connection is
//! lost), so the lines sent before it and during it all arrive once it heals. The check:
//!
//! - every line a client sent reaches each of the 19 others exactly once;
//! - in the order its sender sent them;
//! - and every client sees the lines in one order (the server relays each line to all
//!   under one lock, and each connection keeps its order).
//!
//! A run prints what happened and, last, `seed N digest HEX`: two runs with one seed
//! print the same digest (of every event of the network). When the check fails, each
//! problem is a line on stderr (`client04 never received "<client07> line 2"`) and the
//! exit status is 1. With `--resets CHANCE`, once everyone is welcomed, a segment resets
//! its connection with that chance: the chat server does not resend what a lost
//! connection missed, so some seed fails, and `--explore` finds it.

mod common;
#[path = "chat/protocol.rs"]
mod protocol;

use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use torsade::testing::{explore, Latency, Link, Segmentation, SimHost, Simulation};
use torsade::{factory_fn, Address, Clock, DisconnectReason, Network};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver, LineSender};

use common::Args;
use protocol::ChatFactory;

const USAGE: &str = "usage: sim_chat [--seed N] [--explore K] [--resets CHANCE]
   runs the chat server and 20 clients on a simulated network (latency, segmentation, a
   third of the clients cut off from the server for a while) and checks that every line
   reaches every other client exactly once, in order; the last line printed is
   `seed N digest HEX`, the same on every run with that seed
   --seed N decides the run (default 7)
   --explore K runs seeds N to N+K-1 and reports the first that fails (exit status 1)
   --resets CHANCE: once everyone is welcomed, each segment resets its connection with
   that chance (default 0): the chat server does not resend what a lost connection missed";

/// The seed when `--seed` is not given.
const DEFAULT_SEED: u64 = 7;
/// How many clients, each on its own host.
const CLIENTS: usize = 20;
/// How many lines each client sends.
const LINES: usize = 4;
/// Each client sends a line this often...
const LINE_EVERY: Duration = Duration::from_millis(400);
/// ...client `i` starting `i` times this after the talk starts.
const STAGGER: Duration = Duration::from_millis(17);
/// The partition starts this long after the talk starts (some clients have sent three
/// lines, some two)...
const PARTITION_AT: Duration = Duration::from_millis(1000);
/// ...and heals this long after it started.
const PARTITION_FOR: Duration = Duration::from_secs(2);
/// How long the clients have to be welcomed.
const JOIN_LIMIT: Duration = Duration::from_secs(30);
/// How long the lines have to arrive once the partition heals.
const DELIVERY_LIMIT: Duration = Duration::from_secs(30);
/// How many problems a failed run prints (it says how many more there were).
const PROBLEMS_SHOWN: usize = 10;

fn main() -> ExitCode {
    common::init_logging();
    let (args, _) = match Args::parse_command(USAGE, &["seed", "explore", "resets"], &[], 0) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let options = (
        args.number("seed", DEFAULT_SEED),
        args.number("explore", 0u64),
        args.number("resets", 0.0f64),
    );
    let (seed, seeds, resets) = match options {
        (Ok(seed), Ok(seeds), Ok(resets)) => (seed, seeds, resets),
        (Err(code), _, _) | (_, Err(code), _) | (_, _, Err(code)) => return code,
    };
    if !(0.0..=1.0).contains(&resets) {
        eprintln!("error: --resets expects a chance from 0 to 1, got {resets}\n\n{USAGE}");
        return ExitCode::from(2);
    }
    match args.flag("explore") {
        true if seeds == 0 => {
            eprintln!("error: --explore expects at least 1 seed\n\n{USAGE}");
            ExitCode::from(2)
        }
        true => explore_seeds(seed, seeds, resets),
        false => run_one(seed, resets),
    }
}

/// Runs `seed`, prints what happened (the problems on stderr), and last the seed and the
/// digest.
fn run_one(seed: u64, resets: f64) -> ExitCode {
    let sim = Simulation::new(seed);
    let outcome = run(&sim, resets);
    let code = match &outcome {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(problems) => {
            let found = &problems.found;
            for problem in found.iter().take(PROBLEMS_SHOWN) {
                eprintln!("error: {problem}");
            }
            if found.len() > PROBLEMS_SHOWN {
                eprintln!("error: ... and {} more", found.len() - PROBLEMS_SHOWN);
            }
            for ended in &problems.ended {
                eprintln!("error: {ended}");
            }
            ExitCode::FAILURE
        }
    };
    println!("seed {seed} digest {:016x}", sim.trace_digest());
    code
}

/// Runs `count` seeds from `first`, stopping at the first that fails.
fn explore_seeds(first: u64, count: u64, resets: f64) -> ExitCode {
    let last = first.saturating_add(count - 1);
    let exploration = explore(first..=last, |sim| {
        run(sim, resets)
            .map(drop)
            .map_err(|problems| problems.to_string())
    });
    match exploration.failure() {
        None => {
            println!("explored seeds {first} to {last}: none failed");
            ExitCode::SUCCESS
        }
        Some(failure) => {
            let seed = failure.seed();
            let again = match resets > 0.0 {
                true => format!(" --resets {resets}"),
                false => String::new(),
            };
            println!(
                "explored seeds {first} to {seed}: seed {seed} failed \
                 (alone: sim_chat --seed {seed}{again})"
            );
            eprintln!("error: seed {seed}: {}", failure.message());
            ExitCode::FAILURE
        }
    }
}

/// What a run that passed the check did, printed by `run_one`.
struct Summary {
    welcomed_at: Duration,
    partition: (Duration, Duration),
    cut_off: Vec<String>,
    sent_before: usize,
    sent_during: usize,
    delivered_at: Duration,
    events: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sent = self.sent_before + self.sent_during;
        let others = CLIENTS - 1;
        writeln!(
            f,
            "{CLIENTS} clients named and welcomed at {:.3} s",
            self.welcomed_at.as_secs_f64()
        )?;
        writeln!(
            f,
            "partition from {:.3} s to {:.3} s: {} cut off from the server",
            self.partition.0.as_secs_f64(),
            self.partition.1.as_secs_f64(),
            self.cut_off.join(", ")
        )?;
        writeln!(
            f,
            "{sent} lines sent ({} before the partition, {} during it): each reached the \
             {others} other clients exactly once, in the order sent, all in one order \
             ({} deliveries)",
            self.sent_before,
            self.sent_during,
            sent * others
        )?;
        writeln!(
            f,
            "every line delivered at {:.3} s; {} network events",
            self.delivered_at.as_secs_f64(),
            self.events
        )
    }
}

/// Runs the chat on `sim` and checks what every client received; the problems found if
/// the check fails.
fn run(sim: &Simulation, resets: f64) -> Result<Summary, Problems> {
    let link = Link::new()
        .latency(Latency::Uniform {
            min: Duration::from_millis(5),
            max: Duration::from_millis(80),
        })
        .segmentation(Segmentation::new(8).spread(Duration::from_millis(3)));
    sim.set_link(link.clone());
    let server = sim.add_host("server");
    server
        .listen("tcp:8123", ChatFactory::default())
        .map_err(|error| Problems::one(format!("the server cannot listen: {error}")))?;
    let clients: Vec<Client> = (0..CLIENTS).map(|i| Client::start(sim, i)).collect();

    // Nobody speaks before everyone is in the room.
    let everyone_welcomed = || clients.iter().all(|client| client.seen().welcomed);
    if !sim.run_until(JOIN_LIMIT, everyone_welcomed) {
        let welcomed = clients.iter().filter(|c| c.seen().welcomed).count();
        return Err(Problems::one(format!(
            "only {welcomed} of {CLIENTS} clients were welcomed within {JOIN_LIMIT:?}"
        )));
    }
    let talk = sim.clock().now();
    sim.set_link(link.resets(resets));
    for (i, client) in clients.iter().enumerate() {
        for line in 0..LINES {
            let at = STAGGER * i as u32 + LINE_EVERY * line as u32;
            client.say_at(at, format!("line {line}"));
        }
    }

    let cut_off: Vec<&Client> = clients.iter().step_by(3).collect();
    sim.run_for(PARTITION_AT);
    let hosts: Vec<&SimHost> = cut_off.iter().map(|client| &client.host).collect();
    let partition = sim.partition(&hosts, &[&server]);
    let sent_before = sent_lines(&clients);
    sim.run_for(PARTITION_FOR);
    sim.heal(partition);
    // Until every line has reached the 19 others (or cannot any more); then until nothing
    // moves, so that a line delivered twice shows.
    let expected = sent_lines(&clients) * (CLIENTS - 1);
    sim.run_until(DELIVERY_LIMIT, || received_lines(&clients) >= expected);
    let delivered_at = sim.clock().now();
    if !sim.run_until_idle() {
        return Err(Problems::one("the network never went quiet".to_string()));
    }

    let problems = check(&clients);
    if !problems.found.is_empty() {
        return Err(problems);
    }
    let sent = sent_lines(&clients);
    Ok(Summary {
        welcomed_at: talk,
        partition: (talk + PARTITION_AT, talk + PARTITION_AT + PARTITION_FOR),
        cut_off: cut_off.iter().map(|client| client.name.clone()).collect(),
        sent_before,
        sent_during: sent - sent_before,
        delivered_at,
        events: sim.events(),
    })
}

/// How many lines the clients have sent so far.
fn sent_lines(clients: &[Client]) -> usize {
    clients.iter().map(|client| client.seen().sent.len()).sum()
}

/// How many chat lines the clients have received so far.
fn received_lines(clients: &[Client]) -> usize {
    clients
        .iter()
        .map(|client| client.seen().received.len())
        .sum()
}

/// One client: its host, its name, and what its connection saw.
struct Client {
    host: SimHost,
    name: String,
    seen: Arc<Mutex<Seen>>,
}

impl Client {
    /// Client `index` on its own host, connecting to the server.
    fn start(sim: &Simulation, index: usize) -> Client {
        let name = format!("client{index:02}");
        let host = sim.add_host(&name);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (me, record) = (name.clone(), seen.clone());
        let factory = factory_fn(move |_: &Address| {
            LineOnlyReceiver::new(ChatClient {
                name: me.clone(),
                seen: record.clone(),
            })
        });
        // A failed attempt leaves the client unwelcomed, which the run reports.
        drop(host.connect("tcp:host=server:port=8123", factory));
        Client { host, name, seen }
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.seen)
    }

    /// Sends `text` `delay` from now, on the client's own clock; recorded as sent.
    fn say_at(&self, delay: Duration, text: String) {
        let seen = self.seen.clone();
        let _ = self.host.call_later(delay, move || {
            let mut seen = lock(&seen);
            if let Some(sender) = &seen.sender {
                sender.send_line(text.as_bytes());
            }
            seen.sent.push(text);
        });
    }
}

/// What one client's connection saw, shared with the run that checks it.
#[derive(Default)]
struct Seen {
    /// The server said `Welcome, NAME!`: the client is in the room.
    welcomed: bool,
    /// Writes to the client's connection, once welcomed.
    sender: Option<LineSender>,
    /// The lines it sent (each meant for every other client), in order.
    sent: Vec<String>,
    /// The chat lines (`<name> text`) it received, in order.
    received: Vec<String>,
    /// Why its connection ended, if it did.
    lost: Option<DisconnectReason>,
}

fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    // Each change under the lock is one push or one assignment: a panic while it was held
    // left it whole.
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A chat client: answers the name question, then records every line relayed to it.
struct ChatClient {
    name: String,
    seen: Arc<Mutex<Seen>>,
}

impl LineHandler for ChatClient {
    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        let text = String::from_utf8_lossy(&line);
        let mut seen = lock(&self.seen);
        if text == "What's your name?" {
            lines.send_line(self.name.as_bytes());
        } else if text.starts_with("Welcome, ") {
            seen.welcomed = true;
            seen.sender = Some(lines.line_sender());
        } else if text.starts_with('<') {
            seen.received.push(text.into_owned());
        }
        // `* NAME has joined` and `* NAME has left` are announcements: not checked.
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let mut seen = lock(&self.seen);
        seen.sender = None;
        seen.lost = Some(reason);
    }
}

/// Every way the clients' records break the chat server's guarantees, one line each.
fn check(clients: &[Client]) -> Problems {
    let seen: Vec<(&str, MutexGuard<'_, Seen>)> = clients
        .iter()
        .map(|client| (client.name.as_str(), client.seen()))
        .collect();
    let mut problems = Vec::new();
    for (receiver, record) in &seen {
        for (sender, sent) in &seen {
            if sender == receiver {
                continue;
            }
            let expected: Vec<String> = sent
                .sent
                .iter()
                .map(|text| format!("<{sender}> {text}"))
                .collect();
            let got: Vec<&String> = record
                .received
                .iter()
                .filter(|line| from(line) == Some(sender))
                .collect();
            problems.extend(compare(receiver, sender, &expected, &got));
        }
        for line in &record.received {
            let known = from(line)
                .is_some_and(|name| name != *receiver && seen.iter().any(|(n, _)| *n == name));
            if !known {
                problems.push(format!(
                    "{receiver} received {line:?}, which no other client sent"
                ));
            }
        }
    }
    if problems.is_empty() {
        // With a line missing, the orders differ too: said once, above.
        problems.extend(one_order(&seen));
    }
    let ended = seen
        .iter()
        .filter_map(|(name, record)| {
            let reason = record.lost.as_ref()?;
            Some(format!("{name}'s connection ended: {reason}"))
        })
        .collect();
    Problems {
        found: problems,
        ended,
    }
}

/// What a failed run found.
#[derive(Debug)]
struct Problems {
    /// A line missing, duplicated, out of order, or unknown, each on one line.
    found: Vec<String>,
    /// The connections that ended, which explains lines missing.
    ended: Vec<String>,
}

impl Problems {
    fn one(problem: String) -> Problems {
        Problems {
            found: vec![problem],
            ended: Vec::new(),
        }
    }
}

/// The first problem, how many more there are, and the connections that ended: one line,
/// for `--explore`.
impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.found.first().map_or("no problem", String::as_str))?;
        if self.found.len() > 1 {
            write!(f, " (and {} more)", self.found.len() - 1)?;
        }
        match self.ended.as_slice() {
            [] => Ok(()),
            [ended] => write!(f, "; {ended}"),
            [first, ..] => write!(f, "; {} connections ended, first {first}", self.ended.len()),
        }
    }
}

/// Who sent a relayed line: `NAME` of `<NAME> text`.
fn from(line: &str) -> Option<&str> {
    line.strip_prefix('<')?
        .split_once("> ")
        .map(|(name, _)| name)
}

/// What is wrong with the lines `receiver` got from `sender`, given what `sender` sent.
fn compare(receiver: &str, sender: &str, expected: &[String], got: &[&String]) -> Vec<String> {
    let mut problems = Vec::new();
    for line in expected {
        match got.iter().filter(|got| **got == line).count() {
            1 => {}
            0 => problems.push(format!("{receiver} never received {line:?}")),
            n => problems.push(format!("{receiver} received {line:?} {n} times")),
        }
    }
    let in_order = got
        .iter()
        .map(|line| line.as_str())
        .eq(expected.iter().map(String::as_str));
    if problems.is_empty() && !in_order {
        problems.push(format!(
            "{receiver} received {sender}'s lines out of order: {got:?}"
        ));
    }
    problems
}

/// Whether every pair of clients saw the lines neither of them sent in the same order.
fn one_order(seen: &[(&str, MutexGuard<'_, Seen>)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (a, (first, first_seen)) in seen.iter().enumerate() {
        for (second, second_seen) in &seen[a + 1..] {
            let theirs = |record: &Seen| -> Vec<String> {
                record
                    .received
                    .iter()
                    .filter(|line| !matches!(from(line), Some(n) if n == *first || n == *second))
                    .cloned()
                    .collect()
            };
            let (mine, yours) = (theirs(first_seen), theirs(second_seen));
            if mine != yours {
                let at = mine
                    .iter()
                    .zip(&yours)
                    .position(|(x, y)| x != y)
                    .unwrap_or(mine.len().min(yours.len()));
                problems.push(format!(
                    "{first} and {second} saw the others' lines in different orders, from \
                     line {at} on"
                ));
            }
        }
    }
    problems
}

/// The check's verdicts on made-up records (the runs only ever show it missing lines).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_missing_twice_or_out_of_order_is_one_problem() {
        let sent = ["<b> line 0".to_string(), "<b> line 1".to_string()];
        let (zero, one) = (&sent[0], &sent[1]);
        assert!(compare("a", "b", &sent, &[zero, one]).is_empty());
        assert_eq!(
            compare("a", "b", &sent, &[one]),
            [r#"a never received "<b> line 0""#]
        );
        assert_eq!(
            compare("a", "b", &sent, &[zero, one, zero]),
            [r#"a received "<b> line 0" 2 times"#]
        );
        assert_eq!(
            compare("a", "b", &sent, &[one, zero]),
            [r#"a received b's lines out of order: ["<b> line 1", "<b> line 0"]"#]
        );
    }

    #[test]
    fn the_sender_of_a_relayed_line_is_its_bracketed_name() {
        assert_eq!(from("<client07> line 2"), Some("client07"));
        assert_eq!(from("* client07 has joined"), None);
        assert_eq!(from("<client07>"), None);
    }
}
