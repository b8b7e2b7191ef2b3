//! Peers that misbehave, over loopback: clients that write and never read, a client that
//! floods without a delimiter, clients that reset mid-write, mid-read and mid-handshake,
//! and a graceful stop with a thousand connections carrying data. The server must stay
//! bounded, lose and duplicate nothing, fire every `connection_lost` once, leak no task,
//! and keep serving everyone else.
//!
//! The clients run on a tokio runtime of their own, in a thread beside the reactor. The
//! tests run one at a time (`serial`): two of them measure the process's peak memory, and
//! all of them open hundreds of sockets. Every wait is bounded (`run_bounded`, `LIMIT`).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use common::{run_bounded, LIMIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use torsade::endpoints::AdoptedServer;
use torsade::prelude::*;
use torsade::{factory_fn, Address, Reactor, WRITE_BUFFER_HIGH};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver, DEFAULT_MAX_LENGTH};

/// One test at a time in this file.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A single-threaded tokio runtime for the clients.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a client runtime")
}

/// One field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resets the process's peak resident set size to the current one (Linux's
/// `clear_refs`, value 5), and returns it, in KiB.
fn reset_peak_memory() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("the peak RSS can be reset");
    status_kib("VmHWM")
}

/// The data every client sends: byte `i` of client `c`'s stream is `TAPE[(i + c) % 251]`,
/// so a chunk is a slice of the tape (no generation per byte) and streams differ.
fn tape() -> &'static [u8] {
    static TAPE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TAPE.get_or_init(|| (0..CHUNK + 251).map(|i| (i % 251) as u8).collect())
}

const CHUNK: usize = 16 * 1024;

/// `len` bytes (at most [`CHUNK`]) of client `client`'s stream from `offset`.
fn stream_bytes(client: usize, offset: usize, len: usize) -> &'static [u8] {
    &tape()[(offset + client) % 251..][..len]
}

/// Counts, under a lock, with a condition variable to wait for them.
#[derive(Default)]
struct Progress {
    counts: Mutex<Counts>,
    changed: Condvar,
}

#[derive(Default, Debug, Clone)]
struct Counts {
    /// Server connections whose reading is paused right now.
    paused: usize,
    /// Clients that wrote everything.
    written: usize,
    /// Server connections lost, by reason.
    lost: Vec<String>,
    /// Connections whose line was too long.
    too_long: usize,
}

impl Progress {
    fn update(&self, change: impl FnOnce(&mut Counts)) {
        change(&mut self.counts.lock().unwrap());
        self.changed.notify_all();
    }

    /// Waits (at most [`LIMIT`]) until `done` holds; returns the counts then.
    fn wait_for(&self, done: impl Fn(&Counts) -> bool) -> Counts {
        let counts = self.counts.lock().unwrap();
        let (counts, timeout) = self
            .changed
            .wait_timeout_while(counts, LIMIT, |counts| !done(counts))
            .unwrap();
        assert!(!timeout.timed_out(), "waited {LIMIT:?} in vain: {counts:?}");
        counts.clone()
    }

    fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }
}

fn reason_label(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::Done => "done".into(),
        DisconnectReason::Aborted => "aborted".into(),
        DisconnectReason::Lost(_) => "lost".into(),
        other => format!("{other}"),
    }
}

/// Echoes every byte (`copies` times: a reply larger than what it answers, as `\r\n` for
/// `\n`); stops reading while its echoes are above the high-water mark (the peer's sends
/// then back up in TCP) and reads again once they drain. Records the most unsent bytes it
/// saw after a write.
struct PausingEcho {
    progress: Arc<Progress>,
    most_unsent: Arc<AtomicUsize>,
    copies: usize,
}

