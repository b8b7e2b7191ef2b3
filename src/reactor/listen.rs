//! Accepting connections: [`Reactor::listen`] on any [`ServerEndpoint`], and the
//! [`ListeningPort`] it returns, with its connection limit, its connections' idle
//! timeout and its counters.

use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::host::ReactorHost;
use super::registry::{Guard, Registry};
use super::stats::{Counter, PortStats};
use super::Reactor;
use crate::connection::drive::Driver;
use crate::connection::inbox::Inbox;
use crate::endpoints::{cannot_listen, Accepted, Binding, IntoServerEndpoint, Listener};
use crate::log_limit::RepeatedError;
use crate::record::Side;
#[cfg(feature = "tls")]
use crate::tls::rustls::ServerConfig;
#[cfg(feature = "tls")]
use crate::tls::StartTls;
use crate::{Address, Clock, Deferred, Error, ProtocolFactory, Resolver, Result};

/// How long to wait before accepting again after running out of file descriptors or
/// memory, instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often repeated accept failures are summarised in the log, per loop.
const ACCEPT_FAILURE_SUMMARY: Duration = Duration::from_secs(60);

impl Reactor {
    /// Listens on `endpoint`, building a protocol for each connection with `factory`.
    /// Twisted's `endpoint.listen(factory)` (and `listenTCP`, `listenSSL`, `listenUNIX`).
    ///
    /// `endpoint` is any [`ServerEndpoint`](crate::endpoints::ServerEndpoint), an endpoint
    /// string (`"tcp:8000:interface=127.0.0.1"`, `"unix:/run/app.sock"`, ...), or a socket
    /// address (`"127.0.0.1:0"`, a `SocketAddr`), which listens on TCP. The socket is bound
    /// now, so errors surface here; port 0 picks a free port (see
    /// [`ListeningPort::local_addr`]). `factory.start_factory()` runs before this returns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] for a malformed string; [`Error::CannotListen`] if the
    /// address cannot be bound, or the reactor is stopping.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::prelude::*;
    /// use torsade::{factory_fn, Address, Reactor};
    ///
    /// struct Echo;
    /// impl Protocol for Echo {
    ///     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
    ///         cx.write(&data);
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.listen("tcp:0:interface=127.0.0.1", factory_fn(|_: &Address| Echo)).unwrap();
    /// assert_ne!(port.local_addr().port(), Some(0));
    /// ```
    #[doc(alias = "listenTCP")]
    #[doc(alias = "listenSSL")]
    #[doc(alias = "listenUNIX")]
    pub fn listen<F: ProtocolFactory>(
        &self,
        endpoint: impl IntoServerEndpoint,
        factory: F,
    ) -> Result<ListeningPort> {
        let endpoint = endpoint.into_server_endpoint()?;
        if self.registry().is_stopping() {
            return Err(cannot_listen(
                &endpoint.to_string(),
                io::Error::other("the reactor is stopping"),
            ));
        }
        let binding = endpoint.bind(self)?;
        Ok(self.start_listening(binding, factory))
    }

    /// Runs an accept loop on each of the binding's listeners, all feeding one port.
    fn start_listening<F: ProtocolFactory>(&self, binding: Binding, factory: F) -> ListeningPort {
        let Binding {
            listeners,
            local,
            #[cfg(feature = "tls")]
            tls,
            cleanup,
        } = binding;
        let control = Arc::new(PortControl::new(listeners.len(), cleanup));
        let factory = Arc::new(factory);
        factory.start_factory();
        for (index, (handle, listener)) in listeners.into_iter().enumerate() {
            let guard = self.registry().register_task();
            let accepting = Accepting {
                factory: factory.clone(),
                control: control.clone(),
                registry: self.registry().clone(),
                clock: self.loop_clock(index),
                #[cfg(feature = "tls")]
                tls: tls.clone(),
            };
            handle.spawn(accept_loop(listener, accepting, guard));
        }
        tracing::debug!(%local, loops = self.loops(), "listening");
        ListeningPort { local, control }
    }
}

/// What an accept loop needs to start its connections.
struct Accepting<F> {
    factory: Arc<F>,
    control: Arc<PortControl>,
    registry: Arc<Registry>,
    /// The clock of the loop this accept loop runs on (its connections' clock).
    clock: Arc<dyn Clock>,
    /// The TLS server side to play on every connection, for a TLS port.
    #[cfg(feature = "tls")]
    tls: Option<Arc<ServerConfig>>,
}

