//! `get_page` and `HttpClient` against real servers on loopback: a small HTTP/1.1 server
//! written here on torsade (so it can misbehave precisely: stall, pace its chunks, lie
//! about lengths), a TLS one with a test CA, and Python's `http.server`.

mod common;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::run_bounded;
use torsade::endpoints::{TcpServer, TlsServer};
use torsade::testing::TestCertificates;
use torsade::{Connection, ListeningPort, Reactor};
use torsade_protocols::http::{get_page, get_page_async, GetPage, HttpClient, HttpError};

const LIMIT: Duration = Duration::from_secs(20);

/// A request as the test server saw it.
struct Request {
    path: String,
    host: String,
}

/// What the test server does with a request.
enum Answer {
    /// Writes these bytes (a whole response, right or wrong) and reads the next request.
    Raw(Vec<u8>),
    /// Writes these bytes and closes the connection.
    RawThenClose(Vec<u8>),
    /// Never answers; reads until the client goes away, then counts that.
    Stall,
    /// A chunked response whose chunks are sent one at a time, each once the client
    /// added a permit to `next` (after it saw the previous chunk).
    Paced {
        chunks: Vec<Vec<u8>>,
        next: Arc<tokio::sync::Semaphore>,
    },
}

/// A full response with a `Content-Length`.
fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut text = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    Answer::Raw(bytes)
}

