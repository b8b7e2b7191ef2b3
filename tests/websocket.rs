//! The WebSocket async face over loopback TCP: `websocket::connect` to a server made with
//! `websocket::serve` and to a callback `WebSocketServerFactory`, messages both ways,
//! a refused handshake, an unreachable server, the close handshake, backpressure through
//! the bounded queue. (The rules themselves are tested in memory, in
//! protocols/tests/websocket.rs.)

mod common;

use bytes::Bytes;
use common::{run_async, run_bounded, LIMIT};
use futures::{SinkExt, StreamExt};
use torsade::{ListeningPort, Reactor};
use torsade_protocols::websocket::{
    self, CloseCode, ConnectDecision, ConnectionRequest, Message, WebSocketContext, WebSocketError,
    WebSocketHandler, WebSocketOptions, WebSocketServerFactory, WebSocketStream,
};

async fn echo(mut ws: WebSocketStream) {
    while let Some(Ok(message)) = ws.next().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// A callback echo server that refuses the path `/private`.
struct Guarded;

impl WebSocketHandler for Guarded {
    fn on_connect(&mut self, request: &ConnectionRequest<'_>) -> ConnectDecision {
        if request.path() == "/private" {
            ConnectDecision::refuse(403, "private")
        } else {
            ConnectDecision::accept()
        }
    }

    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, is_binary: bool) {
        let _ = ws.send_message(payload, is_binary);
    }
}

/// A [`Guarded`] server on `reactor`, listening on a loopback port.
fn listen_guarded(reactor: &Reactor) -> ListeningPort {
    reactor
        .listen(
            "tcp:0:interface=127.0.0.1",
            WebSocketServerFactory::new(|| Guarded),
        )
        .unwrap()
}

#[test]
fn an_async_client_and_an_async_server_echo_over_tcp() {
    let reactor = Reactor::new().unwrap();
    let port = websocket::serve(
        &reactor,
        "tcp:0:interface=127.0.0.1",
        WebSocketOptions::new(),
        echo,
    )
    .unwrap();
    let url = format!("ws://{}/echo", port.local_addr());
    let r = reactor.clone();
    let (answers, close) = run_async(&reactor, async move {
        let mut ws = websocket::connect(&r, &url).await?;
        ws.send(Message::text("hello")).await?;
        SinkExt::send(&mut ws, Message::binary(vec![0u8, 255])).await?;
        let big = "x".repeat(1 << 20);
        ws.send(Message::text(big.clone())).await?;
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(ws.next().await.unwrap()?);
        }
        assert_eq!(answers[2].as_text(), Some(big.as_str()));
        answers.truncate(2);
        ws.close(CloseCode::NORMAL, "done").await?;
        let close = ws.close_frame();
        assert!(
            ws.next().await.is_none(),
            "the stream ends after a clean close"
        );
        Ok::<_, WebSocketError>((answers, close))
    })
    .unwrap();
    assert_eq!(
        answers,
        [Message::text("hello"), Message::binary(vec![0u8, 255])]
    );
    assert_eq!(close, Some((CloseCode::NORMAL, "done".to_string())));
}

