//! The client side of the greeting story: [`GreetingGetter`].
//!
//! Twisted's `GreetingGetter(LineOnlyReceiver)` from "Turning Asynchronous Networking
//! Inside-Out": send a name, get a [`Deferred`] that fires with the greeting line.
//!
//! The wire format and limits are documented on the type.

use std::fmt;

use bytes::Bytes;
use torsade::{
    factory_fn, Address, ClientFactory, ConnectionError, Deferred, DisconnectReason,
    ProtocolHandle, Resolver, Transport,
};

use crate::greeting_wire::{
    error_reason, EMPTY_NAME, GREETING_OVERHEAD, NAME_HAS_LINE_BREAK, NAME_TOO_LONG,
};
use crate::{
    Error, Line, LineContext, LineHandler, LineOnlyReceiver, LineSender, DEFAULT_MAX_LENGTH,
};

/// A hook run once the connection is up.
type ConnectedHook = Box<dyn FnOnce(&mut GreetingGetter) + Send>;

/// Asks a greeting server for greetings, one at a time.
///
/// # Wire format
///
/// [`get_greeting`](GreetingGetter::get_greeting) sends `NAME\r\n`; the answer is one
/// line, `Hello, NAME!\r\n`, or `ERROR <reason>\r\n` (see
/// [`GreetingServer`](crate::GreetingServer)). One greeting may be pending at a time.
///
/// # Limits
///
/// Answers may be up to 16392 bytes (`Hello, !` around a 16384-byte name, the server's
/// limit); a longer one fails the pending greeting with
/// [`Error::LineTooLong`] and closes the connection. Names are refused before
/// sending if the greeting for them could not fit that limit.
///
/// # Examples
///
/// ```
/// use torsade::testing::TestConnection;
/// use torsade_protocols::GreetingGetter;
///
/// let mut connection = TestConnection::new(GreetingGetter::new().into_protocol());
/// let mut greeting = connection.protocol_mut().handler_mut().get_greeting("World");
/// assert_eq!(connection.take_written(), &b"World\r\n"[..]);
///
/// connection.receive(b"Hello, World!\r\n");
/// assert_eq!(greeting.take_result().unwrap().unwrap(), "Hello, World!");
/// ```
///
/// Asking from the connection hook, as the story's `getterConnected` does:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use torsade::testing::TestConnection;
/// use torsade_protocols::GreetingGetter;
///
/// let heard = Arc::new(Mutex::new(None));
/// let slot = heard.clone();
/// let getter = GreetingGetter::new().on_connected(move |getter| {
///     // The callback runs when the greeting arrives; the handle itself is not needed.
///     drop(
///         getter
///             .get_greeting("World")
///             .add_callback(move |greeting| *slot.lock().unwrap() = Some(greeting)),
///     );
/// });
/// let mut connection = TestConnection::new(getter.into_protocol());
/// assert_eq!(connection.take_written(), &b"World\r\n"[..]);
/// connection.receive(b"Hello, World!\r\n");
/// assert_eq!(heard.lock().unwrap().as_deref(), Some("Hello, World!"));
/// ```
#[derive(Default)]
pub struct GreetingGetter {
    sender: Option<LineSender>,
    max_name_length: usize,
    pending: Option<Resolver<String>>,
    on_connected: Option<ConnectedHook>,
    closed: Option<DisconnectReason>,
}

impl GreetingGetter {
    /// A getter, not connected yet.
    pub fn new() -> GreetingGetter {
        GreetingGetter::default()
    }

    /// Runs `hook` once the connection is up (from `connection_made`), with the getter:
    /// the place to call [`get_greeting`](GreetingGetter::get_greeting) first. Twisted's
    /// `factory.getterConnected(self)`.
    pub fn on_connected(
        mut self,
        hook: impl FnOnce(&mut GreetingGetter) + Send + 'static,
    ) -> GreetingGetter {
        self.on_connected = Some(Box::new(hook));
        self
    }

    /// The getter's protocol: a [`LineOnlyReceiver`] with the `\r\n` delimiter, accepting
    /// answers of up to 16392 bytes.
    pub fn into_protocol(self) -> LineOnlyReceiver<GreetingGetter> {
        LineOnlyReceiver::new(self).with_max_length(DEFAULT_MAX_LENGTH + GREETING_OVERHEAD)
    }

    /// A factory building a plain getter (no hook) for every connection: what
    /// [`Reactor::connect`](torsade::Reactor::connect) needs to give you a
    /// handle you can ask from anywhere, see [`RemoteGreetingGetter`].
    pub fn factory() -> impl ClientFactory<Protocol = LineOnlyReceiver<GreetingGetter>> {
        factory_fn(|_peer: &Address| GreetingGetter::new().into_protocol())
    }

