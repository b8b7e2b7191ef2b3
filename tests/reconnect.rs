//! The reconnecting client: its delays on the memory reactor's fake clock (growth, cap,
//! jitter, reset, retry limit), stopping, the wrapped factory's hooks, and one reconnection
//! over loopback.

mod common;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use torsade::prelude::*;
use torsade::testing::{MemoryReactor, TestConnection};
use torsade::{factory_fn, Address, Backoff, Reactor, ReconnectingClient};

const ADDRESS: &str = "10.0.0.1:8000";
/// `ADDRESS` as the client endpoint it is parsed into: how attempts are recorded and named.
const ENDPOINT: &str = "tcp:host=10.0.0.1:port=8000";
const SECOND: Duration = Duration::from_secs(1);

struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }
}

fn refused() -> Error {
    Error::ConnectFailed {
        address: ADDRESS.into(),
        source: ErrorKind::ConnectionRefused.into(),
    }
}

fn reset() -> DisconnectReason {
    DisconnectReason::lost(ErrorKind::ConnectionReset.into())
}

fn echo_factory() -> impl ClientFactory<Protocol = Echo> {
    factory_fn(|_: &Address| Echo)
}

fn start(memory: &Arc<MemoryReactor>, backoff: Backoff) -> ReconnectingClient<Echo> {
    ReconnectingClient::connect_with(memory.clone(), ADDRESS, echo_factory(), backoff).unwrap()
}

fn attempts(memory: &MemoryReactor) -> usize {
    memory.connect_endpoints().len()
}

/// How long until the scheduled retry, if one is scheduled.
fn pending_delay(memory: &MemoryReactor) -> Option<Duration> {
    let clock = memory.clock();
    clock.next_due().map(|due| due - clock.now())
}

/// Fails the latest attempt, checks no attempt starts a nanosecond before the retry is
/// due and one starts when it is; returns the delay.
fn fail_and_wait(memory: &MemoryReactor) -> Duration {
    let before = attempts(memory);
    assert!(memory.fail_connect(before - 1, refused()));
    let delay = pending_delay(memory).expect("a retry is scheduled");
    memory.clock().advance(delay - Duration::from_nanos(1));
    assert_eq!(
        attempts(memory),
        before,
        "no attempt before the delay is over"
    );
    memory.clock().advance(Duration::from_nanos(1));
    assert_eq!(attempts(memory), before + 1, "an attempt once it is over");
    delay
}

/// Completes the latest attempt.
fn complete(memory: &MemoryReactor) -> TestConnection<Echo> {
    memory
        .complete_connect::<Echo>(attempts(memory) - 1)
        .expect("an attempt to complete")
}

#[test]
fn defaults_are_twisteds() {
    let twisted = Backoff::new()
        .initial_delay(SECOND)
        .factor(std::f64::consts::E)
        .jitter(0.119_626_564_72)
        .max_delay(Duration::from_secs(3600))
        .reset_on_connect(true);
    assert_eq!(Backoff::default(), twisted);
    assert_eq!(Backoff::new(), twisted);
}

#[test]
fn first_attempt_starts_at_once() {
    let memory = Arc::new(MemoryReactor::new());
    let client = ReconnectingClient::connect(memory.clone(), ADDRESS, echo_factory()).unwrap();
    assert_eq!(memory.connect_endpoints(), [ENDPOINT]);
    assert!(client.connection().is_none());
}

#[test]
fn retry_delays_grow_by_the_factor_up_to_the_maximum() {
    let memory = Arc::new(MemoryReactor::new());
    let backoff = Backoff::new()
        .factor(2.0)
        .jitter(0.0)
        .max_delay(Duration::from_secs(20));
    let _client = start(&memory, backoff);
    let delays: Vec<u64> = (0..8).map(|_| fail_and_wait(&memory).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 20, 20, 20]);
}

#[test]
fn twisted_defaults_without_jitter_wait_powers_of_e_up_to_an_hour() {
    let memory = Arc::new(MemoryReactor::new());
    let _client = start(&memory, Backoff::new().jitter(0.0));
    let delays: Vec<Duration> = (0..11).map(|_| fail_and_wait(&memory)).collect();
    // Twisted 26.10 with jitter 0, as listed in TWISTED.md §4.3 (to the millisecond).
    #[allow(clippy::approx_constant)] // printed values, not a use of e
    let twisted = [
        1.0, 2.718, 7.389, 20.086, 54.598, 148.413, 403.429, 1096.633, 2980.958, 3600.0, 3600.0,
    ];
    for (n, (delay, expected)) in delays.iter().zip(twisted).enumerate() {
        assert!(
            (delay.as_secs_f64() - expected).abs() < 0.0005,
            "retry {n}: {delay:?}, Twisted waits {expected}"
        );
        let exact = if n < 9 {
            std::f64::consts::E.powi(n as i32)
        } else {
            3600.0
        };
        assert!(
            (delay.as_secs_f64() - exact).abs() < 1e-6,
            "retry {n}: {delay:?}"
        );
    }
    assert_eq!(delays[9], Duration::from_secs(3600));
}

