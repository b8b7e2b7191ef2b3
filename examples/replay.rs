//! A recorded session replayed as a test: records a greeting on the reactor, then
//! replays it in memory against the greeting server, and against a changed one.
//!
//! ```text
//! cargo run --example replay
//! ```
//!
//! A greeting server listens on a free loopback port with its connections recorded
//! ([`Recorder`]); a greeting getter asks it for a greeting for `World` and hangs up. The
//! server's transcript is printed (the text format of `torsade::record`), then replayed
//! with `torsade::testing::replay` — no socket, a fake clock — against the greeting
//! server, which passes, and against a server changed to shout its greetings, which
//! fails at the first byte it sends differently. The exit status is success when both
//! replays end as they should.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;

use torsade::endpoints::TcpClient;
use torsade::prelude::*;
use torsade::record::{Recorder, Transcript};
use torsade::testing::{replay, ReplayMismatch};
use torsade::Reactor;
use torsade_protocols::{
    GreetingGetter, GreetingServer, Line, LineContext, LineHandler, LineOnlyReceiver,
    RemoteGreetingGetter,
};

/// The greeting server, changed: it shouts.
struct ShoutingServer;

impl LineHandler for ShoutingServer {
    fn line_received(&mut self, lines: &mut LineContext<'_>, name: Line<'_>) {
        let name = String::from_utf8_lossy(&name).to_uppercase();
        lines.send_line(format!("HELLO, {name}!").as_bytes());
    }
}

fn main() -> ExitCode {
    common::init_logging();
    if let Err(code) = common::Args::parse("usage: replay", &[]) {
        return code;
    }
    let transcript = match record_a_greeting() {
        Ok(transcript) => transcript,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("recorded the server's side:");
    for line in transcript.to_text().lines() {
        println!("  {line}");
    }

    let mut ok = true;
    match replay(&transcript, GreetingServer::protocol()) {
        Ok(report) => println!(
            "replay against the greeting server: passed ({} bytes in, {} bytes out, as recorded)",
            report.received, report.sent
        ),
        Err(mismatch) => {
            println!("replay against the greeting server: FAILED: {mismatch}");
            ok = false;
        }
    }
    match replay(&transcript, LineOnlyReceiver::new(ShoutingServer)) {
        Ok(_) => {
            println!("replay against a shouting server: passed, but should not have");
            ok = false;
        }
        Err(mismatch @ ReplayMismatch::Sent { .. }) => {
            println!("replay against a shouting server: {mismatch}");
        }
        Err(mismatch) => {
            println!("replay against a shouting server: an unexpected difference: {mismatch}");
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs a recorded greeting server on a free loopback port, asks it for a greeting once,
/// and returns the server's transcript of that connection.
fn record_a_greeting() -> Result<Transcript, Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let stopper = reactor.clone();
    // The reactor stops once the server's connection has ended and its transcript is in.
    let recorder = Recorder::in_memory(1).on_recorded(move |_| {
        let _ = stopper.stop();
    });
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let port = reactor.listen(loopback, recorder.wrap(GreetingServer::factory()))?;
    let address = port
        .local_addr()
        .socket_addr()
        .ok_or("the server does not listen on TCP")?;
    let (client, on_failure) = (reactor.clone(), reactor.clone());
    reactor
        .spawn(async move {
            let getter = client
                .connect(TcpClient::from(address), GreetingGetter::factory())
                .await?;
            let greeting = getter.get_greeting("World").await?;
            println!("greeting: {greeting}");
            getter.lose_connection();
            Ok::<(), Failure>(())
        })
        .add_callback(move |outcome| {
            if let Err(failure) = outcome {
                eprintln!("error: {failure}");
                let _ = on_failure.stop();
            }
        })
        .detach();
    reactor.run()?;
    recorder
        .take_transcripts()
        .pop()
        .ok_or_else(|| "no connection was recorded".into())
}
