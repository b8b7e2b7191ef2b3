//! The network simulation (`testing::Simulation`): determinism, each fault, crashes, and
//! `explore` finding a seeded race. No sockets: everything runs on the fake clock.

#[path = "common/datagram.rs"]
mod datagram;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use datagram::{Events, Recording};
use torsade::prelude::*;
use torsade::testing::{
    explore, Faults, Latency, Link, Segmentation, SimHost, Simulation, TraceKind,
};
use torsade::{factory_fn, Address, Backoff, DisconnectReason, Error, Network, ReconnectingClient};
use torsade_protocols::{GreetingGetter, GreetingServer, RemoteGreetingGetter};

const MS: Duration = Duration::from_millis(1);

/// What a probe saw: the bytes, in the chunks they came in, and how it ended.
#[derive(Default, Debug)]
struct Seen {
    bytes: Vec<u8>,
    chunks: Vec<usize>,
    made_at: Option<Duration>,
    lost: Option<DisconnectReason>,
    paused: u32,
}

type Log = Arc<Mutex<Seen>>;

/// Writes `writes` when connected (closing after them if `close`), and records what it
/// receives. With `push`, it writes `push` bytes each time it is resumed, until paused.
struct Probe {
    log: Log,
    writes: Vec<Vec<u8>>,
    close: bool,
    echo: bool,
}

impl Probe {
    fn factory(
        log: &Log,
        writes: Vec<Vec<u8>>,
        close: bool,
    ) -> impl ClientFactory<Protocol = Probe> {
        let log = log.clone();
        factory_fn(move |_: &Address| Probe {
            log: log.clone(),
            writes: writes.clone(),
            close,
            echo: false,
        })
    }

    fn echo(log: &Log) -> impl ClientFactory<Protocol = Probe> {
        let log = log.clone();
        factory_fn(move |_: &Address| Probe {
            log: log.clone(),
            writes: Vec::new(),
            close: false,
            echo: true,
        })
    }
}

impl Protocol for Probe {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.log.lock().unwrap().made_at = Some(cx.clock().now());
        for write in &self.writes {
            cx.write(write);
        }
        if self.close {
            cx.lose_connection();
        }
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let mut log = self.log.lock().unwrap();
        log.bytes.extend_from_slice(&data);
        log.chunks.push(data.len());
        if self.echo {
            cx.write(&data);
        }
    }

    fn pause_producing(&mut self, _: &mut Context<'_, Self>) {
        self.log.lock().unwrap().paused += 1;
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.log.lock().unwrap().lost = Some(reason);
    }
}

fn log() -> Log {
    Log::default()
}

fn is_reset(reason: &Option<DisconnectReason>) -> bool {
    reason
        .as_ref()
        .and_then(|reason| reason.io_error())
        .is_some_and(|error| error.kind() == std::io::ErrorKind::ConnectionReset)
}

/// A server host listening on port 80 with a probe that echoes, and a client host.
fn pair(sim: &Simulation) -> (SimHost, SimHost, Log) {
    let server_log = log();
    let server = sim.add_host("server");
    server.listen("tcp:80", Probe::echo(&server_log)).unwrap();
    (server, sim.add_host("client"), server_log)
}

const TO_SERVER: &str = "tcp:host=server:port=80";

/// A busy little network: greetings over a jittery, segmenting, lossy-ish link.
fn busy_run(seed: u64) -> (u64, Vec<torsade::testing::TraceEvent>, Vec<String>) {
    let sim = Simulation::new(seed);
    sim.keep_trace(usize::MAX);
    sim.set_link(
        Link::new()
            .latency(Latency::Exponential {
                base: MS,
                mean_extra: 10 * MS,
            })
            .segmentation(Segmentation::new(4).spread(2 * MS)),
    );
    let server = sim.add_host("server");
    server
        .listen("tcp:8000", GreetingServer::factory())
        .unwrap();
    let mut greetings = Vec::new();
    for i in 0..10 {
        let client = sim.add_host(&format!("client{i}"));
        greetings.push(
            client
                .connect("tcp:host=server:port=8000", GreetingGetter::factory())
                .and_then(move |getter| getter.get_greeting(&format!("n{i}"))),
        );
    }
    assert!(sim.run_until_idle());
    let answers = greetings
        .iter_mut()
        .map(|greeting| greeting.take_result().unwrap().unwrap())
        .collect();
    (sim.trace_digest(), sim.trace(), answers)
}