    /// Sends `name` and returns a Deferred that fires with the server's greeting line
    /// (delimiter removed), e.g. `"Hello, World!"`.
    ///
    /// # Errors
    ///
    /// The Deferred fails (with a [`Failure`](torsade::Failure) holding an [`Error`]), in
    /// this order of checks:
    ///
    /// - [`Error::ConnectionClosed`]: the connection has ended (now or while waiting);
    /// - [`Error::NotConnected`]: the connection is not up yet;
    /// - [`Error::InvalidName`]: `name` is empty, holds `\r` or `\n`, or is too long for
    ///   its greeting to fit the line limit; nothing is sent;
    /// - [`Error::GreetingPending`]: an earlier greeting has not arrived yet; that one
    ///   stays pending, untouched;
    /// - later, from the answer: [`Error::ServerError`] for an `ERROR` line,
    ///   [`Error::NotUtf8`], or [`Error::LineTooLong`] (the connection then closes).
    #[doc(alias = "getGreeting")]
    pub fn get_greeting(&mut self, name: &str) -> Deferred<String> {
        if let Some(reason) = &self.closed {
            return Deferred::fail(Error::ConnectionClosed {
                reason: reason.clone(),
            });
        }
        let Some(sender) = &self.sender else {
            return Deferred::fail(Error::NotConnected);
        };
        if let Err(error) = self.check_name(name) {
            return Deferred::fail(error);
        }
        if self.pending.is_some() {
            return Deferred::fail(Error::GreetingPending);
        }
        sender.send_line(name.as_bytes());
        let (greeting, resolver) = Deferred::new();
        self.pending = Some(resolver);
        greeting
    }

    /// Whether a greeting has been asked for and has not arrived yet.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    fn check_name(&self, name: &str) -> Result<(), Error> {
        let reason = if name.is_empty() {
            EMPTY_NAME
        } else if name.contains(['\r', '\n']) {
            NAME_HAS_LINE_BREAK
        } else if name.len() > self.max_name_length {
            NAME_TOO_LONG
        } else {
            return Ok(());
        };
        Err(Error::InvalidName { reason })
    }

    /// Fires the pending greeting, if any, with `outcome`.
    fn settle(&mut self, outcome: Result<String, Error>) {
        let Some(resolver) = self.pending.take() else {
            return;
        };
        let fired = match outcome {
            Ok(greeting) => resolver.callback(greeting),
            Err(error) => resolver.errback(error),
        };
        if let Err(error) = fired {
            tracing::debug!(%error, "greeting getter: the greeting was already settled");
        }
    }
}

impl LineHandler for GreetingGetter {
    fn connection_made(&mut self, lines: &mut LineContext<'_>) {
        self.sender = Some(lines.line_sender());
        self.max_name_length = lines.max_length().saturating_sub(GREETING_OVERHEAD);
        if let Some(hook) = self.on_connected.take() {
            hook(self);
        }
    }

    fn line_received(&mut self, _lines: &mut LineContext<'_>, line: Line<'_>) {
        if self.pending.is_none() {
            tracing::warn!(
                bytes = line.len(),
                "greeting getter: a line arrived with no greeting pending; ignored"
            );
            return;
        }
        let outcome = match error_reason(&line) {
            Some(reason) => Err(Error::ServerError {
                message: String::from_utf8_lossy(reason).into_owned(),
            }),
            None => std::str::from_utf8(&line)
                .map(str::to_owned)
                .map_err(|_| Error::NotUtf8),
        };
        self.settle(outcome);
    }

    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_>, _partial: Bytes) {
        let max_length = lines.max_length();
        self.settle(Err(Error::LineTooLong { max_length }));
        lines.lose_connection_with(ConnectionError::LineTooLong { max_length });
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.sender = None;
        self.closed = Some(reason.clone());
        self.settle(Err(Error::ConnectionClosed { reason }));
    }
}

/// Asking a live getter for a greeting from outside its connection — a timer, another
/// connection, an async task: `getter.get_greeting("World").await`.
///
/// Implemented for the [`ProtocolHandle`] that
/// [`Reactor::connect`](torsade::Reactor::connect) gives for a getter; the
/// request runs inside the getter's connection and the Deferred fires with the greeting.
///
/// # Examples
///
/// ```
/// use torsade::Reactor;
/// use torsade_protocols::{GreetingGetter, GreetingServer, RemoteGreetingGetter};
///
/// let reactor = Reactor::new().unwrap();
/// let server = reactor.listen("127.0.0.1:0", GreetingServer::factory()).unwrap();
/// let r = reactor.clone();
/// let greeting = reactor.spawn(async move {
///     let getter = r.connect(server.local_addr(), GreetingGetter::factory()).await?;
///     let greeting = getter.get_greeting("World").await;
///     r.stop().unwrap();
///     greeting
/// });
/// reactor.run().unwrap();
/// # let mut greeting = greeting;
/// assert_eq!(greeting.take_result().unwrap().unwrap().unwrap(), "Hello, World!");
/// ```
pub trait RemoteGreetingGetter {
    /// [`GreetingGetter::get_greeting`], run inside the getter's connection. Fails with
    /// [`torsade::Error::ConnectionClosed`] if the connection is gone.
    fn get_greeting(&self, name: &str) -> Deferred<String>;
}

impl RemoteGreetingGetter for ProtocolHandle<LineOnlyReceiver<GreetingGetter>> {
    fn get_greeting(&self, name: &str) -> Deferred<String> {
        let name = name.to_string();
        self.call(move |getter, _| getter.handler_mut().get_greeting(&name))
            .and_then(|greeting| greeting)
    }
}

impl fmt::Debug for GreetingGetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreetingGetter")
            .field("connected", &self.sender.is_some())
            .field("pending", &self.pending.is_some())
            .field("on_connected", &self.on_connected.is_some())
            .field("closed", &self.closed)
            .finish()
    }
}
