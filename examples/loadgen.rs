//! A load generator for line echo servers (`line_echo`, `baseline_tokio_echo`,
//! `baseline_lines_codec`): request/response latency, pipelined throughput, connection
//! churn, and memory per idle connection; and for WebSocket echo servers
//! (`websocket_echo`, `baseline_ws_echo`): pipelined binary messages. Every echoed line
//! or message is checked byte for byte.
//!
//! ```text
//! cargo run --release --example loadgen -- --addr 127.0.0.1:8000 --mode pipelined \
//!     --connections 50 --in-flight 64 --line-size 64 --duration 10 [--server-pid PID]
//! cargo run --release --example loadgen -- --addr 127.0.0.1:8002 --mode ws \
//!     --connections 50 --in-flight 64 --message-size 64 [--messages N] [--server-pid PID]
//! ```
//!
//! Modes:
//! - `rr`: each connection sends a line and waits for its echo, again and again; prints
//!   requests/s and latency p50/p99.
//! - `pipelined`: each connection keeps `--in-flight` lines outstanding; prints lines/s.
//! - `churn`: `--connections` workers connect, send one line, read it back, close; prints
//!   connections/s.
//! - `ws`: each connection makes the WebSocket handshake, then keeps `--in-flight` binary
//!   messages of `--message-size` bytes (default 64) outstanding; prints messages/s. With
//!   `--messages N`, each connection stops after N messages rather than at `--duration`
//!   (a fixed amount of work, for counting instructions).
//! - `idle`: opens `--connections` connections, exchanges one line on each, and prints the
//!   growth of the server's resident memory per connection (needs `--server-pid`; raise
//!   `ulimit -n` for both processes first).
//!
//! With `--server-pid`, the server's CPU time (user + system, from `/proc/PID/stat`) per
//! line (or message, or connection) is printed too. With `--tls --ca FILE` every connection
//! speaks TLS (tokio-rustls, certificate checked for `localhost` or `--server-name`), so
//! churn includes the handshake. Output is one line of `key=value` pairs.
//! Loopback addresses only; every mode ends after `--duration` seconds. Written on plain
//! tokio, sharing no code with torsade, so it measures torsade rather than itself.

mod common;
#[path = "loadgen/pipeline.rs"]
mod pipeline;
#[path = "loadgen/websocket.rs"]
mod websocket;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

const USAGE: &str = "usage: loadgen --addr HOST:PORT --mode rr|pipelined|churn|idle|ws \
[--connections N] [--in-flight N] [--line-size BYTES] [--message-size BYTES] [--messages N] \
[--duration SECONDS] [--server-pid PID] [--tls --ca FILE [--server-name NAME]]";

/// What one run is asked to do.
#[derive(Clone)]
struct Plan {
    address: SocketAddr,
    connections: usize,
    in_flight: usize,
    line_size: usize,
    /// The size of a WebSocket message (`ws` mode).
    message_size: usize,
    /// Messages per connection, when the run is a fixed amount of work (`ws` mode).
    messages: Option<u64>,
    duration: Duration,
    tls: Option<Tls>,
}

/// How to speak TLS to the server.
#[derive(Clone)]
struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

