//! The rules of one connection, sans I/O: [`Core`].
//!
//! A `Core` is a protocol and its [`State`]. Its driver — the reactor's task over a real
//! stream, or the test driver over memory (both `drive::Driver`) — tells it what happened
//! (bytes arrived, the peer's EOF, bytes sent, time passed, the inbox has something) and
//! asks it what to do (what to send, whether to read, whether and how to close). Every
//! per-connection rule lives here or in `state`, written once: the callback order, EOF and
//! half-close, write pressure and producers, the idle timeout, the order of handles'
//! requests, and how the connection ends.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use bytes::Bytes;

use super::inbox::{Request, Taken};
use super::pressure::Signal;
use super::state::{Close, Registered, State, WriteSide};
#[cfg(feature = "tls")]
use crate::tls::TlsInfo;
use crate::{ConnectionError, Context, DisconnectReason, Error, IdleActivity, Producer, Protocol};

/// A callback asked for the connection to end: why.
pub(crate) type End = DisconnectReason;

/// A protocol and its connection's state.
pub(crate) struct Core<P> {
    pub(crate) protocol: P,
    pub(crate) state: State,
}

impl<P: Protocol> Core<P> {
    pub(crate) fn new(protocol: P, state: State) -> Core<P> {
        Core { protocol, state }
    }

    /// Runs `callback` on the protocol with its context. A panic ends the connection: it
    /// is logged and becomes the reason ([`ConnectionError::Panicked`]).
    #[inline]
    pub(crate) fn dispatch<R>(
        &mut self,
        callback: impl FnOnce(&mut P, &mut Context<'_, P>) -> R,
    ) -> Result<R, End> {
        let protocol = &mut self.protocol;
        let mut cx = Context::new(&mut self.state);
        catch_unwind(AssertUnwindSafe(|| callback(protocol, &mut cx)))
            .map_err(|payload| self.panicked("protocol callback", Error::from_panic(&*payload)))
    }

    #[cold]
    fn panicked(&self, what: &str, error: Error) -> End {
        tracing::error!(peer = %self.state.inbox.peer(), "{what} panicked; aborting the connection: {error}");
        let message = match error {
            Error::Panicked { message } => message,
            other => other.to_string(),
        };
        DisconnectReason::Lost(ConnectionError::Panicked { message })
    }

    /// The connection is up: `connection_made`.
    pub(crate) fn made(&mut self) -> Result<(), End> {
        self.dispatch(|protocol, cx| protocol.connection_made(cx))?;
        self.after_callback()
    }

    /// Bytes arrived: `data_received`, then the checks every callback is followed by.
    #[inline]
    pub(crate) fn received(&mut self, data: Bytes) -> Result<(), End> {
        self.dispatch(|protocol, cx| protocol.data_received(cx, data))?;
        self.after_callback()
    }

    /// The peer shut down its writing side. If ours is shut down (or shutting down) too,
    /// the connection closes whatever `eof_received` says: nothing is left to write.
    pub(crate) fn eof(&mut self) -> Result<(), End> {
        self.state.read_eof = true;
        let keep_open = self.dispatch(|protocol, cx| protocol.eof_received(cx))?;
        if !keep_open || self.state.close() == Close::LoseWrite {
            self.state.lose_connection();
        }
        self.after_callback()
    }

    /// The TLS handshake completed with `info`: `handshake_completed`.
    #[cfg(feature = "tls")]
    pub(crate) fn handshake_completed(&mut self, info: TlsInfo) -> Result<(), End> {
        self.state.inbox.set_tls_info(info.clone());
        self.state
            .extras_mut()
            .tls
            .get_or_insert_with(Box::default)
            .info = Some(info);
        self.dispatch(|protocol, cx| protocol.handshake_completed(cx))?;
        self.after_callback()
    }

    /// What every callback is followed by: an abort ends the connection at once, a
    /// resumed protocol is told (`reading_resumed`), and write pressure is checked (so a
    /// protocol that stops reading on `pause_producing` stops within one read).
    #[inline]
    pub(crate) fn after_callback(&mut self) -> Result<(), End> {
        if self.state.close() == Close::Abort {
            return Err(self.state.abort_reason());
        }
        if self.state.owes_reading_resumed() {
            self.reading_resumed()?;
        }
        self.check_pressure()
    }

    /// Reading was resumed after a pause: `reading_resumed`, if the connection still
    /// reads. Once per resume, in a loop (the callback may pause and resume again).
    #[cold]
    #[inline(never)]
    fn reading_resumed(&mut self) -> Result<(), End> {
        while self.state.take_reading_resumed() {
            if !self.state.is_reading() {
                continue;
            }
            self.dispatch(|protocol, cx| protocol.reading_resumed(cx))?;
            if self.state.close() == Close::Abort {
                return Err(self.state.abort_reason());
            }
        }
        Ok(())
    }

    /// Applies what handles left in the inbox, in order. Returns whether anything was.
    pub(crate) fn run_inbox(&mut self) -> Result<bool, End> {
        let Some(Taken { bytes, requests }) = self.state.inbox.take() else {
            return Ok(false);
        };
        let mut at = 0;
        for (offset, request) in requests {
            self.write_left(&bytes[at..offset]);
            at = offset;
            match request {
                Request::Call(call) => {
                    let protocol: &mut dyn std::any::Any = &mut self.protocol;
                    if let Err(error) = call(Some((protocol, &mut self.state))) {
                        return Err(self.panicked("a handle's call", error));
                    }
                }
                Request::LoseConnection => self.state.lose_connection(),
                Request::LoseWriteConnection => self.state.lose_write_connection(),
                Request::Abort => self.state.abort(),
                Request::PauseReading => self.state.pause_reading(),
                Request::ResumeReading => self.state.resume_reading(),
            }
            self.after_callback()?;
        }
        self.write_left(&bytes[at..]);
        self.after_callback()?;
        Ok(true)
    }

    /// Bytes a handle wrote: queued like a callback's (dropped once writes are refused).
    fn write_left(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.state.write_many(&[bytes]);
        }
    }

