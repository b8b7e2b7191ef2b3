//! Where to listen and where to connect, as values: endpoints, and Twisted's endpoint
//! strings.
//!
//! A [`ServerEndpoint`] says where a port listens; a [`ClientEndpoint`] says how to reach
//! a server. Both are values you can build ([`TcpServer`], `TlsClient`,
//! [`UnixServer`]...), keep, and pass to [`Reactor::listen`](crate::Reactor::listen) and
//! [`Reactor::connect`](crate::Reactor::connect) — or parse from the strings Twisted's
//! `serverFromString` and `clientFromString` take, so a program's configuration (a command
//! line, a file) can say where it listens:
//!
//! | string | endpoint |
//! | --- | --- |
//! | `tcp:8000:interface=127.0.0.1:backlog=1024` | [`TcpServer`] |
//! | `tls:8443:certKey=cert.pem:privateKey=key.pem` (or `ssl:`) | `TlsServer` over TCP |
//! | `unix:/run/app.sock:mode=660` | [`UnixServer`] |
//! | `systemd:domain=INET:index=0` | [`SystemdServer`]: a socket passed by the service manager |
//! | `tcp:host=example.com:port=80:timeout=5` (or `tcp:example.com:80`) | [`TcpClient`] |
//! | `tls:host=example.com:port=443:caCerts=ca.pem` | `TlsClient` over TCP |
//! | `unix:path=/run/app.sock` | [`UnixClient`] |
//! | `udp:9007:interface=127.0.0.1` | a UDP port's address ([`IntoDatagramAddress`]) |
//!
//! A bare socket address (`127.0.0.1:8000`, `[::1]:8000`) is a TCP endpoint, and a client
//! takes `host:port` too. A malformed string is an [`Error::InvalidEndpoint`] naming the
//! string, the field and what was expected. The TLS endpoints need the `tls` feature (on
//! by default); without it a `tls:` (or `ssl:`) string is [`Error::FeatureDisabled`].
//!
//! Endpoints parsed at run time are trait objects: [`server_from_string`] gives a
//! `Box<dyn ServerEndpoint>`, [`client_from_string`] an `Arc<dyn ClientEndpoint>` (a client
//! endpoint is reused by a [`ReconnectingClient`](crate::ReconnectingClient)).
//!
//! # Examples
//!
//! ```
//! use torsade::endpoints::{client_from_string, server_from_string};
//! use torsade::Error;
//!
//! let server = server_from_string("tcp:8000:interface=127.0.0.1").unwrap();
//! assert_eq!(server.to_string(), "tcp:8000:interface=127.0.0.1");
//! let client = client_from_string("tcp:host=localhost:port=8000:timeout=5").unwrap();
//! assert_eq!(client.to_string(), "tcp:host=localhost:port=8000:timeout=5");
//!
//! let error = server_from_string("tcp:80:backlog=lots").unwrap_err();
//! assert!(matches!(error, Error::InvalidEndpoint { ref field, .. } if field == "backlog"));
//! ```

mod adopted;
mod listener;
pub(crate) mod parse;
#[cfg(unix)]
mod systemd;
mod tcp;
#[cfg(feature = "tls")]
mod tls;
mod udp;
#[cfg(unix)]
mod unix;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;

pub use self::adopted::AdoptedServer;
pub(crate) use self::listener::{Accepted, Listener};
use self::parse::Description;
#[cfg(unix)]
pub use self::systemd::{SystemdDomain, SystemdServer};
pub use self::tcp::{TcpClient, TcpServer, DEFAULT_BACKLOG, DEFAULT_CONNECT_TIMEOUT};
#[cfg(feature = "tls")]
pub use self::tls::{TlsClient, TlsServer};
pub use self::udp::IntoDatagramAddress;
#[cfg(unix)]
pub use self::unix::{PeerCredentials, UnixClient, UnixServer};
use crate::reactor::NetStream;
#[cfg(feature = "tls")]
use crate::tls::StartTls;
use crate::{Address, ByteStream, Error, Reactor, Result};

