//! An HTTP/1.1 client with a per-host connection pool: [`HttpClient`], Twisted's
//! `Agent` with an `HTTPConnectionPool`.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::{self, AbortHandle, Abortable, Either};
use http::header::{CONTENT_LENGTH, LOCATION};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioTimer;
use torsade::{Deferred, Reactor};
use url::Url;

use super::connector::{ConnectError, Connector};
use super::executor::ReactorExecutor;
use super::options::ProgressCallback;
use super::{GetPage, HttpError, Page, Progress};

/// How many idle connections the pool keeps per host.
pub const POOL_MAX_IDLE_PER_HOST: usize = 4;

/// How long the pool keeps an idle connection.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an error page [`HttpError::Status`] keeps: its first 1 KiB.
pub const STATUS_BODY_START: usize = 1024;

/// How much of a redirect's body is read (and dropped) so that its connection can serve
/// the next request; a longer one closes the connection instead.
const REDIRECT_BODY_DRAINED: u64 = 64 * 1024;

/// Fetches pages over HTTP/1.1 (and HTTPS with the `tls` feature), keeping connections
/// alive in a small per-host pool ([`POOL_MAX_IDLE_PER_HOST`] idle ones, each for
/// [`POOL_IDLE_TIMEOUT`]), so that requests to one host in turn share a connection.
/// Twisted's `Agent` with a persistent `HTTPConnectionPool`. Cheap to clone: clones share
/// the pool.
///
/// Connections are torsade connections opened on the reactor; hyper speaks HTTP over
/// them in tasks of the reactor. [`get`](HttpClient::get) may be awaited anywhere (a task
/// of the reactor, [`Deferred::from_future`], another runtime), or take the Deferred of
/// [`get_page`](HttpClient::get_page).
///
/// # Examples
///
/// Two pages from a server started on the spot, over one connection:
///
/// ```
/// use torsade::Reactor;
/// use torsade_protocols::http::{GetPage, HttpClient};
///
/// let reactor = Reactor::new().unwrap();
/// // A server answering every request with "hello" (HTTP/1.1, kept alive).
/// let server = reactor
///     .start_server("127.0.0.1:0", |mut connection: torsade::Connection| async move {
///         while let Ok(Some(line)) = connection.read_line().await {
///             if line.is_empty() {
///                 let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
///                 connection.write(answer).await?;
///             }
///         }
///         Ok::<_, torsade::Error>(())
///     })
///     .unwrap();
/// let url = format!("http://{}/", server.local_addr());
/// let client = HttpClient::new(&reactor);
/// let r = reactor.clone();
/// let bodies = reactor.spawn(async move {
///     let first = client.get(&url, GetPage::new()).await?;
///     let second = client.get(&url, GetPage::new()).await?;
///     r.stop().unwrap();
///     Ok::<_, torsade_protocols::http::HttpError>((first.into_body(), second.into_body()))
/// });
/// reactor.run().unwrap();
/// # let mut bodies = bodies;
/// let (first, second) = bodies.take_result().unwrap().unwrap().unwrap();
/// assert_eq!((&first[..], &second[..]), (&b"hello"[..], &b"hello"[..]));
/// ```
#[derive(Clone, Debug)]
pub struct HttpClient {
    reactor: Reactor,
    client: Client<Connector, Empty<Bytes>>,
}

impl HttpClient {
    /// A client on `reactor`; `https` trusts the platform's roots.
    pub fn new(reactor: &Reactor) -> HttpClient {
        HttpClient::with_connector(
            reactor,
            Connector::new(
                reactor.clone(),
                #[cfg(feature = "tls")]
                super::tls::TlsTrust::default(),
            ),
        )
    }