impl Protocol for PausingEcho {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        for _ in 0..self.copies {
            cx.write(&data);
        }
        self.most_unsent
            .fetch_max(cx.write_buffer_size(), Ordering::Relaxed);
    }

    fn pause_producing(&mut self, cx: &mut Context<'_, Self>) {
        cx.pause_reading();
        self.progress.update(|counts| counts.paused += 1);
    }

    fn resume_producing(&mut self, cx: &mut Context<'_, Self>) {
        cx.resume_reading();
        self.progress.update(|counts| counts.paused -= 1);
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.progress
            .update(|counts| counts.lost.push(reason_label(&reason)));
    }
}

/// Reads client `client`'s echo to the end, checking every byte (each echoed `copies`
/// times, chunk by chunk as they were read: a copy of a byte stream of the same length);
/// returns how many came.
async fn read_echo(
    reader: &mut (impl AsyncReadExt + Unpin),
    client: usize,
    copies: usize,
) -> usize {
    if copies > 1 {
        let mut all = Vec::new();
        reader
            .read_to_end(&mut all)
            .await
            .expect("the echo is readable");
        return all.len() / copies;
    }
    let mut buffer = vec![0; CHUNK];
    let mut offset = 0;
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .expect("the echo is readable");
        if n == 0 {
            return offset;
        }
        let mut checked = 0;
        while checked < n {
            let len = (n - checked).min(CHUNK);
            assert!(
                buffer[checked..checked + len] == *stream_bytes(client, offset, len),
                "client {client}: echo differs at byte {offset}"
            );
            checked += len;
            offset += len;
        }
    }
}

/// A listening socket whose connections have small kernel buffers: loopback's grow to
/// megabytes, enough to hold a whole client's stream, and the server would never see
/// its write buffer fill. (Accepted sockets inherit the listener's buffer sizes.)
fn small_buffered_listener() -> std::net::TcpListener {
    client_runtime().block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(8 * 1024).expect("SO_RCVBUF");
        socket.set_send_buffer_size(8 * 1024).expect("SO_SNDBUF");
        socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        let listener = socket.listen(1024).expect("listen");
        listener.into_std().expect("a std listener")
    })
}

/// Connects with small kernel buffers (see [`small_buffered_listener`]).
async fn small_buffered_connect(address: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(8 * 1024).expect("SO_RCVBUF");
    socket.set_send_buffer_size(8 * 1024).expect("SO_SNDBUF");
    socket.connect(address).await.expect("connect")
}

#[test]
fn clients_that_never_read_leave_the_server_bounded_and_get_everything_once_they_read() {
    clients_that_never_read(1);
}

#[test]
fn replies_larger_than_what_they_answer_stay_bounded_too() {
    clients_that_never_read(2);
}

