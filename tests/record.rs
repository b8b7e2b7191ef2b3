//! Recording connections on the reactor (over TCP and TLS, within a size limit) and
//! replaying the transcripts in memory; the text format's round trip and its malformed
//! inputs; the pcap export.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{run_bounded, LIMIT};
use torsade::endpoints::TcpClient;
use torsade::prelude::*;
use torsade::record::{
    Closed, EventKind, LineProblem, Recorder, Side, Transcript, TranscriptError,
};
use torsade::testing::{replay, ReplayMismatch};
use torsade::{factory_fn, Address, Reactor};
use torsade_protocols::GreetingServer;

/// Asks for a greeting for `name` as soon as it is connected, and hangs up once the
/// answer's line has come.
struct AskOnce {
    name: &'static str,
    answer: Vec<u8>,
}

impl AskOnce {
    fn new(name: &'static str) -> AskOnce {
        AskOnce {
            name,
            answer: Vec::new(),
        }
    }
}

impl Protocol for AskOnce {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        cx.write(format!("{}\r\n", self.name).as_bytes());
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.answer.extend_from_slice(&data);
        if self.answer.ends_with(b"\r\n") {
            cx.lose_connection();
        }
    }
}

/// A recorder keeping what it records in memory, that stops `reactor` once it has
/// `count` transcripts.
fn recorder_stopping(reactor: &Reactor, count: u64, limit: usize) -> Recorder {
    let stopper = reactor.clone();
    let seen = Arc::new(AtomicU64::new(0));
    Recorder::in_memory(10)
        .with_limit(limit)
        .on_recorded(move |_| {
            if seen.fetch_add(1, Ordering::AcqRel) + 1 == count {
                let _ = stopper.stop();
            }
        })
}