    /// Tells the producer (or the protocol) when the unsent bytes cross the watermarks,
    /// and asks a pull producer for more.
    pub(crate) fn check_pressure(&mut self) -> Result<(), End> {
        let unsent = self.state.out.len();
        let limits = self.state.limits();
        let producer = self.state.producer_kind();
        let first_pull = self
            .state
            .extras
            .as_mut()
            .is_some_and(|extras| std::mem::take(&mut extras.producer_new));
        let signal = match self.state.pressure.check(unsent, producer, limits) {
            Signal::Nothing if first_pull => Signal::Pull,
            signal => signal,
        };
        match (signal, producer) {
            (Signal::Nothing, _) | (Signal::Pull, None) => Ok(()),
            (Signal::Pause, None) => {
                self.state.extras_mut().write_pauses += 1;
                self.dispatch(|protocol, cx| protocol.pause_producing(cx))?;
                self.after_pressure_callback()
            }
            (Signal::Resume, None) => {
                self.dispatch(|protocol, cx| protocol.resume_producing(cx))?;
                self.after_pressure_callback()
            }
            (Signal::Pause, Some(_)) => {
                self.state.extras_mut().write_pauses += 1;
                self.call_producer(|producer, transport| producer.pause_producing(transport))
            }
            (Signal::Resume | Signal::Pull, Some(_)) => {
                self.call_producer(|producer, transport| producer.resume_producing(transport))
            }
        }
    }

    /// After `pause_producing` or `resume_producing`: an abort ends the connection, and a
    /// resumed protocol is told (the pressure itself is checked again at the next event,
    /// not in a loop here).
    fn after_pressure_callback(&mut self) -> Result<(), End> {
        if self.state.close() == Close::Abort {
            return Err(self.state.abort_reason());
        }
        if self.state.owes_reading_resumed() {
            self.reading_resumed()?;
        }
        Ok(())
    }

