//! Downloading pages over HTTP/1.1: [`get_page`] (Twisted's `getPage`) and
//! [`HttpClient`] (Twisted's `Agent` with a connection pool), on hyper over torsade's
//! connections. Feature `http`; `https` also needs `tls`.
//!
//! ```text
//!  get_page / HttpClient::get      -- redirects, limits, timeout, progress (client.rs)
//!        |  hyper-util's pooling client: HTTP/1.1, keep-alive, idle connections per host
//!        |  (its connection tasks spawned on the reactor: ReactorExecutor)
//!        v
//!  Connector (a tower Service<Uri>) -- Reactor::open_connection: TCP, or TLS over TCP
//!        v
//!  torsade::Connection              -- a connection of the reactor, like any other
//! ```
//!
//! A download is one more task on the reactor: timers and other connections go on while
//! the body arrives, and [`GetPage::on_progress`] sees each chunk as it comes. Redirects
//! are followed (up to [`DEFAULT_MAX_REDIRECTS`]), the final URL is kept in the
//! [`Page`], and a status of 400 or more, a body over the limit, a timeout or a refused
//! connection each fail with their own [`HttpError`].
//!
//! # Examples
//!
//! A page served on the spot, fetched while a timer ticks:
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use torsade::Reactor;
//! use torsade_protocols::http::get_page;
//!
//! let reactor = Reactor::new().unwrap();
//! // A one-page server: answers the first request with "Hello, web!" and closes.
//! let server = reactor
//!     .start_server("127.0.0.1:0", |mut connection: torsade::Connection| async move {
//!         while let Some(line) = connection.read_line().await? {
//!             if line.is_empty() {
//!                 let answer = "HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\
//!                               connection: close\r\n\r\nHello, web!";
//!                 connection.write(answer.as_bytes()).await?;
//!                 break;
//!             }
//!         }
//!         Ok::<_, torsade::Error>(())
//!     })
//!     .unwrap();
//! let ticks = Arc::new(AtomicUsize::new(0));
//! let counter = ticks.clone();
//! reactor.call_later(Duration::ZERO, move || {
//!     counter.fetch_add(1, Ordering::SeqCst);
//! });
//!
//! let r = reactor.clone();
//! let mut page = get_page(&reactor, &format!("http://{}/", server.local_addr()))
//!     .add_both(move |page| {
//!         r.stop().unwrap();
//!         page
//!     });
//! reactor.run().unwrap();
//! let page = page.take_result().unwrap().unwrap();
//! assert_eq!(&page.body()[..], b"Hello, web!");
//! assert_eq!(page.status(), 200);
//! assert_eq!(ticks.load(Ordering::SeqCst), 1);
//! ```

mod client;
mod connector;
mod error;
mod executor;
mod get_page;
mod options;
mod page;
mod progress;
#[cfg(feature = "tls")]
mod tls;

pub use self::client::{HttpClient, POOL_IDLE_TIMEOUT, POOL_MAX_IDLE_PER_HOST, STATUS_BODY_START};
pub use self::error::HttpError;
pub use self::get_page::{get_page, get_page_async};
pub use self::options::{GetPage, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT};
pub use self::page::Page;
pub use self::progress::Progress;
pub use http::{HeaderMap, StatusCode};
pub use url::Url;
