//! The async face of a WebSocket: [`WebSocketStream`], a `Stream` and `Sink` of
//! [`Message`]s over the same protocol as the callback face.
//!
//! A [`StreamHandler`] runs inside the connection as an ordinary [`WebSocketHandler`]:
//! it puts received messages in a bounded queue (pausing the connection's reading when
//! the queue is full) that the stream reads; the stream sends through the connection's
//! [`WebSocketSender`]. The rules (limits, UTF-8, masking, the close handshake) are the
//! session's, unchanged.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};

use bytes::Bytes;
use futures::{Sink, Stream};
use torsade::{Deferred, Transport};
use tungstenite::Utf8Bytes;

use super::{
    CloseCode, Message, WebSocketContext, WebSocketError, WebSocketHandler, WebSocketSender,
};

/// Called with the stream once the WebSocket is open (a served connection's task).
pub(crate) type OnOpen = Box<dyn FnOnce(WebSocketStream) + Send>;

/// What the connection's handler and the stream share.
#[derive(Default)]
struct Shared {
    queue: VecDeque<Message>,
    capacity: usize,
    /// The handler paused reading because the queue was full.
    paused: bool,
    sender: Option<WebSocketSender>,
    subprotocol: Option<String>,
    /// The close's code and reason, once closed.
    closed: Option<(CloseCode, String)>,
    /// An error the stream has still to yield (a failed connection, a failed handshake).
    error: Option<WebSocketError>,
    waker: Option<Waker>,
}

impl Shared {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

type SharedState = Arc<Mutex<Shared>>;

fn lock(shared: &SharedState) -> MutexGuard<'_, Shared> {
    // The state stays consistent at every step, so a panic elsewhere does not spoil it.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The handler behind a [`WebSocketStream`].
pub(crate) struct StreamHandler {
    shared: SharedState,
    on_open: Option<OnOpen>,
}

impl StreamHandler {
    /// A handler queueing at most `capacity` messages, calling `on_open` with the stream.
    pub(crate) fn new(capacity: usize, on_open: Option<OnOpen>) -> StreamHandler {
        let shared = Shared {
            capacity,
            ..Shared::default()
        };
        StreamHandler {
            shared: Arc::new(Mutex::new(shared)),
            on_open,
        }
    }

