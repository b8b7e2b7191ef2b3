//! The settings of a WebSocket connection: [`WebSocketOptions`].

use std::time::Duration;

use tungstenite::protocol::WebSocketConfig;

/// The default largest message accepted: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
/// The default largest frame accepted: 16 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
/// How long a close handshake may wait for the peer's close frame by default.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the opening handshake may take by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings of WebSocket connections, a builder: limits, timeouts and the
/// subprotocols a client offers.
///
/// # Examples
///
/// A server whose messages are at most 1 MiB, in frames of at most 64 KiB:
///
/// ```
/// use std::time::Duration;
/// use torsade::testing::TestConnection;
/// use bytes::Bytes;
/// use torsade_protocols::websocket::{
///     CloseCode, WebSocketContext, WebSocketHandler, WebSocketOptions, WebSocketServer,
/// };
///
/// #[derive(Default)]
/// struct Quiet(Option<CloseCode>);
/// impl WebSocketHandler for Quiet {
///     fn on_message(&mut self, _: &mut WebSocketContext<'_>, _: Bytes, _: bool) {}
///     fn on_close(&mut self, code: CloseCode, _: &str) {
///         self.0 = Some(code);
///     }
/// }
///
/// let options = WebSocketOptions::new()
///     .max_message_size(1 << 20)
///     .max_frame_size(64 << 10)
///     .close_timeout(Duration::from_secs(2));
/// let mut connection = TestConnection::new(WebSocketServer::with_options(Quiet::default(), options));
/// connection.receive(
///     b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
/// );
/// assert!(connection.take_written().starts_with(b"HTTP/1.1 101"));
/// // A masked binary frame announcing 128 KiB: over the frame limit, closed with 1009.
/// connection.receive(&[0x82, 0xFF, 0, 0, 0, 0, 0, 2, 0, 0, 1, 2, 3, 4]);
/// assert_eq!(connection.protocol().handler().0, Some(CloseCode::MESSAGE_TOO_BIG));
/// ```
#[derive(Debug, Clone)]
pub struct WebSocketOptions {
    max_message_size: usize,
    max_frame_size: usize,
    close_timeout: Duration,
    handshake_timeout: Option<Duration>,
    subprotocols: Vec<String>,
    queue_capacity: usize,
    #[cfg(feature = "tls")]
    tls_client_config: Option<std::sync::Arc<torsade::tls::rustls::ClientConfig>>,
}

impl Default for WebSocketOptions {
    fn default() -> WebSocketOptions {
        WebSocketOptions {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            subprotocols: Vec::new(),
            queue_capacity: 16,
            #[cfg(feature = "tls")]
            tls_client_config: None,
        }
    }
}

impl WebSocketOptions {
    /// The defaults: 16 MiB messages and frames, a 5 s close timeout, a 10 s handshake
    /// timeout, no subprotocols.
    pub fn new() -> WebSocketOptions {
        WebSocketOptions::default()
    }

    /// The largest message (all its fragments together) accepted; a larger one closes
    /// the connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> WebSocketOptions {
        self.max_message_size = bytes;
        self
    }

    /// The largest single frame accepted; a larger one closes the connection with 1009.
    pub fn max_frame_size(mut self, bytes: usize) -> WebSocketOptions {
        self.max_frame_size = bytes;
        self
    }

    /// How long, after sending a close frame, to wait for the peer's before closing the
    /// connection anyway.
    pub fn close_timeout(mut self, timeout: Duration) -> WebSocketOptions {
        self.close_timeout = timeout;
        self
    }

    /// How long the opening handshake may take before the connection is closed (`None`:
    /// no limit).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> WebSocketOptions {
        self.handshake_timeout = timeout;
        self
    }

    /// The subprotocols a client offers, in its order of preference
    /// (`Sec-WebSocket-Protocol`). A server chooses in
    /// [`on_connect`](super::WebSocketHandler::on_connect).
    pub fn subprotocols<S: Into<String>>(
        mut self,
        subprotocols: impl IntoIterator<Item = S>,
    ) -> WebSocketOptions {
        self.subprotocols = subprotocols.into_iter().map(Into::into).collect();
        self
    }

    /// How many received messages a [`WebSocketStream`](super::WebSocketStream) holds
    /// before it stops reading from the connection (at least 1).
    pub fn queue_capacity(mut self, messages: usize) -> WebSocketOptions {
        self.queue_capacity = messages.max(1);
        self
    }

    /// The TLS configuration [`connect_with`](super::connect_with) uses for `wss://`
    /// (one trusting a test CA, say: [`torsade::tls::client_config_with_ca`]); without
    /// it, the platform's roots.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_config(
        mut self,
        config: std::sync::Arc<torsade::tls::rustls::ClientConfig>,
    ) -> WebSocketOptions {
        self.tls_client_config = Some(config);
        self
    }

    /// The TLS configuration for `wss://`, if one was given.
    #[cfg(feature = "tls")]
    pub(crate) fn get_tls_client_config(
        &self,
    ) -> Option<&std::sync::Arc<torsade::tls::rustls::ClientConfig>> {
        self.tls_client_config.as_ref()
    }

    /// The close handshake's timeout.
    pub(crate) fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// The opening handshake's timeout.
    pub(crate) fn get_handshake_timeout(&self) -> Option<Duration> {
        self.handshake_timeout
    }

    /// The subprotocols a client offers.
    pub(crate) fn get_subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The stream's queue capacity, in messages.
    pub(crate) fn get_queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// tungstenite's configuration for these limits. Frames are encoded into a buffer
    /// that is handed to the connection once per callback, so tungstenite's own write
    /// buffering is kept small.
    pub(crate) fn config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(16 << 10)
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
    }
}
