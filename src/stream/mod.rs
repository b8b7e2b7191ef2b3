//! The async/await face: [`Connection`] — `read_line().await`, `write_line(..).await` —
//! built on the Protocol/Transport core.
//!
//! [`Reactor::open_connection`](crate::Reactor::open_connection) and
//! [`Reactor::start_server`](crate::Reactor::start_server) give connections whose bytes
//! are moved by an ordinary protocol on the ordinary connection task: there is one I/O
//! path, and the limits and backpressure of the callback API apply to both faces.

mod connection;
mod frames;
mod open;
mod protocol;
mod shared;
mod tokio_io;

pub use self::connection::{Connection, StreamWriter};
pub use self::open::HandlerOutput;
pub(crate) use self::protocol::StreamProtocol;
pub(crate) use self::shared::StreamShared;
pub use self::shared::READ_BUFFER_LIMIT;

#[cfg(test)]
mod frame_tests;
#[cfg(test)]
mod tests;
