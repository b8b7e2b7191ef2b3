//! The core crate's one error type, and why a connection ended.
//!
//! [`Error`] is what fallible calls return and what a [`Failure`](crate::Failure) usually
//! carries. [`DisconnectReason`] is not an error: every connection ends, and the reason is
//! handed to [`Protocol::connection_lost`](crate::Protocol::connection_lost) as data.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// A `Result` whose error is torsade's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core crate.
///
/// # Examples
///
/// ```
/// use torsade::Error;
///
/// let error = Error::AlreadyCalled;
/// assert_eq!(error.to_string(), "the Deferred was already fired");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),

    /// A listening socket could not be opened on the address.
    #[error("cannot listen on {address}: {source}")]
    CannotListen {
        /// The address that was asked for.
        address: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// An outgoing connection could not be made.
    #[error("connection to {address} failed: {source}")]
    ConnectFailed {
        /// The address that was asked for.
        address: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A child process could not be started (Twisted's `spawnProcess` raising): the
    /// program does not exist, is not executable, or the system refused.
    #[error("cannot start {program}: {source}")]
    SpawnFailed {
        /// The program that was asked for, as given.
        program: String,
        /// What the operating system said (`NotFound` for a missing program).
        #[source]
        source: io::Error,
    },

    /// An outgoing connection did not complete in time.
    #[error("connection to {address} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The address that was asked for.
        address: String,
        /// How long the attempt was given.
        timeout: Duration,
    },

    /// The factory refused to build a protocol for the connection.
    #[error("the factory refused the connection to {address}")]
    NoProtocol {
        /// The address of the refused connection.
        address: String,
    },

    /// The connection is closed, so the request cannot reach its protocol.
    #[error("the connection is closed")]
    ConnectionClosed,

    /// The connection ended with an error before the operation could complete.
    #[error("{reason}")]
    Disconnected {
        /// Why the connection ended.
        reason: DisconnectReason,
    },

    /// A line (or a `read_until` frame) grew past the limit before its delimiter came.
    /// The rest of it, up to and including its delimiter, is discarded.
    #[error("line longer than {max_length} bytes")]
    LineTooLong {
        /// The limit.
        max_length: usize,
    },

    /// A length-prefixed frame ([`Connection::read_frame`](crate::Connection::read_frame))
    /// announced more than the limit. A length field's frame is skipped as it arrives and
    /// the next read goes on after it; a netstring's cannot be (its length is not known),
    /// and reading frames goes on failing.
    #[error("a frame of {length} bytes or more, over the limit of {max_length}")]
    FrameTooLong {
        /// The announced length (for a netstring, what was read of it).
        length: u64,
        /// The limit.
        max_length: usize,
    },

    /// Bytes that break a framing were read, or a payload cannot be framed (too long for
    /// its length field, say).
    #[error(transparent)]
    Framing(crate::frames::FramingError),

    /// The peer closed the connection before a complete line or the requested bytes
    /// arrived.
    #[error("the connection closed after {} of {} bytes", partial.len(), expected.map_or_else(|| "the expected".to_string(), |n| n.to_string()))]
    IncompleteRead {
        /// What did arrive.
        partial: bytes::Bytes,
        /// How many bytes were asked for, if a count was.
        expected: Option<usize>,
    },

    /// Write-buffer watermarks with the low one above the high one.
    #[error("invalid write buffer limits: low ({low}) is above high ({high})")]
    InvalidWriteBufferLimits {
        /// The high-water mark asked for.
        high: usize,
        /// The low-water mark asked for.
        low: usize,
    },

    /// A producer is already registered on the transport.
    #[error("a producer is already registered on this transport")]
    ProducerAlreadyRegistered,

    /// TLS failed: a handshake, a certificate check, or a configuration rustls refused.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),

    /// A PEM file (or the platform's certificate store) could not be used.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("cannot use {path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong with it.
        reason: String,
    },

    /// A test certificate could not be generated.
    #[cfg(feature = "test-certificates")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-certificates")))]
    #[error("cannot generate a certificate: {reason}")]
    CertificateGeneration {
        /// Why not.
        reason: String,
    },

    /// A TLS server name is neither a DNS name nor an IP address.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("{name:?} is not a valid TLS server name")]
    InvalidServerName {
        /// The name given.
        name: String,
    },

    /// A TLS handshake did not complete in time.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("the TLS handshake did not complete within {timeout:?}")]
    TlsHandshakeTimeout {
        /// How long it was given.
        timeout: Duration,
    },

    /// TLS was already started, or is starting, on this connection.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("TLS is already started on this connection")]
    TlsAlreadyStarted,

    /// A [`Deferred`](crate::Deferred) was fired a second time.
    #[error("the Deferred was already fired")]
    AlreadyCalled,

    /// A [`DelayedCall`](crate::DelayedCall) already ran.
    #[error("the delayed call already ran")]
    DelayedCallAlreadyCalled,

    /// A [`DelayedCall`](crate::DelayedCall) was already cancelled.
    #[error("the delayed call was already cancelled")]
    DelayedCallAlreadyCancelled,

    /// A [`Deferred`](crate::Deferred) was cancelled before it had a result.
    #[error("the Deferred was cancelled")]
    Cancelled,

    /// A [`Deferred`](crate::Deferred) given a timeout with
    /// [`add_timeout`](crate::Deferred::add_timeout) did not finish in time, and was
    /// cancelled. Twisted's `defer.TimeoutError`.
    #[error("the Deferred timed out after {timeout:?}")]
    Timeout {
        /// The timeout that elapsed.
        timeout: Duration,
    },

    /// A [`DeferredQueue`](crate::DeferredQueue) with a size limit was full (see also
    /// [`QueueOverflow`](crate::QueueOverflow), which gives the value back). Twisted's
    /// `QueueOverflow`.
    #[error("the queue is full: it keeps at most {size} values")]
    QueueOverflow {
        /// The queue's size limit.
        size: usize,
    },

    /// A [`DeferredQueue`](crate::DeferredQueue) with a backlog limit already had that many
    /// gets waiting. Twisted's `QueueUnderflow`.
    #[error("too many gets are waiting on the queue ({backlog})")]
    QueueUnderflow {
        /// The queue's backlog limit.
        backlog: usize,
    },

    /// [`LoopingCall::start`](crate::LoopingCall::start) on a loop that is running, or
    /// still finishing its last call after a stop.
    #[error("the looping call is already running")]
    LoopingCallRunning,

    /// [`LoopingCall::stop`](crate::LoopingCall::stop) or
    /// [`reset`](crate::LoopingCall::reset) on a loop that is not running.
    #[error("the looping call is not running")]
    LoopingCallNotRunning,

    /// Code run by torsade (a callback) panicked; the panic was caught.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic's message, when it had one.
        message: String,
    },

    /// The reactor stopped before the operation could complete.
    #[error("the reactor stopped")]
    ReactorStopped,

    /// [`Reactor::stop`](crate::Reactor::stop) was called on a reactor that is not running.
    #[error("the reactor is not running")]
    ReactorNotRunning,

    /// [`Reactor::run`](crate::Reactor::run) was called on a reactor that is running, has
    /// run, or does not own its event loop.
    #[error("the reactor cannot run: {reason}")]
    ReactorCannotRun {
        /// Why not.
        reason: &'static str,
    },

    /// An endpoint (a string such as `tcp:8000:interface=127.0.0.1`, or a value) is not
    /// valid.
    #[error("invalid endpoint {endpoint:?}: {field}: expected {expected}")]
    InvalidEndpoint {
        /// The endpoint, as given.
        endpoint: String,
        /// The field that is wrong.
        field: String,
        /// What it should have been.
        expected: String,
    },

    /// What was asked for needs a cargo feature of torsade's that this build does not
    /// have: a `tls:` endpoint string without the `tls` feature, say.
    #[error("{what} needs torsade's {feature:?} feature, which this build does not have")]
    FeatureDisabled {
        /// What was asked for (an endpoint string, say).
        what: String,
        /// The feature it needs.
        feature: &'static str,
    },

    /// A connection attempt was cancelled before it completed (Twisted's
    /// `stopConnecting`).
    #[error("the connection attempt to {address} was cancelled")]
    ConnectCancelled {
        /// Where it was connecting to.
        address: String,
    },

    /// A [`Backoff`](crate::Backoff) setting is out of range.
    #[error("invalid backoff: {reason}")]
    InvalidBackoff {
        /// Which setting, and why.
        reason: String,
    },

    /// A [`ReconnectingClient`](crate::ReconnectingClient) stopped before it connected
    /// again: it was asked to, its retries ran out, or the reactor stopped.
    #[error("stopped trying to connect to {address} after {attempts} attempts")]
    StoppedTrying {
        /// The address it was connecting to.
        address: String,
        /// How many connection attempts it made in all.
        attempts: u64,
    },
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(error: rustls::Error) -> Error {
        Error::Tls(crate::tls::TlsError::new(error))
    }
}

