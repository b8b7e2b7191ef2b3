//! What a child process's events reach: [`ProcessProtocol`], Twisted's
//! `ProcessProtocol`.

use bytes::Bytes;

use super::{ExitStatus, ProcessTransport};

/// The callbacks of a child process started with
/// [`Reactor::spawn_process`](crate::Reactor::spawn_process): its output, the closing of
/// its three pipes, its exit. Called one at a time, in order, with `&mut self`; each gets
/// the process's [`ProcessTransport`] (write to its stdin, close it, signal it).
///
/// The order: `connection_made` first; then `out_received`, `err_received` and the three
/// `*_connection_lost` as they happen, and `process_exited` once the process has exited
/// (its pipes may still hold output, delivered after it); `process_ended` last, exactly
/// once, after the exit and after stdout and stderr are both closed. Each
/// `*_connection_lost` comes exactly once, before `process_ended` (a stdin still open when
/// the process ends is closed with it). By then the process is reaped: its pid is no
/// longer its own.
///
/// A callback that panics ends the process's events: the panic is logged and the process
/// killed (SIGKILL); no further callback runs.
///
/// # Examples
///
/// Collect what a shell prints on stdout and on stderr, apart:
///
/// ```
/// # #[cfg(unix)] {
/// use std::sync::{Arc, Mutex};
///
/// use bytes::Bytes;
/// use torsade::process::{ExitStatus, ProcessProtocol, ProcessTransport};
/// use torsade::Reactor;
///
/// #[derive(Default)]
/// struct Output {
///     out: Vec<u8>,
///     err: Vec<u8>,
///     status: Option<ExitStatus>,
/// }
///
/// struct Collect(Reactor, Arc<Mutex<Output>>);
///
/// impl ProcessProtocol for Collect {
///     fn out_received(&mut self, _: &mut ProcessTransport, data: Bytes) {
///         self.1.lock().unwrap().out.extend_from_slice(&data);
///     }
///     fn err_received(&mut self, _: &mut ProcessTransport, data: Bytes) {
///         self.1.lock().unwrap().err.extend_from_slice(&data);
///     }
///     fn process_ended(&mut self, _: &mut ProcessTransport, status: ExitStatus) {
///         self.1.lock().unwrap().status = Some(status);
///         let _ = self.0.stop();
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let output = Arc::new(Mutex::new(Output::default()));
/// let mut shell = std::process::Command::new("sh");
/// shell.args(["-c", "echo out; echo err >&2; exit 2"]);
/// reactor.spawn_process(Collect(reactor.clone(), output.clone()), shell)?;
/// reactor.run()?;
/// let output = output.lock().unwrap();
/// assert_eq!((&output.out[..], &output.err[..]), (&b"out\n"[..], &b"err\n"[..]));
/// assert_eq!(output.status, Some(ExitStatus::Code(2)));
/// # }
/// # Ok::<(), torsade::Error>(())
/// ```
pub trait ProcessProtocol: Send + 'static {
    /// The process has started; its pipes are open.
    #[doc(alias = "connectionMade")]
    fn connection_made(&mut self, process: &mut ProcessTransport) {
        let _ = process;
    }

    /// The process wrote `data` to its stdout.
    #[doc(alias = "outReceived")]
    fn out_received(&mut self, process: &mut ProcessTransport, data: Bytes);

    /// The process wrote `data` to its stderr. Ignored unless overridden.
    #[doc(alias = "errReceived")]
    fn err_received(&mut self, process: &mut ProcessTransport, data: Bytes) {
        let _ = (process, data);
    }

    /// The process's stdin is closed: by
    /// [`close_stdin`](ProcessTransport::close_stdin), or because the process closed its
    /// end (a write failed).
    #[doc(alias = "inConnectionLost")]
    fn in_connection_lost(&mut self, process: &mut ProcessTransport) {
        let _ = process;
    }

    /// More than [`WRITE_BUFFER_HIGH`](crate::WRITE_BUFFER_HIGH) bytes written to the
    /// process's stdin wait for it to read them: stop writing until
    /// [`resume_producing`](ProcessProtocol::resume_producing). Called once per crossing
    /// of the mark; writes go on being queued up to
    /// [`STDIN_BUFFER_LIMIT`](super::STDIN_BUFFER_LIMIT). Ignored unless overridden.
    #[doc(alias = "pauseProducing")]
    fn pause_producing(&mut self, process: &mut ProcessTransport) {
        let _ = process;
    }

    /// The process has read its stdin down to
    /// [`WRITE_BUFFER_LOW`](crate::WRITE_BUFFER_LOW) unread bytes after a
    /// [`pause_producing`](ProcessProtocol::pause_producing): writing may go on. Not
    /// called once stdin is closed. Ignored unless overridden.
    #[doc(alias = "resumeProducing")]
    fn resume_producing(&mut self, process: &mut ProcessTransport) {
        let _ = process;
    }

    /// The process's stdout is closed: nothing more will come from it.
    #[doc(alias = "outConnectionLost")]
    fn out_connection_lost(&mut self, process: &mut ProcessTransport) {
        let _ = process;
    }

    /// The process's stderr is closed.
    #[doc(alias = "errConnectionLost")]
    fn err_connection_lost(&mut self, process: &mut ProcessTransport) {
        let _ = process;
    }

    /// The process exited (or a signal ended it); its pipes may still hold output.
    #[doc(alias = "processExited")]
    fn process_exited(&mut self, process: &mut ProcessTransport, status: ExitStatus) {
        let _ = (process, status);
    }

    /// The process exited and its stdout and stderr are closed: the last callback.
    #[doc(alias = "processEnded")]
    fn process_ended(&mut self, process: &mut ProcessTransport, status: ExitStatus);
}
