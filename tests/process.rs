//! Child processes on the reactor with real programs: `cat`, `sh`, `sleep`. Each run is
//! bounded by `common::LIMIT`; `sleep 30` is ended by a signal, never waited for.
#![cfg(unix)]

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use torsade::process::{
    ChildPolicy, ExitStatus, ProcessProtocol, ProcessTransport, Signal, STDIN_BUFFER_LIMIT,
};
use torsade::{Error, Reactor, Transport};

/// What a process's protocol saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Made,
    Out(Bytes),
    Err(Bytes),
    InLost,
    OutLost,
    ErrLost,
    Exited(ExitStatus),
    Ended(ExitStatus),
    Paused,
    Resumed,
}

type OnSeen = Box<dyn FnMut(&Seen, &mut ProcessTransport) + Send>;

/// Records every callback, running `on_seen` after each; stops the reactor when the
/// process has ended, noting whether its pid was still in use then.
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    on_seen: OnSeen,
    reactor: Reactor,
    pid_in_use_at_end: Arc<Mutex<Option<bool>>>,
}

impl ProcessProtocol for Recorder {
    fn connection_made(&mut self, process: &mut ProcessTransport) {
        self.record(Seen::Made, process);
    }
    fn out_received(&mut self, process: &mut ProcessTransport, data: Bytes) {
        self.record(Seen::Out(data), process);
    }
    fn err_received(&mut self, process: &mut ProcessTransport, data: Bytes) {
        self.record(Seen::Err(data), process);
    }
    fn in_connection_lost(&mut self, process: &mut ProcessTransport) {
        self.record(Seen::InLost, process);
    }
    fn out_connection_lost(&mut self, process: &mut ProcessTransport) {
        self.record(Seen::OutLost, process);
    }
    fn err_connection_lost(&mut self, process: &mut ProcessTransport) {
        self.record(Seen::ErrLost, process);
    }
    fn process_exited(&mut self, process: &mut ProcessTransport, status: ExitStatus) {
        self.record(Seen::Exited(status), process);
    }
    fn pause_producing(&mut self, process: &mut ProcessTransport) {
        self.record(Seen::Paused, process);
    }
    fn resume_producing(&mut self, process: &mut ProcessTransport) {
        self.record(Seen::Resumed, process);
    }
    fn process_ended(&mut self, process: &mut ProcessTransport, status: ExitStatus) {
        let in_use = std::path::Path::new(&format!("/proc/{}", process.pid())).exists();
        *self.pid_in_use_at_end.lock().unwrap() = Some(in_use);
        self.record(Seen::Ended(status), process);
        let _ = self.reactor.stop();
    }
}

impl Recorder {
    fn record(&mut self, seen: Seen, process: &mut ProcessTransport) {
        self.seen.lock().unwrap().push(seen.clone());
        (self.on_seen)(&seen, process);
    }
}

/// What one run of a process gave.
struct Run {
    seen: Vec<Seen>,
    pid_in_use_at_end: Option<bool>,
    transport: ProcessTransport,
}

impl Run {
    fn status(&self) -> ExitStatus {
        match self.seen.last() {
            Some(Seen::Ended(status)) => *status,
            other => panic!("process_ended is not last: {other:?} in {:?}", self.seen),
        }
    }

    fn output(&self, pick: fn(&Seen) -> Option<&Bytes>) -> Vec<u8> {
        self.seen
            .iter()
            .filter_map(pick)
            .flatten()
            .copied()
            .collect()
    }

    fn stdout(&self) -> Vec<u8> {
        self.output(|seen| match seen {
            Seen::Out(data) => Some(data),
            _ => None,
        })
    }

    fn stderr(&self) -> Vec<u8> {
        self.output(|seen| match seen {
            Seen::Err(data) => Some(data),
            _ => None,
        })
    }

    fn position(&self, wanted: &Seen) -> usize {
        self.seen
            .iter()
            .position(|seen| seen == wanted)
            .unwrap_or_else(|| panic!("{wanted:?} not in {:?}", self.seen))
    }

