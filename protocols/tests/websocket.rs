//! The WebSocket protocols in memory: the handshake, echo on every split, refusal,
//! subprotocols, fragmentation, the limits (1009), UTF-8 (1007), masking per side (1002),
//! pings, the close handshake both ways and its timeout, an abrupt drop, sending from
//! outside. Misbehaving peers are raw frames built by hand.
#![cfg(feature = "websocket")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use torsade::testing::{every_split, Loopback, TestConnection};
use torsade::DisconnectReason;
use torsade_protocols::websocket::{
    CloseCode, ConnectDecision, ConnectionRequest, ConnectionResponse, WebSocketClient,
    WebSocketContext, WebSocketError, WebSocketHandler, WebSocketOptions, WebSocketSender,
    WebSocketServer,
};

const REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n\r\n";

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Connect {
        path: String,
        subprotocols: Vec<String>,
    },
    Response {
        status: u16,
        subprotocol: Option<String>,
    },
    HandshakeFailed(String),
    Open {
        subprotocol: Option<String>,
    },
    Message(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
}

/// Records every event; echoes messages when asked; decides the handshake as told.
#[derive(Default)]
struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
    echo: bool,
    decision: Option<ConnectDecision>,
    close_after_first_message: bool,
    sender: Option<WebSocketSender>,
}

impl Recorder {
    fn echo() -> Recorder {
        Recorder {
            echo: true,
            ..Recorder::default()
        }
    }

    fn push(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

impl WebSocketHandler for Recorder {
    fn on_connect(&mut self, request: &ConnectionRequest<'_>) -> ConnectDecision {
        self.push(Event::Connect {
            path: request.path().to_string(),
            subprotocols: request
                .subprotocols()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        });
        self.decision.clone().unwrap_or_default()
    }

    fn on_connect_response(&mut self, response: &ConnectionResponse<'_>) {
        self.push(Event::Response {
            status: response.status().as_u16(),
            subprotocol: response.subprotocol().map(str::to_string),
        });
    }

    fn on_handshake_failed(&mut self, error: WebSocketError) {
        self.push(Event::HandshakeFailed(error.to_string()));
    }

    fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
        self.sender = Some(ws.sender());
        self.push(Event::Open {
            subprotocol: ws.subprotocol().map(str::to_string),
        });
    }

    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
        self.push(Event::Message(payload.to_vec(), is_binary));
        if self.echo {
            ws.send_message(payload, is_binary).unwrap();
        }
        if std::mem::take(&mut self.close_after_first_message) {
            ws.send_close(CloseCode::NORMAL, "bye").unwrap();
        }
    }

    fn on_ping(&mut self, _: &mut WebSocketContext<'_>, payload: Bytes) {
        self.push(Event::Ping(payload.to_vec()));
    }

    fn on_pong(&mut self, _: &mut WebSocketContext<'_>, payload: Bytes) {
        self.push(Event::Pong(payload.to_vec()));
    }

    fn on_close(&mut self, code: CloseCode, reason: &str) {
        self.push(Event::Close(code.0, reason.to_string()));
    }
}

/// One frame's bytes: `fin`, `opcode`, masked with [`MASK`] when `masked`.
fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut bytes = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => bytes.push(mask_bit | len as u8),
        len @ 126..=0xffff => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        bytes.extend_from_slice(&MASK);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}

/// A client's (masked) frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, opcode, payload, true)
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// The frames in `bytes` (as a server writes them: unmasked), as (opcode, payload).
fn parse_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let masked = bytes[1] & 0x80 != 0;
        let (len, mut at) = match bytes[1] & 0x7f {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            len => (len as usize, 2),
        };
        let mask = if masked {
            at += 4;
            Some([bytes[at - 4], bytes[at - 3], bytes[at - 2], bytes[at - 1]])
        } else {
            None
        };
        let mut payload = bytes[at..at + len].to_vec();
        if let Some(mask) = mask {
            payload
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b ^= mask[i % 4]);
        }
        frames.push((opcode, payload));
        bytes = &bytes[at + len..];
    }
    frames
}