/// One chunk in the chunked transfer coding.
fn chunk(data: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// The chunked coding's last chunk (with no trailers).
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// `chunks` in the chunked transfer coding, with the last chunk.
fn chunked(chunks: &[&[u8]]) -> Vec<u8> {
    let mut bytes: Vec<u8> = chunks.iter().flat_map(|data| chunk(data)).collect();
    bytes.extend_from_slice(LAST_CHUNK);
    bytes
}

const CHUNKED_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

/// The test server: how many connections it accepted; a permit in `stalled` for each
/// request it stalls, and in `abandoned` for each stalled request's client that went away.
struct TestServer {
    port: ListeningPort,
    accepted: Arc<AtomicUsize>,
    stalled: Arc<tokio::sync::Semaphore>,
    abandoned: Arc<tokio::sync::Semaphore>,
}

impl TestServer {
    fn url(&self, scheme: &str, host: &str, path: &str) -> String {
        let port = self.port.local_addr().socket_addr().unwrap().port();
        format!("{scheme}://{host}:{port}{path}")
    }

    fn http(&self, path: &str) -> String {
        self.url("http", "127.0.0.1", path)
    }
}

/// Serves on a free loopback port (over TLS with `tls`), answering each request with
/// `route`, keeping connections alive.
fn serve(
    reactor: &Reactor,
    tls: Option<Arc<torsade::tls::rustls::ServerConfig>>,
    route: impl Fn(&Request) -> Answer + Send + Sync + 'static,
) -> TestServer {
    let route = Arc::new(route);
    let accepted = Arc::new(AtomicUsize::new(0));
    let stalled = Arc::new(tokio::sync::Semaphore::new(0));
    let abandoned = Arc::new(tokio::sync::Semaphore::new(0));
    let (count, stall, gone) = (accepted.clone(), stalled.clone(), abandoned.clone());
    let handler = move |connection: Connection| {
        count.fetch_add(1, Ordering::SeqCst);
        let stall = (stall.clone(), gone.clone());
        answer_requests(connection, route.clone(), stall)
    };
    let tcp = TcpServer::from(SocketAddr::from(([127, 0, 0, 1], 0)));
    let port = match tls {
        Some(config) => reactor.start_server(TlsServer::new(tcp, config), handler),
        None => reactor.start_server(tcp, handler),
    }
    .unwrap();
    TestServer {
        port,
        accepted,
        stalled,
        abandoned,
    }
}

async fn answer_requests(
    mut connection: Connection,
    route: Arc<dyn Fn(&Request) -> Answer + Send + Sync>,
    (stalled, abandoned): (Arc<tokio::sync::Semaphore>, Arc<tokio::sync::Semaphore>),
) -> torsade::Result<()> {
    while let Some(request) = read_request(&mut connection).await? {
        match route(&request) {
            Answer::Raw(bytes) => connection.write(&bytes).await?,
            Answer::RawThenClose(bytes) => {
                connection.write(&bytes).await?;
                return connection.close().await;
            }
            Answer::Stall => {
                stalled.add_permits(1);
                while connection.read().await?.is_some() {}
                abandoned.add_permits(1);
                return Ok(());
            }
            Answer::Paced { chunks, next } => {
                connection.write(CHUNKED_HEAD).await?;
                for (index, chunk) in chunks.iter().enumerate() {
                    if index > 0 {
                        next.acquire().await.unwrap().forget();
                    }
                    connection.write(&self::chunk(chunk)).await?;
                }
                connection.write(LAST_CHUNK).await?;
            }
        }
    }
    Ok(())
}

/// Reads a request's head; `None` at the end of the connection.
async fn read_request(connection: &mut Connection) -> torsade::Result<Option<Request>> {
    let Some(first) = connection.read_line().await? else {
        return Ok(None);
    };
    let first = String::from_utf8_lossy(&first).into_owned();
    let target = first.split(' ').nth(1).unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut host = String::new();
    while let Some(line) = connection.read_line().await? {
        if line.is_empty() {
            return Ok(Some(Request { path, host }));
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("host") {
                host = value.trim().to_string();
            }
        }
    }
    Ok(None)
}

/// The pages most tests use.
fn site(request: &Request) -> Answer {
    let absolute_c = format!("http://{}/c", request.host);
    match request.path.as_str() {
        "/hello" => response("200 OK", &[], b"hello world"),
        "/a" => response("302 Found", &[("location", "b?from=a")], b"moved"),
        "/b" => response("301 Moved Permanently", &[("location", &absolute_c)], b""),
        "/c" => response("200 OK", &[], b"arrived"),
        "/see-other" => response("303 See Other", &[("location", "/hello")], b""),
        "/loop" => response("307 Temporary Redirect", &[("location", "/loop")], b""),
        "/bad-location" => response("302 Found", &[("location", "http://[::1")], b""),
        "/chunked" => {
            let mut bytes = CHUNKED_HEAD.to_vec();
            bytes.extend(chunked(&[b"hello", b", ", b"world"]));
            Answer::Raw(bytes)
        }
        "/missing" => response("404 Not Found", &[], &[b'x'; 3000]),
        "/stall" => Answer::Stall,
        // Says 1000 bytes and sends none: only the length can tell it is too large.
        "/long-promise" => Answer::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".to_vec()),
        "/long-chunked" => {
            let mut bytes = CHUNKED_HEAD.to_vec();
            bytes.extend(chunked(&[&[b'y'; 64][..]; 10]));
            Answer::Raw(bytes)
        }
        // Promises more than it sends, then closes.
        "/short" => Answer::RawThenClose(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\nonly this"
                .to_vec(),
        ),
        "/garbage" => Answer::Raw(b"this is not HTTP\r\n\r\n".to_vec()),
        _ => response("404 Not Found", &[], b"no such page"),
    }
}

/// Runs `work` as a task of `reactor` until it finishes (bounded by [`LIMIT`]).
fn run<T: Send + 'static>(reactor: &Reactor, work: impl Future<Output = T> + Send + 'static) -> T {
    let stopper = reactor.clone();
    let mut outcome = reactor.spawn(async move {
        let outcome = work.await;
        stopper.stop().unwrap();
        outcome
    });
    run_bounded(reactor, LIMIT);
    outcome
        .take_result()
        .expect("the work finished")
        .expect("no panic")
}

/// Fetches `url` with `options` on a client of its own.
fn fetch(
    reactor: &Reactor,
    url: String,
    options: GetPage,
) -> Result<torsade_protocols::http::Page, HttpError> {
    let client = HttpClient::new(reactor);
    run(reactor, async move { client.get(&url, options).await })
}

