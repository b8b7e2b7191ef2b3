//! TCP endpoints: [`TcpServer`] and [`TcpClient`].

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::{TcpSocket, TcpStream};
use tokio::runtime::Handle;

use super::parse::Description;
use super::{cannot_listen, Binding, ClientEndpoint, Connected, Listener, ServerEndpoint};
use crate::reactor::NetStream;
use crate::{Address, Error, Reactor, Result};

/// Connections the kernel may queue before they are accepted, unless set.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// How long a TCP connection attempt may take, unless set (Twisted's default).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Listening for TCP connections: `tcp:PORT[:interface=IP][:backlog=N]`. Twisted's
/// `TCP4ServerEndpoint`/`TCP6ServerEndpoint`.
///
/// The socket is bound with `SO_REUSEADDR`; port 0 picks a free port. With several loops,
/// each loop gets its own socket on the port (`SO_REUSEPORT`) and the kernel spreads
/// connections over them. Accepted connections have `TCP_NODELAY` set: torsade batches
/// writes itself.
///
/// # Examples
///
/// ```
/// use torsade::endpoints::TcpServer;
///
/// let server = TcpServer::new(8000).interface("127.0.0.1".parse().unwrap()).backlog(64);
/// assert_eq!(server.to_string(), "tcp:8000:interface=127.0.0.1:backlog=64");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpServer {
    address: SocketAddr,
    backlog: u32,
}

impl TcpServer {
    /// Port `port` on every IPv4 interface (`0.0.0.0`), as Twisted's `tcp:PORT`.
    pub fn new(port: u16) -> TcpServer {
        TcpServer {
            address: SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            backlog: DEFAULT_BACKLOG,
        }
    }

    /// Listens on `interface` only (`127.0.0.1`, `::1`, `::` for every IPv6 one...).
    pub fn interface(mut self, interface: IpAddr) -> TcpServer {
        self.address.set_ip(interface);
        self
    }

    /// Lets the kernel queue `backlog` connections before they are accepted.
    pub fn backlog(mut self, backlog: u32) -> TcpServer {
        self.backlog = backlog;
        self
    }

    pub(crate) fn parse(parsed: &Description<'_>) -> Result<TcpServer> {
        parsed.only(1, &["port", "interface", "backlog"])?;
        TcpServer::parse_args(parsed)
    }

    /// The TCP arguments of `parsed` (whose other arguments the caller checked).
    pub(crate) fn parse_args(parsed: &Description<'_>) -> Result<TcpServer> {
        let mut server = TcpServer::from(parsed.bind_address()?);
        if let Some(backlog) = parsed.parsed("backlog", None, "a number of connections")? {
            server = server.backlog(backlog);
        }
        Ok(server)
    }

    /// Binds one socket per loop, each registered with the loop that accepts on it.
    pub(crate) fn bind_per_loop(&self, handles: &[Handle]) -> io::Result<Vec<(Handle, Listener)>> {
        let shared = handles.len() > 1;
        let mut listeners = Vec::with_capacity(handles.len());
        let mut address = self.address;
        for handle in handles {
            let _runtime = handle.enter();
            let listener = bind(address, shared, self.backlog)?;
            // Later loops bind to the port the first one got (when 0 was asked for).
            address = listener.local_addr()?;
            listeners.push((handle.clone(), Listener::tcp(listener)));
        }
        Ok(listeners)
    }
}

fn bind(address: SocketAddr, shared: bool, backlog: u32) -> io::Result<tokio::net::TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if shared {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(backlog)
}

impl From<SocketAddr> for TcpServer {
    fn from(address: SocketAddr) -> TcpServer {
        TcpServer {
            address,
            backlog: DEFAULT_BACKLOG,
        }
    }
}

impl ServerEndpoint for TcpServer {
    fn bind(&self, reactor: &Reactor) -> Result<Binding> {
        let handles: Vec<Handle> = reactor.handles().cloned().collect();
        let listeners = self
            .bind_per_loop(&handles)
            .map_err(|error| cannot_listen(&self.address.to_string(), error))?;
        let local = match listeners
            .first()
            .and_then(|(_, listener)| listener.tcp_socket())
        {
            Some(socket) => socket
                .local_addr()
                .map_err(|error| cannot_listen(&self.address.to_string(), error))?,
            None => self.address,
        };
        Ok(Binding::new(listeners, Address::Tcp(local)))
    }
}

impl fmt::Display for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp:{}", self.address.port())?;
        if self.address.ip() != IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
            write!(f, ":interface={}", escape(&self.address.ip().to_string()))?;
        }
        if self.backlog != DEFAULT_BACKLOG {
            write!(f, ":backlog={}", self.backlog)?;
        }
        Ok(())
    }
}

/// Connecting over TCP: `tcp:host=HOST:port=PORT[:timeout=SECONDS]` (or
/// `tcp:HOST:PORT`). Twisted's `HostnameEndpoint`.
///
/// The host name is resolved without blocking the loop, and its addresses are tried in
/// turn. The attempt gives up after the timeout ([`DEFAULT_CONNECT_TIMEOUT`] unless set).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::endpoints::TcpClient;
///
/// let client = TcpClient::new("example.com", 80).timeout(Duration::from_secs(5));
/// assert_eq!(client.to_string(), "tcp:host=example.com:port=80:timeout=5");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpClient {
    host: String,
    port: u16,
    timeout: Duration,
}

