//! The load generator's WebSocket mode (`--mode ws`): each connection makes the client
//! handshake (tokio-tungstenite's), then keeps `--in-flight` binary messages of
//! `--message-size` bytes outstanding, writing the masked frames and reading the echoes
//! itself, so that its own cost stays small and every echo is checked byte for byte.
//! Ends after `--messages` per connection when given, else after `--duration`.

use bytes::{Buf, BytesMut};

use super::{connect, now, on_every_connection, payload, pipeline, Plan};

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
        let frames = Frames::new(index, plan.message_size);
        let limit = plan.messages.unwrap_or(u64::MAX);
        pipeline::run(socket.into_inner(), index, &plan, limit, frames).await
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

/// The WebSocket mode's requests on one connection: masked binary frames of `size`-byte
/// payloads, echoed back unmasked.
struct Frames {
    connection: usize,
    size: usize,
    masks: Masks,
    /// The header every echo starts with: FIN, binary, and the payload's length.
    echo_header: Vec<u8>,
    /// A payload, as sent or as expected back.
    scratch: Vec<u8>,
}

impl Frames {
    fn new(connection: usize, size: usize) -> Frames {
        let mut echo_header = vec![FINAL_BINARY];
        push_length(0, size, &mut echo_header);
        Frames {
            connection,
            size,
            masks: Masks(connection as u32 + 1),
            echo_header,
            scratch: Vec::with_capacity(size),
        }
    }
}

impl pipeline::Exchange for Frames {
    const UNIT: &'static str = "messages";

    /// Appends message `seq` as a masked binary frame.
    fn push_request(&mut self, seq: u64, output: &mut Vec<u8>) {
        let mask = self.masks.next();
        self.scratch.clear();
        payload(self.connection, seq, self.size, &mut self.scratch);
        output.push(FINAL_BINARY);
        push_length(MASKED, self.size, output);
        output.extend_from_slice(&mask);
        output.extend(
            self.scratch
                .iter()
                .zip(mask.iter().cycle())
                .map(|(byte, key)| byte ^ key),
        );
    }

    /// Takes every complete echoed frame, checking each against what was sent (an
    /// unmasked final binary frame with the same payload).
    fn take_echoes(&mut self, input: &mut BytesMut, next: &mut u64) -> Result<u64, String> {
        let (connection, size, header) = (self.connection, self.size, &self.echo_header[..]);
        let mut count = 0;
        while input.len() >= header.len() {
            if input[..header.len()] != *header {
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
            self.scratch.clear();
            payload(connection, *next, size, &mut self.scratch);
            if input[header.len()..header.len() + size] != self.scratch[..] {
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
}
