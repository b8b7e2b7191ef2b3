//! A listening socket on one loop, of whichever kind: [`Listener`].

use std::io;

use tokio::runtime::Handle;

use crate::reactor::NetStream;
use crate::{Address, Reactor};

/// A listening socket registered with one loop, with the address its connections have on
/// this side when the listening address says it: a TCP socket bound to one IP address
/// (not a wildcard) or a Unix socket. Then accepting asks the system for nothing more.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp {
        socket: tokio::net::TcpListener,
        host: Option<std::net::SocketAddr>,
    },
    #[cfg(unix)]
    Unix {
        socket: tokio::net::UnixListener,
        host: Address,
    },
}

/// A connection just accepted.
pub(crate) struct Accepted {
    pub(crate) stream: NetStream,
    pub(crate) peer: Address,
    pub(crate) host: Address,
    #[cfg(unix)]
    pub(crate) credentials: Option<super::PeerCredentials>,
}

impl Listener {
    /// A TCP listener; its connections' local address is its own unless it listens on a
    /// wildcard address.
    pub(crate) fn tcp(socket: tokio::net::TcpListener) -> Listener {
        let host = socket
            .local_addr()
            .ok()
            .filter(|address| !address.ip().is_unspecified());
        Listener::Tcp { socket, host }
    }

    /// A Unix listener; its connections' local address is its path.
    #[cfg(unix)]
    pub(crate) fn unix(socket: tokio::net::UnixListener) -> Listener {
        let host = socket.local_addr().map_or(Address::Unix(None), |address| {
            super::unix::address(&address)
        });
        Listener::Unix { socket, host }
    }

    /// The TCP listening socket, if this is one.
    pub(crate) fn tcp_socket(&self) -> Option<&tokio::net::TcpListener> {
        match self {
            Listener::Tcp { socket, .. } => Some(socket),
            #[cfg(unix)]
            Listener::Unix { .. } => None,
        }
    }

    /// Accepts the next connection. TCP connections get `TCP_NODELAY`: torsade batches
    /// writes itself.
    pub(crate) async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp { socket, host } => {
                let (stream, peer) = socket.accept().await?;
                // Failing to set the option only costs latency; the connection is good.
                let _ = stream.set_nodelay(true);
                let host = match host {
                    Some(host) => *host,
                    None => stream.local_addr()?,
                };
                Ok(Accepted {
                    stream: NetStream::Tcp(stream),
                    peer: Address::Tcp(peer),
                    host: Address::Tcp(host),
                    #[cfg(unix)]
                    credentials: None,
                })
            }
            #[cfg(unix)]
            Listener::Unix { socket, host } => {
                let (stream, peer) = socket.accept().await?;
                let credentials = super::unix::credentials(&stream);
                Ok(Accepted {
                    stream: NetStream::Unix(stream),
                    peer: super::unix::address(&peer),
                    host: host.clone(),
                    credentials,
                })
            }
        }
    }

    /// One duplicate of a TCP listening socket per loop of `reactor`, each registered with
    /// its loop (the kernel wakes every loop; one wins each connection).
    pub(crate) fn share_tcp(
        reactor: &Reactor,
        listener: std::net::TcpListener,
    ) -> io::Result<Vec<(Handle, Listener)>> {
        listener.set_nonblocking(true)?;
        Listener::per_loop(reactor, || {
            Ok(Listener::tcp(tokio::net::TcpListener::from_std(
                listener.try_clone()?,
            )?))
        })
    }

    /// One duplicate of a Unix listening socket per loop of `reactor`.
    #[cfg(unix)]
    pub(crate) fn share_unix(
        reactor: &Reactor,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<Vec<(Handle, Listener)>> {
        listener.set_nonblocking(true)?;
        Listener::per_loop(reactor, || {
            Ok(Listener::unix(tokio::net::UnixListener::from_std(
                listener.try_clone()?,
            )?))
        })
    }

    /// A listener from `register` for each loop of `reactor`, made inside that loop's
    /// runtime so that it registers there.
    fn per_loop(
        reactor: &Reactor,
        mut register: impl FnMut() -> io::Result<Listener>,
    ) -> io::Result<Vec<(Handle, Listener)>> {
        reactor
            .handles()
            .map(|handle| {
                let _runtime = handle.enter();
                Ok((handle.clone(), register()?))
            })
            .collect()
    }
}
