//! Keeping a client connected: [`ReconnectingClient`] connects through an endpoint and, whenever
//! an attempt fails or the connection is lost, tries again after a delay that grows as its
//! [`Backoff`] says. Twisted's `ReconnectingClientFactory`.
//!
//! It works through any [`Network`]: on a [`Reactor`](crate::Reactor) it opens real
//! connections; on [`testing::MemoryReactor`](crate::testing::MemoryReactor) the test
//! settles each attempt by hand, and retries wait on the memory reactor's fake clock. Every
//! wait goes through the network's [`Clock`]. Where it differs from Twisted is listed on
//! [`ReconnectingClient`].
//!
//! # Examples
//!
//! A client kept connected on the memory reactor:
//!
//! ```
//! use std::io::ErrorKind;
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use torsade::testing::MemoryReactor;
//! use torsade::prelude::*;
//! use torsade::{factory_fn, Address, Backoff, ReconnectingClient};
//!
//! struct Echo;
//! impl Protocol for Echo {
//!     fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
//!         cx.write(&data);
//!     }
//! }
//!
//! let memory = Arc::new(MemoryReactor::new());
//! let backoff = Backoff::new().jitter(0.0); // exact delays: 1 s, e s, e² s...
//! let factory = factory_fn(|_: &Address| Echo);
//! let client =
//!     ReconnectingClient::connect_with(memory.clone(), "tls:host=10.0.0.1:port=8443", factory, backoff)
//!         .unwrap();
//! let mut connected = client.when_connected();
//!
//! // The first attempt is refused; the next one starts 1 s later.
//! let refused = ErrorKind::ConnectionRefused.into();
//! memory.fail_connect(0, Error::ConnectFailed { address: "10.0.0.1:8443".into(), source: refused });
//! memory.clock().advance(Duration::from_millis(999));
//! assert_eq!(memory.connect_endpoints().len(), 1);
//! memory.clock().advance(Duration::from_millis(1));
//! assert_eq!(memory.connect_endpoints(), ["tls:host=10.0.0.1:port=8443"; 2]);
//!
//! // It succeeds: the Deferred fires with the connection's handle.
//! let mut connection = memory.complete_connect::<Echo>(1).unwrap();
//! assert!(connected.take_result().unwrap().is_ok());
//! assert!(client.connection().is_some());
//!
//! // The connection is lost: the backoff was reset, so the next attempt is 1 s later.
//! connection.disconnect(DisconnectReason::lost(ErrorKind::ConnectionReset.into()));
//! assert!(client.connection().is_none());
//! memory.clock().advance(Duration::from_secs(1));
//! assert_eq!(memory.connect_endpoints().len(), 3);
//!
//! client.stop_trying();
//! ```

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::endpoints::{ClientEndpoint, IntoClientEndpoint};
use crate::{
    Address, ClientFactory, Clock, ClockExt, Deferred, DelayedCall, DisconnectReason, Error,
    Network, Protocol, ProtocolFactory, ProtocolHandle, Resolver, Result,
};

/// How a [`ReconnectingClient`] spaces its retries.
///
/// The first retry waits `initial_delay`; each later one waits `factor` times longer than
/// the one before, up to `max_delay`. Each delay is then scattered by a random factor
/// `1 + jitter × z`, `z` drawn from a standard normal distribution cut off at ±3, so that
/// many clients cut off together do not all come back at the same instant; the result is
/// kept between zero and `max_delay`. After `max_retries` retries in a row the client
/// gives up.
///
/// The defaults are Twisted's: 1 s, e (2.718…), 0.1196…, one hour, no limit on retries;
/// the backoff resets when a connection is made (see [`ReconnectingClient`]), and the
/// jitter's random numbers come from a fresh random seed.
///
/// Settings are checked when the client starts
/// ([`ReconnectingClient::connect_with`]): a delay of zero, a factor below 1, a negative
/// jitter, any number that is not finite, or a maximum below the initial delay is
/// [`Error::InvalidBackoff`].
///
/// # Examples
///
/// Retries after 10 ms, 20 ms, 40 ms... up to 5 s, at most 20 in a row, with jitter from a
/// fixed seed (so a test sees the same delays every run):
///
/// ```
/// use std::time::Duration;
/// use torsade::Backoff;
///
/// let backoff = Backoff::new()
///     .initial_delay(Duration::from_millis(10))
///     .factor(2.0)
///     .max_delay(Duration::from_secs(5))
///     .max_retries(20)
///     .jitter_seed(7);
/// assert_ne!(backoff, Backoff::default());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    initial_delay: Duration,
    factor: f64,
    jitter: f64,
    max_delay: Duration,
    max_retries: Option<u32>,
    reset_on_connect: bool,
    jitter_seed: Option<u64>,
}