#[test]
fn an_async_client_talks_to_a_callback_server_and_sees_a_refusal() {
    let reactor = Reactor::new().unwrap();
    let port = listen_guarded(&reactor);
    let address = port.local_addr();
    let r = reactor.clone();
    let (echoed, refused) = run_async(&reactor, async move {
        let mut ws = websocket::connect(&r, &format!("ws://{address}/open"))
            .await
            .unwrap();
        ws.send("ping").await.unwrap();
        let echoed = ws.recv().await.unwrap().unwrap();
        let refused = websocket::connect(&r, &format!("ws://{address}/private")).await;
        (echoed, refused.map(drop))
    });
    assert_eq!(echoed.as_text(), Some("ping"));
    match refused {
        Err(WebSocketError::Refused { status, reason }) => {
            assert_eq!((status, reason.as_str()), (403, "private"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn connecting_to_nothing_is_a_connect_error() {
    let reactor = Reactor::new().unwrap();
    // A port that was listening and is not any more.
    let port = listen_guarded(&reactor);
    let address = port.local_addr();
    drop(port.stop_listening());
    let r = reactor.clone();
    let outcome = run_async(&reactor, async move {
        websocket::connect(&r, &format!("ws://{address}/"))
            .await
            .map(drop)
    });
    assert!(
        matches!(outcome, Err(WebSocketError::Connect(_))),
        "{outcome:?}"
    );
}

#[test]
fn a_slow_reader_pauses_the_connection_and_loses_nothing() {
    let reactor = Reactor::new().unwrap();
    let count = 200;
    let port = websocket::serve(
        &reactor,
        "tcp:0:interface=127.0.0.1",
        WebSocketOptions::new(),
        move |mut ws: WebSocketStream| async move {
            for i in 0..count {
                if ws.send(Message::text(format!("{i}"))).await.is_err() {
                    return;
                }
            }
            let _ = ws.close(CloseCode::NORMAL, "all sent").await;
        },
    )
    .unwrap();
    let url = format!("ws://{}/", port.local_addr());
    let r = reactor.clone();
    let received = run_async(&reactor, async move {
        let options = WebSocketOptions::new().queue_capacity(2);
        let mut ws = websocket::connect_with(&r, &url, &options).await.unwrap();
        let mut received = Vec::new();
        while let Some(message) = ws.next().await {
            received.push(message.unwrap().as_text().unwrap().to_string());
        }
        received
    });
    let expected: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    assert_eq!(received, expected);
}

#[cfg(feature = "test-certificates")]
#[test]
fn wss_runs_over_torsades_tls_with_a_test_ca() {
    use torsade::endpoints::{TcpServer, TlsServer};
    use torsade::testing::TestCertificates;

    let certificates = TestCertificates::new(&["localhost", "127.0.0.1"]).unwrap();
    let reactor = Reactor::new().unwrap();
    let endpoint = TlsServer::new(
        TcpServer::from(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        certificates.server_config().unwrap(),
    );
    let port = websocket::serve(&reactor, endpoint, WebSocketOptions::new(), echo).unwrap();
    let secure = format!("wss://127.0.0.1:{}/", port.local_addr().port().unwrap());
    let options = WebSocketOptions::new().tls_client_config(certificates.client_config().unwrap());
    let untrusted = TestCertificates::new(&["localhost"]).unwrap();
    let wrong_ca = WebSocketOptions::new().tls_client_config(untrusted.client_config().unwrap());
    let r = reactor.clone();
    let (echoed, refused) = run_async(&reactor, async move {
        let mut ws = websocket::connect_with(&r, &secure, &options)
            .await
            .unwrap();
        ws.send("secret").await.unwrap();
        let echoed = ws.recv().await.unwrap().unwrap();
        let refused = websocket::connect_with(&r, &secure, &wrong_ca)
            .await
            .map(drop);
        (echoed, refused)
    });
    assert_eq!(echoed.as_text(), Some("secret"));
    assert!(
        matches!(refused, Err(WebSocketError::Connect(_))),
        "{refused:?}"
    );
}

/// Says hello on open, keeps what comes back, closes, and stops the reactor once closed.
struct Hello {
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reactor: Reactor,
}

impl WebSocketHandler for Hello {
    fn on_open(&mut self, ws: &mut WebSocketContext<'_>) {
        ws.send_text("hello from a handler").unwrap();
    }

    fn on_message(&mut self, ws: &mut WebSocketContext<'_>, payload: Bytes, _: bool) {
        self.seen
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&payload).into_owned());
        ws.send_close(CloseCode::NORMAL, "thanks").unwrap();
    }

    fn on_close(&mut self, code: CloseCode, _: &str) {
        self.seen.lock().unwrap().push(format!("closed {}", code.0));
        let _ = self.reactor.stop();
    }
}

#[test]
fn a_callback_client_connects_by_url() {
    let reactor = Reactor::new().unwrap();
    let port = listen_guarded(&reactor);
    let url = format!("ws://{}/", port.local_addr());
    let seen = std::sync::Arc::default();
    let handler = Hello {
        seen: std::sync::Arc::clone(&seen),
        reactor: reactor.clone(),
    };
    websocket::connect_handler(&reactor, &url, &WebSocketOptions::new(), handler).detach();
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        *seen.lock().unwrap(),
        ["hello from a handler", "closed 1000"]
    );

    let mut bad =
        websocket::connect_handler(&reactor, "http://nope/", &WebSocketOptions::new(), Guarded);
    let failure = bad.take_result().unwrap().unwrap_err();
    assert!(
        matches!(
            failure.downcast_ref::<WebSocketError>(),
            Some(WebSocketError::InvalidUrl { .. })
        ),
        "{failure}"
    );
}
