//! Building a protocol per connection: [`ProtocolFactory`] and [`ClientFactory`].
//!
//! A listening port asks its factory for a protocol for every connection it accepts; an
//! outgoing connection asks its factory once. The factory is shared by every connection it
//! built (it is `Sync`): keep shared state there, behind a `Mutex` or atomics.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::{Address, DisconnectReason, Error, Protocol};

/// Builds one protocol per connection.
///
/// # Examples
///
/// A factory that refuses a blocked address:
///
/// ```
/// use bytes::Bytes;
/// use torsade::prelude::*;
/// use torsade::Address;
///
/// struct Discard;
/// impl Protocol for Discard {
///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
/// }
///
/// struct DiscardFactory {
///     blocked: std::net::IpAddr,
/// }
///
/// impl ProtocolFactory for DiscardFactory {
///     type Protocol = Discard;
///     fn build_protocol(&self, peer: &Address) -> Option<Discard> {
///         match peer.socket_addr() {
///             Some(address) if address.ip() == self.blocked => None,
///             _ => Some(Discard),
///         }
///     }
/// }
///
/// let factory = DiscardFactory { blocked: "10.0.0.9".parse().unwrap() };
/// assert!(factory.build_protocol(&Address::Tcp("10.0.0.9:4000".parse().unwrap())).is_none());
/// assert!(factory.build_protocol(&Address::Tcp("10.0.0.8:4000".parse().unwrap())).is_some());
/// ```
#[doc(alias = "IProtocolFactory")]
#[doc(alias = "Factory")]
pub trait ProtocolFactory: Send + Sync + 'static {
    /// The protocol this factory builds.
    type Protocol: Protocol;

    /// Builds the protocol for a new connection with `peer`, or refuses the connection by
    /// returning `None` (it is then closed at once).
    #[doc(alias = "buildProtocol")]
    fn build_protocol(&self, peer: &Address) -> Option<Self::Protocol>;

    /// Called when a listening port using this factory starts listening, or when an
    /// outgoing connection attempt with it starts. Called once per port or attempt.
    #[doc(alias = "startFactory")]
    fn start_factory(&self) {}

    /// Called when that port stops listening, or that attempt's connection ends.
    #[doc(alias = "stopFactory")]
    fn stop_factory(&self) {}

    /// The recorder of this factory's connections, if they are recorded: the reactor
    /// asks when a connection starts. `None` (nothing recorded) unless the factory is
    /// wrapped by [`Recorder::wrap`](crate::record::Recorder::wrap); there is no need to
    /// implement it.
    fn recorder(&self) -> Option<&crate::record::Recorder> {
        None
    }
}

/// A factory for outgoing connections: adds the client's connection events.
pub trait ClientFactory: ProtocolFactory {
    /// A connection attempt to `address` is starting.
    #[doc(alias = "startedConnecting")]
    fn started_connecting(&self, address: &str) {
        let _ = address;
    }

    /// The connection could not be made (refused, timed out, unresolvable, or the factory
    /// refused it).
    #[doc(alias = "clientConnectionFailed")]
    fn client_connection_failed(&self, error: &Error) {
        let _ = error;
    }

    /// A connection made with this factory ended; called after the protocol's own
    /// `connection_lost`.
    #[doc(alias = "clientConnectionLost")]
    fn client_connection_lost(&self, reason: &DisconnectReason) {
        let _ = reason;
    }
}

impl<F: ProtocolFactory> ProtocolFactory for Arc<F> {
    type Protocol = F::Protocol;

    fn build_protocol(&self, peer: &Address) -> Option<Self::Protocol> {
        (**self).build_protocol(peer)
    }

    fn start_factory(&self) {
        (**self).start_factory();
    }

    fn stop_factory(&self) {
        (**self).stop_factory();
    }

    fn recorder(&self) -> Option<&crate::record::Recorder> {
        (**self).recorder()
    }
}

impl<F: ClientFactory> ClientFactory for Arc<F> {
    fn started_connecting(&self, address: &str) {
        (**self).started_connecting(address);
    }

    fn client_connection_failed(&self, error: &Error) {
        (**self).client_connection_failed(error);
    }

    fn client_connection_lost(&self, reason: &DisconnectReason) {
        (**self).client_connection_lost(reason);
    }
}

/// A factory made from a closure that builds a protocol for every connection; see
/// [`factory_fn`]. Its client hooks do nothing.
pub struct FnFactory<F> {
    build: F,
}

/// Makes a factory from a closure: Twisted's `Factory.forProtocol`.
///
/// The factory accepts every connection; implement [`ProtocolFactory`] yourself to refuse
/// some.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::prelude::*;
/// use torsade::{factory_fn, Address};
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn data_received(&mut self, transport: &mut Context<'_, Self>, data: Bytes) {
///         transport.write(&data);
///     }
/// }
///
/// let factory = factory_fn(|_peer: &Address| Echo);
/// assert!(factory.build_protocol(&Address::Tcp("127.0.0.1:1".parse().unwrap())).is_some());
/// ```
#[doc(alias = "forProtocol")]
pub fn factory_fn<P, F>(build: F) -> FnFactory<F>
where
    P: Protocol,
    F: Fn(&Address) -> P + Send + Sync + 'static,
{
    FnFactory { build }
}

impl<P, F> ProtocolFactory for FnFactory<F>
where
    P: Protocol,
    F: Fn(&Address) -> P + Send + Sync + 'static,
{
    type Protocol = P;

    fn build_protocol(&self, peer: &Address) -> Option<P> {
        Some((self.build)(peer))
    }
}

impl<P, F> ClientFactory for FnFactory<F>
where
    P: Protocol,
    F: Fn(&Address) -> P + Send + Sync + 'static,
{
}

impl<F> fmt::Debug for FnFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnFactory").finish_non_exhaustive()
    }
}

/// A factory that hands out one protocol, given beforehand, for a connection made once
/// (standard I/O, a child process's pipes).
pub(crate) struct OnceFactory<P>(Mutex<Option<P>>);

impl<P> OnceFactory<P> {
    pub(crate) fn new(protocol: P) -> OnceFactory<P> {
        OnceFactory(Mutex::new(Some(protocol)))
    }
}

impl<P: Protocol> ProtocolFactory for OnceFactory<P> {
    type Protocol = P;

    fn build_protocol(&self, _: &Address) -> Option<P> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl<P: Protocol> ClientFactory for OnceFactory<P> {}

impl<P> fmt::Debug for OnceFactory<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnceFactory")
    }
}
