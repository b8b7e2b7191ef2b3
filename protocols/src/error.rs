//! The crate's one error type: [`Error`], and [`Result`].
//!
//! Line receivers report over-long lines to their handler instead of failing; these errors
//! are what fallible calls return and what the greeting client's [`Deferred`]s fail with
//! (inside a [`Failure`]; get it back with `failure.downcast_ref::<Error>()`).
//!
//! [`Deferred`]: torsade::Deferred
//! [`Failure`]: torsade::Failure

use torsade::DisconnectReason;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `torsade-protocols`.
///
/// # Examples
///
/// ```
/// use torsade::{Deferred, Failure};
/// use torsade_protocols::Error;
///
/// let error = Error::LineTooLong { max_length: 16384 };
/// assert_eq!(error.to_string(), "a line was longer than 16384 bytes");
///
/// // Errors travel down Deferred chains inside a Failure, and come back out by type.
/// let mut failed = Deferred::<String>::fail(Error::GreetingPending);
/// let failure: Failure = failed.take_result().unwrap().unwrap_err();
/// assert!(matches!(failure.downcast_ref::<Error>(), Some(Error::GreetingPending)));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// STARTTLS was asked for while bytes the peer sent in the clear after the request
    /// were already buffered (CVE-2011-0411); the connection was aborted.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("{bytes} bytes of plaintext followed the STARTTLS request")]
    PlaintextAfterStartTls {
        /// How many.
        bytes: usize,
    },

    /// The transport could not switch to TLS.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[error("cannot start TLS: {reason}")]
    StartTlsFailed {
        /// What the transport said.
        reason: String,
    },

    /// A greeting was asked for while another one was still on its way.
    #[error("a greeting is already pending on this connection")]
    GreetingPending,

    /// The protocol is not connected yet, so nothing can be sent.
    #[error("the protocol is not connected yet")]
    NotConnected,

    /// The connection closed (before the answer arrived, or before the call was made).
    #[error("the connection closed: {reason}")]
    ConnectionClosed {
        /// Why the connection ended.
        reason: DisconnectReason,
    },

    /// The peer sent a line longer than the limit.
    #[error("a line was longer than {max_length} bytes")]
    LineTooLong {
        /// The limit, in bytes, delimiter excluded.
        max_length: usize,
    },

    /// A name cannot be sent as one line.
    #[error("invalid name: {reason}")]
    InvalidName {
        /// Why not.
        reason: &'static str,
    },

    /// The peer sent text that is not valid UTF-8.
    #[error("the peer sent text that is not valid UTF-8")]
    NotUtf8,

    /// The server answered with an error line.
    #[error("the server answered with an error: {message}")]
    ServerError {
        /// The server's reason, as it sent it.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_static<T: Send + Sync + 'static>() {}

    #[test]
    fn error_is_send_sync_static() {
        assert_send_sync_static::<Error>();
    }

    #[test]
    fn connection_closed_shows_its_reason() {
        let error = Error::ConnectionClosed {
            reason: DisconnectReason::Aborted,
        };
        assert_eq!(
            error.to_string(),
            "the connection closed: connection aborted"
        );
    }

    #[test]
    fn every_variant_has_a_message() {
        let mut errors = vec![
            Error::GreetingPending,
            Error::NotConnected,
            Error::ConnectionClosed {
                reason: DisconnectReason::Done,
            },
            Error::LineTooLong { max_length: 5 },
            Error::InvalidName {
                reason: "empty name",
            },
            Error::NotUtf8,
            Error::ServerError {
                message: "empty name".into(),
            },
        ];
        #[cfg(feature = "tls")]
        errors.extend([
            Error::PlaintextAfterStartTls { bytes: 4 },
            Error::StartTlsFailed {
                reason: "no".into(),
            },
        ]);
        for error in errors {
            assert!(!error.to_string().is_empty(), "{error:?}");
        }
    }
}