/// A connection to the server, in the clear or over TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(
        USAGE,
        &[
            "addr",
            "mode",
            "connections",
            "in-flight",
            "line-size",
            "message-size",
            "messages",
            "duration",
            "server-pid",
            "tls",
            "ca",
            "server-name",
        ],
    ) {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(&args) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &common::Args) -> Result<String, String> {
    let address: SocketAddr = args
        .value("addr")
        .ok_or("--addr is required")?
        .parse()
        .map_err(|error| format!("--addr: {error}"))?;
    if !address.ip().is_loopback() {
        return Err("the load generator only talks to loopback addresses".into());
    }
    let number = |name, default| {
        args.number(name, default)
            .map_err(|_| format!("--{name} expects a number"))
    };
    let plan = Plan {
        address,
        connections: number("connections", 50)?,
        in_flight: number("in-flight", 64)?.max(1),
        line_size: number("line-size", 64)?.max(18),
        message_size: number("message-size", 64)?.max(16),
        messages: match args.value("messages") {
            Some(count) => Some(count.parse().map_err(|_| "--messages expects a number")?),
            None => None,
        },
        duration: Duration::from_secs_f64(
            args.number("duration", 10.0)
                .map_err(|_| "--duration expects seconds")?,
        ),
        tls: tls_settings(args)?,
    };
    let server = match args.value("server-pid") {
        Some(pid) => Some(
            pid.parse::<u32>()
                .map_err(|_| "--server-pid expects a process id")?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let cpu_before = server.map(cpu_seconds).transpose()?;
    let (mut report, units) = match args.value("mode").unwrap_or("pipelined") {
        "rr" => runtime.block_on(request_response(plan))?,
        "pipelined" => runtime.block_on(pipelined(plan))?,
        "churn" => runtime.block_on(churn(plan))?,
        "ws" => runtime.block_on(websocket::pipelined(plan))?,
        "idle" => runtime.block_on(idle(plan, server.ok_or("idle mode needs --server-pid")?))?,
        other => return Err(format!("unknown mode {other:?}")),
    };
    if let (Some(pid), Some(before)) = (server, cpu_before) {
        let used = cpu_seconds(pid)? - before;
        report.push_str(&format!(" server_cpu_s={used:.2}"));
        if units > 0 {
            report.push_str(&format!(
                " server_cpu_ns_per_unit={:.0}",
                used * 1e9 / units as f64
            ));
        }
    }
    Ok(report)
}

/// Line `seq` on connection `connection`: its [`payload`] then `\r\n`. `size` includes the
/// `\r\n`.
fn line(connection: usize, seq: u64, size: usize, out: &mut Vec<u8>) {
    payload(connection, seq, size - 2, out);
    out.extend_from_slice(b"\r\n");
}

/// The `size` bytes (at least 16) of message `seq` on connection `connection`: hex
/// counters then filler, so every echo can be checked exactly.
fn payload(connection: usize, seq: u64, size: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(format!("{connection:06x}{seq:010x}").as_bytes());
    out.resize(start + size, b'.');
}

/// Takes every complete echoed line out of `input` (accepting `\n` or `\r\n`), checking
/// each against what was sent; returns how many there were.
fn take_echoes(
    input: &mut BytesMut,
    connection: usize,
    next: &mut u64,
    size: usize,
) -> Result<u64, String> {
    let mut expected = Vec::with_capacity(size);
    let mut count = 0;
    while let Some(end) = memchr::memchr(b'\n', input) {
        let got = input[..end].strip_suffix(b"\r").unwrap_or(&input[..end]);
        expected.clear();
        line(connection, *next, size, &mut expected);
        if got != &expected[..size - 2] {
            return Err(format!(
                "connection {connection}: line {} came back as {:?}",
                *next,
                String::from_utf8_lossy(got)
            ));
        }
        input.advance(end + 1);
        *next += 1;
        count += 1;
    }
    Ok(count)
}

/// The line mode's requests: lines of `size` bytes, `\r\n` included.
struct Lines {
    connection: usize,
    size: usize,
}

impl pipeline::Exchange for Lines {
    const UNIT: &'static str = "lines";

    fn push_request(&mut self, seq: u64, output: &mut Vec<u8>) {
        line(self.connection, seq, self.size, output);
    }

    fn take_echoes(&mut self, input: &mut BytesMut, next: &mut u64) -> Result<u64, String> {
        take_echoes(input, self.connection, next, self.size)
    }
}

/// The TLS settings from `--tls --ca FILE [--server-name NAME]`, if `--tls` is given.
fn tls_settings(args: &common::Args) -> Result<Option<Tls>, String> {
    if !args.flag("tls") {
        return Ok(None);
    }
    let ca = args.value("ca").ok_or("--tls needs --ca FILE")?;
    let mut roots = RootCertStore::empty();
    for certificate in
        CertificateDer::pem_file_iter(ca).map_err(|error| format!("{ca}: {error}"))?
    {
        roots
            .add(certificate.map_err(|error| format!("{ca}: {error}"))?)
            .map_err(|error| format!("{ca}: {error}"))?;
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(args.value("server-name").unwrap_or("localhost"))
        .map_err(|error| format!("--server-name: {error}"))?
        .to_owned();
    Ok(Some(Tls {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    }))
}

async fn connect(plan: &Plan) -> Result<Box<dyn Stream>, String> {
    let stream = TcpStream::connect(plan.address)
        .await
        .map_err(|error| format!("connect to {}: {error}", plan.address))?;
    stream
        .set_nodelay(true)
        .map_err(|error| error.to_string())?;
    match &plan.tls {
        None => Ok(Box::new(stream)),
        Some(tls) => {
            let stream = tls
                .connector
                .connect(tls.server_name.clone(), stream)
                .await
                .map_err(|error| format!("TLS handshake with {}: {error}", plan.address))?;
            Ok(Box::new(stream))
        }
    }
}

#[allow(clippy::disallowed_methods)] // a load generator measures wall time
fn now() -> Instant {
    Instant::now()
}

/// Runs `work` on `plan.connections` connections concurrently; collects the results.
async fn on_every_connection<T, F, Fut>(plan: &Plan, work: F) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize, Plan) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let tasks: Vec<_> = (0..plan.connections)
        .map(|index| tokio::spawn(work(index, plan.clone())))
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.map_err(|error| error.to_string())??);
    }
    Ok(results)
}

async fn pipelined(plan: Plan) -> Result<(String, u64), String> {
    let started = now();
    let counts = on_every_connection(&plan, |index, plan| async move {
        let stream = connect(&plan).await?;
        let lines = Lines {
            connection: index,
            size: plan.line_size,
        };
        pipeline::run(stream, index, &plan, u64::MAX, lines).await
    })
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let lines: u64 = counts.iter().sum();
    let report = format!(
        "mode=pipelined connections={} in_flight={} line_size={} lines={lines} seconds={elapsed:.2} lines_per_s={:.0}",
        plan.connections,
        plan.in_flight,
        plan.line_size,
        lines as f64 / elapsed
    );
    Ok((report, lines))
}