/// A server for `recorder` that has answered the handshake; the 101 is taken.
fn open_server(
    recorder: Recorder,
    options: WebSocketOptions,
) -> TestConnection<WebSocketServer<Recorder>> {
    let mut connection = TestConnection::new(WebSocketServer::with_options(recorder, options));
    connection.receive(REQUEST);
    let response = connection.take_written();
    assert!(response.starts_with(b"HTTP/1.1 101"), "{response:?}");
    connection
}

fn events(connection: &TestConnection<WebSocketServer<Recorder>>) -> Vec<Event> {
    connection.protocol().handler().events()
}

#[test]
fn handshake_and_echo_give_the_same_result_on_every_split() {
    let mut input = REQUEST.to_vec();
    input.extend(client_frame(0x1, b"hello"));
    input.extend(client_frame(0x2, &[0, 1, 2, 255]));
    input.extend(client_frame(0x8, &close_payload(1000, "done")));
    let (events, written) = every_split(
        &input,
        || WebSocketServer::new(Recorder::echo()),
        |connection| (events(connection), connection.take_written()),
    );
    assert_eq!(
        events,
        [
            Event::Connect {
                path: "/chat".into(),
                subprotocols: vec!["chat.v2".into(), "chat.v1".into()],
            },
            Event::Open { subprotocol: None },
            Event::Message(b"hello".to_vec(), false),
            Event::Message(vec![0, 1, 2, 255], true),
            Event::Close(1000, "done".into()),
        ]
    );
    let end = written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = std::str::from_utf8(&written[..end]).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    assert_eq!(
        parse_frames(&written[end..]),
        [
            (0x1, b"hello".to_vec()),
            (0x2, vec![0, 1, 2, 255]),
            (0x8, close_payload(1000, "done")),
        ]
    );
}

#[test]
fn the_connection_closes_after_answering_a_close() {
    let mut connection = open_server(Recorder::echo(), WebSocketOptions::new());
    connection.receive(&client_frame(0x8, &close_payload(1001, "going")));
    assert_eq!(
        parse_frames(&connection.take_written()),
        [(0x8, close_payload(1001, "going"))]
    );
    assert!(connection.is_lost());
    assert_eq!(
        events(&connection).last(),
        Some(&Event::Close(1001, "going".into()))
    );
}

#[test]
fn a_refusal_in_on_connect_is_an_http_error_and_a_close() {
    let recorder = Recorder {
        decision: Some(ConnectDecision::refuse(403, "members only")),
        ..Recorder::default()
    };
    let mut connection = TestConnection::new(WebSocketServer::new(recorder));
    connection.receive(REQUEST);
    let written = connection.take_written();
    let text = std::str::from_utf8(&written).unwrap();
    assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nmembers only"), "{text}");
    assert!(connection.is_lost());
    let seen = events(&connection);
    assert!(
        matches!(&seen[1], Event::HandshakeFailed(error) if error.contains("403")),
        "{seen:?}"
    );
    assert!(matches!(&seen[2], Event::Close(1006, _)), "{seen:?}");
    assert_eq!(seen.len(), 3);
}

#[test]
fn a_request_that_is_not_a_websocket_handshake_gets_400() {
    for request in [
        &b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"\x16\x03\x01 this is not HTTP\r\n\r\n",
    ] {
        let mut connection = TestConnection::new(WebSocketServer::new(Recorder::default()));
        connection.receive(request);
        let written = connection.take_written();
        assert!(
            written.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
            "{written:?}"
        );
        assert!(connection.is_lost());
    }
}

#[test]
fn an_endless_request_head_gets_431() {
    let mut connection = TestConnection::new(WebSocketServer::new(Recorder::default()));
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    request.extend(std::iter::repeat_n(b"X-Filler: 0123456789abcdef\r\n", 1000).flatten());
    connection.receive(&request);
    assert!(connection.take_written().starts_with(b"HTTP/1.1 431 "));
    assert!(connection.is_lost());
}

