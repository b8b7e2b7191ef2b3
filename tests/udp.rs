//! UDP over loopback on the reactor, IPv4 and IPv6: every form of address `listen_udp`
//! takes, datagrams echoed whole, an oversized one reported and not delivered, a
//! connected port's refusal, a stop that calls `stopped`; multicast joined and left on
//! the loopback interface, and broadcast to loopback's broadcast address.

mod common;
#[path = "common/datagram.rs"]
mod datagram;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use bytes::Bytes;
use common::{run_async, LIMIT};
use datagram::{Event, Recording};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use torsade::datagram::{
    DatagramContext, DatagramError, DatagramPort, DatagramProtocol, DatagramTooLong,
    MulticastInterface,
};
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

/// Reports every datagram it hears on a channel.
struct Heard(mpsc::UnboundedSender<(Bytes, SocketAddr)>);

impl DatagramProtocol for Heard {
    fn datagram_received(&mut self, _: &mut DatagramContext<'_>, data: Bytes, from: SocketAddr) {
        let _ = self.0.send((data, from));
    }
}

/// A [`Heard`] protocol, and the receiver of what it hears.
fn heard() -> (Heard, mpsc::UnboundedReceiver<(Bytes, SocketAddr)>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (Heard(sender), receiver)
}

/// Runs `act` on the port's context and waits (bounded) for what it returns.
async fn on_port<T: Send + 'static>(
    port: &DatagramPort<Heard>,
    act: impl FnOnce(&mut DatagramContext<'_>) -> T + Send + 'static,
) -> T {
    let (done, result) = oneshot::channel();
    port.handle().call(move |_, cx| {
        let _ = done.send(act(cx));
    });
    tokio::time::timeout(LIMIT, result)
        .await
        .expect("the call ran within the limit")
        .expect("the port is running")
}

/// The next datagram heard, within the limit.
async fn next_heard(
    heard: &mut mpsc::UnboundedReceiver<(Bytes, SocketAddr)>,
) -> (Bytes, SocketAddr) {
    tokio::time::timeout(LIMIT, heard.recv())
        .await
        .expect("a datagram within the limit")
        .expect("the port is running")
}

/// The last 16 bits of a group address, from the process id, so that the same test run
/// at once by another process on this host joins another group: once any socket has
/// joined a group on an interface, Linux delivers the group's datagrams to every socket
/// bound to their address and port, member or not (`IP_MULTICAST_ALL`), and the
/// assertions below rely on no one else keeping loopback in the group.
fn group_suffix() -> [u8; 2] {
    (std::process::id() as u16).to_be_bytes()
}

/// On loopback: a port bound to `group` (so it hears nothing else) joins it on
/// `interface` and hears what a port on `sender_host` sends to it, until it leaves.
/// Skips, saying so, if this host cannot join or send to the group on loopback.
fn multicast_reaches_a_member_until_it_leaves(
    test: &str,
    group: SocketAddr,
    interface: MulticastInterface,
    sender_host: &str,
) {
    let reactor = Reactor::new().unwrap();
    let (member, mut member_heard) = heard();
    let member = match reactor.listen_udp(group, member) {
        Ok(member) => member,
        Err(error) => return eprintln!("skipping {test}: cannot bind {group}: {error}"),
    };
    let to = member.local_addr();
    let group = to.ip();
    let sender = reactor
        .listen_udp(format!("{sender_host}:0"), heard().0)
        .unwrap();
    let from = sender.local_addr();
    let join = move |cx: &mut DatagramContext<'_>| cx.join_group_on(group, interface);
    let send = move |data: &'static [u8]| move |cx: &mut DatagramContext<'_>| cx.write(data, to);
    let skipped = run_async(&reactor, async move {
        match on_port(&member, join).await {
            Err(DatagramError::Io(error)) => {
                return Some(format!("cannot join {group} on {interface}: {error}"))
            }
            joined => joined.unwrap(),
        }
        let sent = on_port(&sender, move |cx| {
            cx.set_outgoing_interface(interface)?;
            cx.set_loopback(true)?;
            cx.set_ttl(0)?; // Loopback copies are made before the hop limit applies.
            cx.write(b"joined", to)
        })
        .await;
        match sent {
            Err(DatagramError::Io(error)) => {
                return Some(format!("cannot send to {group} from {interface}: {error}"))
            }
            sent => sent.unwrap(),
        }
        assert_eq!(
            next_heard(&mut member_heard).await,
            (Bytes::from_static(b"joined"), from)
        );

        on_port(&member, move |cx| cx.leave_group_on(group, interface))
            .await
            .unwrap();
        on_port(&sender, send(b"after leaving")).await.unwrap();
        // The marker: rejoin, and send again. Whether a multicast datagram is looped back
        // to this host is decided as it is sent, by whether the interface is a member of
        // the group then; after leaving it is not (no other socket joined this group on
        // loopback, see `group_suffix`), so "after leaving" reaches no one if leaving
        // worked. Datagrams from one sender to one receiver on loopback keep their order,
        // so had it been delivered it would be heard before the marker.
        on_port(&member, join).await.unwrap();
        on_port(&sender, send(b"marker")).await.unwrap();
        assert_eq!(
            next_heard(&mut member_heard).await,
            (Bytes::from_static(b"marker"), from)
        );
        assert_eq!(member.stats().received, 2);
        None
    });
    if let Some(reason) = skipped {
        eprintln!("skipping {test}: {reason}");
    }
}