#[test]
fn jitter_scatters_delays_normally_within_three_deviations() {
    let memory = Arc::new(MemoryReactor::new());
    let jitter = 0.12;
    // A constant base delay of 1 s, far below the maximum: only the jitter moves it.
    let backoff = Backoff::new()
        .factor(1.0)
        .jitter(jitter)
        .max_delay(Duration::from_secs(2))
        .jitter_seed(7);
    let _client = start(&memory, backoff);
    let delays: Vec<f64> = (0..400)
        .map(|_| fail_and_wait(&memory).as_secs_f64())
        .collect();
    for (n, delay) in delays.iter().enumerate() {
        assert!(
            (1.0 - 3.0 * jitter..=1.0 + 3.0 * jitter).contains(delay),
            "retry {n}: {delay} s"
        );
    }
    let mean = delays.iter().sum::<f64>() / delays.len() as f64;
    let deviation =
        (delays.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / delays.len() as f64).sqrt();
    assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
    assert!((deviation - jitter).abs() < 0.02, "deviation {deviation}");
    assert!(delays.iter().filter(|d| **d < 1.0).count() > 150);
    assert!(delays.iter().filter(|d| **d > 1.0).count() > 150);
}

#[test]
fn jitter_never_pushes_a_delay_past_the_maximum() {
    let memory = Arc::new(MemoryReactor::new());
    let max = Duration::from_secs(10);
    let backoff = Backoff::new()
        .factor(2.0)
        .jitter(0.12)
        .max_delay(max)
        .jitter_seed(7);
    let _client = start(&memory, backoff);
    let delays: Vec<Duration> = (0..300).map(|_| fail_and_wait(&memory)).collect();
    assert!(delays.iter().all(|delay| *delay <= max), "{delays:?}");
    // Once the base delay is the maximum, the draws above it are held at it; those below
    // still scatter.
    let capped = &delays[10..];
    let at_max = capped.iter().filter(|delay| **delay == max).count();
    assert!(
        at_max > 100,
        "{at_max} of {} held at the maximum",
        capped.len()
    );
    assert!(capped.len() - at_max > 100);
    assert!(capped
        .iter()
        .all(|delay| *delay >= max.mul_f64(1.0 - 3.0 * 0.12)));
}

#[test]
fn jitter_is_repeatable_with_a_seed() {
    let delays = |seed| {
        let memory = Arc::new(MemoryReactor::new());
        let _client = start(&memory, Backoff::new().jitter_seed(seed));
        (0..5).map(|_| fail_and_wait(&memory)).collect::<Vec<_>>()
    };
    assert_eq!(delays(42), delays(42));
    assert_ne!(delays(42), delays(43));
}

