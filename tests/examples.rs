//! The examples' command-line contracts: each example binary is run as a user would run it,
//! and what it prints is checked.
//!
//! The binaries are the ones next to this test, in `target/<profile>/examples/`; the test
//! brings them up to date first (see `build_examples`), so `cargo test --test examples`
//! alone tests the current code. Timer examples run with `--fake-clock`, so their exact
//! output is checked with no waiting; every wait on a child process or a socket is bounded
//! by [`LIMIT`], and every child is killed when its test ends, failed or not.
//!
//! The servers are also run as a service manager runs them: stopped by SIGTERM with 200
//! clients mid-stream or with a peer that never reads, and started on a listening socket
//! passed as systemd passes it (through `python3`, which `.ci/run` installs).

#[path = "common/child_process.rs"]
mod child_process;
#[path = "common/refused_port.rs"]
mod refused_port;

use refused_port::RefusedPort;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use child_process::{
    build_examples, lines_in_background, listening_address, run_to_end, Finished, Running, Server,
    LIMIT,
};

/// The examples this file runs.
const EXAMPLES: [&str; 21] = [
    "blocking_vs_async",
    "chat",
    "echo",
    "fate",
    "firecracker",
    "fuse_chain",
    "get_page",
    "greeting_coroutine",
    "greeting_getter",
    "greeting_server",
    "heartbeat",
    "line_echo",
    "process_lines",
    "replay",
    "sim_chat",
    "slow_multiply",
    "slow_square",
    "stdio_lines",
    "udp_echo",
    "websocket_client",
    "websocket_echo",
];

/// The examples that make their certificates, built with the `test-certificates` feature.
const CERTIFICATE_EXAMPLES: [&str; 1] = ["starttls_echo"];

/// The examples on tokio-util's codecs, built with the `codec` feature.
const CODEC_EXAMPLES: [&str; 1] = ["length_prefixed"];

/// The path of example binary `name`, once [`EXAMPLES`] (and [`CERTIFICATE_EXAMPLES`],
/// [`CODEC_EXAMPLES`] when this test has their feature) are up to date: plain `cargo test`
/// builds them anyway, but `cargo test --test examples` does not (see [`build_examples`]).
fn example_path(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let with_certificates = cfg!(feature = "test-certificates").then_some(CERTIFICATE_EXAMPLES);
        let with_codec = cfg!(feature = "codec").then_some(CODEC_EXAMPLES);
        let optional = with_certificates.iter().chain(with_codec.iter()).flatten();
        let names: Vec<&str> = EXAMPLES.iter().chain(optional).copied().collect();
        build_examples(&names);
    });
    child_process::example_path(name)
}