#[test]
fn one_seed_gives_the_same_run_event_for_event() {
    let (digest, trace, answers) = busy_run(11);
    let (again, trace_again, answers_again) = busy_run(11);
    assert_eq!(digest, again);
    assert_eq!(trace, trace_again);
    assert_eq!(answers, answers_again);
    assert_eq!(answers[3], "Hello, n3!");
    // Another seed goes another way.
    let (other, trace_other, _) = busy_run(12);
    assert_ne!(digest, other);
    assert_ne!(trace, trace_other);
}

#[test]
fn latency_delays_every_crossing() {
    let sim = Simulation::new(0);
    sim.set_link(Link::new().latency(Latency::Fixed(50 * MS)));
    sim.add_host("server")
        .listen("tcp:8000", GreetingServer::factory())
        .unwrap();
    let mut greeting = sim
        .add_host("client")
        .connect("tcp:host=server:port=8000", GreetingGetter::factory())
        .and_then(|getter| getter.get_greeting("World"));
    // SYN, SYN-ACK, the name, the greeting: four crossings.
    sim.run_for(199 * MS);
    assert!(greeting.take_result().is_none());
    sim.run_for(MS);
    assert_eq!(greeting.take_result().unwrap().unwrap(), "Hello, World!");
    // Nothing is left to wait for: not even the settled attempt's timeout.
    assert!(sim.run_until_idle());
    assert_eq!(sim.clock().now(), 200 * MS);
}

#[test]
fn bandwidth_spaces_out_what_one_host_sends() {
    let sim = Simulation::new(0);
    sim.set_link(Link::new().latency(Latency::Fixed(10 * MS)).bandwidth(1000));
    let (_server, client, server_log) = pair(&sim);
    drop(client.connect(TO_SERVER, Probe::factory(&log(), vec![vec![7; 500]], false)));
    // Connected at 20 ms; 500 bytes at 1000 B/s take 500 ms to send, then 10 ms to cross.
    sim.run_for(529 * MS);
    assert!(server_log.lock().unwrap().bytes.is_empty());
    sim.run_for(MS);
    assert_eq!(server_log.lock().unwrap().bytes.len(), 500);
}

/// Listens on `host`'s port 80 with a probe per connection; the probes' logs, in the
/// order accepted.
fn recorders(host: &SimHost) -> Arc<Mutex<Vec<Log>>> {
    let logs: Arc<Mutex<Vec<Log>>> = Arc::default();
    let made = logs.clone();
    host.listen(
        "tcp:80",
        factory_fn(move |_: &Address| {
            let log = log();
            made.lock().unwrap().push(log.clone());
            Probe {
                log,
                writes: Vec::new(),
                close: false,
                echo: false,
            }
        }),
    )
    .unwrap();
    logs
}

