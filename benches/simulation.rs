//! The network simulation's speed: 1 000 connections, each exchanging 1 000 messages
//! with an echo server (500 requests, each answered by its echo, one at a time) through a
//! link with a latency drawn per segment, run on simulated time; then the same with
//! 2 000 messages each (1 000 round trips). It prints the simulated events per second and
//! the CPU time of each run (the target for the first is under a second on the
//! development machine; see docs/BENCHMARKS.md).
//!
//! `cargo bench --bench simulation` (`-- --connections N --messages M` for one size: M
//! messages per connection, both ways counted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use torsade::prelude::*;
use torsade::testing::{Latency, Link, Simulation};
use torsade::{factory_fn, Address, Network};

/// Each message: 32 bytes.
const MESSAGE: &[u8; 32] = b"0123456789abcdef0123456789abcde\n";
/// Client connections come from this many hosts.
const CLIENT_HOSTS: usize = 10;

/// Echoes everything.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }
}

/// Sends a message, waits for its echo, `left` times, then closes.
struct PingPong {
    left: u32,
    pending: usize,
    done: Arc<AtomicU64>,
}

impl Protocol for PingPong {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(MESSAGE);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.pending += data.len();
        while self.pending >= MESSAGE.len() {
            self.pending -= MESSAGE.len();
            self.left -= 1;
            self.done.fetch_add(1, Ordering::Relaxed);
            if self.left == 0 {
                cx.lose_connection();
                return;
            }
            cx.write(MESSAGE);
        }
    }
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux), if readable.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command's closing parenthesis; utime and stime are the 12th
    // and 13th of them, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
/// `messages` per connection, requests and echoes counted: half as many round trips.
fn run(connections: usize, messages: u32) -> (u64, Duration, Option<Duration>, u64) {
    let round_trips = messages / 2;
    let sim = Simulation::new(1);
    sim.keep_trace(0);
    sim.set_link(Link::new().latency(Latency::Uniform {
        min: Duration::from_micros(500),
        max: Duration::from_millis(2),
    }));
    let server = sim.add_host("server");
    server
        .listen("tcp:7", factory_fn(|_: &Address| Echo))
        .expect("the server listens");
    let hosts: Vec<_> = (0..CLIENT_HOSTS)
        .map(|i| sim.add_host(&format!("client{i}")))
        .collect();
    let done = Arc::new(AtomicU64::new(0));
    let (cpu_before, started) = (cpu_time(), Instant::now());
    for i in 0..connections {
        let done = done.clone();
        let factory = factory_fn(move |_: &Address| PingPong {
            left: round_trips,
            pending: 0,
            done: done.clone(),
        });
        drop(hosts[i % CLIENT_HOSTS].connect("tcp:host=server:port=7", factory));
    }
    assert!(sim.run_until_idle(), "the run never went quiet");
    let elapsed = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let echoes = done.load(Ordering::Relaxed);
    assert_eq!(echoes, connections as u64 * u64::from(round_trips));
    (sim.events(), elapsed, cpu, echoes * 2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut connections = 1000;
    let mut sizes = vec![1000, 2000];
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connections" => {
                connections = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(connections)
            }
            "--messages" => {
                if let Some(messages) = args.next().and_then(|n| n.parse().ok()) {
                    sizes = vec![messages];
                }
            }
            // Cargo passes `--bench`.
            _ => {}
        }
    }
    for messages in sizes {
        for round in 1..=3 {
            let (events, elapsed, cpu, exchanged) = run(connections, messages);
            let cpu_text = cpu.map_or("unknown".to_string(), |cpu| {
                format!("{:.3} s", cpu.as_secs_f64())
            });
            println!(
                "{connections} connections x {messages} messages, round {round}: {exchanged} \
                 messages, {events} events in {:.3} s ({:.2} M events/s), CPU {cpu_text}",
                elapsed.as_secs_f64(),
                events as f64 / elapsed.as_secs_f64() / 1e6,
            );
        }
    }
}
