//! Testing your protocol: a walk through, from scratch, with the tools in
//! [`testing`](crate::testing).
//!
//! A protocol is plain state driven by callbacks, so it can be tested without a network
//! and without waiting: feed it bytes, read what it wrote, move a fake clock. This guide
//! tests a small key-value protocol four ways. (None of these tests opens a socket: run
//! the test binary under `strace -f -e trace=socket` and you will see no `socket(` call;
//! `.ci/run` checks exactly that for the protocol crate's tests.)
//!
//! # The protocol
//!
//! Lines in, lines out, and an idle timeout through an injected [`Clock`](crate::Clock),
//! so the test can hand it a fake one:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use torsade::{Clock, ClockExt, DelayedCall, DisconnectReason};
//! use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//!
//! /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! /// a connection silent for a minute is closed.
//! pub struct KeyValue {
//!     store: HashMap<String, String>,
//!     clock: Arc<dyn Clock>,
//!     idle: Option<DelayedCall>,
//! }
//!
//! const IDLE: Duration = Duration::from_secs(60);
//!
//! impl KeyValue {
//!     pub fn protocol(clock: Arc<dyn Clock>) -> LineOnlyReceiver<KeyValue> {
//!         LineOnlyReceiver::new(KeyValue { store: HashMap::new(), clock, idle: None })
//!     }
//! }
//!
//! impl LineHandler for KeyValue {
//!     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//!         let transport = lines.transport().clone();
//!         self.idle = Some(self.clock.call_later(IDLE, move || transport.lose_connection()));
//!     }
//!
//!     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//!         if let Some(idle) = &self.idle {
//!             let _ = idle.reset(IDLE); // activity: the minute starts again
//!         }
//!         let text = String::from_utf8_lossy(&line);
//!         let mut words = text.splitn(3, ' ');
//!         match (words.next(), words.next(), words.next()) {
//!             (Some("SET"), Some(key), Some(value)) => {
//!                 self.store.insert(key.to_string(), value.to_string());
//!                 lines.send_line(b"OK");
//!             }
//!             (Some("GET"), Some(key), None) => match self.store.get(key) {
//!                 Some(value) => lines.send_line(value.as_bytes()),
//!                 None => lines.send_line(b"NOT FOUND"),
//!             },
//!             _ => lines.send_line(b"ERROR"),
//!         }
//!     }
//!
//!     fn connection_lost(&mut self, _: DisconnectReason) {
//!         if let Some(idle) = self.idle.take() {
//!             let _ = idle.cancel();
//!         }
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # 1. Bytes in, bytes out: `TestConnection`
//!
//! [`TestConnection`](crate::testing::TestConnection) plays the reactor: it connects the
//! protocol to a [`StringTransport`](crate::testing::StringTransport) that records what
//! is written. [`every_split`](crate::testing::every_split) then checks that the answer
//! does not depend on how TCP chunks the input.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! #
//! # use torsade::{Clock, ClockExt, DelayedCall, DisconnectReason};
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: HashMap<String, String>,
//! #     clock: Arc<dyn Clock>,
//! #     idle: Option<DelayedCall>,
//! # }
//! #
//! # const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(clock: Arc<dyn Clock>) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store: HashMap::new(), clock, idle: None })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         let transport = lines.transport().clone();
//! #         self.idle = Some(self.clock.call_later(IDLE, move || transport.lose_connection()));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         if let Some(idle) = &self.idle {
//! #             let _ = idle.reset(IDLE); // activity: the minute starts again
//! #         }
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 self.store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => match self.store.get(key) {
//! #                 Some(value) => lines.send_line(value.as_bytes()),
//! #                 None => lines.send_line(b"NOT FOUND"),
//! #             },
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! #
//! #     fn connection_lost(&mut self, _: DisconnectReason) {
//! #         if let Some(idle) = self.idle.take() {
//! #             let _ = idle.cancel();
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::{every_split, FakeClock, TestConnection};
//!
//! let clock = Arc::new(FakeClock::new());
//! let mut connection = TestConnection::new(KeyValue::protocol(clock.clone()));
//! connection.receive(b"SET colour blue\r\nGET colour\r\nGET size\r\n");
//! assert_eq!(connection.take_written(), &b"OK\r\nblue\r\nNOT FOUND\r\n"[..]);
//!
//! let answers = every_split(
//!     b"SET a 1\r\nGET a\r\n",
//!     || KeyValue::protocol(clock.clone()),
//!     |connection| connection.take_written(),
//! );
//! assert_eq!(answers, &b"OK\r\n1\r\n"[..]);
//! # }
//! ```
//!
//! # 2. Time: the fake `Clock`
//!
//! The idle timeout, tested in microseconds: [`Clock`](crate::testing::FakeClock) only moves
//! when told to, and runs what falls due.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! #
//! # use torsade::{Clock, ClockExt, DelayedCall, DisconnectReason};
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: HashMap<String, String>,
//! #     clock: Arc<dyn Clock>,
//! #     idle: Option<DelayedCall>,
//! # }
//! #
//! # const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(clock: Arc<dyn Clock>) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store: HashMap::new(), clock, idle: None })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         let transport = lines.transport().clone();
//! #         self.idle = Some(self.clock.call_later(IDLE, move || transport.lose_connection()));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         if let Some(idle) = &self.idle {
//! #             let _ = idle.reset(IDLE); // activity: the minute starts again
//! #         }
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 self.store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => match self.store.get(key) {
//! #                 Some(value) => lines.send_line(value.as_bytes()),
//! #                 None => lines.send_line(b"NOT FOUND"),
//! #             },
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! #
//! #     fn connection_lost(&mut self, _: DisconnectReason) {
//! #         if let Some(idle) = self.idle.take() {
//! #             let _ = idle.cancel();
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::{FakeClock, TestConnection};
//!
//! let clock = FakeClock::new();
//! let mut connection = TestConnection::new(KeyValue::protocol(Arc::new(clock.clone())));
//! clock.advance(Duration::from_secs(59));
//! connection.receive(b"GET x\r\n"); // activity resets the timeout
//! clock.advance(Duration::from_secs(59));
//! assert!(!connection.is_closing());
//! clock.advance(Duration::from_secs(1));
//! assert!(connection.is_closing()); // a silent minute: closed
//! # }
//! ```
//!
//! # 3. Client and server together: the loopback pair
//!
//! [`stream_loopback`](crate::testing::stream_loopback) connects the protocol, in memory,
//! to an async [`Connection`](crate::Connection); the client is ordinary async code,
//! driven with no runtime by [`Deferred::from_future`](crate::Deferred::from_future), and
//! [`pump`](crate::testing::Loopback::pump) moves the bytes (here one at a time).
//! ([`Loopback`](crate::testing::Loopback) does the same for two callback protocols.)
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! #
//! # use bytes::Bytes;
//! # use torsade::{Clock, ClockExt, DelayedCall, DisconnectReason};
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: HashMap<String, String>,
//! #     clock: Arc<dyn Clock>,
//! #     idle: Option<DelayedCall>,
//! # }
//! #
//! # const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(clock: Arc<dyn Clock>) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store: HashMap::new(), clock, idle: None })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         let transport = lines.transport().clone();
//! #         self.idle = Some(self.clock.call_later(IDLE, move || transport.lose_connection()));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         if let Some(idle) = &self.idle {
//! #             let _ = idle.reset(IDLE); // activity: the minute starts again
//! #         }
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 self.store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => match self.store.get(key) {
//! #                 Some(value) => lines.send_line(value.as_bytes()),
//! #                 None => lines.send_line(b"NOT FOUND"),
//! #             },
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! #
//! #     fn connection_lost(&mut self, _: DisconnectReason) {
//! #         if let Some(idle) = self.idle.take() {
//! #             let _ = idle.cancel();
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::{stream_loopback, FakeClock};
//! use torsade::Deferred;
//!
//! let server = KeyValue::protocol(Arc::new(FakeClock::new()));
//! let (mut client, mut pair) = stream_loopback(server);
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
//! # 4. Code that listens: `MemoryReactor`
//!
//! Code that sets up servers takes any [`Network`](crate::Network);
//! [`MemoryReactor`](crate::testing::MemoryReactor) records what it was asked, and hands
//! the factory back to drive.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! #
//! # use torsade::{Clock, ClockExt, DelayedCall, DisconnectReason};
//! # use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};
//! #
//! # /// `SET key value` answers `OK`; `GET key` answers the value or `NOT FOUND`;
//! # /// a connection silent for a minute is closed.
//! # pub struct KeyValue {
//! #     store: HashMap<String, String>,
//! #     clock: Arc<dyn Clock>,
//! #     idle: Option<DelayedCall>,
//! # }
//! #
//! # const IDLE: Duration = Duration::from_secs(60);
//! #
//! # impl KeyValue {
//! #     pub fn protocol(clock: Arc<dyn Clock>) -> LineOnlyReceiver<KeyValue> {
//! #         LineOnlyReceiver::new(KeyValue { store: HashMap::new(), clock, idle: None })
//! #     }
//! # }
//! #
//! # impl LineHandler for KeyValue {
//! #     fn connection_made(&mut self, lines: &mut LineContext<'_>) {
//! #         let transport = lines.transport().clone();
//! #         self.idle = Some(self.clock.call_later(IDLE, move || transport.lose_connection()));
//! #     }
//! #
//! #     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//! #         if let Some(idle) = &self.idle {
//! #             let _ = idle.reset(IDLE); // activity: the minute starts again
//! #         }
//! #         let text = String::from_utf8_lossy(&line);
//! #         let mut words = text.splitn(3, ' ');
//! #         match (words.next(), words.next(), words.next()) {
//! #             (Some("SET"), Some(key), Some(value)) => {
//! #                 self.store.insert(key.to_string(), value.to_string());
//! #                 lines.send_line(b"OK");
//! #             }
//! #             (Some("GET"), Some(key), None) => match self.store.get(key) {
//! #                 Some(value) => lines.send_line(value.as_bytes()),
//! #                 None => lines.send_line(b"NOT FOUND"),
//! #             },
//! #             _ => lines.send_line(b"ERROR"),
//! #         }
//! #     }
//! #
//! #     fn connection_lost(&mut self, _: DisconnectReason) {
//! #         if let Some(idle) = self.idle.take() {
//! #             let _ = idle.cancel();
//! #         }
//! #     }
//! # }
//! # fn main() {
//! use torsade::testing::MemoryReactor;
//! use torsade::{factory_fn, Address, Network};
//!
//! fn serve(network: &impl Network, clock: Arc<dyn Clock>, port: u16) -> torsade::Result<()> {
//!     let factory = factory_fn(move |_: &Address| KeyValue::protocol(clock.clone()));
//!     network.listen_tcp(&format!("127.0.0.1:{port}"), factory).map(drop)
//! }
//!
//! let memory = MemoryReactor::new();
//! serve(&memory, Arc::new(memory.clock().clone()), 6379).unwrap();
//! assert_eq!(memory.listen_addresses(), ["127.0.0.1:6379"]);
//! # }
//! ```
