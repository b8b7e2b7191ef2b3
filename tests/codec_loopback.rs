//! `CodecReceiver` (torsade-protocols) over loopback: a server on a tokio-util codec
//! talking to a `Framed` client over a torsade connection, and closing with the codec's
//! error as the reason. Its in-memory tests are in `protocols/tests/codec_receiver.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_util::codec::{Framed, LinesCodec};
use torsade::{factory_fn, Address, DisconnectReason, Reactor};
use torsade_protocols::{CodecContext, CodecHandler, CodecReceiver};

/// Uppercases every line; records how the connection ended.
struct Shout(Arc<Mutex<Option<DisconnectReason>>>);

impl CodecHandler<LinesCodec> for Shout {
    fn frame_received(&mut self, cx: &mut CodecContext<'_, LinesCodec>, line: String) {
        cx.send(line.to_uppercase()).unwrap();
    }
    fn connection_lost(&mut self, reason: DisconnectReason) {
        *self.0.lock().unwrap() = Some(reason);
    }
}

#[test]
fn a_codec_receiver_server_talks_to_a_framed_client_over_loopback() {
    let reactor = Reactor::new().unwrap();
    let lost = Arc::new(Mutex::new(None));
    let server_lost = lost.clone();
    let port = reactor
        .listen(
            "127.0.0.1:0",
            factory_fn(move |_: &Address| {
                CodecReceiver::new(
                    LinesCodec::new_with_max_length(16),
                    Shout(server_lost.clone()),
                )
            }),
        )
        .unwrap();
    let (r, address) = (reactor.clone(), port.local_addr());
    let stopper = reactor.clone();
    let mut answers = reactor
        .spawn(async move {
            let connection = r.open_connection(address).await?;
            let mut lines = Framed::new(connection, LinesCodec::new());
            let mut answers = Vec::new();
            for word in ["alpha", "beta"] {
                lines.send(word).await?;
                answers.push(lines.next().await.transpose()?);
            }
            // Over the server's limit: it closes, and the client reads the end.
            lines.send("a line far too long for the server").await?;
            answers.push(lines.next().await.transpose()?);
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(answers)
        })
        .add_callback(move |answers| {
            let _ = stopper.stop();
            answers
        });
    let guard = reactor.call_later(Duration::from_secs(20), {
        let stopper = reactor.clone();
        move || {
            let _ = stopper.stop();
        }
    });
    reactor.run().unwrap();
    let answers = answers
        .take_result()
        .expect("the client finished within the limit")
        .unwrap()
        .unwrap();
    let _ = guard.cancel();
    assert_eq!(
        answers,
        [Some("ALPHA".to_string()), Some("BETA".to_string()), None]
    );
    let reason = lost
        .lock()
        .unwrap()
        .clone()
        .expect("the server's connection ended");
    assert_eq!(
        reason.to_string(),
        "connection lost: max line length exceeded"
    );
}
