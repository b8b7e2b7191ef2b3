//! `testing::FakeProcess`: a `ProcessProtocol` against a scripted child, in memory — the
//! callbacks in the order a real child gives them, and what the protocol asked of it.

use bytes::Bytes;
use torsade::process::{ExitStatus, ProcessProtocol, ProcessTransport, Signal, STDIN_BUFFER_LIMIT};
use torsade::testing::FakeProcess;
use torsade::{WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW};

/// Records each callback; runs `on_out` on each stdout chunk.
#[derive(Default)]
struct Recorder {
    seen: Vec<String>,
    on_out: Option<fn(&mut ProcessTransport, &Bytes)>,
}

impl ProcessProtocol for Recorder {
    fn connection_made(&mut self, process: &mut ProcessTransport) {
        self.seen.push(format!("made {}", process.pid()));
    }
    fn out_received(&mut self, process: &mut ProcessTransport, data: Bytes) {
        self.seen
            .push(format!("out {}", String::from_utf8_lossy(&data)));
        if let Some(on_out) = self.on_out {
            on_out(process, &data);
        }
    }
    fn err_received(&mut self, _: &mut ProcessTransport, data: Bytes) {
        self.seen
            .push(format!("err {}", String::from_utf8_lossy(&data)));
    }
    fn in_connection_lost(&mut self, _: &mut ProcessTransport) {
        self.seen.push("in lost".into());
    }
    fn out_connection_lost(&mut self, _: &mut ProcessTransport) {
        self.seen.push("out lost".into());
    }
    fn pause_producing(&mut self, _: &mut ProcessTransport) {
        self.seen.push("paused".into());
    }
    fn resume_producing(&mut self, _: &mut ProcessTransport) {
        self.seen.push("resumed".into());
    }
    fn err_connection_lost(&mut self, _: &mut ProcessTransport) {
        self.seen.push("err lost".into());
    }
    fn process_exited(&mut self, _: &mut ProcessTransport, status: ExitStatus) {
        self.seen.push(format!("exited {status}"));
    }
    fn process_ended(&mut self, _: &mut ProcessTransport, status: ExitStatus) {
        self.seen.push(format!("ended {status}"));
    }
}

#[test]
fn process_ended_comes_last_once_the_exit_and_both_pipes_are_seen_in_any_order() {
    let mut exit_first = FakeProcess::with_pid(Recorder::default(), 7);
    exit_first.out(b"a");
    exit_first.exit(ExitStatus::Code(0));
    exit_first.err(b"late");
    exit_first.close_stderr();
    assert!(!exit_first.is_ended(), "stdout is still open");
    exit_first.close_stdout();
    assert!(exit_first.is_ended());
    assert_eq!(
        exit_first.protocol().seen,
        [
            "made 7",
            "out a",
            "exited exit code 0",
            "err late",
            "err lost",
            "out lost",
            "in lost",
            "ended exit code 0"
        ]
    );

    let mut pipes_first = FakeProcess::new(Recorder::default());
    pipes_first.close_stdout();
    pipes_first.close_stderr();
    pipes_first.close_stdout();
    assert!(!pipes_first.is_ended(), "the process has not exited");
    pipes_first.exit(ExitStatus::Signal(9));
    assert_eq!(
        pipes_first.protocol().seen,
        [
            format!("made {}", FakeProcess::<Recorder>::PID),
            "out lost".into(),
            "err lost".into(),
            "exited killed by signal 9".into(),
            "in lost".into(),
            "ended killed by signal 9".into()
        ]
    );
}

#[test]
fn writes_are_recorded_until_stdin_is_closed_and_its_closing_is_reported_once() {
    let mut process = FakeProcess::new(Recorder::default());
    let transport = process.transport().clone();
    transport.write(b"one ");
    transport.write(b"two");
    assert_eq!(process.take_written(), &b"one two"[..]);
    assert!(process.is_stdin_open());
    transport.close_stdin();
    transport.write(b"after the close");
    transport.close_stdin();
    assert!(!process.is_stdin_open());
    assert_eq!(process.take_written(), &b""[..]);
    assert_eq!(
        process
            .protocol()
            .seen
            .iter()
            .filter(|seen| *seen == "in lost")
            .count(),
        1
    );
}

/// The child closing its stdin (it stops reading) reaches `in_connection_lost` too.
#[test]
fn the_child_closing_its_stdin_is_reported() {
    let mut process = FakeProcess::new(Recorder::default());
    process.close_stdin();
    assert!(!process.is_stdin_open());
    assert_eq!(process.protocol().seen.last().unwrap(), "in lost");
}

/// Signals asked for from a callback are recorded in order; once the process has exited,
/// none is sent; once it has ended, the transport says so.
#[test]
fn signals_are_recorded_until_the_exit() {
    let mut process = FakeProcess::new(Recorder {
        on_out: Some(|process, data| {
            if &data[..] == b"ready" {
                process.signal_process(Signal::Hup);
                process.signal_process(Signal::Term);
            }
        }),
        ..Recorder::default()
    });
    process.out(b"starting");
    assert_eq!(process.signals(), []);
    process.out(b"ready");
    assert_eq!(process.signals(), [Signal::Hup, Signal::Term]);
    process.exit(ExitStatus::Signal(15));
    process.transport().signal_process(Signal::Kill);
    assert_eq!(process.signals(), [Signal::Hup, Signal::Term]);
    assert!(!process.transport().is_ended());
    process.close_stdout();
    process.close_stderr();
    assert!(process.transport().is_ended());
}

