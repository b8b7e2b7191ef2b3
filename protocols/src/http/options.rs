//! How one page is fetched: the [`GetPage`] options.

use std::fmt;
use std::time::Duration;

use super::Progress;

/// How long a request may take, redirects and body included, unless set: five minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The largest body accepted unless set: 64 MiB.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 64 * 1024 * 1024;

/// How many redirects are followed unless set (Twisted's and browsers' 20).
pub const DEFAULT_MAX_REDIRECTS: u32 = 20;

/// The progress callback.
pub(crate) type ProgressCallback = Box<dyn FnMut(Progress<'_>) + Send>;

/// Options for one request: a timeout, a body size limit, a redirect limit and a
/// progress callback. Limits are on by default ([`DEFAULT_TIMEOUT`],
/// [`DEFAULT_MAX_BODY_SIZE`], [`DEFAULT_MAX_REDIRECTS`]).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade_protocols::http::GetPage;
///
/// let options = GetPage::new()
///     .timeout(Duration::from_secs(10))
///     .max_body_size(1024 * 1024)
///     .max_redirects(5)
///     .on_progress(|progress| eprintln!("{} bytes", progress.received));
/// # drop(options);
/// ```
pub struct GetPage {
    pub(crate) timeout: Duration,
    pub(crate) max_body_size: u64,
    pub(crate) max_redirects: u32,
    pub(crate) progress: Option<ProgressCallback>,
}

impl GetPage {
    /// The default options.
    pub fn new() -> GetPage {
        GetPage {
            timeout: DEFAULT_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            progress: None,
        }
    }

    /// Fails the request with [`HttpError::Timeout`](super::HttpError::Timeout) if it has
    /// not completed, body included, within `timeout` on the reactor's clock.
    pub fn timeout(mut self, timeout: Duration) -> GetPage {
        self.timeout = timeout;
        self
    }

    /// Fails the request with [`HttpError::BodyTooLarge`](super::HttpError::BodyTooLarge)
    /// when the body is longer than `limit` bytes: at once if its `Content-Length` says
    /// so, otherwise as soon as a chunk would take it past the limit (that chunk is not
    /// kept).
    pub fn max_body_size(mut self, limit: u64) -> GetPage {
        self.max_body_size = limit;
        self
    }

    /// Follows at most `max` redirects (301, 302, 303, 307 and 308); one more is an
    /// [`HttpError::TooManyRedirects`](super::HttpError::TooManyRedirects). `0` follows
    /// none.
    pub fn max_redirects(mut self, max: u32) -> GetPage {
        self.max_redirects = max;
        self
    }

    /// Calls `progress` with each chunk of the final page's body as it arrives, on the
    /// reactor, while the reactor's other events (timers, other connections) go on.
    pub fn on_progress(mut self, progress: impl FnMut(Progress<'_>) + Send + 'static) -> GetPage {
        self.progress = Some(Box::new(progress));
        self
    }
}

impl Default for GetPage {
    fn default() -> GetPage {
        GetPage::new()
    }
}

impl fmt::Debug for GetPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetPage")
            .field("timeout", &self.timeout)
            .field("max_body_size", &self.max_body_size)
            .field("max_redirects", &self.max_redirects)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}