    /// Calls the registered producer with the connection's context. It is taken out for
    /// the call and put back unless the call unregistered or replaced it.
    fn call_producer(
        &mut self,
        call: impl FnOnce(&mut dyn Producer, &mut Context<'_>),
    ) -> Result<(), End> {
        let Some(extras) = self.state.extras.as_mut() else {
            return Ok(());
        };
        let Some(mut registered) = extras.producer.take() else {
            return Ok(());
        };
        let generation = extras.producer_generation;
        let outcome = {
            let mut cx: Context<'_> = Context::new(&mut self.state);
            catch_unwind(AssertUnwindSafe(|| {
                call(&mut *registered.producer, &mut cx);
            }))
        };
        if let Some(extras) = self.state.extras.as_mut() {
            if extras.producer_generation == generation && extras.producer.is_none() {
                extras.producer = Some(registered);
            }
        }
        if let Err(payload) = outcome {
            return Err(self.panicked("producer", Error::from_panic(&*payload)));
        }
        self.after_pressure_callback()
    }

    /// Records activity for the idle timeout after a round that read `read` bytes and
    /// sent `sent`.
    pub(crate) fn activity(&mut self, read: usize, sent: usize) {
        let closing = self.state.close() == Close::Lose;
        let Some(extras) = self.state.extras.as_mut() else {
            return;
        };
        let Some(idle) = extras.idle.as_mut() else {
            return;
        };
        let counts_sends = extras.idle_activity == IdleActivity::ReadsAndWrites || closing;
        if read > 0 || (sent > 0 && counts_sends) {
            idle.last_activity = self.state.inbox.clock().now();
        }
    }

    /// When the connection next needs its driver to look at the time, if ever.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        let idle = self.state.extras.as_ref()?.idle.as_ref()?;
        Some(idle.due())
    }

    /// Time passed: fires the idle timeout if it is due. `Ok(true)` if it fired (the
    /// callback may have written); `Err` if the connection was closing and is aborted.
    pub(crate) fn on_time(&mut self, now: Duration) -> Result<bool, End> {
        let Some(extras) = self.state.extras.as_mut() else {
            return Ok(false);
        };
        let Some(idle) = extras.idle.as_mut() else {
            return Ok(false);
        };
        if idle.due() > now {
            return Ok(false);
        }
        let timeout = idle.timeout;
        idle.last_activity = now;
        idle.fired = true;
        extras.idle_timeouts += 1;
        if self.state.close() == Close::Lose {
            tracing::debug!(peer = %self.state.inbox.peer(), ?timeout, "idle while closing; aborting the connection");
            return Err(DisconnectReason::Lost(ConnectionError::IdleTimeout {
                timeout,
            }));
        }
        tracing::debug!(peer = %self.state.inbox.peer(), ?timeout, "idle timeout");
        self.dispatch(|protocol, cx| protocol.timeout_connection(cx))?;
        if self.state.close() != Close::Lose {
            // One shot: watching again is the protocol's call (it set a new timeout, which
            // is not marked fired). A closing connection stays watched, so that a close
            // stuck for another timeout is aborted.
            if let Some(extras) = self.state.extras.as_mut() {
                if extras.idle.is_some_and(|idle| idle.fired) {
                    extras.idle = None;
                }
            }
        }
        self.after_callback()?;
        Ok(true)
    }

    /// Whether the driver should read: open for reading, not paused, no EOF yet, not
    /// switching to TLS.
    #[inline]
    pub(crate) fn wants_read(&self) -> bool {
        self.state.close().reads()
            && !self.state.is_read_paused()
            && !self.state.read_eof
            && !self.state.start_tls_pending()
    }

    /// What the driver should do about closing, once everything written is sent
    /// (`flushed`).
    pub(crate) fn close_action(&mut self, flushed: bool) -> CloseAction {
        match self.state.close() {
            Close::Open => CloseAction::Nothing,
            Close::Abort => CloseAction::End(self.state.abort_reason()),
            // A registered producer holds the close until it is unregistered (Twisted).
            Close::Lose | Close::LoseWrite
                if !flushed
                    || !self.state.out.is_empty()
                    || self.state.inbox.is_waiting()
                    || self.state.producer_kind().is_some() =>
            {
                CloseAction::Nothing
            }
            close => {
                if self.state.write_side() == WriteSide::Open {
                    // From here on writes are dropped: nothing can slip in behind the FIN.
                    self.state.set_write_side(WriteSide::ShuttingDown);
                }
                if self.state.write_side() == WriteSide::ShuttingDown {
                    CloseAction::ShutdownWrite
                } else if close == Close::Lose {
                    CloseAction::End(self.state.close_reason())
                } else {
                    CloseAction::Nothing
                }
            }
        }
    }