    /// The rules every run keeps: made first, ended last and once, after the exit and
    /// after both output pipes closed, each exactly once.
    fn assert_well_ordered(&self) {
        assert_eq!(self.seen.first(), Some(&Seen::Made), "{:?}", self.seen);
        let ended = self.seen.len() - 1;
        let count = |wanted: fn(&Seen) -> bool| self.seen.iter().filter(|s| wanted(s)).count();
        assert_eq!(count(|s| matches!(s, Seen::Ended(_))), 1, "{:?}", self.seen);
        assert_eq!(
            count(|s| matches!(s, Seen::Exited(_))),
            1,
            "{:?}",
            self.seen
        );
        assert_eq!(count(|s| *s == Seen::OutLost), 1, "{:?}", self.seen);
        assert_eq!(count(|s| *s == Seen::ErrLost), 1, "{:?}", self.seen);
        assert_eq!(count(|s| *s == Seen::InLost), 1, "{:?}", self.seen);
        assert!(self.position(&Seen::Exited(self.status())) < ended);
        assert!(self.position(&Seen::OutLost) < ended);
        assert!(self.position(&Seen::ErrLost) < ended);
        assert!(self.position(&Seen::InLost) < ended);
        assert_eq!(
            self.pid_in_use_at_end,
            Some(false),
            "the child was not reaped"
        );
        assert!(self.transport.is_ended());
    }
}

/// Runs `command` to its end with a [`Recorder`] running `on_made` in `connection_made`,
/// bounded by `common::LIMIT`.
fn run(command: Command, mut on_made: impl FnMut(&mut ProcessTransport) + Send + 'static) -> Run {
    run_reacting(command, move |seen, process| {
        if *seen == Seen::Made {
            on_made(process);
        }
    })
}

/// Runs `command` to its end with a [`Recorder`] running `on_seen` after each callback,
/// bounded by `common::LIMIT`.
fn run_reacting(
    command: Command,
    on_seen: impl FnMut(&Seen, &mut ProcessTransport) + Send + 'static,
) -> Run {
    run_on(&Reactor::new().unwrap(), command, on_seen)
}

/// Runs `command` to its end on `reactor` with a [`Recorder`] running `on_seen` after
/// each callback, bounded by `common::LIMIT`.
fn run_on(
    reactor: &Reactor,
    command: Command,
    on_seen: impl FnMut(&Seen, &mut ProcessTransport) + Send + 'static,
) -> Run {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let pid_in_use_at_end = Arc::new(Mutex::new(None));
    let recorder = Recorder {
        seen: seen.clone(),
        on_seen: Box::new(on_seen),
        reactor: reactor.clone(),
        pid_in_use_at_end: pid_in_use_at_end.clone(),
    };
    let transport = reactor.spawn_process(recorder, command).unwrap();
    assert!(
        std::path::Path::new(&format!("/proc/{}", transport.pid())).exists()
            || !cfg!(target_os = "linux"),
        "the child's pid is in use while it runs"
    );
    common::run_bounded(reactor, common::LIMIT);
    let seen = seen.lock().unwrap().clone();
    let pid_in_use_at_end = if cfg!(target_os = "linux") {
        *pid_in_use_at_end.lock().unwrap()
    } else {
        Some(false)
    };
    Run {
        seen,
        pid_in_use_at_end,
        transport,
    }
}

fn sleep_30() -> Command {
    let mut command = Command::new("sleep");
    command.arg("30");
    command
}

fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    command
}

#[test]
fn cat_echoes_what_is_written_and_exits_0_once_its_stdin_is_closed() {
    let run = run(Command::new("cat"), |cat| {
        cat.write(b"hello\n");
        cat.write(b"world\n");
        cat.close_stdin();
    });
    run.assert_well_ordered();
    assert_eq!(run.stdout(), b"hello\nworld\n");
    assert_eq!(run.stderr(), b"");
    assert_eq!(run.status(), ExitStatus::Code(0));
}

/// A megabyte through `cat`: its output is read while its input is written, so neither
/// pipe's filling up blocks the other.
#[test]
fn a_megabyte_through_cat_comes_back_whole_and_in_order() {
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let sent = data.clone();
    let run = run(Command::new("cat"), move |cat| {
        for chunk in sent.chunks(10_000) {
            cat.write(chunk);
        }
        cat.close_stdin();
    });
    run.assert_well_ordered();
    assert!(run.stdout() == data, "the echo differs from what was sent");
    assert_eq!(run.status(), ExitStatus::Code(0));
}

#[test]
fn an_exit_code_is_reported() {
    let run = run(sh("exit 3"), |_| {});
    run.assert_well_ordered();
    assert_eq!(run.status(), ExitStatus::Code(3));
    assert!(!run.status().success());
}

