//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use torsade::Reactor;

/// Runs `body` with a tracing subscriber that records every event; returns the text.
pub fn capture_logs(body: impl FnOnce()) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || SharedWriter(writer.clone()))
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, body);
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for SharedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `reactor` with a safety net: if the test has not stopped it within `limit`, it is
/// stopped and the test fails. (A bound against hangs, not a synchronisation.)
pub fn run_bounded(reactor: &Reactor, limit: Duration) {
    let timed_out = Arc::new(Mutex::new(false));
    let flag = timed_out.clone();
    let stopper = reactor.clone();
    let guard = reactor.call_later(limit, move || {
        *flag.lock().unwrap() = true;
        let _ = stopper.stop();
    });
    reactor.run().expect("the reactor runs");
    let _ = guard.cancel();
    assert!(
        !*timed_out.lock().unwrap(),
        "the test did not finish within {limit:?}"
    );
}