#[test]
fn max_retries_gives_up_after_that_many_retries_in_a_row() {
    let memory = Arc::new(MemoryReactor::new());
    let client = start(&memory, Backoff::new().jitter(0.0).max_retries(2));
    let mut waiting = client.when_connected();
    fail_and_wait(&memory);
    fail_and_wait(&memory);
    assert!(memory.fail_connect(2, refused()));
    assert_eq!(memory.clock().pending_calls(), 0);
    memory.clock().advance(Duration::from_secs(86_400));
    assert_eq!(attempts(&memory), 3);

    let failure = waiting.take_result().unwrap().unwrap_err();
    match failure.downcast_ref::<Error>() {
        Some(Error::StoppedTrying { address, attempts }) => {
            // The client is named by its endpoint (it was the bare address).
            assert_eq!((address.as_str(), *attempts), (ENDPOINT, 3));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(client.when_connected().take_result().unwrap().is_err());
}

#[test]
fn max_retries_zero_never_retries() {
    let memory = Arc::new(MemoryReactor::new());
    let _client = start(&memory, Backoff::new().max_retries(0));
    assert!(memory.fail_connect(0, refused()));
    memory.clock().advance(Duration::from_secs(86_400));
    assert_eq!(attempts(&memory), 1);
}

#[test]
fn backoff_resets_after_a_successful_connection() {
    let memory = Arc::new(MemoryReactor::new());
    let backoff = Backoff::new().factor(2.0).jitter(0.0).max_retries(3);
    let _client = start(&memory, backoff);
    let delays: Vec<u64> = (0..3).map(|_| fail_and_wait(&memory).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4]);

    // Three retries used; connecting gives all three back and the delay starts over.
    let mut connection = complete(&memory);
    connection.disconnect(reset());
    assert_eq!(pending_delay(&memory), Some(SECOND));
    memory.clock().advance(SECOND);
    let delays: Vec<u64> = (0..2).map(|_| fail_and_wait(&memory).as_secs()).collect();
    assert_eq!(delays, [2, 4]);
}

#[test]
fn without_reset_on_connect_the_backoff_keeps_growing_until_reset_delay() {
    let memory = Arc::new(MemoryReactor::new());
    let backoff = Backoff::new()
        .factor(2.0)
        .jitter(0.0)
        .reset_on_connect(false);
    let client = start(&memory, backoff);
    fail_and_wait(&memory);
    fail_and_wait(&memory);

    complete(&memory).disconnect(reset());
    assert_eq!(pending_delay(&memory), Some(Duration::from_secs(4)));
    memory.clock().advance(Duration::from_secs(4));

    let mut connection = complete(&memory);
    client.reset_delay();
    connection.disconnect(reset());
    assert_eq!(pending_delay(&memory), Some(SECOND));
}

#[test]
fn a_clean_close_is_reconnected_too() {
    let memory = Arc::new(MemoryReactor::new());
    let _client = start(&memory, Backoff::new().jitter(0.0));
    complete(&memory).disconnect(DisconnectReason::Done);
    assert_eq!(pending_delay(&memory), Some(SECOND));
}

#[test]
fn stop_trying_cancels_a_pending_retry() {
    let memory = Arc::new(MemoryReactor::new());
    let client = start(&memory, Backoff::new());
    let mut waiting = client.when_connected();
    assert!(memory.fail_connect(0, refused()));
    assert_eq!(memory.clock().pending_calls(), 1);

    client.stop_trying();
    assert_eq!(memory.clock().pending_calls(), 0);
    memory.clock().advance(Duration::from_secs(86_400));
    assert_eq!(attempts(&memory), 1);
    let failure = waiting.take_result().unwrap().unwrap_err();
    assert!(matches!(
        failure.downcast_ref::<Error>(),
        Some(Error::StoppedTrying { attempts: 1, .. })
    ));
}

#[test]
fn stop_trying_prevents_reconnecting_after_the_connection_is_lost() {
    let memory = Arc::new(MemoryReactor::new());
    let client = start(&memory, Backoff::new());
    let mut connection = complete(&memory);
    client.stop_trying();
    assert!(client.connection().is_some(), "the connection stays open");

    connection.disconnect(reset());
    assert!(client.connection().is_none());
    assert_eq!(memory.clock().pending_calls(), 0);
    memory.clock().advance(Duration::from_secs(86_400));
    assert_eq!(attempts(&memory), 1);
}

/// `stop_trying` is also Twisted's `stopConnecting`: an attempt under way is cancelled
/// rather than left to finish, and nothing is tried again.
#[test]
fn stop_trying_cancels_an_attempt_under_way_and_does_not_retry() {
    let memory = Arc::new(MemoryReactor::new());
    let factory = Arc::new(Recording::default());
    let client =
        ReconnectingClient::connect_with(memory.clone(), ADDRESS, factory.clone(), Backoff::new())
            .unwrap();
    factory.take();
    let mut waiting = client.when_connected();
    assert!(memory.is_connect_pending(0));
    client.stop_trying();

    // The attempt is settled at once: cancelled, so it can neither fail nor connect later.
    assert!(!memory.is_connect_pending(0));
    let failure = waiting.take_result().unwrap().unwrap_err();
    assert!(matches!(
        failure.downcast_ref::<Error>(),
        Some(Error::StoppedTrying { attempts: 1, .. })
    ));
    let cancelled = Error::ConnectCancelled {
        address: ENDPOINT.into(),
    };
    assert_eq!(
        factory.take(),
        [format!("failed {cancelled}"), "stop".into()]
    );
    assert!(!memory.fail_connect(0, refused()));
    assert!(memory.complete_connect::<Echo>(0).is_none());
    assert_eq!(memory.clock().pending_calls(), 0);
    memory.clock().advance(Duration::from_secs(86_400));
    assert_eq!(attempts(&memory), 1);
}

#[test]
fn an_attempt_that_fails_because_the_reactor_stopped_is_not_retried() {
    let memory = Arc::new(MemoryReactor::new());
    let client = start(&memory, Backoff::new());
    assert!(memory.fail_connect(0, Error::ReactorStopped));
    assert_eq!(memory.clock().pending_calls(), 0);
    assert!(client.when_connected().take_result().unwrap().is_err());
}

#[test]
fn when_connected_fires_with_each_new_connection_and_connection_gives_the_current_one() {
    let memory = Arc::new(MemoryReactor::new());
    let client = start(&memory, Backoff::new().jitter(0.0));
    let mut first = client.when_connected();
    assert!(first.take_result().is_none());

    let mut connection = complete(&memory);
    let handle = first.take_result().unwrap().unwrap();
    handle.transport().write(b"hello");
    assert_eq!(connection.take_written(), &b"hello"[..]);
    assert!(client.connection().is_some());
    assert!(client.when_connected().take_result().unwrap().is_ok());

    connection.disconnect(reset());
    let mut second = client.when_connected();
    assert!(second.take_result().is_none());
    memory.clock().advance(SECOND);
    let mut connection = complete(&memory);
    let handle = second.take_result().unwrap().unwrap();
    handle.transport().write(b"again");
    assert_eq!(connection.take_written(), &b"again"[..]);
}

/// A client factory recording its hooks.
#[derive(Default)]
struct Recording {
    events: Mutex<Vec<String>>,
}

impl Recording {
    fn push(&self, event: impl Into<String>) {
        self.events.lock().unwrap().push(event.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

impl ProtocolFactory for Recording {
    type Protocol = Echo;

    fn build_protocol(&self, _: &Address) -> Option<Echo> {
        self.push("build");
        Some(Echo)
    }

    fn start_factory(&self) {
        self.push("start");
    }

    fn stop_factory(&self) {
        self.push("stop");
    }
}

impl ClientFactory for Recording {
    fn started_connecting(&self, address: &str) {
        self.push(format!("connecting {address}"));
    }

    fn client_connection_failed(&self, error: &Error) {
        self.push(format!("failed {error}"));
    }

    fn client_connection_lost(&self, reason: &DisconnectReason) {
        self.push(format!("lost {reason}"));
    }
}

#[test]
fn wrapped_factory_hooks_are_called_for_every_attempt() {
    let memory = Arc::new(MemoryReactor::new());
    let factory = Arc::new(Recording::default());
    let backoff = Backoff::new().jitter(0.0);
    let client =
        ReconnectingClient::connect_with(memory.clone(), ADDRESS, factory.clone(), backoff)
            .unwrap();
    assert_eq!(
        factory.take(),
        [format!("connecting {ENDPOINT}"), "start".into()]
    );

    assert!(memory.fail_connect(0, refused()));
    assert_eq!(
        factory.take(),
        [format!("failed {}", refused()), "stop".into()]
    );
    memory.clock().advance(SECOND);
    let mut connection = complete(&memory);
    connection.disconnect(reset());
    assert_eq!(
        factory.take(),
        [
            format!("connecting {ENDPOINT}"),
            "start".into(),
            "build".into(),
            format!("lost {}", reset()),
            "stop".into(),
        ]
    );
    assert_eq!(pending_delay(&memory), Some(SECOND));
    client.stop_trying();
}

#[test]
fn a_factory_that_refuses_the_connection_counts_as_a_failed_attempt() {
    let memory = Arc::new(MemoryReactor::new());
    let refusing = factory_fn(|_: &Address| Echo);
    struct Refusing<F>(F);
    impl<F: ProtocolFactory> ProtocolFactory for Refusing<F> {
        type Protocol = F::Protocol;
        fn build_protocol(&self, _: &Address) -> Option<F::Protocol> {
            None
        }
    }
    impl<F: ProtocolFactory> ClientFactory for Refusing<F> {}
    let backoff = Backoff::new().factor(2.0).jitter(0.0);
    let _client =
        ReconnectingClient::connect_with(memory.clone(), ADDRESS, Refusing(refusing), backoff)
            .unwrap();
    assert!(memory.complete_connect::<Echo>(0).is_none());
    assert_eq!(pending_delay(&memory), Some(SECOND));
    memory.clock().advance(SECOND);
    assert!(memory.complete_connect::<Echo>(1).is_none());
    assert_eq!(pending_delay(&memory), Some(Duration::from_secs(2)));
}

#[test]
fn dropping_the_client_does_not_stop_it() {
    let memory = Arc::new(MemoryReactor::new());
    drop(start(&memory, Backoff::new().jitter(0.0)));
    assert!(memory.fail_connect(0, refused()));
    memory.clock().advance(SECOND);
    assert_eq!(attempts(&memory), 2);
}

#[test]
fn out_of_range_settings_are_typed_errors_and_nothing_is_attempted() {
    let bad = [
        Backoff::new().initial_delay(Duration::ZERO),
        Backoff::new().factor(-2.0),
        Backoff::new().factor(0.5),
        Backoff::new().factor(f64::NAN),
        Backoff::new().factor(f64::INFINITY),
        Backoff::new().jitter(-0.1),
        Backoff::new().jitter(f64::NAN),
        Backoff::new().jitter(f64::INFINITY),
        Backoff::new()
            .initial_delay(Duration::from_secs(10))
            .max_delay(Duration::from_secs(5)),
    ];
    let memory = Arc::new(MemoryReactor::new());
    for backoff in bad {
        match ReconnectingClient::connect_with(memory.clone(), ADDRESS, echo_factory(), backoff) {
            Err(Error::InvalidBackoff { reason }) => assert!(!reason.is_empty()),
            other => panic!("{backoff:?} gave {other:?}"),
        }
    }
    assert_eq!(attempts(&memory), 0);

    // The edges of the ranges are fine.
    let edges = Backoff::new()
        .initial_delay(Duration::from_nanos(1))
        .factor(1.0)
        .jitter(0.0)
        .max_delay(Duration::from_nanos(1));
    assert!(
        ReconnectingClient::connect_with(memory.clone(), ADDRESS, echo_factory(), edges).is_ok()
    );
}

/// Called by each side once its end of the connection is made; the second call stops.
type Arrive = Arc<dyn Fn() + Send + Sync>;

/// Counts refused attempts; after the second, starts the server the client is trying.
struct ServerComesUp {
    reactor: Reactor,
    address: SocketAddr,
    failures: Mutex<usize>,
    server_seen: Arc<Mutex<common::Seen>>,
    arrive: Arrive,
}

impl ProtocolFactory for ServerComesUp {
    type Protocol = common::Echo;

    fn build_protocol(&self, _: &Address) -> Option<common::Echo> {
        Some(common::Echo)
    }
}

impl ClientFactory for ServerComesUp {
    fn client_connection_failed(&self, error: &Error) {
        assert!(matches!(error, Error::ConnectFailed { .. }), "{error}");
        let mut failures = self.failures.lock().unwrap();
        *failures += 1;
        if *failures == 2 {
            let (seen, arrive) = (self.server_seen.clone(), self.arrive.clone());
            let server = factory_fn(move |_: &Address| {
                let arrive = arrive.clone();
                common::Recorder::new(&seen).on_made(move |_| arrive())
            });
            self.reactor
                .listen(self.address, server)
                .expect("the port is free again");
        }
    }
}

#[test]
fn reconnects_over_loopback_once_the_server_starts_listening() {
    let reactor = Reactor::new().unwrap();
    let address = common::free_port();
    let server_seen = common::seen();
    let arrived = Arc::new(AtomicUsize::new(0));
    let stopper = reactor.clone();
    let arrive: Arrive = Arc::new(move || {
        if arrived.fetch_add(1, Ordering::SeqCst) == 1 {
            stopper.stop().unwrap();
        }
    });
    let factory = Arc::new(ServerComesUp {
        reactor: reactor.clone(),
        address,
        failures: Mutex::new(0),
        server_seen: server_seen.clone(),
        arrive: arrive.clone(),
    });
    let backoff = Backoff::new()
        .initial_delay(Duration::from_millis(10))
        .jitter_seed(1);
    let client =
        ReconnectingClient::connect_with(reactor.clone(), address, factory.clone(), backoff)
            .unwrap();

    let done = client.clone();
    let connected = Arc::new(Mutex::new(None));
    let peer = connected.clone();
    client
        .when_connected()
        .add_both(move |handle| {
            *peer.lock().unwrap() = Some(handle.map(|handle| handle.peer_addr().clone()));
            done.stop_trying();
            arrive();
        })
        .detach();
    common::run_bounded(&reactor, common::LIMIT);

    let peer = connected
        .lock()
        .unwrap()
        .take()
        .expect("the Deferred fired");
    assert_eq!(peer.unwrap(), Address::Tcp(address));
    assert_eq!(*factory.failures.lock().unwrap(), 2);
    assert_eq!(server_seen.lock().unwrap().made, 1);
    assert!(
        client.connection().is_none(),
        "stopping the reactor closed it"
    );
}
