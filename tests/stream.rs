//! The async/await face over loopback: `open_connection`, `start_server`, backpressure,
//! the seed's coroutine greeting client, and tokio code (`Framed`, `tokio::io::copy`) over
//! a connection, on sockets and in memory.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{run_async, run_bounded, LIMIT};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};
use torsade::testing::{stream_loopback, Side};
use torsade::{
    Connection, Context, Deferred, Error, Protocol, Reactor, Transport, WRITE_BUFFER_HIGH,
};
use torsade_protocols::GreetingServer;

async fn uppercase(mut connection: Connection) -> torsade::Result<()> {
    while let Some(line) = connection.read_line().await? {
        connection.write_line(&line.to_ascii_uppercase()).await?;
    }
    Ok(())
}

#[test]
fn an_async_client_talks_to_an_async_server() {
    let reactor = Reactor::new().unwrap();
    let port = reactor.start_server("127.0.0.1:0", uppercase).unwrap();
    let r = reactor.clone();
    let answers = run_async(&reactor, async move {
        let mut connection = r.open_connection(port.local_addr()).await?;
        let mut answers = Vec::new();
        for word in ["alpha", "beta", "gamma"] {
            connection.write_line(word.as_bytes()).await?;
            answers.push(connection.read_line().await?);
        }
        connection.close().await?;
        Ok::<_, Error>(answers)
    })
    .unwrap();
    let answers: Vec<_> = answers.into_iter().map(|a| a.unwrap()).collect();
    assert_eq!(answers, ["ALPHA", "BETA", "GAMMA"]);
}

#[test]
fn the_seed_coroutine_gets_a_greeting_in_a_few_lines() {
    let reactor = Reactor::new().unwrap();
    let server = reactor
        .listen("127.0.0.1:0", GreetingServer::factory())
        .unwrap();
    let (r, address) = (reactor.clone(), server.local_addr());
    let greeting = run_async(&reactor, async move {
        let mut connection = r.open_connection(address).await?;
        connection.write_line(b"World").await?;
        connection.read_line().await
    })
    .unwrap();
    assert_eq!(greeting.as_deref(), Some(&b"Hello, World!"[..]));
}

