//! What can go wrong fetching a page: [`HttpError`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use url::Url;

/// Why a [`get_page`](super::get_page) or an [`HttpClient`](super::HttpClient) request
/// failed. Every variant is matchable as it is: the connection's own
/// [`torsade::Error`] and hyper's errors are kept as sources.
///
/// # Examples
///
/// ```
/// use torsade_protocols::http::{HttpError, StatusCode};
///
/// fn explain(error: &HttpError) -> String {
///     match error {
///         HttpError::Status { status, body_start, .. } => {
///             format!("{status}: {}", String::from_utf8_lossy(body_start))
///         }
///         HttpError::Timeout { timeout, .. } => format!("gave up after {timeout:?}"),
///         other => other.to_string(),
///     }
/// }
/// let error = HttpError::Status {
///     url: Box::new("http://example.com/missing".parse().unwrap()),
///     status: StatusCode::NOT_FOUND,
///     body_start: "no such page".into(),
/// };
/// assert_eq!(explain(&error), "404 Not Found: no such page");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL (given, or a redirect's `Location`) is not a valid absolute URL.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The text that is not a URL.
        url: String,
        /// Why not.
        reason: String,
    },

    /// The URL's scheme is neither `http` nor `https` (nor `https` in a build without the
    /// `tls` feature).
    #[error("unsupported scheme {scheme:?} in {url} (http{})", if cfg!(feature = "tls") { " and https are" } else { " is; https needs the tls feature" })]
    UnsupportedScheme {
        /// The scheme asked for.
        scheme: String,
        /// The URL.
        url: Box<Url>,
    },

    /// No connection to the server: refused, unresolvable, timed out, a TLS failure (a
    /// certificate not trusted, say). `source` says which.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL asked for when connecting.
        url: Box<Url>,
        /// What torsade reported (shared: the connection pool may hand it to several
        /// waiting requests).
        #[source]
        source: Arc<torsade::Error>,
    },

    /// The request failed after connecting: the server closed the connection early or
    /// sent something that is not HTTP/1.1.
    #[error("request to {url} failed: {source}")]
    Request {
        /// The URL asked for.
        url: Box<Url>,
        /// hyper's error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },

    /// Reading the body failed: the connection ended before the promised length, or a
    /// chunk was malformed.
    #[error("reading the body of {url} failed: {source}")]
    Body {
        /// The URL whose body it is.
        url: Box<Url>,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },

    /// The server answered with a status of 400 or more.
    #[error("{url} answered {status}")]
    Status {
        /// The URL that answered (after redirects).
        url: Box<Url>,
        /// The status.
        status: StatusCode,
        /// The first bytes of the body, at most
        /// [`STATUS_BODY_START`](super::STATUS_BODY_START) of them.
        body_start: Bytes,
    },

    /// The redirect limit was reached and the server redirected once more.
    #[error("more than {max} redirects (the last one to {url})")]
    TooManyRedirects {
        /// The limit ([`GetPage::max_redirects`](super::GetPage::max_redirects)).
        max: u32,
        /// Where the redirect not followed pointed.
        url: Box<Url>,
    },

    /// The body is larger than [`GetPage::max_body_size`](super::GetPage::max_body_size),
    /// as its `Content-Length` said or as it arrived; what came is dropped.
    #[error("the body of {url} is larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL whose body it is.
        url: Box<Url>,
        /// The limit.
        limit: u64,
    },

    /// The whole request, redirects and body included, took longer than
    /// [`GetPage::timeout`](super::GetPage::timeout).
    #[error("no complete answer from {url} within {timeout:?}")]
    Timeout {
        /// The URL asked for.
        url: Box<Url>,
        /// The timeout.
        timeout: Duration,
    },
}
