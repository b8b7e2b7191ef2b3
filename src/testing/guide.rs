//! Testing your protocol: a walk through, from scratch, with the tools in
//! [`testing`](crate::testing).
//!
//! A protocol is plain state driven by callbacks, so it can be tested without a network
//! and without waiting: feed it bytes, read what it wrote, move a fake clock. The test
//! driver runs the very connection core the reactor runs — closing, write pressure, idle
//! timeouts, handles — over memory, so what passes here holds on sockets. (None of these
//! tests opens a socket: `.ci/run` runs the in-memory test binaries under `strace` to
//! check.)
//!
//! # The protocol
//!
//! A small key-value server: lines in, lines out, a store shared by every connection, and
//! an idle timeout on the connection's own clock (the fake one under test, the reactor's
//! in production: nothing to inject).
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! use torsade::prelude::*;
//! use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//!
//! /// The store every connection shares (Twisted's `self.factory.store`).
//! pub type Store = Arc<Mutex<HashMap<String, String>>>;
//!
//! /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! /// a connection silent for a minute is closed.
//! pub struct KeyValue {
//!     store: Store,
//! }
//!
//! pub const IDLE: Duration = Duration::from_secs(60);
//!
//! impl KeyValue {
//!     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//!         LineOnlyReceiver::new(KeyValue { store })
//!     }
//! }
//!
//! impl LineHandler for KeyValue {
//!     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//!         // Activity (bytes in or out) restarts the minute; the default
//!         // `timeout_connection` closes the connection.
//!         lines.set_idle_timeout(Some(IDLE));
//!     }
//!
//!     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//!         let text = String::from_utf8_lossy(&line);
//!         let mut words = text.splitn(3, ' ');
//!         match (words.next(), words.next(), words.next()) {
//!             (Some("SET"), Some(key), Some(value)) => {
//!                 let mut store = self.store.lock().unwrap();
//!                 store.insert(key.to_string(), value.to_string());
//!                 lines.send_line(b"OK");
//!             }
//!             (Some("GET"), Some(key), None) => {
//!                 let value = self.store.lock().unwrap().get(key).cloned();
//!                 match value {
//!                     Some(value) => lines.send_line(value.as_bytes()),
//!                     None => lines.send_line(b"NOT FOUND"),
//!                 }
//!             }
//!             _ => lines.send_line(b"ERROR"),
//!         }
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # 1. Bytes in, bytes out: `TestConnection`
//!
//! [`TestConnection`](crate::testing::TestConnection) connects the protocol in memory:
//! [`receive`](crate::testing::TestConnection::receive) is the peer sending,
//! [`take_written`](crate::testing::TestConnection::take_written) the peer reading.
//! [`every_split`](crate::testing::every_split) then checks that the answer does not
//! depend on how TCP chunks the input.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::{every_split, TestConnection};
//!
//! let store = Store::default();
//! let mut connection = TestConnection::new(KeyValue::protocol(store.clone()));
//! connection.receive(b"SET colour blue\r\nGET colour\r\nGET size\r\n");
//! assert_eq!(connection.take_written(), &b"OK\r\nblue\r\nNOT FOUND\r\n"[..]);
//!
//! let answers = every_split(
//!     b"SET a 1\r\nGET a\r\n",
//!     || KeyValue::protocol(Store::default()),
//!     |connection| connection.take_written(),
//! );
//! assert_eq!(answers, &b"OK\r\n1\r\n"[..]);
//! # }
//! ```
//!
//! # 2. Time: the connection's fake clock
//!
//! The idle timeout, tested in microseconds: the connection's
//! [`FakeClock`](crate::testing::FakeClock) only moves when told to, and runs what falls
//! due at its due time.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::TestConnection;
//!
//! let mut connection = TestConnection::new(KeyValue::protocol(Store::default()));
//! connection.advance(Duration::from_secs(59));
//! connection.receive(b"GET x\r\n"); // activity restarts the timeout
//! connection.take_written();
//! connection.advance(Duration::from_secs(59));
//! assert!(!connection.is_closing());
//! connection.advance(Duration::from_secs(1));
//! assert!(connection.is_lost()); // a silent minute: closed, as on the reactor
//! # }
//! ```
//!
//! # 3. Several connections, shared state, one clock
//!
//! Connections that share state (here the store) are tested together: each is a
//! `TestConnection`, all on one clock ([`with_clock`](crate::testing::TestConnection::with_clock)).
//! Outside code reaches a live connection through a handle, as a timer or another
//! connection would on the reactor: what it asks is applied between the connection's
//! callbacks. (The `chat` example, `examples/chat.rs`, tests a chat room this way: three
//! users built by one factory, lines between them sent through `LineSender`s, and a user
//! that does not read dropped.)
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::{FakeClock, TestConnection};
//!
//! let (store, clock) = (Store::default(), FakeClock::new());
//! let mut alice = TestConnection::with_clock(KeyValue::protocol(store.clone()), &clock);
//! let mut bob = TestConnection::with_clock(KeyValue::protocol(store.clone()), &clock);
//! alice.receive(b"SET greeting hi\r\n");
//! bob.receive(b"GET greeting\r\n");
//! assert_eq!(bob.take_written(), &b"hi\r\n"[..]);
//!
//! // From outside the protocol: a write through a handle, and the shared clock moving.
//! bob.transport_handle().write(b"server going down\r\n");
//! clock.advance(Duration::from_secs(61));
//! assert!(alice.is_closing()); // idle for a minute
//! assert_eq!(bob.take_written(), &b"server going down\r\n"[..]);
//! assert!(bob.is_lost()); // its idle close completed once the peer read the last line
//! # }
//! ```
//!
//! # 4. Client and server together: the loopback pair
//!
//! [`stream_loopback`](crate::testing::stream_loopback) connects the protocol, in memory,
//! to an async [`Connection`](crate::Connection); the client is ordinary async code,
//! driven with no runtime by [`Deferred::from_future`](crate::Deferred::from_future), and
//! [`pump`](crate::testing::Loopback::pump) moves the bytes (here one at a time).
//! ([`Loopback`](crate::testing::Loopback) does the same for two callback protocols.)
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use bytes::Bytes;
//! use torsade::testing::stream_loopback;
//!
//! let (mut client, mut pair) = stream_loopback(KeyValue::protocol(Store::default()));
//! let mut session = Deferred::from_future(async move {
//!     client.write_line(b"SET answer 42").await?;
//!     client.write_line(b"GET answer").await?;
//!     let ok = client.read_line().await?;
//!     let value = client.read_line().await?;
//!     Ok::<_, torsade::Error>((ok, value))
//! });
//! pair.set_chunk_size(Some(1));
//! pair.pump();
//! let (ok, value) = session.take_result().unwrap().unwrap().unwrap();
//! assert_eq!((ok.unwrap(), value.unwrap()), (Bytes::from("OK"), Bytes::from("42")));
//! # }
//! ```
//!
//! # 5. Code that listens: `MemoryReactor`
//!
//! Code that sets up servers takes any [`Network`](crate::Network);
//! [`MemoryReactor`](crate::testing::MemoryReactor) records what it was asked (the
//! endpoints, as strings), and hands the factory back to drive.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::MemoryReactor;
//! use torsade::{factory_fn, Address, Network};
//!
//! fn serve(network: &impl Network, store: Store, port: u16) -> torsade::Result<()> {
//!     let factory = factory_fn(move |_: &Address| KeyValue::protocol(store.clone()));
//!     network.listen(format!("tcp:{port}:interface=127.0.0.1"), factory).map(drop)
//! }
//!
//! let memory = MemoryReactor::new();
//! serve(&memory, Store::default(), 6379).unwrap();
//! assert_eq!(memory.listen_endpoints(), ["tcp:6379:interface=127.0.0.1"]);
//! # }
//! ```
//!
//! # 6. A session from production, replayed as a test
//!
//! When a connection in production goes wrong, record it and replay it. A
//! [`Recorder`](crate::record::Recorder) wraps the port's factory (nothing is recorded
//! on a port whose factory is not wrapped) and keeps one
//! [`Transcript`](crate::record::Transcript) per connection — what the peer sent, in the
//! chunks it was read in, what the server sent, the times, the half-closes, the close —
//! within a size limit, in memory or as files:
//!
//! ```no_run
//! # use std::sync::{Arc, Mutex};
//! # use std::collections::HashMap;
//! # use bytes::Bytes;
//! # use torsade::prelude::*;
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! # pub struct KeyValue;
//! # impl KeyValue {
//! #     pub fn protocol(_: Store) -> Discard { Discard }
//! # }
//! # pub struct Discard;
//! # impl Protocol for Discard {
//! #     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use torsade::record::Recorder;
//! use torsade::{factory_fn, Address, Reactor};
//!
//! let reactor = Reactor::new()?;
//! let store = Store::default();
//! let factory = factory_fn(move |_: &Address| KeyValue::protocol(store.clone()));
//! // One file per connection, each at most 256 KiB.
//! let recorder = Recorder::to_directory("/var/tmp/kv-transcripts")?.with_limit(256 * 1024);
//! reactor.listen("tcp:6379:interface=127.0.0.1", recorder.wrap(factory))?;
//! reactor.run()?;
//! # Ok(())
//! # }
//! ```
//!
//! A transcript is text, one event a line (the format is in [`record`](crate::record),
//! stable), so it reads in a diff and can be edited by hand.
//! [`replay`](crate::testing::replay) plays the peer's side of it against the protocol on
//! a [`TestConnection`](crate::testing::TestConnection) and a fake clock — each chunk at
//! its recorded time, the protocol's timers firing on the way — and compares what the
//! protocol sends with what was recorded, reporting the first difference.
//!
//! Say an older server answered `NOT FOUND` to a `GET` that arrived in two reads. Its
//! transcript, replayed against today's server, shows where they part; with the answer
//! corrected by hand, it is the regression test:
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::record::Transcript;
//! use torsade::testing::{replay, ReplayMismatch};
//!
//! // As read from the recorder's file (`std::fs::read_to_string`).
//! let recorded = r#"torsade-transcript 1
//! side server
//! local "127.0.0.1:6379"
//! peer "127.0.0.1:51234"
//! tls no
//! 1200 in "SET colour blue\r\nGET col"
//! 1210 out "OK\r\n"
//! 1500 in "our\r\n"
//! 1504 out "NOT FOUND\r\n"
//! 60001504 eof-out
//! 60001504 close done
//! "#;
//! let transcript = Transcript::parse(recorded).unwrap();
//! let mismatch = replay(&transcript, KeyValue::protocol(Store::default())).unwrap_err();
//! assert_eq!(
//!     mismatch,
//!     ReplayMismatch::Sent {
//!         offset: 4,
//!         at: Duration::from_micros(1500),
//!         expected: r#""NOT FOUND\r\n""#.to_string(),
//!         got: r#""blue\r\n""#.to_string(),
//!     }
//! );
//!
//! // The answer corrected: the session replays, down to the close after a minute idle.
//! let fixed = Transcript::parse(&recorded.replace("NOT FOUND", "blue")).unwrap();
//! let report = replay(&fixed, KeyValue::protocol(Store::default())).unwrap();
//! assert_eq!(report.duration, IDLE + Duration::from_micros(1504));
//! # }
//! ```
//!
//! The `replay` example (`examples/replay.rs`) records a greeting on the reactor and
//! replays it against the greeting server, then against a changed one. A transcript also
//! opens in Wireshark: [`write_pcap`](crate::record::Transcript::write_pcap) synthesizes
//! the TCP packets that carry it.
//!
//! # 7. Whole networks: `Simulation`
//!
//! Some bugs live between connections and in time: a question held up by a partition, a
//! reply that lands after a crash, two clients whose writes overtake each other.
//! [`Simulation`](crate::testing::Simulation) runs whole networks of unmodified protocols
//! in memory, on one fake clock: each host ([`SimHost`](crate::testing::SimHost)) is a
//! [`Network`](crate::Network) and a [`Clock`](crate::Clock), so the code that listens
//! and connects on the reactor runs on it unchanged. [`Link`](crate::testing::Link)s carry
//! the bytes with latency, bandwidth and [segmentation](crate::testing::Segmentation)
//! (every write cut at seeded points: `every_split` for whole systems); partitions hold
//! what crosses them until they heal. One seed decides every draw and every order, so a
//! run is repeated event for event, and its
//! [`trace_digest`](crate::testing::Simulation::trace_digest) tells two runs apart.
//!
//! The store on a server host, two client hosts, and Bob cut off for a while:
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use bytes::Bytes;
//! use torsade::testing::{Latency, Link, Segmentation, SimHost, Simulation};
//! use torsade::{factory_fn, Address, Network};
//!
//! /// A client that keeps what the server answers, as it arrives.
//! #[derive(Clone, Default)]
//! struct Answers(Arc<Mutex<String>>);
//!
//! impl Protocol for Answers {
//!     fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
//!         self.0.lock().unwrap().push_str(&String::from_utf8_lossy(&data));
//!     }
//! }
//!
//! /// Connects `host` to the server: the connection's handle, and what it is answered.
//! fn connect(sim: &Simulation, host: &SimHost) -> (ProtocolHandle<Answers>, Answers) {
//!     let answers = Answers::default();
//!     let kept = answers.clone();
//!     let factory = factory_fn(move |_: &Address| kept.clone());
//!     let mut connecting = host.connect("tcp:host=server:port=6379", factory);
//!     sim.run_for(Duration::from_secs(1));
//!     (connecting.take_result().unwrap().unwrap(), answers)
//! }
//!
//! /// One run, decided by `seed`: the digest of everything that happened.
//! fn run(seed: u64) -> u64 {
//!     let sim = Simulation::new(seed);
//!     sim.set_link(
//!         Link::new()
//!             .latency(Latency::Uniform {
//!                 min: Duration::from_millis(1),
//!                 max: Duration::from_millis(50),
//!             })
//!             .segmentation(Segmentation::new(3)),
//!     );
//!     let server = sim.add_host("server");
//!     let store = Store::default();
//!     let factory = factory_fn(move |_: &Address| KeyValue::protocol(store.clone()));
//!     server.listen("tcp:6379", factory).unwrap();
//!     let (alice_host, bob_host) = (sim.add_host("alice"), sim.add_host("bob"));
//!     let (alice, alice_heard) = connect(&sim, &alice_host);
//!     let (bob, bob_heard) = connect(&sim, &bob_host);
//!
//!     alice.write(b"SET colour blue\r\n");
//!     sim.run_for(Duration::from_secs(1));
//!     assert_eq!(*alice_heard.0.lock().unwrap(), "OK\r\n");
//!
//!     // Bob is cut off from the server: his question is held (TCP retransmits it)...
//!     let partition = sim.partition(&[&bob_host], &[&server]);
//!     bob.write(b"GET colour\r\n");
//!     sim.run_for(Duration::from_secs(10));
//!     assert_eq!(*bob_heard.0.lock().unwrap(), "");
//!     // ...and answered once the partition heals, however the bytes were cut.
//!     sim.heal(partition);
//!     sim.run_for(Duration::from_secs(1));
//!     assert_eq!(*bob_heard.0.lock().unwrap(), "blue\r\n");
//!     sim.trace_digest()
//! }
//!
//! assert_eq!(run(1), run(1)); // one seed, one run, event for event
//! assert_ne!(run(1), run(2)); // another seed, other latencies and other cuts
//! # }
//! ```
//!
//! A host [crashes](crate::testing::Simulation::crash) with everything it held: its
//! connections (their peers are reset), its timers, its protocols' state. What it does at
//! boot goes in [`on_boot`](crate::testing::SimHost::on_boot), which runs at once and
//! again at each [restart](crate::testing::Simulation::restart). Here the store lives in
//! memory, so a restarted server has forgotten it:
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use bytes::Bytes;
//! use torsade::testing::{SimHost, Simulation};
//! use torsade::{factory_fn, Address, Network};
//! #
//! # #[derive(Clone, Default)]
//! # struct Answers(Arc<Mutex<String>>);
//! #
//! # impl Protocol for Answers {
//! #     fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
//! #         self.0.lock().unwrap().push_str(&String::from_utf8_lossy(&data));
//! #     }
//! # }
//! #
//! # fn connect(sim: &Simulation, host: &SimHost) -> (ProtocolHandle<Answers>, Answers) {
//! #     let answers = Answers::default();
//! #     let kept = answers.clone();
//! #     let factory = factory_fn(move |_: &Address| kept.clone());
//! #     let mut connecting = host.connect("tcp:host=server:port=6379", factory);
//! #     sim.run_for(Duration::from_secs(1));
//! #     (connecting.take_result().unwrap().unwrap(), answers)
//! # }
//!
//! let sim = Simulation::new(3);
//! let server = sim.add_host("server");
//! server.on_boot(|host| {
//!     // Each life starts with an empty store.
//!     let store = Store::default();
//!     let factory = factory_fn(move |_: &Address| KeyValue::protocol(store.clone()));
//!     host.listen("tcp:6379", factory).unwrap();
//! });
//! let alice_host = sim.add_host("alice");
//! let (alice, _) = connect(&sim, &alice_host);
//! alice.write(b"SET colour blue\r\n");
//! sim.run_for(Duration::from_secs(1));
//!
//! sim.crash(&server);
//! sim.run_for(Duration::from_secs(1));
//! assert!(!alice.is_connected()); // reset: the server is gone
//!
//! sim.restart(&server); // listens again, through `on_boot`
//! let (alice, heard) = connect(&sim, &alice_host);
//! alice.write(b"GET colour\r\n");
//! sim.run_for(Duration::from_secs(1));
//! assert_eq!(*heard.0.lock().unwrap(), "NOT FOUND\r\n");
//! # }
//! ```
//!
//! A property that must hold whatever the network does is checked over many seeds with
//! [`explore`](crate::testing::explore), which stops at the first seed that breaks it and
//! reports it (with the run's [`report`](crate::testing::Simulation::report): the digest
//! and the last events). Here the property is wrong: Bob writes after Alice, but on a
//! network whose latency varies his connection may overtake hers, so "the later write
//! wins" is not something the store can promise. A failing seed runs again, event for
//! event, with `Simulation::new(seed)`:
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::time::Duration;
//! #
//! # use torsade::prelude::*;
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// The store every connection shares (Twisted's `self.factory.store`).
//! # pub type Store = Arc<Mutex<HashMap<String, String>>>;
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: Store,
//! # }
//! #
//! # pub const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(store: Store) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         // Activity (bytes in or out) restarts the minute; the default
//! #         // `timeout_connection` closes the connection.
//! #         lines.set_idle_timeout(Some(IDLE));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 let mut store = self.store.lock().unwrap();
//! #                 store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => {
//! #                 let value = self.store.lock().unwrap().get(key).cloned();
//! #                 match value {
//! #                     Some(value) => lines.send_line(value.as_bytes()),
//! #                     None => lines.send_line(b"NOT FOUND"),
//! #                 }
//! #             }
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use bytes::Bytes;
//! use torsade::testing::{explore, Latency, Link, Simulation};
//! use torsade::{factory_fn, Address, Network};
//!
//! /// A client that sends one line as soon as it is connected.
//! struct Say(&'static str);
//!
//! impl Protocol for Say {
//!     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
//!         cx.write(self.0.as_bytes());
//!     }
//!     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
//! }
//!
//! /// Alice sets the colour, Bob sets it 10 ms later: is Bob's the one kept?
//! fn the_later_write_wins(sim: &Simulation) -> Result<(), String> {
//!     sim.set_link(Link::new().latency(Latency::Uniform {
//!         min: Duration::from_millis(1),
//!         max: Duration::from_millis(30),
//!     }));
//!     let store = Store::default();
//!     let kept = store.clone();
//!     let factory = factory_fn(move |_: &Address| KeyValue::protocol(kept.clone()));
//!     sim.add_host("server").listen("tcp:6379", factory).unwrap();
//!     let say = |line| factory_fn(move |_: &Address| Say(line));
//!     let alice = sim.add_host("alice");
//!     let _ = alice.connect("tcp:host=server:port=6379", say("SET colour blue\r\n"));
//!     let bob = sim.add_host("bob");
//!     let later = bob.clone();
//!     bob.call_later(Duration::from_millis(10), move || {
//!         let _ = later.connect("tcp:host=server:port=6379", say("SET colour red\r\n"));
//!     });
//!     sim.run_for(Duration::from_secs(1));
//!     let colour = store.lock().unwrap().get("colour").cloned();
//!     match colour.as_deref() {
//!         Some("red") => Ok(()),
//!         other => Err(format!("the colour is {other:?}")),
//!     }
//! }
//!
//! let exploration = explore(0..100, the_later_write_wins);
//! let failure = exploration.failure().expect("some seed lets Alice's write land last");
//! assert_eq!(failure.message(), r#"the colour is Some("blue")"#);
//!
//! // The failing seed, again: the same events, the same digest, the same failure.
//! let again = Simulation::new(failure.seed());
//! assert!(the_later_write_wins(&again).is_err());
//! assert!(failure.report().contains(&format!("digest {:016x}", again.trace_digest())));
//! # }
//! ```
