//! WebSocket interop with an independent implementation, Python's `websockets` package:
//! its client puts the `websocket_echo` example (and the tokio-tungstenite baseline the
//! benchmark compares it with) through the checklist in `tests/interop/ws_client_checks.py`,
//! and the `websocket_client` example talks to its echo server,
//! `tests/interop/ws_echo_server.py`.
//!
//! Loopback only; every wait is bounded (`child_process::LIMIT`) and every child is killed
//! when its test ends. When `python3` cannot import `websockets`, each test says so on
//! stderr and passes, unless `TORSADE_REQUIRE_INTEROP` is set (as `.ci/run` sets it, after
//! installing the package): then it fails.

#[path = "common/child_process.rs"]
mod child_process;
mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use child_process::{build_examples, example_path, run_to_end, try_run_to_end, Finished, Server};

/// The examples this file runs.
const EXAMPLES: [&str; 3] = ["websocket_echo", "websocket_client", "baseline_ws_echo"];

/// The limit on a message and a frame the echo servers run with: 1 MiB messages pass, and
/// the checklist's oversized ones (this plus one byte) are closed with 1009.
const MAX_MESSAGE_SIZE: &str = "2097152";

/// Whether the interop can run: `python3` imports `websockets` (the examples are then
/// built). When it cannot, the test is skipped with a line on stderr, or fails if
/// `TORSADE_REQUIRE_INTEROP` is set.
fn interop_available() -> bool {
    // The test harness names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("this test");
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let available = AVAILABLE.get_or_init(|| {
        let mut command = Command::new("python3");
        command.args(["-c", "import websockets"]);
        let imported = match try_run_to_end(command, "python3".into(), None) {
            Err(error) => Err(format!("cannot run python3: {error}")),
            Ok(run) if run.status.success() => Ok(()),
            Ok(run) => Err(run.stderr.lines().last().unwrap_or_default().to_string()),
        };
        if imported.is_ok() {
            build_examples(&EXAMPLES);
        }
        imported
    });
    match available {
        Ok(()) => true,
        Err(why) if std::env::var_os("TORSADE_REQUIRE_INTEROP").is_some() => {
            panic!("TORSADE_REQUIRE_INTEROP is set, but python3 cannot import websockets: {why}")
        }
        Err(why) => {
            eprintln!(
                "skipping {test}: python3 cannot import websockets ({why}); \
                 `pip install websockets` runs it (TORSADE_REQUIRE_INTEROP=1 makes this a failure)"
            );
            false
        }
    }
}

/// The path of the Python script `name` in `tests/interop/`.
fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// Starts example server `name` with `args`; waits for its `listening on ADDR` line.
fn start_example(name: &str, args: &[&str]) -> Server {
    let mut command = Command::new(example_path(name));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stderr(Stdio::inherit());
    Server::start(command, &format!("{name} {}", args.join(" ")))
}

/// Starts `tests/interop/ws_echo_server.py` with `args`; waits for its `listening on ADDR`
/// line.
fn start_python_server(args: &[&str]) -> Server {
    let mut command = Command::new("python3");
    command
        .arg(script("ws_echo_server.py"))
        .args(args)
        .stderr(Stdio::inherit());
    Server::start(command, &format!("ws_echo_server.py {}", args.join(" ")))
}

/// Runs the Python checklist against `url` (extra arguments: `args`) to its end.
fn run_checklist(url: &str, args: &[&str]) -> Finished {
    let mut command = Command::new("python3");
    command
        .arg(script("ws_client_checks.py"))
        .arg(url)
        .args(["--max-message-size", MAX_MESSAGE_SIZE])
        .args(args);
    run_to_end(command, format!("ws_client_checks.py {url}"), None)
}

/// Asserts the checklist passed every check: one `ok:` line for each, then the summary.
fn assert_checklist_passed(run: &Finished) {
    let lines = run.success();
    let (summary, checks) = lines.split_last().expect("the checklist prints something");
    assert!(
        summary.starts_with(&format!("all {} checks passed", checks.len())),
        "{}",
        run.described()
    );
    assert!(checks.len() >= 12, "{}", run.described());
    assert!(
        checks.iter().all(|line| line.starts_with("ok: ")),
        "{}",
        run.described()
    );
}

