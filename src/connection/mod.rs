//! The one connection core: every per-connection rule, written once, and the loop that
//! runs it over any byte stream.
//!
//! ```text
//!  handles ──> Inbox ──┐
//!                      v
//!  stream <──> Driver ──> Core = Protocol + State ──> Context (what callbacks get)
//!              (I/O loop)  (rules, sans I/O)
//! ```
//!
//! - [`Core`](core::Core): a protocol and its connection's [`State`](state::State);
//!   callbacks, write pressure and producers, half-close, the idle timeout, how the
//!   connection ends. No I/O.
//! - [`Context`]: what each callback gets; writes append to the state's buffer.
//! - `Inbox` and the handles ([`TransportHandle`], [`ProtocolHandle`]): how everyone else
//!   reaches the connection, in order.
//! - `Driver`: the I/O loop over a stream `S` (TLS layered on it when asked). The reactor
//!   runs it as a task over sockets; `testing::TestConnection` polls it over memory with
//!   a fake clock. Both run the same code.
//!
//! See `docs/ARCHITECTURE.md` for the data paths.

pub(crate) mod buffers;
mod context;
pub(crate) mod core;
pub(crate) mod drive;
mod handle;
pub(crate) mod inbox;
pub(crate) mod layer;
mod outgoing;
pub(crate) mod pressure;
pub(crate) mod state;
#[cfg(feature = "tls")]
mod tls_layer;

pub use self::context::Context;
pub use self::handle::{ProtocolHandle, TransportHandle};