    /// A client on `reactor` whose `https` trusts what `config` trusts: a CA
    /// ([`torsade::tls::client_config_with_ca`]), pinned certificates
    /// ([`torsade::tls::client_config_with_pinned`]) or anything rustls can say.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn with_tls_config(
        reactor: &Reactor,
        config: std::sync::Arc<torsade::tls::rustls::ClientConfig>,
    ) -> HttpClient {
        let trust = super::tls::TlsTrust::with_config(config);
        HttpClient::with_connector(reactor, Connector::new(reactor.clone(), trust))
    }

    fn with_connector(reactor: &Reactor, connector: Connector) -> HttpClient {
        let client = Client::builder(ReactorExecutor(reactor.clone()))
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        HttpClient {
            reactor: reactor.clone(),
            client,
        }
    }

    /// Fetches `url` with `options`, following redirects; the Deferred fires with the
    /// page or fails with an [`HttpError`]. Cancelling the Deferred abandons the request
    /// (and its connection). Twisted's `getPage`, on this client's pool.
    pub fn get_page(&self, url: &str, options: GetPage) -> Deferred<Page> {
        let (abort, registration) = AbortHandle::new_pair();
        let (page, resolver) = Deferred::with_canceller(move |_| abort.abort());
        let (client, url) = (self.clone(), url.to_string());
        self.reactor
            .spawn(async move {
                // Firing fails only if the Deferred was cancelled meanwhile: nobody waits.
                let _ = match Abortable::new(client.get(&url, options), registration).await {
                    Ok(Ok(fetched)) => resolver.callback(fetched),
                    Ok(Err(error)) => resolver.errback(error),
                    Err(_aborted) => Ok(()),
                };
            })
            .detach();
        page
    }

    /// Fetches `url` with `options`, following redirects.
    ///
    /// # Errors
    ///
    /// Any [`HttpError`]: a status of 400 or more is [`HttpError::Status`].
    pub async fn get(&self, url: &str, mut options: GetPage) -> Result<Page, HttpError> {
        let start = parse_url(url)?;
        let timeout = options.timeout;
        let request = std::pin::pin!(self.follow(start.clone(), &mut options));
        let deadline = torsade::sleep(&self.reactor, timeout);
        match future::select(request, deadline).await {
            Either::Left((result, mut deadline)) => {
                deadline.cancel();
                // The `Cancelled` failure, taken so that it is not logged as unhandled.
                let _ = deadline.take_result();
                result
            }
            Either::Right((Ok(()), _request)) => Err(HttpError::Timeout {
                url: Box::new(start),
                timeout,
            }),
            // The deadline was cancelled: the reactor is stopping. The request ends as
            // its connection does.
            Either::Right((Err(_), request)) => request.await,
        }
    }

    /// Requests `url`, then each redirect's target, and reads the final body.
    async fn follow(&self, mut url: Url, options: &mut GetPage) -> Result<Page, HttpError> {
        let mut redirects = 0;
        loop {
            let response = self.request(&url).await?;
            let status = response.status();
            let location = is_redirect(status)
                .then(|| response.headers().get(LOCATION))
                .flatten();
            if let Some(location) = location {
                let target = redirect_target(&url, location.as_bytes())?;
                if redirects == options.max_redirects {
                    return Err(HttpError::TooManyRedirects {
                        max: options.max_redirects,
                        url: Box::new(target),
                    });
                }
                tracing::debug!(from = %url, to = %target, %status, "following a redirect");
                drain(response.into_body()).await;
                redirects += 1;
                url = target;
                continue;
            }
            let (parts, body) = response.into_parts();
            if status.as_u16() >= 400 {
                let body_start = read_start(body, STATUS_BODY_START).await;
                return Err(HttpError::Status {
                    url: Box::new(url),
                    status,
                    body_start,
                });
            }
            let content_length = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok());
            let body = match read_body(body, options, content_length).await {
                Ok(body) => body,
                Err(BodyError::TooLarge) => {
                    return Err(HttpError::BodyTooLarge {
                        url: Box::new(url),
                        limit: options.max_body_size,
                    })
                }
                Err(BodyError::Read(source)) => {
                    return Err(HttpError::Body {
                        url: Box::new(url),
                        source,
                    })
                }
            };
            return Ok(Page {
                url,
                status,
                headers: parts.headers,
                body,
            });
        }
    }

    /// Sends one GET for `url`.
    async fn request(&self, url: &Url) -> Result<http::Response<Incoming>, HttpError> {
        check_scheme(url)?;
        let uri = to_uri(url)?;
        // Building fails only on an invalid method, URI or header: none here.
        let request =
            Request::get(uri)
                .body(Empty::new())
                .map_err(|error| HttpError::InvalidUrl {
                    url: url.to_string(),
                    reason: error.to_string(),
                })?;
        self.client
            .request(request)
            .await
            .map_err(|source| match connect_error(&source) {
                Some(error) => HttpError::Connect {
                    url: Box::new(url.clone()),
                    source: error,
                },
                None => HttpError::Request {
                    url: Box::new(url.clone()),
                    source,
                },
            })
    }
}