    /// Waits until the WebSocket is open, and returns its stream; or the handshake's
    /// error.
    pub(crate) fn opened(
        &self,
    ) -> impl std::future::Future<Output = Result<WebSocketStream, WebSocketError>> + Send + 'static
    {
        let shared = self.shared.clone();
        poll_fn(move |cx| {
            let mut state = lock(&shared);
            if let Some(sender) = state.sender.clone() {
                drop(state);
                return Poll::Ready(Ok(WebSocketStream::new(shared.clone(), sender)));
            }
            if let Some(error) = state.error.take() {
                return Poll::Ready(Err(error));
            }
            if let Some((code, reason)) = state.closed.clone() {
                return Poll::Ready(Err(WebSocketError::Closed { code, reason }));
            }
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

impl WebSocketHandler for StreamHandler {
    fn on_handshake_failed(&mut self, error: WebSocketError) {
        let mut state = lock(&self.shared);
        state.error = Some(error);
        state.wake();
    }

    fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
        let sender = ws.sender();
        {
            let mut state = lock(&self.shared);
            state.sender = Some(sender.clone());
            state.subprotocol = ws.subprotocol().map(str::to_string);
            state.wake();
        }
        if let Some(on_open) = self.on_open.take() {
            on_open(WebSocketStream::new(self.shared.clone(), sender));
        }
    }

    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
        let message = if is_binary {
            Message::Binary(payload)
        } else {
            match Utf8Bytes::try_from(payload) {
                Ok(text) => Message::Text(text),
                // The session checked the text already; this branch is never taken.
                Err(_) => return,
            }
        };
        let mut state = lock(&self.shared);
        state.queue.push_back(message);
        if state.queue.len() >= state.capacity && !state.paused {
            state.paused = true;
            ws.pause_reading();
        }
        state.wake();
    }

    fn on_close(&mut self, code: CloseCode, reason: &str) {
        let mut state = lock(&self.shared);
        state.closed = Some((code, reason.to_string()));
        let clean = matches!(
            code,
            CloseCode::NORMAL | CloseCode::GOING_AWAY | CloseCode::NO_STATUS
        );
        if !clean && state.error.is_none() && state.sender.is_some() {
            state.error = Some(WebSocketError::Closed {
                code,
                reason: reason.to_string(),
            });
        }
        state.wake();
    }
}

impl fmt::Debug for StreamHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamHandler").finish_non_exhaustive()
    }
}

/// A WebSocket as an async `Stream` of received [`Message`]s and a `Sink` of messages to
/// send: from [`connect`](super::connect) (a client) or [`serve`](super::serve) (each
/// connection a server accepts).
///
/// - **Reading**: [`next`](futures::StreamExt::next) or [`recv`](WebSocketStream::recv)
///   yields each whole message; pings are answered underneath. After a clean close
///   (1000, 1001, or a close without a code) the stream ends (`None`); after a failure
///   (1002, 1007, 1009 sent by either side, or 1006, the connection dropped) it yields
///   one [`WebSocketError::Closed`] first. [`close_frame`](WebSocketStream::close_frame)
///   tells the close's code and reason.
/// - **Backpressure**: at most the [queue capacity](super::WebSocketOptions::queue_capacity)
///   of messages wait to be read; past it the connection stops reading (TCP slows the
///   peer), and reads again as the stream is read. Sending waits while the connection's
///   write buffer is over its high-water mark.
/// - **Closing**: [`close`](WebSocketStream::close) runs the close handshake and waits for
///   its end; dropping the stream starts it (1000) without waiting.
///
/// # Examples
///
/// An echo server and a client, over loopback:
///
/// ```
/// use futures::StreamExt;
/// use torsade::Reactor;
/// use torsade_protocols::websocket::{self, CloseCode, Message, WebSocketOptions, WebSocketStream};
///
/// async fn echo(mut ws: WebSocketStream) {
///     while let Some(Ok(message)) = ws.next().await {
///         if ws.send(message).await.is_err() {
///             break;
///         }
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let port = websocket::serve(&reactor, "tcp:0:interface=127.0.0.1", WebSocketOptions::new(), echo)?;
/// let url = format!("ws://{}/echo", port.local_addr());
/// let r = reactor.clone();
/// let mut answer = reactor.spawn(async move {
///     let mut ws = websocket::connect(&r, &url).await?;
///     ws.send(Message::text("hello")).await?;
///     let answer = ws.next().await.transpose()?;
///     ws.close(CloseCode::NORMAL, "bye").await?;
///     r.stop().ok();
///     Ok::<_, websocket::WebSocketError>(answer)
/// });
/// reactor.run()?;
/// let answer = answer.take_result().unwrap().unwrap().unwrap();
/// assert_eq!(answer, Some(Message::text("hello")));
/// # Ok::<(), torsade::Error>(())
/// ```
pub struct WebSocketStream {
    shared: SharedState,
    sender: WebSocketSender,
    /// The message the sink is sending.
    sending: Option<Deferred<Result<(), WebSocketError>>>,
    /// The close the sink's `poll_close` asked for.
    closing: bool,
}

impl WebSocketStream {
    fn new(shared: SharedState, sender: WebSocketSender) -> WebSocketStream {
        WebSocketStream {
            shared,
            sender,
            sending: None,
            closing: false,
        }
    }

    /// The next message: `None` once the WebSocket has closed cleanly.
    pub async fn recv(&mut self) -> Option<Result<Message, WebSocketError>> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    /// Sends `message`, after waiting while the connection's write buffer is full.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::Closed`] once the close handshake has begun or the connection
    /// has ended.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WebSocketError> {
        self.sender.transport().drain().await;
        settle(self.sender.send(message.into()).await)
    }