#[test]
fn a_refused_open_connection_is_a_typed_error() {
    let reactor = Reactor::new().unwrap();
    let refused = common::refused_port::RefusedPort::new();
    let address = refused.address();
    let r = reactor.clone();
    let outcome = run_async(&reactor, async move {
        r.open_connection(address).await.map(|_| ())
    });
    match outcome {
        Err(Error::ConnectFailed { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_fast_writer_waits_for_a_slow_reader_and_nothing_is_lost() {
    const TOTAL: usize = 16 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let reactor = Reactor::new().unwrap();
    let most_buffered = Arc::new(AtomicUsize::new(0));
    let most = most_buffered.clone();
    let port = reactor
        .start_server("127.0.0.1:0", move |connection: Connection| {
            let most = most.clone();
            async move {
                let chunk = vec![b'q'; CHUNK];
                for _ in 0..TOTAL / CHUNK {
                    connection.write(&chunk).await?;
                    let buffered = connection.transport().write_buffer_size();
                    most.fetch_max(buffered, Ordering::SeqCst);
                }
                Ok::<(), Error>(())
            }
        })
        .unwrap();
    let r = reactor.clone();
    let received = run_async(&reactor, async move {
        let mut connection = r.open_connection(port.local_addr()).await?;
        let mut received = 0;
        while let Some(data) = connection.read().await? {
            assert!(data.iter().all(|&byte| byte == b'q'));
            received += data.len();
            // A slow reader: let the writer run ahead between reads.
            tokio::task::yield_now().await;
        }
        Ok::<_, Error>(received)
    })
    .unwrap();
    assert_eq!(received, TOTAL);
    let most = most_buffered.load(Ordering::SeqCst);
    assert!(
        most <= WRITE_BUFFER_HIGH + CHUNK,
        "the writer ran ahead by {most} bytes"
    );
}

#[test]
fn a_failing_or_panicking_handler_affects_only_its_own_connection() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .start_server("127.0.0.1:0", |mut connection: Connection| async move {
            let line = connection.read_line().await?.unwrap_or_default();
            match &line[..] {
                b"fail" => Err(Error::ConnectionClosed),
                b"panic" => panic!("handler gave up"),
                _ => connection.write_line(b"fine").await,
            }
        })
        .unwrap();
    let r = reactor.clone();
    let outcomes = run_async(&reactor, async move {
        let mut outcomes = Vec::new();
        for word in ["fail", "panic", "hello"] {
            let mut connection = r.open_connection(port.local_addr()).await?;
            connection.write_line(word.as_bytes()).await?;
            outcomes.push(connection.read_line().await?);
        }
        Ok::<_, Error>(outcomes)
    })
    .unwrap();
    assert_eq!(outcomes[0], None);
    assert_eq!(outcomes[1], None);
    assert_eq!(outcomes[2].as_deref(), Some(&b"fine"[..]));
}

#[test]
fn a_server_handler_may_read_until_the_client_half_closes_and_still_answer() {
    use std::io::{Read, Write};
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .start_server("127.0.0.1:0", |mut connection: Connection| async move {
            let mut total = 0;
            while let Some(data) = connection.read().await? {
                total += data.len();
            }
            connection.write(format!("{total} bytes").as_bytes()).await
        })
        .unwrap();
    let (address, r) = (port.local_addr(), reactor.clone());
    let client = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.write_all(&[0u8; 10_000]).unwrap();
        // Half-close: EOF to the server, the way back stays open.
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        let outcome = stream.read_to_string(&mut answer).map(|_| answer);
        let _ = r.stop();
        outcome.map_err(|error| error.to_string())
    });
    run_bounded(&reactor, LIMIT);
    assert_eq!(client.join().unwrap().unwrap(), "10000 bytes");
}

/// A `Framed` lines server: uppercases every line until the client hangs up.
async fn framed_uppercase(
    connection: Connection,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut lines = Framed::new(connection, LinesCodec::new_with_max_length(1024));
    while let Some(line) = lines.next().await {
        lines.send(line?.to_uppercase()).await?;
    }
    Ok(())
}

#[test]
fn framed_runs_over_a_real_connection_on_both_ends() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .start_server("127.0.0.1:0", framed_uppercase)
        .unwrap();
    let r = reactor.clone();
    let answers = run_async(&reactor, async move {
        let connection = r.open_connection(port.local_addr()).await?;
        let mut lines = Framed::new(connection, LinesCodec::new());
        let mut answers = Vec::new();
        for word in ["alpha", "beta", "gamma"] {
            lines.send(word).await?;
            answers.push(lines.next().await.transpose()?);
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(answers)
    })
    .unwrap();
    let answers: Vec<_> = answers.into_iter().map(Option::unwrap).collect();
    assert_eq!(answers, ["ALPHA", "BETA", "GAMMA"]);
}

#[test]
fn tokio_io_copy_echoes_and_a_shutdown_gives_the_peer_eof() {
    const TOTAL: usize = 1024 * 1024;
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .start_server("127.0.0.1:0", |mut connection: Connection| async move {
            let mut writer = connection.writer();
            // Ends at the client's EOF; then this side shuts down in turn.
            tokio::io::copy(&mut connection, &mut writer).await?;
            writer.shutdown().await
        })
        .unwrap();
    let r = reactor.clone();
    let echoed = run_async(&reactor, async move {
        let mut connection = r.open_connection(port.local_addr()).await?;
        let mut writer = connection.writer();
        let sending = tokio::spawn(async move {
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            writer.write_all(&data).await?;
            writer.shutdown().await
        });
        let mut echoed = Vec::new();
        connection.read_to_end(&mut echoed).await?;
        sending.await.expect("the sender finished")?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(echoed)
    })
    .unwrap();
    assert_eq!(echoed.len(), TOTAL);
    assert!(echoed
        .iter()
        .enumerate()
        .all(|(i, &byte)| byte == (i % 251) as u8));
}

/// Echoes every chunk back, uppercased.
struct Shout;

impl Protocol for Shout {
    fn data_received(&mut self, cx: &mut Context<'_, Self>, data: Bytes) {
        cx.write(&data.to_ascii_uppercase());
    }
}

#[test]
fn framed_runs_over_the_in_memory_pair_in_any_chunking() {
    for chunk_size in [None, Some(1), Some(3)] {
        let (connection, mut pair) = stream_loopback(Shout);
        pair.set_chunk_size(chunk_size);
        let mut answers = Deferred::from_future(async move {
            let mut lines = Framed::new(connection, LinesCodec::new());
            lines.send("hello").await?;
            lines.send("world").await?;
            let first = lines.next().await.transpose()?;
            let second = lines.next().await.transpose()?;
            Ok::<_, tokio_util::codec::LinesCodecError>([first, second])
        });
        pair.pump();
        let answers = answers.take_result().expect("finished").unwrap().unwrap();
        assert_eq!(
            answers,
            [Some("HELLO".to_string()), Some("WORLD".to_string())],
            "chunks of {chunk_size:?}"
        );
    }
}

/// Counts what it receives.
#[derive(Default)]
struct Count(usize);

impl Protocol for Count {
    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.0 += data.len();
    }
}

#[test]
fn a_tokio_writer_to_a_peer_that_does_not_read_waits_with_bounded_memory() {
    const TOTAL: usize = 1024 * 1024;
    let (connection, mut pair) = stream_loopback(Count::default());
    pair.set_reading(Side::Server, false);
    let transport = connection.transport().clone();
    let mut writer = connection.writer();
    let mut sent = Deferred::from_future(async move {
        writer.write_all(&vec![b'w'; TOTAL]).await?;
        writer.flush().await?;
        drop(connection);
        Ok::<_, std::io::Error>(())
    });
    pair.pump();
    assert!(sent.take_result().is_none(), "the writer waits");
    let buffered = transport.write_buffer_size();
    assert!(
        buffered > 0 && buffered <= WRITE_BUFFER_HIGH,
        "{buffered} bytes buffered"
    );
    pair.set_reading(Side::Server, true);
    pair.pump();
    sent.take_result().expect("finished").unwrap().unwrap();
    assert_eq!(pair.server().protocol().0, TOTAL);
}
