//! The in-memory pair: delivery, chunking, order, latency on the fake clock, closing, and
//! the faults (reset, half-close, slow reader), from both faces.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use torsade::prelude::*;
use torsade::testing::{stream_loopback, FakeClock, Loopback, Side};

/// Records every event as text; writes `greeting` when connected; echoes if `echo`.
#[derive(Default)]
struct Log {
    events: Arc<Mutex<Vec<String>>>,
    greeting: &'static [u8],
    echo: bool,
    half_open: bool,
}

impl Log {
    fn new(greeting: &'static [u8], echo: bool) -> (Log, Arc<Mutex<Vec<String>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let log = Log {
            events: events.clone(),
            greeting,
            echo,
            half_open: false,
        };
        (log, events)
    }

    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

impl Protocol for Log {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        self.push("made".into());
        cx.write(self.greeting);
    }

    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        self.push(format!("data {}", String::from_utf8_lossy(&data)));
        if self.echo {
            cx.write(&data);
        }
    }

    fn eof_received(&mut self, _: &mut Context<'_, Self>) -> bool {
        self.push("eof".into());
        self.half_open
    }

    fn pause_producing(&mut self, _: &mut Context<'_, Self>) {
        self.push("pause".into());
    }

    fn resume_producing(&mut self, _: &mut Context<'_, Self>) {
        self.push("resume".into());
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.push(format!("lost {reason}"));
    }
}

