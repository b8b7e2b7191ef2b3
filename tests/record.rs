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
            EventKind::TlsStarted => "tls",
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
fn nothing_is_recorded_unless_the_factory_is_wrapped() {
    use torsade::ProtocolFactory;

    assert!(GreetingServer::factory().recorder().is_none());
    assert!(Arc::new(GreetingServer::factory()).recorder().is_none());
    let recorder = Recorder::in_memory(1);
    let wrapped = Arc::new(recorder.wrap(GreetingServer::factory()));
    assert_eq!(wrapped.recorder().map(Recorder::limit), Some(1 << 20));
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

#[test]
fn a_reconnecting_clients_connections_are_recorded_too() {
    let reactor = Reactor::new().unwrap();
    let recorder = recorder_stopping(&reactor, 2, 1 << 20);
    let port = reactor
        .listen(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            recorder.wrap(GreetingServer::factory()),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let factory = recorder.wrap(factory_fn(|_: &Address| AskOnce::new("Bob")));
    let client =
        torsade::ReconnectingClient::connect(reactor.clone(), TcpClient::from(address), factory)
            .unwrap();
    run_bounded(&reactor, LIMIT);
    client.stop_trying();
    let (server, client) = split_sides(recorder.take_transcripts());
    assert_eq!(client.sent(), b"Bob\r\n");
    assert_eq!(server.sent(), b"Hello, Bob!\r\n");
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
    assert_eq!(outline(&server)[..3], ["tls", "in", "out"]);
    assert_eq!(
        outline(&client)[..2],
        ["out", "in"],
        "its handshake came before it started"
    );
    replay(&server, GreetingServer::protocol()).unwrap();
    replay(&client, AskOnce::new("Ada")).unwrap();
}

/// STARTTLS on both sides: `PLAIN` is echoed in the clear, `STARTTLS` answered `READY`
/// before the switch, `SECRET` echoed after it; the client hangs up on that echo.
#[cfg(feature = "test-certificates")]
mod starttls {
    use std::sync::Arc;

    use torsade::tls::rustls::{ClientConfig, ServerConfig};
    use torsade::tls::StartTls;
    use torsade::Transport;
    use torsade_protocols::{Line, LineContext, LineHandler};

    pub struct Server(pub Arc<ServerConfig>);

    impl LineHandler for Server {
        fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
            if &line[..] == b"STARTTLS" {
                lines.send_line(b"READY");
                lines.start_tls(StartTls::server(self.0.clone())).unwrap();
            } else {
                lines.send_line(&[&b"ECHO "[..], &line].concat());
            }
        }
    }

    pub struct Client(pub Arc<ClientConfig>);

    impl LineHandler for Client {
        fn connection_made(&mut self, lines: &mut LineContext<'_>) {
            lines.send_line(b"PLAIN");
        }

        fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
            match &line[..] {
                b"ECHO PLAIN" => lines.send_line(b"STARTTLS"),
                b"READY" => {
                    let tls = StartTls::client("localhost", self.0.clone()).unwrap();
                    lines.start_tls(tls).unwrap();
                    lines.send_line(b"SECRET");
                }
                _ => lines.lose_connection(),
            }
        }
    }
}

#[cfg(feature = "test-certificates")]
#[test]
fn a_starttls_session_is_recorded_in_plaintext_on_both_sides_of_the_switch() {
    use torsade::testing::TestCertificates;
    use torsade_protocols::LineOnlyReceiver;

    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let (server_config, client_config) = (
        certificates.server_config().unwrap(),
        certificates.client_config().unwrap(),
    );
    let reactor = Reactor::new().unwrap();
    let recorder = recorder_stopping(&reactor, 2, 1 << 20);
    let server = factory_fn(move |_: &Address| {
        LineOnlyReceiver::new(starttls::Server(server_config.clone()))
    });
    let port = reactor
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)), recorder.wrap(server))
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let client = factory_fn(move |_: &Address| {
        LineOnlyReceiver::new(starttls::Client(client_config.clone()))
    });
    reactor
        .connect(TcpClient::from(address), recorder.wrap(client))
        .detach();
    run_bounded(&reactor, LIMIT);
    let (server, client) = split_sides(recorder.take_transcripts());

    assert!(!server.tls && !client.tls, "both started in the clear");
    assert_eq!(server.received(), b"PLAIN\r\nSTARTTLS\r\nSECRET\r\n");
    assert_eq!(server.sent(), b"ECHO PLAIN\r\nREADY\r\nECHO SECRET\r\n");
    assert_eq!(client.sent(), server.received());
    assert_eq!(client.received(), server.sent());
    for (transcript, last_before, first_after) in [
        (&server, EventKind::Sent("READY\r\n".into()), b"SECRET\r\n"),
        (
            &client,
            EventKind::Received("READY\r\n".into()),
            b"SECRET\r\n",
        ),
    ] {
        let kinds: Vec<&EventKind> = transcript.events.iter().map(|event| &event.kind).collect();
        let switch = kinds
            .iter()
            .position(|kind| **kind == EventKind::TlsStarted)
            .expect("the switch is recorded");
        assert_eq!(kinds[..switch].last(), Some(&&last_before), "{kinds:?}");
        let after = kinds[switch + 1..]
            .iter()
            .find_map(|kind| match kind {
                EventKind::Received(bytes) | EventKind::Sent(bytes) => Some(bytes),
                _ => None,
            })
            .unwrap();
        assert_eq!(&after[..], first_after, "{kinds:?}");
    }
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
    transcript.push(us(10), EventKind::TlsStarted);
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