    /// The write side is shut down (the stream's shutdown completed).
    pub(crate) fn write_shut(&mut self) {
        self.state.set_write_side(WriteSide::Shut);
    }

    /// The connection ended with `reason`: the inbox is closed and its calls are told, a
    /// producer is stopped, and the protocol gets `connection_lost`. Runs once.
    pub(crate) fn lost(&mut self, reason: &DisconnectReason) {
        if self.state.has_ended() {
            return;
        }
        self.state.set_ended();
        self.state.out.discard();
        if let Some(taken) = self.state.inbox.end() {
            for (_, request) in taken.requests {
                if let Request::Call(call) = request {
                    let _ = call(None);
                }
            }
        }
        let producer = self
            .state
            .extras
            .as_mut()
            .and_then(|extras| extras.producer.take());
        if let Some(Registered { mut producer, .. }) = producer {
            let mut cx: Context<'_> = Context::new(&mut self.state);
            if catch_unwind(AssertUnwindSafe(|| producer.stop_producing(&mut cx))).is_err() {
                tracing::error!(peer = %self.state.inbox.peer(), "producer panicked in stop_producing");
            }
        }
        tracing::debug!(peer = %self.state.inbox.peer(), %reason, "connection lost");
        let protocol = &mut self.protocol;
        if catch_unwind(AssertUnwindSafe(|| {
            protocol.connection_lost(reason.clone())
        }))
        .is_err()
        {
            tracing::error!(peer = %self.state.inbox.peer(), "protocol panicked in connection_lost");
        }
    }

    /// Takes the counts of write pauses and idle timeouts since last asked.
    pub(crate) fn take_counts(&mut self) -> (u32, u32) {
        self.state.extras.as_mut().map_or((0, 0), |extras| {
            (
                std::mem::take(&mut extras.write_pauses),
                std::mem::take(&mut extras.idle_timeouts),
            )
        })
    }
}

/// What the driver does about a requested close.
#[derive(Debug)]
pub(crate) enum CloseAction {
    /// Nothing yet: no close asked for, or it waits for the buffers to drain (or a
    /// producer to unregister), or only the write side was to be shut and is.
    Nothing,
    /// Shut down the write side of the stream, then tell the core
    /// ([`Core::write_shut`]).
    ShutdownWrite,
    /// End the connection with this reason.
    End(DisconnectReason),
}

/// A lost connection's reason for an I/O error.
pub(crate) fn io_lost(error: io::Error) -> DisconnectReason {
    DisconnectReason::lost(error)
}

impl<P> std::fmt::Debug for Core<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("close", &self.state.close())
            .field("write_side", &self.state.write_side())
            .field("unsent", &self.state.out.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;

    use crate::testing::TestConnection;
    use crate::{Context, Producer, ProducerKind, Protocol, Transport};

    /// Writes `chunks` chunks, then unregisters itself and closes; counts the calls.
    struct Chunks {
        left: usize,
        calls: Arc<Mutex<usize>>,
    }

    impl Producer for Chunks {
        fn resume_producing(&mut self, cx: &mut Context<'_>) {
            *self.calls.lock().unwrap() += 1;
            if self.left == 0 {
                cx.unregister_producer();
                cx.lose_connection();
                return;
            }
            cx.write(&[b'x'; 100]);
            self.left -= 1;
        }
    }

    struct Download(Option<Chunks>);

    impl Protocol for Download {
        fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
            if let Some(chunks) = self.0.take() {
                cx.register_producer(Box::new(chunks), ProducerKind::Pull)
                    .unwrap();
            }
        }
        fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
    }

    #[test]
    fn a_producer_that_unregisters_itself_is_not_asked_again() {
        let calls = Arc::new(Mutex::new(0));
        let producer = Chunks {
            left: 3,
            calls: calls.clone(),
        };
        let mut connection = TestConnection::new(Download(Some(producer)));
        let mut received = 0;
        for _ in 0..10 {
            received += connection.take_written().len();
        }
        assert_eq!(received, 300);
        assert!(connection.is_lost(), "the close it asked for completed");
        assert_eq!(connection.producer_kind(), None);
        assert_eq!(
            *calls.lock().unwrap(),
            4,
            "three chunks, then the call that ended it"
        );
    }
}
