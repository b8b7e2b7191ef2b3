//! A small key-value service over length-prefixed frames (a 4-byte big-endian length, then
//! the bytes: Twisted's `Int32StringReceiver`), served and asked two ways on one wire
//! format: torsade's own framer, and tokio-util's `LengthDelimitedCodec`.
//!
//! ```text
//! cargo run --example length_prefixed          # server and clients in one process
//! cargo run --example length_prefixed -- serve --port 8124 [--engine codec]
//! cargo run --example length_prefixed -- client --connect 127.0.0.1:8124 \
//!     "SET colour blue" "GET colour" "SUM 1 2 3" [--engine codec]
//! ```
//!
//! Each request is one frame, each reply one frame, in order:
//!
//! | request | reply |
//! | --- | --- |
//! | `SET KEY VALUE` | `OK` (the value may hold spaces) |
//! | `GET KEY` | the value, or `ERR no such key` |
//! | `SUM N...` | the sum of the integers, or `ERR ...` |
//!
//! Anything else is answered `ERR unknown command ...`. The store is shared by every
//! connection to a server.
//!
//! `--engine` picks the machinery, the same on both sides of the wire:
//!
//! - `frames` (the default): the server is an `Int32StringReceiver`, the client a callback
//!   protocol (an `Int32StringReceiver` too) whose replies fire a Deferred.
//! - `codec`: the server is a `CodecReceiver<LengthDelimitedCodec, _>`, the client async
//!   code over `Framed<Connection, LengthDelimitedCodec>`.
//!
//! The request handling is written once (`Store::answer`) and serves both engines; any
//! client talks to any server. With no arguments, a server of each engine runs on a free
//! port and each client asks the other engine's server.
//!
//! A frame's payload is at most 4096 bytes: a server closes a connection that announces a
//! longer one, and the client refuses to send one. A client prints each reply on its own
//! line; a server that cannot be reached, or that closes before answering, is one line on
//! stderr and exit status 1; a mistake in the arguments, one line and the usage, status 2.
//! `serve` takes the flags of every server example (`--port P`, `0` for a free one,
//! `--listen ENDPOINT`, `--loops N`...) and prints `listening on ADDR` first.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use torsade::endpoints::{ClientEndpoint, TcpClient};
use torsade::prelude::*;
use torsade::{factory_fn, Address, Reactor};
use torsade_protocols::{
    CodecContext, CodecHandler, CodecReceiver, Int32StringReceiver, StringContext, StringHandler,
};

const USAGE: &str = concat!(
    "usage: length_prefixed                      (a server of each engine, and a client of each)
       length_prefixed serve [--engine frames|codec] [--port PORT [--tls-cert FILE --tls-key FILE]
                             | --listen ENDPOINT] [--loops N] [--idle-timeout SECS]
                             [--max-connections N] [--stop-deadline SECS]
       length_prefixed client [--engine frames|codec] --connect ENDPOINT REQUEST...
   requests: SET KEY VALUE, GET KEY, SUM N...; each is one frame, each reply one line.
   --engine frames (the default) is Int32StringReceiver, codec is tokio-util's
   LengthDelimitedCodec; the wire format is the same. --port defaults to 8124 on 127.0.0.1
   (0 picks a free port); --connect takes HOST:PORT or an endpoint string;
",
    common::server_options_usage!()
);

/// The longest payload of a frame, either way, in bytes.
const MAX_FRAME: usize = 4096;

/// The most keys a store holds: a server's memory is bounded whatever its clients send.
const MAX_KEYS: usize = 10_000;

/// What the example asks when it runs both sides itself.
const DEMO_REQUESTS: [&str; 4] = ["SET colour blue", "GET colour", "SUM 1 2 3", "GET size"];

/// The service: the values of one server, shared by all its connections. Cheap to clone.
#[derive(Clone, Debug, Default)]
struct Store {
    values: Arc<Mutex<HashMap<String, String>>>,
}

