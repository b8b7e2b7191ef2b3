//! UDP over loopback on the reactor, IPv4 and IPv6: every form of address `listen_udp`
//! takes, datagrams echoed whole, an oversized one reported and not delivered, a
//! connected port's refusal, and a stop that calls `stopped`.

mod common;
#[path = "common/datagram.rs"]
mod datagram;

use std::net::SocketAddr;

use bytes::Bytes;
use common::{run_async, LIMIT};
use datagram::{Event, Recording};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use torsade::datagram::{DatagramContext, DatagramProtocol, DatagramTooLong};
use torsade::endpoints::IntoDatagramAddress;
use torsade::{Error, Reactor};

/// Whether `host` can be bound here; if not, says the test is skipped.
fn can_bind(host: &str, test: &str) -> bool {
    match std::net::UdpSocket::bind(format!("{host}:0")) {
        Ok(_) => true,
        Err(error) => {
            eprintln!("skipping {test}: cannot bind {host}: {error}");
            false
        }
    }
}

/// Sends `data` to `to` and waits (bounded) for one datagram back.
async fn exchange(client: &UdpSocket, data: &[u8], to: SocketAddr) -> (Bytes, SocketAddr) {
    client.send_to(data, to).await.unwrap();
    let mut buffer = vec![0; 70_000];
    let (length, from) = tokio::time::timeout(LIMIT, client.recv_from(&mut buffer))
        .await
        .expect("an answer within the limit")
        .unwrap();
    (Bytes::copy_from_slice(&buffer[..length]), from)
}

/// Opens an echo port on `address` (any form `listen_udp` takes), checks that a datagram
/// from a client on `host` comes back from the port, and gives the port's address.
fn echoes_on(address: impl IntoDatagramAddress, host: &'static str) -> SocketAddr {
    let reactor = Reactor::new().unwrap();
    let (echo, _) = Recording::echoing();
    let port = reactor.listen_udp(address, echo).unwrap();
    let server = port.local_addr();
    run_async(&reactor, async move {
        let client = UdpSocket::bind(format!("{host}:0")).await.unwrap();
        assert_eq!(
            exchange(&client, b"ping", server).await,
            (Bytes::from_static(b"ping"), server)
        );
    });
    server
}

#[test]
fn listens_on_an_address_its_text_or_a_udp_endpoint_string_over_ipv4() {
    let loopback = "127.0.0.1".parse::<std::net::IpAddr>().unwrap();
    let given = SocketAddr::new(loopback, 0);
    let text = "127.0.0.1:0".to_string();
    let addresses = [
        echoes_on(given, "127.0.0.1"),
        echoes_on("127.0.0.1:0", "127.0.0.1"),
        echoes_on(&text, "127.0.0.1"),
        echoes_on(text.clone(), "127.0.0.1"),
        echoes_on("udp:0:interface=127.0.0.1", "127.0.0.1"),
        echoes_on("UDP:port=0:interface=127.0.0.1".to_string(), "127.0.0.1"),
    ];
    for address in addresses {
        assert_eq!(address.ip(), loopback);
        assert_ne!(address.port(), 0, "port 0 picked a free port");
    }
}

#[test]
fn listens_on_an_address_its_text_or_a_udp_endpoint_string_over_ipv6() {
    if !can_bind(
        "[::1]",
        "listens_on_an_address_its_text_or_a_udp_endpoint_string_over_ipv6",
    ) {
        return;
    }
    let loopback = "::1".parse::<std::net::IpAddr>().unwrap();
    let addresses = [
        echoes_on(SocketAddr::new(loopback, 0), "[::1]"),
        echoes_on("[::1]:0", "[::1]"),
        echoes_on(r"udp:0:interface=\:\:1", "[::1]"),
    ];
    for address in addresses {
        assert_eq!(address.ip(), loopback);
        assert_ne!(address.port(), 0, "port 0 picked a free port");
    }
}

