//! The datagram rules, in memory on a `DatagramNetwork`: datagrams arrive whole and
//! unmerged, oversized ones are reported, sends are bounded, and the network's loss,
//! duplication and reordering are seeded and reproducible.

#[path = "common/datagram.rs"]
mod datagram;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use datagram::{Event, Events, Recording};
use torsade::datagram::{
    DatagramContext, DatagramError, DatagramProtocol, DatagramTooLong, MulticastInterface,
    MAX_DATAGRAM_SIZE,
};
use torsade::testing::{DatagramNetwork, Faults, MEMORY_RECEIVE_BUFFER};

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

const SERVER: &str = "10.0.0.1:9";
const CLIENT: &str = "10.0.0.2:5000";

/// A recording port at SERVER and one at CLIENT.
fn pair(network: &DatagramNetwork) -> (Events, torsade::datagram::DatagramPort<Recording>, Events) {
    let (server, server_events) = Recording::new();
    network.bind(addr(SERVER), server).unwrap();
    let (client, client_events) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    assert_eq!(server_events.take(), [Event::Started]);
    assert_eq!(client_events.take(), [Event::Started]);
    (server_events, client, client_events)
}

fn send_all(port: &torsade::datagram::DatagramPort<Recording>, payloads: Vec<Vec<u8>>, to: &str) {
    let to = addr(to);
    port.handle().call(move |_, cx| {
        for payload in payloads {
            cx.write(&payload, to).unwrap();
        }
    });
}

fn numbered(count: u8) -> Vec<Vec<u8>> {
    (0..count).map(|n| vec![n]).collect()
}

#[test]
fn datagrams_arrive_whole_one_by_one_and_in_order() {
    let network = DatagramNetwork::new();
    let (server, client, _) = pair(&network);
    let payloads = vec![
        b"one".to_vec(),
        Vec::new(),
        vec![7; MAX_DATAGRAM_SIZE],
        b"four".to_vec(),
    ];
    send_all(&client, payloads.clone(), SERVER);
    network.clock().advance(Duration::from_secs(1));
    let seen = server.take();
    let expected: Vec<Event> = payloads
        .into_iter()
        .map(|payload| Event::Datagram(Bytes::from(payload), addr(CLIENT)))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(client.stats().sent, 4);
}

#[test]
fn a_datagram_arrives_after_the_latency_not_before() {
    let network = DatagramNetwork::new();
    network.set_faults(Faults::with_latency(Duration::from_millis(50)));
    let (server, client, _) = pair(&network);
    send_all(&client, vec![b"late".to_vec()], SERVER);
    network.clock().advance(Duration::from_millis(49));
    assert_eq!(server.take(), []);
    network.clock().advance(Duration::from_millis(1));
    assert_eq!(server.take_payloads(), ["late"]);
}

#[test]
fn a_datagram_over_the_maximum_size_is_reported_not_delivered() {
    let network = DatagramNetwork::new();
    let (mut small, events) = Recording::new();
    small.max_size = 100;
    let port = network.bind(addr(SERVER), small).unwrap();
    let (client, _) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    send_all(&client, vec![vec![1; 101], vec![2; 100]], SERVER);
    network.clock().advance(Duration::from_secs(1));
    let too_long = DatagramTooLong {
        from: addr(CLIENT),
        max_length: 100,
    };
    assert_eq!(
        events.take(),
        [
            Event::Started,
            Event::TooLong(too_long),
            Event::Datagram(Bytes::from(vec![2; 100]), addr(CLIENT)),
        ]
    );
    let stats = port.stats();
    assert_eq!((stats.too_long, stats.received), (1, 1));
}

#[test]
fn a_datagram_longer_than_udp_allows_is_not_sent() {
    let network = DatagramNetwork::new();
    let (_, client, _) = pair(&network);
    let result = Arc::new(Mutex::new(None));
    let out = result.clone();
    client.handle().call(move |_, cx| {
        *out.lock().unwrap() = Some(cx.write(&vec![0; MAX_DATAGRAM_SIZE + 1], addr(SERVER)));
    });
    let result = result.lock().unwrap().take().unwrap();
    assert!(matches!(
        result,
        Err(DatagramError::TooLong { length, max_length: MAX_DATAGRAM_SIZE }) if length == MAX_DATAGRAM_SIZE + 1
    ));
    assert_eq!(client.stats().sent, 0);
}

/// Sends 0..count from CLIENT to SERVER on a network seeded with `seed` and `faults`, and
/// returns what arrived.
fn run_with(seed: u64, faults: Faults, count: u8) -> Vec<Bytes> {
    let network = DatagramNetwork::with_seed(seed);
    network.set_faults(faults);
    let (server, client, _) = pair(&network);
    send_all(&client, numbered(count), SERVER);
    network.clock().advance(Duration::from_secs(10));
    server.take_payloads()
}