/// Records a greeting server and an `AskOnce` client for `name` over loopback TCP:
/// the server's transcript, then the client's.
fn record_over_tcp(name: &'static str, limit: usize) -> (Transcript, Transcript) {
    let reactor = Reactor::new().unwrap();
    let recorder = recorder_stopping(&reactor, 2, limit);
    let port = reactor
        .listen(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            recorder.wrap(GreetingServer::factory()),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let client = recorder.wrap(factory_fn(move |_: &Address| AskOnce::new(name)));
    reactor.connect(TcpClient::from(address), client).detach();
    run_bounded(&reactor, LIMIT);
    split_sides(recorder.take_transcripts())
}

/// The server's transcript and the client's, of the two given.
fn split_sides(transcripts: Vec<Transcript>) -> (Transcript, Transcript) {
    assert_eq!(transcripts.len(), 2, "{transcripts:?}");
    let (servers, clients): (Vec<_>, Vec<_>) = transcripts
        .into_iter()
        .partition(|transcript| transcript.side == Side::Server);
    (servers[0].clone(), clients[0].clone())
}

/// The kinds of a transcript's events, with their payloads joined: what a recording of
/// one greeting holds however TCP cut the bytes.
fn outline(transcript: &Transcript) -> Vec<String> {
    let mut outline: Vec<String> = Vec::new();
    for event in &transcript.events {
        let word = match &event.kind {
            EventKind::Received(_) => "in",
            EventKind::Sent(_) => "out",
            EventKind::PeerEof => "eof-in",
            EventKind::WriteShut => "eof-out",
            EventKind::Truncated => "truncated",
            EventKind::Closed(Closed::Done) => "close done",
            EventKind::Closed(_) => "close other",
            _ => "other",
        };
        if outline.last().map(String::as_str) != Some(word) {
            outline.push(word.to_string());
        }
    }
    outline
}

#[test]
fn a_tcp_session_is_recorded_on_both_sides_and_replays_against_each() {
    let (server, client) = record_over_tcp("World", 1 << 20);

    assert!(!server.tls);
    assert_eq!(server.received(), b"World\r\n");
    assert_eq!(server.sent(), b"Hello, World!\r\n");
    assert_eq!(
        outline(&server),
        ["in", "out", "eof-in", "eof-out", "close done"]
    );
    assert_eq!(server.peer, client.local);
    assert_eq!(server.local, client.peer);
    assert_eq!(client.sent(), b"World\r\n");
    assert_eq!(client.received(), b"Hello, World!\r\n");
    assert_eq!(outline(&client)[..3], ["out", "in", "eof-out"]);
    assert!(server
        .events
        .windows(2)
        .all(|pair| pair[0].at <= pair[1].at));

    let report = replay(&server, GreetingServer::protocol()).unwrap();
    assert_eq!((report.received, report.sent), (7, 15));
    assert!(!report.truncated);
    let report = replay(&client, AskOnce::new("World")).unwrap();
    assert_eq!((report.received, report.sent), (15, 7));

    // What was recorded reads back from its text as it was.
    assert_eq!(Transcript::parse(&server.to_text()).unwrap(), server);
    assert_eq!(Transcript::parse(&client.to_text()).unwrap(), client);
}

#[cfg(feature = "test-certificates")]
#[test]
fn a_tls_session_is_recorded_as_its_plaintext_and_replays() {
    use torsade::endpoints::{TcpServer, TlsClient, TlsServer};
    use torsade::testing::TestCertificates;

    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let reactor = Reactor::new().unwrap();
    let recorder = recorder_stopping(&reactor, 2, 1 << 20);
    let endpoint = TlsServer::new(
        TcpServer::from(SocketAddr::from(([127, 0, 0, 1], 0))),
        certificates.server_config().unwrap(),
    );
    let port = reactor
        .listen(endpoint, recorder.wrap(GreetingServer::factory()))
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let dialer = TlsClient::new(
        TcpClient::from(address),
        "localhost",
        certificates.client_config().unwrap(),
    )
    .unwrap();
    let client = recorder.wrap(factory_fn(|_: &Address| AskOnce::new("Ada")));
    reactor.connect(dialer, client).detach();
    run_bounded(&reactor, LIMIT);
    let (server, client) = split_sides(recorder.take_transcripts());

    assert!(server.tls && client.tls);
    assert_eq!(server.received(), b"Ada\r\n", "the plaintext, above TLS");
    assert_eq!(server.sent(), b"Hello, Ada!\r\n");
    assert_eq!(client.sent(), b"Ada\r\n");
    assert_eq!(client.received(), b"Hello, Ada!\r\n");
    assert_eq!(outline(&server)[..2], ["in", "out"]);
    replay(&server, GreetingServer::protocol()).unwrap();
    replay(&client, AskOnce::new("Ada")).unwrap();
}

#[test]
fn a_recording_stops_at_its_limit_and_its_replay_says_so() {
    let name = "a-name-long-enough-to-pass-the-limit-of-the-recording";
    let limit = 40;
    let (server, client) = record_over_tcp(name, limit);

    for transcript in [&server, &client] {
        assert!(transcript.is_truncated(), "{}", transcript.to_text());
        let recorded: usize = transcript
            .events
            .iter()
            .filter(|event| !matches!(event.kind, EventKind::Truncated | EventKind::Closed(_)))
            .map(|event| match &event.kind {
                EventKind::Received(bytes) | EventKind::Sent(bytes) => bytes.len() + 16,
                _ => 16,
            })
            .sum();
        assert!(recorded <= limit, "{recorded} bytes recorded");
        assert_eq!(
            transcript.events.last().map(|event| &event.kind),
            Some(&EventKind::Closed(Closed::Done)),
            "the close is recorded past the limit"
        );
    }
    assert_eq!(server.received(), name.as_bytes()[..limit - 16].to_vec());
    assert!(server.sent().is_empty());

    let report = replay(&server, GreetingServer::protocol()).unwrap();
    assert!(report.truncated);
    assert_eq!(report.received, limit - 16);
}

/// A greeting server that says "Howdy" instead.
struct Howdy;

impl Protocol for Howdy {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let name = String::from_utf8_lossy(&data);
        cx.write(format!("Howdy, {}!\r\n", name.trim_end()).as_bytes());
    }

    fn eof_received(&mut self, _: &mut Context<'_, Self>) -> bool {
        false
    }
}

