//! Runs a command with a line receiver on its output: each line the command prints is
//! printed numbered, then how the command ended. This program's own stdin is the command's.
//!
//! ```text
//! $ printf 'b\na\n' | cargo run --example process_lines -- sort
//! 1: a
//! 2: b
//! ended: exit code 0
//! $ cargo run --example process_lines -- sh -c 'echo one; exit 3' < /dev/null
//! 1: one
//! ended: exit code 3
//! ```
//!
//! The command's stdout is a connection (`Reactor::connect_process`) running a
//! `LineOnlyReceiver` unchanged, lines ending with `\n` (an unfinished last line is not
//! printed); its stderr is this program's. This program's stdin is read as a connection too
//! (`Reactor::standard_io`) and forwarded; its end closes the command's stdin. Once the
//! command has ended and its output is read, the status is printed (`exit code N` or
//! `killed by signal N`) and this program exits 0; a command that cannot be started is an
//! error on stderr and exit status 1.

mod common;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use torsade::prelude::*;
use torsade::process::ExitStatus;
use torsade::{DisconnectReason, Reactor, TransportHandle};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};

const USAGE: &str = "usage: process_lines COMMAND [ARGUMENT...]";

/// What must both happen before the status is printed: the command's output read to its
/// end, and the command ended.
#[derive(Default)]
struct Finish {
    output_read: bool,
    status: Option<ExitStatus>,
}

/// Prints the status and stops the reactor once both have happened.
fn update(finish: &Mutex<Finish>, reactor: &Reactor, change: impl FnOnce(&mut Finish)) {
    let mut finish = finish
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    change(&mut finish);
    if let (true, Some(status)) = (finish.output_read, finish.status) {
        println!("ended: {status}");
        let _ = reactor.stop();
    }
}

/// Numbers the command's lines.
struct Numbered {
    count: u64,
    finish: Arc<Mutex<Finish>>,
    reactor: Reactor,
}

impl LineHandler for Numbered {
    fn line_received(&mut self, _: &mut LineContext<'_>, line: Line<'_>) {
        self.count += 1;
        println!(
            "{}: {}",
            self.count,
            String::from_utf8_lossy(line.as_bytes())
        );
    }

    fn connection_lost(&mut self, _: DisconnectReason) {
        update(&self.finish, &self.reactor, |finish| {
            finish.output_read = true
        });
    }
}

/// Forwards this program's stdin to the command; its end closes the command's stdin.
struct Forward(TransportHandle);

impl Protocol for Forward {
    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.0.write(&data);
    }

    fn eof_received(&mut self, _: &mut Context<'_, Self>) -> bool {
        self.0.lose_write_connection();
        false
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let mut args = std::env::args().skip(1);
    let Some(program) = args
        .next()
        .filter(|first| first != "--help" && first != "-h")
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut command = std::process::Command::new(program);
    command.args(args);
    let run = || -> torsade::Result<()> {
        let reactor = Reactor::new()?;
        let finish = Arc::new(Mutex::new(Finish::default()));
        let numbered = Numbered {
            count: 0,
            finish: finish.clone(),
            reactor: reactor.clone(),
        };
        let receiver = LineOnlyReceiver::new(numbered).with_delimiter("\n");
        let process = reactor.connect_process(receiver, command)?;
        let (stdio, stopper) = (reactor.clone(), reactor.clone());
        process
            .connection
            .add_callback(move |handle| {
                let to_command = handle.transport().clone();
                stdio.standard_io(Forward(to_command)).detach();
            })
            .detach();
        process
            .ended
            .add_callback(move |status| {
                update(&finish, &stopper, |finish| finish.status = Some(status));
            })
            .detach();
        reactor.run()
    };
    let outcome = run();
    // Reading stdin blocks a thread that cannot be interrupted; exit without waiting for it.
    let code = match outcome {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    };
    std::process::exit(code)
}
