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
//! [`Transport::start_tls`]: crate::Transport::start_tls
//! [`Transport::tls_info`]: crate::Transport::tls_info

mod config;
mod error;
mod explain;
mod info;
mod start;
mod utc;
mod validity;
mod verifier;

use std::time::Duration;

pub use self::config::{
    client_config_with_ca, client_config_with_pinned, client_config_with_pinned_certificates,
    client_config_with_platform_roots, client_config_with_roots, crypto_provider, server_config,
    server_config_from_pem,
};
pub use self::error::TlsError;
pub(crate) use self::error::{handshake_failure, tls_error_in};
pub(crate) use self::explain::Explained;
pub use self::info::TlsInfo;
pub use self::start::StartTls;
#[doc(no_inline)]
pub use tokio_rustls::rustls;

/// How long a TLS handshake may take before the connection is given up.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
