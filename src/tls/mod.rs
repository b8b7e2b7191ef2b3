//! TLS on tokio-rustls, over any stream: [`TlsServer`](crate::endpoints::TlsServer) and
//! [`TlsClient`](crate::endpoints::TlsClient) endpoints, and STARTTLS on a live connection
//! ([`Transport::start_tls`]).
//!
//! A protocol does not see whether its transport is encrypted; it can ask for the
//! handshake's outcome with [`Transport::tls_info`] (ALPN, SNI, the peer's certificates)
//! and learns when it completed through
//! [`Protocol::handshake_completed`](crate::Protocol::handshake_completed). The helpers
//! here build configurations from PEM files, the platform's roots, given CAs or pinned
//! certificates, always with an explicit crypto provider (ring). rustls itself is
//! re-exported as [`tls::rustls`](rustls), to build your own `ServerConfig`/`ClientConfig`.
//!
//! A client given a self-signed certificate as its CA ([`client_config_with_ca`]) accepts
//! a server presenting exactly that certificate, even one marked `CA:TRUE` as `openssl req
//! -x509` makes them; its name and validity are still checked. A failed handshake is
//! [`Error::Tls`](crate::Error::Tls), whose message says what is wrong and what to do.
//!
//! # Without the `tls` feature
//!
//! Everything here needs the `tls` feature (on by default) except [`StartTls`] and
//! [`TlsInfo`], which [`Transport`](crate::Transport)'s methods name: without the feature
//! they are types with no values, so `start_tls` cannot be called and `tls_info` is always
//! `None`, and `Transport` has the same methods whichever features are on.
//!
//! [`Transport::start_tls`]: crate::Transport::start_tls
//! [`Transport::tls_info`]: crate::Transport::tls_info

#[cfg(feature = "tls")]
mod config;
#[cfg(feature = "tls")]
mod error;
#[cfg(feature = "tls")]
mod explain;
#[cfg(feature = "tls")]
mod info;
#[cfg(not(feature = "tls"))]
mod off;
#[cfg(feature = "tls")]
mod start;
#[cfg(feature = "tls")]
mod utc;
#[cfg(feature = "tls")]
mod validity;
#[cfg(feature = "tls")]
mod verifier;

#[cfg(feature = "tls")]
use std::time::Duration;

#[cfg(feature = "tls")]
pub use self::config::{
    client_config_with_ca, client_config_with_pinned, client_config_with_pinned_certificates,
    client_config_with_platform_roots, client_config_with_roots, crypto_provider, server_config,
    server_config_from_pem,
};
#[cfg(feature = "tls")]
pub use self::error::TlsError;
#[cfg(feature = "tls")]
pub(crate) use self::error::{handshake_failure, tls_error_in};
#[cfg(feature = "tls")]
pub(crate) use self::explain::Explained;
#[cfg(feature = "tls")]
pub use self::info::TlsInfo;
#[cfg(not(feature = "tls"))]
pub use self::off::{StartTls, TlsInfo};
#[cfg(feature = "tls")]
pub use self::start::StartTls;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
#[doc(no_inline)]
pub use rustls;

/// How long a TLS handshake may take before the connection is given up.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
