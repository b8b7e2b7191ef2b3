//! Outgoing connections and their `ClientFactory` events: success, refusal, timeout.

mod common;

use std::net::TcpStream as StdStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use torsade::endpoints::TcpClient;
use torsade::prelude::*;
use torsade::{factory_fn, Address, ProtocolHandle, Reactor};

#[test]
fn a_refused_connection_reaches_the_client_factory_and_the_deferred() {
    let reactor = Reactor::new().unwrap();
    let factory = Arc::new(RecordingClientFactory::default());
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    let refused = refused_port::RefusedPort::new();
    let address = refused.address();
    reactor
        .connect(address, factory.clone())
        .add_both(move |result: Result<ProtocolHandle<Recorder>, Failure>| {
            *o.lock().unwrap() = Some(result.map(|_| ()).map_err(|failure| failure.to_string()));
            let _ = r.stop();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        *factory.events.lock().unwrap(),
        ["connecting", "start", "failed:ConnectionRefused", "stop"]
    );
    let message = outcome.lock().unwrap().clone().unwrap().unwrap_err();
    assert!(
        message.starts_with(&format!("connection to {address} failed")),
        "{message}"
    );
}

#[test]
fn a_client_factory_sees_build_made_and_lost_in_order() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    let factory = Arc::new(RecordingClientFactory::default());
    let r = reactor.clone();
    reactor
        .connect(port.local_addr(), factory.clone())
        .add_callback(move |handle| {
            let r = r.clone();
            // The handle fires after connection_made: the protocol already asked to close.
            assert!(handle.transport().is_closing());
            handle
                .call(|_, _| ())
                .add_both(move |result| {
                    // Queued after the close: it may run or fail, but it always fires.
                    let _ = result;
                    let _ = r.stop();
                })
                .detach();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    let events = factory.events.lock().unwrap();
    assert_eq!(events[..3], ["connecting", "start", "build"]);
    assert_eq!(events[3..], ["lost:true", "stop"]);
    assert_eq!(factory.seen.lock().unwrap().made, 1);
}

#[test]
fn a_client_refused_by_its_own_factory_fails_with_no_protocol() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen("127.0.0.1:0", factory_fn(|_: &Address| Echo))
        .unwrap();
    struct RefusingClient;
    impl ProtocolFactory for RefusingClient {
        type Protocol = Echo;
        fn build_protocol(&self, _: &Address) -> Option<Echo> {
            None
        }
    }
    impl ClientFactory for RefusingClient {}
    let outcome = Arc::new(Mutex::new(String::new()));
    let (o, r) = (outcome.clone(), reactor.clone());
    reactor
        .connect(port.local_addr(), RefusingClient)
        .add_errback(move |failure: Failure| {
            *o.lock().unwrap() = failure.to_string();
            let _ = r.stop();
            Err::<ProtocolHandle<Echo>, _>(failure)
        })
        .add_both(|result| Ok::<bool, Failure>(result.is_err()))
        .detach();
    run_bounded(&reactor, LIMIT);
    assert!(outcome
        .lock()
        .unwrap()
        .starts_with("the factory refused the connection"));
}

#[test]
fn a_connection_attempt_that_gets_no_answer_times_out() {
    // A listener that never accepts, with a backlog of 1: once its queue is full, the
    // kernel drops further SYNs and a connection attempt hears nothing back.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let silent = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.listen(1).unwrap()
    });
    let address = silent.local_addr().unwrap();
    let mut fillers = Vec::new();
    let queue_full =
        (0..16).any(
            |_| match StdStream::connect_timeout(&address, Duration::from_millis(200)) {
                Ok(stream) => {
                    fillers.push(stream);
                    false
                }
                Err(_) => true,
            },
        );
    assert!(queue_full, "could not fill the listen queue");

    let reactor = Reactor::new().unwrap();
    let factory = Arc::new(RecordingClientFactory::default());
    let outcome = Arc::new(Mutex::new(None));
    let (o, r) = (outcome.clone(), reactor.clone());
    reactor
        .connect(
            TcpClient::new(address.ip().to_string(), address.port())
                .timeout(Duration::from_millis(300)),
            factory.clone(),
        )
        .add_both(move |result| {
            *o.lock().unwrap() = Some(match result {
                Err(failure) => matches!(
                    failure.downcast_ref::<Error>(),
                    Some(Error::ConnectTimeout { .. })
                ),
                Ok(_) => false,
            });
            let _ = r.stop();
        })
        .detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*outcome.lock().unwrap(), Some(true));
    let events = factory.events.lock().unwrap();
    assert!(
        events
            .iter()
            .any(|event| event.starts_with("failed:connection to") && event.contains("timed out")),
        "{events:?}"
    );
    drop(fillers);
    drop(silent);
}