    /// Sends a ping.
    ///
    /// # Errors
    ///
    /// As [`send`](WebSocketStream::send).
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), WebSocketError> {
        settle(self.sender.send_ping(payload).await)
    }

    /// Runs the close handshake: sends a close with `code` and `reason`, and waits until
    /// the peer's answer arrives (or the close timeout ends the connection). Messages
    /// received meanwhile are dropped.
    ///
    /// # Errors
    ///
    /// [`WebSocketError::Closed`] if the WebSocket had closed already;
    /// [`WebSocketError::Send`] for a code that may not be sent.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WebSocketError> {
        settle(self.sender.send_close(code, reason).await)?;
        poll_fn(|cx| self.poll_closed(cx)).await;
        Ok(())
    }

    /// The close's code and reason, once the WebSocket has closed.
    pub fn close_frame(&self) -> Option<(CloseCode, String)> {
        lock(&self.shared).closed.clone()
    }

    /// The subprotocol agreed in the opening handshake, if any.
    pub fn subprotocol(&self) -> Option<String> {
        lock(&self.shared).subprotocol.clone()
    }

    /// A handle to send on this WebSocket from elsewhere (another task, a timer).
    pub fn sender(&self) -> &WebSocketSender {
        &self.sender
    }

    fn poll_message(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Message, WebSocketError>>> {
        let mut state = lock(&self.shared);
        if let Some(message) = state.queue.pop_front() {
            if state.paused && state.queue.len() < state.capacity {
                state.paused = false;
                drop(state);
                self.sender.transport().resume_reading();
            }
            return Poll::Ready(Some(Ok(message)));
        }
        if let Some(error) = state.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        if state.closed.is_some() {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Ready once closed; drops the messages that arrive meanwhile.
    fn poll_closed(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        let mut state = lock(&self.shared);
        state.queue.clear();
        if state.paused {
            state.paused = false;
            self.sender.transport().resume_reading();
        }
        if state.closed.is_some() {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_sent(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), WebSocketError>> {
        let Some(sending) = self.sending.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let outcome = std::task::ready!(Pin::new(sending).poll(cx));
        self.sending = None;
        Poll::Ready(settle(outcome))
    }
}

/// The outcome of a sender's Deferred, which never fails itself.
fn settle(
    outcome: Result<Result<(), WebSocketError>, torsade::Failure>,
) -> Result<(), WebSocketError> {
    outcome.unwrap_or_else(|_| {
        Err(WebSocketError::Closed {
            code: CloseCode::ABNORMAL,
            reason: "the connection has ended".into(),
        })
    })
}

use std::future::Future;

impl Stream for WebSocketStream {
    type Item = Result<Message, WebSocketError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx)
    }
}

impl Sink<Message> for WebSocketStream {
    type Error = WebSocketError;

    fn poll_ready(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<(), WebSocketError>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_sent(cx))?;
        this.sender.transport().poll_drain(cx).map(Ok)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), WebSocketError> {
        let this = self.get_mut();
        this.sending = Some(this.sender.send(message));
        Ok(())
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<(), WebSocketError>> {
        self.get_mut().poll_sent(cx)
    }

    fn poll_close(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<(), WebSocketError>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_sent(cx))?;
        if !this.closing {
            this.closing = true;
            if lock(&this.shared).closed.is_none() {
                this.sending = Some(this.sender.send_close(CloseCode::NORMAL, ""));
                std::task::ready!(this.poll_sent(cx))?;
            }
        }
        this.poll_closed(cx).map(Ok)
    }
}

impl Drop for WebSocketStream {
    fn drop(&mut self) {
        if lock(&self.shared).closed.is_none() {
            self.sender.send_close(CloseCode::NORMAL, "").detach();
        }
    }
}

impl fmt::Debug for WebSocketStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared);
        f.debug_struct("WebSocketStream")
            .field("queued", &state.queue.len())
            .field("closed", &state.closed)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}
