//! Accepting connections: [`Reactor::listen_tcp`] and the [`ListeningPort`] it returns,
//! with its connection limit and counters.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{watch, Notify};

use super::connection::Connection;
use super::net_stream::NetStream;
use super::registry::{Guard, Registry};
use super::shared::Shared;
use super::stats::{Counter, PortStats};
use super::Reactor;
use crate::log_limit::RepeatedError;
use crate::tls::rustls::ServerConfig;
use crate::tls::StartTls;
use crate::{Address, Deferred, Error, ProtocolFactory, Resolver, Result};

/// Connections the kernel may queue before we accept them.
const BACKLOG: u32 = 1024;
/// How long to wait before accepting again after running out of file descriptors or
/// memory, instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often repeated accept failures are summarised in the log, per loop.
const ACCEPT_FAILURE_SUMMARY: Duration = Duration::from_secs(60);

impl Reactor {
    /// Listens for TCP connections on `address`, building a protocol for each with
    /// `factory`. Twisted's `listenTCP`.
    ///
    /// The socket is bound now (so errors surface here), with `SO_REUSEADDR` and a backlog
    /// of 1024; port 0 picks a free port (see [`ListeningPort::local_addr`]). With several
    /// loops, each loop gets its own socket on the port (`SO_REUSEPORT`) and accepts on it;
    /// the kernel spreads connections over them. Accepted
    /// connections have `TCP_NODELAY` set: torsade batches writes itself. A host name in
    /// `address` is resolved with the system resolver, which blocks; the first address
    /// that binds is used. `factory.start_factory()` runs before this returns.
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`] if no address could be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::{factory_fn, Address, Protocol, Reactor, TransportRef};
    ///
    /// struct Echo;
    /// impl Protocol for Echo {
    ///     fn data_received(&mut self, transport: &TransportRef, data: Bytes) {
    ///         transport.write(&data);
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Echo)).unwrap();
    /// assert_ne!(port.local_addr().port(), 0);
    /// ```
    #[doc(alias = "listenTCP")]
    pub fn listen_tcp<F: ProtocolFactory>(
        &self,
        address: impl ToSocketAddrs + fmt::Display,
        factory: F,
    ) -> Result<ListeningPort> {
        self.listen_with(address, factory, None)
    }