#[test]
fn the_server_picks_a_subprotocol_and_the_client_sees_it() {
    let server = Recorder {
        decision: Some(ConnectDecision::accept_subprotocol("chat.v1")),
        ..Recorder::default()
    };
    let client = Recorder::default();
    let client_events = client.events.clone();
    let options = WebSocketOptions::new().subprotocols(["chat.v2", "chat.v1"]);
    let client = WebSocketClient::with_options("ws://localhost/chat", client, options).unwrap();
    let mut pair = Loopback::new(WebSocketServer::new(server), client);
    pair.pump();
    assert_eq!(
        pair.server().protocol().handler().events(),
        [
            Event::Connect {
                path: "/chat".into(),
                subprotocols: vec!["chat.v2".into(), "chat.v1".into()],
            },
            Event::Open {
                subprotocol: Some("chat.v1".into())
            },
        ]
    );
    assert_eq!(
        *client_events.lock().unwrap(),
        [
            Event::Response {
                status: 101,
                subprotocol: Some("chat.v1".into())
            },
            Event::Open {
                subprotocol: Some("chat.v1".into())
            },
        ]
    );
}

#[test]
fn a_client_sees_a_refusal_as_a_failed_handshake() {
    let server = Recorder {
        decision: Some(ConnectDecision::refuse(404, "no such room")),
        ..Recorder::default()
    };
    let client = WebSocketClient::new("ws://localhost/nowhere", Recorder::default()).unwrap();
    let mut pair = Loopback::new(WebSocketServer::new(server), client);
    pair.pump();
    let seen = pair.client().protocol().handler().events();
    assert_eq!(
        seen[0],
        Event::HandshakeFailed(
            "the server refused the WebSocket handshake: 404 no such room".into()
        )
    );
    assert!(matches!(seen[1], Event::Close(1006, _)), "{seen:?}");
    assert!(pair.client().is_lost());
}

#[test]
fn fragments_are_reassembled_with_control_frames_between_them() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    let mut input = frame(false, 0x1, b"frag", true);
    input.extend(client_frame(0x9, b"ping!"));
    input.extend(frame(false, 0x0, "mént".as_bytes(), true));
    input.extend(frame(true, 0x0, b"ed", true));
    connection.receive(&input);
    assert_eq!(
        &events(&connection)[2..],
        [
            Event::Ping(b"ping!".to_vec()),
            Event::Message("fragménted".as_bytes().to_vec(), false)
        ]
    );
    assert_eq!(
        parse_frames(&connection.take_written()),
        [(0xA, b"ping!".to_vec())]
    );
}

/// The close frame `connection` wrote and what its handler's `on_close` got, after
/// `input` failed it.
fn failed_with(connection: &mut TestConnection<WebSocketServer<Recorder>>, input: &[u8]) -> u16 {
    connection.receive(input);
    let frames = parse_frames(&connection.take_written());
    let (opcode, payload) = frames.last().unwrap().clone();
    assert_eq!(opcode, 0x8, "{frames:?}");
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    assert!(connection.is_lost());
    let seen = events(connection);
    assert!(
        matches!(seen.last(), Some(Event::Close(c, _)) if *c == code),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Event::Close(..)))
            .count(),
        1
    );
    code
}

#[test]
fn a_message_over_the_limit_closes_with_1009() {
    let options = WebSocketOptions::new()
        .max_message_size(10)
        .max_frame_size(100);
    let mut connection = open_server(Recorder::default(), options);
    let mut input = frame(false, 0x2, &[1; 6], true);
    input.extend(frame(true, 0x0, &[2; 6], true));
    assert_eq!(failed_with(&mut connection, &input), 1009);
    assert_eq!(events(&connection).len(), 3, "no message delivered");
}

#[test]
fn a_frame_over_the_limit_closes_with_1009_before_its_payload_arrives() {
    let options = WebSocketOptions::new().max_frame_size(1000);
    let mut connection = open_server(Recorder::default(), options);
    let whole = client_frame(0x2, &[7; 5000]);
    assert_eq!(failed_with(&mut connection, &whole[..20]), 1009);
}