async fn accept_loop<F: ProtocolFactory>(
    listener: Listener,
    accepting: Accepting<F>,
    _alive: Guard,
) {
    let Accepting {
        factory,
        control,
        registry,
        ..
    } = &accepting;
    let mut reactor_stopping = registry.stop_signal();
    let mut port_stopping = control.stopping.subscribe();
    let slot = registry.counters().slot_for_this_thread();
    let time = accepting.clock.clone();
    let mut failures = RepeatedError::new(
        "accept failed (backing off)",
        ACCEPT_FAILURE_SUMMARY,
        Box::new(move || time.now()),
    );
    loop {
        let accepted = tokio::select! {
            biased;
            _ = port_stopping.wait_for(|stopping| *stopping) => break,
            _ = reactor_stopping.wait_for(|stopping| *stopping) => break,
            accepted = async {
                if control.pauses_when_full() {
                    // At the limit, connections wait in the kernel's backlog.
                    control.room().await;
                }
                listener.accept().await
            } => accepted,
        };
        match accepted {
            Ok(accepted) => {
                if let Some(summary) = failures.succeeded() {
                    tracing::warn!("{summary}");
                }
                if !control.try_reserve() {
                    if !control.pauses_when_full() {
                        control.refused.fetch_add(1, Ordering::Relaxed);
                        registry.counters().add(slot, Counter::Refused, 1);
                        tracing::debug!(peer = %accepted.peer, "the port is at its connection limit; refused");
                        continue; // Dropping the stream closes it.
                    }
                    // Another loop took the last place since this one looked: wait for
                    // the next, holding the connection.
                    tokio::select! {
                        biased;
                        _ = port_stopping.wait_for(|stopping| *stopping) => break,
                        _ = reactor_stopping.wait_for(|stopping| *stopping) => break,
                        () = control.reserve() => {}
                    }
                }
                start_connection(accepted, &accepting);
            }
            Err(error) if is_resource_exhaustion(&error) => {
                if let Some(line) = failures.failed(&error) {
                    tracing::warn!("{line}");
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    _ = port_stopping.wait_for(|stopping| *stopping) => break,
                    _ = reactor_stopping.wait_for(|stopping| *stopping) => break,
                }
            }
            Err(error) => tracing::debug!("accept failed: {error}"),
        }
    }
    drop(listener);
    if control.loop_closed() {
        control.remove_socket_file();
        factory.stop_factory();
        control.closed();
    }
}

