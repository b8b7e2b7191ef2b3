//! Which side of a TLS handshake to play: [`StartTls`].

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};

use crate::{Error, Result};

/// The side a connection takes in the TLS handshake that
/// [`Transport::start_tls`](crate::Transport::start_tls) starts.
#[derive(Clone)]
pub enum StartTls {
    /// Act as the TLS client, checking the server's certificate for `server_name`.
    Client {
        /// The name the server's certificate must match (also sent as SNI).
        server_name: ServerName<'static>,
        /// The client configuration (trusted roots, ALPN...).
        config: Arc<ClientConfig>,
    },
    /// Act as the TLS server.
    Server {
        /// The server configuration (certificate, key, ALPN...).
        config: Arc<ServerConfig>,
    },
}

impl StartTls {
    /// The client side, for a server that must present a certificate for `server_name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidServerName`] if `server_name` is neither a DNS name nor an IP address.
    pub fn client(server_name: &str, config: Arc<ClientConfig>) -> Result<StartTls> {
        Ok(StartTls::Client {
            server_name: parse_server_name(server_name)?,
            config,
        })
    }

    /// The server side.
    pub fn server(config: Arc<ServerConfig>) -> StartTls {
        StartTls::Server { config }
    }
}

pub(crate) fn parse_server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(|_| Error::InvalidServerName {
        name: name.to_string(),
    })
}

impl fmt::Debug for StartTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartTls::Client { server_name, .. } => f
                .debug_struct("StartTls::Client")
                .field("server_name", server_name)
                .finish_non_exhaustive(),
            StartTls::Server { .. } => f.debug_struct("StartTls::Server").finish_non_exhaustive(),
        }
    }
}