#[test]
fn sleep_ended_by_sigterm_reports_the_signal() {
    let run = run(sleep_30(), |sleep| {
        sleep.signal_process(Signal::Term);
    });
    run.assert_well_ordered();
    assert_eq!(run.status(), ExitStatus::Signal(15));
    assert_eq!(run.status().code(), None);
}

#[test]
fn sleep_ended_by_sigkill_reports_the_signal() {
    let run = run(sleep_30(), |sleep| {
        sleep.signal_process(Signal::Kill);
    });
    run.assert_well_ordered();
    assert_eq!(run.status(), ExitStatus::Signal(9));
}

#[test]
fn stderr_arrives_apart_from_stdout() {
    let run = run(sh("echo out; echo err >&2; echo more"), |_| {});
    run.assert_well_ordered();
    assert_eq!(run.stdout(), b"out\nmore\n");
    assert_eq!(run.stderr(), b"err\n");
    assert_eq!(run.status(), ExitStatus::Code(0));
}

/// A signal asked for once the process has ended is not sent (its pid may be another
/// process's by then).
#[test]
fn requests_after_the_end_are_ignored() {
    let run = run(sh("exit 0"), |_| {});
    run.assert_well_ordered();
    run.transport.signal_process(Signal::Kill);
    run.transport.write(b"nobody reads this");
    run.transport.close_stdin();
    assert!(run.transport.is_ended());
}