/// Where a listening port listens. Twisted's `IStreamServerEndpoint`.
///
/// Object safe, so endpoints parsed at run time are `Box<dyn ServerEndpoint>`. Its
/// `Display` is the endpoint's string form.
pub trait ServerEndpoint: fmt::Debug + fmt::Display + Send + Sync {
    /// Opens the listening socket(s) on `reactor`'s loops.
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`] if the address cannot be bound.
    fn bind(&self, reactor: &Reactor) -> Result<Binding>;
}

/// How to reach a server. Twisted's `IStreamClientEndpoint`.
///
/// Object safe (an `async_trait`), so endpoints parsed at run time are
/// `Arc<dyn ClientEndpoint>`. Its `Display` is the endpoint's string form.
#[async_trait]
pub trait ClientEndpoint: fmt::Debug + fmt::Display + Send + Sync {
    /// Opens a stream to the server (on the reactor's loop that will run the connection).
    /// A TLS endpoint returns the plain stream with the TLS side to play
    /// (`Connected::with_tls`): the connection's driver runs the handshake.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectFailed`], [`Error::ConnectTimeout`], or the endpoint's own.
    async fn connect(&self) -> Result<Connected>;
}

/// The listening sockets a [`ServerEndpoint`] opened, one per loop (or one shared by
/// them), and what to do with the connections they accept.
pub struct Binding {
    pub(crate) listeners: Vec<(tokio::runtime::Handle, Listener)>,
    pub(crate) local: Address,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Arc<crate::tls::rustls::ServerConfig>>,
    /// A Unix socket's file, removed when the port stops listening.
    pub(crate) cleanup: Option<std::path::PathBuf>,
}

impl Binding {
    /// What `listeners` accept, bound to `local`.
    pub(crate) fn new(
        listeners: Vec<(tokio::runtime::Handle, Listener)>,
        local: Address,
    ) -> Binding {
        Binding {
            listeners,
            local,
            #[cfg(feature = "tls")]
            tls: None,
            cleanup: None,
        }
    }

    /// Removes the file at `path` (a Unix socket's) when the port stops listening.
    pub(crate) fn with_cleanup(mut self, path: std::path::PathBuf) -> Binding {
        self.cleanup = Some(path);
        self
    }

    /// Accepts on a TCP listening socket made elsewhere (with options of its own, or
    /// handed over by a service manager): each of `reactor`'s loops accepts on a
    /// duplicate of it. Twisted's `adoptStreamPort`.
    ///
    /// # Errors
    ///
    /// [`Error::CannotListen`] if the socket cannot be used.
    pub fn adopt_tcp(reactor: &Reactor, listener: std::net::TcpListener) -> Result<Binding> {
        let local = listener
            .local_addr()
            .map_err(|error| cannot_listen("an adopted socket", error))?;
        let listeners = Listener::share_tcp(reactor, listener)
            .map_err(|error| cannot_listen(&local.to_string(), error))?;
        Ok(Binding::new(listeners, Address::Tcp(local)))
    }

    /// Runs a TLS handshake on every accepted connection, as the server.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn with_tls(mut self, config: Arc<crate::tls::rustls::ServerConfig>) -> Binding {
        self.tls = Some(config);
        self
    }

    /// The address the port is bound to.
    pub fn local_addr(&self) -> &Address {
        &self.local
    }
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Binding");
        debug
            .field("local", &self.local)
            .field("listeners", &self.listeners.len());
        #[cfg(feature = "tls")]
        debug.field("tls", &self.tls.is_some());
        debug.finish()
    }
}

/// A stream a [`ClientEndpoint`] opened, with its addresses, and the TLS side to play
/// over it if the endpoint has one.
pub struct Connected {
    pub(crate) stream: NetStream,
    pub(crate) peer: Address,
    pub(crate) host: Address,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<StartTls>,
    #[cfg(unix)]
    pub(crate) credentials: Option<PeerCredentials>,
}

impl Connected {
    /// Any byte stream, with the addresses of its ends: an endpoint of your own.
    pub fn new(stream: impl ByteStream, peer: Address, host: Address) -> Connected {
        Connected::from_net(NetStream::Other(Box::new(stream)), peer, host)
    }

    pub(crate) fn from_net(stream: NetStream, peer: Address, host: Address) -> Connected {
        Connected {
            stream,
            peer,
            host,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(unix)]
            credentials: None,
        }
    }

    /// Plays `tls`'s side of a TLS handshake over the stream before the protocol starts.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn with_tls(mut self, tls: StartTls) -> Connected {
        self.tls = Some(tls);
        self
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> &Address {
        &self.peer
    }
}