#[test]
fn a_page_is_fetched_with_its_status_headers_and_url() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let url = server.http("/hello");
    let mut fetched = None;
    let logs = common::capture_logs(|| {
        fetched = Some(fetch(&reactor, url.clone(), GetPage::new()));
    });
    // Nothing left behind complains: the timeout's timer is cancelled quietly.
    assert!(!logs.contains("ERROR") && !logs.contains("WARN"), "{logs}");
    let page = fetched.unwrap().unwrap();
    assert_eq!(&page.body()[..], b"hello world");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-length"], "11");
    assert_eq!(page.url().as_str(), url);
}

#[test]
fn get_page_fires_its_deferred_with_the_page() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let stopper = reactor.clone();
    let mut page = get_page(&reactor, &server.http("/hello")).add_both(move |page| {
        stopper.stop().unwrap();
        page
    });
    run_bounded(&reactor, LIMIT);
    let page = page.take_result().unwrap().unwrap();
    assert_eq!(&page.body()[..], b"hello world");
}

#[test]
fn get_page_fails_its_deferred_with_the_http_error() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let stopper = reactor.clone();
    let mut page = get_page(&reactor, &server.http("/missing")).add_both(move |page| {
        stopper.stop().unwrap();
        page
    });
    run_bounded(&reactor, LIMIT);
    let failure = page.take_result().unwrap().unwrap_err();
    assert!(
        matches!(failure.downcast_ref::<HttpError>(), Some(HttpError::Status { status, .. }) if *status == 404),
        "{failure}"
    );
}

#[test]
fn redirects_relative_and_absolute_are_followed_and_the_final_url_reported() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let client = HttpClient::new(&reactor);
    let (a, see_other) = (server.http("/a"), server.http("/see-other"));
    let (page, other) = run(&reactor, async move {
        let page = client.get(&a, GetPage::new()).await?;
        let other = client.get(&see_other, GetPage::new()).await?;
        Ok::<_, HttpError>((page, other))
    })
    .unwrap();
    assert_eq!(&page.body()[..], b"arrived");
    assert_eq!(page.url().as_str(), server.http("/c"));
    assert_eq!(&other.body()[..], b"hello world");
    assert_eq!(other.url().path(), "/hello");
}

#[test]
fn the_redirect_limit_counts_each_redirect() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let client = HttpClient::new(&reactor);
    let url = server.http("/a");
    // /a -> /b -> /c is two redirects.
    let (page, error) = run(&reactor, async move {
        let page = client.get(&url, GetPage::new().max_redirects(2)).await;
        let error = client.get(&url, GetPage::new().max_redirects(1)).await;
        (page, error)
    });
    assert_eq!(&page.unwrap().body()[..], b"arrived");
    let error = error.unwrap_err();
    assert!(
        matches!(&error, HttpError::TooManyRedirects { max: 1, url } if url.path() == "/c"),
        "{error}"
    );
}

#[test]
fn a_redirect_loop_is_too_many_redirects() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let error = fetch(&reactor, server.http("/loop"), GetPage::new()).unwrap_err();
    assert!(
        matches!(error, HttpError::TooManyRedirects { max: 20, .. }),
        "{error}"
    );
    // One connection served all 21 requests.
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn a_redirect_to_a_location_that_is_no_url_is_an_invalid_url() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let error = fetch(&reactor, server.http("/bad-location"), GetPage::new()).unwrap_err();
    assert!(
        matches!(&error, HttpError::InvalidUrl { url, .. } if url == "http://[::1"),
        "{error}"
    );
}

#[test]
fn a_404_is_a_status_error_with_the_start_of_the_body() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let error = fetch(&reactor, server.http("/missing"), GetPage::new()).unwrap_err();
    match error {
        HttpError::Status {
            status,
            body_start,
            url,
        } => {
            assert_eq!(status, 404);
            assert_eq!(body_start.len(), torsade_protocols::http::STATUS_BODY_START);
            assert!(body_start.iter().all(|byte| *byte == b'x'));
            assert_eq!(url.path(), "/missing");
        }
        other => panic!("not a status error: {other}"),
    }
}

