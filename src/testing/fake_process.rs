//! A child process in memory for testing a [`ProcessProtocol`]: [`FakeProcess`].

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use super::FakeClock;
use crate::process::{
    ExitStatus, PressureSignal, ProcessProtocol, ProcessTransport, Request, Signal, StdinPressure,
};
use crate::Clock;

/// One thing a scripted [`FakeProcess`] does ([`FakeProcess::script`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessStep {
    /// Prints on stdout ([`FakeProcess::out`]).
    Out(Bytes),
    /// Prints on stderr ([`FakeProcess::err`]).
    Err(Bytes),
    /// Closes stdout ([`FakeProcess::close_stdout`]).
    CloseStdout,
    /// Closes stderr ([`FakeProcess::close_stderr`]).
    CloseStderr,
    /// Stops reading stdin ([`FakeProcess::close_stdin`]).
    CloseStdin,
    /// Exits ([`FakeProcess::exit`]).
    Exit(ExitStatus),
}

/// A [`ProcessProtocol`] run against a scripted process, with no process: the test plays
/// the child (its output, the closing of its pipes, its exit) and reads what the protocol
/// did (what it wrote to stdin, whether it closed it, the signals it sent). The protocol's
/// callbacks come in the order [`Reactor::spawn_process`](crate::Reactor::spawn_process)
/// gives them: `connection_made` on [`new`](FakeProcess::new), `process_ended` once the
/// process has [`exit`](FakeProcess::exit)ed and both output pipes are closed.
///
/// Requests made through the [`ProcessTransport`] (from a callback, or a clone held
/// elsewhere) are applied at the test's next call, in order. As with a real child, a
/// signal asked for after the exit is not sent, and writes after stdin is closed go
/// nowhere.
///
/// The process reads its stdin as soon as it is written to, unless the test says
/// otherwise ([`stop_reading_stdin`](FakeProcess::stop_reading_stdin)): writes then wait
/// unread, with the write pressure of a real child's stdin (`pause_producing` above the
/// high-water mark, `resume_producing` once [`read_stdin`](FakeProcess::read_stdin)
/// takes them down to the low one), and a `close_stdin` asked meanwhile closes it once
/// they are read.
///
/// # Examples
///
/// A protocol that stops a process with SIGTERM when it prints `ready`:
///
/// ```
/// use bytes::Bytes;
/// use torsade::process::{ExitStatus, ProcessProtocol, ProcessTransport, Signal};
/// use torsade::testing::FakeProcess;
///
/// #[derive(Default)]
/// struct StopWhenReady {
///     ended: Option<ExitStatus>,
/// }
///
/// impl ProcessProtocol for StopWhenReady {
///     fn connection_made(&mut self, process: &mut ProcessTransport) {
///         process.write(b"start\n");
///     }
///     fn out_received(&mut self, process: &mut ProcessTransport, data: Bytes) {
///         if &data[..] == b"ready\n" {
///             process.signal_process(Signal::Term);
///         }
///     }
///     fn process_ended(&mut self, _: &mut ProcessTransport, status: ExitStatus) {
///         self.ended = Some(status);
///     }
/// }
///
/// let mut process = FakeProcess::new(StopWhenReady::default());
/// assert_eq!(process.take_written(), &b"start\n"[..]);
/// process.out(b"ready\n");
/// assert_eq!(process.signals(), [Signal::Term]);
/// process.exit(ExitStatus::Signal(15));
/// assert_eq!(process.protocol().ended, None, "stdout and stderr are still open");
/// process.close_stdout();
/// process.close_stderr();
/// assert_eq!(process.protocol().ended, Some(ExitStatus::Signal(15)));
/// ```
#[derive(Debug)]
pub struct FakeProcess<P: ProcessProtocol> {
    protocol: P,
    transport: ProcessTransport,
    requests: Option<mpsc::UnboundedReceiver<Request>>,
    written: Vec<u8>,
    /// Written and not yet read by the process, while it does not read by itself.
    unread: BytesMut,
    reading_stdin: bool,
    /// `close_stdin` was asked while bytes waited unread.
    close_after_unread: bool,
    pressure: StdinPressure,
    stdin_open: bool,
    stdout_open: bool,
    stderr_open: bool,
    exit: Option<ExitStatus>,
    signals: Vec<Signal>,
    /// Scripted steps, by the clock time they are due, in order.
    script: VecDeque<(Duration, ProcessStep)>,
}