impl Backoff {
    /// Twisted's defaults: initial delay 1 s, factor e, jitter 0.11962656472, maximum delay
    /// one hour, unlimited retries; reset on connect, random seed.
    pub fn new() -> Backoff {
        Backoff {
            initial_delay: Duration::from_secs(1),
            factor: std::f64::consts::E,
            jitter: 0.119_626_564_72,
            max_delay: Duration::from_secs(3600),
            max_retries: None,
            reset_on_connect: true,
            jitter_seed: None,
        }
    }

    /// The delay before the first retry (must be more than zero). Twisted's `initialDelay`.
    #[doc(alias = "initialDelay")]
    pub fn initial_delay(mut self, delay: Duration) -> Backoff {
        self.initial_delay = delay;
        self
    }

    /// How much longer each retry waits than the one before (finite, at least 1; 1 keeps
    /// the delay constant). Twisted's `factor`.
    pub fn factor(mut self, factor: f64) -> Backoff {
        self.factor = factor;
        self
    }

    /// How much to scatter each delay: the standard deviation of the random factor, as a
    /// fraction of the delay (finite, at least 0; 0 turns randomness off). Twisted's
    /// `jitter`.
    pub fn jitter(mut self, jitter: f64) -> Backoff {
        self.jitter = jitter;
        self
    }

    /// The longest delay, jitter included (at least the initial delay). Twisted's
    /// `maxDelay`.
    #[doc(alias = "maxDelay")]
    pub fn max_delay(mut self, delay: Duration) -> Backoff {
        self.max_delay = delay;
        self
    }

    /// Gives up after this many retries in a row (a failed attempt or a lost connection
    /// each takes one); 0 never retries. Unlimited by default. Twisted's `maxRetries`.
    #[doc(alias = "maxRetries")]
    pub fn max_retries(mut self, retries: u32) -> Backoff {
        self.max_retries = Some(retries);
        self
    }

    /// Whether a connection being made resets the delay to the initial one and the retry
    /// count to zero (default `true`; Twisted needs a call to `resetDelay()`). With
    /// `false`, call [`ReconnectingClient::reset_delay`] yourself, say once the peer has
    /// answered, so a server that accepts and at once hangs up is retried ever more
    /// slowly.
    pub fn reset_on_connect(mut self, reset: bool) -> Backoff {
        self.reset_on_connect = reset;
        self
    }

    /// Draws the jitter from a generator seeded with `seed`, so the delays are the same on
    /// every run (tests, reproducing a report). By default each client takes a random seed.
    pub fn jitter_seed(mut self, seed: u64) -> Backoff {
        self.jitter_seed = Some(seed);
        self
    }