#[test]
fn a_chunked_body_is_put_together() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let page = fetch(&reactor, server.http("/chunked"), GetPage::new()).unwrap();
    assert_eq!(&page.body()[..], b"hello, world");
}

#[test]
fn a_content_length_over_the_limit_fails_before_the_body_comes() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    // The server never sends the body: waiting for it would hang until LIMIT.
    let options = GetPage::new().max_body_size(999);
    let error = fetch(&reactor, server.http("/long-promise"), options).unwrap_err();
    assert!(
        matches!(error, HttpError::BodyTooLarge { limit: 999, .. }),
        "{error}"
    );
}

#[test]
fn a_chunked_body_over_the_limit_fails_and_nothing_past_the_limit_is_kept() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = GetPage::new()
        .max_body_size(100)
        .on_progress(move |progress| record.lock().unwrap().push(progress.received));
    let error = fetch(&reactor, server.http("/long-chunked"), options).unwrap_err();
    assert!(
        matches!(error, HttpError::BodyTooLarge { limit: 100, .. }),
        "{error}"
    );
    // 64 bytes were taken; the next chunk would have made 128.
    assert_eq!(*seen.lock().unwrap(), [64]);
}

#[test]
fn a_body_exactly_at_the_limit_is_taken() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let options = GetPage::new().max_body_size(640);
    let page = fetch(&reactor, server.http("/long-chunked"), options).unwrap();
    assert_eq!(page.body().len(), 640);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let timeout = Duration::from_millis(200);
    let error = fetch(
        &reactor,
        server.http("/stall"),
        GetPage::new().timeout(timeout),
    )
    .unwrap_err();
    assert!(
        matches!(&error, HttpError::Timeout { timeout: t, url } if *t == timeout && url.path() == "/stall"),
        "{error}"
    );
}

#[test]
fn cancelling_get_page_closes_its_connection() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let client = HttpClient::new(&reactor);
    let page = client.get_page(&server.http("/stall"), GetPage::new());
    let (stalled, abandoned) = (server.stalled.clone(), server.abandoned.clone());
    let outcome = run(&reactor, async move {
        stalled.acquire().await.unwrap().forget();
        page.cancel();
        abandoned.acquire().await.unwrap().forget();
        page.await
    });
    let failure = outcome.unwrap_err();
    assert!(
        matches!(
            failure.downcast_ref::<torsade::Error>(),
            Some(torsade::Error::Cancelled)
        ),
        "{failure}"
    );
}

#[test]
fn two_gets_in_turn_to_one_host_share_one_connection() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let client = HttpClient::new(&reactor);
    let url = server.http("/hello");
    let bodies = run(&reactor, async move {
        let first = client.get(&url, GetPage::new()).await?;
        let second = client.get(&url, GetPage::new()).await?;
        Ok::<_, HttpError>([first.into_body(), second.into_body()])
    })
    .unwrap();
    assert_eq!(bodies, [&b"hello world"[..], &b"hello world"[..]]);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn progress_sees_each_chunk_as_it_arrives_while_the_server_waits_for_it() {
    let reactor = Reactor::new().unwrap();
    let next = Arc::new(tokio::sync::Semaphore::new(0));
    let paced = next.clone();
    let server = serve(&reactor, None, move |_| Answer::Paced {
        chunks: vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()],
        next: paced.clone(),
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = GetPage::new().on_progress(move |progress| {
        let chunk = String::from_utf8_lossy(progress.chunk).into_owned();
        record
            .lock()
            .unwrap()
            .push((chunk, progress.received, progress.content_length));
        // The server sends the next chunk only now.
        next.add_permits(1);
    });
    let page = fetch(&reactor, server.http("/"), options).unwrap();
    assert_eq!(&page.body()[..], b"one two three");
    let seen = seen.lock().unwrap();
    let expected = [("one ", 4, None), ("two ", 8, None), ("three", 13, None)];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for ((chunk, received, length), (want_chunk, want_received, want_length)) in
        seen.iter().zip(expected)
    {
        assert_eq!(
            (chunk.as_str(), *received, *length),
            (want_chunk, want_received, want_length)
        );
    }
}

#[test]
fn progress_knows_the_content_length() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = GetPage::new().on_progress(move |progress| {
        record
            .lock()
            .unwrap()
            .push((progress.received, progress.content_length))
    });
    fetch(&reactor, server.http("/hello"), options).unwrap();
    assert_eq!(*seen.lock().unwrap(), [(11, Some(11))]);
}