impl Error {
    /// Turns a caught panic payload into [`Error::Panicked`].
    pub(crate) fn from_panic(payload: &(dyn std::any::Any + Send)) -> Error {
        let message = if let Some(text) = payload.downcast_ref::<&'static str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "(no message)".to_owned()
        };
        Error::Panicked { message }
    }
}

/// Why a connection ended, as handed to
/// [`Protocol::connection_lost`](crate::Protocol::connection_lost).
///
/// Twisted's `ConnectionDone`, `ConnectionAborted` and `ConnectionLost`; why a connection
/// was lost is a [`ConnectionError`], matched without downcasting.
///
/// # Examples
///
/// ```
/// use torsade::{ConnectionError, DisconnectReason};
///
/// let reason = DisconnectReason::Done;
/// assert!(reason.is_clean());
/// assert!(reason.error().is_none());
///
/// let reason = DisconnectReason::lost(std::io::ErrorKind::ConnectionReset.into());
/// assert!(!reason.is_clean());
/// assert_eq!(reason.io_error().unwrap().kind(), std::io::ErrorKind::ConnectionReset);
/// assert!(matches!(reason.error(), Some(ConnectionError::Io(_))));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The connection closed cleanly: the peer sent EOF, or this side called
    /// [`lose_connection`](crate::Transport::lose_connection) and everything written was sent.
    Done,
    /// This side called [`abort_connection`](crate::Transport::abort_connection): the
    /// connection was closed at once and unsent data was dropped.
    Aborted,
    /// The connection failed: see the [`ConnectionError`].
    Lost(ConnectionError),
}

