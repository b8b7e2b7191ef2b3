//! A listening socket made elsewhere, as an endpoint: [`AdoptedServer`].

use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::{cannot_listen, Binding, Listener, ServerEndpoint};
use crate::{Address, Reactor, Result};

/// A listening socket made elsewhere — with options of its own (buffer sizes, say), or
/// handed over by another program — accepted on by every loop (the kernel wakes each; one
/// wins each connection). Twisted's `adoptStreamPort`. It can be listened on once.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::endpoints::AdoptedServer;
/// use torsade::prelude::*;
/// use torsade::{factory_fn, Address, Reactor};
///
/// struct Quiet;
/// impl Protocol for Quiet {
///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
/// }
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let address = listener.local_addr().unwrap();
/// let reactor = Reactor::new().unwrap();
/// let port = reactor.listen(AdoptedServer::tcp(listener), factory_fn(|_: &Address| Quiet)).unwrap();
/// assert_eq!(port.local_addr(), Address::Tcp(address));
/// ```
pub struct AdoptedServer {
    listener: Mutex<Option<Adopted>>,
    name: String,
}

enum Adopted {
    Tcp(std::net::TcpListener),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixListener),
}

impl AdoptedServer {
    /// A TCP socket, listening already.
    pub fn tcp(listener: std::net::TcpListener) -> AdoptedServer {
        let name = listener
            .local_addr()
            .map_or_else(|_| "an adopted socket".to_string(), |a| a.to_string());
        AdoptedServer {
            listener: Mutex::new(Some(Adopted::Tcp(listener))),
            name,
        }
    }

    /// A Unix domain socket, listening already. Its file is left in place when the port
    /// stops.
    #[cfg(unix)]
    pub fn unix(listener: std::os::unix::net::UnixListener) -> AdoptedServer {
        let name = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
            .unwrap_or_else(|| "an adopted socket".to_string());
        AdoptedServer {
            listener: Mutex::new(Some(Adopted::Unix(listener))),
            name,
        }
    }
}

impl ServerEndpoint for AdoptedServer {
    fn bind(&self, reactor: &Reactor) -> Result<Binding> {
        let adopted = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| {
                cannot_listen(
                    &self.name,
                    std::io::Error::other("this adopted socket is listened on already"),
                )
            })?;
        match adopted {
            Adopted::Tcp(listener) => Binding::adopt_tcp(reactor, listener),
            #[cfg(unix)]
            Adopted::Unix(listener) => {
                let local = listener
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(Address::unix))
                    .unwrap_or(Address::Unix(None));
                let listeners = Listener::share_unix(reactor, listener)
                    .map_err(|error| cannot_listen(&self.name, error))?;
                Ok(Binding::new(listeners, local))
            }
        }
    }
}

impl fmt::Display for AdoptedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "adopted:{}", self.name)
    }
}

impl fmt::Debug for AdoptedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdoptedServer")
            .field("name", &self.name)
            .finish()
    }
}
