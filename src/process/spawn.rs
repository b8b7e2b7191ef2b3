//! Starting a child process and running its [`ProcessProtocol`]:
//! [`Reactor::spawn_process`], and the task that carries the process's events to it.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Sleep;
use tokio_util::io::ReaderStream;

use super::stdin::StdinBuffer;
use super::transport::Request;
use super::{
    ChildPolicy, ExitStatus, PressureSignal, ProcessProtocol, ProcessTransport, Signal,
    StdinPressure,
};
use crate::reactor::{Guard, Registry};
use crate::{Error, Reactor};

/// How much of a pipe is read at once.
const READ_CHUNK: usize = 16 * 1024;

impl Reactor {
    /// Starts `command` as a child process whose events reach `protocol`: Twisted's
    /// `reactor.spawnProcess`. The program, its arguments, environment and working
    /// directory are `command`'s; its stdin, stdout and stderr become pipes to this
    /// process (whatever `command` said).
    ///
    /// Returns the process's transport once it has started; `connection_made` runs next,
    /// on the reactor. A program that cannot be started (missing, not executable) is
    /// [`Error::SpawnFailed`], naming it; while the reactor is stopping, nothing is
    /// started: [`Error::ReactorStopped`]. The child is reaped when it exits; the
    /// reactor counts it as alive until then, and a stop ends it or waits for it as the
    /// reactor's [`ChildPolicy`] says. It is killed (SIGKILL) if the reactor's runtime is
    /// dropped before then.
    ///
    /// # Examples
    ///
    /// Run `echo` and print what it says:
    ///
    /// ```no_run
    /// use bytes::Bytes;
    /// use torsade::process::{ExitStatus, ProcessProtocol, ProcessTransport};
    /// use torsade::Reactor;
    ///
    /// struct Print(Reactor);
    ///
    /// impl ProcessProtocol for Print {
    ///     fn out_received(&mut self, _: &mut ProcessTransport, data: Bytes) {
    ///         print!("{}", String::from_utf8_lossy(&data));
    ///     }
    ///     fn process_ended(&mut self, _: &mut ProcessTransport, status: ExitStatus) {
    ///         println!("echo ended: {status}");
    ///         let _ = self.0.stop();
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let mut command = std::process::Command::new("echo");
    /// command.arg("hello");
    /// reactor.spawn_process(Print(reactor.clone()), command)?;
    /// reactor.run()?;
    /// # Ok::<(), torsade::Error>(())
    /// ```
    #[doc(alias = "spawnProcess")]
    pub fn spawn_process<P: ProcessProtocol>(
        &self,
        protocol: P,
        command: std::process::Command,
    ) -> Result<ProcessTransport, Error> {
        let mut started = start(self, command, Stdio::piped())?;
        let pipes = Pipes {
            stdin: started.child.stdin.take(),
            stdout: started.child.stdout.take().map(read_chunks),
            stderr: started.child.stderr.take().map(read_chunks),
        };
        Ok(started.run(protocol, pipes))
    }
}

/// A child just started: its pipes not handed out yet, its events not yet running.
pub(super) struct Started {
    handle: Handle,
    pub(super) child: Child,
    transport: ProcessTransport,
    requests: mpsc::UnboundedReceiver<Request>,
    stop: StopWatch,
}

/// What a child's task watches of its reactor's stop; holds the child counted as alive.
pub(super) struct StopWatch {
    registry: Arc<Registry>,
    stopping: watch::Receiver<bool>,
    aborting: watch::Receiver<bool>,
    _alive: Guard,
}

/// Starts `command` on one of `reactor`'s loops with piped stdin and stdout and `stderr`,
/// killed if its task is dropped before it is reaped.
pub(super) fn start(
    reactor: &Reactor,
    command: std::process::Command,
    stderr: Stdio,
) -> Result<Started, Error> {
    let registry = reactor.registry();
    // Counted before the stop is checked: a stop that begins after the check sees it.
    let alive = registry.register_task();
    let stop = StopWatch {
        registry: Arc::clone(registry),
        stopping: registry.stop_signal(),
        aborting: registry.abort_signal(),
        _alive: alive,
    };
    if registry.is_stopping() {
        return Err(Error::ReactorStopped);
    }
    let (handle, _) = reactor.pick_loop();
    let mut command = tokio::process::Command::from(command);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true);
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    // The pipes are registered with the loop's I/O driver: spawn inside it.
    let child = {
        let _inside = handle.enter();
        command.spawn().map_err(|source| Error::SpawnFailed {
            program: program.clone(),
            source,
        })?
    };
    // A child just spawned and not yet waited for has an id.
    let pid = child.id().unwrap_or_default();
    tracing::debug!(pid, program, "process started");
    let (requests, received) = mpsc::unbounded_channel();
    Ok(Started {
        handle,
        child,
        transport: ProcessTransport::new(pid, requests),
        requests: received,
        stop,
    })
}