    /// Listens for TLS connections on `address`: [`listen_tcp`](Reactor::listen_tcp), with a
    /// TLS handshake on every accepted connection. Twisted's `listenSSL`.
    ///
    /// The protocol is built and `connection_made` runs as soon as the TCP connection is
    /// accepted (what it writes is sent encrypted once the handshake completes); then
    /// [`handshake_completed`](crate::Protocol::handshake_completed) runs. A failed or
    /// stalled handshake (over [`TLS_HANDSHAKE_TIMEOUT`](crate::tls::TLS_HANDSHAKE_TIMEOUT))
    /// ends that connection with the TLS error in `connection_lost`; the port goes on
    /// serving. Build `config` with [`tls::server_config_from_pem`](crate::tls::server_config_from_pem)
    /// or bring your own.
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`] if no address could be bound.
    #[doc(alias = "listenSSL")]
    pub fn listen_tls<F: ProtocolFactory>(
        &self,
        address: impl ToSocketAddrs + fmt::Display,
        factory: F,
        config: Arc<ServerConfig>,
    ) -> Result<ListeningPort> {
        self.listen_with(address, factory, Some(config))
    }

    /// Accepts connections on a listening socket made elsewhere: one with socket options
    /// of its own (buffer sizes, say), or handed over by a service manager. Otherwise as
    /// [`listen_tcp`](Reactor::listen_tcp). Twisted's `adoptStreamPort`.
    ///
    /// The socket must be listening already. With several loops, each accepts on a
    /// duplicate of it (the kernel wakes them all; one wins each connection).
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`] if the socket cannot be used (not a socket, no address).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use torsade::{factory_fn, Address, Protocol, Reactor, TransportRef};
    ///
    /// struct Quiet;
    /// impl Protocol for Quiet {
    ///     fn data_received(&mut self, _: &TransportRef, _: Bytes) {}
    /// }
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let address = listener.local_addr().unwrap();
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.adopt_tcp_listener(listener, factory_fn(|_: &Address| Quiet)).unwrap();
    /// assert_eq!(port.local_addr(), address);
    /// ```
    #[doc(alias = "adoptStreamPort")]
    pub fn adopt_tcp_listener<F: ProtocolFactory>(
        &self,
        listener: std::net::TcpListener,
        factory: F,
    ) -> Result<ListeningPort> {
        let address = listener
            .local_addr()
            .map_or_else(|_| "an adopted socket".to_string(), |a| a.to_string());
        let cannot_listen = |source: io::Error| Error::CannotListen {
            address: address.clone(),
            source,
        };
        if self.registry().is_stopping() {
            return Err(cannot_listen(io::Error::other("the reactor is stopping")));
        }
        listener.set_nonblocking(true).map_err(cannot_listen)?;
        let mut listeners = Vec::new();
        for handle in self.handles() {
            let own = listener.try_clone().map_err(cannot_listen)?;
            let _runtime = handle.enter();
            let own = TcpListener::from_std(own).map_err(cannot_listen)?;
            listeners.push((handle.clone(), own));
        }
        drop(listener);
        self.start_listening(listeners, factory, None)
            .map_err(cannot_listen)
    }

    fn listen_with<F: ProtocolFactory>(
        &self,
        address: impl ToSocketAddrs + fmt::Display,
        factory: F,
        tls: Option<Arc<ServerConfig>>,
    ) -> Result<ListeningPort> {
        let cannot_listen = |source: io::Error| Error::CannotListen {
            address: address.to_string(),
            source,
        };
        if self.registry().is_stopping() {
            return Err(cannot_listen(io::Error::other("the reactor is stopping")));
        }
        let handles: Vec<Handle> = self.handles().cloned().collect();
        let listeners = bind_per_loop(&address, &handles).map_err(cannot_listen)?;
        self.start_listening(listeners, factory, tls)
            .map_err(cannot_listen)
    }

    /// Runs an accept loop on each of `listeners`, all feeding one port.
    fn start_listening<F: ProtocolFactory>(
        &self,
        listeners: Vec<(Handle, TcpListener)>,
        factory: F,
        tls: Option<Arc<ServerConfig>>,
    ) -> io::Result<ListeningPort> {
        let local_addr = listeners[0].1.local_addr()?;
        let control = Arc::new(PortControl::new(listeners.len()));
        let factory = Arc::new(factory);
        factory.start_factory();
        for (handle, listener) in listeners {
            let guard = self.registry().register_task();
            let time = self.time();
            let failures = RepeatedError::new(
                "accept failed (backing off)",
                ACCEPT_FAILURE_SUMMARY,
                Box::new(move || time.now()),
            );
            handle.spawn(accept_loop(
                listener,
                factory.clone(),
                control.clone(),
                self.registry().clone(),
                guard,
                tls.clone(),
                failures,
            ));
        }
        tracing::debug!(%local_addr, loops = self.loops(), "listening");
        Ok(ListeningPort {
            local_addr,
            control,
        })
    }
}

/// Binds one listening socket per loop, each registered with the loop that accepts on it.
/// With several loops they share the port with `SO_REUSEPORT` (the later ones bind to the
/// port the first got), and the kernel spreads connections over them by address hash.
///
/// Measured against one accepting loop handing connections out in turn (docs/BENCHMARKS.md):
/// as fast or faster in every round, and simpler — no socket moves between loops (a hand-off
/// costs two more `epoll_ctl` per connection) and no loop on the accept path of another.
fn bind_per_loop(
    address: &impl ToSocketAddrs,
    handles: &[Handle],
) -> io::Result<Vec<(Handle, TcpListener)>> {
    let shared = handles.len() > 1;
    let first = {
        let _runtime = handles[0].enter();
        bind(address, shared)?
    };
    let local_addr = first.local_addr()?;
    let mut listeners = vec![(handles[0].clone(), first)];
    if shared {
        for handle in &handles[1..] {
            let _runtime = handle.enter();
            listeners.push((handle.clone(), bind_one(local_addr, true)?));
        }
    }
    Ok(listeners)
}