/// A server's transcript of one greeting, by hand: `World` asked at 1 ms, the answer.
fn greeting_transcript(close: bool) -> Transcript {
    let mut transcript = Transcript::new(Side::Server, "127.0.0.1:1079", "127.0.0.1:5000", false);
    let ms = Duration::from_millis;
    transcript.push(ms(1), EventKind::Received(Bytes::from_static(b"World\r\n")));
    transcript.push(
        ms(1),
        EventKind::Sent(Bytes::from_static(b"Hello, World!\r\n")),
    );
    if close {
        transcript.push(ms(5), EventKind::PeerEof);
        transcript.push(ms(5), EventKind::WriteShut);
        transcript.push(ms(5), EventKind::Closed(Closed::Done));
    }
    transcript
}

#[test]
fn a_replay_reports_the_first_byte_that_differs() {
    let mismatch = replay(&greeting_transcript(true), Howdy).unwrap_err();
    assert_eq!(
        mismatch,
        ReplayMismatch::Sent {
            offset: 1,
            at: Duration::from_millis(1),
            expected: r#""ello, World!\r\n""#.to_string(),
            got: r#""owdy, World!\r\n""#.to_string(),
        }
    );
    assert_eq!(
        mismatch.to_string(),
        r#"at 1ms, from byte 1 of what the protocol sent: expected "ello, World!\r\n", got "owdy, World!\r\n""#
    );
}

/// Says nothing, and closes when the peer does.
struct Silent;

impl Protocol for Silent {
    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
}

/// Answers like the greeting server, then hangs up.
struct GreetAndHangUp;

impl Protocol for GreetAndHangUp {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, _: Bytes) {
        cx.write(b"Hello, World!\r\n");
        cx.lose_connection();
    }
}