impl Started {
    /// Runs the process's events to `protocol`, on its loop, with the pipes in `pipes`
    /// (those not there count as closed already).
    pub(super) fn run<P, O, E>(self, protocol: P, pipes: Pipes<O, E>) -> ProcessTransport
    where
        P: ProcessProtocol,
        O: AsyncRead + Send + Unpin + 'static,
        E: AsyncRead + Send + Unpin + 'static,
    {
        let transport = self.transport.clone();
        self.handle.spawn(run(
            protocol,
            self.transport,
            self.child,
            pipes,
            self.requests,
            self.stop,
        ));
        transport
    }
}

/// An output pipe read in chunks.
fn read_chunks<R: AsyncRead>(pipe: R) -> ReaderStream<R> {
    ReaderStream::with_capacity(pipe, READ_CHUNK)
}

/// The child's pipes, each `None` once closed.
pub(super) struct Pipes<O, E> {
    pub(super) stdin: Option<ChildStdin>,
    pub(super) stdout: Option<ReaderStream<O>>,
    pub(super) stderr: Option<ReaderStream<E>>,
}

/// What happened next to the process.
enum Event {
    Out(Option<io::Result<Bytes>>),
    Err(Option<io::Result<Bytes>>),
    StdinClosed,
    /// What waits for stdin changed: the write pressure is checked.
    StdinChanged,
    Exited(io::Result<std::process::ExitStatus>),
    Request(Option<Request>),
    /// The reactor started stopping.
    Stopping,
    /// The grace after SIGTERM is over.
    GraceOver,
    /// The reactor's stop deadline passed.
    Aborting,
}