#[test]
fn segmentation_cuts_writes_at_seeded_points_and_joins_neighbours() {
    let sim = Simulation::new(3);
    sim.set_link(
        Link::new()
            .latency(Latency::Fixed(MS))
            .segmentation(Segmentation::new(7).spread(3 * MS)),
    );
    let logs = recorders(&sim.add_host("server"));
    let client = sim.add_host("client");
    let big: Vec<u8> = (0..=255).cycle().take(1000).collect();
    drop(client.connect(TO_SERVER, Probe::factory(&log(), vec![big.clone()], false)));
    assert!(sim.run_until_idle());
    let small: Vec<Vec<u8>> = (0..50u8).map(|byte| vec![byte]).collect();
    drop(client.connect(TO_SERVER, Probe::factory(&log(), small, false)));
    assert!(sim.run_until_idle());

    let logs = logs.lock().unwrap();
    let (one_write, many_writes) = (logs[0].lock().unwrap(), logs[1].lock().unwrap());
    // One write of 1000 bytes: cut into pieces, whole and in order.
    assert_eq!(one_write.bytes, big);
    assert!(
        one_write.chunks.len() >= 1000 / 7 / 4,
        "{:?}",
        one_write.chunks
    );
    // Fifty one-byte writes: whole and in order, some read together.
    assert_eq!(many_writes.bytes, (0..50).collect::<Vec<u8>>());
    assert!(many_writes.chunks.len() < 50, "{:?}", many_writes.chunks);
    assert!(many_writes.chunks.len() > 1, "{:?}", many_writes.chunks);
}

#[test]
fn one_connections_bytes_stay_in_order_while_connections_overtake_each_other() {
    let exploration = explore(0..50, |sim| {
        sim.set_link(
            Link::new()
                .latency(Latency::Uniform {
                    min: MS,
                    max: 30 * MS,
                })
                .segmentation(Segmentation::new(3).spread(5 * MS)),
        );
        let logs = recorders(&sim.add_host("server"));
        let client = sim.add_host("client");
        let message: Vec<u8> = (0..100).collect();
        for _ in 0..3 {
            drop(client.connect(
                TO_SERVER,
                Probe::factory(&log(), vec![message.clone()], false),
            ));
        }
        sim.run_until_idle();
        for log in logs.lock().unwrap().iter() {
            if log.lock().unwrap().bytes != message {
                return Err("a connection's bytes were reordered".into());
            }
        }
        Ok(())
    });
    exploration.assert_passed();
    assert_eq!(exploration.runs(), 50);
}

#[test]
fn a_reset_ends_both_ends_with_connection_reset() {
    let sim = Simulation::new(0);
    sim.set_link(Link::new().resets(1.0));
    let (_server, client, server_log) = pair(&sim);
    let client_log = log();
    drop(client.connect(
        TO_SERVER,
        Probe::factory(&client_log, vec![b"hello".to_vec()], false),
    ));
    assert!(sim.run_until_idle());
    assert!(is_reset(&client_log.lock().unwrap().lost));
    assert!(is_reset(&server_log.lock().unwrap().lost));
    assert!(server_log.lock().unwrap().bytes.is_empty());
    assert!(sim
        .trace()
        .iter()
        .any(|event| matches!(event.kind, TraceKind::Reset { .. })));
    assert_eq!(sim.open_connections(), 0);
}