impl<P: ProcessProtocol> FakeProcess<P> {
    /// The pid a fake process reports unless given one.
    pub const PID: u32 = 4242;

    /// Starts `protocol` on a fake process: `connection_made` runs now.
    pub fn new(protocol: P) -> FakeProcess<P> {
        FakeProcess::with_pid(protocol, FakeProcess::<P>::PID)
    }

    /// [`new`](FakeProcess::new), with the process's pid.
    pub fn with_pid(protocol: P, pid: u32) -> FakeProcess<P> {
        let (sender, requests) = mpsc::unbounded_channel();
        let mut process = FakeProcess {
            protocol,
            transport: ProcessTransport::new(pid, sender),
            requests: Some(requests),
            written: Vec::new(),
            unread: BytesMut::new(),
            reading_stdin: true,
            close_after_unread: false,
            pressure: StdinPressure::default(),
            stdin_open: true,
            stdout_open: true,
            stderr_open: true,
            exit: None,
            signals: Vec::new(),
            script: VecDeque::new(),
        };
        process.protocol.connection_made(&mut process.transport);
        process.apply_requests();
        process
    }

    /// The process prints `data` on its stdout: `out_received`.
    ///
    /// # Panics
    ///
    /// If stdout was closed: a script error.
    pub fn out(&mut self, data: &[u8]) {
        assert!(self.stdout_open, "the fake process's stdout is closed");
        let data = Bytes::copy_from_slice(data);
        self.protocol.out_received(&mut self.transport, data);
        self.apply_requests();
    }

    /// The process prints `data` on its stderr: `err_received`.
    ///
    /// # Panics
    ///
    /// If stderr was closed: a script error.
    pub fn err(&mut self, data: &[u8]) {
        assert!(self.stderr_open, "the fake process's stderr is closed");
        let data = Bytes::copy_from_slice(data);
        self.protocol.err_received(&mut self.transport, data);
        self.apply_requests();
    }

    /// The process closes its stdout: `out_connection_lost` (once).
    pub fn close_stdout(&mut self) {
        if std::mem::replace(&mut self.stdout_open, false) {
            self.protocol.out_connection_lost(&mut self.transport);
            self.after_a_pipe_or_the_exit();
        }
    }

    /// The process closes its stderr: `err_connection_lost` (once).
    pub fn close_stderr(&mut self) {
        if std::mem::replace(&mut self.stderr_open, false) {
            self.protocol.err_connection_lost(&mut self.transport);
            self.after_a_pipe_or_the_exit();
        }
    }

    /// The process closes its stdin (stops reading): `in_connection_lost` (once).
    pub fn close_stdin(&mut self) {
        self.apply_requests();
        self.stdin_lost();
        self.apply_requests();
    }

    /// The process exits with `status`: `process_exited`, and `process_ended` too if both
    /// output pipes are closed already.
    ///
    /// # Panics
    ///
    /// If it exited already: a script error.
    pub fn exit(&mut self, status: ExitStatus) {
        self.apply_requests();
        assert!(self.exit.is_none(), "the fake process exited already");
        self.exit = Some(status);
        self.protocol.process_exited(&mut self.transport, status);
        self.after_a_pipe_or_the_exit();
    }

    /// Scripts the process on `clock`: each step is played when the clock reaches its
    /// time (given from the clock's time now), through [`advance`](FakeProcess::advance);
    /// steps due at the same time are played in the order given.
    pub fn script(
        &mut self,
        clock: &FakeClock,
        steps: impl IntoIterator<Item = (Duration, ProcessStep)>,
    ) {
        let now = clock.now();
        self.script
            .extend(steps.into_iter().map(|(delay, step)| (now + delay, step)));
        self.script.make_contiguous().sort_by_key(|(due, _)| *due);
    }

    /// Moves `clock` forward by `amount`, playing each scripted step and running each of
    /// the clock's calls (the protocol's timers, say) at its own due time, in time order.
    pub fn advance(&mut self, clock: &FakeClock, amount: Duration) {
        let until = clock.now() + amount;
        while let Some((due, _)) = self.script.front().filter(|(due, _)| *due <= until) {
            clock.advance(due.saturating_sub(clock.now()));
            self.apply_requests();
            if let Some((_, step)) = self.script.pop_front() {
                self.play(step);
            }
        }
        clock.advance(until.saturating_sub(clock.now()));
        self.apply_requests();
    }

