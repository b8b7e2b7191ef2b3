//! A listening socket on one loop, of whichever kind: [`Listener`].

use std::io;

use tokio::runtime::Handle;

use crate::reactor::NetStream;
use crate::{Address, Reactor};

/// A listening socket registered with one loop.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
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
    /// Accepts the next connection. TCP connections get `TCP_NODELAY`: torsade batches
    /// writes itself.
    pub(crate) async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                // Failing to set the option only costs latency; the connection is good.
                let _ = stream.set_nodelay(true);
                let host = stream.local_addr()?;
                Ok(Accepted {
                    stream: NetStream::Tcp(stream),
                    peer: Address::Tcp(peer),
                    host: Address::Tcp(host),
                    #[cfg(unix)]
                    credentials: None,
                })
            }
            #[cfg(unix)]
            Listener::Unix(listener) => {
                let (stream, peer) = listener.accept().await?;
                let host = listener.local_addr()?;
                let credentials = super::unix::credentials(&stream);
                Ok(Accepted {
                    stream: NetStream::Unix(stream),
                    peer: super::unix::address(&peer),
                    host: super::unix::address(&host),
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
            Ok(Listener::Tcp(tokio::net::TcpListener::from_std(
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
            Ok(Listener::Unix(tokio::net::UnixListener::from_std(
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