fn events(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[test]
fn the_server_is_connected_first_and_bytes_flow_both_ways() {
    let (server, server_log) = Log::new(b"", true);
    let (client, client_log) = Log::new(b"hi", false);
    let mut pair = Loopback::new(server, client);
    assert_eq!(events(&server_log), ["made"]);
    assert_eq!(pair.pump(), 4);
    assert_eq!(events(&server_log), ["made", "data hi"]);
    assert_eq!(events(&client_log), ["made", "data hi"]);
}

#[test]
fn chunk_size_splits_deliveries() {
    let (server, server_log) = Log::new(b"", false);
    let (client, _) = Log::new(b"abcde", false);
    let mut pair = Loopback::new(server, client);
    pair.set_chunk_size(Some(2));
    pair.pump();
    assert_eq!(
        events(&server_log),
        ["made", "data ab", "data cd", "data e"]
    );
}

#[test]
fn each_step_delivers_the_client_bytes_first_unless_told_otherwise() {
    let order = Arc::new(Mutex::new(Vec::new()));
    struct Tagged(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl Protocol for Tagged {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.write(b"x");
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {
            self.1.lock().unwrap().push(self.0);
        }
    }
    let mut pair = Loopback::new(
        Tagged("server got", order.clone()),
        Tagged("client got", order.clone()),
    );
    pair.pump_once();
    let mut pair2 = Loopback::new(
        Tagged("server got", order.clone()),
        Tagged("client got", order.clone()),
    );
    pair2.set_server_first(true);
    pair2.pump_once();
    assert_eq!(
        *order.lock().unwrap(),
        ["server got", "client got", "client got", "server got"]
    );
}

#[test]
fn latency_holds_bytes_until_the_fake_clock_moves() {
    let clock = FakeClock::new();
    let (server, server_log) = Log::new(b"", false);
    let (client, _) = Log::new(b"late", false);
    let mut pair =
        Loopback::with_clock(server, client, &clock).with_latency(Duration::from_millis(50));
    assert_eq!(pair.pump(), 0);
    clock.advance(Duration::from_millis(49));
    assert_eq!(pair.pump(), 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(pair.pump(), 4);
    assert_eq!(events(&server_log), ["made", "data late"]);
}

#[test]
fn losing_the_connection_sends_eof_after_the_data_and_ends_both_sides_once() {
    struct SayAndGo;
    impl Protocol for SayAndGo {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.write(b"bye");
            cx.lose_connection();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let (server, server_log) = Log::new(b"", false);
    let mut pair = Loopback::new(server, SayAndGo);
    pair.pump();
    assert_eq!(
        events(&server_log),
        ["made", "data bye", "eof", "lost connection closed cleanly"]
    );
    assert!(pair.client().is_lost());
    pair.pump();
    assert_eq!(events(&server_log).len(), 4);
}

#[test]
fn a_half_open_peer_can_keep_writing_after_eof() {
    let (mut server, server_log) = Log::new(b"", false);
    server.half_open = true;
    let (client, client_log) = Log::new(b"", false);
    let mut pair = Loopback::new(server, client);
    pair.send_eof(Side::Client);
    pair.pump();
    assert_eq!(events(&server_log), ["made", "eof"]);
    pair.server_mut().transport_handle().write(b"still here");
    pair.pump();
    assert_eq!(events(&client_log), ["made", "data still here"]);
}

#[test]
fn a_reset_ends_both_sides_with_connection_reset_and_drops_bytes_in_flight() {
    let (server, server_log) = Log::new(b"", false);
    let (client, client_log) = Log::new(b"never arrives", false);
    // The latency runs on the pair's own clock.
    let mut pair = Loopback::new(server, client).with_latency(Duration::from_secs(1));
    let clock = pair.clock().clone();
    pair.pump();
    pair.reset();
    clock.advance(Duration::from_secs(1));
    pair.pump();
    assert_eq!(
        events(&server_log),
        ["made", "lost connection lost: connection reset"]
    );
    assert_eq!(
        events(&client_log),
        ["made", "lost connection lost: connection reset"]
    );
}

#[test]
fn a_slow_reader_fills_its_peers_write_buffer_and_pauses_it() {
    let (server, server_log) = Log::new(b"", false);
    let (client, _) = Log::new(b"", false);
    let mut pair = Loopback::new(server, client);
    pair.set_reading(Side::Client, false);
    let chunk = vec![b'z'; 40 * 1024];
    pair.server_mut().transport_handle().write(&chunk);
    pair.server_mut().run_pending();
    pair.server_mut().transport_handle().write(&chunk);
    pair.pump();
    pair.server_mut().run_pending();
    assert_eq!(events(&server_log), ["made", "pause"]);
    assert_eq!(
        pair.server().transport_handle().write_buffer_size(),
        80 * 1024
    );
    pair.set_reading(Side::Client, true);
    pair.pump();
    assert_eq!(events(&server_log), ["made", "pause", "resume"]);
    assert_eq!(pair.server().transport_handle().write_buffer_size(), 0);
}

#[test]
fn handle_calls_run_between_pumps() {
    let (server, _) = Log::new(b"", false);
    let (client, client_log) = Log::new(b"", false);
    let mut pair = Loopback::new(server, client);
    let handle = pair.server().handle();
    let mut answer = handle.call(|log: &mut Log, _: &mut Context<'_, Log>| {
        log.push("asked".into());
        42
    });
    assert!(answer.take_result().is_none());
    pair.pump();
    assert_eq!(answer.take_result().unwrap().unwrap(), 42);
    let _ = client_log;
}

#[test]
fn an_async_connection_talks_to_a_protocol_in_memory() {
    let (server, server_log) = Log::new(b"welcome\r\n", true);
    let (mut connection, mut pair) = stream_loopback(server);
    let mut conversation = Deferred::from_future(async move {
        let welcome = connection.read_line().await?;
        connection.write_line(b"marco").await?;
        let echo = connection.read_line().await?;
        Ok::<_, Error>((welcome, echo))
    });
    assert!(conversation.take_result().is_none());
    pair.set_chunk_size(Some(1));
    pair.pump();
    let (welcome, echo) = conversation.take_result().unwrap().unwrap().unwrap();
    assert_eq!(welcome.as_deref(), Some(&b"welcome"[..]));
    assert_eq!(echo.as_deref(), Some(&b"marco"[..]));
    assert_eq!(events(&server_log)[0], "made");
}

#[test]
fn an_async_connection_sees_the_end_of_the_stream_in_memory() {
    struct Bye;
    impl Protocol for Bye {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            cx.write(b"last line\r\nunfinished");
            cx.lose_connection();
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }
    let (mut connection, mut pair) = stream_loopback(Bye);
    let mut reads = Deferred::from_future(async move {
        let first = connection.read_line().await;
        let second = connection.read_line().await;
        (format!("{first:?}"), format!("{second:?}"))
    });
    pair.pump();
    let (first, second) = reads.take_result().unwrap().unwrap();
    assert_eq!(first, "Ok(Some(b\"last line\"))");
    assert!(second.starts_with("Err(IncompleteRead"), "{second}");
}
