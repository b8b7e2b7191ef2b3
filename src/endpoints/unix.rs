//! Unix domain socket endpoints: [`UnixServer`], [`UnixClient`], and who is at the other
//! end ([`PeerCredentials`]).

use std::fmt;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::UnixStream;

use super::parse::Description;
use super::tcp::{escape, seconds, DEFAULT_CONNECT_TIMEOUT};
use super::{
    cannot_listen, Binding, ClientEndpoint, Connected, Listener, ServerEndpoint, DEFAULT_BACKLOG,
};
use crate::reactor::NetStream;
use crate::{Address, Error, Reactor, Result};

/// Who is at the other end of a Unix domain socket, as the kernel says (`SO_PEERCRED`):
/// [`Transport::peer_credentials`](crate::Transport::peer_credentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's process id, where the OS tells it.
    pub pid: Option<i32>,
    /// The peer's user id.
    pub uid: u32,
    /// The peer's group id.
    pub gid: u32,
}

/// The credentials of `stream`'s peer, if the OS gives them.
pub(crate) fn credentials(stream: &UnixStream) -> Option<PeerCredentials> {
    stream.peer_cred().ok().map(|credentials| PeerCredentials {
        pid: credentials.pid(),
        uid: credentials.uid(),
        gid: credentials.gid(),
    })
}

/// The address of a Unix socket end.
pub(crate) fn address(address: &tokio::net::unix::SocketAddr) -> Address {
    match address.as_pathname() {
        Some(path) => Address::unix(path),
        None => Address::Unix(None),
    }
}

/// Listening on a Unix domain socket: `unix:PATH[:mode=OCTAL][:backlog=N]`. Twisted's
/// `UNIXServerEndpoint`.
///
/// A socket file left at `path` by a server that is gone (nothing accepts on it) is
/// replaced; one a live server listens on is an error. The file is removed when the port
/// stops listening. `mode` sets the file's permissions (`660`: the owner and its group may
/// connect).
///
/// # Examples
///
/// ```
/// use torsade::endpoints::UnixServer;
///
/// let server = UnixServer::new("/run/app.sock").mode(0o660);
/// assert_eq!(server.to_string(), "unix:/run/app.sock:mode=660");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixServer {
    path: PathBuf,
    mode: Option<u32>,
    backlog: u32,
}

impl UnixServer {
    /// Listens at `path`.
    pub fn new(path: impl Into<PathBuf>) -> UnixServer {
        UnixServer {
            path: path.into(),
            mode: None,
            backlog: DEFAULT_BACKLOG,
        }
    }

    /// Sets the socket file's permissions (`0o660`...).
    pub fn mode(mut self, mode: u32) -> UnixServer {
        self.mode = Some(mode);
        self
    }

    /// Lets the kernel queue `backlog` connections before they are accepted.
    pub fn backlog(mut self, backlog: u32) -> UnixServer {
        self.backlog = backlog;
        self
    }

    pub(crate) fn parse(parsed: &Description<'_>) -> Result<UnixServer> {
        parsed.only(1, &["address", "mode", "backlog"])?;
        let path = parsed
            .path("address", Some(0))
            .ok_or_else(|| parsed.invalid("address", "the socket file's path"))?;
        let mut server = UnixServer::new(path);
        if let Some(mode) = parsed.get("mode", None) {
            let mode = u32::from_str_radix(mode, 8)
                .ok()
                .filter(|mode| *mode <= 0o7777)
                .ok_or_else(|| parsed.invalid("mode", "permissions in octal, such as 660"))?;
            server = server.mode(mode);
        }
        if let Some(backlog) = parsed.parsed("backlog", None, "a number of connections")? {
            server = server.backlog(backlog);
        }
        Ok(server)
    }

    fn listen(&self) -> io::Result<std::os::unix::net::UnixListener> {
        remove_stale_socket(&self.path)?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.bind(&SockAddr::unix(&self.path)?)?;
        if let Some(mode) = self.mode {
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(mode))?;
        }
        socket.listen(i32::try_from(self.backlog).unwrap_or(i32::MAX))?;
        Ok(socket.into())
    }
}

/// Removes a socket file nothing listens on any more; refuses to touch a live one or a
/// file that is not a socket.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !metadata.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("a server is listening on {}", path.display()),
        )),
        Err(_) => std::fs::remove_file(path),
    }
}