impl Store {
    /// The reply to one request. Written once, for both engines.
    fn answer(&self, request: &[u8]) -> String {
        let Ok(request) = std::str::from_utf8(request) else {
            return "ERR a request is UTF-8 text".to_string();
        };
        let (command, arguments) = request.split_once(' ').unwrap_or((request, ""));
        // Each change under the lock is one insert: a panic elsewhere left the map whole.
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        match (command, arguments.split_once(' ')) {
            ("SET", Some((key, value))) if !key.is_empty() => {
                if values.len() >= MAX_KEYS && !values.contains_key(key) {
                    return format!("ERR the store is full ({MAX_KEYS} keys)");
                }
                values.insert(key.to_string(), value.to_string());
                "OK".to_string()
            }
            ("SET", _) => "ERR usage: SET KEY VALUE".to_string(),
            ("GET", _) => values
                .get(arguments)
                .cloned()
                .unwrap_or_else(|| "ERR no such key".to_string()),
            ("SUM", _) => arguments
                .split_whitespace()
                .try_fold(0i64, |total, word| total.checked_add(word.parse().ok()?))
                .map_or_else(
                    || "ERR SUM takes integers whose sum fits in 64 bits".to_string(),
                    |sum| sum.to_string(),
                ),
            _ => "ERR unknown command (SET KEY VALUE, GET KEY, SUM N...)".to_string(),
        }
    }
}

/// One server connection, on either engine: each request answered from the store. A
/// client that does not read its replies is not read from either.
struct Service {
    store: Store,
}

impl StringHandler for Service {
    fn string_received(&mut self, strings: &mut StringContext<'_>, request: Bytes) {
        let reply = self.store.answer(&request);
        if let Err(error) = strings.send_string(reply.as_bytes()) {
            tracing::warn!(%error, "reply not sent; closing");
            strings.lose_connection();
        }
    }

    fn pause_producing(&mut self, strings: &mut StringContext<'_>) {
        strings.pause_reading();
    }

    fn resume_producing(&mut self, strings: &mut StringContext<'_>) {
        strings.resume_reading();
    }
}

impl CodecHandler<LengthDelimitedCodec> for Service {
    fn frame_received(
        &mut self,
        cx: &mut CodecContext<'_, LengthDelimitedCodec>,
        request: BytesMut,
    ) {
        let reply = self.store.answer(&request);
        if let Err(error) = cx.send(Bytes::from(reply)) {
            tracing::warn!(%error, "reply not sent; closing");
            cx.lose_connection();
        }
    }

    fn pause_producing(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>) {
        cx.pause_reading();
    }

    fn resume_producing(&mut self, cx: &mut CodecContext<'_, LengthDelimitedCodec>) {
        cx.resume_reading();
    }
}

/// tokio-util's codec for Int32's wire format: a 4-byte big-endian length (its default),
/// payloads of at most [`MAX_FRAME`] bytes.
fn int32_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// Which machinery a server or a client runs on; the wire is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// `Int32StringReceiver`: a callback server; a callback client with a Deferred.
    Frames,
    /// tokio-util's `LengthDelimitedCodec`: `CodecReceiver` serving; `Framed` asking.
    Codec,
}

impl Engine {
    fn parse(text: Option<&str>) -> Result<Engine, String> {
        match text {
            None | Some("frames") => Ok(Engine::Frames),
            Some("codec") => Ok(Engine::Codec),
            Some(other) => Err(format!("--engine is frames or codec, not {other:?}")),
        }
    }
}

/// The server of the `frames` engine: an `Int32StringReceiver` per connection, all
/// answering from `store`.
fn frames_server(store: Store) -> impl ProtocolFactory {
    factory_fn(move |_: &Address| {
        let service = Service {
            store: store.clone(),
        };
        Int32StringReceiver::new(service).with_max_length(MAX_FRAME)
    })
}

/// The server of the `codec` engine: a `CodecReceiver` per connection, all answering
/// from `store`.
fn codec_server(store: Store) -> impl ProtocolFactory {
    factory_fn(move |_: &Address| {
        let service = Service {
            store: store.clone(),
        };
        CodecReceiver::new(int32_codec(), service)
    })
}

/// How a client reaches its server.
type Dialer = Arc<dyn ClientEndpoint>;

/// The client on the callback face: sends every request as soon as it is connected (the
/// server answers them in order), and fires `done` with the replies once there is one
/// per request, or with an error if the connection ends first.
struct Asker {
    requests: Vec<String>,
    replies: Vec<String>,
    done: Option<Resolver<Vec<String>>>,
}

