//! GreetingServer: greetings, error lines, and a connection that stays usable after them.

mod common;

use common::same_for_every_chunking;
use torsade::testing::TestConnection;
use torsade::{Address, ProtocolFactory};
use torsade_protocols::{GreetingServer, LineOnlyReceiver};

/// What the server writes for `input`, the same for every chunking.
fn answers(build: impl Fn() -> LineOnlyReceiver<GreetingServer>, input: &[u8]) -> Vec<u8> {
    let outcome = same_for_every_chunking(build, |_| Vec::new(), input);
    assert!(!outcome.closing, "the server closed the connection");
    outcome.written
}

#[test]
fn a_name_is_answered_with_a_greeting() {
    assert_eq!(
        answers(GreetingServer::protocol, b"World\r\n"),
        b"Hello, World!\r\n"
    );
}

#[test]
fn names_are_answered_in_order() {
    assert_eq!(
        answers(
            GreetingServer::protocol,
            "Ada\r\nGrace\r\nZoë\r\n".as_bytes()
        ),
        "Hello, Ada!\r\nHello, Grace!\r\nHello, Zoë!\r\n".as_bytes()
    );
}

#[test]
fn an_empty_name_gets_an_error_line_and_the_connection_stays_usable() {
    assert_eq!(
        answers(GreetingServer::protocol, b"\r\nBob\r\n"),
        b"ERROR empty name\r\nHello, Bob!\r\n"
    );
}

#[test]
fn a_name_that_is_not_utf8_gets_an_error_line_and_the_connection_stays_usable() {
    assert_eq!(
        answers(GreetingServer::protocol, b"\xff\xfe\r\nBob\r\n"),
        b"ERROR name is not valid UTF-8\r\nHello, Bob!\r\n"
    );
}

#[test]
fn a_name_with_a_lone_line_break_gets_an_error_line() {
    assert_eq!(
        answers(GreetingServer::protocol, b"a\nb\r\nc\rd\r\nBob\r\n"),
        b"ERROR name contains a line break\r\nERROR name contains a line break\r\nHello, Bob!\r\n"
    );
}

#[test]
fn a_name_over_the_limit_gets_one_error_line_and_its_rest_is_discarded() {
    let small = || LineOnlyReceiver::new(GreetingServer::new()).with_max_length(4);
    assert_eq!(
        answers(small, b"Alexander\r\nBob\r\nAnnabelle\r\r\nEve\r\n"),
        b"ERROR name too long\r\nHello, Bob!\r\nERROR name too long\r\nHello, Eve!\r\n"
    );
}

#[test]
fn the_default_limit_is_16384_bytes_per_name() {
    let mut input = vec![b'n'; 16384];
    input.extend_from_slice(b"\r\n");
    input.extend(std::iter::repeat_n(b'o', 40_000));
    input.extend_from_slice(b"\r\nBob\r\n");
    for chunk_size in [1, 7, 4096, input.len()] {
        let mut connection = TestConnection::new(GreetingServer::protocol());
        connection.receive_in_chunks(&input, chunk_size);
        let mut expected = b"Hello, ".to_vec();
        expected.extend(std::iter::repeat_n(b'n', 16384));
        expected.extend_from_slice(b"!\r\nERROR name too long\r\nHello, Bob!\r\n");
        assert_eq!(
            connection.take_written(),
            expected,
            "chunks of {chunk_size}"
        );
        assert!(!connection.is_closing());
    }
}

#[test]
fn the_factory_builds_a_greeting_protocol_per_connection() {
    let factory = GreetingServer::factory();
    let peer = Address::Tcp("127.0.0.1:50000".parse().unwrap());
    let protocol = factory.build_protocol(&peer).expect("a protocol");
    let mut connection = TestConnection::new(protocol);
    connection.receive(b"Factory\r\n");
    assert_eq!(connection.take_written(), &b"Hello, Factory!\r\n"[..]);
}
