//! Driving one protocol over a [`StringTransport`]: [`TestConnection`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::StringTransport;
use crate::{DisconnectReason, Protocol, Transport, TransportRef};

/// A protocol connected to a [`StringTransport`], with the reactor's side of the contract
/// played by method calls: Twisted's `makeConnection` + `dataReceived` in a test.
///
/// It keeps the reactor's promises: `connection_made` first, no empty `data_received`,
/// nothing delivered once the protocol asked to close, and `connection_lost` exactly once.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::TestConnection;
/// use torsade::{DisconnectReason, Protocol, TransportRef};
///
/// #[derive(Default)]
/// struct Recorder {
///     seen: Vec<u8>,
///     lost: Option<DisconnectReason>,
/// }
///
/// impl Protocol for Recorder {
///     fn data_received(&mut self, _: &TransportRef, data: Bytes) {
///         self.seen.extend_from_slice(&data);
///     }
///     fn connection_lost(&mut self, reason: DisconnectReason) {
///         self.lost = Some(reason);
///     }
/// }
///
/// let mut connection = TestConnection::new(Recorder::default());
/// for byte in b"one byte at a time" {
///     connection.receive(&[*byte]);
/// }
/// connection.disconnect(DisconnectReason::Done);
/// assert_eq!(connection.protocol().seen, b"one byte at a time");
/// assert!(connection.protocol().lost.as_ref().unwrap().is_clean());
/// ```
pub struct TestConnection<P> {
    protocol: P,
    transport: Arc<StringTransport>,
    transport_ref: TransportRef,
    lost: bool,
}

impl<P: Protocol> TestConnection<P> {
    /// Connects `protocol` to a new [`StringTransport`] and calls `connection_made`.
    pub fn new(protocol: P) -> TestConnection<P> {
        TestConnection::with_transport(protocol, StringTransport::new())
    }

    /// Connects `protocol` to `transport` and calls `connection_made`.
    pub fn with_transport(mut protocol: P, transport: Arc<StringTransport>) -> TestConnection<P> {
        let transport_ref: TransportRef = transport.clone();
        protocol.connection_made(&transport_ref);
        TestConnection {
            protocol,
            transport,
            transport_ref,
            lost: false,
        }
    }

    /// Delivers `data` as one chunk. Returns whether it was delivered: empty data, data
    /// after the protocol asked to close, and data after the connection ended are not (a
    /// real connection stops reading at those points).
    pub fn receive(&mut self, data: &[u8]) -> bool {
        if data.is_empty() || self.lost || self.transport.is_closing() {
            return false;
        }
        self.protocol
            .data_received(&self.transport_ref, Bytes::copy_from_slice(data));
        true
    }

    /// Delivers `data` split into chunks of `size` bytes (the last may be shorter).
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    pub fn receive_in_chunks(&mut self, data: &[u8], size: usize) {
        for chunk in data.chunks(size) {
            self.receive(chunk);
        }
    }

    /// Tells the protocol the peer sent EOF. If it does not ask to stay half-open, the
    /// transport is asked to close, as the reactor would.
    pub fn receive_eof(&mut self) {
        if self.lost || self.transport.is_closing() {
            return;
        }
        if !self.protocol.eof_received(&self.transport_ref) {
            self.transport.lose_connection();
        }
    }

    /// Ends the connection: calls `connection_lost(reason)` unless it was already called.
    pub fn disconnect(&mut self, reason: DisconnectReason) {
        if !self.lost {
            self.lost = true;
            self.protocol.connection_lost(reason);
        }
    }

    /// Everything the protocol wrote since the last `take_written`.
    pub fn written(&self) -> Bytes {
        self.transport.value()
    }

    /// Everything the protocol wrote since the last `take_written`, forgetting it.
    pub fn take_written(&self) -> Bytes {
        self.transport.take()
    }

    /// Whether the protocol asked to close (or abort) the connection.
    pub fn is_closing(&self) -> bool {
        self.transport.is_closing()
    }

    /// Whether `connection_lost` has been called.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// The protocol.
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The protocol, mutably (to call its own methods as outside code would).
    pub fn protocol_mut(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// The transport the protocol writes to.
    pub fn transport(&self) -> &Arc<StringTransport> {
        &self.transport
    }
}

impl<P> fmt::Debug for TestConnection<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConnection")
            .field("protocol", &std::any::type_name::<P>())
            .field("transport", &self.transport)
            .field("lost", &self.lost)
            .finish()
    }
}
