//! Turning rustls's unbuffered connection states into bytes in the layer's buffers:
//! [`process`] runs the session over the records in hand until it needs more input or can
//! send, and [`queue_alerts`] collects what a failed session has to tell the peer.

use bytes::{Buf, BytesMut};
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncryptError, InsufficientSizeError, UnbufferedConnectionCommon,
    UnbufferedStatus,
};
use tokio::io::ReadBuf;

use super::WRITE_CHUNK;

/// The two sides' unbuffered connections, processed alike.
pub(super) trait Unbuffered:
    std::ops::DerefMut<Target = UnbufferedConnectionCommon<Self::Data>>
{
    type Data;

    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Unbuffered for UnbufferedServerConnection {
    type Data = ServerConnectionData;

    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, ServerConnectionData> {
        self.process_tls_records(incoming)
    }
}

impl Unbuffered for UnbufferedClientConnection {
    type Data = ClientConnectionData;

    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, ClientConnectionData> {
        self.process_tls_records(incoming)
    }
}

/// What to do once the session can send application data.
#[derive(Clone, Copy)]
pub(super) enum Then<'a> {
    Nothing,
    Encrypt(&'a [u8]),
    CloseNotify,
}

/// Where processing the records in hand stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// The session waits for more of the peer's bytes.
    NeedInput,
    /// The session can send application data (`Then` was done).
    Writable,
    /// Both sides sent close_notify.
    Closed,
}

/// The layer's buffers, lent to [`process`].
pub(super) struct Buffers<'a, 'r> {
    pub(super) incoming: &'a mut BytesMut,
    pub(super) outgoing: &'a mut Vec<u8>,
    pub(super) plaintext: &'a mut BytesMut,
    /// Where decrypted bytes go first; what does not fit goes to `plaintext`.
    pub(super) reader: Option<&'a mut ReadBuf<'r>>,
    pub(super) peer_closed: &'a mut bool,
}

/// Processes the records in `buffers.incoming` (dropping those the session consumed):
/// decrypted bytes go to the reader, then to `plaintext`; what the session has to send
/// goes to `outgoing`; until the session waits for more input, or can send application
/// data (then `then` is done), or both sides have closed.
pub(super) fn process<C: Unbuffered>(
    conn: &mut C,
    buffers: &mut Buffers<'_, '_>,
    then: Then<'_>,
) -> Result<Stop, rustls::Error> {
    loop {
        let status = conn.process(&mut buffers.incoming[..]);
        let mut discard = status.discard;
        let stop = status.state.and_then(|state| {
            handle(
                state,
                &mut discard,
                buffers.outgoing,
                buffers.plaintext,
                &mut buffers.reader,
                buffers.peer_closed,
                then,
            )
        });
        // What the session consumed goes, also when it failed: rustls reads what follows
        // from where it stopped (the alerts it has for the peer, say).
        buffers.incoming.advance(discard);
        if let Some(stop) = stop? {
            return Ok(stop);
        }
    }
}

/// Does what `state` asks (see [`process`]); `Some` where processing stops. Adds to
/// `discard` what the records read consumed.
fn handle<Data>(
    state: ConnectionState<'_, '_, Data>,
    discard: &mut usize,
    outgoing: &mut Vec<u8>,
    plaintext: &mut BytesMut,
    reader: &mut Option<&mut ReadBuf<'_>>,
    peer_closed: &mut bool,
    then: Then<'_>,
) -> Result<Option<Stop>, rustls::Error> {
    Ok(match state {
        ConnectionState::ReadTraffic(mut traffic) => {
            while let Some(record) = traffic.next_record() {
                let record = record?;
                *discard += record.discard;
                deliver(record.payload, reader, plaintext);
            }
            None
        }
        ConnectionState::ReadEarlyData(_) => {
            // 0-RTT data can be replayed by an attacker: it is not passed off as
            // ordinary data. A server configuration that accepts it is refused here.
            return Err(rustls::Error::General(
                "TLS early data (0-RTT) is not supported: set the ServerConfig's \
                 max_early_data_size to 0"
                    .into(),
            ));
        }
        ConnectionState::EncodeTlsData(mut encode) => {
            append(outgoing, 0, |room| encode.encode(room), encode_needs)
                .map_err(|error| rustls::Error::General(error.to_string()))?;
            None
        }
        ConnectionState::TransmitTlsData(transmit) => {
            // The bytes are in `outgoing`, which the layer sends before anything made
            // after them.
            transmit.done();
            None
        }
        ConnectionState::BlockedHandshake => Some(Stop::NeedInput),
        ConnectionState::PeerClosed => {
            *peer_closed = true;
            None
        }
        ConnectionState::Closed => {
            *peer_closed = true;
            Some(Stop::Closed)
        }
        ConnectionState::WriteTraffic(mut traffic) => {
            let encrypted = match then {
                Then::Nothing => Ok(()),
                Then::Encrypt(data) => append(
                    outgoing,
                    sealed_size(data.len()),
                    |room| traffic.encrypt(data, room),
                    encrypt_needs,
                ),
                Then::CloseNotify => append(
                    outgoing,
                    sealed_size(2),
                    |room| traffic.queue_close_notify(room),
                    encrypt_needs,
                ),
            };
            encrypted.map_err(|error| rustls::Error::General(error.to_string()))?;
            Some(Stop::Writable)
        }
        other => {
            return Err(rustls::Error::General(format!(
                "unexpected TLS connection state {other:?}"
            )))
        }
    })
}

