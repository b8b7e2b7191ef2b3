//! The event loop over tokio: [`Reactor`] — run, stop, time — and its listening ports and
//! outgoing connections.
//!
//! This is the only module that opens sockets. Each connection is one tokio task running
//! the connection core's driver over its stream; see `docs/ARCHITECTURE.md` for the
//! threading model.

mod connect;
mod event_loop;
mod host;
mod listen;
mod loops;
mod registry;
mod signals;
mod standard_io;
mod stats;
mod stream;
mod udp;

pub(crate) use self::connect::establish;
pub use self::event_loop::Reactor;
pub use self::listen::{LimitPolicy, ListeningPort};
pub use self::registry::CLOSE_LINGER;
pub(crate) use self::registry::{Guard, Registry};
pub use self::signals::{SignalHandling, SIGNAL_STOP_DEADLINE};
pub use self::stats::{PortStats, ReactorStats};
pub use self::stream::ByteStream;
pub(crate) use self::stream::NetStream;

#[cfg(test)]
mod tests {
    use super::host::ReactorHost;
    use super::NetStream;
    use crate::connection::drive::Driver;
    use crate::{Context, Protocol, Transport};

    struct Echo;

    impl Protocol for Echo {
        fn data_received(&mut self, cx: &mut Context<'_, Self>, data: bytes::Bytes) {
            cx.write(&data);
        }
    }

    /// The size of what `make` returns, without calling it.
    fn returned_size<A, F>(_: impl Fn(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// An idle connection's memory is mostly its task's future, in tokio's 128-byte-aligned
    /// task cell: the future holds the driver once (the reactor spawns `poll_fn` over it,
    /// not an `async` block that would copy it), and the driver stays small (what few
    /// connections use is boxed).
    #[test]
    fn a_connection_task_stays_within_its_budget() {
        type Echoing = Driver<Echo, NetStream, ReactorHost>;
        let driver = std::mem::size_of::<Echoing>();
        let task =
            returned_size(|mut driver: Echoing| std::future::poll_fn(move |cx| driver.poll(cx)));
        assert_eq!(task, driver, "the task's future holds the driver once");
        assert!(driver <= 192, "the driver is {driver} bytes");
    }
}