async fn request_response(plan: Plan) -> Result<(String, u64), String> {
    let started = now();
    let samples = on_every_connection(&plan, |index, plan| async move {
        let mut stream = connect(&plan).await?;
        let deadline = now() + plan.duration;
        let mut latencies = Vec::new();
        let (mut output, mut input) = (
            Vec::with_capacity(plan.line_size),
            BytesMut::with_capacity(4096),
        );
        let mut seq = 0u64;
        while now() < deadline {
            output.clear();
            line(index, seq, plan.line_size, &mut output);
            let sent_at = now();
            stream
                .write_all(&output)
                .await
                .map_err(|error| error.to_string())?;
            let mut next = seq;
            while next == seq {
                if stream
                    .read_buf(&mut input)
                    .await
                    .map_err(|error| error.to_string())?
                    == 0
                {
                    return Err(format!("connection {index}: the server closed"));
                }
                take_echoes(&mut input, index, &mut next, plan.line_size)?;
            }
            latencies.push(sent_at.elapsed().as_nanos() as u64);
            seq = next;
        }
        Ok(latencies)
    })
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<u64> = samples.into_iter().flatten().collect();
    all.sort_unstable();
    let percentile = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let report = format!(
        "mode=rr connections={} line_size={} requests={} seconds={elapsed:.2} requests_per_s={:.0} p50_us={:.1} p99_us={:.1}",
        plan.connections,
        plan.line_size,
        all.len(),
        all.len() as f64 / elapsed,
        percentile(0.50) as f64 / 1e3,
        percentile(0.99) as f64 / 1e3,
    );
    Ok((report, all.len() as u64))
}

async fn churn(plan: Plan) -> Result<(String, u64), String> {
    let started = now();
    let counts = on_every_connection(&plan, |index, plan| async move {
        let deadline = now() + plan.duration;
        let (mut output, mut input) = (Vec::new(), BytesMut::with_capacity(4096));
        let mut done = 0u64;
        while now() < deadline {
            let mut stream = connect(&plan).await?;
            output.clear();
            input.clear();
            line(index, 0, plan.line_size, &mut output);
            stream
                .write_all(&output)
                .await
                .map_err(|error| error.to_string())?;
            let mut next = 0;
            while next == 0 {
                if stream
                    .read_buf(&mut input)
                    .await
                    .map_err(|error| error.to_string())?
                    == 0
                {
                    return Err(format!("worker {index}: the server closed early"));
                }
                take_echoes(&mut input, index, &mut next, plan.line_size)?;
            }
            done += 1;
        }
        Ok(done)
    })
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = counts.iter().sum();
    let report = format!(
        "mode=churn workers={} connections={total} seconds={elapsed:.2} connections_per_s={:.0}",
        plan.connections,
        total as f64 / elapsed
    );
    Ok((report, total))
}

async fn idle(plan: Plan, server: u32) -> Result<(String, u64), String> {
    let before = resident_bytes(server)?;
    let mut streams = Vec::with_capacity(plan.connections);
    let (mut output, mut input) = (Vec::new(), BytesMut::with_capacity(4096));
    for index in 0..plan.connections {
        let mut stream = connect(&plan).await?;
        output.clear();
        line(index, 0, plan.line_size, &mut output);
        stream
            .write_all(&output)
            .await
            .map_err(|error| error.to_string())?;
        let mut next = 0;
        while next == 0 {
            if stream
                .read_buf(&mut input)
                .await
                .map_err(|error| error.to_string())?
                == 0
            {
                return Err(format!("connection {index}: the server closed"));
            }
            take_echoes(&mut input, index, &mut next, plan.line_size)?;
        }
        streams.push(stream);
    }
    // Let the server settle (release what it releases when idle), bounded by --duration.
    tokio::time::sleep(plan.duration.min(Duration::from_secs(2))).await;
    let after = resident_bytes(server)?;
    let per_connection = (after as f64 - before as f64) / plan.connections as f64;
    let report = format!(
        "mode=idle connections={} rss_before_kib={} rss_after_kib={} bytes_per_connection={per_connection:.0}",
        plan.connections,
        before / 1024,
        after / 1024
    );
    drop(streams);
    Ok((report, plan.connections as u64))
}

/// The server's resident memory, from `/proc/PID/status` (`VmRSS`).
fn resident_bytes(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| format!("/proc/{pid}/status: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// The server's user + system CPU time so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|error| format!("/proc/{pid}/stat: {error}"))?;
    // Fields after the command name (which may hold spaces, inside parentheses).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("unreadable /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<f64>().ok())
            .ok_or("unreadable /proc stat")
    };
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after the name.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}