fn refusal(outcome: Option<Result<ProtocolHandle<Probe>, torsade::Failure>>) -> bool {
    let error = outcome.unwrap().unwrap_err();
    matches!(
        error.downcast_ref::<Error>(),
        Some(Error::ConnectFailed { source, .. }) if source.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[test]
fn a_port_nobody_listens_on_refuses_after_a_round_trip() {
    let sim = Simulation::new(0);
    sim.set_link(Link::new().latency(Latency::Fixed(5 * MS)));
    let (_server, client, _) = pair(&sim);
    let mut attempt = client.connect(
        "tcp:host=server:port=81",
        Probe::factory(&log(), vec![], false),
    );
    sim.run_for(9 * MS);
    assert!(attempt.take_result().is_none());
    sim.run_for(MS);
    assert!(refusal(attempt.take_result()));
}

#[test]
fn a_link_can_refuse_where_a_port_listens() {
    let sim = Simulation::new(0);
    sim.set_link(Link::new().refusals(1.0));
    let (_server, client, server_log) = pair(&sim);
    let mut attempt = client.connect(TO_SERVER, Probe::factory(&log(), vec![], false));
    assert!(sim.run_until_idle());
    assert!(refusal(attempt.take_result()));
    assert!(server_log.lock().unwrap().made_at.is_none());
}

#[test]
fn an_unknown_host_fails_the_attempt() {
    let sim = Simulation::new(0);
    let client = sim.add_host("client");
    let mut attempt = client.connect(
        "tcp:host=nowhere:port=1",
        Probe::factory(&log(), vec![], false),
    );
    assert!(sim.run_until_idle());
    let error = attempt.take_result().unwrap().unwrap_err();
    assert!(matches!(
        error.downcast_ref::<Error>(),
        Some(Error::ConnectFailed { .. })
    ));
    // And a malformed endpoint, or one the simulation does not carry, fails at once.
    let mut attempt = client.connect("unix:/tmp/x", Probe::factory(&log(), vec![], false));
    let error = attempt.take_result().unwrap().unwrap_err();
    assert!(matches!(
        error.downcast_ref::<Error>(),
        Some(Error::InvalidEndpoint { .. })
    ));
}

#[test]
fn a_partition_holds_segments_and_delivers_them_in_order_after_it_heals() {
    let sim = Simulation::new(0);
    sim.set_link(Link::new().latency(Latency::Fixed(10 * MS)));
    let (server, client, server_log) = pair(&sim);
    let client_log = log();
    let mut handle = client.connect(TO_SERVER, Probe::factory(&client_log, vec![], false));
    sim.run_for(Duration::from_secs(1));
    let handle = handle.take_result().unwrap().unwrap();
    let partition = sim.partition(&[&client], &[&server]);
    drop(handle.call(|_, cx| cx.write(b"during ")));
    drop(handle.call(|_, cx| cx.write(b"the partition")));
    sim.run_for(Duration::from_secs(60));
    assert!(server_log.lock().unwrap().bytes.is_empty());
    assert!(sim
        .trace()
        .iter()
        .any(|event| matches!(event.kind, TraceKind::Hold { .. })));
    sim.heal(partition);
    sim.run_for(9 * MS);
    assert!(server_log.lock().unwrap().bytes.is_empty());
    sim.run_for(MS);
    assert_eq!(server_log.lock().unwrap().bytes, b"during the partition");
    // The echo comes back.
    assert!(sim.run_until_idle());
    assert_eq!(client_log.lock().unwrap().bytes, b"during the partition");
}

#[test]
fn an_attempt_across_a_partition_times_out_unless_it_heals_in_time() {
    let sim = Simulation::new(0);
    let (server, client, _) = pair(&sim);
    let partition = sim.partition(&[&client], &[&server]);
    let mut lost = client.connect(
        "tcp:host=server:port=80:timeout=5",
        Probe::factory(&log(), vec![], false),
    );
    let mut saved = client.connect(
        "tcp:host=server:port=80:timeout=30",
        Probe::factory(&log(), vec![], false),
    );
    sim.run_for(Duration::from_secs(5));
    let error = lost.take_result().unwrap().unwrap_err();
    assert!(matches!(
        error.downcast_ref::<Error>(),
        Some(Error::ConnectTimeout { timeout, .. }) if *timeout == Duration::from_secs(5)
    ));
    sim.heal(partition);
    // The retried SYN gets through.
    sim.run_for(Duration::from_secs(2));
    assert!(saved.take_result().unwrap().is_ok());
}

#[test]
fn a_crashed_host_loses_its_connections_and_timers_and_comes_back_with_on_boot() {
    let sim = Simulation::new(0);
    let server = sim.add_host("server");
    let boots = Arc::new(Mutex::new(0));
    let (count, server_log) = (boots.clone(), log());
    let server_probe = server_log.clone();
    server.on_boot(move |host| {
        *count.lock().unwrap() += 1;
        host.listen("tcp:80", Probe::echo(&server_probe)).unwrap();
    });
    let fired = Arc::new(Mutex::new(false));
    let flag = fired.clone();
    server.call_later(Duration::from_secs(10), move || {
        *flag.lock().unwrap() = true
    });

    let client = sim.add_host("client");
    let client_log = log();
    drop(client.connect(
        TO_SERVER,
        Probe::factory(&client_log, vec![b"x".to_vec()], false),
    ));
    assert!(sim.run_until(Duration::from_secs(1), || !client_log
        .lock()
        .unwrap()
        .bytes
        .is_empty()));

    sim.crash(&server);
    assert!(!server.is_up());
    sim.run_for(Duration::from_secs(20));
    assert!(is_reset(&client_log.lock().unwrap().lost));
    // The server's protocol was dropped without a callback, and its timer never ran.
    assert!(server_log.lock().unwrap().lost.is_none());
    assert!(!*fired.lock().unwrap());
    // Down, it answers nothing: an attempt times out.
    let mut attempt = client.connect(
        "tcp:host=server:port=80:timeout=3",
        Probe::factory(&log(), vec![], false),
    );
    sim.run_for(Duration::from_secs(3));
    assert!(matches!(
        attempt
            .take_result()
            .unwrap()
            .unwrap_err()
            .downcast_ref::<Error>(),
        Some(Error::ConnectTimeout { .. })
    ));

    sim.restart(&server);
    assert_eq!(*boots.lock().unwrap(), 2);
    let again = log();
    drop(client.connect(
        TO_SERVER,
        Probe::factory(&again, vec![b"back".to_vec()], false),
    ));
    assert!(sim.run_until_idle());
    assert_eq!(again.lock().unwrap().bytes, b"back");
}

#[test]
fn a_reconnecting_client_runs_unchanged_and_reconnects_after_a_restart() {
    let sim = Simulation::new(5);
    let server = sim.add_host("server");
    let server_log = log();
    let probe = server_log.clone();
    server.on_boot(move |host| {
        host.listen("tcp:80", Probe::echo(&probe)).unwrap();
    });
    let client = sim.add_host("client");
    let client_log = log();
    let reconnecting = ReconnectingClient::connect_with(
        client.clone(),
        TO_SERVER,
        Probe::factory(&client_log, vec![b"hi".to_vec()], false),
        Backoff::new().jitter_seed(sim.seed()),
    )
    .unwrap();
    sim.run_for(Duration::from_secs(1));
    assert!(reconnecting.connection().is_some());
    sim.crash(&server);
    sim.run_for(Duration::from_secs(5));
    assert!(reconnecting.connection().is_none());
    sim.restart(&server);
    assert!(sim.run_until(Duration::from_secs(120), || reconnecting
        .connection()
        .is_some()));
    sim.run_for(Duration::from_secs(1));
    // "hi" from the first connection, and again from the one after the restart.
    assert_eq!(client_log.lock().unwrap().bytes, b"hihi");
    reconnecting.stop_trying();
}

#[test]
fn bytes_for_a_closed_connection_are_answered_with_a_reset() {
    /// Keeps its side open after the peer's EOF, and writes then.
    struct TalksAfterEof(Log);
    impl Protocol for TalksAfterEof {
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
        fn eof_received(&mut self, cx: &mut Context<'_, Self>) -> bool {
            cx.write(b"anyone?");
            true
        }
        fn connection_lost(&mut self, reason: DisconnectReason) {
            self.0.lock().unwrap().lost = Some(reason);
        }
    }
    let sim = Simulation::new(0);
    // The server closes at once, and is gone.
    sim.add_host("server")
        .listen("tcp:80", Probe::factory(&log(), vec![], true))
        .unwrap();
    let client_log = log();
    let probe = client_log.clone();
    drop(sim.add_host("client").connect(
        TO_SERVER,
        factory_fn(move |_: &Address| TalksAfterEof(probe.clone())),
    ));
    assert!(sim.run_until_idle());
    assert!(is_reset(&client_log.lock().unwrap().lost));
}

#[test]
fn a_reader_that_stops_reading_pauses_its_writer_within_the_window() {
    /// Stops reading at once.
    struct Deaf;
    impl Protocol for Deaf {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.pause_reading();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let sim = Simulation::new(0);
    sim.add_host("server")
        .listen("tcp:80", factory_fn(|_: &Address| Deaf))
        .unwrap();
    let client_log = log();
    let chunks = vec![vec![0u8; 64 * 1024]; 64];
    drop(
        sim.add_host("client")
            .connect(TO_SERVER, Probe::factory(&client_log, chunks, false)),
    );
    assert!(sim.run_until_idle());
    // 4 MiB written; the network took no more than its window plus the send buffer.
    assert!(client_log.lock().unwrap().paused >= 1);
}

#[test]
fn a_panicking_callback_is_reported_and_fails_an_exploration() {
    struct Boom;
    impl Protocol for Boom {
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {
            panic!("boom");
        }
    }
    let exploration = explore(0..3, |sim| {
        sim.add_host("server")
            .listen("tcp:80", factory_fn(|_: &Address| Boom))
            .unwrap();
        drop(sim.add_host("client").connect(
            TO_SERVER,
            Probe::factory(&log(), vec![b"x".to_vec()], false),
        ));
        sim.run_until_idle();
        Ok(())
    });
    let failure = exploration.failure().expect("the panic fails the run");
    assert_eq!(failure.seed(), 0);
    assert!(failure.message().contains("boom"), "{}", failure.message());
    assert!(failure.report().starts_with("seed 0:"));
    assert!(failure.report().contains("callback panicked"));
}

/// `GET` answers the value; `SET n` stores it.
struct Counter(Arc<Mutex<u64>>);

impl Protocol for Counter {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let text = String::from_utf8_lossy(&data).into_owned();
        for request in text.split_terminator('\n') {
            if request == "GET" {
                let value = *self.0.lock().unwrap();
                cx.write(format!("{value}\n").as_bytes());
            } else if let Some(value) = request.strip_prefix("SET ") {
                *self.0.lock().unwrap() = value.parse().unwrap_or(0);
            }
        }
    }
}

/// Increments the counter by reading it, then writing it back plus one: a lost update
/// when two of them interleave.
struct Increment;

impl Protocol for Increment {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(b"GET\n");
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let value: u64 = String::from_utf8_lossy(&data).trim().parse().unwrap_or(0);
        cx.write(format!("SET {}\n", value + 1).as_bytes());
        cx.lose_connection();
    }
}

/// Two increments from two hosts, the second a little later: whether they interleave
/// is up to the link's jitter.
fn two_increments(sim: &Simulation) -> Result<(), String> {
    sim.set_link(Link::new().latency(Latency::Uniform {
        min: MS,
        max: 20 * MS,
    }));
    let value = Arc::new(Mutex::new(0));
    let shared = value.clone();
    sim.add_host("server")
        .listen(
            "tcp:80",
            factory_fn(move |_: &Address| Counter(shared.clone())),
        )
        .unwrap();
    let (one, two) = (sim.add_host("one"), sim.add_host("two"));
    drop(one.connect(TO_SERVER, factory_fn(|_: &Address| Increment)));
    let later = two.clone();
    two.call_later(15 * MS, move || {
        drop(later.connect(TO_SERVER, factory_fn(|_: &Address| Increment)));
    });
    sim.run_until_idle();
    let total = *value.lock().unwrap();
    match total {
        2 => Ok(()),
        other => Err(format!("two increments made {other}")),
    }
}

#[test]
fn explore_finds_a_lost_update_race_within_a_bounded_number_of_seeds() {
    let exploration = explore(0..200, two_increments);
    let failure = exploration.failure().expect("the race is found");
    assert_eq!(failure.message(), "two increments made 1");
    // Seeds before it passed; the failing one fails again, event for event.
    assert_eq!(exploration.runs(), failure.seed() + 1);
    let sim = Simulation::new(failure.seed());
    assert_eq!(two_increments(&sim).unwrap_err(), failure.message());
    assert!(failure.report().starts_with(&format!(
        "seed {}: {} events, digest {:016x}",
        failure.seed(),
        sim.events(),
        sim.trace_digest()
    )));
    // And a property that holds passes every seed.
    let fine = explore(0..20, |sim| {
        let _ = sim.add_host("alone");
        Ok(())
    });
    assert!(fine.failure().is_none());
    assert_eq!(fine.runs(), 20);
}

#[test]
fn a_listen_on_a_taken_port_or_another_hosts_address_is_refused() {
    let sim = Simulation::new(0);
    let host = sim.add_host("server");
    host.listen("tcp:80", Probe::echo(&log())).unwrap();
    let taken = host.listen("tcp:80", Probe::echo(&log())).unwrap_err();
    assert!(matches!(taken, Error::CannotListen { .. }));
    let elsewhere = host
        .listen("tcp:81:interface=192.0.2.1", Probe::echo(&log()))
        .unwrap_err();
    assert!(matches!(elsewhere, Error::CannotListen { .. }));
    let port = host.listen("tcp:0", Probe::echo(&log())).unwrap();
    assert_eq!(
        port.local_addr().to_string(),
        format!("{}:49152", host.ip())
    );
    // A port that stops listening refuses.
    drop(port.stop_listening());
    let mut attempt = sim.add_host("client").connect(
        format!("tcp:host={}:port=49152", host.ip()),
        Probe::factory(&log(), vec![], false),
    );
    assert!(sim.run_until_idle());
    assert!(refusal(attempt.take_result()));
}

/// Datagrams from a client host to a recording server host: `count` of them, numbered.
fn datagram_run(
    seed: u64,
    faults: Faults,
) -> (
    Simulation,
    Events,
    torsade::datagram::DatagramPort<Recording>,
) {
    let sim = Simulation::new(seed);
    sim.set_datagram_faults(faults);
    let (server, server_events) = Recording::new();
    let server_host = sim.add_host("server");
    server_host.listen_udp(9, server).unwrap();
    let (client, _) = Recording::new();
    let client = sim.add_host("client").listen_udp(0, client).unwrap();
    assert!(sim.run_until_idle());
    server_events.take();
    (sim, server_events, client)
}

fn send_numbered(sim: &Simulation, port: &torsade::datagram::DatagramPort<Recording>, count: u8) {
    let to = std::net::SocketAddr::new(sim.add_host("server").ip(), 9);
    port.handle().call(move |_, cx| {
        for n in 0..count {
            cx.write(&[n], to).unwrap();
        }
    });
}

#[test]
fn datagrams_cross_the_simulation_with_seeded_loss_duplication_and_reordering() {
    let faults = Faults {
        latency: MS,
        jitter: 5 * MS,
        loss: 0.2,
        duplication: 0.1,
    };
    let run = |seed| {
        let (sim, events, client) = datagram_run(seed, faults);
        send_numbered(&sim, &client, 50);
        assert!(sim.run_until_idle());
        let payloads: Vec<u8> = events.take_payloads().iter().map(|data| data[0]).collect();
        (payloads, sim.trace_digest())
    };
    let (payloads, digest) = run(4);
    assert_eq!(run(4), (payloads.clone(), digest));
    assert_ne!(run(5).1, digest);
    let mut sorted = payloads.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert!(sorted.len() < 50, "some were lost");
    assert!(payloads.len() > sorted.len(), "some came twice");
    assert!(
        payloads.windows(2).any(|pair| pair[0] > pair[1]),
        "some overtook others"
    );
}

#[test]
fn a_partition_or_a_crash_loses_datagrams_and_a_restarted_host_binds_again() {
    let (sim, events, client) = datagram_run(0, Faults::default());
    let (server, client_host) = (sim.add_host("server"), sim.add_host("client"));
    let partition = sim.partition(&[&client_host], &[&server]);
    send_numbered(&sim, &client, 3);
    assert!(sim.run_until_idle());
    assert!(events.take_payloads().is_empty());
    assert!(sim.trace().iter().any(|event| matches!(
        event.kind,
        TraceKind::Datagram {
            delivered: false,
            ..
        }
    )));
    sim.heal(partition);
    send_numbered(&sim, &client, 3);
    assert!(sim.run_until_idle());
    assert_eq!(events.take_payloads().len(), 3);

    sim.crash(&server);
    send_numbered(&sim, &client, 3);
    assert!(sim.run_until_idle());
    assert!(events.take_payloads().is_empty());
    assert!(matches!(
        server.listen_udp(9, Recording::new().0),
        Err(Error::ReactorStopped)
    ));
    sim.restart(&server);
    let (again, again_events) = Recording::new();
    server.listen_udp(9, again).unwrap();
    send_numbered(&sim, &client, 2);
    assert!(sim.run_until_idle());
    assert_eq!(again_events.take_payloads().len(), 2);
}

#[test]
fn a_protocol_dropped_with_the_simulation_finds_its_host_down() {
    /// Tries to listen again when dropped: the host is down by then.
    struct Stubborn {
        host: SimHost,
        refused: Arc<Mutex<Option<bool>>>,
    }
    impl Protocol for Stubborn {
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    impl Drop for Stubborn {
        fn drop(&mut self) {
            let again = self.host.listen("tcp:81", Probe::echo(&log()));
            *self.refused.lock().unwrap() = Some(matches!(again, Err(Error::ReactorStopped)));
        }
    }
    let refused = Arc::new(Mutex::new(None));
    {
        let sim = Simulation::new(0);
        let server = sim.add_host("server");
        let (host, seen) = (server.clone(), refused.clone());
        server
            .listen(
                "tcp:80",
                factory_fn(move |_: &Address| Stubborn {
                    host: host.clone(),
                    refused: seen.clone(),
                }),
            )
            .unwrap();
        drop(
            sim.add_host("client")
                .connect(TO_SERVER, Probe::factory(&log(), vec![], false)),
        );
        assert!(sim.run_until_idle());
    }
    assert_eq!(*refused.lock().unwrap(), Some(true));
}

#[test]
fn connections_overtake_each_other_on_some_seeds_and_not_on_others() {
    // Which connection's byte arrived first, for each seed: the first connection sends
    // 1, the second 2, a millisecond apart, over a link whose latency varies by more.
    let first_arrival = |seed| {
        let sim = Simulation::new(seed);
        sim.set_link(Link::new().latency(Latency::Uniform {
            min: MS,
            max: 20 * MS,
        }));
        let logs = recorders(&sim.add_host("server"));
        let client = sim.add_host("client");
        drop(client.connect(TO_SERVER, Probe::factory(&log(), vec![vec![1]], false)));
        let later = client.clone();
        client.call_later(MS, move || {
            drop(later.connect(TO_SERVER, Probe::factory(&log(), vec![vec![2]], false)));
        });
        assert!(sim.run_until_idle());
        // The server's connections in the order accepted; the first whose byte came.
        let logs = logs.lock().unwrap();
        let made: Vec<(Duration, u8)> = logs
            .iter()
            .map(|log| {
                let log = log.lock().unwrap();
                (log.made_at.unwrap(), log.bytes[0])
            })
            .collect();
        made.into_iter().min().unwrap().1
    };
    let firsts: Vec<u8> = (0..40).map(first_arrival).collect();
    assert!(firsts.contains(&1), "{firsts:?}");
    assert!(
        firsts.contains(&2),
        "the later connection never overtook: {firsts:?}"
    );
    // And each seed decides it the same way every time.
    assert_eq!(firsts, (0..40).map(first_arrival).collect::<Vec<_>>());
}
