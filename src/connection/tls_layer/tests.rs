//! The TLS layer over an in-memory pair: buffers given back when idle, large writes cut
//! into records and read in small pieces.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::testing::{MemoryStream, TestCertificates};

type Stream = Layer<MemoryStream>;

/// A server and a client over an in-memory pair buffering `capacity` bytes each way,
/// their handshakes done, on a runtime of their own.
fn connected(capacity: usize) -> (tokio::runtime::Runtime, Stream, Stream) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let certificates = TestCertificates::new(&["localhost"]).unwrap();
    let (a, b) = MemoryStream::pair(capacity);
    let (mut server, mut client) = (Layer::Plain(a), Layer::Plain(b));
    assert!(server.begin_handshake(StartTls::server(certificates.server_config().unwrap())));
    let client_side = StartTls::client("localhost", certificates.client_config().unwrap()).unwrap();
    assert!(client.begin_handshake(client_side));
    let (served, connected) = runtime.block_on(async {
        tokio::join!(
            std::future::poll_fn(|cx| server.poll_handshake(cx)),
            std::future::poll_fn(|cx| client.poll_handshake(cx)),
        )
    });
    let served = served.unwrap().expect("the server's handshake completes");
    assert_eq!(served.server_name(), Some("localhost"));
    assert!(connected.unwrap().is_some());
    (runtime, server, client)
}

/// The buffers a session holds (incoming, outgoing, plaintext), by capacity.
fn held(stream: &Stream) -> [usize; 3] {
    match stream {
        Layer::Tls(over) => [
            over.tls.incoming.capacity(),
            over.tls.outgoing.capacity(),
            over.tls.plaintext.capacity(),
        ],
        _ => panic!("not TLS"),
    }
}

#[test]
fn an_idle_session_holds_no_buffer_and_takes_them_again_when_bytes_move() {
    let (runtime, mut server, mut client) = connected(64 * 1024);
    for round in 0..2 {
        let line = format!("line {round}\n");
        let received = runtime.block_on(async {
            client.write_all(line.as_bytes()).await.unwrap();
            client.flush().await.unwrap();
            let mut received = vec![0; line.len()];
            server.read_exact(&mut received).await.unwrap();
            received
        });
        assert_eq!(received, line.as_bytes());
        assert_ne!(held(&server), [0; 3], "the server read through its buffers");
        server.release_idle();
        client.release_idle();
        assert_eq!(held(&server), [0; 3]);
        assert_eq!(held(&client), [0; 3]);
    }
}

/// More than fits in a record, in the pipe, or in the reader's buffer: it is cut into
/// records, waits for the pipe, waits in the layer for the reader, and arrives whole;
/// close_notify then reads as the end.
#[test]
fn a_large_write_arrives_whole_through_a_small_pipe_and_small_reads() {
    let (runtime, mut server, mut client) = connected(8 * 1024);
    let sent: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    let received = runtime.block_on(async {
        let writing = async {
            client.write_all(&sent).await.unwrap();
            client.shutdown().await.unwrap();
        };
        let reading = async {
            let mut received = Vec::new();
            let mut chunk = [0; 1000];
            loop {
                match server.read(&mut chunk).await.unwrap() {
                    0 => break received,
                    count => received.extend_from_slice(&chunk[..count]),
                }
            }
        };
        tokio::join!(writing, reading).1
    });
    assert_eq!(received.len(), sent.len());
    assert!(received == sent, "the bytes arrive in order, unchanged");
}