/// A command for example `name`, with logging at its default level.
fn example(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(example_path(name));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// Runs example `name` with `args` to its end.
fn run_example(name: &str, args: &[&str]) -> Finished {
    run_to_end(
        example(name, args),
        format!("{name} {}", args.join(" ")),
        None,
    )
}

/// Starts server example `name` with `--port 0`; waits for its `listening on ADDR` line.
fn start_server(name: &str) -> Server {
    start_server_with(name, &[])
}

/// [`start_server`] with more arguments.
fn start_server_with(name: &str, args: &[&str]) -> Server {
    start_server_exactly(name, &[&["--port", "0"], args].concat())
}

/// Starts server example `name` with `args` and nothing else (say where it listens);
/// waits for its `listening on ADDR` line.
fn start_server_exactly(name: &str, args: &[&str]) -> Server {
    let mut command = example(name, args);
    command.stderr(Stdio::inherit());
    start_command(command, name, args)
}

/// Starts server example `name` with `args` and nothing else, its log filtered by
/// `log` (`RUST_LOG`; its default, warnings, if `None`); waits for its `listening on
/// ADDR` line. Returns the server and its stderr, line by line.
fn start_logging_server(
    name: &str,
    args: &[&str],
    log: Option<&str>,
) -> (Server, Receiver<String>) {
    let mut command = example(name, args);
    if let Some(filter) = log {
        command.env("RUST_LOG", filter);
    }
    command.stderr(Stdio::piped());
    let mut server = start_command(command, name, args);
    let stderr = server.running.child.stderr.take().expect("stderr is piped");
    (server, lines_in_background(stderr))
}

/// Runs `command` (example `name` with `args`, its stderr set up) with stdout piped;
/// waits for its `listening on ADDR` line.
fn start_command(command: Command, name: &str, args: &[&str]) -> Server {
    Server::start(command, &format!("{name} {}", args.join(" ")))
}

/// Sends `line` and CR/LF to `address` over a plain `std` socket; returns the first line of
/// the answer, without its line ending.
fn ask(address: &str, line: &str) -> String {
    let address: SocketAddr = address.parse().expect("the server prints a socket address");
    let stream = TcpStream::connect_timeout(&address, LIMIT).expect("the server accepts");
    stream
        .set_read_timeout(Some(LIMIT))
        .expect("a read timeout can be set");
    exchange_line(stream, line)
}

/// Sends `line` and CR/LF on `stream`; returns the first line of the answer, without its
/// line ending.
fn exchange_line(mut stream: impl Read + Write, line: &str) -> String {
    stream
        .write_all(format!("{line}\r\n").as_bytes())
        .expect("the server reads");
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .expect("the server answers within the limit");
    answer.trim_end_matches(['\r', '\n']).to_string()
}

// ---- timer examples, on the fake clock ----

#[test]
fn slow_square_prints_nine_in_each_style_in_turn() {
    let run = run_example("slow_square", &["--fake-clock"]);
    assert_eq!(
        run.success(),
        ["deferred: 9", "inline: 9", "future: 9", "async: 9"]
    );
}

#[test]
fn slow_square_runs_only_the_style_named() {
    for style in ["deferred", "inline", "future", "async"] {
        let run = run_example("slow_square", &[style, "--fake-clock"]);
        assert_eq!(run.success(), [format!("{style}: 9")]);
    }
}

#[test]
fn slow_square_refuses_an_unknown_style() {
    let run = run_example("slow_square", &["sideways", "--fake-clock"]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        run.stderr_lines().first(),
        Some(&r#"error: unknown style "sideways""#)
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn slow_multiply_prints_the_product_after_three_seconds_and_stops_at_four() {
    let run = run_example("slow_multiply", &["--fake-clock"]);
    assert_eq!(
        run.success(),
        [
            "[0.0 s] Determining result of 5 * 7...",
            "[3.0 s] ... result is 35!",
            "[4.0 s] Stopping the reactor",
        ]
    );
}

#[test]
fn slow_multiply_reports_an_overflow_on_one_line_and_exits_1() {
    let run = run_example(
        "slow_multiply",
        &["9223372036854775807", "2", "--fake-clock"],
    );
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        run.stderr_lines(),
        ["error: 9223372036854775807 * 2 does not fit in an i64"]
    );
    assert_eq!(
        run.stdout_lines(),
        ["[0.0 s] Determining result of 9223372036854775807 * 2..."]
    );
}

#[test]
fn firecracker_with_a_half_second_fuse_explodes_in_the_hatters_hands() {
    let run = run_example("firecracker", &["--seed", "0", "--fake-clock"]);
    assert_eq!(
        run.success(),
        [
            "seed 0",
            "[0.0 s] The Mad Hatter lights the fuse: it burns for 0.5 s",
            "[0.5 s] BOOM! Firecracker exploded in the unlucky hands of Mad Hatter",
            "[0.5 s] The hand-over to Ben Eills is called off",
            "[2.5 s] Shutting down",
        ]
    );
}

#[test]
fn firecracker_with_a_one_second_fuse_is_handed_over_just_before_it_explodes() {
    let run = run_example("firecracker", &["--seed", "10", "--fake-clock"]);
    assert_eq!(
        run.success(),
        [
            "seed 10",
            "[0.0 s] The Mad Hatter lights the fuse: it burns for 1.0 s",
            "[1.0 s] The Mad Hatter hands the firecracker to Ben Eills",
            "[1.0 s] BOOM! Firecracker exploded in the unlucky hands of Ben Eills",
            "[3.0 s] Shutting down",
        ]
    );
}

#[test]
fn firecracker_with_a_longer_fuse_explodes_in_bens_hands() {
    for (seed, burning) in [("3", "1.5"), ("2", "2.0")] {
        let run = run_example("firecracker", &["--seed", seed, "--fake-clock"]);
        let boom: f64 = burning.parse().expect("a number");
        assert_eq!(
            run.success(),
            [
                format!("seed {seed}"),
                format!("[0.0 s] The Mad Hatter lights the fuse: it burns for {burning} s"),
                "[1.0 s] The Mad Hatter hands the firecracker to Ben Eills".to_string(),
                format!(
                    "[{burning} s] BOOM! Firecracker exploded in the unlucky hands of Ben Eills"
                ),
                format!("[{:.1} s] Shutting down", boom + 2.0),
            ]
        );
    }
}

#[test]
fn firecracker_without_a_seed_prints_the_seed_it_chose() {
    let run = run_example("firecracker", &["--fake-clock"]);
    let lines = run.success();
    let seed = lines[0]
        .strip_prefix("seed ")
        .expect("the first line gives the seed");
    let again = run_example("firecracker", &["--seed", seed, "--fake-clock"]);
    assert_eq!(again.success(), lines);
}

#[test]
fn fuse_chain_ignites_the_articles_chain_and_blows_up_parliament() {
    let run = run_example("fuse_chain", &["--fake-clock"]);
    assert_eq!(
        run.success(),
        [
            "[0.0 s] ...igniting next fuse in chain... (fuse 1 of 8, burns 0.6 s)",
            "[0.6 s] ...igniting next fuse in chain... (fuse 2 of 8, burns 0.5 s)",
            "[1.1 s] ...igniting next fuse in chain... (fuse 3 of 8, burns 0.4 s)",
            "[1.5 s] ...igniting next fuse in chain... (fuse 4 of 8, burns 0.3 s)",
            "[1.8 s] ...igniting next fuse in chain... (fuse 5 of 8, burns 0.2 s)",
            "[2.0 s] ...igniting next fuse in chain... (fuse 6 of 8, burns 0.1 s)",
            "[2.1 s] ...igniting next fuse in chain... (fuse 7 of 8, burns 0.0 s)",
            "[2.1 s] ...igniting next fuse in chain... (fuse 8 of 8, burns 0.3 s, tied to the barrel)",
            "[2.4 s] Boom! The Houses of Parliament explode!",
        ]
    );
}

#[test]
fn fuse_chain_takes_a_length_or_burning_times() {
    let run = run_example("fuse_chain", &["--length", "2", "--fake-clock"]);
    assert_eq!(
        run.success(),
        [
            "[0.0 s] ...igniting next fuse in chain... (fuse 1 of 2, burns 0.0 s)",
            "[0.0 s] ...igniting next fuse in chain... (fuse 2 of 2, burns 0.3 s, tied to the barrel)",
            "[0.3 s] Boom! The Houses of Parliament explode!",
        ]
    );
    let run = run_example("fuse_chain", &["--burn-ms", "1500,250", "--fake-clock"]);
    assert_eq!(
        run.success(),
        [
            "[0.0 s] ...igniting next fuse in chain... (fuse 1 of 2, burns 1.5 s)",
            "[1.5 s] ...igniting next fuse in chain... (fuse 2 of 2, burns 0.3 s, tied to the barrel)",
            "[1.8 s] Boom! The Houses of Parliament explode!",
        ]
    );
}

#[test]
fn fuse_chain_refuses_an_empty_chain() {
    let run = run_example("fuse_chain", &["--length", "0", "--fake-clock"]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        run.stderr_lines().first(),
        Some(&"error: a chain has 1 to 1000 fuses")
    );
}

// ---- networking examples, on loopback ----

#[test]
fn blocking_vs_async_gets_every_greeting_both_ways() {
    let run = run_example("blocking_vs_async", &["--servers", "2", "--delay-ms", "20"]);
    let lines = run.success();
    assert_eq!(
        lines[0],
        "2 slow greeting servers, each answering 20 ms after a name arrives"
    );
    assert_eq!(
        lines[1..3],
        ["blocking: Hello, Alice!", "blocking: Hello, Bob!"]
    );
    assert!(
        lines[3].starts_with("blocking: 2 greetings in "),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4..6], ["async: Hello, Alice!", "async: Hello, Bob!"]);
    assert!(
        lines[6].starts_with("async: 2 greetings in "),
        "{}",
        lines[6]
    );
    assert_eq!(lines.len(), 7);
}

#[test]
fn greeting_getter_greets_the_world_in_both_styles() {
    let run = run_example("greeting_getter", &[]);
    assert_eq!(
        run.success(),
        ["callbacks: Hello, World!", "async/await: Hello, World!"]
    );
}

#[test]
fn an_examples_log_to_a_pipe_has_no_colour_codes() {
    let mut command = example("greeting_getter", &[]);
    command.env("RUST_LOG", "torsade=debug");
    let run = run_to_end(command, "greeting_getter with debug logs".to_string(), None);
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert!(run.stderr.contains("DEBUG"), "no log: {}", run.stderr);
    assert!(!run.stderr.contains("\x1b["), "{:?}", run.stderr);
}

#[test]
fn replay_records_a_greeting_then_replays_it_against_the_server_and_a_changed_one() {
    let run = run_example("replay", &[]);
    let lines = run.success();
    assert_eq!(
        lines[..4],
        [
            "greeting: Hello, World!",
            "recorded the server's side:",
            "  torsade-transcript 1",
            "  side server",
        ]
    );
    assert!(lines[4].starts_with("  local \"127.0.0.1:"), "{}", lines[4]);
    assert!(lines[5].starts_with("  peer \"127.0.0.1:"), "{}", lines[5]);
    assert_eq!(lines[6], "  tls no");
    // Each event line is its time, then the event.
    let events: Vec<&str> = lines[7..lines.len() - 2]
        .iter()
        .map(|line| {
            line.trim_start()
                .split_once(' ')
                .map_or(*line, |(_, event)| event)
        })
        .collect();
    assert_eq!(
        events,
        [
            "in \"World\\r\\n\"",
            "out \"Hello, World!\\r\\n\"",
            "eof-in",
            "eof-out",
            "close done"
        ]
    );
    assert_eq!(
        lines[lines.len() - 2],
        "replay against the greeting server: passed (7 bytes in, 15 bytes out, as recorded)"
    );
    let last = lines[lines.len() - 1];
    assert!(
        last.starts_with("replay against a shouting server: at ")
            && last.ends_with(
                "from byte 1 of what the protocol sent: expected \"ello, World!\\r\\n\", \
                 got \"ELLO, WORLD!\\r\\n\""
            ),
        "{last}"
    );
}

#[test]
fn greeting_coroutine_greets_the_world() {
    let run = run_example("greeting_coroutine", &[]);
    assert_eq!(run.success(), ["Hello, World!"]);
}

#[test]
fn greeting_server_answers_the_getter_the_coroutine_and_a_raw_client() {
    let server = start_server("greeting_server");
    let address = server.address.as_str();

    let getter = run_example(
        "greeting_getter",
        &["--connect", address, "--name", "Alice"],
    );
    assert_eq!(
        getter.success(),
        ["callbacks: Hello, Alice!", "async/await: Hello, Alice!"]
    );
    let coroutine = run_example(
        "greeting_coroutine",
        &["--connect", address, "--name", "Carol"],
    );
    assert_eq!(coroutine.success(), ["Hello, Carol!"]);

    assert_eq!(ask(address, "Bob"), "Hello, Bob!");
    assert_eq!(ask(address, ""), "ERROR empty name");
}

#[test]
fn websocket_client_gets_each_message_echoed_by_websocket_echo() {
    let server = start_server("websocket_echo");
    let url = format!("ws://{}/echo", server.address);
    let run = run_example("websocket_client", &[&url, "hello", "two words", "é ✓"]);
    assert_eq!(run.success(), ["hello", "two words", "é ✓"]);
}

#[test]
fn websocket_client_sends_each_line_of_stdin_without_messages() {
    let server = start_server("websocket_echo");
    let url = format!("ws://{}/", server.address);
    let run = run_to_end(
        example("websocket_client", &[&url]),
        "websocket_client < lines".to_string(),
        Some("first line\nsecond line\n"),
    );
    assert_eq!(run.success(), ["first line", "second line"]);
}

#[test]
fn websocket_client_fails_with_one_line_when_the_message_is_over_the_servers_limit() {
    let server = start_server_with("websocket_echo", &["--max-message-size", "10"]);
    let url = format!("ws://{}/", server.address);
    let run = run_example(
        "websocket_client",
        &[&url, "short", "much longer than ten bytes"],
    );
    let error = run.failure_with(1);
    assert!(error.contains("1009"), "{error}");
}

#[test]
fn websocket_client_against_a_refused_port_fails_with_one_line() {
    let refused = RefusedPort::new();
    let address = refused.address().to_string();

    let run = run_example("websocket_client", &[&format!("ws://{address}/"), "hello"]);
    let error = run.failure_with(1);
    assert!(error.starts_with("error: could not connect"), "{error}");
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
}

#[test]
fn greeting_getter_against_a_refused_port_fails_with_one_line() {
    let refused = RefusedPort::new();
    let address = refused.address().to_string();

    let run = run_example("greeting_getter", &["--connect", &address]);
    assert!(!run.status.success(), "a refused connection exited 0");
    assert_eq!(run.stderr_lines().len(), 1, "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
}

#[test]
fn get_page_fetches_its_own_page_while_the_ticker_ticks() {
    let run = run_example("get_page", &[]);
    let lines = run.success();
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("http://127.0.0.1:") && last.ends_with("/page: 16384 bytes"),
        "{lines:?}"
    );
    // The page comes in chunks 150 ms apart: the ticker (every 100 ms) ticks meanwhile.
    assert!(lines.contains(&"tick 1"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|line| line.ends_with("received 4096 of 16384 bytes")),
        "{lines:?}"
    );
}

#[test]
fn get_page_writes_the_body_to_the_output_file() {
    let directory = TempDir::new("get-page");
    let output = directory.0.join("page.txt");
    let output_text = output.to_str().expect("a UTF-8 temporary path");
    let run = run_example("get_page", &["--output", output_text]);
    let lines = run.success();
    assert!(
        lines
            .last()
            .is_some_and(|line| line.ends_with(": 16384 bytes")),
        "{lines:?}"
    );
    let body = std::fs::read(&output).expect("the output file was written");
    assert_eq!(body.len(), 16384);
    assert!(body.iter().all(|byte| *byte == b'*'));
}

#[test]
fn get_page_against_a_refused_port_fails_with_one_line() {
    let refused = RefusedPort::new();
    let address = refused.address().to_string();

    let url = format!("http://{address}/");
    let run = run_example("get_page", &[&url]);
    let error = run.failure_with(1);
    assert!(
        error.starts_with("error: ") && error.contains(&url),
        "{error}"
    );
}

#[test]
fn line_echo_echoes_a_line() {
    let server = start_server("line_echo");
    assert_eq!(ask(&server.address, "echo me"), "echo me");
    // The longest line, 16 KiB, ending in CR/LF: the CR does not count toward the limit.
    let longest = "x".repeat(16384);
    assert_eq!(ask(&server.address, &longest), longest);
}

/// Waits for the echo of `line` on `stream` (whose read timeout is short), or for a
/// warning on `warnings` that the server is backing off from `accept`: `Ok(echo)`, or
/// `Err(warning)`. Bounded by [`LIMIT`] (the stream's read timeout must be 20 ms).
fn echo_or_backoff(
    stream: &mut TcpStream,
    line: &str,
    warnings: &Receiver<String>,
) -> Result<String, String> {
    // The stream's read timeout is 20 ms: this many reads take at least LIMIT.
    let mut answer = Vec::new();
    for _ in 0..LIMIT.as_millis() / 20 {
        if let Ok(warning) = warnings.try_recv() {
            if warning.contains("backing off") {
                return Err(warning);
            }
        }
        let mut buffer = [0; 64];
        match uninterrupted(|| stream.read(&mut buffer)) {
            Ok(0) => panic!("the server closed the connection for {line:?}"),
            Ok(n) => {
                answer.extend_from_slice(&buffer[..n]);
                if answer.ends_with(b"\r\n") {
                    return Ok(String::from_utf8_lossy(&answer).trim_end().to_string());
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => panic!("reading the echo of {line:?}: {error}"),
        }
    }
    panic!("neither the echo of {line:?} nor a back-off warning within {LIMIT:?}");
}

#[test]
fn line_echo_out_of_file_descriptors_backs_off_and_serves_again_once_some_free_up() {
    // RLIMIT_NOFILE 32 for the server: after its own descriptors (standard streams, the
    // runtime's, the listener's) it can hold a couple of dozen connections.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 32 && exec \"$0\" --port 0")
        .arg(example_path("line_echo"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = Running::spawn(command, "line_echo under ulimit -n 32");
    let lines = lines_in_background(running.child.stdout.take().expect("stdout is piped"));
    let warnings = lines_in_background(running.child.stderr.take().expect("stderr is piped"));
    let address: SocketAddr = listening_address(&lines, "line_echo")
        .parse()
        .expect("the server prints a socket address");

    // Connect, one at a time, until the server runs out of descriptors.
    let mut served = Vec::new();
    let (mut waiting, waiting_line, first_warning) = loop {
        assert!(
            served.len() < 32,
            "{} connections served under a limit of 32",
            served.len()
        );
        let mut stream = TcpStream::connect_timeout(&address, LIMIT).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("a read timeout");
        let line = format!("ping {}", served.len());
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
        match echo_or_backoff(&mut stream, &line, &warnings) {
            Ok(echo) => {
                assert_eq!(echo, line);
                served.push(stream);
            }
            Err(warning) => break (stream, line, warning),
        }
    };
    assert!(
        served.len() >= 8,
        "only {} connections served",
        served.len()
    );
    assert!(
        first_warning.contains("accept failed (backing off): ")
            && first_warning.contains("; repeats are summarised every 60 s")
            && !first_warning.contains("\x1b["),
        "{first_warning:?}"
    );
    // `sh` exec'd the server: the child's id is the server's.
    let pid = running.child.id();
    let spinning_cpu = cpu_seconds(pid).and_then(|before| {
        wait(SPIN_WATCH);
        Some(cpu_seconds(pid)? - before)
    });

    // Free some descriptors: the waiting connection is accepted and served.
    served.truncate(served.len() - 4);
    waiting
        .set_read_timeout(Some(LIMIT))
        .expect("a read timeout");
    let mut echo = String::new();
    BufReader::new(&mut waiting)
        .read_line(&mut echo)
        .expect("the waiting connection is served");
    assert_eq!(echo.trim_end(), waiting_line);
    assert_eq!(ask(&address.to_string(), "and one more"), "and one more");
    for (n, stream) in served.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(LIMIT))
            .expect("a read timeout");
        stream
            .write_all(format!("again {n}\r\n").as_bytes())
            .expect("send");
        let mut echo = String::new();
        BufReader::new(stream)
            .read_line(&mut echo)
            .expect("still served");
        assert_eq!(echo.trim_end(), format!("again {n}"));
    }
    assert!(
        running
            .child
            .try_wait()
            .expect("the server can be polled")
            .is_none(),
        "line_echo exited"
    );
    // It backed off instead of spinning on the failing accept: while it was out of
    // descriptors it used a fraction of the CPU a spinning loop uses (all of one core).
    if let Some(cpu) = spinning_cpu {
        assert!(
            cpu < SPIN_WATCH.as_secs_f64() / 2.0,
            "{cpu:.2} s of CPU in {SPIN_WATCH:?} out of descriptors: accept is spinning"
        );
    }
    // It said so once: the first warning (read above) is the only "accept failed" line; the others
    // are counted for a summary (at most one, once accepting works again). The log goes
    // to a pipe, so it has no colour codes.
    let more: Vec<String> = warnings.try_iter().collect();
    let failures = more
        .iter()
        .filter(|w| w.contains("accept failed (backing off):"));
    assert_eq!(failures.count(), 0, "{more:#?}");
    let summaries = more.iter().filter(|w| w.contains("then succeeded"));
    assert!(summaries.count() <= 1, "{more:#?}");
    assert!(more.iter().all(|w| !w.contains("\x1b[")), "{more:#?}");
}

/// How long the descriptor test watches the server's CPU while it is out of descriptors.
const SPIN_WATCH: Duration = Duration::from_millis(1000);

/// Waits `duration` of wall time: the descriptor test measures the CPU a process uses
/// over an interval.
#[allow(clippy::disallowed_methods)]
fn wait(duration: Duration) {
    thread::sleep(duration);
}

/// The CPU time (user + system) process `pid` has used, from `/proc/PID/stat`; `None`
/// where there is no `/proc`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces, inside parentheses);
    // utime and stime are the 12th and 13th of them, in clock ticks (100 a second).
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

// ---- where servers listen and clients connect: endpoints ----

#[test]
fn line_echo_listens_on_a_tcp_endpoint() {
    let server = start_server_exactly("line_echo", &["--listen", "tcp:0:interface=127.0.0.1"]);
    assert!(
        server.address.starts_with("127.0.0.1:"),
        "{}",
        server.address
    );
    assert_eq!(ask(&server.address, "by endpoint"), "by endpoint");
}

#[test]
fn a_bare_socket_address_is_a_tcp_endpoint() {
    let server = start_server_exactly("greeting_server", &["--listen", "127.0.0.1:0"]);
    assert_eq!(ask(&server.address, "Bob"), "Hello, Bob!");
    let endpoint = format!("tcp:host=127.0.0.1:port={}", port_of(&server.address));
    let getter = run_example(
        "greeting_getter",
        &["--connect", &endpoint, "--name", "Alice"],
    );
    assert_eq!(
        getter.success(),
        ["callbacks: Hello, Alice!", "async/await: Hello, Alice!"]
    );
}

/// The port of `HOST:PORT`.
fn port_of(address: &str) -> &str {
    address.rsplit_once(':').expect("HOST:PORT").1
}

/// Sends `line` and CR/LF over the Unix socket at `path`; returns the first line of the
/// answer, without its line ending.
#[cfg(unix)]
fn ask_unix(path: &Path, line: &str) -> String {
    let stream = std::os::unix::net::UnixStream::connect(path).expect("the server accepts");
    stream
        .set_read_timeout(Some(LIMIT))
        .expect("a read timeout can be set");
    exchange_line(stream, line)
}

/// Sends signal `name` (`INT`: Ctrl-C, `TERM`: what service managers send) to `server` and
/// waits, bounded by [`LIMIT`], for it to exit.
#[cfg(unix)]
fn signal(server: &mut Server, name: &str) -> ExitStatus {
    send_signal(server, name);
    wait_for_exit(server, LIMIT, &format!("SIG{name}"))
}

/// Sends signal `name` to `server` (with the `kill` command).
#[cfg(unix)]
fn send_signal(server: &Server, name: &str) {
    let pid = server.running.child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{name} {pid} failed");
}

/// Waits for `server` to exit, `after` something (for the message), within `bound`: the
/// servers print nothing after their first line, so the bound is the wait for their
/// stdout to close.
#[cfg(unix)]
fn wait_for_exit(server: &mut Server, bound: Duration, after: &str) -> ExitStatus {
    // Its stdout closes when it exits: the reader's channel then disconnects.
    loop {
        match server.lines.recv_timeout(bound) {
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the server did not stop within {bound:?} of {after}")
            }
        }
    }
    server
        .running
        .child
        .wait()
        .expect("the server can be waited for")
}

#[cfg(unix)]
#[test]
fn greeting_server_on_a_unix_socket_answers_every_client_and_removes_it_on_ctrl_c() {
    let dir = TempDir::new("unix");
    let path = dir.0.join("greeting.sock");
    let path_text = path.to_str().expect("a UTF-8 temp path");
    let mut server = start_server_exactly(
        "greeting_server",
        &["--listen", &format!("unix:{path_text}")],
    );
    assert_eq!(server.address, format!("unix:{path_text}"));

    // The address printed is a client endpoint string too.
    let getter = run_example(
        "greeting_getter",
        &["--connect", &server.address, "--name", "Alice"],
    );
    assert_eq!(
        getter.success(),
        ["callbacks: Hello, Alice!", "async/await: Hello, Alice!"]
    );
    let coroutine = run_example(
        "greeting_coroutine",
        &[
            "--connect",
            &format!("unix:path={path_text}"),
            "--name",
            "Carol",
        ],
    );
    assert_eq!(coroutine.success(), ["Hello, Carol!"]);
    assert_eq!(ask_unix(&path, "Bob"), "Hello, Bob!");

    assert!(signal(&mut server, "INT").success());
    assert!(!path.exists(), "{} is left behind", path.display());
}

#[cfg(unix)]
#[test]
fn line_echo_on_a_unix_socket_echoes_and_removes_it_on_sigterm() {
    let dir = TempDir::new("unix-echo");
    let path = dir.0.join("echo.sock");
    let endpoint = format!("unix:{}", path.to_str().expect("a UTF-8 temp path"));
    let mut server = start_server_exactly("line_echo", &["--listen", &endpoint]);
    assert_eq!(server.address, endpoint);
    assert_eq!(ask_unix(&path, "over a file"), "over a file");
    assert!(signal(&mut server, "TERM").success());
    assert!(!path.exists(), "{} is left behind", path.display());
}

/// Asserts `run` was refused as a usage mistake: status 2, nothing on stdout, a first
/// stderr line that holds `expected`, and no panic.
fn assert_usage_error(run: &Finished, expected: &str) {
    assert_eq!(run.status.code(), Some(2), "{}: {}", run.what, run.stderr);
    assert!(
        run.stdout.is_empty(),
        "{}: stdout: {}",
        run.what,
        run.stdout
    );
    assert!(
        !run.stderr.contains("panicked"),
        "{}: {}",
        run.what,
        run.stderr
    );
    let first = run.stderr_lines().first().copied().unwrap_or_default();
    assert!(first.starts_with("error: "), "{}: {}", run.what, run.stderr);
    assert!(first.contains(expected), "{}: {first}", run.what);
}

#[test]
fn a_server_given_a_malformed_endpoint_names_it_and_exits_2() {
    let mut cases = vec![
        ("line_echo", "tcp:eighty", "port"),
        ("line_echo", "tcp:0:interface=localhost", "interface"),
        ("greeting_server", "carrier-pigeon:0", "type"),
        ("greeting_server", "unix:", "address"),
    ];
    if cfg!(feature = "tls") {
        cases.push(("greeting_server", "tls:0:certKey=cert.pem", "privateKey"));
    }
    for (server, endpoint, field) in cases {
        let run = run_example(server, &["--listen", endpoint]);
        assert_usage_error(&run, &format!("{endpoint:?}"));
        assert!(run.stderr.contains(field), "{}: {}", run.what, run.stderr);
    }
}

#[test]
fn a_server_refuses_listen_with_port_or_the_tls_flags() {
    let run = run_example("line_echo", &["--listen", "tcp:0", "--port", "0"]);
    assert_usage_error(&run, "--listen or --port");
    let run = run_example(
        "greeting_server",
        &[
            "--listen",
            "tcp:0",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
        ],
    );
    assert_usage_error(&run, "tls:PORT:certKey=FILE:privateKey=FILE");
    let run = run_example("line_echo", &["--listen"]);
    assert_usage_error(&run, "--listen needs an endpoint");
}

#[test]
fn a_client_given_a_malformed_endpoint_names_it_and_exits_2() {
    for client in ["greeting_getter", "greeting_coroutine"] {
        for (endpoint, field) in [
            ("tcp:host=localhost", "port"),
            ("tcp:host=localhost:port=http", "port"),
            ("carrier-pigeon", "type"),
            ("unix:timeout=5", "path"),
        ] {
            let run = run_example(client, &["--connect", endpoint]);
            assert_usage_error(&run, &format!("{endpoint:?}"));
            assert!(run.stderr.contains(field), "{}: {}", run.what, run.stderr);
        }
    }
    let run = run_example(
        "greeting_getter",
        &["--tls", "--connect", "unix:/tmp/x.sock"],
    );
    assert_usage_error(&run, "--tls goes with --connect HOST:PORT");
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("torsade-examples-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("the temporary directory is writable");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Fails only if something else removed it already.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- TLS: the tests make their certificates (the `test-certificates` feature) ----

#[cfg(feature = "test-certificates")]
mod tls {
    use super::*;
    use torsade::testing::TestCertificates;
    use torsade::tls::rustls::pki_types::ServerName;
    use torsade::tls::rustls::{ClientConnection, StreamOwned};

    #[test]
    fn a_tls_endpoint_serves_tls_to_a_client_given_a_tls_endpoint() {
        let (_dir, ca, cert, key) = certificate_files("endpoint");
        let listen = format!("tls:0:interface=127.0.0.1:certKey={cert}:privateKey={key}");
        let server = start_server_exactly("greeting_server", &["--listen", &listen]);
        let port = port_of(&server.address);
        assert_eq!(
            ask_tls(&server.address, "localhost", &ca, "Carol"),
            "Hello, Carol!"
        );
        let connect = format!("tls:host=localhost:port={port}:caCerts={ca}");
        let getter = run_example(
            "greeting_getter",
            &["--connect", &connect, "--name", "Alice"],
        );
        assert_eq!(
            getter.success(),
            ["callbacks: Hello, Alice!", "async/await: Hello, Alice!"]
        );
        let coroutine = run_example(
            "greeting_coroutine",
            &["--connect", &connect, "--name", "Bob"],
        );
        assert_eq!(coroutine.success(), ["Hello, Bob!"]);
    }

    #[test]
    fn a_client_given_a_tls_endpoint_with_a_missing_ca_file_names_it_and_exits_1() {
        let dir = TempDir::new("missing-ca");
        let missing = dir.0.join("nowhere.pem");
        let endpoint = format!(
            "tls:host=localhost:port=1:caCerts={}",
            missing.to_str().expect("a UTF-8 temp path")
        );
        for client in ["greeting_getter", "greeting_coroutine"] {
            let run = run_example(client, &["--connect", &endpoint]);
            assert_eq!(run.status.code(), Some(1), "{}: {}", run.what, run.stderr);
            assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
            let errors = run.stderr_lines();
            assert_eq!(errors.len(), 1, "stderr: {}", run.stderr);
            assert!(errors[0].contains("nowhere.pem"), "{}", errors[0]);
        }
    }

    /// Certificates for localhost and 127.0.0.1 written as PEM files: (dir, ca, cert, key).
    pub(super) fn certificate_files(tag: &str) -> (TempDir, String, String, String) {
        let dir = TempDir::new(tag);
        let certificates =
            TestCertificates::new(&["localhost", "127.0.0.1"]).expect("certificates");
        let (ca, cert, key) = certificates.write_to(&dir.0).expect("PEM files");
        let text = |path: PathBuf| path.to_str().expect("a UTF-8 temp path").to_string();
        (dir, text(ca), text(cert), text(key))
    }

    /// Starts server example `name` on TLS with `cert` and `key`.
    pub(super) fn start_tls_server(name: &str, cert: &str, key: &str) -> Server {
        start_server_with(name, &["--tls-cert", cert, "--tls-key", key])
    }

    /// Sends `line` over TLS to `address`, trusting `ca` for `server_name`; returns the first
    /// line of the answer without its line ending.
    fn ask_tls(address: &str, server_name: &str, ca: &str, line: &str) -> String {
        let config = torsade::tls::client_config_with_ca(ca).expect("the CA file is usable");
        let name = ServerName::try_from(server_name.to_string()).expect("a server name");
        let session = ClientConnection::new(config, name).expect("a TLS client session");
        let address: SocketAddr = address.parse().expect("the server prints a socket address");
        let socket = TcpStream::connect_timeout(&address, LIMIT).expect("the server accepts");
        socket
            .set_read_timeout(Some(LIMIT))
            .expect("a read timeout can be set");
        exchange_line(StreamOwned::new(session, socket), line)
    }

    #[test]
    fn greeting_getter_greets_over_tls_with_a_server_of_its_own() {
        let run = run_example("greeting_getter", &["--tls"]);
        assert_eq!(
            run.success(),
            ["callbacks: Hello, World!", "async/await: Hello, World!"]
        );
    }

    #[test]
    fn greeting_server_with_a_certificate_answers_tls_getters_and_clients() {
        let (_dir, ca, cert, key) = certificate_files("greeting");
        let server = start_tls_server("greeting_server", &cert, &key);
        let address = server.address.as_str();
        let port = address.rsplit_once(':').expect("HOST:PORT").1;

        // By address (the certificate names 127.0.0.1), and by name.
        let getter = run_example(
            "greeting_getter",
            &[
                "--tls",
                "--ca",
                &ca,
                "--connect",
                address,
                "--name",
                "Alice",
            ],
        );
        assert_eq!(
            getter.success(),
            ["callbacks: Hello, Alice!", "async/await: Hello, Alice!"]
        );
        let localhost = format!("localhost:{port}");
        let getter = run_example(
            "greeting_getter",
            &[
                "--tls",
                "--ca",
                &ca,
                "--connect",
                &localhost,
                "--name",
                "Bob",
            ],
        );
        assert_eq!(
            getter.success(),
            ["callbacks: Hello, Bob!", "async/await: Hello, Bob!"]
        );
        assert_eq!(ask_tls(address, "localhost", &ca, "Carol"), "Hello, Carol!");
    }

    #[test]
    fn greeting_getter_refuses_a_server_its_ca_did_not_sign() {
        let (_dir, _ca, cert, key) = certificate_files("untrusted-server");
        let (_other, stranger_ca, _, _) = certificate_files("untrusted-ca");
        let server = start_tls_server("greeting_server", &cert, &key);
        let run = run_example(
            "greeting_getter",
            &["--tls", "--ca", &stranger_ca, "--connect", &server.address],
        );
        assert!(!run.status.success(), "an untrusted server was accepted");
        assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
        let errors = run.stderr_lines();
        assert_eq!(errors.len(), 1, "stderr: {}", run.stderr);
        assert!(
            errors[0].contains("signed by an authority this client does not trust"),
            "{}",
            errors[0]
        );
    }

    /// A self-signed certificate for localhost and its key as PEM files, made as `openssl req
    /// -x509 -subj /CN=localhost -addext subjectAltName=DNS:localhost` makes one (`CA:TRUE`):
    /// (dir, cert, key).
    fn self_signed_files(tag: &str) -> (TempDir, String, String) {
        let dir = TempDir::new(tag);
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("parameters");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let key = rcgen::KeyPair::generate().expect("a key");
        let certificate = params.self_signed(&key).expect("a certificate");
        let (cert_path, key_path) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
        std::fs::write(&cert_path, certificate.pem()).expect("the certificate file");
        std::fs::write(&key_path, key.serialize_pem()).expect("the key file");
        let text = |path: PathBuf| path.to_str().expect("a UTF-8 temp path").to_string();
        (dir, text(cert_path), text(key_path))
    }

    #[test]
    fn greeting_getter_trusts_a_self_signed_certificate_given_as_its_ca_and_checks_its_name() {
        let (_dir, cert, key) = self_signed_files("self-signed");
        let server = start_tls_server("greeting_server", &cert, &key);
        let port = server.address.rsplit_once(':').expect("HOST:PORT").1;
        let localhost = format!("localhost:{port}");
        let getter = run_example(
            "greeting_getter",
            &["--tls", "--ca", &cert, "--connect", &localhost],
        );
        assert_eq!(
            getter.success(),
            ["callbacks: Hello, World!", "async/await: Hello, World!"]
        );
        // By address: the certificate names localhost only.
        let run = run_example(
            "greeting_getter",
            &["--tls", "--ca", &cert, "--connect", &server.address],
        );
        assert!(!run.status.success(), "a wrong name was accepted");
        let errors = run.stderr_lines();
        assert_eq!(errors.len(), 1, "stderr: {}", run.stderr);
        assert_eq!(
            errors[0],
            "error: TLS: the server's certificate is not valid for the name \"127.0.0.1\"; it is \
             for localhost: connect with a name in the certificate, or give one as the server \
             name (--server-name NAME)"
        );
    }

    #[test]
    fn a_plaintext_client_gets_no_greeting_from_a_tls_server() {
        let (_dir, ca, cert, key) = certificate_files("plaintext");
        let server = start_tls_server("greeting_server", &cert, &key);
        // The server takes the line for a broken handshake, answers with a TLS alert record
        // (content type 21) and closes; the port goes on.
        let answer = ask(&server.address, "Mallory");
        assert!(answer.starts_with('\u{15}'), "not a TLS alert: {answer:?}");
        assert!(!answer.contains("Hello"), "{answer:?}");
        assert_eq!(
            ask_tls(&server.address, "localhost", &ca, "Alice"),
            "Hello, Alice!"
        );
    }

    #[test]
    fn line_echo_with_a_certificate_echoes_over_tls() {
        let (_dir, ca, cert, key) = certificate_files("line-echo");
        let server = start_tls_server("line_echo", &cert, &key);
        assert_eq!(
            ask_tls(&server.address, "127.0.0.1", &ca, "secret"),
            "secret"
        );
    }

    #[test]
    fn a_server_given_half_a_tls_setup_says_so_and_exits_2() {
        let run = run_example("line_echo", &["--port", "0", "--tls-cert", "cert.pem"]);
        assert_eq!(run.status.code(), Some(2), "stderr: {}", run.stderr);
        assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
        assert!(
            run.stderr_lines()[0].contains("--tls-cert FILE and --tls-key FILE"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn a_server_given_a_missing_certificate_file_names_it_and_exits_1() {
        let (dir, _ca, _cert, key) = certificate_files("missing");
        let missing = dir.0.join("nowhere.pem");
        let missing = missing.to_str().expect("a UTF-8 temp path");
        let run = run_example(
            "greeting_server",
            &["--port", "0", "--tls-cert", missing, "--tls-key", &key],
        );
        assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
        assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
        let errors = run.stderr_lines();
        assert_eq!(errors.len(), 1, "stderr: {}", run.stderr);
        assert!(errors[0].contains("nowhere.pem"), "{}", errors[0]);
    }
}

// ---- a raw echo, STARTTLS, and the servers' idle timeout and connection limit ----

/// Connects to `address` (`HOST:PORT`) over plain TCP; reads wait at most [`LIMIT`].
fn connect_to(address: &str) -> TcpStream {
    let address: SocketAddr = address.parse().expect("the server prints a socket address");
    let stream = TcpStream::connect_timeout(&address, LIMIT).expect("the server accepts");
    stream
        .set_read_timeout(Some(LIMIT))
        .expect("a read timeout can be set");
    stream
}

/// Sends `line` and CR/LF on `stream`; returns the next line it reads, without its line
/// ending. Reads a byte at a time, so nothing after that line is taken from the stream.
fn exchange_on(stream: &mut (impl Read + Write), line: &str) -> String {
    stream
        .write_all(format!("{line}\r\n").as_bytes())
        .expect("the server reads");
    read_line_on(stream)
}

/// Runs a blocking socket call again when a signal interrupts it. A call on a socket with
/// a read or write timeout is not restarted after a signal handler runs (signal(7)), and
/// the test process does get signals: such a call may end with `Interrupted` before any
/// byte, close or timeout came.
fn uninterrupted<T>(mut call: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match call() {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The next line `stream` reads, without its line ending (read a byte at a time).
fn read_line_on(stream: &mut impl Read) -> String {
    let mut answer = Vec::new();
    let mut byte = [0; 1];
    while !answer.ends_with(b"\n") {
        match uninterrupted(|| stream.read(&mut byte)) {
            Ok(1) => answer.push(byte[0]),
            other => panic!(
                "{other:?} after {:?}, before the end of a line",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    String::from_utf8_lossy(&answer)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

/// The line a peer that never reads sends, over and over: 1 KiB.
fn kilobyte_line() -> Vec<u8> {
    let mut line = vec![b'x'; 1023];
    line.push(b'\n');
    line
}

/// More than a server that stops reading from a peer that does not read its answers can
/// take in: its write buffer's high-water mark and the kernel's socket buffers on both
/// sides (about 7 MB here).
const UNREAD_BOUND: usize = 64 * 1024 * 1024;

/// Connects to `address` and sends 1 KiB lines without ever reading, until a write makes
/// no progress for half a second: the server has stopped reading and its write buffer
/// is full. Returns the stream (its write timeout back to [`LIMIT`]) and how many bytes
/// were sent. Fails if the server takes in more than [`UNREAD_BOUND`]: it does not stop
/// reading.
fn send_until_the_server_stops_reading(address: &str, what: &str) -> (TcpStream, usize) {
    let mut stream = connect_to(address);
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .expect("a write timeout can be set");
    let chunk = kilobyte_line().repeat(64);
    let mut sent = 0;
    loop {
        assert!(
            sent <= UNREAD_BOUND,
            "{what} took in {sent} bytes from a peer that reads nothing: it does not stop reading"
        );
        let from = sent % chunk.len();
        match uninterrupted(|| stream.write(&chunk[from..])) {
            Ok(count) => sent += count,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(error) => panic!("sending to {what}: {error}"),
        }
    }
    stream
        .set_write_timeout(Some(LIMIT))
        .expect("a write timeout can be set");
    (stream, sent)
}

#[test]
fn echo_sends_back_every_byte_as_it_came() {
    let server = start_server("echo");
    let mut stream = connect_to(&server.address);
    // Every byte value, no line endings to speak of: a raw echo frames nothing.
    let sent: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let mut writer = stream.try_clone().expect("the socket can be cloned");
    let data = sent.clone();
    let writing = thread::spawn(move || writer.write_all(&data));
    let mut echoed = vec![0; sent.len()];
    stream
        .read_exact(&mut echoed)
        .expect("everything comes back");
    writing
        .join()
        .expect("the writer does not panic")
        .expect("the server reads everything");
    assert!(echoed == sent, "the echo differs from what was sent");
    // The peer's end of input ends the connection: the server closes in turn.
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("a half-close");
    assert_eq!(
        uninterrupted(|| stream.read(&mut [0; 16])).expect("a clean close"),
        0
    );
}

#[test]
fn echo_stops_reading_from_a_peer_that_does_not_read_and_goes_on_once_it_does() {
    let server = start_server("echo");
    let (mut stream, sent) = send_until_the_server_stops_reading(&server.address, "echo");
    // Reading now lets the server read again: all of it comes back, in order.
    let mut echoed = vec![0; sent];
    stream
        .read_exact(&mut echoed)
        .expect("everything sent comes back");
    let line = kilobyte_line();
    assert!(
        echoed
            .chunks(line.len())
            .all(|chunk| line.starts_with(chunk)),
        "the echo differs from what was sent"
    );
    assert_eq!(exchange_on(&mut stream, "and more"), "and more");
}

// ---- chat: connections sharing a room ----

#[test]
fn chat_relays_each_line_to_the_two_other_clients_on_one_loop_and_on_three() {
    for loops in ["1", "3"] {
        let server = start_server_with("chat", &["--loops", loops]);
        let connect = || {
            let mut user = connect_to(&server.address);
            assert_eq!(read_line_on(&mut user), "What's your name?");
            user
        };
        let (mut alice, mut bob, mut carol) = (connect(), connect(), connect());
        assert_eq!(exchange_on(&mut alice, "alice"), "Welcome, alice!");
        assert_eq!(exchange_on(&mut bob, "bob"), "Welcome, bob!");
        assert_eq!(read_line_on(&mut alice), "* bob has joined");
        let taken = exchange_on(&mut carol, "alice");
        assert_eq!(taken, "Name taken, please choose another.");
        assert_eq!(exchange_on(&mut carol, "carol"), "Welcome, carol!");
        for user in [&mut alice, &mut bob] {
            assert_eq!(read_line_on(user), "* carol has joined");
        }
        bob.write_all(b"hi all\r\n").expect("the server reads");
        for user in [&mut alice, &mut carol] {
            assert_eq!(read_line_on(user), "<bob> hi all");
        }
        // Not to its sender: the next line Bob reads is the answer to `/who`.
        assert_eq!(exchange_on(&mut bob, "/who"), "Here: alice, bob, carol");
        drop(bob);
        for user in [&mut alice, &mut carol] {
            assert_eq!(read_line_on(user), "* bob has left");
        }
        assert_eq!(exchange_on(&mut alice, "/who"), "Here: alice, carol");
    }
}

// ---- sim_chat: the chat server on a simulated network ----

/// The seed and digest `sim_chat` prints last, checked for their shape.
fn sim_chat_digest_line(run: &Finished) -> String {
    let last = run
        .stdout_lines()
        .last()
        .copied()
        .unwrap_or_default()
        .to_string();
    let digest = last.rsplit_once(" digest ").map(|(_, digest)| digest);
    assert!(
        last.starts_with("seed ")
            && digest.is_some_and(|d| d.len() == 16 && d.chars().all(|c| c.is_ascii_hexdigit())),
        "{}",
        run.described()
    );
    last
}

#[test]
fn sim_chat_prints_the_same_run_for_a_seed_and_another_digest_for_another_seed() {
    let first = run_example("sim_chat", &["--seed", "7"]);
    let lines = first.success();
    assert!(
        lines[0].starts_with("20 clients named and welcomed at "),
        "{}",
        first.described()
    );
    assert!(
        first.stdout.contains(
            "each reached the 19 other clients exactly once, in the order sent, all in one order"
        ),
        "{}",
        first.described()
    );
    assert!(sim_chat_digest_line(&first).starts_with("seed 7 digest "));

    // No flag is the default seed, 7: the same run, event for event.
    let again = run_example("sim_chat", &[]);
    assert_eq!(again.success(), lines);

    let other = run_example("sim_chat", &["--seed", "8"]);
    other.success();
    let (seven, eight) = (sim_chat_digest_line(&first), sim_chat_digest_line(&other));
    assert!(eight.starts_with("seed 8 digest "));
    assert_ne!(seven["seed 7".len()..], eight["seed 8".len()..]);
}

#[test]
fn sim_chat_explores_five_seeds_and_none_fails() {
    let run = run_example("sim_chat", &["--explore", "5", "--seed", "100"]);
    assert_eq!(run.success(), ["explored seeds 100 to 104: none failed"]);
}

#[test]
fn sim_chat_names_the_lines_lost_connections_missed_and_exits_1() {
    // One segment in a hundred resets its connection: lines are lost on every seed.
    let run = run_example("sim_chat", &["--seed", "3", "--resets", "0.01"]);
    assert_eq!(run.status.code(), Some(1), "{}", run.described());
    let first = run.stderr_lines().first().copied().unwrap_or_default();
    assert!(
        first.starts_with("error: client") && first.contains(" never received \"<client"),
        "{}",
        run.described()
    );
    assert!(
        run.stderr.contains("connection ended"),
        "{}",
        run.described()
    );
    assert!(sim_chat_digest_line(&run).starts_with("seed 3 digest "));

    let explored = run_example("sim_chat", &["--explore", "5", "--resets", "0.01"]);
    assert_eq!(explored.status.code(), Some(1), "{}", explored.described());
    assert_eq!(
        explored.stdout_lines(),
        ["explored seeds 7 to 7: seed 7 failed (alone: sim_chat --seed 7 --resets 0.01)"]
    );
    let error = explored.stderr_lines().first().copied().unwrap_or_default();
    assert!(
        error.starts_with("error: seed 7: client") && error.contains(" never received "),
        "{}",
        explored.described()
    );
}

#[test]
fn sim_chat_refuses_bad_flags_with_its_usage_and_exits_2() {
    let cases: [(&[&str], &str); 5] = [
        (&["--sideways"], "unexpected argument \"--sideways\""),
        (&["--seed"], "--seed needs a value"),
        (&["--seed", "seven"], "--seed expects a number"),
        (&["--explore", "0"], "--explore expects at least 1 seed"),
        (&["--resets", "2"], "--resets expects a chance from 0 to 1"),
    ];
    for (args, expected) in cases {
        let run = run_example("sim_chat", args);
        assert_usage_error(&run, expected);
    }
    let run = run_example("sim_chat", &["--sideways"]);
    assert!(
        run.stderr.contains("usage: sim_chat"),
        "{}",
        run.described()
    );
    let help = run_example("sim_chat", &["--help"]);
    assert!(help.success()[0].starts_with("usage: sim_chat"));
}

// ---- length_prefixed: one wire format, two engines on each side ----

/// `payload` as a frame of Int32's wire format: a 4-byte big-endian length, then the bytes.
#[cfg(feature = "codec")]
fn int32_frame(payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("a test frame is short");
    [&length.to_be_bytes()[..], payload].concat()
}

#[cfg(feature = "codec")]
#[test]
fn length_prefixed_with_no_arguments_runs_each_client_against_the_other_engines_server() {
    let run = run_example("length_prefixed", &[]);
    let exchanges = [
        "  SET colour blue => OK",
        "  GET colour => blue",
        "  SUM 1 2 3 => 6",
        "  GET size => ERR no such key",
    ];
    let mut expected =
        vec!["callback client (Int32StringReceiver) -> codec server (CodecReceiver):"];
    expected.extend(exchanges);
    expected.push("async client (Framed) -> frames server (Int32StringReceiver):");
    expected.extend(exchanges);
    assert_eq!(run.success(), expected);
}

#[cfg(feature = "codec")]
#[test]
fn length_prefixed_clients_of_either_engine_get_the_same_replies_from_servers_of_either() {
    for server_engine in ["frames", "codec"] {
        let serve = ["serve", "--engine", server_engine, "--port", "0"];
        let server = start_server_exactly("length_prefixed", &serve);
        for client_engine in ["frames", "codec"] {
            let set = format!("SET {client_engine} a value with spaces");
            let requests = [&set, "GET frames", "SUM 40 2 -1", "SUM 1 x", "PING"];
            let connect = [
                "client",
                "--engine",
                client_engine,
                "--connect",
                &server.address,
            ];
            let run = run_example("length_prefixed", &[&connect[..], &requests].concat());
            // The store is the server's: the frames client's value is there for the codec one.
            let expected = [
                "OK",
                "a value with spaces",
                "41",
                "ERR SUM takes integers whose sum fits in 64 bits",
                "ERR unknown command (SET KEY VALUE, GET KEY, SUM N...)",
            ];
            assert_eq!(
                run.success(),
                expected,
                "{client_engine} client, {server_engine} server"
            );
        }
    }
}

#[cfg(feature = "codec")]
#[test]
fn length_prefixed_servers_answer_then_close_a_connection_announcing_a_frame_over_the_limit() {
    for engine in ["frames", "codec"] {
        let serve = ["serve", "--engine", engine, "--port", "0"];
        let server = start_server_exactly("length_prefixed", &serve);
        let mut stream = connect_to(&server.address);
        // A request, then a header announcing 4097 bytes: the limit is 4096.
        stream
            .write_all(&[&int32_frame(b"SUM 2 2")[..], &4097u32.to_be_bytes()].concat())
            .expect("the server reads");
        let mut received = Vec::new();
        // The server closes: EOF, or a reset for the bytes it left unread.
        let _ = stream.read_to_end(&mut received);
        assert_eq!(received, int32_frame(b"4"), "{engine} server");
    }
}

#[cfg(feature = "codec")]
#[test]
fn length_prefixed_refuses_a_mode_or_engine_it_does_not_know_and_a_client_without_a_server() {
    let cases: [(&[&str], &str); 4] = [
        (&["listen"], r#"unknown mode "listen""#),
        (
            &["serve", "--engine", "tokio"],
            r#"--engine is frames or codec, not "tokio""#,
        ),
        (&["client", "SUM 1"], "client needs --connect ENDPOINT"),
        (
            &[
                "client",
                "--connect",
                "127.0.0.1:8124",
                "--port",
                "1",
                "SUM 1",
            ],
            "--port goes with serve",
        ),
    ];
    for (args, expected) in cases {
        assert_usage_error(&run_example("length_prefixed", args), expected);
    }
}

#[cfg(feature = "codec")]
#[test]
fn a_length_prefixed_client_fails_with_one_line_without_a_server_or_a_reply() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("a bound address").to_string();
    for engine in ["frames", "codec"] {
        // The server reads the request and hangs up without answering (having read it
        // all, it closes with a FIN, not a reset).
        let hang_up = thread::spawn({
            let listener = listener.try_clone().expect("a listener can be cloned");
            move || {
                let (mut stream, _) = listener.accept().expect("the client connects");
                let mut request = [0; 9];
                stream.read_exact(&mut request).expect("the client sends");
                assert_eq!(request[..], int32_frame(b"SUM 1"));
            }
        });
        let client = ["client", "--engine", engine, "--connect", &address, "SUM 1"];
        let run = run_example("length_prefixed", &client);
        hang_up.join().expect("the listener thread ends");
        let error = run.failure_with(1);
        assert!(
            error.starts_with("error: the server closed the connection after 0 of 1 replies"),
            "{engine} client: {error}"
        );

        let long = "x".repeat(4097);
        let run = run_example(
            "length_prefixed",
            &["client", "--engine", engine, "--connect", &address, &long],
        );
        let error = run.failure_with(2);
        assert_eq!(
            error,
            "error: a request of 4097 bytes is over the 4096-byte limit of a frame"
        );
    }
    let refused = RefusedPort::new();
    let address = refused.address().to_string();
    for engine in ["frames", "codec"] {
        let run = run_example(
            "length_prefixed",
            &["client", "--engine", engine, "--connect", &address, "SUM 1"],
        );
        let error = run.failure_with(1);
        assert!(
            error.starts_with("error: connection to "),
            "{engine} client: {error}"
        );
        assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    }
}

#[cfg(feature = "test-certificates")]
mod starttls {
    use super::tls::{certificate_files, start_tls_server};
    use super::*;
    use torsade::tls::rustls::pki_types::ServerName;
    use torsade::tls::rustls::{ClientConnection, StreamOwned};

    #[test]
    fn starttls_echo_upgrades_its_own_client_mid_connection() {
        let (_dir, ca, cert, key) = certificate_files("starttls");
        let server = start_tls_server("starttls_echo", &cert, &key);
        let port = port_of(&server.address);
        // The server name is the host of --connect: an address, then a name.
        for address in [server.address.clone(), format!("localhost:{port}")] {
            let run = run_example(
                "starttls_echo",
                &[
                    "--connect",
                    &address,
                    "--ca",
                    &ca,
                    "first secret",
                    "second secret",
                ],
            );
            assert_eq!(
                run.success(),
                [
                    "clear: hello in the clear",
                    "tls: first secret",
                    "tls: second secret"
                ]
            );
        }
        // An endpoint string names no host: the name is given.
        let endpoint = format!("tcp:host=127.0.0.1:port={port}");
        let run = run_example(
            "starttls_echo",
            &[
                "--connect",
                &endpoint,
                "--ca",
                &ca,
                "--server-name",
                "localhost",
            ],
        );
        assert_eq!(
            run.success(),
            ["clear: hello in the clear", "tls: hello over TLS"]
        );
    }

    #[test]
    fn starttls_echo_upgrades_a_hand_written_client_and_refuses_a_second_starttls() {
        let (_dir, ca, cert, key) = certificate_files("starttls-raw");
        let server = start_tls_server("starttls_echo", &cert, &key);
        let mut socket = connect_to(&server.address);
        assert_eq!(exchange_on(&mut socket, "in the clear"), "in the clear");
        assert_eq!(exchange_on(&mut socket, "STARTTLS"), "READY");
        // rustls over the same socket, as any STARTTLS client would do it.
        let config = torsade::tls::client_config_with_ca(&ca).expect("the CA file is usable");
        let name = ServerName::try_from("localhost").expect("a server name");
        let session = ClientConnection::new(config, name).expect("a TLS client session");
        let mut tls = StreamOwned::new(session, socket);
        assert_eq!(exchange_on(&mut tls, "secret"), "secret");
        assert!(
            tls.conn.negotiated_cipher_suite().is_some(),
            "the echo came over TLS"
        );
        assert_eq!(exchange_on(&mut tls, "STARTTLS"), "ERROR already TLS");
        assert_eq!(exchange_on(&mut tls, "still secret"), "still secret");
    }

    #[test]
    fn starttls_echo_aborts_a_client_that_pipelines_plaintext_behind_starttls() {
        let (_dir, _ca, cert, key) = certificate_files("starttls-inject");
        let (server, log) = start_logging_server(
            "starttls_echo",
            &["--port", "0", "--tls-cert", &cert, "--tls-key", &key],
            None,
        );
        let mut socket = connect_to(&server.address);
        assert_eq!(exchange_on(&mut socket, "MAIL FROM:<a>"), "MAIL FROM:<a>");
        // CVE-2011-0411: a command in the same packet as STARTTLS, in the clear, would pass
        // for one sent inside TLS.
        socket
            .write_all(b"STARTTLS\r\nRCPT TO:<victim>\r\n")
            .expect("the server reads");
        // The connection is aborted: READY, written before the refusal, is never sent, and
        // the injected line is never echoed. The server had read everything, so its close is
        // a FIN.
        let mut rest = Vec::new();
        socket
            .read_to_end(&mut rest)
            .expect("the server closes the connection");
        assert!(
            rest.is_empty(),
            "the aborted connection answered {:?}",
            String::from_utf8_lossy(&rest)
        );
        let warning = wait_for_line(&log, "plaintext after STARTTLS");
        assert!(warning.contains("bytes=18"), "{warning}");
        // The port goes on.
        assert_eq!(ask(&server.address, "next"), "next");
    }

    #[test]
    fn starttls_echo_client_refuses_a_certificate_it_does_not_trust_or_for_another_name() {
        // With no certificate given, the server makes a throwaway one, and says so.
        let (server, log) = start_logging_server("starttls_echo", &["--port", "0"], None);
        let note = log.recv_timeout(LIMIT).expect("a note on stderr");
        assert!(note.contains("throwaway certificate"), "{note}");
        let (_dir, ca, cert, key) = certificate_files("starttls-stranger");
        let run = run_example(
            "starttls_echo",
            &["--connect", &server.address, "--ca", &ca],
        );
        assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
        assert_eq!(run.stdout_lines(), ["clear: hello in the clear"]);
        let errors = run.stderr_lines();
        assert_eq!(errors.len(), 1, "stderr: {}", run.stderr);
        assert!(
            errors[0].contains("signed by an authority this client does not trust"),
            "{}",
            errors[0]
        );

        let server = start_tls_server("starttls_echo", &cert, &key);
        let run = run_example(
            "starttls_echo",
            &[
                "--connect",
                &server.address,
                "--ca",
                &ca,
                "--server-name",
                "example.com",
            ],
        );
        let error = run.failure_with(1);
        assert!(
            error.contains("not valid for the name \"example.com\""),
            "{}",
            error
        );
    }

    #[test]
    fn starttls_echo_refuses_mixed_up_modes() {
        let run = run_example(
            "starttls_echo",
            &["--connect", "127.0.0.1:1", "--port", "0"],
        );
        assert_usage_error(&run, "--port is for the server");
        let run = run_example("starttls_echo", &["--port", "0", "--ca", "ca.pem"]);
        assert_usage_error(&run, "--ca goes with --connect");
        let run = run_example("starttls_echo", &["--port", "0", "a line"]);
        assert_usage_error(&run, "go with --connect");
        let run = run_example("starttls_echo", &["--connect", "unix:path=/tmp/x.sock"]);
        assert_usage_error(&run, "--server-name");
    }
}

/// Waits for a line holding `needle` among `lines` (a server's log), bounded by
/// [`LIMIT`]; returns it.
fn wait_for_line(lines: &Receiver<String>, needle: &str) -> String {
    loop {
        match lines.recv_timeout(LIMIT) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(error) => panic!("no line with {needle:?} ({error})"),
        }
    }
}

/// Every line left in `lines` (a log), once the process writing it has exited.
fn remaining_lines(lines: &Receiver<String>) -> Vec<String> {
    let mut rest = Vec::new();
    loop {
        match lines.recv_timeout(LIMIT) {
            Ok(line) => rest.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => return rest,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the log did not end: {rest:#?}"),
        }
    }
}

/// Long enough for a one-second idle timeout on a busy machine, short enough that a
/// server that never times out fails the test quickly.
const IDLE_BOUND: Duration = Duration::from_secs(20);

#[test]
fn every_server_closes_a_connection_idle_for_its_idle_timeout_and_none_by_default() {
    // Started together, so that their timeouts run at the same time. (`starttls_echo`
    // makes its certificate with the `test-certificates` feature.)
    let mut names = vec!["line_echo", "greeting_server", "echo"];
    if cfg!(feature = "test-certificates") {
        names.push("starttls_echo");
    }
    let servers: Vec<(&str, Server)> = names
        .into_iter()
        .map(|name| (name, start_server_with(name, &["--idle-timeout", "1"])))
        .collect();
    let untimed = start_server("line_echo");
    let mut silent: Vec<(&str, TcpStream)> = servers
        .iter()
        .map(|(name, server)| (*name, connect_to(&server.address)))
        .collect();
    let mut patient = connect_to(&untimed.address);
    for (name, stream) in &mut silent {
        stream
            .set_read_timeout(Some(IDLE_BOUND))
            .expect("a read timeout can be set");
        match uninterrupted(|| stream.read(&mut [0; 64])) {
            Ok(0) => {}
            other => panic!("{name} with --idle-timeout 1: {other:?}, not a clean close"),
        }
    }
    // The timeouts have passed: a server without the flag still holds its idle peer.
    patient
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("a read timeout can be set");
    match uninterrupted(|| patient.read(&mut [0; 64])) {
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("line_echo without --idle-timeout: {other:?} from an idle connection"),
    }
    // A timed-out connection is only that one: each server still serves.
    for (name, server) in &servers[..2] {
        let answer = ask(&server.address, "Bob");
        assert!(answer.contains("Bob"), "{name}: {answer:?}");
    }
}

#[test]
fn a_server_at_its_connection_limit_serves_the_next_connection_once_one_closes() {
    let server = start_server_with("line_echo", &["--max-connections", "2"]);
    let mut first = connect_to(&server.address);
    let mut second = connect_to(&server.address);
    assert_eq!(exchange_on(&mut first, "first"), "first");
    assert_eq!(exchange_on(&mut second, "second"), "second");
    // The third connects (the kernel queues it) but is not accepted while two are open.
    let mut third = connect_to(&server.address);
    third.write_all(b"third\r\n").expect("the kernel takes it");
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("a read timeout can be set");
    match uninterrupted(|| third.read(&mut [0; 64])) {
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("a third connection was served beyond the limit: {other:?}"),
    }
    drop(first);
    third
        .set_read_timeout(Some(LIMIT))
        .expect("a read timeout can be set");
    assert_eq!(read_line_on(&mut third), "third");
    assert_eq!(exchange_on(&mut second, "still"), "still");
}

#[test]
fn a_server_refuses_an_unusable_idle_timeout_limit_or_deadline() {
    for (flag, value, expected) in [
        ("--idle-timeout", "0", "positive number of seconds"),
        ("--idle-timeout", "soon", "positive number of seconds"),
        ("--stop-deadline", "-1", "positive number of seconds"),
        ("--max-connections", "0", "at least 1"),
        ("--max-connections", "many", "expects a number"),
    ] {
        let run = run_example("echo", &["--port", "0", flag, value]);
        assert_usage_error(&run, expected);
        assert!(run.stderr.contains(flag), "{}: {}", run.what, run.stderr);
    }
}

// ---- stopping on signals ----

/// How many clients are mid-stream when the server is told to stop.
#[cfg(unix)]
const STREAMING_CLIENTS: usize = 200;

/// What a streaming client writes at a time: a few lines, cut anywhere (mostly inside a
/// line), so that the server often holds half a line when it stops.
#[cfg(unix)]
const CHUNK: usize = 500;

/// Chunks each client has had answered before the signal is sent.
#[cfg(unix)]
const ROUNDS_BEFORE_READY: usize = 3;

/// Less than the stop deadline a server has by default (10 s), so that a stop within it
/// is the one the test asked for, and far more than a stop needs.
#[cfg(unix)]
const STOP_BOUND: Duration = Duration::from_secs(8);

/// What a streaming client sent and got back.
#[cfg(unix)]
struct Streamed {
    client: usize,
    sent: Vec<u8>,
    received: Vec<u8>,
    /// How reading ended: `Ok` at EOF (the server's FIN), else the error's kind.
    end: Result<(), std::io::ErrorKind>,
}

#[cfg(unix)]
impl Streamed {
    /// The length of `sent` up to the end of its last whole line.
    fn whole_lines(&self) -> usize {
        line_boundary(&self.sent)
    }
}

/// The length of `bytes` up to the end of its last whole line.
#[cfg(unix)]
fn line_boundary(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |end| end + 1)
}

/// The next `CHUNK` bytes of `client`'s endless numbered lines; `lines` holds what was
/// made and not yet taken, `next` the next line's number.
#[cfg(unix)]
fn next_chunk(client: usize, lines: &mut Vec<u8>, next: &mut usize) -> Vec<u8> {
    while lines.len() < CHUNK {
        let line = format!("client {client} line {next} {}\r\n", "x".repeat(40));
        lines.extend_from_slice(line.as_bytes());
        *next += 1;
    }
    lines.drain(..CHUNK).collect()
}

/// Writes `data`, adding to `sent` what the stream took; `false` once the stream refuses
/// (the server has closed).
#[cfg(unix)]
fn send_counted(stream: &mut TcpStream, mut data: &[u8], sent: &mut Vec<u8>) -> bool {
    while !data.is_empty() {
        match uninterrupted(|| stream.write(data)) {
            Ok(0) => return false,
            Ok(count) => {
                sent.extend_from_slice(&data[..count]);
                data = &data[count..];
            }
            Err(_) => return false,
        }
    }
    true
}

/// One client of the mid-stream stop: writes chunks of lines, one chunk always in
/// flight (it sends a chunk, then waits for the echo of every whole line sent before
/// it), says `ready` after a few rounds, and goes on until it sees `signalled` or the
/// server's end; then reads until the connection ends.
#[cfg(unix)]
fn stream_until_signalled(
    client: usize,
    address: SocketAddr,
    signalled: &AtomicBool,
    ready: &mpsc::Sender<()>,
) -> std::io::Result<Streamed> {
    let mut stream = TcpStream::connect_timeout(&address, LIMIT)?;
    stream.set_read_timeout(Some(LIMIT))?;
    let (mut sent, mut received, mut lines, mut next) = (Vec::new(), Vec::new(), Vec::new(), 0);
    let mut buffer = [0; 4096];
    let mut rounds = 0;
    let mut end = None;
    'streaming: while !signalled.load(Ordering::SeqCst) {
        let answered_before = line_boundary(&sent);
        if !send_counted(
            &mut stream,
            &next_chunk(client, &mut lines, &mut next),
            &mut sent,
        ) {
            break;
        }
        while received.len() < answered_before {
            match uninterrupted(|| stream.read(&mut buffer)) {
                Ok(0) => {
                    end = Some(Ok(()));
                    break 'streaming;
                }
                Ok(count) => received.extend_from_slice(&buffer[..count]),
                Err(error) => {
                    end = Some(Err(error.kind()));
                    break 'streaming;
                }
            }
        }
        rounds += 1;
        if rounds == ROUNDS_BEFORE_READY {
            let _ = ready.send(());
        }
    }
    let end = end.unwrap_or_else(|| loop {
        match uninterrupted(|| stream.read(&mut buffer)) {
            Ok(0) => break Ok(()),
            Ok(count) => received.extend_from_slice(&buffer[..count]),
            Err(error) => break Err(error.kind()),
        }
    });
    Ok(Streamed {
        client,
        sent,
        received,
        end,
    })
}

/// What is wrong with what a streaming client got, if anything: the server answers what
/// it read in whole lines, in order, nothing of a line it had only half of, then closes
/// with a FIN.
#[cfg(unix)]
fn streaming_fault(streamed: &Streamed) -> Option<String> {
    let Streamed {
        client,
        sent,
        received,
        end,
    } = streamed;
    if let Err(kind) = end {
        return Some(format!(
            "client {client}: the connection ended with {kind:?}, not a FIN"
        ));
    }
    if !sent.starts_with(received) {
        return Some(format!(
            "client {client}: the echo differs from what was sent"
        ));
    }
    if line_boundary(received) != received.len() {
        return Some(format!("client {client}: the echo ends in a torn line"));
    }
    None
}

#[cfg(unix)]
#[test]
fn line_echo_stopped_by_sigterm_mid_stream_answers_200_clients_in_whole_lines_then_closes() {
    let mut server = start_server("line_echo");
    let address: SocketAddr = server.address.parse().expect("a socket address");
    let signalled = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = mpsc::channel();
    let clients: Vec<_> = (0..STREAMING_CLIENTS)
        .map(|client| {
            let (signalled, ready) = (signalled.clone(), ready_tx.clone());
            thread::spawn(move || {
                stream_until_signalled(client, address, &signalled, &ready)
                    .map_err(|error| format!("client {client}: {error}"))
            })
        })
        .collect();
    for count in 0..STREAMING_CLIENTS {
        ready
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("only {count} clients streaming within {LIMIT:?}"));
    }
    // Every client is writing: the signal comes in the middle of their streams.
    send_signal(&server, "TERM");
    signalled.store(true, Ordering::SeqCst);
    let status = wait_for_exit(&mut server, LIMIT, "SIGTERM");
    assert!(
        status.success(),
        "line_echo exited with {status} on SIGTERM"
    );
    let streamed: Vec<Streamed> = clients
        .into_iter()
        .map(|client| client.join().expect("a client thread does not panic"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("{error}"));
    let faults: Vec<String> = streamed.iter().filter_map(streaming_fault).collect();
    let unanswered = streamed
        .iter()
        .filter(|streamed| streamed.received.len() < streamed.whole_lines())
        .count();
    assert!(
        faults.is_empty(),
        "{} of {STREAMING_CLIENTS} clients ({unanswered} had whole lines unanswered): {:#?}",
        faults.len(),
        &faults[..faults.len().min(10)]
    );
}

#[cfg(unix)]
#[test]
fn on_sigterm_a_server_aborts_a_peer_that_never_reads_at_its_stop_deadline() {
    let (mut server, log) =
        start_logging_server("line_echo", &["--port", "0", "--stop-deadline", "1"], None);
    let (_stuck, _) = send_until_the_server_stops_reading(&server.address, "line_echo");
    // Its stop cannot finish: the peer never takes the echoes waiting for it.
    send_signal(&server, "TERM");
    let status = wait_for_exit(&mut server, STOP_BOUND, "SIGTERM with --stop-deadline 1");
    assert!(status.success(), "line_echo exited with {status}");
    let log = remaining_lines(&log);
    assert!(
        log.iter()
            .any(|line| line.contains("stop deadline passed; aborting the connections still open")),
        "{log:#?}"
    );
}

#[cfg(unix)]
#[test]
fn a_second_signal_aborts_a_stop_that_waits_for_a_peer_that_never_reads() {
    for (first, second) in [("TERM", "INT"), ("INT", "TERM")] {
        let (mut server, log) = start_logging_server(
            "line_echo",
            &["--port", "0", "--stop-deadline", "600"],
            Some("torsade=info"),
        );
        let (_stuck, _) = send_until_the_server_stops_reading(&server.address, "line_echo");
        send_signal(&server, first);
        wait_for_line(&log, &format!("SIG{first}: stopping"));
        let running = server
            .running
            .child
            .try_wait()
            .expect("the server can be polled");
        assert!(running.is_none(), "the stop did not wait for the peer");
        send_signal(&server, second);
        let status = wait_for_exit(&mut server, STOP_BOUND, &format!("SIG{first}, SIG{second}"));
        assert!(status.success(), "line_echo exited with {status}");
        let log = remaining_lines(&log);
        assert!(
            log.iter()
                .any(|line| line.contains(&format!("SIG{second} again: aborting every connection"))),
            "{log:#?}"
        );
    }
}

// ---- a socket passed by the service manager ----

/// Binds a TCP socket on 127.0.0.1, prints `passed ADDR`, and runs the program named by
/// its arguments with the socket as file descriptor 3 and `LISTEN_FDS=1`,
/// `LISTEN_PID=<its pid>`: what systemd does for a socket-activated service. (The pid is
/// the one `exec` keeps, so the variables must be set by the process that `exec`s.)
#[cfg(unix)]
const SYSTEMD_PASS: &str = r#"
import os, socket, sys
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print("passed %s:%d" % listener.getsockname(), flush=True)
if listener.fileno() != 3:
    os.dup2(listener.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1], sys.argv[1:])
"#;

/// Runs example `name` with `args` the way systemd starts a socket-activated service,
/// through `python3` (see [`SYSTEMD_PASS`]), which prints `passed ADDR` first.
#[cfg(unix)]
fn with_a_passed_socket(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(SYSTEMD_PASS)
        .arg(example_path(name))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .stdin(Stdio::null());
    command
}

#[cfg(unix)]
#[test]
fn line_echo_serves_a_socket_passed_as_systemd_does() {
    let args = ["--listen", "systemd:domain=INET:index=0"];
    let mut command = with_a_passed_socket("line_echo", &args);
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut running = Running::spawn(
        command,
        "python3 (it passes the socket as systemd does: install python3)",
    );
    let lines = lines_in_background(running.child.stdout.take().expect("stdout is piped"));
    let passed = lines
        .recv_timeout(LIMIT)
        .expect("python3 says which socket it passes");
    let passed = passed
        .strip_prefix("passed ")
        .unwrap_or_else(|| panic!("python3 printed {passed:?}"))
        .to_string();
    let address = listening_address(&lines, "line_echo");
    assert_eq!(address, passed, "line_echo listens on the socket passed");
    let mut server = Server {
        address,
        running,
        lines,
    };
    assert_eq!(
        ask(&server.address, "over a passed socket"),
        "over a passed socket"
    );
    // exec kept the pid: the signal reaches line_echo.
    assert!(signal(&mut server, "TERM").success());
}

#[cfg(unix)]
#[test]
fn a_server_told_to_use_a_socket_that_was_not_passed_says_so_and_exits_1() {
    let mut command = example("line_echo", &["--listen", "systemd:domain=INET:index=0"]);
    command.env_remove("LISTEN_FDS").env_remove("LISTEN_PID");
    let run = run_to_end(command, "line_echo with no socket passed".to_string(), None);
    assert_eq!(run.status.code(), Some(1), "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    let errors = run.stderr_lines();
    assert_eq!(errors.len(), 1, "stderr: {}", run.stderr);
    assert!(
        errors[0].contains("no socket 0 was passed"),
        "{}",
        errors[0]
    );

    // A socket of another family than the endpoint says.
    let command = with_a_passed_socket("line_echo", &["--listen", "systemd:domain=INET6:index=0"]);
    let run = run_to_end(
        command,
        "python3 (to pass an IPv4 socket to line_echo for INET6: install python3)".to_string(),
        None,
    );
    let error = run.failure_with(1);
    assert!(error.contains("is bound to 127.0.0.1:"), "{}", error);
}

// ---- the time examples: heartbeat and fate ----

#[test]
fn heartbeat_beats_every_second_and_stops_after_its_beats() {
    for style in [&[][..], &["--async"][..]] {
        let args = [style, &["--fake-clock"]].concat();
        let run = run_example("heartbeat", &args);
        assert_eq!(
            run.success(),
            [
                "[0.0 s] beat 1",
                "[1.0 s] beat 2",
                "[2.0 s] beat 3",
                "[3.0 s] beat 4",
                "[4.0 s] beat 5",
                "[4.0 s] stopping after 5 beats",
            ],
            "{args:?}"
        );
    }
}

#[test]
fn heartbeat_after_a_slow_beat_skips_the_beats_it_missed_and_counts_them() {
    let run = run_example(
        "heartbeat",
        &["--beats", "6", "--slow-beat", "3", "--fake-clock"],
    );
    assert_eq!(
        run.success(),
        [
            "[0.0 s] beat 1",
            "[1.0 s] beat 2",
            "[2.0 s] beat 3, slow: busy for 2.5 s",
            "[5.0 s] beat 4 (2 missed)",
            "[6.0 s] beat 5",
            "[7.0 s] beat 6",
            "[7.0 s] stopping after 6 beats",
        ]
    );
}

#[test]
fn heartbeat_as_a_task_late_for_a_tick_takes_it_late_and_counts_the_next() {
    let run = run_example(
        "heartbeat",
        &[
            "--async",
            "--beats",
            "6",
            "--slow-beat",
            "3",
            "--fake-clock",
        ],
    );
    assert_eq!(
        run.success(),
        [
            "[0.0 s] beat 1",
            "[1.0 s] beat 2",
            "[2.0 s] beat 3, slow: busy for 2.5 s",
            "[4.5 s] beat 4",
            "[5.0 s] beat 5 (1 missed)",
            "[6.0 s] beat 6",
            "[6.0 s] stopping after 6 beats",
        ]
    );
}

#[test]
fn heartbeat_refuses_zero_beats() {
    let run = run_example("heartbeat", &["--beats", "0", "--fake-clock"]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        run.stderr_lines().first(),
        Some(&"error: --beats must be at least 1")
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn fate_runs_both_scenarios_and_shows_it_polls_and_fires_late_where_the_reactor_does_not() {
    let run = run_example("fate", &["--fake-clock"]);
    assert_eq!(
        run.success(),
        [
            "== firecracker, 1.5 s fuse, on Fate (a pass over the fuses every 0.2 s)",
            "[0.0 s] The Mad Hatter lights the fuse: it burns for 1.5 s",
            "[1.0 s] The Mad Hatter hands the firecracker to Ben Eills",
            "[1.6 s] BOOM! Firecracker exploded in the unlucky hands of Ben Eills",
            "[3.6 s] Shutting down",
            "== firecracker, 1.5 s fuse, on the reactor",
            "[0.0 s] The Mad Hatter lights the fuse: it burns for 1.5 s",
            "[1.0 s] The Mad Hatter hands the firecracker to Ben Eills",
            "[1.5 s] BOOM! Firecracker exploded in the unlucky hands of Ben Eills",
            "[3.5 s] Shutting down",
            "== firecracker, 1.5 s fuse: how late each fuse fired, and how often each loop woke up",
            "                                          Fate    reactor",
            "  hand the firecracker to Ben Eills      +0 ms      +0 ms",
            "  light the fuse                         +0 ms      +0 ms",
            "  explode (1.5 s fuse)                 +100 ms      +0 ms",
            "  shut down                              +0 ms      +0 ms",
            "  woke up                             19 times    3 times",
            "== chain of 8 fuses, on Fate (a pass over the fuses every 0.2 s)",
            "[0.0 s] ...igniting next fuse in chain... (fuse 1 of 8, burns 0.6 s)",
            "[0.6 s] ...igniting next fuse in chain... (fuse 2 of 8, burns 0.5 s)",
            "[1.2 s] ...igniting next fuse in chain... (fuse 3 of 8, burns 0.4 s)",
            "[1.6 s] ...igniting next fuse in chain... (fuse 4 of 8, burns 0.3 s)",
            "[2.0 s] ...igniting next fuse in chain... (fuse 5 of 8, burns 0.2 s)",
            "[2.2 s] ...igniting next fuse in chain... (fuse 6 of 8, burns 0.1 s)",
            "[2.4 s] ...igniting next fuse in chain... (fuse 7 of 8, burns 0.0 s)",
            "[2.6 s] ...igniting next fuse in chain... (fuse 8 of 8, burns 0.3 s, tied to the barrel)",
            "[3.0 s] Boom! The Houses of Parliament explode!",
            "== chain of 8 fuses, on the reactor",
            "[0.0 s] ...igniting next fuse in chain... (fuse 1 of 8, burns 0.6 s)",
            "[0.6 s] ...igniting next fuse in chain... (fuse 2 of 8, burns 0.5 s)",
            "[1.1 s] ...igniting next fuse in chain... (fuse 3 of 8, burns 0.4 s)",
            "[1.5 s] ...igniting next fuse in chain... (fuse 4 of 8, burns 0.3 s)",
            "[1.8 s] ...igniting next fuse in chain... (fuse 5 of 8, burns 0.2 s)",
            "[2.0 s] ...igniting next fuse in chain... (fuse 6 of 8, burns 0.1 s)",
            "[2.1 s] ...igniting next fuse in chain... (fuse 7 of 8, burns 0.0 s)",
            "[2.1 s] ...igniting next fuse in chain... (fuse 8 of 8, burns 0.3 s, tied to the barrel)",
            "[2.4 s] Boom! The Houses of Parliament explode!",
            "== chain of 8 fuses: how late each fuse fired, and how often each loop woke up",
            "                       Fate    reactor",
            "  fuse 1 (0.6 s)      +0 ms      +0 ms",
            "  fuse 2 (0.5 s)    +100 ms      +0 ms",
            "  fuse 3 (0.4 s)      +0 ms      +0 ms",
            "  fuse 4 (0.3 s)    +100 ms      +0 ms",
            "  fuse 5 (0.2 s)      +0 ms      +0 ms",
            "  fuse 6 (0.1 s)    +100 ms      +0 ms",
            "  fuse 7 (0.0 s)    +200 ms      +0 ms",
            "  fuse 8 (0.3 s)    +100 ms      +0 ms",
            "  woke up          16 times    7 times",
        ]
    );
}

#[test]
fn fate_skips_the_fuse_after_one_it_removes_until_its_next_pass() {
    // With a 1.0 s fuse, the hand-over and the explosion are due together: Fate removes
    // the hand-over's fuse from the list it is iterating, as the article's Python does,
    // which skips the explosion's fuse until the next pass, 0.2 s later.
    let run = run_example(
        "fate",
        &["--fuse-ms", "1000", "--length", "1", "--fake-clock"],
    );
    let lines = run.success();
    assert!(lines.contains(&"[1.2 s] BOOM! Firecracker exploded in the unlucky hands of Ben Eills"));
    assert!(lines.contains(&"[1.0 s] BOOM! Firecracker exploded in the unlucky hands of Ben Eills"));
    assert!(lines.contains(&"  explode (1.0 s fuse)                 +200 ms      +0 ms"));
    assert!(lines.contains(&"  woke up                             17 times    2 times"));
}

#[test]
fn fate_refuses_a_chain_of_no_fuses() {
    let run = run_example("fate", &["--length", "0", "--fake-clock"]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        run.stderr_lines().first(),
        Some(&"error: a chain has 1 to 1000 fuses")
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn udp_echo_client_prints_the_echo_of_each_argument_and_each_stdin_line() {
    let server = start_server("udp_echo");
    let arguments = run_example(
        "udp_echo",
        &["--connect", &server.address, "one", "two words"],
    );
    assert_eq!(arguments.success(), ["one", "two words"]);
    let stdin = run_to_end(
        example("udp_echo", &["--connect", &server.address]),
        "udp_echo --connect (stdin)".to_string(),
        Some("three\nfour\n"),
    );
    assert_eq!(stdin.success(), ["three", "four"]);
}

#[test]
fn udp_echo_listens_where_a_udp_endpoint_string_says() {
    let server = start_server_exactly("udp_echo", &["--listen", "udp:0:interface=127.0.0.1"]);
    assert!(
        server.address.starts_with("127.0.0.1:"),
        "{}",
        server.address
    );
    let run = run_example("udp_echo", &["--connect", &server.address, "by endpoint"]);
    assert_eq!(run.success(), ["by endpoint"]);
}

#[test]
fn udp_echo_refuses_a_malformed_listen_or_one_with_port() {
    let run = run_example("udp_echo", &["--listen", "udp:0:backlog=5"]);
    assert_usage_error(&run, "\"udp:0:backlog=5\"");
    assert!(run.stderr.contains("backlog"), "{}", run.stderr);
    let run = run_example("udp_echo", &["--listen", "udp:0", "--port", "0"]);
    assert_usage_error(&run, "--listen or --port");
    let run = run_example("udp_echo", &["--listen"]);
    assert_usage_error(&run, "--listen needs an endpoint, such as udp:9007");
}

#[test]
fn udp_echo_client_fails_on_a_refusal() {
    let absent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port on loopback");
    let address = absent.local_addr().expect("its address").to_string();
    drop(absent);
    let run = run_example("udp_echo", &["--connect", &address, "hello"]);
    assert_eq!(run.failure_with(1), format!("error: {address} refused"));
}

#[test]
fn udp_echo_client_gives_up_after_its_retries() {
    // Bound, so nothing refuses, but never answering.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port on loopback");
    let address = silent.local_addr().expect("its address").to_string();
    let run = run_example(
        "udp_echo",
        &[
            "--connect",
            &address,
            "--timeout",
            "0.05",
            "--retries",
            "2",
            "hello",
        ],
    );
    assert_eq!(
        run.failure_with(1),
        format!("error: no echo of \"hello\" from {address} after 3 tries")
    );
    let mut buffer = [0; 16];
    silent
        .set_read_timeout(Some(LIMIT))
        .expect("a read timeout can be set");
    for _ in 0..3 {
        let (length, _) = silent.recv_from(&mut buffer).expect("each try arrived");
        assert_eq!(&buffer[..length], b"hello");
    }
}

/// `stdio_lines` answers each line of its stdin on its stdout, as a server answers a
/// socket: sums, an error that does not end the session, and `quit`, after which nothing is
/// read.
#[test]
fn stdio_lines_answers_each_line_of_stdin_until_quit() {
    let run = run_to_end(
        example("stdio_lines", &[]),
        "stdio_lines".to_string(),
        Some("1 2 3\n40 -2\r\nten\n\nquit\n7 7\n"),
    );
    assert_eq!(
        run.success(),
        ["6", "38", "error: not a number: ten", "0", "bye"]
    );
}

/// The end of stdin ends `stdio_lines` as a peer's EOF ends a connection: every whole line
/// is answered, the unfinished last one is not, and it exits 0.
#[test]
fn stdio_lines_exits_at_the_end_of_stdin() {
    let run = run_to_end(
        example("stdio_lines", &[]),
        "stdio_lines".to_string(),
        Some("5 5\n7"),
    );
    assert_eq!(run.success(), ["10"]);
}

/// `process_lines` runs `cat` fed its own stdin, a line receiver on `cat`'s stdout: each
/// line comes back numbered, then the status once stdin's end has closed `cat`'s.
#[test]
fn process_lines_numbers_the_lines_of_a_command_fed_its_stdin() {
    let run = run_to_end(
        example("process_lines", &["cat"]),
        "process_lines cat".to_string(),
        Some("first\nsecond\n"),
    );
    assert_eq!(
        run.success(),
        ["1: first", "2: second", "ended: exit code 0"]
    );
}

/// The command's exit code and its stderr (this program's) come through; the output read
/// before the end is all printed before the status.
#[test]
fn process_lines_reports_the_exit_code_after_the_output() {
    let run = run_to_end(
        example(
            "process_lines",
            &["sh", "-c", "echo one; echo oops >&2; echo two; exit 3"],
        ),
        "process_lines sh -c ...".to_string(),
        None,
    );
    assert!(run.status.success(), "{}", run.described());
    assert_eq!(
        run.stdout_lines(),
        ["1: one", "2: two", "ended: exit code 3"]
    );
    assert_eq!(run.stderr_lines(), ["oops"]);
}

#[test]
fn process_lines_reports_a_command_killed_by_a_signal() {
    let run = run_to_end(
        example("process_lines", &["sh", "-c", "echo before; kill -TERM $$"]),
        "process_lines sh -c 'kill -TERM $$'".to_string(),
        None,
    );
    assert_eq!(run.success(), ["1: before", "ended: killed by signal 15"]);
}

#[test]
fn process_lines_names_a_command_that_cannot_be_started() {
    let missing = "torsade-example-no-such-program";
    let run = run_to_end(
        example("process_lines", &[missing]),
        format!("process_lines {missing}"),
        None,
    );
    let error = run.failure_with(1);
    assert!(error.contains(missing), "{}", run.described());
}
