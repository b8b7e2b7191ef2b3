//! The memory reactor: recorded listens and connects, completing and failing attempts,
//! and its fake clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use torsade::prelude::*;
use torsade::testing::MemoryReactor;
use torsade::{Address, Network};

/// Echoes.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }
}

/// A factory recording its events, refusing when told to.
#[derive(Default)]
struct Recording {
    events: Mutex<Vec<String>>,
    refuse: bool,
}

impl Recording {
    fn push(&self, event: impl Into<String>) {
        self.events.lock().unwrap().push(event.into());
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl ProtocolFactory for Recording {
    type Protocol = Echo;

    fn build_protocol(&self, peer: &Address) -> Option<Echo> {
        self.push(format!("build {peer}"));
        (!self.refuse).then_some(Echo)
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
fn listens_are_recorded_with_their_factories() {
    let memory = MemoryReactor::new();
    let factory = Arc::new(Recording::default());
    let port = memory.listen("127.0.0.1:0", factory.clone()).unwrap();
    memory.listen("0.0.0.0:8080", Recording::default()).unwrap();
    // Recorded as endpoint strings (the address given is parsed into a TCP endpoint).
    assert_eq!(
        memory.listen_endpoints(),
        ["tcp:0:interface=127.0.0.1", "tcp:8080"]
    );
    assert_eq!(port.local_addr().to_string(), "127.0.0.1:50000");
    assert_eq!(factory.events(), ["start"]);
    let recorded = memory.listen_factory::<Arc<Recording>>(0).unwrap();
    assert!(Arc::ptr_eq(&*recorded, &factory));
    assert!(memory.listen_factory::<Recording>(0).is_none());
    assert!(memory.listen_factory::<Recording>(1).is_some());
}

#[test]
fn a_recorded_factory_builds_protocols_to_drive_in_memory() {
    let memory = MemoryReactor::new();
    memory
        .listen("127.0.0.1:7000", Recording::default())
        .unwrap();
    let factory = memory.listen_factory::<Recording>(0).unwrap();
    let peer = Address::Tcp("10.1.1.1:5555".parse().unwrap());
    let mut connection =
        torsade::testing::TestConnection::new(factory.build_protocol(&peer).unwrap());
    connection.receive(b"ping");
    assert_eq!(connection.take_written(), &b"ping"[..]);
}

#[test]
fn stopping_a_memory_port_completes_at_once() {
    let memory = MemoryReactor::new();
    let port = memory.listen("127.0.0.1:0", Recording::default()).unwrap();
    assert!(port.is_listening());
    let mut stopped = port.stop_listening();
    assert!(stopped.take_result().unwrap().is_ok());
    assert!(!port.is_listening());
}

#[test]
fn a_listen_address_that_is_not_ip_and_port_is_refused() {
    let memory = MemoryReactor::new();
    let factory = Arc::new(Recording::default());
    let error = memory.listen("nonsense", factory.clone()).unwrap_err();
    // A listen address is now an endpoint string: one that does not parse is refused as an
    // invalid endpoint naming it (it was CannotListen), and nothing is recorded or started.
    assert!(
        matches!(error, Error::InvalidEndpoint { ref endpoint, .. } if endpoint == "nonsense"),
        "{error:?}"
    );
    assert!(memory.listen_endpoints().is_empty());
    assert!(factory.events().is_empty());
}

#[test]
fn connects_wait_until_the_test_completes_them() {
    let memory = MemoryReactor::new();
    let factory = Arc::new(Recording::default());
    let mut connected = memory.connect("10.9.9.9:4000", factory.clone());
    assert!(connected.take_result().is_none());
    // Recorded, and told to the factory, as the endpoint string of the address given.
    assert_eq!(memory.connect_endpoints(), ["tcp:host=10.9.9.9:port=4000"]);
    let mut connection = memory.complete_connect::<Echo>(0).unwrap();
    let handle = connected.take_result().unwrap().unwrap();
    assert_eq!(handle.peer_addr().to_string(), "10.9.9.9:4000");
    handle.transport().write(b"from outside");
    assert_eq!(connection.take_written(), &b"from outside"[..]);
    connection.disconnect(DisconnectReason::Done);
    assert_eq!(
        factory.events(),
        [
            "connecting tcp:host=10.9.9.9:port=4000",
            "start",
            "build 10.9.9.9:4000",
            "lost connection closed cleanly",
            "stop"
        ]
    );
}

#[test]
fn a_failed_connect_reaches_the_factory_and_the_deferred() {
    let memory = MemoryReactor::new();
    let factory = Arc::new(Recording::default());
    let mut connected = memory.connect("10.9.9.9:4000", factory.clone());
    assert!(memory.fail_connect(0, Error::ReactorStopped));
    let failure = connected.take_result().unwrap().unwrap_err();
    assert!(matches!(
        failure.downcast_ref::<Error>(),
        Some(Error::ReactorStopped)
    ));
    assert_eq!(
        factory.events()[2..],
        ["failed the reactor stopped", "stop"]
    );
    assert!(!memory.fail_connect(0, Error::ReactorStopped));
    assert!(memory.complete_connect::<Echo>(0).is_none());
}

#[test]
fn a_refusing_client_factory_fails_the_attempt_with_no_protocol() {
    let memory = MemoryReactor::new();
    let refusing = Recording {
        refuse: true,
        ..Recording::default()
    };
    let mut connected = memory.connect("10.9.9.9:4000", refusing);
    assert!(memory.complete_connect::<Echo>(0).is_none());
    let failure = connected.take_result().unwrap().unwrap_err();
    assert!(matches!(
        failure.downcast_ref::<Error>(),
        Some(Error::NoProtocol { .. })
    ));
}

#[test]
fn completing_with_the_wrong_protocol_type_leaves_the_attempt_pending() {
    struct Other;
    impl Protocol for Other {
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let memory = MemoryReactor::new();
    let mut connected = memory.connect("10.9.9.9:4000", Recording::default());
    assert!(memory.complete_connect::<Other>(0).is_none());
    assert!(connected.take_result().is_none());
    assert!(memory.complete_connect::<Echo>(0).is_some());
}

#[test]
fn timed_calls_run_on_the_memory_reactors_fake_clock() {
    let memory = MemoryReactor::new();
    let ran = Arc::new(Mutex::new(false));
    let flag = ran.clone();
    memory.call_later(Duration::from_secs(30), move || {
        *flag.lock().unwrap() = true
    });
    memory.clock().advance(Duration::from_secs(29));
    assert!(!*ran.lock().unwrap());
    memory.clock().advance(Duration::from_secs(1));
    assert!(*ran.lock().unwrap());
    assert_eq!(memory.now(), Duration::from_secs(30));
}