impl fmt::Debug for Connected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Connected");
        debug.field("peer", &self.peer).field("host", &self.host);
        #[cfg(feature = "tls")]
        debug.field("tls", &self.tls);
        debug.finish()
    }
}

/// Something [`Reactor::listen`](crate::Reactor::listen) takes as where to listen: an
/// endpoint, an endpoint string, or a socket address (TCP).
pub trait IntoServerEndpoint {
    /// The endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] for a malformed string.
    fn into_server_endpoint(self) -> Result<Box<dyn ServerEndpoint>>;
}

/// Something [`Reactor::connect`](crate::Reactor::connect) takes as where to connect: an
/// endpoint, an endpoint string, `host:port`, or an [`Address`].
pub trait IntoClientEndpoint {
    /// The endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEndpoint`] for a malformed string.
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>>;
}

impl<E: ServerEndpoint + 'static> IntoServerEndpoint for E {
    fn into_server_endpoint(self) -> Result<Box<dyn ServerEndpoint>> {
        Ok(Box::new(self))
    }
}

impl IntoServerEndpoint for Box<dyn ServerEndpoint> {
    fn into_server_endpoint(self) -> Result<Box<dyn ServerEndpoint>> {
        Ok(self)
    }
}

impl IntoServerEndpoint for &str {
    fn into_server_endpoint(self) -> Result<Box<dyn ServerEndpoint>> {
        server_from_string(self)
    }
}

impl IntoServerEndpoint for &String {
    fn into_server_endpoint(self) -> Result<Box<dyn ServerEndpoint>> {
        server_from_string(self)
    }
}

impl IntoServerEndpoint for String {
    fn into_server_endpoint(self) -> Result<Box<dyn ServerEndpoint>> {
        server_from_string(&self)
    }
}

impl IntoServerEndpoint for SocketAddr {
    fn into_server_endpoint(self) -> Result<Box<dyn ServerEndpoint>> {
        Ok(Box::new(TcpServer::from(self)))
    }
}

impl<E: ClientEndpoint + 'static> IntoClientEndpoint for E {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        Ok(Arc::new(self))
    }
}

impl IntoClientEndpoint for Arc<dyn ClientEndpoint> {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        Ok(self)
    }
}

impl IntoClientEndpoint for &Arc<dyn ClientEndpoint> {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        Ok(self.clone())
    }
}

impl IntoClientEndpoint for Box<dyn ClientEndpoint> {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        Ok(Arc::from(self))
    }
}

impl IntoClientEndpoint for &str {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        client_from_string(self)
    }
}

impl IntoClientEndpoint for &String {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        client_from_string(self)
    }
}

impl IntoClientEndpoint for String {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        client_from_string(&self)
    }
}

impl IntoClientEndpoint for SocketAddr {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        Ok(Arc::new(TcpClient::from(self)))
    }
}

impl IntoClientEndpoint for Address {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        (&self).into_client_endpoint()
    }
}

impl IntoClientEndpoint for &Address {
    fn into_client_endpoint(self) -> Result<Arc<dyn ClientEndpoint>> {
        match self {
            Address::Tcp(address) => Ok(Arc::new(TcpClient::from(*address))),
            #[cfg(unix)]
            Address::Unix(Some(path)) => Ok(Arc::new(UnixClient::new(&**path))),
            other => Err(Error::InvalidEndpoint {
                endpoint: other.to_string(),
                field: "address".to_string(),
                expected: "a TCP address or a Unix socket's path".to_string(),
            }),
        }
    }
}

/// A server endpoint from its string (Twisted's `serverFromString`); see the
/// [module](self) for the forms.
///
/// # Errors
///
/// [`Error::InvalidEndpoint`] naming the string, the field and what was expected; the
/// error loading a TLS endpoint's certificate and key (`Error::Pem`, `Error::Tls`); or,
/// without the `tls` feature, [`Error::FeatureDisabled`] for a TLS endpoint.
#[doc(alias = "serverFromString")]
pub fn server_from_string(description: &str) -> Result<Box<dyn ServerEndpoint>> {
    if let Ok(address) = description.parse::<SocketAddr>() {
        return Ok(Box::new(TcpServer::from(address)));
    }
    let parsed = Description::parse(description)?;
    match parsed.kind.as_str() {
        "tcp" => Ok(Box::new(TcpServer::parse(&parsed)?)),
        #[cfg(feature = "tls")]
        "tls" | "ssl" => Ok(Box::new(TlsServer::parse(&parsed)?)),
        #[cfg(not(feature = "tls"))]
        "tls" | "ssl" => Err(tls_disabled(description)),
        #[cfg(unix)]
        "unix" => Ok(Box::new(UnixServer::parse(&parsed)?)),
        #[cfg(unix)]
        "systemd" => Ok(Box::new(SystemdServer::parse(&parsed)?)),
        "udp" => Err(parsed.invalid(
            "type",
            "a stream server endpoint type: tcp, tls (or ssl), unix, systemd \
             (a udp: string is for Reactor::listen_udp)",
        )),
        _ => Err(parsed.invalid(
            "type",
            "a server endpoint type: tcp, tls (or ssl), unix, systemd",
        )),
    }
}