/// 200 clients write 1 MiB each to a server that answers every chunk `copies` times, and
/// read nothing until every server connection is paused (or done): the server holds at
/// most the high-water mark plus one read's reply per connection, and every byte comes
/// back once the clients read.
fn clients_that_never_read(copies: usize) {
    const CLIENTS: usize = 200;
    const EACH: usize = 1024 * 1024;
    // A connection's unsent replies: the high-water mark, plus the reply to the one read
    // (at most 16 KiB) after which write pressure stopped the reading.
    let per_connection = WRITE_BUFFER_HIGH + copies * CHUNK;
    let _serial = serial();
    let reactor = Reactor::new().unwrap();
    let progress = Arc::new(Progress::default());
    let most_unsent = Arc::new(AtomicUsize::new(0));
    let (p, m) = (progress.clone(), most_unsent.clone());
    let port = reactor
        .listen(
            AdoptedServer::tcp(small_buffered_listener()),
            factory_fn(move |_: &Address| PausingEcho {
                progress: p.clone(),
                most_unsent: m.clone(),
                copies,
            }),
        )
        .unwrap();
    let address = port.local_addr().socket_addr().unwrap();
    let start_memory = reset_peak_memory();
    let (go, _) = tokio::sync::watch::channel(false);
    let go = Arc::new(go);

    // Lets the clients read once every connection is stuck (its writer blocked, so the
    // server paused it) or done writing; measures the server's peak memory then.
    let (g, p) = (go.clone(), progress.clone());
    let coordinator = std::thread::spawn(move || {
        let counts = p.wait_for(|counts| counts.paused + counts.written >= CLIENTS);
        let peak = status_kib("VmHWM");
        g.send_replace(true);
        (counts, peak)
    });

    let (p, r) = (progress.clone(), reactor.clone());
    let clients = std::thread::spawn(move || {
        let received = client_runtime().block_on(async move {
            let mut tasks = Vec::new();
            for client in 0..CLIENTS {
                let stream = small_buffered_connect(address).await;
                let (mut reader, mut writer) = stream.into_split();
                let (p, mut go) = (p.clone(), go.subscribe());
                tokio::spawn(async move {
                    let mut offset = 0;
                    while offset < EACH {
                        let len = (EACH - offset).min(CHUNK);
                        let chunk = stream_bytes(client, offset, len);
                        writer.write_all(chunk).await.expect("write");
                        offset += len;
                    }
                    writer.shutdown().await.expect("shutdown");
                    p.update(|counts| counts.written += 1);
                });
                tasks.push(tokio::spawn(async move {
                    go.wait_for(|go| *go).await.expect("the go signal");
                    read_echo(&mut reader, client, copies).await
                }));
            }
            let mut received = Vec::new();
            for task in tasks {
                received.push(task.await.expect("a client task"));
            }
            received
        });
        let _ = r.stop();
        received
    });

    run_bounded(&reactor, LIMIT);
    let received = clients.join().unwrap();
    let (stuck, peak) = coordinator.join().unwrap();
    assert_eq!(received, vec![EACH; CLIENTS], "every byte echoed, once");
    let counts = progress.counts();
    assert_eq!(counts.lost, vec!["done"; CLIENTS]);
    assert_eq!(counts.paused, 0, "every pause was followed by a resume");
    assert!(
        stuck.paused > 0,
        "the server paused connections whose peers did not read: {stuck:?}"
    );
    let most = most_unsent.load(Ordering::Relaxed);
    assert!(
        most <= per_connection,
        "a connection had {most} bytes unsent (bound {per_connection})"
    );
    // Unsent echoes, plus a read buffer, per connection; plus a fixed margin for
    // everything else (the clients' buffers, allocator slack).
    let bound_kib = (CLIENTS * (per_connection + CHUNK) / 1024) as u64 + 32 * 1024;
    let grown = peak.saturating_sub(start_memory);
    assert!(
        grown <= bound_kib,
        "memory grew {grown} KiB while the clients did not read (bound {bound_kib} KiB)"
    );
    assert_eq!(reactor.stats().open_connections, 0);
}

/// Sends every line back (`\n`-delimited, the default 16 KiB limit); counts
/// over-long lines and losses.
struct LineEcho(Arc<Progress>);

impl LineHandler for LineEcho {
    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        lines.send_line(&line);
    }

    fn line_length_exceeded(&mut self, lines: &mut LineContext<'_>, partial: Bytes) {
        assert!(partial.len() <= DEFAULT_MAX_LENGTH);
        self.0.update(|counts| counts.too_long += 1);
        lines.lose_connection();
    }

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.0
            .update(|counts| counts.lost.push(reason_label(&reason)));
    }
}

fn line_echo_port(reactor: &Reactor, progress: &Arc<Progress>) -> SocketAddr {
    let p = progress.clone();
    reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                LineOnlyReceiver::new(LineEcho(p.clone())).with_delimiter(b"\n")
            }),
        )
        .unwrap()
        .local_addr()
        .socket_addr()
        .unwrap()
}