impl TcpClient {
    /// Connects to `host` (a name or an IP address) on `port`.
    pub fn new(host: impl Into<String>, port: u16) -> TcpClient {
        TcpClient {
            host: host.into(),
            port,
            timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Gives up an attempt after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> TcpClient {
        self.timeout = timeout;
        self
    }

    /// The host name or address connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port connected to.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn parse(parsed: &Description<'_>) -> Result<TcpClient> {
        parsed.only(2, &["host", "port", "timeout"])?;
        TcpClient::parse_args(parsed)
    }

    /// The TCP arguments of `parsed` (whose other arguments the caller checked).
    pub(crate) fn parse_args(parsed: &Description<'_>) -> Result<TcpClient> {
        let host = parsed.required("host", Some(0), "a host name or IP address")?;
        let port = parsed
            .parsed::<u16>("port", Some(1), "a port number (0 to 65535)")?
            .ok_or_else(|| parsed.invalid("port", "a port number (0 to 65535)"))?;
        let mut client = TcpClient::new(host, port);
        if let Some(timeout) = parsed.seconds("timeout")? {
            client = client.timeout(timeout);
        }
        Ok(client)
    }

    /// `host:port` (`[v6]:port` for an IPv6 address).
    pub(crate) fn from_host_port(text: &str) -> Option<TcpClient> {
        let (host, port) = text.rsplit_once(':')?;
        let port = port.parse().ok()?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        (!host.is_empty() && !host.contains(':') || host.parse::<IpAddr>().is_ok())
            .then(|| TcpClient::new(host, port))
    }

    fn address(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

impl From<SocketAddr> for TcpClient {
    fn from(address: SocketAddr) -> TcpClient {
        TcpClient::new(address.ip().to_string(), address.port())
    }
}

#[async_trait]
impl ClientEndpoint for TcpClient {
    async fn connect(&self) -> Result<Connected> {
        let address = self.address();
        let stream = match tokio::time::timeout(self.timeout, open_stream(&address)).await {
            Err(_) => {
                return Err(Error::ConnectTimeout {
                    address,
                    timeout: self.timeout,
                })
            }
            Ok(Err(source)) => return Err(Error::ConnectFailed { address, source }),
            Ok(Ok(stream)) => stream,
        };
        // Failing to set the option only costs latency; the connection is still good.
        let _ = stream.set_nodelay(true);
        match (stream.peer_addr(), stream.local_addr()) {
            (Ok(peer), Ok(host)) => Ok(Connected::from_net(
                NetStream::Tcp(stream),
                Address::Tcp(peer),
                Address::Tcp(host),
            )),
            (Err(source), _) | (_, Err(source)) => Err(Error::ConnectFailed { address, source }),
        }
    }
}

/// Resolves `address` and connects to the first of its addresses that accepts.
async fn open_stream(address: &str) -> io::Result<TcpStream> {
    let mut last_error = None;
    for candidate in tokio::net::lookup_host(address).await? {
        match TcpStream::connect(candidate).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

impl fmt::Display for TcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp:host={}:port={}", escape(&self.host), self.port)?;
        if self.timeout != DEFAULT_CONNECT_TIMEOUT {
            write!(f, ":timeout={}", seconds(self.timeout))?;
        }
        Ok(())
    }
}

/// A value as it is written in an endpoint string: colons and backslashes escaped.
pub(crate) fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace(':', "\\:")
}

/// A duration as an endpoint string writes it: seconds, with a fraction only if needed.
pub(crate) fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        duration.as_secs().to_string()
    } else {
        duration.as_secs_f64().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> Result<TcpServer> {
        TcpServer::parse(&Description::parse(text)?)
    }

    fn client(text: &str) -> Result<TcpClient> {
        TcpClient::parse(&Description::parse(text)?)
    }

    #[test]
    fn server_strings_round_trip() {
        for text in [
            "tcp:8000",
            "tcp:0:interface=127.0.0.1",
            r"tcp:80:interface=\:\:1:backlog=5",
        ] {
            assert_eq!(server(text).unwrap().to_string(), text);
        }
        assert_eq!(server("tcp:port=81").unwrap(), TcpServer::new(81));
    }

    #[test]
    fn malformed_server_strings_say_what_is_wrong() {
        let cases = [
            ("tcp", "port"),
            ("tcp:http", "port"),
            ("tcp:70000", "port"),
            ("tcp:80:interface=localhost", "interface"),
            ("tcp:80:backlog=-1", "backlog"),
            ("tcp:80:color=blue", "color"),
            ("tcp:80:81", "81"),
        ];
        for (text, field) in cases {
            match server(text) {
                Err(Error::InvalidEndpoint {
                    endpoint,
                    field: got,
                    ..
                }) => {
                    assert_eq!((endpoint.as_str(), got.as_str()), (text, field));
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn client_strings_round_trip_and_host_port_forms() {
        for text in [
            "tcp:host=example.com:port=80",
            "tcp:host=\\:\\:1:port=80:timeout=2.5",
        ] {
            assert_eq!(client(text).unwrap().to_string(), text);
        }
        assert_eq!(
            client("tcp:example.com:80").unwrap(),
            TcpClient::new("example.com", 80)
        );
        assert_eq!(
            TcpClient::from_host_port("[::1]:8000"),
            Some(TcpClient::new("::1", 8000))
        );
        assert_eq!(
            TcpClient::from_host_port("localhost:80").unwrap().address(),
            "localhost:80"
        );
        assert_eq!(TcpClient::new("::1", 80).address(), "[::1]:80");
        assert!(TcpClient::from_host_port("nonsense").is_none());
        for (text, field) in [
            ("tcp:host=:port=80", "host"),
            ("tcp:host=a", "port"),
            ("tcp:host=a:port=80:timeout=soon", "timeout"),
            ("tcp:host=a:port=80:timeout=-1", "timeout"),
        ] {
            assert!(
                matches!(client(text), Err(Error::InvalidEndpoint { field: ref got, .. }) if got == field),
                "{text}"
            );
        }
    }
}