/// Asserts that `server`, Python's echo server, saw its peer's close frame carry `code`.
fn assert_closed_with(server: &Server, code: u16) {
    assert_eq!(
        server.next_line(),
        format!("closed {code}"),
        "the close code the server saw"
    );
}

/// Runs the `websocket_client` example with `args`, `input` on its standard input.
fn run_client(args: &[&str], input: Option<&str>) -> Finished {
    let mut command = Command::new(example_path("websocket_client"));
    command.args(args).env_remove("RUST_LOG");
    run_to_end(
        command,
        format!("websocket_client {}", args.join(" ")),
        input,
    )
}

// ---- Python's client against the servers ----

#[test]
fn websocket_echo_passes_the_python_websockets_checklist() {
    if !interop_available() {
        return;
    }
    let server = start_example(
        "websocket_echo",
        &["--port", "0", "--max-message-size", MAX_MESSAGE_SIZE],
    );
    let run = run_checklist(&format!("ws://{}/", server.address), &[]);
    assert_checklist_passed(&run);
}

#[test]
fn websocket_echo_on_a_listen_endpoint_passes_the_python_websockets_checklist() {
    if !interop_available() {
        return;
    }
    let server = start_example(
        "websocket_echo",
        &[
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--max-message-size",
            MAX_MESSAGE_SIZE,
        ],
    );
    let run = run_checklist(&format!("ws://{}/", server.address), &[]);
    assert_checklist_passed(&run);
}

/// The baseline the benchmark measures torsade against keeps the same rules, so that both
/// do the same work.
#[test]
fn the_tokio_tungstenite_baseline_passes_the_python_websockets_checklist() {
    if !interop_available() {
        return;
    }
    let server = start_example(
        "baseline_ws_echo",
        &["--port", "0", "--max-message-size", MAX_MESSAGE_SIZE],
    );
    let run = run_checklist(&format!("ws://{}/", server.address), &[]);
    assert_checklist_passed(&run);
}

#[cfg(feature = "test-certificates")]
mod tls {
    use super::*;
    use torsade::testing::TestCertificates;

    /// A directory of its own under the system's temporary directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let path = std::env::temp_dir()
                .join(format!("torsade-ws-interop-{tag}-{}", std::process::id()));
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

    /// A CA and a certificate it signed for localhost and 127.0.0.1, written as PEM files:
    /// (dir, ca, cert, key).
    fn certificate_files(tag: &str) -> (TempDir, String, String, String) {
        let dir = TempDir::new(tag);
        let certificates =
            TestCertificates::new(&["localhost", "127.0.0.1"]).expect("certificates");
        let (ca, cert, key) = certificates.write_to(&dir.0).expect("PEM files");
        let path = |path: PathBuf| path.to_str().expect("a UTF-8 temp path").to_string();
        (dir, path(ca), path(cert), path(key))
    }

    #[test]
    fn websocket_echo_over_tls_passes_the_python_websockets_checklist() {
        if !interop_available() {
            return;
        }
        let (_dir, ca, cert, key) = certificate_files("wss-server");
        let server = start_example(
            "websocket_echo",
            &[
                "--port",
                "0",
                "--max-message-size",
                MAX_MESSAGE_SIZE,
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
            ],
        );
        let run = run_checklist(&format!("wss://{}/", server.address), &["--ca", &ca]);
        assert_checklist_passed(&run);
    }

    #[test]
    fn websocket_client_over_tls_gets_its_echoes_from_python_and_refuses_an_unknown_ca() {
        if !interop_available() {
            return;
        }
        let (_dir, ca, cert, key) = certificate_files("wss-client");
        let server = start_python_server(&["--tls-cert", &cert, "--tls-key", &key]);
        let url = format!("wss://{}/", server.address);
        let run = run_client(&["--ca", &ca, &url, "over TLS", "deux ✓"], None);
        assert_eq!(run.success(), ["over TLS", "deux ✓"], "{}", run.described());
        assert_closed_with(&server, 1000);

        // Without the CA, the platform's roots do not trust the test CA.
        let run = run_client(&[&url, "hello"], None);
        let error = run.failure();
        assert!(error.contains("certificate"), "{}", run.described());
        assert!(run.stdout.is_empty(), "{}", run.described());
    }
}