/// A scripted process on the fake clock, against a protocol with a timer of its own: a
/// watchdog that sends SIGTERM if the process is silent for 5 s. The steps and the timer
/// run in time order.
#[test]
fn a_scripted_process_plays_its_steps_in_time_order_with_the_protocols_timers() {
    use std::time::Duration;
    use torsade::testing::{FakeClock, ProcessStep};
    use torsade::DelayedCall;

    struct Watchdog {
        clock: FakeClock,
        timer: Option<DelayedCall>,
        lines: Vec<Bytes>,
    }

    impl Watchdog {
        fn arm(&mut self, process: &ProcessTransport) {
            if let Some(timer) = self.timer.take() {
                let _ = timer.cancel();
            }
            let process = process.clone();
            self.timer = Some(self.clock.call_later(Duration::from_secs(5), move || {
                process.signal_process(Signal::Term);
            }));
        }
    }

    impl ProcessProtocol for Watchdog {
        fn connection_made(&mut self, process: &mut ProcessTransport) {
            self.arm(process);
        }
        fn out_received(&mut self, process: &mut ProcessTransport, data: Bytes) {
            self.lines.push(data);
            self.arm(process);
        }
        fn process_ended(&mut self, _: &mut ProcessTransport, _: ExitStatus) {}
    }

    let clock = FakeClock::new();
    let mut process = FakeProcess::new(Watchdog {
        clock: clock.clone(),
        timer: None,
        lines: Vec::new(),
    });
    let second = |s| Duration::from_secs(s);
    process.script(
        &clock,
        [
            (second(4), ProcessStep::Out(Bytes::from_static(b"one"))),
            (second(8), ProcessStep::Out(Bytes::from_static(b"two"))),
            (second(20), ProcessStep::Exit(ExitStatus::Code(0))),
        ],
    );
    process.advance(&clock, second(12));
    assert_eq!(process.protocol().lines, ["one", "two"]);
    assert_eq!(process.signals(), [], "never silent for 5 s yet");
    process.advance(&clock, second(1));
    assert_eq!(process.signals(), [Signal::Term], "silent from 8 s to 13 s");
    process.advance(&clock, second(10));
    assert!(!process.is_ended(), "stdout and stderr are still open");
    process.play(ProcessStep::CloseStdout);
    process.play(ProcessStep::CloseStderr);
    assert!(process.is_ended());
}

#[test]
fn unread_stdin_pauses_the_protocol_above_the_high_mark_and_resumes_it_at_the_low_one() {
    let mut process = FakeProcess::new(Recorder::default());
    process.stop_reading_stdin();
    process.transport().write(&vec![b'a'; WRITE_BUFFER_HIGH]);
    assert_eq!(process.unread_stdin(), WRITE_BUFFER_HIGH);
    assert_eq!(process.protocol().seen, ["made 4242"]);
    process.transport().write(b"b");
    assert_eq!(process.unread_stdin(), WRITE_BUFFER_HIGH + 1);
    assert_eq!(process.protocol().seen, ["made 4242", "paused"]);
    assert_eq!(process.take_written(), &b""[..], "nothing is read yet");

    let above_low = WRITE_BUFFER_HIGH - WRITE_BUFFER_LOW;
    assert_eq!(process.read_stdin(above_low), above_low);
    assert_eq!(process.protocol().seen, ["made 4242", "paused"]);
    assert_eq!(process.read_stdin(1), 1);
    assert_eq!(process.protocol().seen, ["made 4242", "paused", "resumed"]);
    assert_eq!(process.take_written().len(), above_low + 1);
}

#[test]
fn a_close_asked_while_stdin_is_unread_comes_once_it_is_read() {
    let mut process = FakeProcess::new(Recorder::default());
    process.stop_reading_stdin();
    process.transport().write(b"last words");
    process.transport().close_stdin();
    process.transport().write(b"after the close");
    assert!(process.is_stdin_open());
    assert_eq!(process.read_stdin(5), 5);
    assert!(process.is_stdin_open());
    assert_eq!(process.read_stdin(100), 5);
    assert!(!process.is_stdin_open());
    assert_eq!(process.take_written(), &b"last words"[..]);
    assert_eq!(process.protocol().seen, ["made 4242", "in lost"]);
}

#[test]
fn a_write_past_the_limit_is_refused_and_closes_stdin_dropping_what_waited() {
    let mut process = FakeProcess::new(Recorder::default());
    process.stop_reading_stdin();
    process
        .transport()
        .write(&vec![b'a'; STDIN_BUFFER_LIMIT - 1]);
    process.transport().write(b"a");
    assert_eq!(process.unread_stdin(), STDIN_BUFFER_LIMIT);
    assert!(process.is_stdin_open(), "the limit itself is allowed");
    process.transport().write(b"one too many");
    assert!(!process.is_stdin_open());
    assert_eq!(process.unread_stdin(), 0);
    assert_eq!(process.read_stdin(usize::MAX), 0);
    assert_eq!(process.take_written(), &b""[..]);
    assert_eq!(process.protocol().seen, ["made 4242", "paused", "in lost"]);
}
