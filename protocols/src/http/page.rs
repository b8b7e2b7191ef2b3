//! A downloaded page: [`Page`].

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use url::Url;

/// A page fetched by [`get_page`](super::get_page) or an
/// [`HttpClient`](super::HttpClient): its body, status and headers, and the URL it was
/// found at after redirects.
#[derive(Debug, Clone)]
pub struct Page {
    pub(crate) url: Url,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Page {
    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body, without the rest.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The final status (below 400: higher is an [`HttpError::Status`](super::HttpError::Status)).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The final response's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL the page came from: the one asked for, or where redirects led.
    pub fn url(&self) -> &Url {
        &self.url
    }
}
