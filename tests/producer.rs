//! Producers: pull producers streaming through a bounded buffer, push producers paused
//! and resumed at the watermarks, registration rules — in memory and over loopback.

mod common;

use std::io::Read;
use std::net::TcpStream as StdStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{read_all_after_signal, run_bounded};
use torsade::prelude::*;
use torsade::testing::TestConnection;
use torsade::{factory_fn, Address, Reactor, WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW};

const LIMIT: Duration = Duration::from_secs(20);
const CHUNK: usize = 32 * 1024;

type Log = Arc<Mutex<Vec<String>>>;

/// Streams `left` bytes in chunks when asked; checks the buffer is low whenever asked.
struct Streamer {
    left: usize,
    log: Log,
}

impl Producer for Streamer {
    fn resume_producing(&mut self, cx: &mut Context<'_>) {
        let unsent = cx.write_buffer_size();
        if unsent > WRITE_BUFFER_LOW {
            self.log
                .lock()
                .unwrap()
                .push(format!("asked with {unsent} unsent"));
        }
        if self.left == 0 {
            cx.unregister_producer();
            cx.lose_connection();
            return;
        }
        let chunk = self.left.min(CHUNK);
        cx.write(&vec![b's'; chunk]);
        self.left -= chunk;
    }

    fn stop_producing(&mut self, _: &mut Context<'_>) {
        self.log.lock().unwrap().push("stopped".into());
    }
}

/// Registers a `Streamer` of `total` bytes when connected.
struct Download {
    total: usize,
    log: Log,
}

impl Protocol for Download {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        let streamer = Streamer {
            left: self.total,
            log: self.log.clone(),
        };
        cx.register_producer(Box::new(streamer), ProducerKind::Pull)
            .unwrap();
        // Closing waits for the producer to unregister.
        cx.lose_connection();
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
}

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

#[test]
fn a_pull_producer_streams_a_large_payload_through_a_bounded_buffer_over_tcp() {
    const TOTAL: usize = 32 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let events = log();
    let e = events.clone();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| Download {
                total: TOTAL,
                log: e.clone(),
            }),
        )
        .unwrap();
    let (address, r) = (port.local_addr().socket_addr().unwrap(), reactor.clone());
    let client = std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let mut received = Vec::new();
        let outcome = stream.read_to_end(&mut received).map(|_| received);
        let _ = r.stop();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    let received = client.join().unwrap().unwrap();
    assert_eq!(received.len(), TOTAL);
    assert!(received.iter().all(|&byte| byte == b's'));
    assert!(
        events.lock().unwrap().is_empty(),
        "{:?}",
        events.lock().unwrap()
    );
}

#[test]
fn a_pull_producer_is_asked_for_its_first_chunk_at_once_in_memory() {
    let events = log();
    let mut connection = TestConnection::new(Download {
        total: 3 * CHUNK,
        log: events.clone(),
    });
    assert_eq!(connection.producer_kind(), Some(ProducerKind::Pull));
    assert_eq!(connection.take_written().len(), CHUNK);
    assert_eq!(connection.take_written().len(), CHUNK);
    assert_eq!(connection.take_written().len(), CHUNK);
    assert!(connection.take_written().is_empty());
    // Done: the producer unregistered itself, so the requested close can go ahead.
    assert_eq!(connection.producer_kind(), None);
    assert!(connection.is_closing());
}

#[test]
fn a_producer_still_registered_when_the_connection_ends_is_stopped() {
    let events = log();
    let mut connection = TestConnection::new(Download {
        total: 10 * CHUNK,
        log: events.clone(),
    });
    connection.disconnect(DisconnectReason::Done);
    assert_eq!(*events.lock().unwrap(), ["stopped"]);
}

/// A push producer that records what it is told.
struct Recorder(Log);

impl Producer for Recorder {
    fn pause_producing(&mut self, _: &mut Context<'_>) {
        self.0.lock().unwrap().push("pause".into());
    }

    fn resume_producing(&mut self, _: &mut Context<'_>) {
        self.0.lock().unwrap().push("resume".into());
    }
}

struct Quiet;

impl Protocol for Quiet {
    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}

    fn pause_producing(&mut self, _: &mut Context<'_, Self>) {
        panic!("the protocol is not asked while a producer is registered");
    }
}