// ---- the torsade client against Python's server ----

#[test]
fn websocket_client_sends_its_arguments_and_prints_each_echo_in_order() {
    if !interop_available() {
        return;
    }
    let server = start_python_server(&[]);
    let url = format!("ws://{}/", server.address);
    let messages = ["one", "two words", "trois ✓", "{\"four\": 4}"];
    let run = run_client(&[&[url.as_str()][..], &messages].concat(), None);
    assert_eq!(run.success(), messages, "{}", run.described());
    assert_closed_with(&server, 1000);
}

#[test]
fn websocket_client_sends_each_line_of_its_input_and_prints_each_echo_in_order() {
    if !interop_available() {
        return;
    }
    let server = start_python_server(&[]);
    let url = format!("ws://{}/", server.address);
    let lines: Vec<String> = (1..=50)
        .map(|n| format!("line {n}: {}", "é".repeat(n)))
        .collect();
    let input: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let run = run_client(&[url.as_str()], Some(&input));
    assert_eq!(run.success(), lines, "{}", run.described());
    assert_closed_with(&server, 1000);
}

#[test]
fn websocket_client_refused_by_the_server_fails_with_one_line() {
    if !interop_available() {
        return;
    }
    let server = start_python_server(&["--refuse"]);
    let url = format!("ws://{}/", server.address);
    let run = run_client(&[url.as_str(), "hello"], None);
    let error = run.failure();
    assert!(error.contains("403"), "{}", run.described());
    assert!(run.stdout.is_empty(), "{}", run.described());
}

#[test]
fn websocket_client_with_nothing_listening_fails_with_one_line() {
    if !interop_available() {
        return;
    }
    let refused = common::refused_port::RefusedPort::new();
    let url = format!("ws://{}/", refused.address());
    let run = run_client(&[url.as_str(), "hello"], None);
    run.failure();
    assert!(run.stdout.is_empty(), "{}", run.described());
}

#[test]
fn websocket_client_reassembles_fragmented_echoes_and_answers_pings() {
    if !interop_available() {
        return;
    }
    // Each echo comes in fragments of 3 characters, after a ping the client must answer
    // (the server closes with 1011 when no pong comes).
    let server = start_python_server(&["--fragment", "3", "--ping-first"]);
    let url = format!("ws://{}/", server.address);
    let long = "fragments, ✓ ".repeat(400);
    let messages = ["fragmented echo ✓", "ab", long.as_str()];
    let run = run_client(&[&[url.as_str()][..], &messages].concat(), None);
    assert_eq!(run.success(), messages, "{}", run.described());
    assert_closed_with(&server, 1000);
}

#[test]
fn websocket_client_gets_a_1_mib_message_echoed() {
    if !interop_available() {
        return;
    }
    let server = start_python_server(&[]);
    let url = format!("ws://{}/", server.address);
    // Characters of 1, 2, 3 and 4 bytes in UTF-8, exactly 1 MiB in all, as one stdin line.
    let line = "aé€𝄞".repeat(104_857) + "aaaaaa";
    assert_eq!(line.len(), 1 << 20);
    let run = run_client(&[url.as_str()], Some(&format!("{line}\n")));
    let echoes = run.success();
    assert!(echoes == [line.as_str()], "the 1 MiB echo differs");
    assert_closed_with(&server, 1000);
}

#[test]
fn websocket_client_answered_with_text_that_is_not_utf8_closes_with_1007_and_fails() {
    if !interop_available() {
        return;
    }
    let server = start_python_server(&["--bad-utf8"]);
    let url = format!("ws://{}/", server.address);
    let run = run_client(&[url.as_str(), "hello"], None);
    assert!(!run.status.success(), "{}", run.described());
    assert!(run.stdout.is_empty(), "{}", run.described());
    assert_eq!(server.next_line(), "closed 1007", "{}", run.described());
}

/// A server that closes before echoing every message: the client prints the echoes it got
/// and does not report success.
#[test]
fn websocket_client_closed_by_the_server_midway_prints_what_came_and_fails() {
    if !interop_available() {
        return;
    }
    let server = start_python_server(&["--close-after-first", "4001"]);
    let url = format!("ws://{}/", server.address);
    let run = run_client(&[url.as_str(), "first", "second"], None);
    assert!(!run.status.success(), "{}", run.described());
    assert_eq!(run.stdout_lines(), ["first"], "{}", run.described());
}

