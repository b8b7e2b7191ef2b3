//! The load generator's WebSocket mode (`--mode ws`): each connection makes the client
//! handshake (tokio-tungstenite's), then keeps `--in-flight` binary messages of
//! `--message-size` bytes outstanding, writing the masked frames and reading the echoes
//! itself, so that its own cost stays small and every echo is checked byte for byte.
//! Ends after `--messages` per connection when given, else after `--duration`.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{connect, now, on_every_connection, payload, Plan};

/// FIN and the binary opcode: the first byte of every frame sent and expected.
const FINAL_BINARY: u8 = 0x82;
/// The mask bit of a frame's second byte: set on every frame a client sends.
const MASKED: u8 = 0x80;

pub async fn pipelined(plan: Plan) -> Result<(String, u64), String> {
    let started = now();
    let counts = on_every_connection(&plan, |index, plan| async move {
        let stream = connect(&plan).await?;
        let scheme = if plan.tls.is_some() { "wss" } else { "ws" };
        let url = format!("{scheme}://{}/", plan.address);
        let (socket, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .map_err(|error| format!("connection {index}: handshake: {error}"))?;
        // The server sends nothing before the first message: tungstenite holds no bytes
        // of the connection past the handshake.
        let mut stream = socket.into_inner();
        let deadline = now() + plan.duration;
        let limit = plan.messages.unwrap_or(u64::MAX);
        let mut masks = Masks(index as u32 + 1);
        let (mut sent, mut received) = (0u64, 0u64);
        let size = plan.message_size;
        let mut output = Vec::with_capacity(plan.in_flight * (size + 14));
        let mut input = BytesMut::with_capacity(64 * 1024);
        let mut scratch = Vec::with_capacity(size);
        while sent < (plan.in_flight as u64).min(limit) {
            push_frame(index, sent, size, masks.next(), &mut scratch, &mut output);
            sent += 1;
        }
        loop {
            if !output.is_empty() {
                stream
                    .write_all(&output)
                    .await
                    .map_err(|error| error.to_string())?;
                output.clear();
            }
            if received == sent {
                break;
            }
            if stream
                .read_buf(&mut input)
                .await
                .map_err(|error| error.to_string())?
                == 0
            {
                return Err(format!(
                    "connection {index}: the server closed after {received} messages"
                ));
            }
            let echoed = take_echoes(&mut input, index, &mut received, size, &mut scratch)?;
            if now() < deadline {
                for _ in 0..echoed {
                    if sent == limit {
                        break;
                    }
                    push_frame(index, sent, size, masks.next(), &mut scratch, &mut output);
                    sent += 1;
                }
            }
        }
        Ok(received)
    })
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let messages: u64 = counts.iter().sum();
    let report = format!(
        "mode=ws connections={} in_flight={} message_size={} messages={messages} seconds={elapsed:.2} messages_per_s={:.0}",
        plan.connections,
        plan.in_flight,
        plan.message_size,
        messages as f64 / elapsed
    );
    Ok((report, messages))
}

/// The masking keys of one connection: a xorshift sequence, so that the server unmasks
/// varied keys as it would from real clients.
struct Masks(u32);

impl Masks {
    fn next(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x.to_be_bytes()
    }
}

/// The length field of a frame header: one byte under 126, else 126 or 127 and the length
/// in 2 or 8 bytes.
fn push_length(flags: u8, length: usize, out: &mut Vec<u8>) {
    match length {
        0..=125 => out.push(flags | length as u8),
        126..=0xffff => {
            out.push(flags | 126);
            out.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            out.push(flags | 127);
            out.extend_from_slice(&(length as u64).to_be_bytes());
        }
    }
}

/// Appends message `seq` of connection `connection` to `out` as a masked binary frame.
fn push_frame(
    connection: usize,
    seq: u64,
    size: usize,
    mask: [u8; 4],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    payload(connection, seq, size, scratch);
    out.push(FINAL_BINARY);
    push_length(MASKED, size, out);
    out.extend_from_slice(&mask);
    out.extend(
        scratch
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, key)| byte ^ key),
    );
}

/// Takes every complete echoed frame out of `input`, checking each against what was sent
/// (an unmasked final binary frame with the same payload); returns how many there were.
fn take_echoes(
    input: &mut BytesMut,
    connection: usize,
    next: &mut u64,
    size: usize,
    expected: &mut Vec<u8>,
) -> Result<u64, String> {
    let mut count = 0;
    let mut header = Vec::with_capacity(10);
    push_length(0, size, &mut header);
    header.insert(0, FINAL_BINARY);
    while input.len() >= header.len() {
        if input[..header.len()] != header[..] {
            return Err(format!(
                "connection {connection}: message {} came back with the header {:02x?} \
                 (a close is 88), not {header:02x?}",
                *next,
                &input[..header.len()]
            ));
        }
        if input.len() < header.len() + size {
            break;
        }
        expected.clear();
        payload(connection, *next, size, expected);
        if input[header.len()..header.len() + size] != expected[..] {
            return Err(format!(
                "connection {connection}: message {} came back different",
                *next
            ));
        }
        input.advance(header.len() + size);
        *next += 1;
        count += 1;
    }
    Ok(count)
}
