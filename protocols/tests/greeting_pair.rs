//! GreetingGetter and GreetingServer talking to each other over the in-memory loopback
//! pair, in every chunk size.

use std::sync::{Arc, Mutex};

use torsade::testing::Loopback;
use torsade::{ConnectionError, DisconnectReason};
use torsade_protocols::{Error, GreetingGetter, GreetingServer, LineOnlyReceiver};

#[test]
fn the_getter_gets_its_greeting_from_the_server() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let slot = heard.clone();
    let getter = GreetingGetter::new().on_connected(move |getter| {
        drop(
            getter
                .get_greeting("World")
                .add_callback(move |greeting| slot.lock().unwrap().push(greeting)),
        );
    });
    let mut pair = Loopback::new(GreetingServer::protocol(), getter.into_protocol());
    pair.pump();
    assert_eq!(*heard.lock().unwrap(), ["Hello, World!"]);
}

#[test]
fn the_greeting_arrives_whatever_the_chunk_size() {
    for chunk in 1..=16 {
        let mut pair = Loopback::new(
            GreetingServer::protocol(),
            GreetingGetter::new().into_protocol(),
        );
        pair.set_chunk_size(Some(chunk));
        let mut greeting = pair
            .client_mut()
            .protocol_mut()
            .handler_mut()
            .get_greeting("World");
        pair.pump();
        assert_eq!(
            greeting.take_result().unwrap().unwrap(),
            "Hello, World!",
            "chunks of {chunk}"
        );
    }
}

#[test]
fn a_reset_while_waiting_fails_the_pending_greeting() {
    let mut pair = Loopback::new(
        GreetingServer::protocol(),
        GreetingGetter::new().into_protocol(),
    );
    let mut greeting = pair
        .client_mut()
        .protocol_mut()
        .handler_mut()
        .get_greeting("World");
    pair.reset();
    let failure = greeting.take_result().unwrap().unwrap_err();
    match failure.downcast_ref::<Error>() {
        Some(Error::ConnectionClosed {
            reason: DisconnectReason::Lost(ConnectionError::Io(error)),
        }) => {
            assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn greetings_and_server_errors_alternate_on_one_connection() {
    let small = LineOnlyReceiver::new(GreetingServer::new()).with_max_length(5);
    let mut pair = Loopback::new(small, GreetingGetter::new().into_protocol());
    for (name, answer) in [
        ("Ada", Ok("Hello, Ada!")),
        ("Alexander", Err("name too long")),
        ("Zoë", Ok("Hello, Zoë!")),
        ("Annabelle", Err("name too long")),
        ("Bob", Ok("Hello, Bob!")),
    ] {
        let mut deferred = pair
            .client_mut()
            .protocol_mut()
            .handler_mut()
            .get_greeting(name);
        pair.pump();
        match (deferred.take_result().unwrap(), answer) {
            (Ok(greeting), Ok(expected)) => assert_eq!(greeting, expected),
            (Err(failure), Err(expected)) => match failure.downcast_ref::<Error>() {
                Some(Error::ServerError { message }) => assert_eq!(message, expected),
                other => panic!("unexpected {other:?}"),
            },
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
    assert!(!pair.client().is_closing() && !pair.server().is_closing());
}
