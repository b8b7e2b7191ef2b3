//! What the reactor provides around each connection's driver: [`ReactorHost`] —
//! registration (so a stop reaches it), counters, the port's connection count, the
//! linger and handshake settings, a tracing span.

use std::sync::Arc;
use std::time::Duration;

use super::listen::PortControl;
use super::registry::Registry;
use super::stats::Counter;
use crate::connection::drive::Host;
use crate::connection::inbox::Inbox;
use crate::Address;

/// A connection's place in its reactor.
pub(crate) struct ReactorHost {
    registry: Arc<Registry>,
    /// The listening port that accepted the connection, until it is lost: the port counts
    /// its open connections (and may limit them).
    port: Option<Arc<PortControl>>,
    /// This connection's slot in the reactor's counters: its loop's.
    slot: u8,
    /// The key it is registered under (its inbox's address), once registered.
    key: Option<usize>,
}

impl ReactorHost {
    /// A host for a connection about to start on this thread's loop; `counter` counts how
    /// it came (accepted or connected).
    pub(crate) fn new(registry: Arc<Registry>, counter: Counter) -> ReactorHost {
        let slot = registry.counters().slot_for_this_thread();
        registry.counters().add(slot, counter, 1);
        ReactorHost {
            registry,
            port: None,
            slot,
            key: None,
        }
    }

    /// Counts the connection as one of `port`'s open connections until it is lost (the
    /// caller has reserved its place).
    pub(crate) fn with_port(mut self, port: Arc<PortControl>) -> ReactorHost {
        self.port = Some(port);
        self
    }
}

impl Host for ReactorHost {
    fn opened(&mut self, inbox: Arc<Inbox>) {
        let key = Arc::as_ptr(&inbox) as usize;
        self.registry.register_connection(key, inbox);
        self.key = Some(key);
        self.registry.counters().add(self.slot, Counter::Opened, 1);
    }

    #[inline]
    fn account(&self, read: usize, written: usize) {
        self.registry.counters().add_io(self.slot, read, written);
    }

    fn count(&self, write_pauses: u32, idle_timeouts: u32) {
        let counters = self.registry.counters();
        if write_pauses > 0 {
            counters.add(self.slot, Counter::WritePauses, write_pauses as usize);
        }
        if idle_timeouts > 0 {
            counters.add(self.slot, Counter::IdleTimeouts, idle_timeouts as usize);
        }
    }

    fn lost(&mut self) {
        if let Some(port) = self.port.take() {
            port.release();
        }
        self.registry.counters().add(self.slot, Counter::Lost, 1);
    }

    fn linger(&self) -> Duration {
        self.registry.linger()
    }

    #[cfg(feature = "tls")]
    fn tls_handshake_timeout(&self) -> Duration {
        self.registry.tls_handshake_timeout()
    }

    /// `connection{peer=ADDR}` at debug level, kept only if a subscriber wants it.
    fn span(&self, peer: &Address) -> Option<tracing::Span> {
        let span = tracing::debug_span!("connection", %peer);
        (!span.is_disabled()).then_some(span)
    }
}

impl Drop for ReactorHost {
    /// The connection's task is over (or was dropped with its runtime): it no longer
    /// counts as alive, nor as open on its port.
    fn drop(&mut self) {
        if let Some(port) = self.port.take() {
            port.release();
        }
        if let Some(key) = self.key {
            self.registry.deregister_connection(key);
        }
    }
}
