//! What the opening handshake shows a handler: the client's [`ConnectionRequest`] (on a
//! server), the server's [`ConnectionResponse`] (on a client), and a server's
//! [`ConnectDecision`].

use torsade::Address;
use tungstenite::http::{HeaderMap, Request, Response, StatusCode};

/// The client's opening handshake, as a server's
/// [`on_connect`](super::WebSocketHandler::on_connect) sees it: path, headers, offered
/// subprotocols. Autobahn's `ConnectionRequest`.
#[derive(Debug)]
pub struct ConnectionRequest<'a> {
    request: &'a Request<()>,
    peer: &'a Address,
    subprotocols: Vec<&'a str>,
}

impl<'a> ConnectionRequest<'a> {
    pub(crate) fn new(request: &'a Request<()>, peer: &'a Address) -> ConnectionRequest<'a> {
        ConnectionRequest {
            request,
            peer,
            subprotocols: list_header(request.headers(), "sec-websocket-protocol"),
        }
    }

    /// The path asked for (`/chat`), without the query.
    pub fn path(&self) -> &str {
        self.request.uri().path()
    }

    /// The query string, if any (`room=1` for `/chat?room=1`).
    pub fn query(&self) -> Option<&str> {
        self.request.uri().query()
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.request.headers()
    }

    /// One header's value, when it is present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.headers().get(name)?.to_str().ok()
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn subprotocols(&self) -> &[&'a str] {
        &self.subprotocols
    }

    /// The peer's address.
    pub fn peer(&self) -> &Address {
        self.peer
    }

    /// The whole request, as tungstenite parsed it.
    pub fn request(&self) -> &Request<()> {
        self.request
    }
}

/// The server's answer to the opening handshake, as a client's
/// [`on_connect_response`](super::WebSocketHandler::on_connect_response) sees it.
/// Autobahn's `ConnectionResponse`.
#[derive(Debug)]
pub struct ConnectionResponse<'a> {
    response: &'a Response<Option<Vec<u8>>>,
}

impl<'a> ConnectionResponse<'a> {
    pub(crate) fn new(response: &'a Response<Option<Vec<u8>>>) -> ConnectionResponse<'a> {
        ConnectionResponse { response }
    }

    /// The HTTP status (101).
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The response's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// One header's value, when it is present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.headers().get(name)?.to_str().ok()
    }

    /// The subprotocol the server chose among those offered, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.header("sec-websocket-protocol")
    }
}

/// A server's answer to a client's opening handshake, returned from
/// [`on_connect`](super::WebSocketHandler::on_connect): accept (choosing a subprotocol
/// or none) or refuse with an HTTP status.
///
/// # Examples
///
/// ```
/// use torsade_protocols::websocket::ConnectDecision;
///
/// let chat = ConnectDecision::accept_subprotocol("chat.v1");
/// assert_eq!(chat.subprotocol(), Some("chat.v1"));
/// let refused = ConnectDecision::refuse(403, "no entry");
/// assert!(!refused.is_accepted());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectDecision {
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Accept { subprotocol: Option<String> },
    Refuse { status: u16, reason: String },
}

impl ConnectDecision {
    /// Accept, with no subprotocol.
    pub fn accept() -> ConnectDecision {
        ConnectDecision {
            outcome: Outcome::Accept { subprotocol: None },
        }
    }

    /// Accept, speaking `subprotocol` (one the client offered).
    pub fn accept_subprotocol(subprotocol: impl Into<String>) -> ConnectDecision {
        ConnectDecision {
            outcome: Outcome::Accept {
                subprotocol: Some(subprotocol.into()),
            },
        }
    }

    /// Refuse with an HTTP `status` (400-599; another is sent as 403) and `reason` as the
    /// response's body; the connection is then closed.
    pub fn refuse(status: u16, reason: impl Into<String>) -> ConnectDecision {
        ConnectDecision {
            outcome: Outcome::Refuse {
                status,
                reason: reason.into(),
            },
        }
    }

    /// Whether the handshake is accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self.outcome, Outcome::Accept { .. })
    }

    /// The subprotocol chosen, if accepted with one.
    pub fn subprotocol(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Accept { subprotocol } => subprotocol.as_deref(),
            Outcome::Refuse { .. } => None,
        }
    }

    /// The refusal's status and reason, if refused.
    pub fn refusal(&self) -> Option<(u16, &str)> {
        match &self.outcome {
            Outcome::Refuse { status, reason } => Some((*status, reason)),
            Outcome::Accept { .. } => None,
        }
    }
}

impl Default for ConnectDecision {
    fn default() -> ConnectDecision {
        ConnectDecision::accept()
    }
}

/// The comma-separated values of every `name` header, trimmed.
fn list_header<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .collect()
}
