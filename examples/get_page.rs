//! Downloading pages while the reactor goes on: Twisted's `getPage` from "Twisted
//! Introduction", on `torsade_protocols::http`.
//!
//! ```text
//! cargo run --example get_page                         # serves a page itself, fetches it
//! cargo run --example get_page -- https://example.com/ http://example.org/
//! cargo run --example get_page -- --output page.html https://example.com/
//! ```
//!
//! Each URL is fetched at once, all together, and a ticker on `call_later` prints
//! `tick N` every 100 ms meanwhile: the downloads leave the loop free. As a body arrives,
//! progress lines say how much came (`URL: received N of M bytes`); each URL then ends
//! with a line `URL: N bytes` (with `--output FILE`, the single URL's body is written to
//! `FILE` too). With no URL, a page is served on a free loopback port in the same
//! process, in chunks sent 150 ms apart, and fetched.
//!
//! A URL that cannot be fetched prints one line `error: REASON` (naming the URL) on
//! stderr, and the example
//! exits with status 1 once every download ended; a mistake in the arguments, status 2.

mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use torsade::{Connection, Deferred, DeferredList, Reactor};
use torsade_protocols::http::{GetPage, HttpClient, Progress};

const USAGE: &str = "usage: get_page [--output FILE] [URL...]
   fetches each URL at once (with none, a page served by this process), printing
   progress and `URL: N bytes` for each; --output FILE writes the body of a single URL";

/// How often the ticker ticks.
const TICK: Duration = Duration::from_millis(100);

/// The page served when no URL is given, and how it is cut up.
const OWN_PAGE_CHUNKS: usize = 4;
const OWN_PAGE_CHUNK: &[u8] = &[b'*'; 4096];
const OWN_PAGE_PACE: Duration = Duration::from_millis(150);

fn main() -> ExitCode {
    common::init_logging();
    let (args, urls) = match common::Args::parse_with_operands(USAGE, &["output"]) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let output = args.value("output").map(str::to_string);
    if args.flag("output") && output.is_none() {
        eprintln!("error: --output needs a file name\n\n{USAGE}");
        return ExitCode::from(2);
    }
    if output.is_some() && urls.len() > 1 {
        eprintln!("error: --output writes one body: give one URL\n\n{USAGE}");
        return ExitCode::from(2);
    }
    common::exit_code(run(urls, output))
}

fn run(
    mut urls: Vec<String>,
    output: Option<String>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    if urls.is_empty() {
        let port = reactor.start_server("127.0.0.1:0", {
            let reactor = reactor.clone();
            move |connection| serve_own_page(reactor.clone(), connection)
        })?;
        urls.push(format!("http://{}/page", port.local_addr()));
    }
    let failed = Arc::new(AtomicBool::new(false));
    let client = HttpClient::new(&reactor);
    let downloads: Vec<Deferred<()>> = urls
        .into_iter()
        .map(|url| download(&client, url, output.clone(), failed.clone()))
        .collect();
    let stopper = reactor.clone();
    DeferredList::new(downloads)
        .into_deferred()
        .add_callback(move |_| {
            let _ = stopper.stop();
        })
        .detach();
    tick(&reactor, 1);
    reactor.run()?;
    Ok(if failed.load(Ordering::SeqCst) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints `tick N` every [`TICK`], as long as the reactor runs.
fn tick(reactor: &Reactor, count: u64) {
    let next = reactor.clone();
    reactor.call_later(TICK, move || {
        println!("tick {count}");
        tick(&next, count + 1);
    });
}

/// Fetches `url`, printing its progress and then its size (or the error), and writing
/// the body to `output` if given; fires once done either way.
fn download(
    client: &HttpClient,
    url: String,
    output: Option<String>,
    failed: Arc<AtomicBool>,
) -> Deferred<()> {
    let progress = ProgressLines::new(url.clone());
    let options = GetPage::new().on_progress(move |step| progress.report(step));
    client.get_page(&url, options).add_both(move |page| {
        let page = match page {
            Ok(page) => page,
            Err(failure) => {
                // The error names the URL itself.
                eprintln!("error: {failure}");
                failed.store(true, Ordering::SeqCst);
                return;
            }
        };
        if let Some(path) = output {
            if let Err(error) = std::fs::write(&path, page.body()) {
                eprintln!("error: {url}: cannot write {path}: {error}");
                failed.store(true, Ordering::SeqCst);
                return;
            }
        }
        println!("{url}: {} bytes", page.body().len());
    })
}

/// Progress lines for one URL: one per tenth of a body of known length, one per MiB
/// otherwise (and the first chunk's either way).
struct ProgressLines {
    url: String,
    printed_step: std::sync::Mutex<Option<u64>>,
}

impl ProgressLines {
    fn new(url: String) -> ProgressLines {
        ProgressLines {
            url,
            printed_step: std::sync::Mutex::new(None),
        }
    }

    fn report(&self, progress: Progress<'_>) {
        let step = match progress.content_length {
            Some(total) if total > 0 => progress.received * 10 / total,
            _ => progress.received >> 20,
        };
        let mut printed = self.printed_step.lock().unwrap_or_else(|e| e.into_inner());
        if *printed == Some(step) {
            return;
        }
        *printed = Some(step);
        match progress.content_length {
            Some(total) => println!(
                "{}: received {} of {total} bytes",
                self.url, progress.received
            ),
            None => println!("{}: received {} bytes", self.url, progress.received),
        }
    }
}

/// Answers each request on `connection` with a page of [`OWN_PAGE_CHUNKS`] chunks, sent
/// [`OWN_PAGE_PACE`] apart (a slow server, so that the ticker has time to tick).
async fn serve_own_page(reactor: Reactor, mut connection: Connection) -> torsade::Result<()> {
    while let Some(line) = connection.read_line().await? {
        if !line.is_empty() {
            continue; // the request line and headers: every path gets the page
        }
        let length = OWN_PAGE_CHUNKS * OWN_PAGE_CHUNK.len();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {length}\r\n\r\n"
        );
        connection.write(head.as_bytes()).await?;
        for index in 0..OWN_PAGE_CHUNKS {
            if index > 0 {
                // Fails only if the reactor stops meanwhile: the page is then moot.
                torsade::sleep(&reactor, OWN_PAGE_PACE)
                    .await
                    .map_err(|_| torsade::Error::ReactorStopped)?;
            }
            connection.write(OWN_PAGE_CHUNK).await?;
        }
    }
    Ok(())
}
