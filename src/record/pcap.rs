//! A transcript as a capture file for Wireshark: [`Transcript::write_pcap`], which
//! synthesizes the TCP/IP packets that carry the recorded bytes.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::transcript::{Closed, EventKind, Side, Transcript};

/// The most payload one synthesized segment carries.
pub const PCAP_MAX_SEGMENT: usize = 16 * 1024;

/// `LINKTYPE_RAW`: each packet is an IPv4 or IPv6 packet.
const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65_535;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// The client's and the server's initial sequence numbers.
const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = 5_000;

/// One end of the synthesized TCP connection.
struct End {
    address: SocketAddr,
    /// The sequence number of its next byte.
    next: u32,
}

/// The packets being written.
struct Capture<W> {
    out: W,
    /// The transcript's own end, then the peer's.
    local: End,
    peer: End,
    /// The IPv4 identification of the next packet.
    id: u16,
}

impl Transcript {
    /// Writes the transcript as a pcap capture file that Wireshark (or tcpdump) opens.
    ///
    /// The packets are synthesized: the transcript holds the plaintext and the times, not
    /// the packets, so packets are made up to carry them — a TCP connection between the
    /// transcript's addresses (the client's SYN, the server's SYN-ACK, the ACK, at time
    /// zero), each recorded chunk one segment (or several, past [`PCAP_MAX_SEGMENT`]
    /// bytes) at its recorded time with its sequence and acknowledgement numbers, each
    /// half-close a FIN, and an abort a RST; checksums are right. The link type is raw IP
    /// (`LINKTYPE_RAW`), IPv4 or IPv6 after the addresses; addresses that are not IP (a
    /// Unix socket's) become `10.0.0.1:12345` (this end) and `10.0.0.2:54321` (the
    /// peer). Timestamps have microseconds and count from the Unix epoch, as the
    /// transcript's count from the connection's start.
    ///
    /// # Errors
    ///
    /// Writing to `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsade::record::{EventKind, Side, Transcript};
    ///
    /// let mut transcript = Transcript::new(Side::Server, "127.0.0.1:1079", "127.0.0.1:50000", false);
    /// transcript.push(Duration::from_millis(1), EventKind::Received("World\r\n".into()));
    /// transcript.push(Duration::from_millis(2), EventKind::Sent("Hello, World!\r\n".into()));
    /// let mut capture = Vec::new();
    /// transcript.write_pcap(&mut capture)?;
    /// assert_eq!(capture[..4], 0xa1b2_c3d4_u32.to_le_bytes());
    /// // The header, then the handshake's three packets and the two data segments.
    /// assert_eq!(capture.len(), 24 + 3 * (16 + 40) + (16 + 40 + 7) + (16 + 40 + 15));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_pcap<W: Write>(&self, out: W) -> io::Result<()> {
        let (local, peer) = ip_addresses(&self.local, &self.peer);
        let (local_isn, peer_isn) = match self.side {
            Side::Client => (CLIENT_ISN, SERVER_ISN),
            Side::Server => (SERVER_ISN, CLIENT_ISN),
        };
        let mut capture = Capture {
            out,
            local: End {
                address: local,
                next: local_isn,
            },
            peer: End {
                address: peer,
                next: peer_isn,
            },
            id: 1,
        };
        capture.header()?;
        capture.handshake(self.side)?;
        for event in &self.events {
            let at = event.at;
            match &event.kind {
                EventKind::Received(bytes) => capture.data(at, false, bytes)?,
                EventKind::Sent(bytes) => capture.data(at, true, bytes)?,
                EventKind::PeerEof => capture.control(at, false, FIN | ACK)?,
                EventKind::WriteShut => capture.control(at, true, FIN | ACK)?,
                EventKind::Closed(Closed::Aborted) => capture.control(at, true, RST | ACK)?,
                EventKind::TlsStarted | EventKind::Truncated | EventKind::Closed(_) => {}
            }
        }
        capture.out.flush()
    }
}

/// The transcript's addresses as IP socket addresses of one family.
fn ip_addresses(local: &str, peer: &str) -> (SocketAddr, SocketAddr) {
    match (local.parse::<SocketAddr>(), peer.parse::<SocketAddr>()) {
        (Ok(local), Ok(peer)) if local.is_ipv4() == peer.is_ipv4() => (local, peer),
        _ => (
            SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 12345)),
            SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 54321)),
        ),
    }
}

