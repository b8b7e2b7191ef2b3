//! The event loop over tokio: [`Reactor`], listening ports, outgoing connections, and
//! [`ProtocolHandle`] to reach a live protocol.
//!
//! This is the only module that touches sockets. Each connection is one tokio task owning
//! its socket and its protocol; see `docs/ARCHITECTURE.md` for the threading model and the
//! data path of reads and writes.

mod connect;
mod connection;
mod event_loop;
mod listen;
mod local_writes;
mod loops;
mod net_stream;
mod outgoing;
mod read_buffers;
mod registry;
mod shared;
mod stats;

pub use self::connect::DEFAULT_CONNECT_TIMEOUT;
pub(crate) use self::connect::{dial, handshake};
pub(crate) use self::connection::Connection as ConnectionTask;
pub use self::event_loop::Reactor;
pub use self::listen::{LimitPolicy, ListeningPort};
pub use self::local_writes::LentWrites;
pub(crate) use self::net_stream::NetStream;
pub(crate) use self::shared::Shared;
pub(crate) use self::stats::Counter;
pub use self::stats::{PortStats, ReactorStats};