#[test]
fn a_replay_reports_missing_bytes_and_a_close_of_one_side_only() {
    match replay(&greeting_transcript(true), Silent) {
        Err(ReplayMismatch::Sent {
            offset: 0,
            expected,
            got,
            ..
        }) => {
            assert_eq!(expected, r#""Hello, World!\r\n""#);
            assert_eq!(got, r#""""#);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        replay(&greeting_transcript(false), GreetAndHangUp),
        Err(ReplayMismatch::Close {
            at: Duration::from_millis(1),
            recorded: false,
            replayed: true,
        })
    );
    assert_eq!(
        replay(&greeting_transcript(true), GreetingServer::protocol())
            .unwrap()
            .duration,
        Duration::from_millis(5)
    );
}

/// A transcript with every kind of event and every byte value.
fn every_event() -> Transcript {
    let mut transcript = Transcript::new(Side::Client, "unix:/tmp/a \"b\"", "[::1]:80", true);
    let all: Vec<u8> = (0..=255).collect();
    let us = Duration::from_micros;
    transcript.push(us(0), EventKind::Sent(Bytes::from(all.clone())));
    transcript.push(
        us(7),
        EventKind::Received(Bytes::from_static(b"\\\"\r\n\t x")),
    );
    transcript.push(us(7), EventKind::Received(Bytes::new()));
    transcript.push(us(9), EventKind::PeerEof);
    transcript.push(us(10), EventKind::WriteShut);
    transcript.push(us(10), EventKind::Truncated);
    transcript.push(
        us(1_000_000_000_000),
        EventKind::Closed(Closed::Lost("reset by peer: é".to_string())),
    );
    transcript
}

#[test]
fn every_transcript_reads_back_from_its_text() {
    let transcript = every_event();
    let text = transcript.to_text();
    assert!(text.is_ascii(), "{text}");
    assert_eq!(Transcript::parse(&text).unwrap(), transcript);
    for closed in [Closed::Done, Closed::Aborted] {
        let mut transcript = greeting_transcript(false);
        transcript.push(Duration::from_millis(2), EventKind::Closed(closed));
        assert_eq!(
            Transcript::parse(&transcript.to_text()).unwrap(),
            transcript
        );
    }
    // Comments and empty lines are skipped.
    let commented = text.replacen("\n", "\n# a comment\n\n", 3);
    assert_eq!(Transcript::parse(&commented).unwrap(), transcript);
}

const HEADER: &str = "torsade-transcript 1\nside server\nlocal \"a\"\npeer \"b\"\ntls no\n";

fn malformed(text: &str) -> TranscriptError {
    Transcript::parse(text).unwrap_err()
}

fn at_line(line: usize, problem: LineProblem) -> TranscriptError {
    TranscriptError::Malformed { line, problem }
}

#[test]
fn malformed_transcripts_are_typed_errors() {
    assert_eq!(malformed(""), TranscriptError::NotATranscript);
    assert_eq!(
        malformed("GET / HTTP/1.1\r\n"),
        TranscriptError::NotATranscript
    );
    assert_eq!(
        malformed("torsade-transcript 2\n"),
        TranscriptError::UnsupportedVersion {
            version: "2".to_string()
        }
    );
    assert_eq!(
        malformed("torsade-transcript 1\nside server\n"),
        TranscriptError::MissingHeader { missing: "local" }
    );
    assert_eq!(
        malformed("torsade-transcript 1\nside both\n"),
        at_line(
            2,
            LineProblem::BadHeaderValue {
                key: "side",
                value: "both".to_string()
            }
        )
    );
    assert_eq!(
        malformed("torsade-transcript 1\nside server\npeer \"b\"\n"),
        at_line(3, LineProblem::ExpectedHeader { expected: "local" })
    );
    let cases: [(&str, LineProblem); 10] = [
        ("x in \"a\"", LineProblem::BadTime),
        ("-1 in \"a\"", LineProblem::BadTime),
        ("99999999999999999999999 in \"a\"", LineProblem::BadTime),
        (
            "5 sideways",
            LineProblem::UnknownEvent {
                kind: "sideways".to_string(),
            },
        ),
        ("5 in \"abc", LineProblem::BadQuoted { column: 10 }),
        ("5 in abc", LineProblem::BadQuoted { column: 6 }),
        ("5 out \"\\q\"", LineProblem::BadQuoted { column: 8 }),
        ("5 out \"\\x4\"", LineProblem::BadQuoted { column: 8 }),
        ("5 eof-in now", LineProblem::TrailingText),
        ("5 close lost \"\\xff\"", LineProblem::NotUtf8),
    ];
    for (line, problem) in cases {
        assert_eq!(
            malformed(&format!("{HEADER}{line}\n")),
            at_line(6, problem),
            "{line}"
        );
    }
    assert_eq!(
        malformed(&format!("{HEADER}5 in \"a\"\n4 out \"b\"\n")),
        at_line(7, LineProblem::TimeGoesBack)
    );
    assert_eq!(
        malformed(&format!("{HEADER}5 in \"a\" \"b\"\n")),
        at_line(6, LineProblem::TrailingText)
    );
    assert_eq!(
        malformed(&format!("{HEADER}5 in \"caf\u{e9}\"\n")),
        at_line(6, LineProblem::BadQuoted { column: 10 })
    );
}

#[test]
fn no_cut_or_changed_byte_of_a_transcript_makes_the_parser_panic() {
    let text = every_event().to_text();
    let bytes = text.as_bytes();
    for cut in 0..bytes.len() {
        let _ = Transcript::parse(&String::from_utf8_lossy(&bytes[..cut]));
    }
    for at in 0..bytes.len() {
        for replacement in [b' ', b'"', b'\\', b'\n', b'x', b'0', 0xc3] {
            let mut changed = bytes.to_vec();
            changed[at] = replacement;
            let _ = Transcript::parse(&String::from_utf8_lossy(&changed));
        }
    }
}