/// After a failure: puts the alerts rustls queued for the peer in `outgoing`. `incoming`
/// is what the session was processing (rustls may still point into it).
pub(super) fn queue_alerts<C: Unbuffered>(
    conn: &mut C,
    incoming: &mut BytesMut,
    outgoing: &mut Vec<u8>,
) {
    loop {
        let status = conn.process(&mut incoming[..]);
        let discard = status.discard;
        let more = match status.state {
            Ok(ConnectionState::EncodeTlsData(mut encode)) => {
                append(outgoing, 0, |room| encode.encode(room), encode_needs).is_ok()
            }
            Ok(ConnectionState::TransmitTlsData(transmit)) => {
                transmit.done();
                true
            }
            _ => false,
        };
        incoming.advance(discard);
        if !more {
            return;
        }
    }
}

/// Puts decrypted `payload` in the reader's buffer, as far as it has room, and the rest
/// in `plaintext` (also all of it if `plaintext` holds bytes already: they come first).
fn deliver(payload: &[u8], reader: &mut Option<&mut ReadBuf<'_>>, plaintext: &mut BytesMut) {
    let mut rest = payload;
    if let (Some(reader), true) = (reader, plaintext.is_empty()) {
        let count = rest.len().min(reader.remaining());
        reader.put_slice(&rest[..count]);
        rest = &rest[count..];
    }
    plaintext.extend_from_slice(rest);
}

/// Room for `plaintext` bytes once encrypted: the records' headers, content types and
/// tags (rustls says so if it needs more).
fn sealed_size(plaintext: usize) -> usize {
    const RECORD_OVERHEAD: usize = 64;
    plaintext + (plaintext / WRITE_CHUNK + 1) * RECORD_OVERHEAD
}

/// The room an encoding that failed for want of it needs.
fn encode_needs(error: &EncodeError) -> Option<usize> {
    match error {
        EncodeError::InsufficientSize(InsufficientSizeError { required_size }) => {
            Some(*required_size)
        }
        EncodeError::AlreadyEncoded => None,
    }
}

/// The room an encryption that failed for want of it needs.
fn encrypt_needs(error: &EncryptError) -> Option<usize> {
    match error {
        EncryptError::InsufficientSize(InsufficientSizeError { required_size }) => {
            Some(*required_size)
        }
        EncryptError::EncryptExhausted => None,
    }
}

/// Appends to `outgoing` what `write` puts in the room it is given: `room` bytes first,
/// then as many as `needs` says it asked for.
fn append<E>(
    outgoing: &mut Vec<u8>,
    room: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
    needs: impl Fn(&E) -> Option<usize>,
) -> Result<(), E> {
    let start = outgoing.len();
    let mut room = room;
    loop {
        outgoing.resize(start + room, 0);
        match write(&mut outgoing[start..]) {
            Ok(written) => {
                outgoing.truncate(start + written);
                return Ok(());
            }
            Err(error) => match needs(&error) {
                Some(required) if required > room => room = required,
                _ => {
                    outgoing.truncate(start);
                    return Err(error);
                }
            },
        }
    }
}
