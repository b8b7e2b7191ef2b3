//! `slow_multiply`, the first Twisted program of Ben Eills' "Async Python and Twisted"
//! (seed `003`): a function that returns a Deferred at once and fires it three seconds
//! later with the product, a callback that prints it, and a reactor stopped after four
//! seconds, long enough for the result to arrive.
//!
//! ```text
//! cargo run --example slow_multiply                  # 5 * 7, as in the article
//! cargo run --example slow_multiply -- 6 9           # other factors
//! cargo run --example slow_multiply -- --fake-clock  # instantly, on a fake clock
//! ```
//!
//! Each line is stamped with the time since the start. A product that does not fit in an
//! `i64` fails the Deferred instead: the errback prints one line on stderr and stops the
//! program, which exits with status 1.

mod common;

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use common::{Args, ClockReactor};
use torsade::{Deferred, Failure};

const USAGE: &str = "usage: slow_multiply [X Y] [--fake-clock]   (default 5 7)";

/// How long multiplying takes.
const SLOW: Duration = Duration::from_secs(3);

/// When the reactor is stopped.
const STOP_AFTER: Duration = Duration::from_secs(4);

/// The product does not fit in an `i64`.
#[derive(Debug)]
struct Overflow {
    x: i64,
    y: i64,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} * {} does not fit in an i64", self.x, self.y)
    }
}

impl std::error::Error for Overflow {}

/// Multiplies two numbers very slowly (for a computer): returns a Deferred at once, which
/// fires with the product three seconds later.
fn slow_multiply(reactor: &ClockReactor, x: i64, y: i64) -> Deferred<i64> {
    let (d, resolver) = Deferred::new();
    reactor.call_later(SLOW, move || {
        // `callLater(3, d.callback, x * y)`; firing fails only if the Deferred was already
        // fired, and this call is its only firer.
        let _ = match x.checked_mul(y) {
            Some(product) => resolver.callback(product),
            None => resolver.errback(Overflow { x, y }),
        };
    });
    d
}

/// Parses the factors, `5 7` when none are given.
fn factors(operands: &[String]) -> Result<(i64, i64), String> {
    match operands {
        [] => Ok((5, 7)),
        [x, y] => {
            let parse = |text: &String| {
                text.parse::<i64>()
                    .map_err(|_| format!("expected a whole number, got {text:?}"))
            };
            Ok((parse(x)?, parse(y)?))
        }
        _ => Err("give two factors, or none".to_string()),
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, operands) = match Args::parse_command(USAGE, &[], &["fake-clock"], 2) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let (x, y) = match factors(&operands) {
        Ok(factors) => factors,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    common::run_timers(args.flag("fake-clock"), move |reactor| {
        reactor.say(format_args!("Determining result of {x} * {y}..."));
        let (printer, reporter) = (reactor.clone(), reactor.clone());
        slow_multiply(&reactor, x, y)
            .add_callback(move |fired_value| {
                printer.say(format_args!("... result is {fired_value}!"));
            })
            .add_errback(move |failure: Failure| {
                reporter.fail(failure);
            })
            .detach();
        // Stop after four seconds, long enough for the result to arrive.
        let stopper = reactor.clone();
        reactor.call_later(STOP_AFTER, move || {
            stopper.say("Stopping the reactor");
            stopper.stop();
        });
    })
}