#[test]
fn a_flood_without_a_delimiter_is_cut_off_and_other_clients_are_served_meanwhile() {
    const FLOODERS: usize = 2;
    const FLOOD: usize = 100 * 1024 * 1024;
    let _serial = serial();
    let reactor = Reactor::new().unwrap();
    let progress = Arc::new(Progress::default());
    let address = line_echo_port(&reactor, &progress);
    let start_memory = reset_peak_memory();

    let r = reactor.clone();
    let clients = std::thread::spawn(move || {
        let outcome = client_runtime().block_on(async move {
            let (flooding, _) = tokio::sync::watch::channel(FLOODERS);
            let flooding = Arc::new(flooding);
            let mut flooders = Vec::new();
            for _ in 0..FLOODERS {
                let mut stream = TcpStream::connect(address).await.expect("connect");
                let flooding = flooding.clone();
                flooders.push(tokio::spawn(async move {
                    let junk = vec![b'x'; 64 * 1024];
                    let mut sent = 0;
                    // The server closes on us: our writes then fail (reset), or, while it
                    // lingers discarding input, succeed until the flood is all sent.
                    while sent < FLOOD {
                        match stream.write(&junk).await {
                            Ok(n) => sent += n,
                            Err(_) => break,
                        }
                    }
                    let mut answer = Vec::new();
                    let _ = stream.read_to_end(&mut answer).await;
                    flooding.send_modify(|left| *left -= 1);
                    answer
                }));
            }
            // A well-behaved client, served while the floods go on.
            let mut served = 0;
            let mut stream = TcpStream::connect(address).await.expect("connect");
            let mut waiting = flooding.subscribe();
            loop {
                let request = format!("request {served}\n");
                stream.write_all(request.as_bytes()).await.expect("write");
                let mut answer = vec![0; request.len()];
                stream.read_exact(&mut answer).await.expect("the answer");
                assert_eq!(answer, request.as_bytes());
                served += 1;
                if *waiting.borrow_and_update() == 0 {
                    break;
                }
            }
            let mut answers = Vec::new();
            for flooder in flooders {
                answers.push(flooder.await.expect("a flooder"));
            }
            (served, answers)
        });
        let _ = r.stop();
        outcome
    });

    run_bounded(&reactor, LIMIT);
    let (served, answers) = clients.join().unwrap();
    let peak = status_kib("VmHWM");
    assert!(served >= 1);
    assert_eq!(
        answers,
        vec![Vec::<u8>::new(); FLOODERS],
        "no line came back"
    );
    let counts = progress.counts();
    assert_eq!(counts.too_long, FLOODERS);
    assert_eq!(counts.lost.len(), FLOODERS + 1);
    let grown = peak.saturating_sub(start_memory);
    assert!(
        grown <= 16 * 1024,
        "memory grew {grown} KiB under a flood of {} MiB",
        FLOOD >> 20
    );
}

/// Counts its connections' ends; optionally writes `greeting` bytes when connected.
struct Watched {
    progress: Arc<Progress>,
    greeting: usize,
}

impl Protocol for Watched {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        if self.greeting > 0 {
            cx.write(&vec![b'g'; self.greeting]);
        }
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.progress
            .update(|counts| counts.lost.push(reason_label(&reason)));
    }
}

fn watched(progress: &Arc<Progress>, greeting: usize) -> impl ProtocolFactory<Protocol = Watched> {
    let progress = progress.clone();
    factory_fn(move |_: &Address| Watched {
        progress: progress.clone(),
        greeting,
    })
}

/// Closes `stream` with a reset (RST) instead of a FIN.
fn reset(stream: TcpStream) {
    stream.set_zero_linger().expect("SO_LINGER 0");
    drop(stream);
}

/// What the server is doing on a connection when its client resets it.
#[derive(Clone, Copy, Debug)]
enum ResetWhile {
    /// Writing 8 MiB (more than the kernel's buffers take), of which the client reads a
    /// little.
    Writing,
    /// Reading half a line's worth of a big request.
    Reading,
    /// Handshaking: the client sent the start of a TLS record promising a ClientHello of
    /// 512 bytes, 8 of them.
    #[cfg(feature = "test-certificates")]
    Handshaking,
}