fn is_resource_exhaustion(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Starts a connection the port has reserved a place for (given back if it does not
/// start).
fn start_connection<F: ProtocolFactory>(accepted: Accepted, accepting: &Accepting<F>) {
    let Accepted {
        stream,
        peer,
        host,
        #[cfg(unix)]
        credentials,
    } = accepted;
    let control = &accepting.control;
    match catch_unwind(AssertUnwindSafe(|| accepting.factory.build_protocol(&peer))) {
        Ok(Some(protocol)) => {
            control.accepted.fetch_add(1, Ordering::Relaxed);
            let inbox = Inbox::new(peer, host, accepting.clock.clone());
            #[cfg(unix)]
            if let Some(credentials) = credentials {
                inbox.set_credentials(credentials);
            }
            let host = ReactorHost::new(accepting.registry.clone(), Counter::Accepted)
                .with_port(control.clone());
            let mut driver = Driver::new(protocol, stream, inbox, host);
            if let Some(timeout) = control.idle_timeout() {
                driver = driver.with_idle_timeout(timeout);
            }
            #[cfg(feature = "tls")]
            if let Some(config) = &accepting.tls {
                driver = driver.with_handshake(StartTls::server(config.clone()));
            }
            if let Some(recorder) = accepting.factory.recorder() {
                driver = driver.with_recorder(recorder, Side::Server);
            }
            tokio::spawn(std::future::poll_fn(move |cx| driver.poll(cx)));
        }
        Ok(None) => {
            control.release();
            tracing::debug!(%peer, "factory refused the connection");
        }
        Err(payload) => {
            control.release();
            tracing::error!(%peer, "build_protocol panicked; connection closed: {}", Error::from_panic(&*payload))
        }
    }
}

/// What a listening port does with connections beyond its limit
/// ([`ListeningPort::set_max_connections`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LimitPolicy {
    /// Accept and close them at once (counted in [`PortStats::refused`]): the client sees
    /// its connection closed before anything is said.
    #[default]
    Refuse,
    /// Stop accepting until a connection ends: new connections wait in the kernel's
    /// backlog (1024), then the kernel refuses or drops them. Nothing is refused by the
    /// port itself.
    PauseAccepting,
}

/// A port accepting connections. Twisted's `IListeningPort`.
///
/// Dropping it does not stop listening; call [`stop_listening`](ListeningPort::stop_listening).
pub struct ListeningPort {
    local: Address,
    control: Arc<PortControl>,
}

/// A port's state shared by its accept loops, its `ListeningPort` and its connections.
pub(crate) struct PortControl {
    /// Set by `stop_listening`; every accept loop watches it.
    stopping: watch::Sender<bool>,
    /// Accept loops still running (one per loop with `SO_REUSEPORT`).
    open_loops: AtomicUsize,
    state: Mutex<PortState>,
    /// No socket behind it (a `MemoryReactor` port): stopping completes at once.
    in_memory: bool,
    /// A Unix socket's file, removed once the port has stopped listening.
    socket_file: Mutex<Option<PathBuf>>,
    /// Connections accepted (or being started) and not yet lost.
    open: AtomicUsize,
    accepted: AtomicU64,
    refused: AtomicU64,
    /// The most open connections; `usize::MAX` for no limit.
    max: AtomicUsize,
    /// Beyond the limit, pause accepting (else refuse).
    pause_when_full: AtomicBool,
    /// Notified when a connection ends or the limit changes: accept loops waiting for room
    /// look again.
    room: Notify,
    /// The idle timeout each connection starts with.
    idle_timeout: Mutex<Option<Duration>>,
}

#[derive(Default)]
struct PortState {
    closed: bool,
    waiters: Vec<Resolver<()>>,
}

impl PortControl {
    fn new(loops: usize, socket_file: Option<PathBuf>) -> PortControl {
        PortControl {
            stopping: watch::channel(false).0,
            open_loops: AtomicUsize::new(loops),
            state: Mutex::new(PortState::default()),
            in_memory: false,
            socket_file: Mutex::new(socket_file),
            open: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            max: AtomicUsize::new(usize::MAX),
            pause_when_full: AtomicBool::new(false),
            room: Notify::new(),
            idle_timeout: Mutex::new(None),
        }
    }

    fn idle_timeout(&self) -> Option<Duration> {
        *self
            .idle_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes the port's Unix socket file, if it has one.
    fn remove_socket_file(&self) {
        let path = self
            .socket_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(path) = path {
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::debug!("cannot remove {}: {error}", path.display());
            }
        }
    }

    /// An accept loop ended; returns whether it was the last.
    fn loop_closed(&self) -> bool {
        self.open_loops.fetch_sub(1, Ordering::AcqRel) == 1
    }

    fn pauses_when_full(&self) -> bool {
        self.pause_when_full.load(Ordering::Acquire)
    }

    /// Takes a place for a new connection, if the limit allows.
    fn try_reserve(&self) -> bool {
        let max = self.max.load(Ordering::Acquire);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .is_ok()
    }

    /// Gives back a connection's place (it was lost, or never started).
    pub(crate) fn release(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.room.notify_waiters();
    }

    /// Completes once there is room below the limit (without taking it).
    async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open.load(Ordering::Acquire) < self.max.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Takes a place, waiting for one if need be.
    async fn reserve(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.try_reserve() {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, PortState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn closed(&self) {
        let waiters = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.waiters)
        };
        for waiter in waiters {
            // Each resolver is fired only here.
            let _ = waiter.callback(());
        }
    }
}

impl ListeningPort {
    /// A port with no socket behind it, for [`testing::MemoryReactor`](crate::testing::MemoryReactor).
    pub(crate) fn in_memory(local: Address) -> ListeningPort {
        ListeningPort {
            local,
            control: Arc::new(PortControl {
                in_memory: true,
                ..PortControl::new(0, None)
            }),
        }
    }

    /// Another value for the same port (the simulated network keeps one to see whether
    /// the port still listens).
    pub(crate) fn share(&self) -> ListeningPort {
        ListeningPort {
            local: self.local.clone(),
            control: self.control.clone(),
        }
    }

    /// Whether the port still accepts connections (`stop_listening` not completed).
    pub fn is_listening(&self) -> bool {
        !self.control.lock().closed
    }

    /// The address the port is bound to (with the real port number when 0 was asked for;
    /// a Unix socket's path).
    #[doc(alias = "getHost")]
    pub fn local_addr(&self) -> Address {
        self.local.clone()
    }

    /// Limits how many of this port's connections may be open at once (`None`: no limit,
    /// the default), and says what happens to connections beyond it (see
    /// [`LimitPolicy`]). A connection stops counting once it is lost. Lowering the limit
    /// below the connections open closes none of them; it only holds back new ones. With
    /// several loops the limit is the port's, shared by all of them.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::prelude::*;
    /// use torsade::{factory_fn, Address, LimitPolicy, Reactor};
    ///
    /// struct Quiet;
    /// impl Protocol for Quiet {
    ///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    /// }
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.listen("127.0.0.1:0", factory_fn(|_: &Address| Quiet)).unwrap();
    /// port.set_max_connections(Some(1000), LimitPolicy::Refuse);
    /// assert_eq!(port.max_connections(), Some((1000, LimitPolicy::Refuse)));
    /// assert_eq!(port.stats().refused, 0);
    /// ```
    pub fn set_max_connections(&self, max: Option<usize>, policy: LimitPolicy) {
        self.control
            .pause_when_full
            .store(policy == LimitPolicy::PauseAccepting, Ordering::Release);
        self.control
            .max
            .store(max.unwrap_or(usize::MAX), Ordering::Release);
        self.control.room.notify_waiters();
    }

    /// The limit set with [`set_max_connections`](ListeningPort::set_max_connections), if
    /// any, and its policy.
    pub fn max_connections(&self) -> Option<(usize, LimitPolicy)> {
        let max = self.control.max.load(Ordering::Acquire);
        let policy = if self.control.pauses_when_full() {
            LimitPolicy::PauseAccepting
        } else {
            LimitPolicy::Refuse
        };
        (max != usize::MAX).then_some((max, policy))
    }

    /// Gives every connection this port accepts from now on an idle timeout of `timeout`
    /// (`None`: none, the default), as if its protocol had called
    /// [`Transport::set_idle_timeout`](crate::Transport::set_idle_timeout) as it was
    /// accepted: a connection with no activity for that long gets
    /// [`Protocol::timeout_connection`](crate::Protocol::timeout_connection), which closes
    /// it unless the protocol says otherwise. The protocol may change or remove its own
    /// timeout from [`connection_made`](crate::Protocol::connection_made) on. Connections
    /// already open keep theirs. Twisted's `TimeoutFactory`; Netty's `IdleStateHandler`
    /// added to every child channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use torsade::prelude::*;
    /// use torsade::{factory_fn, Address, Reactor};
    ///
    /// struct Quiet;
    /// impl Protocol for Quiet {
    ///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    /// }
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.listen("127.0.0.1:0", factory_fn(|_: &Address| Quiet)).unwrap();
    /// port.set_idle_timeout(Some(Duration::from_secs(300)));
    /// assert_eq!(port.idle_timeout(), Some(Duration::from_secs(300)));
    /// ```
    pub fn set_idle_timeout(&self, timeout: Option<Duration>) {
        *self
            .control
            .idle_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = timeout;
    }

    /// The idle timeout set with [`set_idle_timeout`](ListeningPort::set_idle_timeout), if
    /// any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.control.idle_timeout()
    }

    /// What this port has done so far: connections open, accepted, refused.
    pub fn stats(&self) -> PortStats {
        PortStats {
            open_connections: self.control.open.load(Ordering::Relaxed),
            accepted: self.control.accepted.load(Ordering::Relaxed),
            refused: self.control.refused.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting connections; connections already accepted go on. The Deferred
    /// fires once the socket is closed and `stop_factory` has run. Calling it again is
    /// harmless.
    #[doc(alias = "stopListening")]
    pub fn stop_listening(&self) -> Deferred<()> {
        let (deferred, resolver) = Deferred::new();
        {
            let mut state = self.control.lock();
            if state.closed {
                drop(state);
                let _ = resolver.callback(());
                return deferred;
            }
            state.waiters.push(resolver);
        }
        if self.control.in_memory {
            self.control.closed();
        } else {
            self.control.stopping.send_replace(true);
        }
        deferred
    }
}

impl fmt::Debug for ListeningPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListeningPort")
            .field("local", &self.local)
            .field("closed", &self.control.lock().closed)
            .finish()
    }
}
