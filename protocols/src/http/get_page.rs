//! Twisted's `getPage` in one call: [`get_page`] and [`get_page_async`].

use torsade::{Deferred, Reactor};

use super::{GetPage, HttpClient, HttpError, Page};

/// Fetches `url` (`http`, or `https` with the `tls` feature, trusting the platform's
/// roots) with the default [`GetPage`] options; the Deferred fires with the [`Page`] or
/// fails with an [`HttpError`]. Twisted's `getPage`.
///
/// Each call has a connection pool of its own; fetch several pages from one host with an
/// [`HttpClient`] to reuse its connections.
///
/// # Examples
///
/// ```no_run
/// use torsade::Reactor;
/// use torsade_protocols::http::get_page;
///
/// let reactor = Reactor::new().unwrap();
/// let r = reactor.clone();
/// get_page(&reactor, "https://example.com/")
///     .add_both(move |page| {
///         match page {
///             Ok(page) => println!("{} bytes from {}", page.body().len(), page.url()),
///             Err(failure) => eprintln!("error: {failure}"),
///         }
///         r.stop().unwrap();
///     })
///     .detach();
/// reactor.run().unwrap();
/// ```
#[doc(alias = "getPage")]
pub fn get_page(reactor: &Reactor, url: &str) -> Deferred<Page> {
    HttpClient::new(reactor).get_page(url, GetPage::new())
}

/// Fetches `url` as [`get_page`] does, for async code: in a task of the reactor
/// ([`Reactor::spawn`]) or anywhere else (the connection runs on the reactor either way).
///
/// # Errors
///
/// Any [`HttpError`].
pub async fn get_page_async(reactor: &Reactor, url: &str) -> Result<Page, HttpError> {
    HttpClient::new(reactor).get(url, GetPage::new()).await
}
