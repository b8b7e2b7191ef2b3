//! GreetingGetter and GreetingServer talking to each other over two in-memory connections.

mod common;

use std::sync::{Arc, Mutex};

use common::pump;
use torsade::testing::TestConnection;
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
    let mut client = TestConnection::new(getter.into_protocol());
    let mut server = TestConnection::new(GreetingServer::protocol());
    pump(&mut client, &mut server);
    assert_eq!(*heard.lock().unwrap(), ["Hello, World!"]);
}

#[test]
fn greetings_and_server_errors_alternate_on_one_connection() {
    let mut client = TestConnection::new(GreetingGetter::new().into_protocol());
    let small = LineOnlyReceiver::new(GreetingServer::new()).with_max_length(5);
    let mut server = TestConnection::new(small);
    for (name, answer) in [
        ("Ada", Ok("Hello, Ada!")),
        ("Alexander", Err("name too long")),
        ("Zoë", Ok("Hello, Zoë!")),
        ("Annabelle", Err("name too long")),
        ("Bob", Ok("Hello, Bob!")),
    ] {
        let mut deferred = client.protocol_mut().handler_mut().get_greeting(name);
        pump(&mut client, &mut server);
        match (deferred.take_result().unwrap(), answer) {
            (Ok(greeting), Ok(expected)) => assert_eq!(greeting, expected),
            (Err(failure), Err(expected)) => match failure.downcast_ref::<Error>() {
                Some(Error::ServerError { message }) => assert_eq!(message, expected),
                other => panic!("unexpected {other:?}"),
            },
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
    assert!(!client.is_closing() && !server.is_closing());
}
