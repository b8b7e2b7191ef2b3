//! The driver's TLS steps: a connection that starts TLS, STARTTLS's ordering (what was
//! written before the request goes out in the clear, first), and the handshake with its
//! deadline.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Driver, Host, Phase};
use crate::connection::core::{io_lost, Core, End};
use crate::connection::inbox::Inbox;
use crate::connection::layer::Layer;
use crate::connection::state::State;
use crate::tls::StartTls;
use crate::{ConnectionError, DisconnectReason, Protocol};

impl<P, S, H> Driver<P, S, H>
where
    P: Protocol,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Host,
{
    /// A connection over a stream that is TLS already (a client's, whose handshake
    /// completed before the protocol was built).
    pub(crate) fn with_tls_layer(
        protocol: P,
        stream: Layer<S>,
        inbox: Arc<Inbox>,
        host: H,
    ) -> Driver<P, S, H> {
        let mut driver = Driver {
            core: Core::new(protocol, State::new(inbox)),
            stream,
            read_buf: BytesMut::new(),
            host,
            phase: Phase::Start,
            extras: None,
        };
        driver.core.state.mark_tls();
        driver
    }

    /// Starts with a TLS handshake (a TLS port): what the protocol writes before it
    /// completes is sent encrypted after it.
    pub(crate) fn with_handshake(mut self, tls: StartTls) -> Driver<P, S, H> {
        self.core.state.mark_tls();
        self.begin_handshake(tls);
        self
    }

    /// `handshake_completed`, for a stream that was TLS before the connection started
    /// (`connection_made` has run).
    pub(super) fn handshake_done_before_start(&mut self) -> Result<(), End> {
        match self.stream.info() {
            Some(info) => self.core.handshake_completed(info),
            None => Ok(()),
        }
    }

    /// When the handshake under way must have completed.
    pub(super) fn handshake_deadline(&self) -> Option<Duration> {
        self.extras
            .as_ref()
            .and_then(|extras| extras.handshake_deadline)
    }

    /// Ends the connection if its handshake is still under way at its deadline.
    pub(super) fn check_handshake_deadline(&self, now: Duration) -> Result<(), End> {
        match self.handshake_deadline() {
            Some(deadline) if deadline <= now && self.stream.is_handshaking() => {
                let timeout = self.host.tls_handshake_timeout();
                tracing::debug!(peer = %self.core.state.inbox.peer(), ?timeout, "TLS handshake timed out");
                Err(DisconnectReason::Lost(
                    ConnectionError::TlsHandshakeTimeout { timeout },
                ))
            }
            _ => Ok(()),
        }
    }

    /// STARTTLS: sends what was written before the request in the clear, then starts the
    /// handshake. Returns whether it waits for the stream to take those bytes.
    pub(super) fn poll_start_tls(&mut self, cx: &mut TaskContext<'_>) -> Result<bool, End> {
        let Some((tls, mut clear)) = self.core.state.tls_mut().and_then(|tls| tls.request.take())
        else {
            return Ok(false);
        };
        while clear > 0 && !self.core.state.out.is_empty() {
            let out = &self.core.state.out;
            let bytes = &out.unsent()[..clear.min(out.len())];
            match Pin::new(&mut self.stream).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => return Err(io_lost(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(count)) => {
                    if let Some(tap) = super::tap(&mut self.extras) {
                        let now = self.core.state.inbox.clock().now();
                        tap.sent(now, &self.core.state.out.unsent()[..count]);
                    }
                    self.core.state.out.advance(count);
                    clear -= count.min(clear);
                    self.host.account(0, count);
                }
                Poll::Ready(Err(error)) => return Err(io_lost(error)),
                Poll::Pending => {
                    self.put_back_start_tls((tls, clear));
                    return Ok(true);
                }
            }
        }
        match Pin::new(&mut self.stream).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(error)) => return Err(io_lost(error)),
            Poll::Pending => {
                self.put_back_start_tls((tls, clear));
                return Ok(true);
            }
        }
        self.begin_handshake(tls);
        Ok(false)
    }

    fn put_back_start_tls(&mut self, request: (StartTls, usize)) {
        if let Some(tls) = self.core.state.tls_mut() {
            tls.request = Some(request);
        }
    }

    /// Hands the plain stream to a TLS handshake, with the host's deadline.
    fn begin_handshake(&mut self, tls: StartTls) {
        if !self.stream.begin_handshake(tls) {
            tracing::error!(peer = %self.core.state.inbox.peer(), "TLS requested on a stream that is not plain");
            return;
        }
        let deadline = self
            .core
            .state
            .inbox
            .clock()
            .now()
            .saturating_add(self.host.tls_handshake_timeout());
        self.extras_mut().handshake_deadline = Some(deadline);
    }

    /// Drives a TLS handshake in progress; `Ready` when there is none (any more).
    pub(super) fn poll_handshake(&mut self, cx: &mut TaskContext<'_>) -> Result<Poll<()>, End> {
        match self.stream.poll_handshake(cx) {
            Poll::Pending => Ok(Poll::Pending),
            Poll::Ready(Ok(None)) => Ok(Poll::Ready(())),
            Poll::Ready(Err(error)) => {
                tracing::debug!(peer = %self.core.state.inbox.peer(), "TLS handshake failed: {error}");
                Err(crate::tls::handshake_failure(error))
            }
            Poll::Ready(Ok(Some(info))) => {
                if let Some(extras) = self.extras.as_mut() {
                    extras.handshake_deadline = None;
                }
                tracing::debug!(peer = %self.core.state.inbox.peer(), "TLS handshake completed");
                if let Some(tap) = super::tap(&mut self.extras) {
                    tap.tls_started(self.core.state.inbox.clock().now());
                }
                self.core.handshake_completed(info)?;
                Ok(Poll::Ready(()))
            }
        }
    }
}