impl<W: Write> Capture<W> {
    /// The file's header.
    fn header(&mut self) -> io::Result<()> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
        header.extend_from_slice(&2_u16.to_le_bytes());
        header.extend_from_slice(&4_u16.to_le_bytes());
        header.extend_from_slice(&0_i32.to_le_bytes()); // GMT
        header.extend_from_slice(&0_u32.to_le_bytes()); // timestamp accuracy
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        self.out.write_all(&header)
    }

    /// The three-way handshake, the client first.
    fn handshake(&mut self, side: Side) -> io::Result<()> {
        let local_is_client = side == Side::Client;
        self.segment(Duration::ZERO, local_is_client, SYN, &[], false)?;
        self.segment(Duration::ZERO, !local_is_client, SYN | ACK, &[], true)?;
        self.segment(Duration::ZERO, local_is_client, ACK, &[], true)
    }

    /// `bytes` from this end (`from_local`) or the peer, in segments.
    fn data(&mut self, at: Duration, from_local: bool, bytes: &[u8]) -> io::Result<()> {
        for chunk in bytes.chunks(PCAP_MAX_SEGMENT) {
            self.segment(at, from_local, PSH | ACK, chunk, true)?;
        }
        Ok(())
    }

    /// A segment with no payload but `flags`.
    fn control(&mut self, at: Duration, from_local: bool, flags: u8) -> io::Result<()> {
        self.segment(at, from_local, flags, &[], true)
    }

    /// One packet: a TCP segment with `flags` and `payload` from one end to the other,
    /// acknowledging what the other sent (if `acks`), with the sequence numbers moved on.
    fn segment(
        &mut self,
        at: Duration,
        from_local: bool,
        flags: u8,
        payload: &[u8],
        acks: bool,
    ) -> io::Result<()> {
        let (from, to) = if from_local {
            (&mut self.local, &mut self.peer)
        } else {
            (&mut self.peer, &mut self.local)
        };
        let (source, destination) = (from.address, to.address);
        let seq = from.next;
        let ack = if acks { to.next } else { 0 };
        // SYN and FIN take a sequence number, as each payload byte does.
        let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let taken = length.wrapping_add(u32::from(flags & (SYN | FIN) != 0));
        from.next = from.next.wrapping_add(taken);

        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend_from_slice(&source.port().to_be_bytes());
        tcp.extend_from_slice(&destination.port().to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.push(5 << 4); // a 20-byte header: no options
        tcp.push(flags);
        tcp.extend_from_slice(&u16::MAX.to_be_bytes()); // the window
        tcp.extend_from_slice(&[0, 0]); // the checksum, below
        tcp.extend_from_slice(&[0, 0]); // the urgent pointer
        tcp.extend_from_slice(payload);
        let checksum = tcp_checksum(source.ip(), destination.ip(), &tcp);
        tcp[16..18].copy_from_slice(&checksum.to_be_bytes());

        let packet = match (source.ip(), destination.ip()) {
            (IpAddr::V4(source), IpAddr::V4(destination)) => {
                let id = self.id;
                self.id = self.id.wrapping_add(1);
                let mut ip = Vec::with_capacity(20 + tcp.len());
                ip.push(0x45); // version 4, a 20-byte header
                ip.push(0);
                ip.extend_from_slice(&u16::try_from(20 + tcp.len()).unwrap_or(0).to_be_bytes());
                ip.extend_from_slice(&id.to_be_bytes());
                ip.extend_from_slice(&0x4000_u16.to_be_bytes()); // don't fragment
                ip.push(64); // TTL
                ip.push(6); // TCP
                ip.extend_from_slice(&[0, 0]);
                ip.extend_from_slice(&source.octets());
                ip.extend_from_slice(&destination.octets());
                let checksum = !ones_complement_sum(0, &ip);
                ip[10..12].copy_from_slice(&checksum.to_be_bytes());
                ip.extend_from_slice(&tcp);
                ip
            }
            (source, destination) => {
                let mut ip = Vec::with_capacity(40 + tcp.len());
                ip.extend_from_slice(&0x6000_0000_u32.to_be_bytes());
                ip.extend_from_slice(&u16::try_from(tcp.len()).unwrap_or(0).to_be_bytes());
                ip.push(6); // TCP
                ip.push(64); // hop limit
                ip.extend_from_slice(&ipv6_octets(source));
                ip.extend_from_slice(&ipv6_octets(destination));
                ip.extend_from_slice(&tcp);
                ip
            }
        };
        let length = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let mut record = Vec::with_capacity(16);
        let seconds = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        record.extend_from_slice(&seconds.to_le_bytes());
        record.extend_from_slice(&at.subsec_micros().to_le_bytes());
        record.extend_from_slice(&length.to_le_bytes());
        record.extend_from_slice(&length.to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&packet)
    }
}

fn ipv6_octets(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(address) => address.to_ipv6_mapped().octets(),
        IpAddr::V6(address) => address.octets(),
    }
}

/// The TCP checksum of `segment` (its checksum field zero) between `source` and
/// `destination`: over the pseudo-header of their family, then the segment.
fn tcp_checksum(source: IpAddr, destination: IpAddr, segment: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40);
    match (source, destination) {
        (IpAddr::V4(source), IpAddr::V4(destination)) => {
            pseudo.extend_from_slice(&source.octets());
            pseudo.extend_from_slice(&destination.octets());
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&u16::try_from(segment.len()).unwrap_or(0).to_be_bytes());
        }
        (source, destination) => {
            pseudo.extend_from_slice(&ipv6_octets(source));
            pseudo.extend_from_slice(&ipv6_octets(destination));
            pseudo.extend_from_slice(&u32::try_from(segment.len()).unwrap_or(0).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 6]);
        }
    }
    !ones_complement_sum(ones_complement_sum(0, &pseudo), segment)
}

/// The Internet checksum's one's-complement sum of `bytes` (16-bit big-endian words, an
/// odd last byte padded with zero), added to `sum`.
fn ones_complement_sum(sum: u16, bytes: &[u8]) -> u16 {
    let mut total = u32::from(sum);
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        total += u32::from(word);
        total = (total & 0xffff) + (total >> 16);
    }
    // Folded after each word: it fits in 16 bits.
    u16::try_from(total).unwrap_or(u16::MAX)
}
