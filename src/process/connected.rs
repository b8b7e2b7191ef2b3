//! A child process's stdin and stdout as a connection: [`Reactor::connect_process`] runs
//! an ordinary [`Protocol`] (a line receiver, say) on them, unchanged.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use tokio::io::{AsyncWrite, Empty};
use tokio::process::ChildStdin;

use super::spawn::{start, Pipes};
use super::{ExitStatus, ProcessProtocol, ProcessTransport};
use crate::factory::OnceFactory;
use crate::{Address, Deferred, Error, Protocol, ProtocolHandle, Reactor, Resolver};

/// A child process run by [`Reactor::connect_process`]: its connection, its end.
#[non_exhaustive]
pub struct ConnectedProcess<P: Protocol> {
    /// The process: its [`pid`](ProcessTransport::pid) and
    /// [`signal_process`](ProcessTransport::signal_process). Its stdin belongs to the
    /// connection: its `write` and `close_stdin` do nothing.
    pub process: ProcessTransport,
    /// Fires with the protocol's handle once `connection_made` has run.
    pub connection: Deferred<ProtocolHandle<P>>,
    /// Fires with the exit status once the process has exited and is reaped (its stdout
    /// may still hold output for the protocol).
    pub ended: Deferred<ExitStatus>,
}

impl<P: Protocol> fmt::Debug for ConnectedProcess<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedProcess")
            .field("pid", &self.process.pid())
            .finish_non_exhaustive()
    }
}

impl Reactor {
    /// Starts `command` and runs `protocol` on its stdin and stdout as on a socket: what
    /// the process prints reaches `data_received`, what the protocol writes is the
    /// process's input, [`lose_write_connection`](crate::Transport::lose_write_connection)
    /// closes its stdin (it reads EOF), and the end of its stdout is the peer's EOF. The
    /// process's stderr is this program's. Twisted's `ProcessProtocol` wrapping a
    /// `Protocol`, so that a [`LineReceiver`]-like protocol sits on a child unchanged.
    ///
    /// Fails as [`Reactor::spawn_process`] does; the child is reaped when it exits.
    ///
    /// # Examples
    ///
    /// Count the bytes `printf` prints, stopping at the end of its output:
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// use bytes::Bytes;
    /// use torsade::prelude::*;
    /// use torsade::{DisconnectReason, Reactor};
    ///
    /// struct Count(Reactor, Arc<AtomicUsize>);
    ///
    /// impl Protocol for Count {
    ///     fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
    ///         self.1.fetch_add(data.len(), Ordering::Relaxed);
    ///     }
    ///     fn connection_lost(&mut self, _: DisconnectReason) {
    ///         let _ = self.0.stop();
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let counted = Arc::new(AtomicUsize::new(0));
    /// let mut printf = std::process::Command::new("printf");
    /// printf.arg("12345");
    /// let process = reactor.connect_process(Count(reactor.clone(), counted.clone()), printf)?;
    /// process.ended.add_callback(|status| println!("printf ended: {status}")).detach();
    /// reactor.run()?;
    /// assert_eq!(counted.load(Ordering::Relaxed), 5);
    /// # }
    /// # Ok::<(), torsade::Error>(())
    /// ```
    ///
    /// [`LineReceiver`]: https://docs.rs/torsade-protocols
    pub fn connect_process<P: Protocol>(
        &self,
        protocol: P,
        command: std::process::Command,
    ) -> Result<ConnectedProcess<P>, Error> {
        let mut started = start(self, command, Stdio::inherit())?;
        let name = Address::named(format!(
            "process {}",
            started.child.id().unwrap_or_default()
        ));
        let stdin = StdinWriter(started.child.stdin.take());
        let connection = match started.child.stdout.take() {
            Some(stdout) => {
                let stream = tokio::io::join(stdout, stdin);
                self.connect_stream(stream, name.clone(), name, OnceFactory::new(protocol))
            }
            // `start` pipes stdout: this is not reached.
            None => Deferred::fail(Error::ConnectionClosed),
        };
        let (ended, resolver) = Deferred::new();
        let no_pipes: Pipes<Empty, Empty> = Pipes {
            stdin: None,
            stdout: None,
            stderr: None,
        };
        let process = started.run(ReportEnd(Some(resolver)), no_pipes);
        Ok(ConnectedProcess {
            process,
            connection,
            ended,
        })
    }
}

/// The child's stdin as the connection's writing half: shutting it down closes the pipe
/// (a pipe's own shutdown leaves it open, and the child would never read EOF).
struct StdinWriter(Option<ChildStdin>);

impl AsyncWrite for StdinWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.0 {
            Some(stdin) => Pin::new(stdin).poll_write(cx, data),
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match &mut self.0 {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        if let Some(stdin) = &mut self.0 {
            std::task::ready!(Pin::new(stdin).poll_flush(cx))?;
        }
        self.0 = None;
        Poll::Ready(Ok(()))
    }
}

/// Fires the process's `ended` Deferred; its pipes belong to the connection.
struct ReportEnd(Option<Resolver<ExitStatus>>);

impl ProcessProtocol for ReportEnd {
    fn out_received(&mut self, _: &mut ProcessTransport, _: Bytes) {}

    fn process_ended(&mut self, _: &mut ProcessTransport, status: ExitStatus) {
        if let Some(resolver) = self.0.take() {
            // Nobody may be waiting: the Deferred was dropped.
            let _ = resolver.callback(status);
        }
    }
}