#[test]
fn text_that_is_not_utf8_closes_with_1007() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    assert_eq!(
        failed_with(&mut connection, &client_frame(0x1, b"bad \xff\xfe")),
        1007
    );
}

#[test]
fn fragmented_text_that_is_not_utf8_closes_with_1007() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    let mut input = frame(false, 0x1, b"ok ", true);
    input.extend(frame(true, 0x0, b"\xc0\xaf", true));
    assert_eq!(failed_with(&mut connection, &input), 1007);
}

#[test]
fn an_unmasked_frame_to_a_server_closes_with_1002() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    assert_eq!(
        failed_with(&mut connection, &frame(true, 0x1, b"hi", false)),
        1002
    );
}

#[test]
fn protocol_errors_close_with_1002() {
    let cases: [Vec<u8>; 4] = [
        frame(true, 0x0, b"continuation of nothing", true),
        frame(true, 0x3, b"reserved opcode", true),
        frame(false, 0x9, b"fragmented ping", true),
        {
            let mut rsv = client_frame(0x1, b"rsv");
            rsv[0] |= 0x40;
            rsv
        },
    ];
    for input in cases {
        let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
        assert_eq!(failed_with(&mut connection, &input), 1002);
    }
}

/// A client whose handshake the server answered with `accept`'s key; the request is taken.
fn open_client(recorder: Recorder) -> TestConnection<WebSocketClient<Recorder>> {
    let client = WebSocketClient::new("ws://localhost/", recorder).unwrap();
    let mut connection = TestConnection::new(client);
    let request = connection.take_written();
    let text = std::str::from_utf8(&request).unwrap();
    let key = text
        .lines()
        .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
        .to_string();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    connection.receive(response.as_bytes());
    assert!(connection.protocol().is_open());
    connection
}

#[test]
fn a_masked_frame_to_a_client_closes_with_1002() {
    let mut connection = open_client(Recorder::default());
    connection.receive(&client_frame(0x1, b"masked"));
    let frames = parse_frames(&connection.take_written());
    assert_eq!(frames.last().unwrap().0, 0x8);
    assert_eq!(&frames.last().unwrap().1[..2], &1002u16.to_be_bytes());
    assert!(connection.is_lost());
}

#[test]
fn a_client_masks_its_frames_and_reads_the_response_tail() {
    let client = WebSocketClient::new("ws://localhost/", Recorder::echo()).unwrap();
    let mut connection = TestConnection::new(client);
    let request = connection.take_written();
    let text = std::str::from_utf8(&request).unwrap();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    // A message in the same segment as the response.
    response.extend(frame(true, 0x1, b"first", false));
    connection.receive(&response);
    let echoed = connection.take_written();
    assert_ne!(echoed[1] & 0x80, 0, "a client's frames are masked");
    assert_eq!(parse_frames(&echoed), [(0x1, b"first".to_vec())]);
}

#[test]
fn a_wrong_accept_key_fails_the_client_handshake() {
    let mut connection =
        TestConnection::new(WebSocketClient::new("ws://localhost/", Recorder::default()).unwrap());
    connection.take_written();
    connection.receive(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n",
    );
    assert!(connection.is_lost());
    let seen = connection.protocol().handler().events();
    assert!(
        matches!(&seen[0], Event::HandshakeFailed(e) if e.contains("handshake failed")),
        "{seen:?}"
    );
}

#[test]
fn pings_are_answered_with_pongs_and_pongs_reported() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    let mut input = client_frame(0x9, b"are you there");
    input.extend(client_frame(0xA, b"unsolicited"));
    connection.receive(&input);
    assert_eq!(
        parse_frames(&connection.take_written()),
        [(0xA, b"are you there".to_vec())]
    );
    assert_eq!(
        &events(&connection)[2..],
        [
            Event::Ping(b"are you there".to_vec()),
            Event::Pong(b"unsolicited".to_vec())
        ]
    );
}