impl StringHandler for Asker {
    fn connection_made(&mut self, strings: &mut StringContext<'_>) {
        for request in &self.requests {
            if let Err(error) = strings.send_string(request.as_bytes()) {
                self.fail(format!("request not sent: {error}"));
                strings.lose_connection();
                return;
            }
        }
    }

    fn string_received(&mut self, strings: &mut StringContext<'_>, reply: Bytes) {
        self.replies
            .push(String::from_utf8_lossy(&reply).into_owned());
        if self.replies.len() == self.requests.len() {
            if let Some(done) = self.done.take() {
                let _ = done.callback(std::mem::take(&mut self.replies));
            }
            strings.lose_connection();
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let (got, asked) = (self.replies.len(), self.requests.len());
        self.fail(format!(
            "the server closed the connection after {got} of {asked} replies ({reason})"
        ));
    }
}

impl Asker {
    /// Fires the replies' Deferred with `message` as the error, if it has not fired.
    fn fail(&mut self, message: String) {
        if let Some(done) = self.done.take() {
            let _ = done.errback(Failure::new(message));
        }
    }
}

/// Builds the one [`Asker`] of a callback client.
struct AskerFactory {
    requests: Vec<String>,
    done: Resolver<Vec<String>>,
}

impl ProtocolFactory for AskerFactory {
    type Protocol = Int32StringReceiver<Asker>;