#[test]
fn loss_is_seeded_and_reproducible() {
    let lossy = Faults {
        loss: 0.3,
        ..Faults::default()
    };
    let first = run_with(1, lossy, 100);
    assert_eq!(first, run_with(1, lossy, 100), "same seed, same losses");
    assert_ne!(first, run_with(2, lossy, 100), "another seed, other losses");
    assert!(
        (50..95).contains(&first.len()),
        "{} of 100 arrived",
        first.len()
    );
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(first, sorted, "loss alone keeps the order");
}

#[test]
fn duplication_delivers_copies_reproducibly() {
    let duplicating = Faults {
        duplication: 1.0,
        ..Faults::default()
    };
    let arrived = run_with(3, duplicating, 10);
    let expected: Vec<Bytes> = (0..10u8)
        .flat_map(|n| [Bytes::from(vec![n]), Bytes::from(vec![n])])
        .collect();
    assert_eq!(arrived, expected);
    let some = Faults {
        duplication: 0.5,
        ..Faults::default()
    };
    let first = run_with(4, some, 50);
    assert_eq!(first, run_with(4, some, 50));
    assert!((51..100).contains(&first.len()), "{} arrived", first.len());
}

#[test]
fn jitter_reorders_reproducibly_and_loses_nothing() {
    let jittery = Faults {
        jitter: Duration::from_millis(100),
        ..Faults::default()
    };
    let first = run_with(5, jittery, 50);
    assert_eq!(first, run_with(5, jittery, 50));
    let mut sorted = first.clone();
    sorted.sort();
    assert_ne!(first, sorted, "some arrived out of order");
    let sent: Vec<Bytes> = numbered(50).into_iter().map(Bytes::from).collect();
    assert_eq!(sorted, sent, "every datagram arrived once");
}

#[test]
fn a_connected_port_hears_the_refusal_of_an_absent_peer() {
    let network = DatagramNetwork::new();
    let (client, events) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    client.handle().call(|_, cx| {
        cx.connect(addr("10.0.0.9:9")).unwrap();
        cx.write_connected(b"anyone?").unwrap();
    });
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(events.take(), [Event::Started, Event::Refused]);
    assert_eq!(client.stats().refused, 1);
}

#[test]
fn an_unconnected_port_hears_no_refusal() {
    let network = DatagramNetwork::new();
    let (client, events) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    send_all(&client, vec![b"lost".to_vec()], "10.0.0.9:9");
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(events.take(), [Event::Started]);
}

#[test]
fn a_connected_port_hears_only_its_peer() {
    let network = DatagramNetwork::new();
    let (_server, _, _) = pair(&network);
    let (other, _) = Recording::new();
    let other = network.bind(addr("10.0.0.3:7"), other).unwrap();
    let (connected, events) = Recording::new();
    let connected = network.bind(addr("10.0.0.4:7"), connected).unwrap();
    connected
        .handle()
        .call(|_, cx| cx.connect(addr(CLIENT)).unwrap());
    send_all(&other, vec![b"stranger".to_vec()], "10.0.0.4:7");
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(events.take(), [Event::Started]);
}

#[test]
fn write_connected_needs_a_connect() {
    let network = DatagramNetwork::new();
    let (_, client, _) = pair(&network);
    let result = Arc::new(Mutex::new(None));
    let out = result.clone();
    client
        .handle()
        .call(move |_, cx| *out.lock().unwrap() = Some(cx.write_connected(b"x")));
    assert!(matches!(
        result.lock().unwrap().take(),
        Some(Err(DatagramError::NotConnected))
    ));
}

/// Pauses reading on its first datagram.
struct PauseOnFirst {
    seen: Arc<Mutex<Vec<Bytes>>>,
}

impl DatagramProtocol for PauseOnFirst {
    fn datagram_received(&mut self, cx: &mut DatagramContext<'_>, data: Bytes, _: SocketAddr) {
        cx.pause_reading();
        self.seen.lock().unwrap().push(data);
    }
}

#[test]
fn a_paused_port_holds_datagrams_until_it_resumes() {
    let network = DatagramNetwork::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = network
        .bind(addr(SERVER), PauseOnFirst { seen: seen.clone() })
        .unwrap();
    let (client, _) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    send_all(&client, numbered(3), SERVER);
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(*seen.lock().unwrap(), [vec![0u8]]);
    server.handle().call(|_, cx| cx.resume_reading());
    network.clock().advance(Duration::ZERO);
    assert_eq!(*seen.lock().unwrap(), [vec![0u8], vec![1]]);
    server.handle().call(|_, cx| cx.resume_reading());
    network.clock().advance(Duration::ZERO);
    assert_eq!(*seen.lock().unwrap(), [vec![0u8], vec![1], vec![2]]);
}

