//! Ready-made protocols for torsade: line receivers with a raw mode, the greeting client
//! and server, `CodecReceiver`, which runs any tokio-util codec as a protocol (feature
//! `codec`, on by default), and WebSocket servers and clients (module `websocket`, feature
//! `websocket`).
//!
//! # How it fits
//!
//! ```text
//!  bytes from the reactor (or a TestConnection)
//!        |  Protocol::data_received
//!        v
//!  LineReceiver / LineOnlyReceiver   -- a torsade::Protocol: frames lines, enforces limits
//!        |  LineHandler::line_received(&mut LineContext, Line)
//!        v
//!  your LineHandler                   -- plain state; GreetingServer and GreetingGetter are two
//! ```
//!
//! A [`LineHandler`] is what you write; wrap it in a [`LineReceiver`] (lines plus a raw
//! mode) or a [`LineOnlyReceiver`] (lines only) to get a [`torsade::Protocol`] that the
//! reactor or the in-memory [`torsade::testing`] tools can drive. The framing is sans-I/O:
//! lines are lent to the handler where they were received ([`Line`]: no copy, and kept
//! with no copy either), limits are on by default, and the same bytes give the same lines
//! however they are chunked.
//!
//! # Examples
//!
//! ```
//! use torsade::testing::TestConnection;
//! use torsade_protocols::prelude::*;
//!
//! /// Echoes every line back, reversed.
//! struct Reverse;
//!
//! impl LineHandler for Reverse {
//!     fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
//!         let reversed: Vec<u8> = line.iter().rev().copied().collect();
//!         lines.send_line(&reversed);
//!     }
//! }
//!
//! let mut connection = TestConnection::new(LineOnlyReceiver::new(Reverse));
//! for byte in b"hello\r\nworld\r\n" {
//!     connection.receive(&[*byte]); // one byte at a time: same lines
//! }
//! assert_eq!(connection.take_written(), &b"olleh\r\ndlrow\r\n"[..]);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "codec")]
mod codec_context;
#[cfg(feature = "codec")]
mod codec_handler;
#[cfg(feature = "codec")]
mod codec_receiver;
mod dispatch;
mod error;
mod greeting_getter;
mod greeting_server;
mod greeting_wire;
mod line;
mod line_context;
mod line_handler;
mod line_mode;
mod line_only_receiver;
mod line_protocol;
mod line_receiver;
mod line_sender;
pub mod prelude;
mod string_context;
mod string_handler;
mod string_receiver;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

#[cfg(feature = "codec")]
#[cfg_attr(docsrs, doc(cfg(feature = "codec")))]
pub use crate::codec_context::CodecContext;
#[cfg(feature = "codec")]
#[cfg_attr(docsrs, doc(cfg(feature = "codec")))]
pub use crate::codec_handler::CodecHandler;
#[cfg(feature = "codec")]
#[cfg_attr(docsrs, doc(cfg(feature = "codec")))]
pub use crate::codec_receiver::CodecReceiver;
pub use crate::error::{Error, Result};
pub use crate::greeting_getter::{GreetingGetter, RemoteGreetingGetter};
pub use crate::greeting_server::GreetingServer;
pub use crate::line::Line;
pub use crate::line_context::LineContext;
pub use crate::line_handler::LineHandler;
pub use crate::line_mode::{LineMode, LinesOnly, WithRawMode};
pub use crate::line_only_receiver::LineOnlyReceiver;
pub use crate::line_protocol::LineProtocol;
pub use crate::line_receiver::LineReceiver;
pub use crate::line_sender::LineSender;
pub use crate::string_context::StringContext;
pub use crate::string_handler::StringHandler;
pub use crate::string_receiver::{
    Int16StringReceiver, Int32StringReceiver, Int8StringReceiver, LengthFieldReceiver,
    NetstringReceiver, StringReceiver,
};
pub use torsade::lines::{DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH};
