//! A listening socket handed over by the service manager: [`SystemdServer`].

use std::fmt;

use super::parse::Description;
use super::{cannot_listen, Binding, Listener, ServerEndpoint};
use crate::{Address, Reactor, Result};

/// The address family a [`SystemdServer`] expects its socket to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemdDomain {
    /// TCP over IPv4 (`INET`).
    Inet,
    /// TCP over IPv6 (`INET6`).
    Inet6,
    /// A Unix domain socket (`UNIX`).
    Unix,
}

/// A listening socket passed by the service manager (systemd's socket activation:
/// `LISTEN_FDS` and `LISTEN_PID`): `systemd:domain=INET:index=0`. Twisted's
/// `systemd:` endpoint.
///
/// `index` counts the sockets passed, from 0 (file descriptor 3). The socket must be
/// listening, of the `domain` given, and passed to this process (`LISTEN_PID`); the
/// variables are read once, at the first use.
///
/// # Examples
///
/// ```
/// use torsade::endpoints::{SystemdDomain, SystemdServer};
///
/// let server = SystemdServer::new(SystemdDomain::Inet, 0);
/// assert_eq!(server.to_string(), "systemd:domain=INET:index=0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemdServer {
    domain: SystemdDomain,
    index: usize,
}

impl SystemdServer {
    /// The `index`th socket passed, which must be of `domain`.
    pub fn new(domain: SystemdDomain, index: usize) -> SystemdServer {
        SystemdServer { domain, index }
    }

    pub(crate) fn parse(parsed: &Description<'_>) -> Result<SystemdServer> {
        parsed.only(0, &["domain", "index"])?;
        let domain = match parsed.required("domain", None, "INET, INET6 or UNIX")? {
            "INET" => SystemdDomain::Inet,
            "INET6" => SystemdDomain::Inet6,
            "UNIX" => SystemdDomain::Unix,
            _ => return Err(parsed.invalid("domain", "INET, INET6 or UNIX")),
        };
        let index = parsed
            .parsed(
                "index",
                None,
                "the socket's index among those passed, from 0",
            )?
            .ok_or_else(|| {
                parsed.invalid("index", "the socket's index among those passed, from 0")
            })?;
        Ok(SystemdServer { domain, index })
    }
}

/// The sockets passed to this process, taken once.
fn passed() -> &'static std::sync::Mutex<listenfd::ListenFd> {
    static PASSED: std::sync::OnceLock<std::sync::Mutex<listenfd::ListenFd>> =
        std::sync::OnceLock::new();
    PASSED.get_or_init(|| std::sync::Mutex::new(listenfd::ListenFd::from_env()))
}

impl ServerEndpoint for SystemdServer {
    fn bind(&self, reactor: &Reactor) -> Result<Binding> {
        let name = self.to_string();
        let missing = || {
            cannot_listen(
                &name,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "no socket {} was passed by the service manager (LISTEN_FDS, LISTEN_PID)",
                        self.index
                    ),
                ),
            )
        };
        let mut passed = passed()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.domain {
            SystemdDomain::Inet | SystemdDomain::Inet6 => {
                let listener = passed
                    .take_tcp_listener(self.index)
                    .map_err(|error| cannot_listen(&name, error))?
                    .ok_or_else(missing)?;
                let local = listener
                    .local_addr()
                    .map_err(|error| cannot_listen(&name, error))?;
                let family_ok = match self.domain {
                    SystemdDomain::Inet => local.is_ipv4(),
                    _ => local.is_ipv6(),
                };
                if !family_ok {
                    return Err(cannot_listen(
                        &name,
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!(
                                "socket {} is bound to {local}, not {:?}",
                                self.index, self.domain
                            ),
                        ),
                    ));
                }
                let listeners = Listener::share_tcp(reactor, listener)
                    .map_err(|error| cannot_listen(&name, error))?;
                Ok(Binding::new(listeners, Address::Tcp(local)))
            }
            SystemdDomain::Unix => {
                let listener = passed
                    .take_unix_listener(self.index)
                    .map_err(|error| cannot_listen(&name, error))?
                    .ok_or_else(missing)?;
                let local = listener
                    .local_addr()
                    .ok()
                    .and_then(|local| local.as_pathname().map(Address::unix))
                    .unwrap_or(Address::Unix(None));
                let listeners = Listener::share_unix(reactor, listener)
                    .map_err(|error| cannot_listen(&name, error))?;
                Ok(Binding::new(listeners, local))
            }
        }
    }
}

impl fmt::Display for SystemdServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = match self.domain {
            SystemdDomain::Inet => "INET",
            SystemdDomain::Inet6 => "INET6",
            SystemdDomain::Unix => "UNIX",
        };
        write!(f, "systemd:domain={domain}:index={}", self.index)
    }
}