impl ServerEndpoint for UnixServer {
    fn bind(&self, reactor: &Reactor) -> Result<Binding> {
        let name = self.path.display().to_string();
        let listener = self.listen().map_err(|error| cannot_listen(&name, error))?;
        let listeners = Listener::share_unix(reactor, listener).map_err(|error| {
            let _ = std::fs::remove_file(&self.path);
            cannot_listen(&name, error)
        })?;
        Ok(Binding::new(listeners, Address::unix(&self.path)).with_cleanup(self.path.clone()))
    }
}

impl fmt::Display for UnixServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unix:{}", escape(&self.path.display().to_string()))?;
        if let Some(mode) = self.mode {
            write!(f, ":mode={mode:o}")?;
        }
        if self.backlog != DEFAULT_BACKLOG {
            write!(f, ":backlog={}", self.backlog)?;
        }
        Ok(())
    }
}

/// Connecting to a Unix domain socket: `unix:path=PATH[:timeout=SECONDS]` (or
/// `unix:PATH`). Twisted's `UNIXClientEndpoint`.
///
/// # Examples
///
/// ```
/// use torsade::endpoints::UnixClient;
///
/// assert_eq!(UnixClient::new("/run/app.sock").to_string(), "unix:path=/run/app.sock");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixClient {
    path: PathBuf,
    timeout: Duration,
}

impl UnixClient {
    /// Connects to the socket at `path`.
    pub fn new(path: impl Into<PathBuf>) -> UnixClient {
        UnixClient {
            path: path.into(),
            timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Gives up an attempt after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> UnixClient {
        self.timeout = timeout;
        self
    }

    pub(crate) fn parse(parsed: &Description<'_>) -> Result<UnixClient> {
        parsed.only(1, &["path", "timeout"])?;
        let path = parsed
            .path("path", Some(0))
            .ok_or_else(|| parsed.invalid("path", "the socket file's path"))?;
        let mut client = UnixClient::new(path);
        if let Some(timeout) = parsed.seconds("timeout")? {
            client = client.timeout(timeout);
        }
        Ok(client)
    }
}

#[async_trait]
impl ClientEndpoint for UnixClient {
    async fn connect(&self) -> Result<Connected> {
        let address = self.path.display().to_string();
        let stream = match tokio::time::timeout(self.timeout, UnixStream::connect(&self.path)).await
        {
            Err(_) => {
                return Err(Error::ConnectTimeout {
                    address,
                    timeout: self.timeout,
                })
            }
            Ok(Err(source)) => return Err(Error::ConnectFailed { address, source }),
            Ok(Ok(stream)) => stream,
        };
        let host = stream
            .local_addr()
            .map(|local| self::address(&local))
            .unwrap_or(Address::Unix(None));
        let credentials = credentials(&stream);
        let mut connected =
            Connected::from_net(NetStream::Unix(stream), Address::unix(&self.path), host);
        connected.credentials = credentials;
        Ok(connected)
    }
}

impl fmt::Display for UnixClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unix:path={}", escape(&self.path.display().to_string()))?;
        if self.timeout != DEFAULT_CONNECT_TIMEOUT {
            write!(f, ":timeout={}", seconds(self.timeout))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_parse_and_round_trip() {
        let parse = |text| UnixServer::parse(&Description::parse(text).unwrap());
        assert_eq!(
            parse("unix:/tmp/a.sock:mode=660").unwrap(),
            UnixServer::new("/tmp/a.sock").mode(0o660)
        );
        assert_eq!(
            parse("unix:address=/tmp/a.sock").unwrap().to_string(),
            "unix:/tmp/a.sock"
        );
        for (text, field) in [
            ("unix", "address"),
            ("unix:/a:mode=999", "mode"),
            ("unix:/a:mode=rw", "mode"),
        ] {
            assert!(
                matches!(parse(text), Err(Error::InvalidEndpoint { field: ref got, .. }) if got == field),
                "{text}"
            );
        }
        let client =
            UnixClient::parse(&Description::parse("unix:path=/tmp/a.sock:timeout=2").unwrap())
                .unwrap();
        assert_eq!(client.to_string(), "unix:path=/tmp/a.sock:timeout=2");
        assert!(UnixClient::parse(&Description::parse("unix:path=").unwrap()).is_err());
    }

    #[test]
    fn a_stale_socket_file_is_replaced_and_anything_else_is_refused() {
        let dir = std::env::temp_dir().join(format!("torsade-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "a listener dropped leaves its file");
        remove_stale_socket(&path).unwrap();
        assert!(!path.exists());
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(
            remove_stale_socket(&path).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(live);
        std::fs::remove_file(&path).unwrap();
        let plain = dir.join("plain-file");
        std::fs::write(&plain, b"not a socket").unwrap();
        assert_eq!(
            remove_stale_socket(&plain).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