#[test]
fn a_body_shorter_than_its_length_is_a_body_error() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let error = fetch(&reactor, server.http("/short"), GetPage::new()).unwrap_err();
    assert!(matches!(error, HttpError::Body { .. }), "{error}");
}

#[test]
fn an_answer_that_is_not_http_is_a_request_error() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let error = fetch(&reactor, server.http("/garbage"), GetPage::new()).unwrap_err();
    assert!(matches!(error, HttpError::Request { .. }), "{error}");
}

#[test]
fn a_refused_connection_is_a_connect_error_with_torsades_error() {
    let reactor = Reactor::new().unwrap();
    let refused = common::refused_port::RefusedPort::new();
    let url = format!("http://{}/", refused.address());
    let reactor_for_task = reactor.clone();
    let error = run(&reactor, async move {
        get_page_async(&reactor_for_task, &url).await
    })
    .unwrap_err();
    match error {
        HttpError::Connect { source, url } => {
            assert!(
                matches!(*source, torsade::Error::ConnectFailed { .. }),
                "{source}"
            );
            assert_eq!(url.port(), Some(refused.address().port()));
        }
        other => panic!("not a connect error: {other}"),
    }
}

#[test]
fn urls_that_cannot_be_fetched_are_refused_before_connecting() {
    let reactor = Reactor::new().unwrap();
    let error = fetch(&reactor, "not a url".to_string(), GetPage::new()).unwrap_err();
    assert!(matches!(error, HttpError::InvalidUrl { .. }), "{error}");
    let reactor = Reactor::new().unwrap();
    let error = fetch(&reactor, "ftp://127.0.0.1/file".to_string(), GetPage::new()).unwrap_err();
    assert!(
        matches!(&error, HttpError::UnsupportedScheme { scheme, .. } if scheme == "ftp"),
        "{error}"
    );
}

#[test]
fn https_with_a_test_ca_fetches_the_page() {
    let reactor = Reactor::new().unwrap();
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let server = serve(&reactor, Some(certificates.server_config().unwrap()), site);
    let client = HttpClient::with_tls_config(&reactor, certificates.client_config().unwrap());
    let url = server.url("https", "localhost", "/see-other");
    let page = run(
        &reactor,
        async move { client.get(&url, GetPage::new()).await },
    )
    .unwrap();
    assert_eq!(&page.body()[..], b"hello world");
    assert_eq!(
        page.url().as_str(),
        server.url("https", "localhost", "/hello")
    );
}