/// A client endpoint from its string (Twisted's `clientFromString`); see the
/// [module](self) for the forms.
///
/// # Errors
///
/// [`Error::InvalidEndpoint`] naming the string, the field and what was expected; the
/// error loading a TLS endpoint's CA certificates; or, without the `tls` feature,
/// [`Error::FeatureDisabled`] for a TLS endpoint.
#[doc(alias = "clientFromString")]
pub fn client_from_string(description: &str) -> Result<Arc<dyn ClientEndpoint>> {
    if let Ok(address) = description.parse::<SocketAddr>() {
        return Ok(Arc::new(TcpClient::from(address)));
    }
    let parsed = Description::parse(description)?;
    match parsed.kind.as_str() {
        "tcp" => Ok(Arc::new(TcpClient::parse(&parsed)?)),
        #[cfg(feature = "tls")]
        "tls" | "ssl" => Ok(Arc::new(TlsClient::parse(&parsed)?)),
        #[cfg(not(feature = "tls"))]
        "tls" | "ssl" => Err(tls_disabled(description)),
        #[cfg(unix)]
        "unix" => Ok(Arc::new(UnixClient::parse(&parsed)?)),
        _ => match TcpClient::from_host_port(description) {
            Some(client) => Ok(Arc::new(client)),
            None => Err(parsed.invalid(
                "type",
                "a client endpoint type (tcp, tls, unix) or host:port",
            )),
        },
    }
}

/// A TLS endpoint string in a build without TLS.
#[cfg(not(feature = "tls"))]
fn tls_disabled(description: &str) -> Error {
    Error::FeatureDisabled {
        what: format!("the TLS endpoint {description:?}"),
        feature: "tls",
    }
}

/// [`Error::CannotListen`] on `address`.
pub(crate) fn cannot_listen(address: &str, source: std::io::Error) -> Error {
    Error::CannotListen {
        address: address.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `tls:` string in a build without TLS is refused for what it is: a feature this
    /// build lacks, not a malformed string.
    #[test]
    #[cfg(not(feature = "tls"))]
    fn tls_strings_without_the_tls_feature_say_the_feature_is_off() {
        let servers = [
            "tls:8443:certKey=cert.pem:privateKey=key.pem",
            "ssl:8443:privateKey=key.pem",
        ];
        let clients = ["tls:host=localhost:port=443", "SSL:host=localhost:port=443"];
        let errors = servers
            .iter()
            .map(|text| (text, server_from_string(text).unwrap_err()))
            .chain(
                clients
                    .iter()
                    .map(|text| (text, client_from_string(text).unwrap_err())),
            );
        for (text, error) in errors {
            match &error {
                Error::FeatureDisabled { what, feature } => {
                    assert_eq!(*feature, "tls");
                    assert!(what.contains(text), "{what}");
                }
                other => panic!("{text}: {other:?}"),
            }
            assert_eq!(
                error.to_string(),
                format!(
                    "the TLS endpoint {text:?} needs torsade's \"tls\" feature, which this \
                     build does not have"
                )
            );
        }
    }

    /// With TLS, a `tls:` string is parsed and its files are loaded.
    #[test]
    #[cfg(feature = "tls")]
    fn tls_strings_with_the_tls_feature_load_their_files() {
        let error = server_from_string("tls:8443:privateKey=/nonexistent/key.pem").unwrap_err();
        assert!(matches!(error, Error::Pem { .. }), "{error:?}");
        let error = server_from_string("tls:8443").unwrap_err();
        assert!(
            matches!(error, Error::InvalidEndpoint { ref field, .. } if field == "privateKey"),
            "{error:?}"
        );
    }
}