impl ResetWhile {
    /// A port on `reactor` for such clients, whose connections report to `progress`.
    fn listen(self, reactor: &Reactor, progress: &Arc<Progress>) -> SocketAddr {
        let port = match self {
            ResetWhile::Writing => reactor.listen("127.0.0.1:0", watched(progress, 8 << 20)),
            ResetWhile::Reading => reactor.listen("127.0.0.1:0", watched(progress, 0)),
            #[cfg(feature = "test-certificates")]
            ResetWhile::Handshaking => {
                let certificates = torsade::testing::TestCertificates::new(&["localhost"]).unwrap();
                let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
                let endpoint = torsade::endpoints::TlsServer::new(
                    torsade::endpoints::TcpServer::from(loopback),
                    certificates.server_config().unwrap(),
                );
                reactor.listen(endpoint, watched(progress, 0))
            }
        };
        port.unwrap().local_addr().socket_addr().unwrap()
    }

    /// Connects to `port`, does its part, and resets.
    async fn run(self, port: SocketAddr) {
        let mut stream = TcpStream::connect(port).await.unwrap();
        match self {
            ResetWhile::Writing => {
                let mut some = vec![0; 64 * 1024];
                stream.read_exact(&mut some).await.unwrap();
            }
            ResetWhile::Reading => stream.write_all(&vec![b'r'; 256 * 1024]).await.unwrap(),
            #[cfg(feature = "test-certificates")]
            ResetWhile::Handshaking => stream
                .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])
                .await
                .unwrap(),
        }
        reset(stream);
    }
}

/// Mid-handshake needs TLS: without the `test-certificates` feature the test runs the
/// other two.
#[test]
fn clients_resetting_mid_write_mid_read_and_mid_handshake_end_each_connection_once() {
    const EACH: usize = 10;
    let _serial = serial();
    let reactor = Reactor::new().unwrap();
    let cases: Vec<(ResetWhile, Arc<Progress>, SocketAddr)> = [
        ResetWhile::Writing,
        ResetWhile::Reading,
        #[cfg(feature = "test-certificates")]
        ResetWhile::Handshaking,
    ]
    .into_iter()
    .map(|case| {
        let progress = Arc::new(Progress::default());
        let port = case.listen(&reactor, &progress);
        (case, progress, port)
    })
    .collect();
    let before: Arc<Mutex<Option<u64>>> = Arc::default();
    let (b, r) = (before.clone(), reactor.clone());
    reactor.call_when_running(move || *b.lock().unwrap() = Some(r.stats().tasks));

    let (clients_cases, r) = (cases.clone(), reactor.clone());
    let after: Arc<Mutex<Option<(u64, u64, usize)>>> = Arc::default();
    let a = after.clone();
    let clients = std::thread::spawn(move || {
        client_runtime().block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..EACH {
                for (case, _, port) in &clients_cases {
                    tasks.push(tokio::spawn(case.run(*port)));
                }
            }
            for task in tasks {
                task.await.expect("a client");
            }
        });
        for (_, progress, _) in &clients_cases {
            progress.wait_for(|counts| counts.lost.len() >= EACH);
        }
        // Every connection_lost has run; look at the reactor from inside, then stop.
        let r2 = r.clone();
        r.call_later(Duration::ZERO, move || {
            let stats = r2.stats();
            *a.lock().unwrap() = Some((stats.tasks, stats.open_connections, r2.connection_count()));
            let _ = r2.stop();
        });
    });

    run_bounded(&reactor, LIMIT);
    clients.join().unwrap();
    for (case, progress, _) in &cases {
        let lost = progress.counts().lost;
        assert_eq!(
            lost.len(),
            EACH,
            "{case:?}: connection_lost once per connection: {lost:?}"
        );
        assert!(
            lost.iter().all(|reason| reason == "lost"),
            "{case:?}: each ended with an error: {lost:?}"
        );
    }
    let before = before.lock().unwrap().expect("counted at start");
    let (tasks, open, count) = after.lock().unwrap().expect("counted at the end");
    assert_eq!((open, count), (0, 0), "no connection left open");
    assert_eq!(tasks, before, "as many tasks as before the clients came");
}