#[test]
fn a_paused_port_drops_what_its_buffer_cannot_hold() {
    let network = DatagramNetwork::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = network
        .bind(addr(SERVER), PauseOnFirst { seen: seen.clone() })
        .unwrap();
    let (client, _) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    let extra = 5;
    let payloads = (0..=MEMORY_RECEIVE_BUFFER + extra)
        .map(|n| n.to_be_bytes().to_vec())
        .collect();
    send_all(&client, payloads, SERVER);
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(server.stats().dropped, extra as u64);
}

#[test]
fn stopping_calls_stopped_frees_the_address_and_refuses_writes() {
    let network = DatagramNetwork::new();
    let (server, server_port) = {
        let (server, events) = Recording::new();
        (events, network.bind(addr(SERVER), server).unwrap())
    };
    let mut stopped = server_port.stop_listening();
    assert!(matches!(stopped.take_result(), Some(Ok(()))));
    assert_eq!(server.take(), [Event::Started, Event::Stopped]);
    assert!(server_port.handle().is_stopped());
    let mut again = server_port.stop_listening();
    assert!(
        matches!(again.take_result(), Some(Ok(()))),
        "a second stop is harmless"
    );

    let (replacement, replacement_events) = Recording::new();
    network.bind(addr(SERVER), replacement).unwrap();
    let (client, _) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    send_all(&client, vec![b"hello".to_vec()], SERVER);
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(server.take(), [], "the stopped port hears nothing");
    assert_eq!(replacement_events.take_payloads(), ["hello"]);
}

#[test]
fn a_port_stops_itself_from_a_callback() {
    let network = DatagramNetwork::new();
    let (_, client, client_events) = pair(&network);
    let result = Arc::new(Mutex::new(None));
    let out = result.clone();
    client.handle().call(move |_, cx| {
        cx.stop();
        *out.lock().unwrap() = Some(cx.write(b"x", addr(SERVER)));
    });
    assert!(matches!(
        result.lock().unwrap().take(),
        Some(Err(DatagramError::Stopped))
    ));
    assert_eq!(client_events.take(), [Event::Stopped]);
}

#[test]
fn binding_a_bound_address_fails_and_port_zero_picks_one() {
    let network = DatagramNetwork::new();
    let (first, _) = Recording::new();
    network.bind(addr(SERVER), first).unwrap();
    let (second, _) = Recording::new();
    assert!(matches!(
        network.bind(addr(SERVER), second),
        Err(torsade::Error::CannotListen { .. })
    ));
    let (a, _) = Recording::new();
    let (b, _) = Recording::new();
    let a = network.bind(addr("10.0.0.5:0"), a).unwrap();
    let b = network.bind(addr("10.0.0.5:0"), b).unwrap();
    assert_ne!(a.local_addr().port(), 0);
    assert_ne!(a.local_addr(), b.local_addr());
}

#[test]
fn a_handle_called_inside_a_callback_runs_after_it() {
    let network = DatagramNetwork::new();
    let (_, client, _) = pair(&network);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (log, inner_log) = (order.clone(), order.clone());
    let handle = client.handle().clone();
    client.handle().call(move |_, _| {
        handle.call(move |_, _| inner_log.lock().unwrap().push("inner"));
        log.lock().unwrap().push("outer");
    });
    assert_eq!(*order.lock().unwrap(), ["outer", "inner"]);
}

#[test]
fn multicast_reaches_the_members_of_a_group() {
    let network = DatagramNetwork::new();
    let group: SocketAddr = addr("239.1.2.3:5353");
    let mut members = Vec::new();
    for host in ["10.0.0.1", "10.0.0.2"] {
        let (member, events) = Recording::new();
        let port = network
            .bind(SocketAddr::new(host.parse().unwrap(), 5353), member)
            .unwrap();
        port.handle()
            .call(move |_, cx| cx.join_group(group.ip()).unwrap());
        members.push((port, events));
    }
    let (outsider, outsider_events) = Recording::new();
    network.bind(addr("10.0.0.3:5353"), outsider).unwrap();
    let (sender, _) = Recording::new();
    let sender = network.bind(addr(CLIENT), sender).unwrap();
    send_all(&sender, vec![b"hello group".to_vec()], "239.1.2.3:5353");
    network.clock().advance(Duration::from_secs(1));
    for (_, events) in &members {
        assert_eq!(events.take_payloads(), ["hello group"]);
    }
    assert_eq!(outsider_events.take_payloads(), Vec::<Bytes>::new());

    members[0]
        .0
        .handle()
        .call(move |_, cx| cx.leave_group(group.ip()).unwrap());
    send_all(&sender, vec![b"again".to_vec()], "239.1.2.3:5353");
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(members[0].1.take_payloads(), Vec::<Bytes>::new());
    assert_eq!(members[1].1.take_payloads(), ["again"]);
}

