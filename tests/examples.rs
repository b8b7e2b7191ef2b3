//! The examples' command-line contracts: each example binary is run as a user would run it,
//! and what it prints is checked.
//!
//! The binaries are the ones next to this test, in `target/<profile>/examples/`; the test
//! brings them up to date first (see `build_examples`), so `cargo test --test examples`
//! alone tests the current code. Timer examples run with `--fake-clock`, so their exact
//! output is checked with no waiting; every wait on a child process or a socket is bounded
//! by [`LIMIT`], and every child is killed when its test ends, failed or not.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

/// The bound on any one wait: a hung example fails its test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(60);

/// The examples this file runs.
const EXAMPLES: [&str; 9] = [
    "blocking_vs_async",
    "firecracker",
    "fuse_chain",
    "greeting_coroutine",
    "greeting_getter",
    "greeting_server",
    "line_echo",
    "slow_multiply",
    "slow_square",
];

/// The bound on building the examples (a first build compiles the whole crate).
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// The path of the example binary `name`, next to this test's own executable.
fn example_path(name: &str) -> PathBuf {
    let path = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build the examples first (`cargo build --examples`)",
        path.display()
    );
    path
}

/// `target/<profile>/examples`, once the examples in it are up to date.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let test_exe = std::env::current_exe().expect("the test knows its own path");
        // target/<profile>/deps/examples-HASH  ->  target/<profile>
        let profile_dir = test_exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps");
        build_examples(profile_dir);
        profile_dir.join("examples")
    })
}

/// Builds [`EXAMPLES`] with the cargo that runs this test, into the same target directory
/// and profile, with the same features; a no-op when they are fresh. Plain `cargo test` builds them anyway, but
/// `cargo test --test examples` does not, and a stale binary would test old code. When the
/// test was not started by cargo (no `CARGO` variable), the binaries are used as they are.
fn build_examples(profile_dir: &Path) {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
    let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--profile", profile, "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // The examples get the features this test was built with (the TLS ones need them).
    let features: Vec<&str> = [
        ("default", cfg!(feature = "default")),
        ("tls", cfg!(feature = "tls")),
        ("test-certificates", cfg!(feature = "test-certificates")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    command.args(["--no-default-features", "--features", &features.join(",")]);
    for name in EXAMPLES {
        command.args(["--example", name]);
    }
    let mut running = Running::spawn(command, "cargo build --example ...");
    let errors = read_to_end_in_background(running.child.stderr.take().expect("stderr is piped"));
    let errors = errors
        .recv_timeout(BUILD_LIMIT)
        .unwrap_or_else(|_| panic!("building the examples took over {BUILD_LIMIT:?}"));
    let status = running.child.wait().expect("cargo can be waited for");
    assert!(status.success(), "building the examples failed:\n{errors}");
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

/// A running child process, killed and reaped when dropped.
struct Running {
    child: Child,
}

impl Running {
    fn spawn(mut command: Command, what: &str) -> Running {
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
        Running { child }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Both fail only if the child has already exited and been reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads everything from `source` on a thread of its own; the text arrives on the channel.
fn read_to_end_in_background(mut source: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error ends the text where it happened; the assertions then show it.
        let _ = source.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

/// What an example printed, and how it exited.
struct Finished {
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// Asserts the example exited 0 with nothing on stderr, and returns its stdout lines.
    fn success(&self) -> Vec<&str> {
        assert!(
            self.status.success() && self.stderr.is_empty(),
            "{} exited with {}\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        self.stdout_lines()
    }
}

/// Runs example `name` with `args` to its end.
fn run_example(name: &str, args: &[&str]) -> Finished {
    run_to_end(example(name, args), format!("{name} {}", args.join(" ")))
}

/// Runs `command` (an [`example`]) to its end, its output captured through pipes.
fn run_to_end(mut command: Command, what: String) -> Finished {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut running = Running::spawn(command, &what);
    let stdout = read_to_end_in_background(running.child.stdout.take().expect("stdout is piped"));
    let stderr = read_to_end_in_background(running.child.stderr.take().expect("stderr is piped"));
    let receive = |text: Receiver<String>| {
        text.recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
    };
    let (stdout, stderr) = (receive(stdout), receive(stderr));
    // Both pipes are closed: the process is exiting.
    let status = running.child.wait().expect("the example can be waited for");
    Finished {
        what,
        status,
        stdout,
        stderr,
    }
}

/// A server example running in the background, killed when dropped.
struct Server {
    address: String,
    running: Running,
    /// The rest of the server's output, line by line (also keeps the reader's channel
    /// open).
    lines: Receiver<String>,
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
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut running = Running::spawn(command, &format!("{name} {}", args.join(" ")));
    let lines = lines_in_background(running.child.stdout.take().expect("stdout is piped"));
    let address = listening_address(&lines, name);
    Server {
        address,
        running,
        lines,
    }
}

/// The address in a server's first line, `listening on ADDR`.
fn listening_address(lines: &Receiver<String>, name: &str) -> String {
    let first = lines
        .recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{name} printed no first line within {LIMIT:?}"));
    first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{name}'s first line is {first:?}, not `listening on ADDR`"))
        .to_string()
}

/// Sends each line of `stdout` (or any other output) on the channel as it arrives.
fn lines_in_background(stdout: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
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
    let run = run_to_end(command, "greeting_getter with debug logs".to_string());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert!(run.stderr.contains("DEBUG"), "no log: {}", run.stderr);
    assert!(!run.stderr.contains("\x1b["), "{:?}", run.stderr);
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
fn greeting_getter_against_a_refused_port_fails_with_one_line() {
    // A port that was just free: nothing listens there now.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("a bound address").to_string();
    drop(listener);

    let run = run_example("greeting_getter", &["--connect", &address]);
    assert!(!run.status.success(), "a refused connection exited 0");
    assert_eq!(run.stderr_lines().len(), 1, "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
}

#[test]
fn line_echo_echoes_a_line() {
    let server = start_server("line_echo");
    assert_eq!(ask(&server.address, "echo me"), "echo me");
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
        match stream.read(&mut buffer) {
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
    let pid = server.running.child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{name} {pid} failed");
    // Its stdout closes when it exits: the reader's channel then disconnects.
    loop {
        match server.lines.recv_timeout(LIMIT) {
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the server did not stop within {LIMIT:?} of SIG{name}")
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
    fn certificate_files(tag: &str) -> (TempDir, String, String, String) {
        let dir = TempDir::new(tag);
        let certificates =
            TestCertificates::new(&["localhost", "127.0.0.1"]).expect("certificates");
        let (ca, cert, key) = certificates.write_to(&dir.0).expect("PEM files");
        let text = |path: PathBuf| path.to_str().expect("a UTF-8 temp path").to_string();
        (dir, text(ca), text(cert), text(key))
    }

    /// Starts server example `name` on TLS with `cert` and `key`.
    fn start_tls_server(name: &str, cert: &str, key: &str) -> Server {
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