/// Raises this process's soft limit on open files to at least `wanted` (with Linux's
/// `prlimit`, as far as the hard limit allows); returns the limit then.
fn raise_open_file_limit(wanted: u64) -> u64 {
    let soft = || {
        std::fs::read_to_string("/proc/self/limits")
            .expect("/proc/self/limits")
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
            .unwrap_or(u64::MAX) // "unlimited"
    };
    if soft() < wanted {
        let _ = std::process::Command::new("prlimit")
            .args([
                "--pid",
                &std::process::id().to_string(),
                &format!("--nofile={wanted}:"),
            ])
            .status();
    }
    soft()
}

/// Writes `size` bytes of client 0's stream when connected; stops the reactor once
/// `target` connections are made, and then lets the clients read.
struct StopAtTarget {
    reactor: Reactor,
    made: Arc<AtomicUsize>,
    target: usize,
    size: usize,
    stopped: Arc<tokio::sync::watch::Sender<bool>>,
    progress: Arc<Progress>,
}

impl Protocol for StopAtTarget {
    fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
        let mut offset = 0;
        while offset < self.size {
            let len = (self.size - offset).min(CHUNK);
            cx.write(stream_bytes(0, offset, len));
            offset += len;
        }
        if self.made.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.reactor.stop().unwrap();
            self.stopped.send_replace(true);
        }
    }

    fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}

    fn connection_lost(&mut self, reason: DisconnectReason) {
        self.progress
            .update(|counts| counts.lost.push(reason_label(&reason)));
    }
}

#[test]
fn a_graceful_stop_with_a_thousand_connections_delivers_every_byte_written_before_it() {
    const CONNECTIONS: usize = 1000;
    const EACH: usize = 256 * 1024;
    let _serial = serial();
    let limit = raise_open_file_limit(2 * CONNECTIONS as u64 + 200);
    assert!(
        limit >= 2 * CONNECTIONS as u64 + 200,
        "this test needs {} open files; the limit is {limit}",
        2 * CONNECTIONS + 200
    );
    let reactor = Reactor::new().unwrap();
    let progress = Arc::new(Progress::default());
    let (stopped, _) = tokio::sync::watch::channel(false);
    let stopped = Arc::new(stopped);
    let (r, p, s) = (reactor.clone(), progress.clone(), stopped.clone());
    let made = Arc::new(AtomicUsize::new(0));
    let address = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| StopAtTarget {
                reactor: r.clone(),
                made: made.clone(),
                target: CONNECTIONS,
                size: EACH,
                stopped: s.clone(),
                progress: p.clone(),
            }),
        )
        .unwrap()
        .local_addr()
        .socket_addr()
        .unwrap();
    let clients = std::thread::spawn(move || {
        client_runtime().block_on(async move {
            let mut tasks = Vec::new();
            for _ in 0..CONNECTIONS {
                let mut stream = TcpStream::connect(address).await.expect("connect");
                let mut stopped = stopped.subscribe();
                // Nothing is read before the reactor is stopping: the data is in flight.
                tasks.push(tokio::spawn(async move {
                    stopped
                        .wait_for(|stopped| *stopped)
                        .await
                        .expect("stop signal");
                    read_echo(&mut stream, 0, 1).await
                }));
            }
            let mut received = Vec::new();
            for task in tasks {
                received.push(task.await.expect("a client"));
            }
            received
        })
    });
    run_bounded(&reactor, LIMIT);
    let received = clients.join().unwrap();
    assert_eq!(
        received,
        vec![EACH; CONNECTIONS],
        "every byte, once, then the end"
    );
    assert_eq!(progress.counts().lost, vec!["done"; CONNECTIONS]);
    assert_eq!(reactor.connection_count(), 0);
}
