//! Who is still alive on a reactor, so that `stop` can close everything and wait for it.
//!
//! Live connections register their transport (so `stop` can ask each to lose its
//! connection); listening ports and connection attempts hold a plain guard and watch the
//! stop signal themselves. `Reactor::run` returns once every guard is gone.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{watch, Notify};

use crate::TransportRef;

pub(crate) struct Registry {
    state: Mutex<State>,
    /// How long TLS handshakes on this reactor may take, in milliseconds.
    tls_handshake_timeout_ms: std::sync::atomic::AtomicU64,
    /// Notified whenever a guard is dropped.
    changed: Notify,
    stop_tx: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    connections: HashMap<u64, TransportRef>,
    /// Guards that are not connections: listening ports, connection attempts.
    tasks: usize,
    stopping: bool,
}

/// Keeps its owner counted as alive until dropped.
pub(crate) struct Guard {
    registry: Arc<Registry>,
    connection: Option<u64>,
}

impl Registry {
    pub(crate) fn new() -> Arc<Registry> {
        let (stop_tx, _) = watch::channel(false);
        Arc::new(Registry {
            state: Mutex::new(State::default()),
            tls_handshake_timeout_ms: std::sync::atomic::AtomicU64::new(
                crate::tls::TLS_HANDSHAKE_TIMEOUT.as_millis() as u64,
            ),
            changed: Notify::new(),
            stop_tx,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a live connection; if the reactor is stopping, asks it to close at once.
    pub(crate) fn register_connection(self: &Arc<Self>, transport: TransportRef) -> Guard {
        let stopping = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            state.connections.insert(id, transport.clone());
            let guard = Guard {
                registry: self.clone(),
                connection: Some(id),
            };
            (state.stopping, guard)
        };
        if stopping.0 {
            transport.lose_connection();
        }
        stopping.1
    }

    /// Counts a listening port or a connection attempt.
    pub(crate) fn register_task(self: &Arc<Self>) -> Guard {
        self.lock().tasks += 1;
        Guard {
            registry: self.clone(),
            connection: None,
        }
    }

    /// How long a TLS handshake may take.
    pub(crate) fn tls_handshake_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.tls_handshake_timeout_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    pub(crate) fn set_tls_handshake_timeout(&self, timeout: std::time::Duration) {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.tls_handshake_timeout_ms
            .store(millis, std::sync::atomic::Ordering::Relaxed);
    }

    /// A receiver that sees `true` once the reactor starts stopping.
    pub(crate) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop_tx.subscribe()
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Starts stopping: signals listeners and attempts, asks every connection to close.
    pub(crate) fn begin_stop(&self) {
        let transports: Vec<TransportRef> = {
            let mut state = self.lock();
            state.stopping = true;
            state.connections.values().cloned().collect()
        };
        self.stop_tx.send_replace(true);
        for transport in transports {
            transport.lose_connection();
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
        let removed = {
            let mut state = self.registry.lock();
            match self.connection {
                Some(id) => state.connections.remove(&id),
                None => {
                    state.tasks = state.tasks.saturating_sub(1);
                    None
                }
            }
        };
        // The transport is dropped outside the lock.
        drop(removed);
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
            .finish()
    }
}