    /// `Ok` if every setting is in range.
    fn check(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::InvalidBackoff { reason });
        if self.initial_delay.is_zero() {
            return invalid("the initial delay must be more than zero".to_string());
        }
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return invalid(format!(
                "the factor must be a finite number of at least 1, not {}",
                self.factor
            ));
        }
        if !(self.jitter.is_finite() && self.jitter >= 0.0) {
            return invalid(format!(
                "the jitter must be a finite number of at least 0, not {}",
                self.jitter
            ));
        }
        if self.max_delay < self.initial_delay {
            return invalid(format!(
                "the maximum delay ({:?}) is shorter than the initial delay ({:?})",
                self.max_delay, self.initial_delay
            ));
        }
        Ok(())
    }

    /// The delay after `base` (which is never above the maximum).
    fn grow(&self, base: Duration) -> Duration {
        let grown = base.as_secs_f64() * self.factor;
        // Overflow (a huge factor) means "longer than any maximum".
        Duration::try_from_secs_f64(grown).map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// `base` scattered by the jitter, kept between zero and the maximum.
    fn scatter(&self, base: Duration, random: &mut SplitMix64) -> Duration {
        if self.jitter == 0.0 {
            return base;
        }
        let deviation = random.next_normal().clamp(-3.0, 3.0);
        let scattered = base.as_secs_f64() * (1.0 + self.jitter * deviation);
        if scattered.is_nan() || scattered <= 0.0 {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(scattered)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new()
    }
}

/// A client connection kept alive: connects to an address and reconnects, with a
/// [`Backoff`], whenever an attempt fails or the connection is lost. Twisted's
/// `ReconnectingClientFactory`.
///
/// Each connection gets a fresh protocol from your [`ClientFactory`], whose
/// `client_connection_failed` and `client_connection_lost` hooks still run (before the
/// retry is scheduled), as do `started_connecting`, `start_factory` and `stop_factory`
/// for every attempt. To act on each new connection, do it in the protocol's
/// `connection_made`; to reach the current one from outside, use
/// [`connection`](ReconnectingClient::connection) or
/// [`when_connected`](ReconnectingClient::when_connected).
///
/// Cheap to clone; every clone controls the same client. Dropping them does not stop it
/// (call [`stop_trying`](ReconnectingClient::stop_trying)). The client also stops for good
/// when its retries run out, or when an attempt fails with [`Error::ReactorStopped`].
///
/// Where it differs from Twisted:
/// - **The backoff resets when a connection is made**, by default: a lost connection is
///   retried after the initial delay again, and the retry count starts over. Twisted
///   leaves that to a `resetDelay()` the user must remember to call (Twisted issue 1994).
///   Opt out with [`Backoff::reset_on_connect`]`(false)` and call
///   [`reset_delay`](ReconnectingClient::reset_delay) when you judge the connection
///   healthy.
/// - **Jitter never pushes a delay past the maximum** (Twisted issue 4734). It is drawn
///   from a normal distribution cut off at three standard deviations, and applied to each
///   delay as it is scheduled, so it does not compound from one retry to the next.
/// - The first retry waits the initial delay (as Twisted does since 25.x).
/// - [`stop_trying`](ReconnectingClient::stop_trying) does not close the current
///   connection: do that through its [`ProtocolHandle`].
///
/// # Examples
///
/// On the real reactor (`tests/reconnect.rs` has a server that comes up only later):
///
/// ```
/// use std::time::Duration;
/// use torsade::{Backoff, Reactor, ReconnectingClient};
/// use torsade_protocols::{GreetingGetter, GreetingServer, RemoteGreetingGetter};
///
/// let reactor = Reactor::new().unwrap();
/// let server = reactor
///     .listen("127.0.0.1:0", GreetingServer::factory())
///     .unwrap();
/// let backoff = Backoff::new().initial_delay(Duration::from_millis(10));
/// let client = ReconnectingClient::connect_with(
///     reactor.clone(),
///     server.local_addr(),
///     GreetingGetter::factory(),
///     backoff,
/// )
/// .unwrap();
///
/// let (stopper, done) = (reactor.clone(), client.clone());
/// client
///     .when_connected()
///     .and_then(|getter| getter.get_greeting("World"))
///     .add_both(move |greeting| {
///         assert_eq!(greeting.unwrap(), "Hello, World!");
///         done.stop_trying();
///         stopper.stop().unwrap();
///         Ok::<(), torsade::Failure>(())
///     })
///     .detach();
/// reactor.run().unwrap();
/// ```
#[doc(alias = "ReconnectingClientFactory")]
pub struct ReconnectingClient<P: Protocol> {
    shared: Arc<ClientState<P>>,
}

/// Starts one connection attempt (numbered) for the client; returns its Deferred, to
/// cancel it.
type StartAttempt<P> = Box<dyn Fn(&Arc<ClientState<P>>, u64) -> Deferred<()> + Send + Sync>;

/// What the client's handles, its timers and its attempts' factories share.
struct ClientState<P: Protocol> {
    /// The endpoint's string form, for logs and errors.
    address: String,
    backoff: Backoff,
    clock: Arc<dyn Clock>,
    start: StartAttempt<P>,
    state: Mutex<State<P>>,
}

struct State<P> {
    phase: Phase<P>,
    /// False once `stop_trying` was called or the client gave up.
    trying: bool,
    /// Attempts started so far; the latest one's number.
    attempts: u64,
    /// Retries in a row since the last reset. Twisted's `retries`.
    retries: u32,
    /// The next retry's delay before jitter. Twisted's `delay`.
    next_delay: Duration,
    random: SplitMix64,
    /// Waiting for the next connection.
    waiters: Vec<Resolver<ProtocolHandle<P>>>,
}

enum Phase<P> {
    /// Attempt number `attempts` is under way (its Deferred, once started, to cancel it).
    Connecting(Option<Deferred<()>>),
    /// Attempt number `attempts` made this connection.
    Connected(ProtocolHandle<P>),
    /// A retry is scheduled.
    Waiting(DelayedCall),
    /// No attempt is under way and none will be.
    Stopped,
}

impl<P: Protocol> ReconnectingClient<P> {
    /// Connects through `endpoint` (any client endpoint: TCP, TLS, a Unix socket; or its
    /// string) via `network` with `factory`, retrying with Twisted's default [`Backoff`].
    /// The first attempt starts now.
    ///
    /// `network` is kept for the client's timers and attempts: pass `reactor.clone()`, or
    /// an `Arc<MemoryReactor>` in tests.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] for a malformed endpoint string; nothing is attempted
    /// then.
    pub fn connect<N, F>(network: N, endpoint: impl IntoClientEndpoint, factory: F) -> Result<Self>
    where
        N: Network + Send + Sync + 'static,
        F: ClientFactory<Protocol = P>,
    {
        ReconnectingClient::connect_with(network, endpoint, factory, Backoff::new())
    }

    /// [`connect`](ReconnectingClient::connect) with your own `backoff`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBackoff`] if a setting is out of range (see [`Backoff`]); nothing
    /// is attempted then.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] for a malformed endpoint string.
    pub fn connect_with<N, F>(
        network: N,
        endpoint: impl IntoClientEndpoint,
        factory: F,
        backoff: Backoff,
    ) -> Result<Self>
    where
        N: Network + Send + Sync + 'static,
        F: ClientFactory<Protocol = P>,
    {
        backoff.check()?;
        let endpoint = endpoint.into_client_endpoint()?;
        Ok(ReconnectingClient::start(
            network, endpoint, factory, backoff,
        ))
    }

    fn start<N, F>(
        network: N,
        endpoint: Arc<dyn ClientEndpoint>,
        factory: F,
        backoff: Backoff,
    ) -> Self
    where
        N: Network + Send + Sync + 'static,
        F: ClientFactory<Protocol = P>,
    {
        let network = Arc::new(network);
        let factory = Arc::new(factory);
        let clock: Arc<dyn Clock> = network.clone();
        let address = endpoint.to_string();
        let start: StartAttempt<P> = Box::new(move |client, attempt| {
            let factory = AttemptFactory {
                factory: factory.clone(),
                client: client.clone(),
                attempt,
            };
            let connected = client.clone();
            network
                .connect(endpoint.clone(), factory)
                .add_both(move |result| {
                    // A failure was reported to `client_connection_failed` already.
                    if let Ok(handle) = result {
                        connected.connected(attempt, handle);
                    }
                })
        });
        let seed = backoff.jitter_seed.unwrap_or_else(random_seed);
        let shared = Arc::new(ClientState {
            address,
            backoff,
            clock,
            start,
            state: Mutex::new(State {
                phase: Phase::Connecting(None),
                trying: true,
                attempts: 1,
                retries: 0,
                next_delay: backoff.initial_delay,
                random: SplitMix64(seed),
                waiters: Vec::new(),
            }),
        });
        shared.start_attempt(1);
        ReconnectingClient { shared }
    }

    /// The current connection's handle, if the client is connected.
    pub fn connection(&self) -> Option<ProtocolHandle<P>> {
        match &self.shared.lock().phase {
            Phase::Connected(handle) => Some(handle.clone()),
            Phase::Connecting(_) | Phase::Waiting(_) | Phase::Stopped => None,
        }
    }

    /// Fires with the current connection's handle if there is one, else with the next
    /// connection's, once its protocol's `connection_made` has run.
    ///
    /// Fails with [`Error::StoppedTrying`] if the client stops before it connects again
    /// ([`stop_trying`](ReconnectingClient::stop_trying), retries used up, the reactor
    /// stopped).
    pub fn when_connected(&self) -> Deferred<ProtocolHandle<P>> {
        let mut state = self.shared.lock();
        match &state.phase {
            Phase::Connected(handle) => Deferred::succeed(handle.clone()),
            Phase::Stopped => Deferred::fail(self.shared.stopped_error(&state)),
            Phase::Connecting(_) | Phase::Waiting(_) => {
                let (deferred, resolver) = Deferred::new();
                state.waiters.push(resolver);
                deferred
            }
        }
    }

    /// Stops reconnecting: cancels a scheduled retry, abandons an attempt under way
    /// (Twisted's `stopConnecting`: the factory's `client_connection_failed` gets
    /// [`Error::ConnectCancelled`]), and does not reconnect when the current connection
    /// ends. Twisted's `stopTrying`. Final: to connect again, start a new client.
    ///
    /// The current connection stays open: close it through
    /// [`connection`](ReconnectingClient::connection) if you want it closed.
    #[doc(alias = "stopTrying")]
    #[doc(alias = "stopConnecting")]
    pub fn stop_trying(&self) {
        let (call, attempt, waiters) = {
            let mut state = self.shared.lock();
            state.trying = false;
            match std::mem::replace(&mut state.phase, Phase::Stopped) {
                Phase::Waiting(call) => (Some(call), None, std::mem::take(&mut state.waiters)),
                Phase::Connecting(attempt) => (None, attempt, std::mem::take(&mut state.waiters)),
                kept => {
                    state.phase = kept;
                    (None, None, Vec::new())
                }
            }
        };
        if let Some(call) = call {
            tracing::debug!("not reconnecting to {}: asked to stop", self.shared.address);
            // If it is running right now, it sees `trying` is false and does nothing.
            let _ = call.cancel();
        }
        if let Some(attempt) = attempt {
            tracing::debug!(
                "abandoning the attempt to connect to {}",
                self.shared.address
            );
            attempt.cancel();
        }
        self.shared.fail(waiters);
    }

    /// Starts the delays over: the next retry waits the initial delay, and the retry count
    /// is zero. Twisted's `resetDelay`, needed only with
    /// [`Backoff::reset_on_connect`]`(false)`. It does not undo
    /// [`stop_trying`](ReconnectingClient::stop_trying), nor move a retry already
    /// scheduled.
    #[doc(alias = "resetDelay")]
    pub fn reset_delay(&self) {
        self.shared.lock().reset(&self.shared.backoff);
    }
}

impl<P: Protocol> ClientState<P> {
    fn lock(&self) -> MutexGuard<'_, State<P>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts attempt number `attempt`, keeping its Deferred to cancel it while it is the
    /// current one and under way.
    fn start_attempt(self: &Arc<Self>, attempt: u64) {
        let deferred = (self.start)(self, attempt);
        let mut state = self.lock();
        if state.attempts == attempt {
            if let Phase::Connecting(slot @ None) = &mut state.phase {
                *slot = Some(deferred);
                return;
            }
        }
        drop(state);
        deferred.detach();
    }

    fn stopped_error(&self, state: &State<P>) -> Error {
        Error::StoppedTrying {
            address: self.address.clone(),
            attempts: state.attempts,
        }
    }

    /// Fails `waiters`: the client stopped before connecting again.
    fn fail(&self, waiters: Vec<Resolver<ProtocolHandle<P>>>) {
        if waiters.is_empty() {
            return;
        }
        let attempts = self.lock().attempts;
        for waiter in waiters {
            let _ = waiter.errback(Error::StoppedTrying {
                address: self.address.clone(),
                attempts,
            });
        }
    }

    /// Attempt `attempt` built its protocol: the connection is made.
    fn made(&self, attempt: u64) {
        let mut state = self.lock();
        if state.attempts == attempt && self.backoff.reset_on_connect {
            state.reset(&self.backoff);
        }
    }

    /// Attempt `attempt`'s protocol has run `connection_made`.
    fn connected(&self, attempt: u64, handle: ProtocolHandle<P>) {
        let waiters = {
            let mut state = self.lock();
            // Otherwise the connection was lost before this callback ran (another thread).
            if state.attempts != attempt || !matches!(state.phase, Phase::Connecting(_)) {
                return;
            }
            tracing::debug!("connected to {}", self.address);
            state.phase = Phase::Connected(handle.clone());
            std::mem::take(&mut state.waiters)
        };
        for waiter in waiters {
            let _ = waiter.callback(handle.clone());
        }
    }

    /// Attempt `attempt` failed, or its connection was lost: schedules the retry, or
    /// stops.
    fn ended(self: &Arc<Self>, attempt: u64, reactor_stopped: bool) {
        let waiters = {
            let mut state = self.lock();
            let current = matches!(state.phase, Phase::Connecting(_) | Phase::Connected(_));
            if state.attempts != attempt || !current {
                return;
            }
            match self.retry_delay(&mut state, reactor_stopped) {
                Some(delay) => {
                    tracing::debug!(
                        "reconnecting to {} in {delay:?} (retry {})",
                        self.address,
                        state.retries
                    );
                    let client = self.clone();
                    let call = self.clock.call_later(delay, move || client.retry());
                    state.phase = Phase::Waiting(call);
                    return;
                }
                None => {
                    state.phase = Phase::Stopped;
                    state.trying = false;
                    std::mem::take(&mut state.waiters)
                }
            }
        };
        self.fail(waiters);
    }

    /// The delay before the next retry, counting it; `None` to stop.
    fn retry_delay(&self, state: &mut State<P>, reactor_stopped: bool) -> Option<Duration> {
        if !state.trying {
            tracing::debug!("not reconnecting to {}: asked to stop", self.address);
            return None;
        }
        if reactor_stopped {
            tracing::debug!("not reconnecting to {}: the reactor stopped", self.address);
            return None;
        }
        state.retries = state.retries.saturating_add(1);
        if self
            .backoff
            .max_retries
            .is_some_and(|max| state.retries > max)
        {
            tracing::info!(
                "giving up on {} after {} retries",
                self.address,
                state.retries - 1
            );
            return None;
        }
        let base = state.next_delay;
        state.next_delay = self.backoff.grow(base);
        Some(self.backoff.scatter(base, &mut state.random))
    }

    /// A scheduled retry is due: starts the next attempt.
    fn retry(self: &Arc<Self>) {
        let attempt = {
            let mut state = self.lock();
            if !state.trying || !matches!(state.phase, Phase::Waiting(_)) {
                return;
            }
            state.attempts += 1;
            state.phase = Phase::Connecting(None);
            state.attempts
        };
        self.start_attempt(attempt);
    }
}

impl<P> State<P> {
    fn reset(&mut self, backoff: &Backoff) {
        self.retries = 0;
        self.next_delay = backoff.initial_delay;
    }
}

/// The factory given to the network for one attempt: the user's, reporting to the client.
struct AttemptFactory<F: ClientFactory> {
    factory: Arc<F>,
    client: Arc<ClientState<F::Protocol>>,
    attempt: u64,
}

impl<F: ClientFactory> ProtocolFactory for AttemptFactory<F> {
    type Protocol = F::Protocol;

    fn build_protocol(&self, peer: &Address) -> Option<F::Protocol> {
        let protocol = self.factory.build_protocol(peer);
        if protocol.is_some() {
            self.client.made(self.attempt);
        }
        protocol
    }

    fn start_factory(&self) {
        self.factory.start_factory();
    }

    fn stop_factory(&self) {
        self.factory.stop_factory();
    }

    fn recorder(&self) -> Option<&crate::record::Recorder> {
        self.factory.recorder()
    }
}

impl<F: ClientFactory> ClientFactory for AttemptFactory<F> {
    fn started_connecting(&self, address: &str) {
        self.factory.started_connecting(address);
    }

    fn client_connection_failed(&self, error: &Error) {
        self.factory.client_connection_failed(error);
        let reactor_stopped = matches!(error, Error::ReactorStopped);
        self.client.ended(self.attempt, reactor_stopped);
    }

    fn client_connection_lost(&self, reason: &DisconnectReason) {
        self.factory.client_connection_lost(reason);
        self.client.ended(self.attempt, false);
    }
}

/// A seed from the standard library's per-process random keys (no clock, no extra crate).
fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// SplitMix64: a small, fast generator, plenty for jitter (not for secrets).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn next_normal(&mut self) -> f64 {
        let radius = 1.0 - self.next_unit(); // in (0, 1]: its logarithm is finite
        let angle = self.next_unit();
        (-2.0 * radius.ln()).sqrt() * (std::f64::consts::TAU * angle).cos()
    }
}