#[test]
fn a_missing_program_fails_the_spawn_naming_it() {
    let reactor = Reactor::new().unwrap();
    let recorder = Recorder {
        seen: Arc::default(),
        on_seen: Box::new(|_, _| {}),
        reactor: reactor.clone(),
        pid_in_use_at_end: Arc::default(),
    };
    let missing = "torsade-test-no-such-program";
    let error = reactor
        .spawn_process(recorder, Command::new(missing))
        .unwrap_err();
    match &error {
        Error::SpawnFailed { program, source } => {
            assert_eq!(program, missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
    assert!(error.to_string().contains(missing), "{error}");
}

/// A line receiver sits on a child's stdout unchanged (`connect_process`): it reads `cat`'s
/// lines, writes `cat`'s input, and half-closing the connection closes `cat`'s stdin.
#[test]
fn a_line_receiver_runs_on_a_childs_stdin_and_stdout() {
    use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};

    struct Lines {
        lines: Vec<String>,
        done: Option<tokio::sync::oneshot::Sender<Vec<String>>>,
    }

    impl LineHandler for Lines {
        fn connection_made(&mut self, lines: &mut LineContext<'_>) {
            lines.send_line(b"first");
            lines.send_line(b"second");
            lines.lose_write_connection();
        }
        fn line_received(&mut self, _: &mut LineContext<'_>, line: Line<'_>) {
            self.lines
                .push(String::from_utf8_lossy(line.as_bytes()).into_owned());
        }
        fn connection_lost(&mut self, _: torsade::DisconnectReason) {
            if let Some(done) = self.done.take() {
                let _ = done.send(std::mem::take(&mut self.lines));
            }
        }
    }

    let reactor = Reactor::new().unwrap();
    let (done, lines) = tokio::sync::oneshot::channel();
    let receiver = LineOnlyReceiver::new(Lines {
        lines: Vec::new(),
        done: Some(done),
    });
    let process = reactor
        .connect_process(receiver, Command::new("cat"))
        .unwrap();
    let pid = process.process.pid();
    let (status, lines) = common::run_async(&reactor, async move {
        let _handle = process.connection.await.expect("connected");
        let status = process.ended.await.expect("ended");
        (status, lines.await.expect("the connection ends"))
    });
    assert_eq!(lines, ["first", "second"]);
    assert_eq!(status, ExitStatus::Code(0));
    if cfg!(target_os = "linux") {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}

/// A callback that panics is logged and its process killed, not left running: a second
/// child (`tail --pid`, which ends when that pid is gone) sees it die.
#[test]
fn a_panicking_callback_kills_its_process() {
    struct Panics;
    impl ProcessProtocol for Panics {
        fn out_received(&mut self, _: &mut ProcessTransport, _: Bytes) {
            panic!("out_received gave up");
        }
        fn process_ended(&mut self, _: &mut ProcessTransport, _: ExitStatus) {}
    }

    let mut watcher_status = None;
    let logs = common::capture_logs(|| {
        let reactor = Reactor::new().unwrap();
        let doomed = reactor
            .spawn_process(Panics, sh("echo ready; exec sleep 30"))
            .unwrap();
        let mut tail = Command::new("tail");
        tail.args(["-s", "0.05", "-f", "/dev/null", "--pid"])
            .arg(doomed.pid().to_string());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let watcher = Recorder {
            seen: seen.clone(),
            on_seen: Box::new(|_, _| {}),
            reactor: reactor.clone(),
            pid_in_use_at_end: Arc::default(),
        };
        reactor.spawn_process(watcher, tail).unwrap();
        common::run_bounded(&reactor, common::LIMIT);
        watcher_status = seen.lock().unwrap().last().cloned();
        assert!(doomed.is_ended());
    });
    assert_eq!(watcher_status, Some(Seen::Ended(ExitStatus::Code(0))));
    assert!(
        logs.contains("panicked") && logs.contains("out_received gave up"),
        "{logs}"
    );
}

/// `count` bytes written to `process`'s stdin in connection-sized chunks.
fn write_bytes(process: &mut ProcessTransport, count: usize) {
    let chunk = [b'x'; 64 * 1024];
    for start in (0..count).step_by(chunk.len()) {
        process.write(&chunk[..chunk.len().min(count - start)]);
    }
}

/// A child that does not read its stdin: the protocol is paused past the high-water
/// mark, and a write past the hard limit is refused and closes stdin (memory stays
/// bounded) while the child runs on.
#[test]
fn a_child_that_does_not_read_pauses_the_protocol_then_has_its_stdin_closed_at_the_limit() {
    let logs = common::capture_logs(|| {
        let run = run_reacting(sleep_30(), |seen, sleep| match seen {
            // More than a pipe holds: the rest waits, above the high-water mark.
            Seen::Made => write_bytes(sleep, 1 << 20),
            Seen::Paused => write_bytes(sleep, STDIN_BUFFER_LIMIT),
            Seen::InLost => sleep.signal_process(Signal::Kill),
            _ => {}
        });
        run.assert_well_ordered();
        assert!(run.position(&Seen::Paused) < run.position(&Seen::InLost));
        assert!(!run.seen.contains(&Seen::Resumed), "{:?}", run.seen);
        assert_eq!(run.status(), ExitStatus::Signal(9));
    });
    assert!(logs.contains("refusing the write"), "{logs}");
}

/// A child that reads its stdin only once told to (SIGUSR1, after it says `ready`): the
/// protocol is paused while the megabyte written waits, and resumed once the child has
/// read it down to the low-water mark.
#[test]
fn a_child_reading_late_resumes_the_paused_protocol_once_it_has_read_down_to_the_low_mark() {
    let script = "trap 'kill $sleeper; exec cat >/dev/null' USR1; \
                  sleep 30 & sleeper=$!; echo ready; wait $sleeper";
    let run = run_reacting(sh(script), |seen, child| match seen {
        Seen::Made => write_bytes(child, 1 << 20),
        Seen::Out(data) if data.starts_with(b"ready") => child.signal_process(Signal::Usr1),
        Seen::Resumed => child.close_stdin(),
        _ => {}
    });
    run.assert_well_ordered();
    assert!(run.position(&Seen::Paused) < run.position(&Seen::Out(Bytes::from("ready\n"))));
    assert!(run.position(&Seen::Resumed) < run.position(&Seen::InLost));
    assert_eq!(run.status(), ExitStatus::Code(0));
}

/// A reactor with `policy` for its children.
fn reactor_with(policy: ChildPolicy) -> Reactor {
    let reactor = Reactor::new().unwrap();
    reactor.set_child_policy(policy);
    reactor
}

/// The default policy: a stop sends SIGTERM to a running child, and `run` returns once
/// it has ended and been reaped.
#[test]
fn a_stop_terminates_a_running_child_and_run_returns_once_it_has_ended() {
    let reactor = Reactor::new().unwrap();
    let stopper = reactor.clone();
    let run = run_on(&reactor, sleep_30(), move |seen, _| {
        if *seen == Seen::Made {
            stopper.stop().unwrap();
        }
    });
    run.assert_well_ordered();
    assert_eq!(run.status(), ExitStatus::Signal(15));
}

/// A child that ignores SIGTERM is killed once the grace is over.
#[test]
fn a_child_ignoring_sigterm_is_killed_after_the_grace() {
    let reactor = reactor_with(ChildPolicy::Terminate {
        grace: Duration::from_millis(50),
    });
    let stopper = reactor.clone();
    let script = "trap '' TERM; echo ready; exec sleep 30";
    let run = run_on(&reactor, sh(script), move |seen, _| {
        if matches!(seen, Seen::Out(data) if data.starts_with(b"ready")) {
            stopper.stop().unwrap();
        }
    });
    run.assert_well_ordered();
    assert_eq!(run.status(), ExitStatus::Signal(9));
}

/// `ChildPolicy::Wait`: the stop signals nothing, and waits for the child, which exits
/// on its own once given what it reads (after the stop began).
#[test]
fn with_the_wait_policy_a_stop_waits_for_the_child_to_exit_on_its_own() {
    let reactor = reactor_with(ChildPolicy::Wait);
    let stopper = reactor.clone();
    let run = run_on(&reactor, sh("read line; exit 7"), move |seen, child| {
        if *seen == Seen::Made {
            stopper.stop().unwrap();
            child.write(b"go\n");
        }
    });
    run.assert_well_ordered();
    assert_eq!(run.status(), ExitStatus::Code(7));
}

/// `ChildPolicy::Wait` is bounded by the stop deadline: a child still running then is
/// killed.
#[test]
fn with_the_wait_policy_the_stop_deadline_kills_a_child_still_running() {
    let reactor = reactor_with(ChildPolicy::Wait);
    let stopper = reactor.clone();
    let run = run_on(&reactor, sleep_30(), move |seen, _| {
        if *seen == Seen::Made {
            stopper
                .stop_with_deadline(Duration::from_millis(50))
                .unwrap();
        }
    });
    run.assert_well_ordered();
    assert_eq!(run.status(), ExitStatus::Signal(9));
}

/// A protocol that does nothing.
struct Ignore;

impl ProcessProtocol for Ignore {
    fn out_received(&mut self, _: &mut ProcessTransport, _: Bytes) {}
    fn process_ended(&mut self, _: &mut ProcessTransport, _: ExitStatus) {}
}

/// A process cannot be started on a stopping reactor.
#[test]
fn spawning_while_the_reactor_stops_fails_with_reactor_stopped() {
    let reactor = Reactor::new().unwrap();
    let stopper = reactor.clone();
    let spawned = Arc::new(Mutex::new(None));
    let result = spawned.clone();
    let run = run_on(&reactor, sleep_30(), move |seen, _| {
        if *seen == Seen::Made {
            stopper.stop().unwrap();
            let late = stopper.spawn_process(Ignore, sleep_30());
            *result.lock().unwrap() = Some(late.map(|process| process.pid()));
        }
    });
    run.assert_well_ordered();
    assert!(
        matches!(*spawned.lock().unwrap(), Some(Err(Error::ReactorStopped))),
        "{:?}",
        spawned.lock().unwrap()
    );
}

/// A child run as a connection (`connect_process`) is a child like any other: a stop
/// terminates it under the default policy, its connection is lost, and it is reaped.
#[test]
fn a_stop_terminates_a_connected_process_and_its_connection_ends() {
    /// Stops the reactor once connected; records how the connection ended.
    struct StopOnceConnected {
        reactor: Option<Reactor>,
        lost: Arc<Mutex<Option<torsade::DisconnectReason>>>,
    }
    impl torsade::Protocol for StopOnceConnected {
        fn connection_made(&mut self, _: &mut torsade::Context<'_, Self>) {
            if let Some(reactor) = self.reactor.take() {
                reactor.stop().unwrap();
            }
        }
        fn data_received(&mut self, _: &mut torsade::Context<'_, Self>, _: Bytes) {}
        fn connection_lost(&mut self, reason: torsade::DisconnectReason) {
            *self.lost.lock().unwrap() = Some(reason);
        }
    }
    let reactor = Reactor::new().unwrap();
    let lost = Arc::new(Mutex::new(None));
    let protocol = StopOnceConnected {
        reactor: Some(reactor.clone()),
        lost: lost.clone(),
    };
    let process = reactor.connect_process(protocol, sleep_30()).unwrap();
    let pid = process.process.pid();
    let mut ended = process.ended;
    common::run_bounded(&reactor, common::LIMIT);
    let status = ended
        .take_result()
        .expect("the child ended")
        .expect("a status");
    assert_eq!(status, ExitStatus::Signal(15));
    assert!(lost.lock().unwrap().is_some(), "the connection was lost");
    if cfg!(target_os = "linux") {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