/// The library's async client (`websocket::connect_with`, the `WebSocketStream` the
/// example is written on) against Python's echo server: what the example cannot send.
mod library_client {
    use futures::StreamExt;
    use torsade::Reactor;
    use torsade_protocols::websocket::{
        self, CloseCode, Message, WebSocketError, WebSocketOptions,
    };

    use super::common::run_async;
    use super::{assert_closed_with, interop_available, start_python_server};

    /// Runs `body` on a new reactor until it finishes (bounded: a hang fails the test).
    fn run<T, F>(body: impl FnOnce(Reactor) -> F) -> T
    where
        T: Send + 'static,
        F: std::future::Future<Output = T> + Send + 'static,
    {
        let reactor = Reactor::new().unwrap();
        run_async(&reactor, body(reactor.clone()))
    }

    #[test]
    fn text_and_binary_come_back_and_a_close_code_of_ours_reaches_the_server() {
        if !interop_available() {
            return;
        }
        let server = start_python_server(&[]);
        let url = format!("ws://{}/", server.address);
        let every_byte: Vec<u8> = (0..=255).collect();
        let big_binary: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
        let sent = [
            Message::text("text ✓"),
            Message::binary(every_byte),
            Message::binary(big_binary),
            Message::binary(Vec::new()),
        ];
        let to_send = sent.to_vec();
        let (echoes, close) = run(|reactor| async move {
            let mut ws = websocket::connect(&reactor, &url).await?;
            for message in to_send.iter().cloned() {
                ws.send(message).await?;
            }
            let mut echoes = Vec::new();
            for _ in 0..to_send.len() {
                echoes.push(ws.next().await.expect("an echo")?);
            }
            ws.close(CloseCode(4000), "done here").await?;
            let close = ws.close_frame();
            Ok::<_, WebSocketError>((echoes, close))
        })
        .unwrap();
        assert!(echoes == sent, "the echoes differ from what was sent");
        assert_eq!(close, Some((CloseCode(4000), "done here".to_string())));
        assert_closed_with(&server, 4000);
    }

    #[test]
    fn an_echo_over_the_clients_limit_is_closed_with_1009() {
        if !interop_available() {
            return;
        }
        let server = start_python_server(&[]);
        let url = format!("ws://{}/", server.address);
        let outcome = run(|reactor| async move {
            let options = WebSocketOptions::new().max_message_size(1024);
            let mut ws = websocket::connect_with(&reactor, &url, &options).await?;
            // Sending is not limited (the limit is on what comes in): the echo is.
            ws.send(Message::binary(vec![7u8; 1024])).await?;
            ws.send(Message::binary(vec![7u8; 1025])).await?;
            let first = ws.next().await.expect("the first echo")?;
            Ok::<_, WebSocketError>((first, ws.next().await))
        })
        .unwrap();
        assert_eq!(outcome.0, Message::binary(vec![7u8; 1024]));
        let error = outcome.1.expect("an error, not the end").unwrap_err();
        assert_eq!(
            error.close_code(),
            Some(CloseCode::MESSAGE_TOO_BIG),
            "{error}"
        );
        assert_closed_with(&server, 1009);
    }

    #[test]
    fn the_servers_close_code_ends_the_stream_with_it() {
        if !interop_available() {
            return;
        }
        let server = start_python_server(&["--close-after-first", "4001"]);
        let url = format!("ws://{}/", server.address);
        let (first, second, close) = run(|reactor| async move {
            let mut ws = websocket::connect(&reactor, &url).await?;
            ws.send(Message::text("one")).await?;
            let first = ws.next().await.expect("the echo")?;
            let second = ws.next().await.expect("the close, as an error");
            Ok::<_, WebSocketError>((first, second, ws.close_frame()))
        })
        .unwrap();
        assert_eq!(first, Message::text("one"));
        match second {
            Err(WebSocketError::Closed { code, .. }) => assert_eq!(code, CloseCode(4001)),
            other => panic!("expected Closed(4001), got {other:?}"),
        }
        assert_eq!(close.map(|(code, _)| code), Some(CloseCode(4001)));
        assert_closed_with(&server, 4001);
    }
}
