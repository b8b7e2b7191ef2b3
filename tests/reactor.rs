//! The reactor itself: timed calls, hooks, running once, listening ports, graceful stop.

mod common;

use std::io::Read;
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use torsade::prelude::*;
use torsade::{factory_fn, Address, Reactor};

#[test]
fn listening_on_a_taken_port_is_an_error() {
    let reactor = Reactor::new().unwrap();
    let taken = StdListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let error = reactor
        .listen(address, factory_fn(|_: &Address| Echo))
        .unwrap_err();
    match error {
        Error::CannotListen { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse)
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn call_later_runs_in_order_and_skips_cancelled_calls() {
    let reactor = Reactor::new().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut calls = Vec::new();
    for (name, delay_ms) in [("c", 2), ("a", 0), ("b", 1), ("x", 1), ("a2", 0), ("c2", 2)] {
        let log = log.clone();
        calls.push((
            name,
            reactor.call_later(Duration::from_millis(delay_ms), move || {
                log.lock().unwrap().push(name)
            }),
        ));
    }
    calls
        .iter()
        .find(|(name, _)| *name == "x")
        .unwrap()
        .1
        .cancel()
        .unwrap();
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(5), move || {
        let _ = r.stop();
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(*log.lock().unwrap(), ["a", "a2", "b", "c", "c2"]);
}

#[test]
fn call_when_running_hooks_run_in_order_once_running() {
    let reactor = Reactor::new().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let (log, r) = (log.clone(), reactor.clone());
        reactor.call_when_running(move || {
            assert!(r.is_running());
            log.lock().unwrap().push(i);
        });
    }
    assert!(log.lock().unwrap().is_empty());
    let r = reactor.clone();
    reactor.call_when_running(move || {
        let r2 = r.clone();
        // Already running: deferred to the next turn, still runs.
        r.call_when_running(move || {
            let _ = r2.stop();
        });
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
}

#[test]
fn stop_on_a_reactor_that_is_not_running_is_an_error() {
    let reactor = Reactor::new().unwrap();
    assert!(matches!(reactor.stop(), Err(Error::ReactorNotRunning)));
}

#[test]
fn a_reactor_runs_only_once() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    reactor.run().unwrap();
    assert!(matches!(reactor.run(), Err(Error::ReactorCannotRun { .. })));
    assert!(matches!(reactor.stop(), Err(Error::ReactorNotRunning)));
}

#[test]
fn graceful_stop_flushes_every_connection_and_fires_each_connection_lost_once() {
    const CLIENTS: usize = 50;
    const SIZE: usize = 256 * 1024;
    let reactor = Reactor::new().unwrap();
    let server = seen();
    let (s, r) = (server.clone(), reactor.clone());
    let made = Arc::new(AtomicUsize::new(0));
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                let (r, made) = (r.clone(), made.clone());
                Recorder::new(&s).on_made(move |transport| {
                    // Queue more than the socket buffers hold, then stop once everyone is here.
                    transport.write(&vec![b'z'; SIZE]);
                    if made.fetch_add(1, Ordering::SeqCst) + 1 == CLIENTS {
                        r.stop().unwrap();
                    }
                })
            }),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    for _ in 0..CLIENTS {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut stream = StdStream::connect(address).unwrap();
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let mut received = Vec::new();
            let outcome = stream.read_to_end(&mut received).map(|_| received.len());
            tx.send(outcome.map_err(|e| e.to_string())).unwrap();
        });
    }
    drop(tx);
    run_bounded(&reactor, LIMIT);
    let received: Vec<_> = rx.iter().collect();
    assert_eq!(received.len(), CLIENTS);
    assert!(
        received.iter().all(|outcome| *outcome == Ok(SIZE)),
        "{received:?}"
    );
    let server = server.lock().unwrap();
    assert_eq!(server.made, CLIENTS);
    assert_eq!(server.lost.len(), CLIENTS);
    assert!(
        server.lost.iter().all(|reason| reason == "done"),
        "{:?}",
        server.lost
    );
    assert_eq!(reactor.connection_count(), 0);
}

#[test]
fn stop_listening_closes_the_port_and_runs_stop_factory() {
    #[derive(Default)]
    struct Tracked {
        stopped: AtomicUsize,
    }
    impl ProtocolFactory for Tracked {
        type Protocol = Echo;
        fn build_protocol(&self, _: &Address) -> Option<Echo> {
            Some(Echo)
        }
        fn stop_factory(&self) {
            self.stopped.fetch_add(1, Ordering::SeqCst);
        }
    }
    let reactor = Reactor::new().unwrap();
    let factory = Arc::new(Tracked::default());
    let port = reactor.listen("127.0.0.1:0", factory.clone()).unwrap();
    let address = port.local_addr();
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    port.stop_listening()
        .add_callback(move |()| {
            let o = o.clone();
            let r2 = r.clone();
            // A new connection is now refused.
            r.connect(address, factory_fn(|_: &Address| Echo))
                .add_both(move |result| {
                    *o.lock().unwrap() = Some(result.is_err());
                    let _ = r2.stop();
                })
                .detach();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*outcome.lock().unwrap(), Some(true));
    assert_eq!(factory.stopped.load(Ordering::SeqCst), 1);
}