#[test]
fn a_malformed_address_is_refused_before_anything_is_bound() {
    let reactor = Reactor::new().unwrap();
    let (recording, events) = Recording::new();
    let error = reactor
        .listen_udp("udp:0:interface=localhost", recording)
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidEndpoint { ref field, .. } if field == "interface"),
        "{error:?}"
    );
    assert_eq!(events.take(), [], "the protocol never started");
}

/// An echo server with a maximum size of 100 on `host`, exercised by a client socket.
fn echoes_whole_datagrams_and_reports_oversized_ones(host: &'static str) {
    let reactor = Reactor::new().unwrap();
    let (mut echo, events) = Recording::echoing();
    echo.max_size = 100;
    let port = reactor.listen_udp(format!("{host}:0"), echo).unwrap();
    let server = port.local_addr();
    let client_address = run_async(&reactor, async move {
        let client = UdpSocket::bind(format!("{host}:0")).await.unwrap();
        for payload in [&b"one"[..], b"", &[9; 100]] {
            assert_eq!(
                exchange(&client, payload, server).await,
                (Bytes::copy_from_slice(payload), server)
            );
        }
        client.send_to(&[1; 101], server).await.unwrap();
        client.send_to(&[2; 2000], server).await.unwrap();
        assert_eq!(exchange(&client, b"after", server).await.0, "after");
        let mut stopped = port.stop_listening();
        (&mut stopped).await.unwrap();
        assert_eq!(port.stats().too_long, 2);
        assert_eq!(port.stats().received, 4);
        client.local_addr().unwrap()
    });
    let events = events.take();
    let too_long = Event::TooLong(DatagramTooLong {
        from: client_address,
        max_length: 100,
    });
    assert_eq!(events.first(), Some(&Event::Started));
    assert_eq!(
        &events[4..],
        [
            too_long.clone(),
            too_long,
            Event::Datagram(Bytes::from_static(b"after"), client_address),
            Event::Stopped,
        ]
    );
}

#[test]
fn echoes_whole_datagrams_and_reports_oversized_ones_over_ipv4() {
    echoes_whole_datagrams_and_reports_oversized_ones("127.0.0.1");
}

#[test]
fn echoes_whole_datagrams_and_reports_oversized_ones_over_ipv6() {
    if can_bind(
        "[::1]",
        "echoes_whole_datagrams_and_reports_oversized_ones_over_ipv6",
    ) {
        echoes_whole_datagrams_and_reports_oversized_ones("[::1]");
    }
}

/// Connects to `peer` and writes to it when started; reports what happens.
struct Probe {
    peer: SocketAddr,
    seen: mpsc::UnboundedSender<&'static str>,
}

impl DatagramProtocol for Probe {
    fn started(&mut self, cx: &mut DatagramContext<'_>) {
        cx.connect(self.peer).unwrap();
        cx.write_connected(b"anyone?").unwrap();
    }

    fn datagram_received(&mut self, _: &mut DatagramContext<'_>, _: Bytes, _: SocketAddr) {
        let _ = self.seen.send("datagram");
    }

    fn connection_refused(&mut self, cx: &mut DatagramContext<'_>) {
        let _ = self.seen.send("refused");
        cx.stop();
    }

    fn stopped(&mut self) {
        let _ = self.seen.send("stopped");
    }
}

fn a_connected_port_hears_a_refusal(host: &'static str) {
    let reactor = Reactor::new().unwrap();
    let absent = std::net::UdpSocket::bind(format!("{host}:0")).unwrap();
    let peer = absent.local_addr().unwrap();
    drop(absent);
    let (seen, mut events) = mpsc::unbounded_channel();
    let port = reactor
        .listen_udp(format!("{host}:0"), Probe { peer, seen })
        .unwrap();
    let seen = run_async(&reactor, async move {
        let mut seen = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout(LIMIT, events.recv()).await {
            seen.push(event);
            if event == "stopped" {
                break;
            }
        }
        seen
    });
    assert_eq!(seen, ["refused", "stopped"]);
    let stats = port.stats();
    assert_eq!(
        (stats.sent, stats.dropped, stats.refused),
        (1, 0, 1),
        "the datagram written from `started` went out"
    );
}