impl DisconnectReason {
    /// A [`DisconnectReason::Lost`] carrying an I/O `error`.
    pub fn lost(error: io::Error) -> DisconnectReason {
        DisconnectReason::Lost(ConnectionError::Io(Arc::new(error)))
    }

    /// Whether the connection ended cleanly ([`DisconnectReason::Done`]).
    pub fn is_clean(&self) -> bool {
        matches!(self, DisconnectReason::Done)
    }

    /// Why the connection was lost, if it was.
    pub fn error(&self) -> Option<&ConnectionError> {
        match self {
            DisconnectReason::Lost(error) => Some(error),
            DisconnectReason::Done | DisconnectReason::Aborted => None,
        }
    }

    /// The I/O error the connection was lost to, if that is why.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self.error() {
            Some(ConnectionError::Io(error)) => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Done => f.write_str("connection closed cleanly"),
            DisconnectReason::Aborted => f.write_str("connection aborted"),
            DisconnectReason::Lost(error) => write!(f, "connection lost: {error}"),
        }
    }
}

/// Why a connection was lost: what a [`DisconnectReason::Lost`] carries.
///
/// The connection's own reasons each have a variant, so that a protocol tells them apart
/// with `match`, not by downcasting.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::{ConnectionError, DisconnectReason};
///
/// let reason = DisconnectReason::Lost(ConnectionError::IdleTimeout {
///     timeout: Duration::from_secs(30),
/// });
/// match reason.error() {
///     Some(ConnectionError::IdleTimeout { timeout }) => assert_eq!(timeout.as_secs(), 30),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// Reading or writing failed (reset by the peer, a broken pipe...).
    #[error(transparent)]
    Io(Arc<io::Error>),

    /// The connection stayed idle past its idle timeout while it was closing (the peer
    /// stopped taking the last bytes), so it was aborted.
    #[error("the connection was idle for {timeout:?} while closing; aborted")]
    IdleTimeout {
        /// The idle timeout that passed.
        timeout: Duration,
    },

    /// A callback of the protocol (or of its producer, or a handle's call) panicked; the
    /// connection was aborted, since the protocol may be half-updated.
    #[error("a callback panicked: {message}")]
    Panicked {
        /// The panic's message, when it had one.
        message: String,
    },

    /// TLS failed: the handshake, a certificate check, or the session.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error(transparent)]
    Tls(crate::tls::TlsError),

    /// The TLS handshake did not complete in time.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("the TLS handshake did not complete within {timeout:?}")]
    TlsHandshakeTimeout {
        /// How long it was given.
        timeout: Duration,
    },

    /// The peer sent a line longer than the limit (the line receivers close with this by
    /// default).
    #[error("the peer sent a line longer than {max_length} bytes")]
    LineTooLong {
        /// The limit, in bytes, delimiter excluded.
        max_length: usize,
    },

    /// The peer's bytes broke the connection's framing (a length-prefixed receiver closes
    /// with this).
    #[error(transparent)]
    Framing(crate::frames::FramingError),

    /// The peer sent bytes in the clear behind a STARTTLS request (the command injection
    /// of CVE-2011-0411); the connection was aborted.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("{bytes} bytes of plaintext followed the STARTTLS request")]
    PlaintextAfterStartTls {
        /// How many.
        bytes: usize,
    },

    /// The protocol closed the connection for a reason of its own
    /// ([`Transport::lose_connection_with`](crate::Transport::lose_connection_with)).
    #[error(transparent)]
    Protocol(Arc<dyn std::error::Error + Send + Sync>),
}

impl ConnectionError {
    /// A protocol's own reason, for
    /// [`Transport::lose_connection_with`](crate::Transport::lose_connection_with).
    pub fn protocol(error: impl std::error::Error + Send + Sync + 'static) -> ConnectionError {
        ConnectionError::Protocol(Arc::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_static<T: Send + Sync + 'static>() {}

    #[test]
    fn error_and_reason_are_send_sync_static() {
        assert_send_sync_static::<Error>();
        assert_send_sync_static::<DisconnectReason>();
        assert_send_sync_static::<ConnectionError>();
    }

    #[test]
    fn io_error_is_kept_as_source() {
        let error = Error::ConnectFailed {
            address: "127.0.0.1:1".into(),
            source: io::ErrorKind::ConnectionRefused.into(),
        };
        let source = std::error::Error::source(&error).expect("a source");
        let io = source.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn panic_payloads_become_messages() {
        let caught = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        match Error::from_panic(&*caught) {
            Error::Panicked { message } => assert_eq!(message, "boom 7"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
