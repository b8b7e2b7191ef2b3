//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod refused_port;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::net::{SocketAddr, TcpListener as StdListener};

use bytes::Bytes;
use torsade::prelude::*;
use torsade::{Address, Reactor};

/// Runs `body` with a tracing subscriber that records every event; returns the text.
pub fn capture_logs(body: impl FnOnce()) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || SharedWriter(writer.clone()))
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, body);
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for SharedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `reactor` with a safety net: if the test has not stopped it within `limit`, it is
/// stopped and the test fails. (A bound against hangs, not a synchronisation.)
pub fn run_bounded(reactor: &Reactor, limit: Duration) {
    let timed_out = Arc::new(Mutex::new(false));
    let flag = timed_out.clone();
    let stopper = reactor.clone();
    let guard = reactor.call_later(limit, move || {
        *flag.lock().unwrap() = true;
        let _ = stopper.stop();
    });
    reactor.run().expect("the reactor runs");
    let _ = guard.cancel();
    assert!(
        !*timed_out.lock().unwrap(),
        "the test did not finish within {limit:?}"
    );
}

pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `body` as a task on `reactor`, stops the reactor when it finishes, and returns its
/// output; the run is bounded by [`LIMIT`] (see [`run_bounded`]).
pub fn run_async<T, F>(reactor: &Reactor, body: F) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let stopper = reactor.clone();
    let mut outcome = reactor.spawn(body).add_callback(move |value| {
        let _ = stopper.stop();
        value
    });
    run_bounded(reactor, LIMIT);
    outcome.take_result().expect("finished").expect("no panic")
}

/// A slow peer on a thread of its own: connects to `address`, reads nothing until
/// `signal` arrives, then reads to the end and stops `reactor`. Gives how many bytes came.
pub fn read_all_after_signal<T: Send + 'static>(
    address: SocketAddr,
    signal: std::sync::mpsc::Receiver<T>,
    reactor: &Reactor,
    what: &'static str,
) -> std::thread::JoinHandle<Result<usize, String>> {
    let reactor = reactor.clone();
    std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        signal
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("{what} within {LIMIT:?}"));
        let mut received = Vec::new();
        let outcome = io::Read::read_to_end(&mut stream, &mut received).map(|_| received.len());
        let _ = reactor.stop();
        outcome.map_err(|error| error.to_string())
    })
}

/// Echoes everything back.
pub struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data);
    }
}

/// What a [`Recorder`] saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub made: usize,
    pub data: Vec<u8>,
    pub lost: Vec<String>,
}

pub type OnMade = Box<dyn FnOnce(&mut Context<'_, Recorder>) + Send>;
pub type OnData = Box<dyn FnMut(&mut Context<'_, Recorder>, usize) + Send>;
pub type OnLost = Box<dyn FnOnce() + Send>;

/// Records everything; runs its hooks from the matching callbacks.
pub struct Recorder {
    seen: Arc<Mutex<Seen>>,
    on_made: Option<OnMade>,
    /// Called after each chunk with the total received so far.
    on_data: Option<OnData>,
    on_lost: Option<OnLost>,
}

impl Recorder {
    pub fn new(seen: &Arc<Mutex<Seen>>) -> Recorder {
        Recorder {
            seen: seen.clone(),
            on_made: None,
            on_data: None,
            on_lost: None,
        }
    }

    pub fn on_data(
        mut self,
        hook: impl FnMut(&mut Context<'_, Recorder>, usize) + Send + 'static,
    ) -> Recorder {
        self.on_data = Some(Box::new(hook));
        self
    }

    pub fn on_made(
        mut self,
        hook: impl FnOnce(&mut Context<'_, Recorder>) + Send + 'static,
    ) -> Recorder {
        self.on_made = Some(Box::new(hook));
        self
    }

    pub fn on_lost(mut self, hook: impl FnOnce() + Send + 'static) -> Recorder {
        self.on_lost = Some(Box::new(hook));
        self
    }
}

impl Protocol for Recorder {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.seen.lock().unwrap().made += 1;
        if let Some(hook) = self.on_made.take() {
            hook(cx);
        }
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        let total = {
            let mut seen = self.seen.lock().unwrap();
            seen.data.extend_from_slice(&data);
            seen.data.len()
        };
        if let Some(hook) = &mut self.on_data {
            hook(cx, total);
        }
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        let label = match &reason {
            DisconnectReason::Done => "done".to_string(),
            DisconnectReason::Aborted => "aborted".to_string(),
            DisconnectReason::Lost(ConnectionError::Io(error)) => {
                format!("lost:{:?}", error.kind())
            }
            other => format!("{other}"),
        };
        self.seen.lock().unwrap().lost.push(label);
        if let Some(hook) = self.on_lost.take() {
            hook();
        }
    }
}

pub fn seen() -> Arc<Mutex<Seen>> {
    Arc::new(Mutex::new(Seen::default()))
}

pub fn stop_on_lost(reactor: &Reactor) -> impl FnOnce() + Send + 'static {
    let reactor = reactor.clone();
    move || {
        let _ = reactor.stop();
    }
}

/// A port nothing listens on now, free for a listener later (a test that starts its
/// server on it after a few refused attempts). Another test may be given the port in
/// between: where only a refusal is wanted, [`refused_port::RefusedPort`] holds it.
pub fn free_port() -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    address
}

/// A client factory recording its events.
#[derive(Default)]
pub struct RecordingClientFactory {
    pub events: Mutex<Vec<String>>,
    pub seen: Arc<Mutex<Seen>>,
}

impl ProtocolFactory for RecordingClientFactory {
    type Protocol = Recorder;

    fn build_protocol(&self, _: &Address) -> Option<Recorder> {
        self.events.lock().unwrap().push("build".into());
        Some(Recorder::new(&self.seen).on_made(|cx| cx.lose_connection()))
    }

    fn start_factory(&self) {
        self.events.lock().unwrap().push("start".into());
    }

    fn stop_factory(&self) {
        self.events.lock().unwrap().push("stop".into());
    }
}

impl ClientFactory for RecordingClientFactory {
    fn started_connecting(&self, _: &str) {
        self.events.lock().unwrap().push("connecting".into());
    }

    fn client_connection_failed(&self, error: &Error) {
        let kind = match error {
            Error::ConnectFailed { source, .. } => format!("{:?}", source.kind()),
            other => format!("{other}"),
        };
        self.events.lock().unwrap().push(format!("failed:{kind}"));
    }

    fn client_connection_lost(&self, reason: &DisconnectReason) {
        self.events
            .lock()
            .unwrap()
            .push(format!("lost:{}", reason.is_clean()));
    }
}

/// Counts bytes; can be paused from outside.
#[derive(Default)]
pub struct Counter {
    pub bytes: usize,
    pub chunks: usize,
}

impl Protocol for Counter {
    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.bytes += data.len();
        self.chunks += 1;
    }
}
