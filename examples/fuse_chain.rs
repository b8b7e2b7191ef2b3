//! A chain of fuses, each igniting the next, ending in a barrel under the Houses of
//! Parliament, from Ben Eills' "Async Python and Twisted" (seed `003`): the article's
//! example that "takes Fate to its limits", where the handler of one fuse lights another.
//!
//! ```text
//! cargo run --example fuse_chain                          # the article's chain of 8
//! cargo run --example fuse_chain -- --length 4            # a shorter chain
//! cargo run --example fuse_chain -- --burn-ms 500,250,0   # your own burning times
//! cargo run --example fuse_chain -- --fake-clock          # instantly, on a fake clock
//! ```
//!
//! The article ties a 0.3 s fuse to the barrel, then ties fuses burning 0.0, 0.1, ... 0.6 s
//! one after another to the end of the chain, and lights the last one. `--length N` builds
//! that chain with N fuses in all (the barrel's 0.3 s fuse and N - 1 others); `--burn-ms`
//! gives every burning time, in milliseconds, from the fuse you light to the one at the
//! barrel. Each ignition is printed with the time since the start, rounded to 0.1 s.
//!
//! A fuse is a Deferred from `torsade::sleep` (Twisted's `deferLater`): when it has burned
//! down, its callback ignites the next fuse, or blows up the barrel and stops.

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::{Args, ClockReactor};
use torsade::sleep;

const USAGE: &str = "usage: fuse_chain [--length N | --burn-ms MS,MS,...] [--fake-clock]
  --length N      the article's chain with N fuses in all (default 8)
  --burn-ms LIST  every fuse's burning time, from the one you light to the barrel";

/// The article's chain length: the barrel's fuse and seven more.
const DEFAULT_LENGTH: usize = 8;

/// The longest chain accepted (the chain is dropped recursively, one fuse per frame).
const MAX_LENGTH: usize = 1000;

/// The burning time of the fuse tied to the barrel, in the article's chain.
const BARREL_FUSE: Duration = Duration::from_millis(300);

/// One fuse of the chain, tied to the next fuse (towards the barrel) or to the barrel.
struct FuseInChain {
    /// Where this fuse leads: the next fuse, or the barrel (`None`).
    tie_to: Option<Arc<FuseInChain>>,
    burn_time: Duration,
    /// Its place in the chain, counted from the fuse that is lit first.
    number: usize,
    /// How many fuses the chain has.
    length: usize,
}

impl FuseInChain {
    /// Ignites this fuse; when it has burned down, it ignites the next one.
    fn ignite(self: Arc<Self>, reactor: ClockReactor) {
        let at_barrel = if self.tie_to.is_none() {
            ", tied to the barrel"
        } else {
            ""
        };
        reactor.say(format_args!(
            "...igniting next fuse in chain... (fuse {} of {}, burns {}{at_barrel})",
            self.number,
            self.length,
            common::seconds(self.burn_time)
        ));
        sleep(reactor.clock(), self.burn_time)
            .add_callback(move |()| match &self.tie_to {
                Some(next) => next.clone().ignite(reactor),
                // We are the last fuse in the chain: blow up the barrel.
                None => explode_parliament(&reactor),
            })
            .detach();
    }
}

/// Explodes Parliament and shuts down the universe.
fn explode_parliament(reactor: &ClockReactor) {
    reactor.say("Boom! The Houses of Parliament explode!");
    reactor.stop();
}

/// Ties fuses with these burning times (from the lit end to the barrel) into a chain;
/// returns the fuse to light, or `None` for no fuses.
fn build_chain(burn_times: &[Duration]) -> Option<Arc<FuseInChain>> {
    let length = burn_times.len();
    let mut end: Option<Arc<FuseInChain>> = None;
    // As the article does: start at the barrel, and tie each new fuse to the current end.
    for (index, &burn_time) in burn_times.iter().enumerate().rev() {
        end = Some(Arc::new(FuseInChain {
            tie_to: end,
            burn_time,
            number: index + 1,
            length,
        }));
    }
    end
}

/// The article's burning times for a chain of `length` fuses, from the lit end: ...,
/// 0.2, 0.1, 0.0 s, then 0.3 s at the barrel (none for a length of zero).
fn article_burn_times(length: usize) -> Vec<Duration> {
    if length == 0 {
        return Vec::new();
    }
    let mut times: Vec<Duration> = (0..length.min(MAX_LENGTH + 1) - 1)
        .rev()
        .map(|tenths| Duration::from_millis(100 * tenths as u64))
        .collect();
    times.push(BARREL_FUSE);
    times
}

/// Parses `--burn-ms 600,500,0`.
fn parse_burn_ms(list: &str) -> Result<Vec<Duration>, String> {
    list.split(',')
        .map(|item| {
            item.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("--burn-ms expects milliseconds like 600,500,0, got {item:?}"))
        })
        .collect()
}

/// The burning times the command line asks for.
fn burn_times(args: &Args) -> Result<Vec<Duration>, ExitCode> {
    let usage_error = |message: &str| {
        eprintln!("error: {message}\n\n{USAGE}");
        ExitCode::from(2)
    };
    let times = match args.value("burn-ms") {
        Some(_) if args.flag("length") => {
            return Err(usage_error("give --length or --burn-ms, not both"))
        }
        Some(list) => parse_burn_ms(list).map_err(|message| usage_error(&message))?,
        None => article_burn_times(args.number("length", DEFAULT_LENGTH)?),
    };
    if times.is_empty() || times.len() > MAX_LENGTH {
        return Err(usage_error(&format!("a chain has 1 to {MAX_LENGTH} fuses")));
    }
    Ok(times)
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, _) = match Args::parse_command(USAGE, &["length", "burn-ms"], &["fake-clock"], 0) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let chain = match burn_times(&args).map(|times| build_chain(&times)) {
        Ok(Some(chain)) => chain,
        // `burn_times` accepts no empty chain.
        Ok(None) => return ExitCode::from(2),
        Err(code) => return code,
    };
    common::run_timers(args.flag("fake-clock"), move |reactor| {
        chain.ignite(reactor)
    })
}