impl<P: Protocol> Clone for ReconnectingClient<P> {
    fn clone(&self) -> Self {
        ReconnectingClient {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Protocol> fmt::Debug for ReconnectingClient<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        let phase = match state.phase {
            Phase::Connecting(_) => "connecting",
            Phase::Connected(_) => "connected",
            Phase::Waiting(_) => "waiting to retry",
            Phase::Stopped => "stopped",
        };
        f.debug_struct("ReconnectingClient")
            .field("address", &self.shared.address)
            .field("phase", &phase)
            .field("trying", &state.trying)
            .field("attempts", &state.attempts)
            .field("retries", &state.retries)
            .field("backoff", &self.shared.backoff)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_draws_have_mean_zero_and_deviation_one() {
        let mut random = SplitMix64(1);
        let draws: Vec<f64> = (0..100_000).map(|_| random.next_normal()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!(
            (variance.sqrt() - 1.0).abs() < 0.02,
            "deviation {}",
            variance.sqrt()
        );
        assert!(draws.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn growth_stops_at_the_maximum_even_when_it_overflows() {
        let backoff = Backoff::new()
            .factor(1e300)
            .max_delay(Duration::from_secs(60));
        assert_eq!(
            backoff.grow(Duration::from_secs(1)),
            Duration::from_secs(60)
        );
        assert_eq!(
            backoff.grow(Duration::from_secs(60)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn huge_jitter_stays_between_zero_and_the_maximum() {
        let backoff = Backoff::new()
            .jitter(1e300)
            .max_delay(Duration::from_secs(60));
        let mut random = SplitMix64(3);
        let delays: Vec<Duration> = (0..1000)
            .map(|_| backoff.scatter(Duration::from_secs(60), &mut random))
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(60)));
        assert!(delays.contains(&Duration::ZERO));
        assert!(delays.contains(&Duration::from_secs(60)));
    }
}