#[test]
fn a_close_started_here_waits_for_the_peer_then_closes() {
    let recorder = Recorder {
        close_after_first_message: true,
        ..Recorder::default()
    };
    let mut connection = open_server(recorder, WebSocketOptions::new());
    connection.receive(&client_frame(0x1, b"last"));
    assert_eq!(
        parse_frames(&connection.take_written()),
        [(0x8, close_payload(1000, "bye"))]
    );
    assert!(!connection.is_closing(), "waits for the peer's close");
    // Messages the peer sent before seeing our close are still delivered.
    connection.receive(&client_frame(0x1, b"in flight"));
    connection.receive(&client_frame(0x8, &close_payload(1000, "")));
    assert!(connection.is_lost());
    assert_eq!(
        &events(&connection)[2..],
        [
            Event::Message(b"last".to_vec(), false),
            Event::Message(b"in flight".to_vec(), false),
            Event::Close(1000, String::new()),
        ]
    );
    assert_eq!(
        connection.clock().pending_calls(),
        0,
        "the close timer was cancelled"
    );
}

#[test]
fn a_close_the_peer_never_answers_times_out_on_the_clock() {
    let recorder = Recorder {
        close_after_first_message: true,
        ..Recorder::default()
    };
    let options = WebSocketOptions::new().close_timeout(Duration::from_secs(3));
    let mut connection = open_server(recorder, options);
    connection.receive(&client_frame(0x1, b"last"));
    connection.advance(Duration::from_millis(2999));
    assert!(!connection.is_closing());
    connection.advance(Duration::from_millis(1));
    assert!(connection.is_closing());
    // The close frame was written; once the peer has read it, the connection ends.
    assert_eq!(
        parse_frames(&connection.take_written()),
        [(0x8, close_payload(1000, "bye"))]
    );
    assert!(connection.is_lost());
    let seen = events(&connection);
    assert_eq!(
        seen.last(),
        Some(&Event::Close(1006, "the close handshake timed out".into()))
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Event::Close(..)))
            .count(),
        1
    );
}

#[test]
fn a_handshake_that_never_finishes_times_out() {
    let options = WebSocketOptions::new().handshake_timeout(Some(Duration::from_secs(2)));
    let mut connection =
        TestConnection::new(WebSocketServer::with_options(Recorder::default(), options));
    connection.receive(b"GET / HTTP/1.1\r\nHost: slow");
    connection.advance(Duration::from_secs(2));
    assert!(connection.is_lost());
    let seen = events(&connection);
    assert_eq!(
        seen[0],
        Event::HandshakeFailed("the WebSocket handshake timed out".into())
    );
    assert!(matches!(seen[1], Event::Close(1006, _)));
}

#[test]
fn an_abrupt_drop_is_on_close_1006_once() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    connection.receive(&client_frame(0x1, b"then nothing"));
    connection.disconnect(DisconnectReason::lost(
        std::io::ErrorKind::ConnectionReset.into(),
    ));
    let seen = events(&connection);
    assert!(
        matches!(seen.last(), Some(Event::Close(1006, _))),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Event::Close(..)))
            .count(),
        1
    );
}

#[test]
fn eof_without_a_close_is_on_close_1006() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    connection.receive_eof();
    assert!(connection.is_lost());
    let seen = events(&connection);
    assert!(
        matches!(seen.last(), Some(Event::Close(1006, _))),
        "{seen:?}"
    );
}