/// The torsade error under a failed connection attempt, if that is what `error` is.
fn connect_error(
    error: &hyper_util::client::legacy::Error,
) -> Option<std::sync::Arc<torsade::Error>> {
    let mut source = std::error::Error::source(error);
    while let Some(error) = source {
        if let Some(ConnectError(inner)) = error.downcast_ref::<ConnectError>() {
            return Some(inner.clone());
        }
        source = error.source();
    }
    None
}

/// `text` as an absolute URL.
fn parse_url(text: &str) -> Result<Url, HttpError> {
    Url::parse(text).map_err(|error| HttpError::InvalidUrl {
        url: text.to_string(),
        reason: error.to_string(),
    })
}

/// `http`, or `https` with the `tls` feature, and a host.
fn check_scheme(url: &Url) -> Result<(), HttpError> {
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        other => {
            return Err(HttpError::UnsupportedScheme {
                scheme: other.to_string(),
                url: Box::new(url.clone()),
            })
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(HttpError::InvalidUrl {
            url: url.to_string(),
            reason: "no host".to_string(),
        });
    }
    Ok(())
}

/// `url` as hyper's URI, without its fragment (never sent).
fn to_uri(url: &Url) -> Result<Uri, HttpError> {
    let mut url = url.clone();
    url.set_fragment(None);
    url.as_str()
        .parse::<Uri>()
        .map_err(|error| HttpError::InvalidUrl {
            url: url.to_string(),
            reason: error.to_string(),
        })
}

/// The statuses whose `Location` is followed. Only GETs are sent, so a 303's "see other
/// with GET" and a 307's "repeat the method" come to the same.
fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Where `location` (absolute, or relative to `base`) points.
fn redirect_target(base: &Url, location: &[u8]) -> Result<Url, HttpError> {
    let text = String::from_utf8_lossy(location);
    base.join(&text).map_err(|error| HttpError::InvalidUrl {
        url: text.into_owned(),
        reason: format!("a redirect from {base}: {error}"),
    })
}

/// Why a body was not read whole.
enum BodyError {
    TooLarge,
    Read(hyper::Error),
}

/// Reads `body`, up to the limit in `options`, telling its progress callback.
async fn read_body(
    mut body: Incoming,
    options: &mut GetPage,
    content_length: Option<u64>,
) -> Result<Bytes, BodyError> {
    let limit = options.max_body_size;
    if content_length.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    // The announced length, never more than the limit, is reserved at once.
    let reserve = content_length.unwrap_or(0).min(limit).min(1 << 20);
    let mut received = BytesMut::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(BodyError::Read)?.into_data() else {
            continue; // trailers
        };
        if chunk.is_empty() {
            continue;
        }
        let total = received.len() as u64 + chunk.len() as u64;
        if total > limit {
            return Err(BodyError::TooLarge);
        }
        received.extend_from_slice(&chunk);
        report(&mut options.progress, &chunk, total, content_length);
    }
    Ok(received.freeze())
}

/// Tells the progress callback, if there is one, that `chunk` arrived.
fn report(
    progress: &mut Option<ProgressCallback>,
    chunk: &[u8],
    received: u64,
    content_length: Option<u64>,
) {
    if let Some(progress) = progress {
        progress(Progress {
            chunk,
            received,
            content_length,
        });
    }
}

/// The first `limit` bytes of `body` (fewer if it is shorter or breaks off).
async fn read_start(mut body: Incoming, limit: usize) -> Bytes {
    let mut start = BytesMut::new();
    while start.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(chunk) = frame.into_data() {
                    let room = limit - start.len();
                    start.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    start.freeze()
}

/// Reads a redirect's short body to its end, keeping nothing, so that its connection
/// goes back to the pool; gives up (the connection is then closed) past
/// [`REDIRECT_BODY_DRAINED`] bytes or on an error.
async fn drain(mut body: Incoming) {
    let mut drained = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(chunk) = frame.into_data() {
            drained += chunk.len() as u64;
            if drained > REDIRECT_BODY_DRAINED {
                return;
            }
        }
    }
}