#[test]
fn broadcast_needs_permission() {
    let network = DatagramNetwork::new();
    let (server, client, _) = pair(&network);
    let result = Arc::new(Mutex::new(None));
    let out = result.clone();
    let everyone = addr("255.255.255.255:9");
    client.handle().call(move |_, cx| {
        *out.lock().unwrap() = Some(cx.write(b"denied", everyone));
        cx.set_broadcast(true).unwrap();
        cx.write(b"to all", everyone).unwrap();
    });
    assert!(matches!(
        result.lock().unwrap().take(),
        Some(Err(DatagramError::Io(_)))
    ));
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(server.take_payloads(), ["to all"]);
}

#[test]
fn an_echo_answers_each_datagram_as_it_came() {
    let network = DatagramNetwork::new();
    let (echo, _) = Recording::echoing();
    network.bind(addr(SERVER), echo).unwrap();
    let (client, events) = Recording::new();
    let client = network.bind(addr(CLIENT), client).unwrap();
    send_all(&client, vec![b"ab".to_vec(), b"c".to_vec()], SERVER);
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(
        events.take(),
        [
            Event::Started,
            Event::Datagram(Bytes::from_static(b"ab"), addr(SERVER)),
            Event::Datagram(Bytes::from_static(b"c"), addr(SERVER)),
        ]
    );
}

#[test]
fn a_group_joined_on_an_interface_is_heard_and_left_on_it_in_either_family() {
    let network = DatagramNetwork::new();
    let cases = [
        (
            "239.1.2.4:6000",
            ["10.0.0.1:6000", "10.0.0.2:0"],
            MulticastInterface::V4("10.0.0.1".parse().unwrap()),
        ),
        (
            "[ff15::4]:6000",
            ["[fd00::1]:6000", "[fd00::2]:0"],
            MulticastInterface::V6(1),
        ),
    ];
    for (group, [member_address, sender_address], interface) in cases {
        let group = addr(group);
        let (member, events) = Recording::new();
        let member = network.bind(addr(member_address), member).unwrap();
        member
            .handle()
            .call(move |_, cx| cx.join_group_on(group.ip(), interface).unwrap());
        let (sender, _) = Recording::new();
        let sender = network.bind(addr(sender_address), sender).unwrap();
        sender
            .handle()
            .call(move |_, cx| cx.set_outgoing_interface(interface).unwrap());
        send_all(&sender, vec![b"joined".to_vec()], &group.to_string());
        network.clock().advance(Duration::from_secs(1));
        assert_eq!(events.take_payloads(), ["joined"], "{group}");

        member
            .handle()
            .call(move |_, cx| cx.leave_group_on(group.ip(), interface).unwrap());
        send_all(&sender, vec![b"left".to_vec()], &group.to_string());
        network.clock().advance(Duration::from_secs(1));
        assert_eq!(events.take_payloads(), Vec::<Bytes>::new(), "{group}");
    }
}

#[test]
fn a_multicast_interface_of_the_wrong_family_is_a_typed_error() {
    let network = DatagramNetwork::new();
    let (member, events) = Recording::new();
    let member = network.bind(addr("10.0.0.1:6001"), member).unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    let out = results.clone();
    let v4_group = "239.1.2.5".parse().unwrap();
    let v6_group = "ff15::5".parse().unwrap();
    let loopback_v4 = MulticastInterface::V4("127.0.0.1".parse().unwrap());
    member.handle().call(move |_, cx| {
        let mut out = out.lock().unwrap();
        out.push(cx.join_group_on(v4_group, MulticastInterface::V6(1)));
        out.push(cx.join_group_on(v6_group, loopback_v4));
        out.push(cx.leave_group_on(v4_group, MulticastInterface::V6(1)));
        out.push(cx.set_outgoing_interface(MulticastInterface::V6(1)));
    });
    let results = std::mem::take(&mut *results.lock().unwrap());
    let expected = [
        (MulticastInterface::V6(1), v4_group),
        (loopback_v4, v6_group),
        (MulticastInterface::V6(1), v4_group),
        (MulticastInterface::V6(1), "10.0.0.1".parse().unwrap()),
    ];
    assert_eq!(results.len(), expected.len());
    for (result, (interface, address)) in results.into_iter().zip(expected) {
        assert!(
            matches!(
                result,
                Err(DatagramError::InterfaceFamily { interface: i, address: a })
                    if i == interface && a == address
            ),
            "{result:?}"
        );
    }

    let (sender, _) = Recording::new();
    let sender = network.bind(addr(CLIENT), sender).unwrap();
    send_all(&sender, vec![b"to the group".to_vec()], "239.1.2.5:6001");
    network.clock().advance(Duration::from_secs(1));
    assert_eq!(
        events.take_payloads(),
        Vec::<Bytes>::new(),
        "a refused join joined nothing"
    );
}