#[test]
fn a_sender_sends_from_outside_the_callbacks() {
    let mut connection = open_server(Recorder::default(), WebSocketOptions::new());
    let sender = connection.protocol().handler().sender.clone().unwrap();
    let mut text = sender.send_text("news");
    let mut binary = sender.send_binary(vec![1, 2, 3]);
    let mut ping = sender.send_ping(&b"p"[..]);
    let mut close = sender.send_close(CloseCode::GOING_AWAY, "restart");
    let mut late = sender.send_text("too late");
    connection.run_pending();
    for deferred in [&mut text, &mut binary, &mut ping, &mut close] {
        assert!(deferred.take_result().unwrap().unwrap().is_ok());
    }
    assert!(matches!(
        late.take_result().unwrap().unwrap(),
        Err(WebSocketError::Closed { .. })
    ));
    assert_eq!(
        parse_frames(&connection.take_written()),
        [
            (0x1, b"news".to_vec()),
            (0x2, vec![1, 2, 3]),
            (0x9, b"p".to_vec()),
            (0x8, close_payload(1001, "restart")),
        ]
    );
    connection.disconnect(DisconnectReason::lost(
        std::io::ErrorKind::ConnectionReset.into(),
    ));
    let mut after = sender.send_text("gone");
    assert!(matches!(
        after.take_result().unwrap().unwrap(),
        Err(WebSocketError::Closed { .. })
    ));
}

#[test]
fn server_and_client_close_each_other_cleanly_in_memory() {
    let client = Recorder {
        close_after_first_message: true,
        ..Recorder::default()
    };
    let client_events = client.events.clone();
    let server = Recorder::echo();
    let server_events = server.events.clone();
    let client = WebSocketClient::new("ws://localhost/", client).unwrap();
    let mut pair = Loopback::new(WebSocketServer::new(server), client);
    pair.set_chunk_size(Some(3));
    pair.pump();
    let sender = pair.client().protocol().handler().sender.clone().unwrap();
    sender.send_text("over").detach();
    pair.pump();
    assert!(pair.server().is_lost() && pair.client().is_lost());
    assert_eq!(
        server_events.lock().unwrap().last(),
        Some(&Event::Close(1000, "bye".into()))
    );
    assert_eq!(
        &client_events.lock().unwrap()[2..],
        [
            Event::Message(b"over".to_vec(), false),
            Event::Close(1000, "bye".into())
        ]
    );
}

/// A handler with nothing to do, and a `Debug` form.
#[derive(Debug)]
struct Quiet;

impl WebSocketHandler for Quiet {
    fn on_message(&mut self, _: &mut WebSocketContext<'_>, _: Bytes, _: bool) {}
}

#[test]
fn the_debug_form_names_the_side() {
    let server = format!("{:?}", WebSocketServer::new(Quiet));
    let client = format!(
        "{:?}",
        WebSocketClient::new("ws://localhost/", Quiet).unwrap()
    );
    assert!(server.starts_with("WebSocketServer {"), "{server}");
    assert!(client.starts_with("WebSocketClient {"), "{client}");
}

/// Pauses reading after each message.
struct OneAtATime(Arc<Mutex<Vec<Vec<u8>>>>);

impl WebSocketHandler for OneAtATime {
    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, _: bool) {
        use torsade::Transport;
        self.0.lock().unwrap().push(payload.to_vec());
        ws.pause_reading();
    }
}

#[test]
fn no_message_is_delivered_while_reading_is_paused() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut connection = TestConnection::new(WebSocketServer::new(OneAtATime(seen.clone())));
    let mut input = REQUEST.to_vec();
    for word in [&b"one"[..], b"two", b"three"] {
        input.extend(client_frame(0x1, word));
    }
    connection.receive(&input);
    assert_eq!(*seen.lock().unwrap(), [b"one".to_vec()]);
    connection.transport_handle().resume_reading();
    connection.run_pending();
    assert_eq!(*seen.lock().unwrap(), [b"one".to_vec(), b"two".to_vec()]);
    connection.transport_handle().resume_reading();
    connection.run_pending();
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn a_pair_exchanges_large_messages_one_byte_at_a_time() {
    let client = Recorder::default();
    let client_events = client.events.clone();
    let client = WebSocketClient::new("ws://localhost/", client).unwrap();
    let mut pair = Loopback::new(WebSocketServer::new(Recorder::echo()), client);
    pair.set_chunk_size(Some(1));
    pair.pump();
    let sender = pair.client().protocol().handler().sender.clone().unwrap();
    let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    sender.send_binary(big.clone()).detach();
    sender.send_text("é".repeat(100)).detach();
    pair.set_chunk_size(Some(997));
    pair.pump();
    assert_eq!(
        &client_events.lock().unwrap()[2..],
        [
            Event::Message(big, true),
            Event::Message("é".repeat(100).into_bytes(), false)
        ]
    );
}