    /// Does `step` now.
    pub fn play(&mut self, step: ProcessStep) {
        match step {
            ProcessStep::Out(data) => self.out(&data),
            ProcessStep::Err(data) => self.err(&data),
            ProcessStep::CloseStdout => self.close_stdout(),
            ProcessStep::CloseStderr => self.close_stderr(),
            ProcessStep::CloseStdin => self.close_stdin(),
            ProcessStep::Exit(status) => self.exit(status),
        }
    }

    /// From now on the process does not read its stdin by itself: what the protocol
    /// writes waits until [`read_stdin`](FakeProcess::read_stdin).
    pub fn stop_reading_stdin(&mut self) {
        self.apply_requests();
        self.reading_stdin = false;
    }

    /// The process reads up to `max` of the bytes waiting on its stdin (they are then
    /// [`take_written`](FakeProcess::take_written)'s), and `resume_producing` comes if
    /// that takes them down to the low-water mark; returns how many it read.
    pub fn read_stdin(&mut self, max: usize) -> usize {
        self.apply_requests();
        let read = self.unread.split_to(max.min(self.unread.len()));
        self.written.extend_from_slice(&read);
        self.transport.stdin().taken(read.len());
        if self.close_after_unread && self.unread.is_empty() {
            self.stdin_lost();
        }
        self.apply_requests();
        read.len()
    }

    /// How many bytes written to stdin wait unread.
    pub fn unread_stdin(&mut self) -> usize {
        self.apply_requests();
        self.unread.len()
    }

    /// What the protocol wrote to the process's stdin since the last call.
    pub fn take_written(&mut self) -> Bytes {
        self.apply_requests();
        Bytes::from(std::mem::take(&mut self.written))
    }

    /// Whether the process's stdin is still open (the protocol has not closed it).
    pub fn is_stdin_open(&mut self) -> bool {
        self.apply_requests();
        self.stdin_open
    }

    /// The signals sent to the process, in order (those asked for after the exit are not
    /// sent).
    pub fn signals(&mut self) -> &[Signal] {
        self.apply_requests();
        &self.signals
    }

    /// Whether `process_ended` has run.
    pub fn is_ended(&self) -> bool {
        self.requests.is_none()
    }

    /// The process's transport, as the protocol's callbacks get it.
    pub fn transport(&self) -> &ProcessTransport {
        &self.transport
    }

    /// The protocol.
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The protocol, to change it between steps.
    pub fn protocol_mut(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// Applies the transport's requests in order, with the callbacks they cause, and the
    /// write pressure they leave.
    fn apply_requests(&mut self) {
        loop {
            while let Some(request) = self.requests.as_mut().and_then(|r| r.try_recv().ok()) {
                match request {
                    Request::Write(data) if self.stdin_open && self.reading_stdin => {
                        self.written.extend_from_slice(&data);
                        self.transport.stdin().taken(data.len());
                    }
                    Request::Write(data) if self.stdin_open => self.unread.extend_from_slice(&data),
                    Request::Write(_) => {}
                    Request::CloseStdin if self.unread.is_empty() => self.stdin_lost(),
                    Request::CloseStdin => self.close_after_unread = true,
                    Request::AbortStdin => self.stdin_lost(),
                    Request::Signal(signal) if self.exit.is_none() => self.signals.push(signal),
                    Request::Signal(_) => {}
                }
            }
            if self.requests.is_none() {
                return;
            }
            match self.pressure.check(self.transport.stdin()) {
                Some(PressureSignal::Pause) => self.protocol.pause_producing(&mut self.transport),
                Some(PressureSignal::Resume) => self.protocol.resume_producing(&mut self.transport),
                None => return,
            }
        }
    }

    fn stdin_lost(&mut self) {
        if std::mem::replace(&mut self.stdin_open, false) {
            self.transport.stdin().close();
            self.unread.clear();
            self.protocol.in_connection_lost(&mut self.transport);
        }
    }

    /// Ends the process once it has exited and both output pipes are closed.
    fn after_a_pipe_or_the_exit(&mut self) {
        self.apply_requests();
        if let (Some(status), false, false) = (self.exit, self.stdout_open, self.stderr_open) {
            if self.requests.is_some() {
                // As on a real child, stdin is closed with the process.
                self.stdin_lost();
                self.apply_requests();
                self.protocol.process_ended(&mut self.transport, status);
                self.apply_requests();
                // Requests from now on are ignored, as by an ended process's task.
                self.requests = None;
            }
        }
    }
}
