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
        let mut listeners = Vec::new();
        for handle in reactor.handles() {
            let own = listener.try_clone()?;
            let _runtime = handle.enter();
            listeners.push((
                handle.clone(),
                Listener::Tcp(tokio::net::TcpListener::from_std(own)?),
            ));
        }
        Ok(listeners)
    }

    /// One duplicate of a Unix listening socket per loop of `reactor`.
    #[cfg(unix)]
    pub(crate) fn share_unix(
        reactor: &Reactor,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<Vec<(Handle, Listener)>> {
        listener.set_nonblocking(true)?;
        let mut listeners = Vec::new();
        for handle in reactor.handles() {
            let own = listener.try_clone()?;
            let _runtime = handle.enter();
            listeners.push((
                handle.clone(),
                Listener::Unix(tokio::net::UnixListener::from_std(own)?),
            ));
        }
        Ok(listeners)
    }
}