#[test]
fn https_with_a_ca_file_or_a_pinned_certificate_fetches_the_page() {
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let scratch =
        Scratch(std::env::temp_dir().join(format!("torsade-get-page-pem-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let (ca, cert, _key) = certificates.write_to(&scratch.0).unwrap();
    for config in [
        torsade::tls::client_config_with_ca(&ca).unwrap(),
        torsade::tls::client_config_with_pinned(&cert).unwrap(),
    ] {
        let reactor = Reactor::new().unwrap();
        let server = serve(&reactor, Some(certificates.server_config().unwrap()), site);
        let client = HttpClient::with_tls_config(&reactor, config);
        let url = server.url("https", "localhost", "/hello");
        let page = run(
            &reactor,
            async move { client.get(&url, GetPage::new()).await },
        )
        .unwrap();
        assert_eq!(&page.body()[..], b"hello world");
    }
}

#[test]
fn https_to_a_server_the_client_does_not_trust_is_a_connect_error() {
    let reactor = Reactor::new().unwrap();
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let server = serve(&reactor, Some(certificates.server_config().unwrap()), site);
    // Another CA altogether.
    let stranger = TestCertificates::new(&["localhost"]).unwrap();
    let client = HttpClient::with_tls_config(&reactor, stranger.client_config().unwrap());
    let url = server.url("https", "localhost", "/hello");
    let error = run(
        &reactor,
        async move { client.get(&url, GetPage::new()).await },
    )
    .unwrap_err();
    assert!(matches!(error, HttpError::Connect { .. }), "{error}");
}

#[test]
fn https_with_the_platforms_roots_does_not_trust_a_test_ca() {
    let reactor = Reactor::new().unwrap();
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let server = serve(&reactor, Some(certificates.server_config().unwrap()), site);
    let client = HttpClient::new(&reactor);
    let url = server.url("https", "localhost", "/hello");
    let error = run(
        &reactor,
        async move { client.get(&url, GetPage::new()).await },
    )
    .unwrap_err();
    // Refused by the certificate check, or no platform roots at all on this machine.
    match error {
        HttpError::Connect { source, .. } => assert!(
            matches!(*source, torsade::Error::Tls(_) | torsade::Error::Pem { .. }),
            "{source:?}"
        ),
        other => panic!("not a connect error: {other}"),
    }
}

/// Python's `http.server` serving a directory, killed when dropped.
struct PythonServer {
    child: Child,
    port: u16,
}

impl PythonServer {
    fn serve(directory: &std::path::Path) -> PythonServer {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(directory)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (.ci/run installs it)");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let mut server = PythonServer { child, port: 0 };
        // "Serving HTTP on 127.0.0.1 port 43123 (http://127.0.0.1:43123/) ..."
        let line = receiver
            .recv_timeout(LIMIT)
            .expect("http.server says where it listens");
        server.port = line
            .split_whitespace()
            .skip_while(|word| *word != "port")
            .nth(1)
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        server
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        // Both fail only if the child already exited and was reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pythons_http_server_serves_a_file_byte_for_byte() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("torsade-get-page-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let contents: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(scratch.0.join("data.bin"), &contents).unwrap();
    let python = PythonServer::serve(&scratch.0);

    let reactor = Reactor::new().unwrap();
    let chunks = Arc::new(AtomicUsize::new(0));
    let counter = chunks.clone();
    let options = GetPage::new().on_progress(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let client = HttpClient::new(&reactor);
    let url = format!("http://127.0.0.1:{}/data.bin", python.port);
    let absent = format!("http://127.0.0.1:{}/absent", python.port);
    let (page, error) = run(&reactor, async move {
        let page = client.get(&url, options).await;
        (page, client.get(&absent, GetPage::new()).await)
    });
    let page = page.unwrap();
    assert!(
        page.body()[..] == contents[..],
        "the body differs from the file"
    );
    assert!(chunks.load(Ordering::SeqCst) >= 1);
    let error = error.unwrap_err();
    assert!(
        matches!(error, HttpError::Status { status, .. } if status == 404),
        "{error}"
    );
}

/// Runs `future` to its end on this thread, parking it between polls: an executor that is
/// no tokio runtime.
fn block_on<T>(future: impl Future<Output = T>) -> T {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

#[test]
fn a_get_can_be_awaited_on_a_thread_with_no_runtime() {
    let reactor = Reactor::new().unwrap();
    let server = serve(&reactor, None, site);
    let client = HttpClient::new(&reactor);
    let url = server.http("/a");
    let stopper = reactor.clone();
    let fetcher = std::thread::spawn(move || {
        let page = block_on(client.get(&url, GetPage::new()));
        stopper.stop().unwrap();
        page
    });
    run_bounded(&reactor, LIMIT);
    let page = fetcher.join().expect("the fetching thread ends").unwrap();
    assert_eq!(&page.body()[..], b"arrived");
}
