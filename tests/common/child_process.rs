//! Child processes for tests that run programs as a user would — the examples, and the
//! independent peers they are tested against: building the examples, starting a program
//! killed when its test ends, reading its output within a bound, and the first line of a
//! server, `listening on ADDR`.
//!
//! Used as `#[path = "common/child_process.rs"] mod child_process;` (by `examples.rs` and
//! `websocket_interop.rs`): it needs nothing from torsade, so a test that only runs
//! programs does not compile `common/mod.rs`.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

/// The bound on any one wait for a child: a hung program fails its test instead of hanging
/// it.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The bound on building the examples (a first build compiles the whole crate).
pub const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// `target/<profile>/examples`, next to the running test's own executable.
pub fn examples_dir() -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/NAME-HASH  ->  target/<profile>
    test_exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps")
        .join("examples")
}

/// The path of example binary `name` in [`examples_dir`].
pub fn example_path(name: &str) -> PathBuf {
    let path = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build the examples first (`cargo build --examples`)",
        path.display()
    );
    path
}

/// The root crate's features this test was built with.
pub fn test_features() -> Vec<&'static str> {
    [
        ("default", cfg!(feature = "default")),
        ("tls", cfg!(feature = "tls")),
        ("test-certificates", cfg!(feature = "test-certificates")),
        ("codec", cfg!(feature = "codec")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// Builds the examples `names` with the cargo that runs this test, into the same target
/// directory and profile, with the [`test_features`] (the whole workspace's features when
/// they are all on), so that nothing is rebuilt for other features and the examples that
/// need a feature have it; a no-op when they are fresh.
/// `cargo test --test NAME` does not build the examples, and a stale binary would test old
/// code. When the test was not started by cargo (no `CARGO` variable), the binaries are
/// used as they are.
pub fn build_examples(names: &[&str]) {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let examples = examples_dir();
    let profile_dir = examples.parent().expect("examples/ has a parent");
    let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
    let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let mut command = Command::new(cargo);
    // Cargo gives this test the variables it gives a crate being built (the package's
    // name, version and directory...). Build scripts (ring's, cc's) rerun when those
    // change, so passed on they would rebuild the dependencies here and again at the next
    // `cargo test`.
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        let crate_variable = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CFG_",
            "CARGO_CRATE_",
        ]
        .iter()
        .any(|prefix| name_text.starts_with(prefix))
            || ["OUT_DIR", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"].contains(&&*name_text);
        if crate_variable {
            command.env_remove(&name);
        }
    }
    command
        .args(["build", "--quiet", "--profile", profile, "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    let features = test_features();
    if ["tls", "test-certificates", "codec"]
        .iter()
        .all(|feature| features.contains(feature))
    {
        // The README's `cargo test --workspace --all-features`: the same selection gives
        // the same features to every crate, so nothing is built twice (another selection
        // would build the dependencies again, and relink the examples on every run).
        command.args(["--workspace", "--all-features"]);
    } else {
        command.args(["--no-default-features", "--features", &features.join(",")]);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for name in names {
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

/// A running child process, killed and reaped when dropped.
pub struct Running {
    pub child: Child,
}

impl Running {
    pub fn spawn(mut command: Command, what: &str) -> Running {
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
pub fn read_to_end_in_background(mut source: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error ends the text where it happened; the assertions then show it.
        let _ = source.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

/// Sends each line of `output` on the channel as it arrives.
pub fn lines_in_background(output: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// What a program printed, and how it exited.
pub struct Finished {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// Asserts the program exited 0 with nothing on stderr, and returns its stdout lines.
    pub fn success(&self) -> Vec<&str> {
        assert!(
            self.status.success() && self.stderr.is_empty(),
            "{}",
            self.described()
        );
        self.stdout_lines()
    }

    /// Asserts the program failed (a non-zero exit) and said exactly one line on stderr,
    /// and returns that line.
    pub fn failure(&self) -> &str {
        let errors = self.stderr_lines();
        assert!(
            !self.status.success() && errors.len() == 1,
            "expected a failure with one line on stderr: {}",
            self.described()
        );
        errors[0]
    }

    /// [`Finished::failure`], with exit code `code`.
    pub fn failure_with(&self, code: i32) -> &str {
        assert_eq!(self.status.code(), Some(code), "{}", self.described());
        self.failure()
    }

    /// The command, its exit status and its output, for an assertion's message.
    pub fn described(&self) -> String {
        format!(
            "{} exited with {}\nstdout:\n{}\nstderr:\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to its end, its output captured through pipes and `input` written to
/// its standard input (which is then closed; with `None` it reads nothing).
pub fn run_to_end(command: Command, what: String, input: Option<&str>) -> Finished {
    try_run_to_end(command, what.clone(), input)
        .unwrap_or_else(|error| panic!("cannot start {what}: {error}"))
}

/// [`run_to_end`], or the error that kept `command` from starting.
pub fn try_run_to_end(
    mut command: Command,
    what: String,
    input: Option<&str>,
) -> io::Result<Finished> {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = Running {
        child: command.spawn()?,
    };
    if let Some(input) = input {
        let mut stdin = running.child.stdin.take().expect("stdin is piped");
        // A program that exits without reading all of it fails its assertions instead.
        let _ = stdin.write_all(input.as_bytes());
    }
    let stdout = read_to_end_in_background(running.child.stdout.take().expect("stdout is piped"));
    let stderr = read_to_end_in_background(running.child.stderr.take().expect("stderr is piped"));
    let receive = |text: Receiver<String>| {
        text.recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
    };
    let (stdout, stderr) = (receive(stdout), receive(stderr));
    // Both pipes are closed: the process is exiting.
    let status = running.child.wait().expect("the program can be waited for");
    Ok(Finished {
        what,
        status,
        stdout,
        stderr,
    })
}

/// A server running in the background, killed when dropped.
pub struct Server {
    /// Where it listens, from its first line.
    pub address: String,
    pub running: Running,
    /// The rest of its standard output, line by line.
    pub lines: Receiver<String>,
}

impl Server {
    /// Starts `command` (a server, its stderr set up by the caller) with stdout piped;
    /// waits for its first line, `listening on ADDR`.
    pub fn start(mut command: Command, what: &str) -> Server {
        command.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut running = Running::spawn(command, what);
        let lines = lines_in_background(running.child.stdout.take().expect("stdout is piped"));
        let address = listening_address(&lines, what);
        Server {
            address,
            running,
            lines,
        }
    }

    /// The next line the server prints, within [`LIMIT`].
    pub fn next_line(&self) -> String {
        self.lines
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("the server printed nothing more within {LIMIT:?}"))
    }
}

/// The address in a server's first line, `listening on ADDR`, read from `lines` (the
/// output of `what`) within [`LIMIT`].
pub fn listening_address(lines: &Receiver<String>, what: &str) -> String {
    let first = lines
        .recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{what} printed no first line within {LIMIT:?}"));
    first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{what}'s first line is {first:?}, not `listening on ADDR`"))
        .to_string()
}