#[test]
fn a_push_producer_not_the_protocol_is_paused_and_resumed_in_memory() {
    let events = log();
    let mut connection = TestConnection::new(Quiet);
    let producer = Recorder(events.clone());
    connection
        .handle()
        .call(move |_, cx| {
            cx.register_producer(Box::new(producer), ProducerKind::Push)
                .unwrap()
        })
        .detach();
    connection
        .transport_handle()
        .write(&vec![0; WRITE_BUFFER_HIGH + 1]);
    connection.run_pending();
    assert_eq!(*events.lock().unwrap(), ["pause"]);
    connection.take_written();
    assert_eq!(*events.lock().unwrap(), ["pause", "resume"]);
}

#[test]
fn registering_a_second_producer_is_an_error() {
    let mut connection = TestConnection::new(Quiet);
    let handle = connection.handle();
    let register =
        |kind| handle.call(move |_, cx| cx.register_producer(Box::new(Recorder(log())), kind));
    let mut first = register(ProducerKind::Push);
    let mut second = register(ProducerKind::Pull);
    handle.call(|_, cx| cx.unregister_producer()).detach();
    let mut third = register(ProducerKind::Pull);
    connection.run_pending();
    assert!(first.take_result().unwrap().unwrap().is_ok());
    assert!(matches!(
        second.take_result().unwrap().unwrap(),
        Err(Error::ProducerAlreadyRegistered)
    ));
    assert!(third.take_result().unwrap().unwrap().is_ok());
    assert_eq!(connection.producer_kind(), Some(ProducerKind::Pull));
}

/// Writes 64 KiB chunks on a timer while not paused; counts pauses and resumes.
struct Ticker {
    paused: Arc<Mutex<bool>>,
    log: Log,
    first_pause: std::sync::mpsc::Sender<()>,
}

impl Producer for Ticker {
    fn pause_producing(&mut self, _: &mut Context<'_>) {
        *self.paused.lock().unwrap() = true;
        self.log.lock().unwrap().push("pause".into());
        let _ = self.first_pause.send(());
    }

    fn resume_producing(&mut self, _: &mut Context<'_>) {
        *self.paused.lock().unwrap() = false;
        self.log.lock().unwrap().push("resume".into());
    }
}

#[test]
fn a_push_producer_is_paused_while_a_slow_peer_catches_up_over_tcp() {
    const TOTAL: usize = 64 * 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let events = log();
    let (paused_tx, paused_rx) = std::sync::mpsc::channel();
    let paused_tx = Mutex::new(paused_tx);
    let (e, r) = (events.clone(), reactor.clone());
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| PushServer {
                log: e.clone(),
                reactor: r.clone(),
                first_pause: paused_tx.lock().unwrap().clone(),
            }),
        )
        .unwrap();
    // A slow peer: it reads nothing until the producer has been paused.
    let client = read_all_after_signal(
        port.local_addr().socket_addr().unwrap(),
        paused_rx,
        &reactor,
        "the producer was paused",
    );
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap(), Ok(TOTAL));
    let events = events.lock().unwrap();
    assert!(
        events.len() >= 2 && events[0] == "pause" && events[1] == "resume",
        "{events:?}"
    );
}

/// Registers a `Ticker` and feeds it from a zero-delay timer until `TOTAL` is written.
struct PushServer {
    log: Log,
    reactor: Reactor,
    first_pause: std::sync::mpsc::Sender<()>,
}

impl Protocol for PushServer {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        let paused = Arc::new(Mutex::new(false));
        let ticker = Ticker {
            paused: paused.clone(),
            log: self.log.clone(),
            first_pause: self.first_pause.clone(),
        };
        cx.register_producer(Box::new(ticker), ProducerKind::Push)
            .unwrap();
        tick(self.reactor.clone(), cx.handle(), paused, 64 * 1024 * 1024);
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
}

/// Writes one 64 KiB chunk unless paused, and schedules itself again.
fn tick(
    reactor: Reactor,
    handle: ProtocolHandle<PushServer>,
    paused: Arc<Mutex<bool>>,
    left: usize,
) {
    if left == 0 {
        handle
            .call(|_, cx| {
                cx.unregister_producer();
                cx.lose_connection();
            })
            .detach();
        return;
    }
    let mut left = left;
    if !*paused.lock().unwrap() {
        let chunk = left.min(64 * 1024);
        handle.write(&vec![b'p'; chunk]);
        left -= chunk;
    }
    let next = reactor.clone();
    reactor.call_later(Duration::ZERO, move || tick(next, handle, paused, left));
}
