//! Which servers `https` trusts: [`TlsTrust`], the platform's roots unless a
//! configuration was given.

use std::fmt;
use std::sync::{Arc, OnceLock};

use torsade::tls::rustls::ClientConfig;

/// The TLS client configuration of an [`HttpClient`](super::HttpClient): the one given,
/// or the platform's roots, loaded at the first `https` connection and kept.
#[derive(Clone, Default)]
pub(crate) struct TlsTrust {
    config: Arc<OnceLock<Arc<ClientConfig>>>,
}

impl TlsTrust {
    /// Trusts what `config` trusts.
    pub(crate) fn with_config(config: Arc<ClientConfig>) -> TlsTrust {
        TlsTrust {
            config: Arc::new(OnceLock::from(config)),
        }
    }

    /// The configuration, loading the platform's roots if none was given.
    pub(crate) fn config(&self) -> torsade::Result<Arc<ClientConfig>> {
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let loaded = torsade::tls::client_config_with_platform_roots()?;
        // Two first connections may both load; the one kept first is used by both.
        Ok(self.config.get_or_init(|| loaded).clone())
    }
}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = match self.config.get() {
            Some(_) => "set",
            None => "the platform's roots, loaded at the first https connection",
        };
        f.debug_struct("TlsTrust").field("config", &config).finish()
    }
}
