//! A line calculator on standard input and output: the protocol that would serve a socket,
//! run on the program's own stdin and stdout (`Reactor::standard_io`).
//!
//! ```text
//! $ printf '1 2 3\n40 -2\nten\nquit\n' | cargo run --example stdio_lines
//! 6
//! 38
//! error: not a number: ten
//! bye
//! ```
//!
//! Each line holds whole numbers separated by spaces and is answered with their sum (an
//! empty line sums to 0); a word that is not a number is answered with an error, and the
//! next lines are still read. `quit` answers `bye` and stops; so does the end of stdin,
//! with nothing more written (an unfinished last line is not answered). Lines end with `\n` (a `\r` before it counts as a space).

mod common;

use std::process::ExitCode;

use torsade::{DisconnectReason, Reactor, Transport};
use torsade_protocols::{Line, LineContext, LineHandler, LineOnlyReceiver};

/// Answers each line with the sum of its numbers; stops the reactor when stdin ends.
struct Calculator {
    reactor: Reactor,
}

impl LineHandler for Calculator {
    fn line_received(&mut self, lines: &mut LineContext<'_>, line: Line<'_>) {
        let text = String::from_utf8_lossy(line.as_bytes());
        if text.trim() == "quit" {
            lines.send_line(b"bye");
            lines.lose_connection();
            return;
        }
        let answer = match sum(&text) {
            Ok(total) => total.to_string(),
            Err(word) => format!("error: not a number: {word}"),
        };
        lines.send_line(answer.as_bytes());
    }

    fn connection_lost(&mut self, _: DisconnectReason) {
        let _ = self.reactor.stop();
    }
}

/// The sum of the whole numbers in `text`, or the first word that is not one.
fn sum(text: &str) -> Result<i128, &str> {
    text.split_whitespace().try_fold(0i128, |total, word| {
        word.parse::<i64>()
            .map(|number| total.saturating_add(i128::from(number)))
            .map_err(|_| word)
    })
}

fn main() -> ExitCode {
    common::init_logging();
    let run = || -> torsade::Result<()> {
        let reactor = Reactor::new()?;
        let calculator = Calculator {
            reactor: reactor.clone(),
        };
        let protocol = LineOnlyReceiver::new(calculator).with_delimiter("\n");
        reactor.standard_io(protocol).detach();
        reactor.run()
    };
    common::exit_code(run().map(|()| ExitCode::SUCCESS))
}