/// Runs the process to its end: its output, stdin closing and exit to `protocol`, the
/// transport's requests to the process; `process_ended` once it has exited and both
/// output pipes are closed, after `in_connection_lost` if that had not come yet. The
/// write pressure on stdin is checked after every event. When the reactor stops, the
/// child is signalled as its [`ChildPolicy`] says; the task's end lets the reactor's
/// `run` return.
async fn run<P, O, E>(
    protocol: P,
    transport: ProcessTransport,
    mut child: Child,
    mut pipes: Pipes<O, E>,
    mut requests: mpsc::UnboundedReceiver<Request>,
    mut stop: StopWatch,
) where
    P: ProcessProtocol,
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let pid = transport.pid();
    let stdin = Arc::clone(transport.stdin());
    let mut pressure = StdinPressure::default();
    let mut protocol = Callbacks {
        protocol,
        transport,
        panicked: false,
    };
    let (mut to_stdin, mut stdin_closed) = match pipes.stdin.take() {
        Some(pipe) => {
            let (writes, received) = mpsc::unbounded_channel();
            let (closed, closed_seen) = oneshot::channel();
            let feeder = tokio::spawn(feed_stdin(pipe, Arc::clone(&stdin), received, closed));
            (Some((writes, feeder)), Some(closed_seen))
        }
        None => {
            stdin.close();
            (None, None)
        }
    };
    let mut exit: Option<ExitStatus> = None;
    let mut requests_open = true;
    let (mut stop_seen, mut abort_seen) = (false, false);
    let mut kill_timer: Option<Pin<Box<Sleep>>> = None;
    protocol.call(|p, t| p.connection_made(t));
    protocol.relieve(&mut pressure, &stdin);
    while !protocol.panicked && (exit.is_none() || pipes.stdout.is_some() || pipes.stderr.is_some())
    {
        let event = tokio::select! {
            chunk = next_chunk(&mut pipes.stdout) => Event::Out(chunk),
            chunk = next_chunk(&mut pipes.stderr) => Event::Err(chunk),
            _ = wait_closed(&mut stdin_closed) => Event::StdinClosed,
            _ = stdin.changed(), if !stdin.is_closed() => Event::StdinChanged,
            status = child.wait(), if exit.is_none() => Event::Exited(status),
            request = requests.recv(), if requests_open => Event::Request(request),
            () = became_true(&mut stop.stopping), if !stop_seen => Event::Stopping,
            () = became_true(&mut stop.aborting), if !abort_seen => Event::Aborting,
            () = elapsed(&mut kill_timer), if kill_timer.is_some() => Event::GraceOver,
        };
        match event {
            Event::Out(Some(Ok(data))) => protocol.call(|p, t| p.out_received(t, data)),
            Event::Out(end) => {
                log_read_error(pid, "stdout", end);
                pipes.stdout = None;
                protocol.call(|p, t| p.out_connection_lost(t));
            }
            Event::Err(Some(Ok(data))) => protocol.call(|p, t| p.err_received(t, data)),
            Event::Err(end) => {
                log_read_error(pid, "stderr", end);
                pipes.stderr = None;
                protocol.call(|p, t| p.err_connection_lost(t));
            }
            Event::StdinChanged => {}
            Event::StdinClosed => {
                stdin.close();
                stdin_closed = None;
                to_stdin = None;
                protocol.call(|p, t| p.in_connection_lost(t));
            }
            Event::Exited(status) => {
                let status = match status {
                    Ok(status) => ExitStatus::from(status),
                    Err(error) => {
                        // Waiting fails only if the child is not ours to wait for.
                        tracing::warn!(pid, "cannot wait for the process: {error}");
                        ExitStatus::Code(-1)
                    }
                };
                tracing::debug!(pid, %status, "process exited");
                exit = Some(status);
                protocol.call(|p, t| p.process_exited(t, status));
            }
            Event::Stopping => {
                stop_seen = true;
                if let (ChildPolicy::Terminate { grace }, None) =
                    (stop.registry.child_policy(), exit)
                {
                    tracing::debug!(
                        pid,
                        ?grace,
                        "the reactor is stopping: terminating the process"
                    );
                    // Without SIGTERM (not Unix), the only way to end it is to kill it.
                    let first = if cfg!(unix) {
                        Signal::Term
                    } else {
                        Signal::Kill
                    };
                    send_signal(&mut child, pid, first);
                    kill_timer = Some(Box::pin(tokio::time::sleep(grace)));
                }
            }
            Event::GraceOver => {
                kill_timer = None;
                if exit.is_none() {
                    tracing::warn!(
                        pid,
                        "the process outlived its grace after SIGTERM: killing it"
                    );
                    send_signal(&mut child, pid, Signal::Kill);
                }
            }
            Event::Aborting => {
                abort_seen = true;
                if exit.is_none() {
                    tracing::warn!(
                        pid,
                        "the reactor's stop deadline passed: killing the process"
                    );
                    send_signal(&mut child, pid, Signal::Kill);
                }
            }
            Event::Request(None) => requests_open = false,
            Event::Request(Some(Request::Signal(signal))) => {
                if exit.is_none() {
                    send_signal(&mut child, pid, signal);
                }
            }
            Event::Request(Some(Request::AbortStdin)) => {
                if let Some((_, feeder)) = &to_stdin {
                    // Its pipe is dropped with it, closing stdin: `StdinClosed` follows.
                    feeder.abort();
                }
            }
            Event::Request(Some(request)) => {
                if let Some((writes, _)) = &to_stdin {
                    // Fails only if stdin has just closed (the process stopped reading):
                    // the request goes nowhere, as a write to a closed pipe would.
                    let _ = writes.send(request);
                }
            }
        }
        protocol.relieve(&mut pressure, &stdin);
    }
    if protocol.panicked {
        if exit.is_none() {
            // Killed and waited for, so that it is reaped now rather than left a zombie.
            if let Err(error) = child.start_kill() {
                tracing::warn!(pid, "cannot kill the process: {error}");
            }
            let _ = child.wait().await;
        }
        return;
    }
    if stdin_closed.is_some() {
        // The process is gone: its stdin is closed with it (the stdin task drops the pipe
        // once it sees its channel closed).
        drop(to_stdin);
        protocol.call(|p, t| p.in_connection_lost(t));
    }
    // The loop ends, with no panic, only once the exit is seen.
    let status = exit.unwrap_or(ExitStatus::Code(-1));
    protocol.call(|p, t| p.process_ended(t, status));
}