    fn build_protocol(&self, _peer: &Address) -> Option<Self::Protocol> {
        let asker = Asker {
            requests: self.requests.clone(),
            replies: Vec::new(),
            done: Some(self.done.clone()),
        };
        Some(Int32StringReceiver::new(asker).with_max_length(MAX_FRAME))
    }
}

impl ClientFactory for AskerFactory {}

/// The callback client: a factory, a protocol, and a Deferred of the replies.
fn ask_with_callbacks(
    reactor: &Reactor,
    dialer: &Dialer,
    requests: Vec<String>,
) -> Deferred<Vec<String>> {
    let (replies, done) = Deferred::new();
    let factory = AskerFactory {
        requests,
        done: done.clone(),
    };
    reactor
        .connect(dialer, factory)
        .add_callbacks(
            |_connected| {},
            move |failure| {
                // Could not connect: the replies will never come.
                let _ = done.errback(failure);
            },
        )
        .detach();
    replies
}

/// The async client: `Framed` over a torsade connection, as over a tokio socket.
async fn ask_with_framed(
    reactor: Reactor,
    dialer: Dialer,
    requests: Vec<String>,
) -> Result<Vec<String>, Failure> {
    let connection = reactor.open_connection(dialer).await?;
    let mut frames = Framed::new(connection, int32_codec());
    for request in &requests {
        frames.feed(Bytes::from(request.clone())).await?;
    }
    SinkExt::<Bytes>::flush(&mut frames).await?;
    let mut replies = Vec::with_capacity(requests.len());
    while replies.len() < requests.len() {
        let Some(reply) = frames.next().await else {
            let (got, asked) = (replies.len(), requests.len());
            let message =
                format!("the server closed the connection after {got} of {asked} replies");
            return Err(Failure::new(message));
        };
        let reply = reply.map_err(|error| Failure::new(format!("reading the replies: {error}")))?;
        replies.push(String::from_utf8_lossy(&reply).into_owned());
    }
    Ok(replies)
}

/// Asks `requests` of the server `dialer` reaches, with the client of `engine`.
fn ask(
    reactor: &Reactor,
    engine: Engine,
    dialer: Dialer,
    requests: Vec<String>,
) -> Deferred<Vec<String>> {
    match engine {
        Engine::Frames => ask_with_callbacks(reactor, &dialer, requests),
        Engine::Codec => reactor
            .spawn(ask_with_framed(reactor.clone(), dialer, requests))
            .and_then(|replies| replies),
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let valued: Vec<&str> = common::SERVER_FLAGS
        .iter()
        .copied()
        .chain(["engine", "connect"])
        .collect();
    let (args, operands) = match common::Args::parse_command(USAGE, &valued, &[], usize::MAX) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let engine = match Engine::parse(args.value("engine")) {
        Ok(engine) => engine,
        Err(message) => return usage_error(&message),
    };
    let server_flag = common::SERVER_FLAGS.iter().find(|flag| args.flag(flag));
    match operands.split_first() {
        None if args.flag("engine") || args.flag("connect") || server_flag.is_some() => {
            usage_error("flags go with `serve` or `client`")
        }
        None => report(demo()),
        Some((mode, rest)) if mode == "serve" => {
            if !rest.is_empty() || args.flag("connect") {
                return usage_error("serve takes no requests and no --connect");
            }
            serve(&args, engine)
        }
        Some((mode, requests)) if mode == "client" => match server_flag {
            Some(flag) => usage_error(&format!("--{flag} goes with serve")),
            None => client_main(&args, engine, requests),
        },
        Some((mode, _)) => usage_error(&format!("unknown mode {mode:?}: serve or client")),
    }
}

/// A mistake in the arguments: one line and the usage on stderr, exit status 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// `serve`: listens where the server flags say, with a store of its own, until stopped.
fn serve(args: &common::Args, engine: Engine) -> ExitCode {
    let (endpoint, options) = match (
        common::server_endpoint(args, USAGE, 8124),
        common::ServerOptions::from_args(args),
    ) {
        (Ok(endpoint), Ok(options)) => (endpoint, options),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let store = Store::default();
    match engine {
        Engine::Frames => common::serve(endpoint, frames_server(store), &options),
        Engine::Codec => common::serve(endpoint, codec_server(store), &options),
    }
}

/// `client`: checks the requests and where to send them, then asks.
fn client_main(args: &common::Args, engine: Engine, requests: &[String]) -> ExitCode {
    let Some(text) = args.value("connect") else {
        return usage_error("client needs --connect ENDPOINT, such as 127.0.0.1:8124");
    };
    if requests.is_empty() {
        return usage_error("client needs at least one REQUEST, such as \"SUM 1 2\"");
    }
    if let Some(long) = requests.iter().find(|request| request.len() > MAX_FRAME) {
        let length = long.len();
        let limit = format!("the {MAX_FRAME}-byte limit of a frame");
        eprintln!("error: a request of {length} bytes is over {limit}");
        return ExitCode::from(2);
    }
    let dialer = match common::client_endpoint("--connect", text) {
        Ok(dialer) => dialer,
        Err(code) => return code,
    };
    report(client(engine, dialer, requests.to_vec()))
}

/// The exit status of a client run: its error, if any, is one line on stderr.
fn report(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `body` once the reactor runs, until the Deferred it returns fires.
fn run_until<T: Send + 'static>(
    body: impl FnOnce(&Reactor) -> Result<Deferred<T>, Failure> + Send + 'static,
) -> Result<T, Failure> {
    let reactor = Reactor::new()?;
    let outcome: Arc<Mutex<Option<Result<T, Failure>>>> = Arc::default();
    let (r, slot) = (reactor.clone(), outcome.clone());
    reactor.call_when_running(move || {
        let stopper = r.clone();
        let finished = match body(&r) {
            Ok(finished) => finished,
            Err(failure) => Deferred::fail(failure),
        };
        finished
            .add_both(move |result| {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                // Fails only if the reactor is already stopping (Ctrl-C): nothing to do.
                let _ = stopper.stop();
            })
            .detach();
    });
    reactor.run()?;
    let result = outcome
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    result.unwrap_or_else(|| {
        Err(Failure::new(
            "the reactor stopped before the client finished",
        ))
    })
}

/// Client mode: asks `requests` and prints each reply on its own line.
fn client(engine: Engine, dialer: Dialer, requests: Vec<String>) -> Result<(), Failure> {
    let replies = run_until(move |reactor| Ok(ask(reactor, engine, dialer, requests)))?;
    for reply in replies {
        println!("{reply}");
    }
    Ok(())
}

/// No arguments: a server of each engine on a free port, and each client asking the
/// other engine's server, every request printed with its reply.
fn demo() -> Result<(), Failure> {
    let exchanges = run_until(|reactor| {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut servers = Vec::new();
        let listening = [
            reactor.listen(loopback, codec_server(Store::default()))?,
            reactor.listen(loopback, frames_server(Store::default()))?,
        ];
        for port in listening {
            let address = port.local_addr();
            let socket = address
                .socket_addr()
                .ok_or_else(|| Failure::new(format!("listening on {address}, not on TCP")))?;
            let dialer: Dialer = Arc::new(TcpClient::from(socket));
            servers.push(dialer);
        }
        let requests: Vec<String> = DEMO_REQUESTS.iter().map(|r| r.to_string()).collect();
        let (to_codec, to_frames) = (servers[0].clone(), servers[1].clone());
        let (r, second) = (reactor.clone(), requests.clone());
        let both = ask(reactor, Engine::Frames, to_codec, requests).and_then(move |first| {
            ask(&r, Engine::Codec, to_frames, second).add_callback(|second| (first, second))
        });
        Ok(both)
    })?;
    let (frames_client, codec_client) = exchanges;
    for (title, replies) in [
        (
            "callback client (Int32StringReceiver) -> codec server (CodecReceiver):",
            frames_client,
        ),
        (
            "async client (Framed) -> frames server (Int32StringReceiver):",
            codec_client,
        ),
    ] {
        println!("{title}");
        for (request, reply) in DEMO_REQUESTS.iter().zip(replies) {
            println!("  {request} => {reply}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use torsade::testing::{every_split, TestConnection};

    /// `payload` after its 4-byte big-endian length.
    fn frame(payload: &[u8]) -> Vec<u8> {
        let length = u32::try_from(payload.len()).expect("a test frame is short");
        [&length.to_be_bytes()[..], payload].concat()
    }

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        payloads.iter().flat_map(|payload| frame(payload)).collect()
    }

    fn new_frames_server() -> Int32StringReceiver<Service> {
        let store = Store::default();
        Int32StringReceiver::new(Service { store }).with_max_length(MAX_FRAME)
    }

    fn new_codec_server() -> CodecReceiver<LengthDelimitedCodec, Service> {
        let store = Store::default();
        CodecReceiver::new(int32_codec(), Service { store })
    }

    #[test]
    fn both_engines_answer_the_same_in_every_chunking() {
        let requests = frames(&[
            b"SET a one two",
            b"GET a",
            b"GET b",
            b"SUM 1 2 -3",
            b"SUM 9223372036854775807 1",
            b"SET a",
            b"",
            b"\xff",
        ]);
        let replies = frames(&[
            b"OK",
            b"one two",
            b"ERR no such key",
            b"0",
            b"ERR SUM takes integers whose sum fits in 64 bits",
            b"ERR usage: SET KEY VALUE",
            b"ERR unknown command (SET KEY VALUE, GET KEY, SUM N...)",
            b"ERR a request is UTF-8 text",
        ]);
        let written = |connection: &mut TestConnection<_>| connection.take_written();
        assert_eq!(every_split(&requests, new_frames_server, written), replies);
        let written = |connection: &mut TestConnection<_>| connection.take_written();
        assert_eq!(every_split(&requests, new_codec_server, written), replies);
    }

    #[test]
    fn both_engines_close_a_connection_that_announces_a_frame_over_the_limit() {
        let over = u32::try_from(MAX_FRAME + 1).expect("the limit fits in a header");
        let input = [frame(b"SUM 2 2"), over.to_be_bytes().to_vec()].concat();
        let mut frames_server = TestConnection::new(new_frames_server());
        frames_server.receive(&input);
        assert_eq!(frames_server.take_written(), frame(b"4"));
        assert!(frames_server.is_lost());
        let mut codec_server = TestConnection::new(new_codec_server());
        codec_server.receive(&input);
        assert_eq!(codec_server.take_written(), frame(b"4"));
        assert!(codec_server.is_lost());
    }

    #[test]
    fn a_full_store_refuses_new_keys_and_still_updates_its_own() {
        let store = Store::default();
        for key in 0..MAX_KEYS {
            assert_eq!(store.answer(format!("SET {key} v").as_bytes()), "OK");
        }
        let full = format!("ERR the store is full ({MAX_KEYS} keys)");
        assert_eq!(store.answer(b"SET another v"), full);
        assert_eq!(store.answer(b"SET 0 w"), "OK");
        assert_eq!(store.answer(b"GET 0"), "w");
    }
}
