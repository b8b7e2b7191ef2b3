//! GreetingGetter: greetings through Deferreds, and every way getting one can fail.

use std::sync::{Arc, Mutex};

use torsade::testing::TestConnection;
use torsade::{Deferred, DisconnectReason};
use torsade_protocols::{Error, GreetingGetter, LineOnlyReceiver};

fn connected() -> TestConnection<LineOnlyReceiver<GreetingGetter>> {
    TestConnection::new(GreetingGetter::new().into_protocol())
}

fn ask(
    connection: &mut TestConnection<LineOnlyReceiver<GreetingGetter>>,
    name: &str,
) -> Deferred<String> {
    connection.protocol_mut().handler_mut().get_greeting(name)
}

/// The greeting a Deferred fired with.
fn greeting(mut deferred: Deferred<String>) -> String {
    match deferred.take_result() {
        Some(Ok(greeting)) => greeting,
        other => panic!("expected a greeting, got {other:?}"),
    }
}

/// The error a Deferred failed with.
fn error(mut deferred: Deferred<String>) -> Error {
    match deferred.take_result() {
        Some(Err(failure)) => failure
            .downcast_ref::<Error>()
            .cloned()
            .unwrap_or_else(|| panic!("not a torsade_protocols::Error: {failure:?}")),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_greeting_arrives_through_the_deferred() {
    let mut connection = connected();
    let deferred = ask(&mut connection, "World");
    assert_eq!(connection.take_written(), &b"World\r\n"[..]);
    assert!(connection.protocol().handler().is_pending());
    connection.receive(b"Hello, Wor");
    connection.receive(b"ld!\r\n");
    assert_eq!(greeting(deferred), "Hello, World!");
    assert!(!connection.protocol().handler().is_pending());
}

#[test]
fn greetings_can_be_asked_one_after_another() {
    let mut connection = connected();
    for name in ["Ada", "Grace"] {
        let deferred = ask(&mut connection, name);
        connection.receive(format!("Hello, {name}!\r\n").as_bytes());
        assert_eq!(greeting(deferred), format!("Hello, {name}!"));
    }
    assert_eq!(connection.take_written(), &b"Ada\r\nGrace\r\n"[..]);
}

#[test]
fn the_connected_hook_can_ask_for_the_first_greeting() {
    let heard = Arc::new(Mutex::new(None));
    let slot = heard.clone();
    let getter = GreetingGetter::new().on_connected(move |getter| {
        drop(
            getter
                .get_greeting("World")
                .add_callback(move |greeting| *slot.lock().unwrap() = Some(greeting)),
        );
    });
    let mut connection = TestConnection::new(getter.into_protocol());
    assert_eq!(connection.take_written(), &b"World\r\n"[..]);
    connection.receive(b"Hello, World!\r\n");
    assert_eq!(heard.lock().unwrap().as_deref(), Some("Hello, World!"));
}

#[test]
fn a_second_request_fails_while_one_is_pending_and_leaves_it_untouched() {
    let mut connection = connected();
    let first = ask(&mut connection, "Ada");
    let second = ask(&mut connection, "Grace");
    assert!(matches!(error(second), Error::GreetingPending));
    assert_eq!(connection.take_written(), &b"Ada\r\n"[..]);
    connection.receive(b"Hello, Ada!\r\n");
    assert_eq!(greeting(first), "Hello, Ada!");
}

#[test]
fn asking_before_the_connection_is_up_fails() {
    let mut getter = GreetingGetter::new();
    assert!(matches!(
        error(getter.get_greeting("World")),
        Error::NotConnected
    ));
}

#[test]
fn invalid_names_fail_and_send_nothing() {
    let mut connection = connected();
    let longest = "n".repeat(16384);
    let too_long = "n".repeat(16385);
    for name in ["", "a\r\nb", "a\nb", "a\rb", too_long.as_str()] {
        assert!(
            matches!(error(ask(&mut connection, name)), Error::InvalidName { .. }),
            "{name:?}"
        );
    }
    assert!(connection.take_written().is_empty());
    let deferred = ask(&mut connection, &longest);
    connection.receive(format!("Hello, {longest}!\r\n").as_bytes());
    assert_eq!(greeting(deferred).len(), 16384 + 8);
}

#[test]
fn an_error_line_fails_the_greeting_with_the_server_message() {
    let mut connection = connected();
    let deferred = ask(&mut connection, "x");
    connection.receive(b"ERROR empty name\r\n");
    match error(deferred) {
        Error::ServerError { message } => assert_eq!(message, "empty name"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(!connection.is_closing());
    let deferred = ask(&mut connection, "Bob");
    connection.receive(b"Hello, Bob!\r\n");
    assert_eq!(greeting(deferred), "Hello, Bob!");
}

#[test]
fn a_reply_that_is_not_utf8_fails_the_greeting() {
    let mut connection = connected();
    let deferred = ask(&mut connection, "World");
    connection.receive(b"Hello, \xff!\r\n");
    assert!(matches!(error(deferred), Error::NotUtf8));
}

#[test]
fn an_over_long_reply_fails_the_greeting_and_closes_the_connection() {
    let mut connection = connected();
    let deferred = ask(&mut connection, "World");
    connection.receive(&vec![b'x'; 20_000]);
    assert!(matches!(
        error(deferred),
        Error::LineTooLong { max_length: 16392 }
    ));
    assert!(connection.is_closing());
}

#[test]
fn losing_the_connection_fails_the_pending_greeting_with_the_reason() {
    let mut connection = connected();
    let deferred = ask(&mut connection, "World");
    connection.disconnect(DisconnectReason::lost(
        std::io::ErrorKind::ConnectionReset.into(),
    ));
    match error(deferred) {
        Error::ConnectionClosed { reason } => {
            assert_eq!(
                reason.io_error().map(|e| e.kind()),
                Some(std::io::ErrorKind::ConnectionReset)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn asking_after_the_connection_is_gone_fails() {
    let mut connection = connected();
    connection.disconnect(DisconnectReason::Done);
    match error(ask(&mut connection, "World")) {
        Error::ConnectionClosed { reason } => assert!(reason.is_clean()),
        other => panic!("unexpected {other:?}"),
    }
    assert!(connection.take_written().is_empty());
}

#[test]
fn a_line_with_nothing_pending_is_ignored() {
    let mut connection = connected();
    connection.receive(b"Hello, nobody!\r\n");
    assert!(!connection.is_closing());
    let deferred = ask(&mut connection, "Bob");
    connection.receive(b"Hello, Bob!\r\n");
    assert_eq!(greeting(deferred), "Hello, Bob!");
}