fn bind(address: &impl ToSocketAddrs, shared: bool) -> io::Result<TcpListener> {
    let mut last_error = None;
    for address in address.to_socket_addrs()? {
        match bind_one(address, shared) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

fn bind_one(address: SocketAddr, shared: bool) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if shared {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

async fn accept_loop<F: ProtocolFactory>(
    listener: TcpListener,
    factory: Arc<F>,
    control: Arc<PortControl>,
    registry: Arc<Registry>,
    _alive: Guard,
    tls: Option<Arc<ServerConfig>>,
    mut failures: RepeatedError,
) {
    let mut reactor_stopping = registry.stop_signal();
    let mut port_stopping = control.stopping.subscribe();
    let slot = registry.counters().slot_for_this_thread();
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
            Ok((stream, peer)) => {
                if let Some(summary) = failures.succeeded() {
                    tracing::warn!("{summary}");
                }
                if !control.try_reserve() {
                    if !control.pauses_when_full() {
                        control.refused.fetch_add(1, Ordering::Relaxed);
                        registry.counters().add(slot, Counter::Refused, 1);
                        tracing::debug!(%peer, "the port is at its connection limit; refused");
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
                start_connection(stream, peer, &factory, &registry, tls.as_ref(), &control);
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
fn start_connection<F: ProtocolFactory>(
    stream: TcpStream,
    peer: SocketAddr,
    factory: &Arc<F>,
    registry: &Arc<Registry>,
    tls: Option<&Arc<ServerConfig>>,
    control: &Arc<PortControl>,
) {
    // Failing to set the option only costs latency; the connection is still good.
    let _ = stream.set_nodelay(true);
    let Ok(host) = stream.local_addr() else {
        control.release();
        return; // Reset before we could look at it.
    };
    let peer = Address::Tcp(peer);
    match catch_unwind(AssertUnwindSafe(|| factory.build_protocol(&peer))) {
        Ok(Some(protocol)) => {
            control.accepted.fetch_add(1, Ordering::Relaxed);
            let shared = Arc::new(Shared::new(peer, Address::Tcp(host)));
            let mut connection =
                Connection::new(protocol, NetStream::Tcp(stream), shared, registry.clone())
                    .with_port(control.clone());
            connection.count(Counter::Accepted, 1);
            if let Some(config) = tls {
                connection = connection.with_handshake(StartTls::server(config.clone()));
            }
            tokio::spawn(connection.run(None));
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
    local_addr: SocketAddr,
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
}

#[derive(Default)]
struct PortState {
    closed: bool,
    waiters: Vec<Resolver<()>>,
}

impl PortControl {
    fn new(loops: usize) -> PortControl {
        PortControl {
            stopping: watch::channel(false).0,
            open_loops: AtomicUsize::new(loops),
            state: Mutex::new(PortState::default()),
            in_memory: false,
            open: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            max: AtomicUsize::new(usize::MAX),
            pause_when_full: AtomicBool::new(false),
            room: Notify::new(),
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
    pub(crate) fn in_memory(local_addr: SocketAddr) -> ListeningPort {
        ListeningPort {
            local_addr,
            control: Arc::new(PortControl {
                in_memory: true,
                ..PortControl::new(0)
            }),
        }
    }

    /// Whether the port still accepts connections (`stop_listening` not completed).
    pub fn is_listening(&self) -> bool {
        !self.control.lock().closed
    }

    /// The address the port is bound to (with the real port number when 0 was asked for).
    #[doc(alias = "getHost")]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
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
    /// use torsade::{factory_fn, Address, LimitPolicy, Protocol, Reactor, TransportRef};
    ///
    /// struct Quiet;
    /// impl Protocol for Quiet {
    ///     fn data_received(&mut self, _: &TransportRef, _: Bytes) {}
    /// }
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let port = reactor.listen_tcp("127.0.0.1:0", factory_fn(|_: &Address| Quiet)).unwrap();
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
            .field("local_addr", &self.local_addr)
            .field("closed", &self.control.lock().closed)
            .finish()
    }
}