/// The protocol and its transport, each callback run with a panic caught: after one,
/// nothing more is called and the process is killed.
struct Callbacks<P> {
    protocol: P,
    transport: ProcessTransport,
    panicked: bool,
}

impl<P: ProcessProtocol> Callbacks<P> {
    fn call(&mut self, callback: impl FnOnce(&mut P, &mut ProcessTransport)) {
        if self.panicked {
            return;
        }
        let (protocol, transport) = (&mut self.protocol, &mut self.transport);
        let called = catch_unwind(AssertUnwindSafe(|| callback(protocol, transport)));
        if let Err(payload) = called {
            self.panicked = true;
            let error = Error::from_panic(&*payload);
            tracing::error!(
                pid = self.transport.pid(),
                "a ProcessProtocol callback panicked; killing the process: {error}"
            );
        }
    }

    /// Pauses or resumes the protocol as what waits for `stdin` asks.
    fn relieve(&mut self, pressure: &mut StdinPressure, stdin: &StdinBuffer) {
        match pressure.check(stdin) {
            Some(PressureSignal::Pause) => self.call(|p, t| p.pause_producing(t)),
            Some(PressureSignal::Resume) => self.call(|p, t| p.resume_producing(t)),
            None => {}
        }
    }
}

/// Writes what is asked to the child's stdin, in order, counting off in `queued` what the
/// child takes, until asked to close it, the process stops reading, or the process's task
/// ends; then closes it and says so.
async fn feed_stdin(
    mut pipe: ChildStdin,
    queued: Arc<StdinBuffer>,
    mut writes: mpsc::UnboundedReceiver<Request>,
    closed: oneshot::Sender<()>,
) {
    'writes: while let Some(Request::Write(mut data)) = writes.recv().await {
        while !data.is_empty() {
            match pipe.write(&data).await {
                Ok(0) => {
                    tracing::debug!("the process's stdin takes no more");
                    break 'writes;
                }
                Ok(taken) => {
                    queued.taken(taken);
                    let _ = data.split_to(taken);
                }
                Err(error) => {
                    tracing::debug!("the process's stdin is closed: {error}");
                    break 'writes;
                }
            }
        }
    }
    drop(pipe);
    // The process's task may have ended already: nobody to tell.
    let _ = closed.send(());
}

/// The next chunk of an output pipe; never, once it is closed.
async fn next_chunk<R: AsyncRead + Unpin>(
    pipe: &mut Option<ReaderStream<R>>,
) -> Option<io::Result<Bytes>> {
    match pipe {
        Some(pipe) => pipe.next().await,
        None => std::future::pending().await,
    }
}

/// Resolves once `flag` is `true`; never if its sender is gone first.
async fn became_true(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves once `timer` has elapsed; never without one.
async fn elapsed(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(timer) => timer.await,
        None => std::future::pending().await,
    }
}

/// Stdin's closing; never, once it was seen.
async fn wait_closed(closed: &mut Option<oneshot::Receiver<()>>) {
    match closed {
        // Either way the stdin task is gone: stdin is closed.
        Some(closed) => {
            let _ = closed.await;
        }
        None => std::future::pending().await,
    }
}

fn log_read_error(pid: u32, pipe: &str, end: Option<io::Result<Bytes>>) {
    if let Some(Err(error)) = end {
        tracing::debug!(pid, "reading the process's {pipe} failed: {error}");
    }
}

/// Sends `signal` to the child, which has not been reaped (so `pid` is still its own).
fn send_signal(child: &mut Child, pid: u32, signal: super::Signal) {
    #[cfg(unix)]
    let sent = {
        let _ = child;
        signal.send(pid)
    };
    #[cfg(not(unix))]
    let sent = match signal {
        super::Signal::Kill => child.start_kill(),
        _ => Err(io::Error::from(io::ErrorKind::Unsupported)),
    };
    match sent {
        Ok(()) => tracing::debug!(pid, %signal, "signal sent"),
        Err(error) => tracing::warn!(pid, %signal, "cannot send the signal: {error}"),
    }
}
