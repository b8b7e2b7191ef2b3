//! The TLS types [`Transport`](crate::Transport) names, when the `tls` feature is off:
//! [`StartTls`] and [`TlsInfo`], with no values.
//!
//! They keep `Transport`'s methods the same whichever features are on, so a type that
//! implements it compiles both ways; having no values, they make
//! [`start_tls`](crate::Transport::start_tls) impossible to call and
//! [`tls_info`](crate::Transport::tls_info) always `None`, at compile time.

/// The side a connection would take in a TLS handshake. Without the `tls` feature there is
/// no such side: this type has no values, so nothing can ask for TLS.
#[derive(Clone, Debug)]
pub enum StartTls {}

/// What a TLS handshake settled. Without the `tls` feature no connection has TLS: this type
/// has no values.
#[derive(Clone, Debug)]
pub enum TlsInfo {}
