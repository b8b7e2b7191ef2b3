//! Stopping on SIGINT and SIGTERM, as Twisted's reactor does: [`SignalHandling`].
//!
//! While [`Reactor::run`](crate::Reactor::run) runs (unless told otherwise), the first
//! SIGINT or SIGTERM stops the reactor gracefully with a deadline — what was written is
//! sent, connections close, a peer that never reads is aborted when the deadline passes —
//! and a second one aborts everything at once. systemd, Docker and Kubernetes stop a
//! service with SIGTERM; a terminal with SIGINT (Ctrl-C).

use std::time::Duration;

use super::registry::Registry;
use super::Reactor;

/// How long a stop on a signal waits for connections to close before aborting them,
/// unless set ([`Reactor::set_signal_handling`](crate::Reactor::set_signal_handling)).
pub const SIGNAL_STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Whether and how [`Reactor::run`](crate::Reactor::run) handles SIGINT and SIGTERM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalHandling {
    /// The process's own handling (the default action ends it at once).
    Off,
    /// The first signal stops the reactor gracefully, aborting what has not closed after
    /// this deadline; a second aborts at once.
    Stop {
        /// How long the graceful stop may take.
        deadline: Duration,
    },
}

impl Default for SignalHandling {
    fn default() -> SignalHandling {
        SignalHandling::Stop {
            deadline: SIGNAL_STOP_DEADLINE,
        }
    }
}

/// Watches for the signals on the running loop: the first stops `reactor` with
/// `deadline`, the second aborts. Ends once the reactor has stopped.
#[cfg(unix)]
pub(crate) async fn watch(
    reactor: Reactor,
    registry: std::sync::Arc<Registry>,
    deadline: Duration,
) {
    use tokio::signal::unix::{signal, SignalKind};

    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot watch SIGINT and SIGTERM; they end the process as usual");
        return;
    };
    let mut received = 0;
    loop {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
            () = reactor.stopped() => return,
        };
        received += 1;
        if received == 1 {
            tracing::info!(
                ?deadline,
                "{name}: stopping (a second signal aborts at once)"
            );
            // A stop the program asked for already goes on, now with this deadline.
            let _ = reactor.stop();
            reactor.abort_after(deadline);
        } else {
            tracing::warn!("{name} again: aborting every connection");
            registry.abort_all();
        }
    }
}

/// Signals are not watched where tokio cannot (off Unix).
#[cfg(not(unix))]
pub(crate) async fn watch(_: Reactor, _: std::sync::Arc<Registry>, _: Duration) {}