#[test]
fn multicast_reaches_a_member_until_it_leaves_over_ipv4() {
    let [high, low] = group_suffix();
    multicast_reaches_a_member_until_it_leaves(
        "multicast_reaches_a_member_until_it_leaves_over_ipv4",
        SocketAddr::from(([239, 255, high, low], 0)),
        MulticastInterface::V4(Ipv4Addr::LOCALHOST),
        "127.0.0.1",
    );
}

#[test]
fn multicast_reaches_a_member_until_it_leaves_over_ipv6() {
    let test = "multicast_reaches_a_member_until_it_leaves_over_ipv6";
    if !can_bind("[::1]", test) {
        return;
    }
    // IPv6 names the interface by its index; loopback's, on Linux, is in sysfs.
    let index = std::fs::read_to_string("/sys/class/net/lo/ifindex")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    let Some(index) = index else {
        return eprintln!("skipping {test}: no index for the loopback interface");
    };
    let [high, low] = group_suffix();
    // An interface-local group (ff01::/16): its datagrams never leave the host.
    let group = Ipv6Addr::new(
        0xff01,
        0,
        0,
        0,
        0,
        0,
        0x7473,
        u16::from_be_bytes([high, low]),
    );
    multicast_reaches_a_member_until_it_leaves(
        test,
        SocketAddrV6::new(group, 0, 0, index).into(),
        MulticastInterface::V6(index),
        "[::1]",
    );
}

#[test]
fn a_multicast_interface_of_the_wrong_family_is_refused_before_the_socket_is_asked() {
    let reactor = Reactor::new().unwrap();
    let port = reactor.listen_udp("127.0.0.1:0", heard().0).unwrap();
    let results = run_async(&reactor, async move {
        on_port(&port, |cx| {
            let v6_group = "ff01::7473".parse().unwrap();
            [
                cx.join_group_on(v6_group, MulticastInterface::V4(Ipv4Addr::LOCALHOST)),
                cx.leave_group_on("239.255.0.1".parse().unwrap(), MulticastInterface::V6(1)),
                cx.set_outgoing_interface(MulticastInterface::V6(1)),
            ]
        })
        .await
    });
    for result in results {
        assert!(
            matches!(result, Err(DatagramError::InterfaceFamily { .. })),
            "{result:?}"
        );
    }
}

#[test]
fn broadcast_on_loopback_needs_permission() {
    let test = "broadcast_on_loopback_needs_permission";
    let reactor = Reactor::new().unwrap();
    let (listener, mut listener_heard) = heard();
    // Bound to loopback's broadcast address, the port hears only broadcasts there.
    let listener = match reactor.listen_udp("127.255.255.255:0", listener) {
        Ok(listener) => listener,
        Err(error) => return eprintln!("skipping {test}: cannot bind 127.255.255.255: {error}"),
    };
    let to = listener.local_addr();
    let sender = reactor.listen_udp("127.0.0.1:0", heard().0).unwrap();
    let from = sender.local_addr();
    let (refused, heard_first) = run_async(&reactor, async move {
        let refused = on_port(&sender, move |cx| cx.write(b"not allowed", to)).await;
        on_port(&sender, move |cx| {
            cx.set_broadcast(true)?;
            cx.write(b"to all", to)
        })
        .await
        .unwrap();
        (refused, next_heard(&mut listener_heard).await)
    });
    assert!(
        matches!(&refused, Err(DatagramError::Io(error)) if error.kind() == std::io::ErrorKind::PermissionDenied),
        "{refused:?}"
    );
    // Both went to the same port from the same sender: the refused one, never sent, is
    // not the one heard.
    assert_eq!(heard_first, (Bytes::from_static(b"to all"), from));
}
