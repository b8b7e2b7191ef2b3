//! Who is still alive on a reactor, so that `stop` can close everything and wait for it,
//! and the reactor's counters.
//!
//! Live connections register their inbox (so `stop` can ask each to lose its connection,
//! and a stop deadline can abort it or cut its linger short); listening ports and
//! connection attempts hold a plain guard and watch the stop signal themselves.
//! `Reactor::run` returns once every connection and guard is gone.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{watch, Notify};

use super::stats::Counters;
use crate::connection::inbox::{Inbox, Request};

/// How long a cleanly closed connection goes on reading (and dropping) what its peer still
/// sends, when something was unread at the close, unless set otherwise
/// ([`Reactor::set_close_linger`](crate::Reactor::set_close_linger)).
pub const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_secs(2);

pub(crate) struct Registry {
    state: Mutex<State>,
    /// How long TLS handshakes on this reactor may take, in milliseconds.
    #[cfg(feature = "tls")]
    tls_handshake_timeout_ms: std::sync::atomic::AtomicU64,
    /// How long a clean close lingers, in milliseconds.
    linger_ms: std::sync::atomic::AtomicU64,
    /// What stop does with child processes.
    child_policy: Mutex<crate::process::ChildPolicy>,
    /// Notified whenever a guard is dropped or a connection unregistered.
    changed: Notify,
    stop_tx: watch::Sender<bool>,
    /// `true` once the stop deadline passed: what is still open is aborted.
    abort_tx: watch::Sender<bool>,
    counters: Counters,
}

#[derive(Default)]
struct State {
    /// Live connections, by the address of their inbox (unique while they live: the map
    /// holds a reference to it).
    connections: HashMap<usize, Arc<Inbox>>,
    /// Guards that are not connections: listening ports, connection attempts.
    tasks: usize,
    stopping: bool,
    aborting: bool,
}

/// Keeps a listening port or a connection attempt counted as alive until dropped.
pub(crate) struct Guard {
    registry: Arc<Registry>,
}

impl Registry {
    pub(crate) fn new(loops: usize) -> Arc<Registry> {
        let (stop_tx, _) = watch::channel(false);
        let (abort_tx, _) = watch::channel(false);
        Arc::new(Registry {
            state: Mutex::new(State::default()),
            #[cfg(feature = "tls")]
            tls_handshake_timeout_ms: std::sync::atomic::AtomicU64::new(
                crate::tls::TLS_HANDSHAKE_TIMEOUT.as_millis() as u64,
            ),
            linger_ms: std::sync::atomic::AtomicU64::new(CLOSE_LINGER.as_millis() as u64),
            child_policy: Mutex::default(),
            changed: Notify::new(),
            stop_tx,
            abort_tx,
            counters: Counters::new(loops),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts a live connection under `key` until
    /// [`deregister_connection`](Registry::deregister_connection); if the reactor is
    /// stopping, asks it to close at once (or, past the stop deadline, aborts it).
    pub(crate) fn register_connection(&self, key: usize, inbox: Arc<Inbox>) {
        let (stopping, aborting) = {
            let mut state = self.lock();
            state.connections.insert(key, inbox.clone());
            (state.stopping, state.aborting)
        };
        if aborting {
            let _ = inbox.request(Request::Abort);
            inbox.interrupt();
        } else if stopping {
            let _ = inbox.request(Request::LoseConnection);
        }
    }

    /// The connection under `key` is gone (a key never registered is ignored).
    pub(crate) fn deregister_connection(&self, key: usize) {
        let removed = self.lock().connections.remove(&key);
        // The transport is dropped outside the lock.
        drop(removed);
        self.changed.notify_waiters();
    }

    /// Counts a listening port or a connection attempt.
    pub(crate) fn register_task(self: &Arc<Self>) -> Guard {
        self.lock().tasks += 1;
        Guard {
            registry: self.clone(),
        }
    }

    /// How long a TLS handshake may take.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_handshake_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.tls_handshake_timeout_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    #[cfg(feature = "tls")]
    pub(crate) fn set_tls_handshake_timeout(&self, timeout: std::time::Duration) {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.tls_handshake_timeout_ms
            .store(millis, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long a clean close lingers.
    pub(crate) fn linger(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.linger_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub(crate) fn set_linger(&self, linger: std::time::Duration) {
        let millis = u64::try_from(linger.as_millis()).unwrap_or(u64::MAX);
        self.linger_ms
            .store(millis, std::sync::atomic::Ordering::Relaxed);
    }

    /// What stop does with child processes.
    pub(crate) fn child_policy(&self) -> crate::process::ChildPolicy {
        *self
            .child_policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_child_policy(&self, policy: crate::process::ChildPolicy) {
        *self
            .child_policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = policy;
    }

    /// A receiver that sees `true` once the reactor starts stopping.
    pub(crate) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop_tx.subscribe()
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.lock().stopping
    }

    /// A receiver that sees `true` once the stop deadline has passed (what a client's TLS
    /// handshake, which runs before its connection registers, and a child process's task
    /// watch).
    pub(crate) fn abort_signal(&self) -> watch::Receiver<bool> {
        self.abort_tx.subscribe()
    }

    /// The stop deadline passed: aborts every connection still open (and every one that
    /// registers from now on), and ends lingering closes and TLS handshakes of attempts.
    pub(crate) fn abort_all(&self) {
        let inboxes: Vec<Arc<Inbox>> = {
            let mut state = self.lock();
            state.aborting = true;
            state.connections.values().cloned().collect()
        };
        self.abort_tx.send_replace(true);
        let open = inboxes.iter().filter(|inbox| !inbox.is_ended()).count();
        if open > 0 {
            tracing::warn!(
                connections = open,
                "stop deadline passed; aborting the connections still open"
            );
        }
        for inbox in inboxes {
            let _ = inbox.request(Request::Abort);
            inbox.interrupt();
        }
    }

    /// Starts stopping: signals listeners and attempts, asks every connection to close.
    pub(crate) fn begin_stop(&self) {
        let inboxes: Vec<Arc<Inbox>> = {
            let mut state = self.lock();
            state.stopping = true;
            state.connections.values().cloned().collect()
        };
        self.stop_tx.send_replace(true);
        for inbox in inboxes {
            let _ = inbox.request(Request::LoseConnection);
        }
    }

    /// Waits until every guard has been dropped.
    pub(crate) async fn drained(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let state = self.lock();
                if state.connections.is_empty() && state.tasks == 0 {
                    return;
                }
            }
            changed.await;
        }
    }

    /// How many connections are alive.
    pub(crate) fn connection_count(&self) -> usize {
        self.lock().connections.len()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        {
            let mut state = self.registry.lock();
            state.tasks = state.tasks.saturating_sub(1);
        }
        self.registry.changed.notify_waiters();
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Registry")
            .field("connections", &state.connections.len())
            .field("tasks", &state.tasks)
            .field("stopping", &state.stopping)
            .field("aborting", &state.aborting)
            .finish()
    }
}