mod properties {
    //! Any bytes after a handshake: never a panic, the same events however they are split,
    //! frames out that parse, and `on_close` exactly once.

    use proptest::prelude::*;

    use super::*;

    /// A frame (possibly broken: any opcode, unmasked, reserved bits) or raw garbage.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (any::<bool>(), 0u8..16, proptest::collection::vec(any::<u8>(), 0..200), prop::bool::weighted(0.9))
                .prop_map(|(fin, opcode, payload, masked)| frame(fin, opcode, &payload, masked)),
            1 => proptest::collection::vec(any::<u8>(), 1..20),
            1 => Just(client_frame(0x1, "text ✓".as_bytes())),
            1 => Just(client_frame(0x8, &close_payload(1000, ""))),
        ]
    }

    fn run(input: &[u8], splits: &[usize]) -> (Vec<Event>, Vec<(u8, Vec<u8>)>) {
        let options = WebSocketOptions::new()
            .max_message_size(300)
            .max_frame_size(150);
        let mut connection = open_server(Recorder::echo(), options);
        let mut at = 0;
        for &split in splits.iter().chain(std::iter::once(&input.len())) {
            let split = split.clamp(at, input.len());
            connection.receive(&input[at..split]);
            at = split;
        }
        let written = parse_frames(&connection.take_written());
        connection.disconnect(DisconnectReason::lost(
            std::io::ErrorKind::ConnectionReset.into(),
        ));
        (events(&connection), written)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_after_the_handshake_are_handled_the_same_however_split(
            pieces in proptest::collection::vec(piece(), 0..8),
            mut splits in proptest::collection::vec(0usize..2000, 0..6),
        ) {
            let input = pieces.concat();
            splits.sort_unstable();
            let whole = run(&input, &[]);
            let split = run(&input, &splits);
            prop_assert_eq!(&whole, &split);
            let closes = whole.0.iter().filter(|event| matches!(event, Event::Close(..))).count();
            prop_assert_eq!(closes, 1);
        }
    }
}

/// Echoes, and stops reading while its echoes are not read.
struct PoliteEcho(Arc<Mutex<Vec<&'static str>>>);

impl WebSocketHandler for PoliteEcho {
    fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
        use torsade::Transport;
        ws.set_write_buffer_limits(64, 16).unwrap();
    }

    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
        self.0.lock().unwrap().push("message");
        ws.send_message(payload, is_binary).unwrap();
    }

    fn pause_producing(&mut self, ws: &mut WebSocketContext<'_>) {
        use torsade::Transport;
        self.0.lock().unwrap().push("pause");
        ws.pause_reading();
    }

    fn resume_producing(&mut self, ws: &mut WebSocketContext<'_>) {
        use torsade::Transport;
        self.0.lock().unwrap().push("resume");
        ws.resume_reading();
    }
}

#[test]
fn write_pressure_reaches_the_handler_which_can_stop_reading() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut connection = TestConnection::new(WebSocketServer::new(PoliteEcho(seen.clone())));
    connection.receive(REQUEST);
    connection.take_written();
    seen.lock().unwrap().clear();
    connection.receive(&client_frame(0x2, &[1; 100]));
    assert_eq!(*seen.lock().unwrap(), ["message", "pause"]);
    // Paused: the next message waits, as it would in the socket.
    assert!(!connection.receive(&client_frame(0x2, &[2; 100])));
    assert_eq!(
        parse_frames(&connection.take_written()),
        [(0x2, vec![1; 100])]
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["message", "pause", "resume", "message", "pause"]
    );
    assert_eq!(
        parse_frames(&connection.take_written()),
        [(0x2, vec![2; 100])]
    );
}