#[test]
fn a_connected_port_hears_a_refusal_over_ipv4() {
    a_connected_port_hears_a_refusal("127.0.0.1");
}

#[test]
fn a_connected_port_hears_a_refusal_over_ipv6() {
    if can_bind("[::1]", "a_connected_port_hears_a_refusal_over_ipv6") {
        a_connected_port_hears_a_refusal("[::1]");
    }
}

#[test]
fn stopping_the_reactor_stops_its_udp_ports() {
    let reactor = Reactor::new().unwrap();
    let (recording, events) = Recording::new();
    let port = reactor.listen_udp("127.0.0.1:0", recording).unwrap();
    run_async(&reactor, async {});
    assert_eq!(events.take(), [Event::Started, Event::Stopped]);
    assert!(port.handle().is_stopped());
}

/// Panics on the datagram `boom`; reports its stop.
struct Bomb {
    seen: mpsc::UnboundedSender<&'static str>,
}

impl DatagramProtocol for Bomb {
    fn datagram_received(&mut self, _: &mut DatagramContext<'_>, data: Bytes, _: SocketAddr) {
        assert_ne!(&data[..], b"boom", "the bomb goes off");
        let _ = self.seen.send("datagram");
    }

    fn stopped(&mut self) {
        let _ = self.seen.send("stopped");
    }
}

#[test]
fn a_panicking_callback_stops_its_port_and_the_reactor_goes_on() {
    let reactor = Reactor::new().unwrap();
    let (seen, mut events) = mpsc::unbounded_channel();
    let port = reactor.listen_udp("127.0.0.1:0", Bomb { seen }).unwrap();
    let server = port.local_addr();
    let seen = run_async(&reactor, async move {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut seen = Vec::new();
        for payload in [&b"fine"[..], b"boom"] {
            client.send_to(payload, server).await.unwrap();
            let event = tokio::time::timeout(LIMIT, events.recv()).await;
            seen.push(event.expect("an event within the limit").unwrap());
        }
        seen
    });
    assert_eq!(seen, ["datagram", "stopped"]);
    assert!(port.handle().is_stopped());
}

/// Pauses reading on each datagram, reporting it.
struct Pausing {
    seen: mpsc::UnboundedSender<String>,
}

impl DatagramProtocol for Pausing {
    fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, _: SocketAddr) {
        cx.pause_reading();
        let _ = self.seen.send(String::from_utf8_lossy(&data).into_owned());
    }
}

#[test]
fn a_paused_port_reads_nothing_until_resumed() {
    let reactor = Reactor::new().unwrap();
    let (seen, mut events) = mpsc::unbounded_channel();
    let port = reactor
        .listen_udp("127.0.0.1:0", Pausing { seen: seen.clone() })
        .unwrap();
    let server = port.local_addr();
    let handle = port.handle().clone();
    let seen = run_async(&reactor, async move {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"a", server).await.unwrap();
        client.send_to(b"b", server).await.unwrap();
        let mut order = Vec::new();
        for _ in 0..2 {
            let event = tokio::time::timeout(LIMIT, events.recv()).await;
            order.push(event.expect("an event within the limit").unwrap());
            let resumed = seen.clone();
            handle.call(move |_, cx| {
                let _ = resumed.send("resumed".to_string());
                cx.resume_reading();
            });
            let event = tokio::time::timeout(LIMIT, events.recv()).await;
            order.push(event.expect("an event within the limit").unwrap());
        }
        order
    });
    assert_eq!(seen, ["a", "resumed", "b", "resumed"]);
}