/// One packet of a capture, read back.
#[derive(Debug)]
struct Packet {
    at: Duration,
    source: SocketAddr,
    destination: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The Internet checksum over `parts`: zero when they hold their own right checksum.
fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut sum: u64 = bytes
        .chunks(2)
        .map(|pair| u64::from(pair[0]) << 8 | u64::from(*pair.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Reads a pcap file of raw IP packets, checking its header, each length and checksum.
fn read_pcap(file: &[u8]) -> Vec<Packet> {
    assert_eq!(
        le32(file, 0),
        0xa1b2_c3d4,
        "microsecond pcap, little-endian"
    );
    assert_eq!(file[4..8], [2, 0, 4, 0], "version 2.4");
    assert_eq!(le32(file, 20), 101, "LINKTYPE_RAW");
    let mut packets = Vec::new();
    let mut at = 24;
    while at < file.len() {
        let time = Duration::from_secs(le32(file, at).into())
            + Duration::from_micros(le32(file, at + 4).into());
        let length = le32(file, at + 8) as usize;
        assert_eq!(le32(file, at + 12) as usize, length, "nothing cut");
        let ip = &file[at + 16..at + 16 + length];
        at += 16 + length;
        let (source, destination, tcp, pseudo): (std::net::IpAddr, std::net::IpAddr, _, Vec<u8>) =
            match ip[0] >> 4 {
                4 => {
                    assert_eq!(ip[0] & 0x0f, 5);
                    assert_eq!(usize::from(be16(ip, 2)), ip.len());
                    assert_eq!(ip[9], 6, "TCP");
                    assert_eq!(internet_checksum(&[&ip[..20]]), 0, "IPv4 header checksum");
                    let source: [u8; 4] = ip[12..16].try_into().unwrap();
                    let destination: [u8; 4] = ip[16..20].try_into().unwrap();
                    let tcp = &ip[20..];
                    let mut pseudo = [&ip[12..20], &[0, 6]].concat();
                    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
                    (source.into(), destination.into(), tcp, pseudo)
                }
                6 => {
                    assert_eq!(usize::from(be16(ip, 4)), ip.len() - 40);
                    assert_eq!(ip[6], 6, "TCP");
                    let source: [u8; 16] = ip[8..24].try_into().unwrap();
                    let destination: [u8; 16] = ip[24..40].try_into().unwrap();
                    let tcp = &ip[40..];
                    let mut pseudo = ip[8..40].to_vec();
                    pseudo.extend_from_slice(&(tcp.len() as u32).to_be_bytes());
                    pseudo.extend_from_slice(&[0, 0, 0, 6]);
                    (source.into(), destination.into(), tcp, pseudo)
                }
                version => panic!("IP version {version}"),
            };
        assert_eq!(internet_checksum(&[&pseudo, tcp]), 0, "TCP checksum");
        assert_eq!(tcp[12] >> 4, 5, "a 20-byte TCP header");
        packets.push(Packet {
            at: time,
            source: SocketAddr::new(source, be16(tcp, 0)),
            destination: SocketAddr::new(destination, be16(tcp, 2)),
            seq: be32(tcp, 4),
            ack: be32(tcp, 8),
            flags: tcp[13],
            payload: tcp[20..].to_vec(),
        });
    }
    packets
}

/// Checks the packets make one TCP connection from `client` to `server`: the handshake,
/// then every segment's sequence number following on from its side's last, and
/// acknowledging all the other side sent. Returns what each side sent, in order.
fn follow_tcp(packets: &[Packet], client: SocketAddr, server: SocketAddr) -> (Vec<u8>, Vec<u8>) {
    let flags: Vec<u8> = packets[..3].iter().map(|packet| packet.flags).collect();
    assert_eq!(flags, [SYN, SYN | ACK, ACK]);
    assert_eq!(
        (packets[0].source, packets[0].destination),
        (client, server)
    );
    assert_eq!(
        (packets[1].source, packets[1].destination),
        (server, client)
    );
    let mut next = [packets[0].seq, packets[1].seq];
    let mut sent = [Vec::new(), Vec::new()];
    for packet in packets {
        let from = usize::from(packet.source == server);
        assert_eq!(
            (packet.source, packet.destination),
            if from == 0 {
                (client, server)
            } else {
                (server, client)
            }
        );
        assert_eq!(packet.seq, next[from], "{packet:?}");
        if packet.flags & ACK != 0 {
            assert_eq!(packet.ack, next[1 - from], "{packet:?}");
        }
        let control = u32::from(packet.flags & (SYN | FIN) != 0);
        next[from] = next[from].wrapping_add(packet.payload.len() as u32 + control);
        sent[from].extend_from_slice(&packet.payload);
    }
    let [client_sent, server_sent] = sent;
    (client_sent, server_sent)
}

#[test]
fn a_recorded_session_exports_as_a_tcp_capture() {
    let (server, _) = record_over_tcp("World", 1 << 20);
    let mut file = Vec::new();
    server.write_pcap(&mut file).unwrap();
    let packets = read_pcap(&file);
    let local: SocketAddr = server.local.parse().unwrap();
    let peer: SocketAddr = server.peer.parse().unwrap();
    let (client_sent, server_sent) = follow_tcp(&packets, peer, local);
    assert_eq!(client_sent, server.received());
    assert_eq!(server_sent, server.sent());
    // One packet per event after the handshake, at the event's time; FINs both ways.
    let after_handshake: Vec<(Duration, u8)> = packets[3..]
        .iter()
        .map(|packet| (packet.at, packet.flags))
        .collect();
    let expected: Vec<(Duration, u8)> = server
        .events
        .iter()
        .filter_map(|event| {
            let flags = match event.kind {
                EventKind::Received(_) | EventKind::Sent(_) => PSH | ACK,
                EventKind::PeerEof | EventKind::WriteShut => FIN | ACK,
                _ => return None,
            };
            Some((event.at, flags))
        })
        .collect();
    assert_eq!(after_handshake, expected);
}

#[test]
fn a_capture_cuts_long_chunks_into_segments_and_speaks_ipv6() {
    let mut transcript = Transcript::new(Side::Client, "[::1]:40000", "[::1]:80", false);
    let long: Vec<u8> = (0..40_000).map(|i| (i % 251) as u8).collect();
    transcript.push(
        Duration::from_millis(1),
        EventKind::Sent(Bytes::from(long.clone())),
    );
    transcript.push(
        Duration::from_millis(2),
        EventKind::Received(Bytes::from_static(b"ok")),
    );
    transcript.push(Duration::from_millis(3), EventKind::Closed(Closed::Aborted));
    let mut file = Vec::new();
    transcript.write_pcap(&mut file).unwrap();
    let packets = read_pcap(&file);
    let (local, peer) = ("[::1]:40000".parse().unwrap(), "[::1]:80".parse().unwrap());
    let (client_sent, server_sent) = follow_tcp(&packets, local, peer);
    assert_eq!(client_sent, long);
    assert_eq!(server_sent, b"ok");
    let sizes: Vec<usize> = packets.iter().map(|packet| packet.payload.len()).collect();
    let max = torsade::record::PCAP_MAX_SEGMENT;
    assert_eq!(sizes, [0, 0, 0, max, max, 40_000 - 2 * max, 2, 0]);
    assert_eq!(packets[7].flags, RST | ACK);
    assert_eq!(packets[7].source, local);

    // Addresses that are not IP become made-up IPv4 ones.
    let unix = Transcript::new(Side::Server, "unix:/run/a.sock", "unix:(unnamed)", false);
    let mut file = Vec::new();
    unix.write_pcap(&mut file).unwrap();
    let packets = read_pcap(&file);
    assert_eq!(packets[0].source, "10.0.0.2:54321".parse().unwrap());
    assert_eq!(packets[0].destination, "10.0.0.1:12345".parse().unwrap());
}
