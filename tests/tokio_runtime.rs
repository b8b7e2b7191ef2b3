//! The reactor on a tokio runtime the user already runs (`Reactor::from_handle`), and the
//! async face: awaiting Deferreds and handles from tokio tasks.

use std::time::Duration;

use bytes::Bytes;
use torsade::prelude::*;
use torsade::{factory_fn, Address, Reactor};

/// Echoes everything back.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }
}

/// Collects what it receives; fires `done` once it has `expected` bytes.
struct Collector {
    received: Vec<u8>,
    expected: usize,
    done: Resolver<Vec<u8>>,
}

impl Protocol for Collector {
    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.received.extend_from_slice(&data);
        if self.received.len() >= self.expected {
            let _ = self.done.callback(self.received.clone());
        }
    }
}

#[test]
fn a_reactor_runs_on_a_multi_threaded_runtime_the_user_owns() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        let reactor = Reactor::from_handle(tokio::runtime::Handle::current());
        let port = reactor
            .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
            .unwrap();
        let (echoed, done) = Deferred::new();
        let client = reactor
            .connect(
                port.local_addr(),
                factory_fn(move |_: &Address| Collector {
                    received: Vec::new(),
                    expected: 10,
                    done: done.clone(),
                }),
            )
            .await
            .unwrap();
        client.transport().write(b"round trip");
        let received = tokio::time::timeout(Duration::from_secs(20), echoed)
            .await
            .expect("the echo arrives")
            .unwrap();
        // The handle reaches the live protocol from this task.
        let seen = client
            .call(|c: &mut Collector, _| c.received.len())
            .await
            .unwrap();
        assert_eq!(seen, 10);
        reactor.stop().unwrap();
        tokio::time::timeout(Duration::from_secs(20), reactor.stopped())
            .await
            .expect("the reactor stops");
        (received, reactor.connection_count(), reactor.run().is_err())
    });
    assert_eq!(outcome.0, b"round trip");
    assert_eq!(outcome.1, 0);
    assert!(outcome.2, "a borrowed runtime cannot be run by the reactor");
}

#[test]
fn deferreds_from_the_reactor_can_be_awaited_in_spawned_tasks() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    let result = reactor.spawn(async move {
        let (deferred, resolver) = Deferred::<u32>::new();
        r.call_later(Duration::from_millis(1), move || {
            resolver.callback(20).unwrap()
        });
        let doubled = deferred.add_callback(|n| n * 2).await.unwrap();
        let stopper = r.clone();
        r.call_later(Duration::ZERO, move || stopper.stop().unwrap());
        doubled + 2
    });
    reactor.run().unwrap();
    let mut result = result;
    assert_eq!(result.take_result().unwrap().unwrap(), 42);
}

#[test]
fn a_panicking_spawned_future_fails_its_deferred() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    let mut failed = reactor
        .spawn(async { panic!("spawned and broken") })
        .add_both(move |result: Result<(), Failure>| {
            r.stop().unwrap();
            Ok::<String, Failure>(result.unwrap_err().to_string())
        });
    reactor.run().unwrap();
    assert_eq!(
        failed.take_result().unwrap().unwrap(),
        "panicked: spawned and broken"
    );
}
