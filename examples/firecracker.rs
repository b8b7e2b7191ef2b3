//! The Mad Hatter's firecracker, from Ben Eills' "Async Python and Twisted" (seed `003`):
//! the Mad Hatter lights a fuse that burns for 0.5, 1.0, 1.5 or 2.0 seconds (chosen at
//! random), hands the firecracker to Ben Eills one second later, and it explodes in
//! whoever holds it then. The program shuts down two seconds after the explosion.
//!
//! ```text
//! cargo run --example firecracker                        # a random burning time
//! cargo run --example firecracker -- --seed 3            # the same choice every time
//! cargo run --example firecracker -- --seed 3 --fake-clock   # instantly, on a fake clock
//! ```
//!
//! The first line gives the seed (run again with `--seed N` to see the same story); each
//! later line is stamped with the time since the start. Nothing blocks: lighting the fuse
//! is a Deferred fired by a timed call, and the hand-over is another timed call, both
//! waiting on the same reactor — the article's point against `time.sleep`.
//!
//! With a 1.0 s fuse, the explosion and the hand-over fall due at the same time. Timed
//! calls due together run in the order they were scheduled, and the hand-over was
//! scheduled first, so Ben Eills is the unlucky one. With a 0.5 s fuse it explodes in the
//! Mad Hatter's hands, and the pending hand-over is cancelled (`DelayedCall::cancel`).

mod common;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::{Args, ClockReactor};
use torsade::{Deferred, DelayedCall};

const USAGE: &str = "usage: firecracker [--seed N] [--fake-clock]";

/// The fuse's possible burning times, in milliseconds (the article's `[0.5, 1.0, 1.5, 2.0]`).
const BURNING_TIMES_MS: [u64; 4] = [500, 1000, 1500, 2000];

/// When the Mad Hatter hands the firecracker on.
const HAND_OVER_AFTER: Duration = Duration::from_secs(1);

/// How long after the explosion the program shuts down.
const SHUTDOWN_AFTER: Duration = Duration::from_secs(2);

/// The two people in the story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Person {
    MadHatter,
    BenEills,
}

impl fmt::Display for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Person::MadHatter => "Mad Hatter",
            Person::BenEills => "Ben Eills",
        })
    }
}

/// A firecracker and whoever holds it.
struct FireCracker {
    owner: Mutex<Person>,
}

impl FireCracker {
    fn new(owner: Person) -> FireCracker {
        FireCracker {
            owner: Mutex::new(owner),
        }
    }

    fn owner(&self) -> Person {
        // The lock guards a plain `Copy` value, consistent even after a panic.
        *self.owner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hand_to(&self, reactor: &ClockReactor, new_owner: Person) {
        reactor.say(format_args!(
            "The {} hands the firecracker to {new_owner}",
            self.owner()
        ));
        *self.owner.lock().unwrap_or_else(PoisonError::into_inner) = new_owner;
    }

    fn explode(&self, reactor: &ClockReactor) {
        reactor.say(format_args!(
            "BOOM! Firecracker exploded in the unlucky hands of {}",
            self.owner()
        ));
    }

    /// Lights the fuse: a Deferred that a timed call fires when the fuse has burned down.
    fn light_fuse(&self, reactor: &ClockReactor, burning_time: Duration) -> Deferred<()> {
        reactor.say(format_args!(
            "The {} lights the fuse: it burns for {}",
            self.owner(),
            common::seconds(burning_time)
        ));
        let (d, resolver) = Deferred::new();
        reactor.call_later(burning_time, move || {
            // Fails only if the Deferred was already fired; this call is its only firer.
            let _ = resolver.callback(());
        });
        d
    }
}

/// A tiny xorshift64 generator: enough to pick a burning time reproducibly, without a
/// `rand` dependency. Not for anything that needs real randomness.
struct XorShift(u64);

impl XorShift {
    /// A generator for `seed`, scrambled (splitmix64) so that small seeds spread out and
    /// the state is never zero, xorshift's one fixed point.
    fn new(seed: u64) -> XorShift {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        XorShift(if z == 0 { 0x9E37_79B9_7F4A_7C15 } else { z })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// `random.choice(items)`; `items` must not be empty.
    fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        // The remainder is below `items.len()`, so it fits in a usize.
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// A seed that differs from run to run: std's per-process random hashing keys.
fn random_seed() -> u64 {
    RandomState::new().hash_one(0u8) % 1_000_000
}

/// The story, on `reactor`.
fn story(reactor: ClockReactor, burning_time: Duration) {
    let hatter = Person::MadHatter;
    let ben = Person::BenEills;
    // The firecracker appears, initially owned by the Hatter.
    let fc = Arc::new(FireCracker::new(hatter));
    // In one second the Hatter hands it to Ben.
    let hand_over: DelayedCall = {
        let (fc, r) = (fc.clone(), reactor.clone());
        reactor.call_later(HAND_OVER_AFTER, move || fc.hand_to(&r, ben))
    };
    // The Hatter lights the fuse at once (on the next turn of the loop, as the article's
    // `reactor.callLater(0, fc.light_fuse)`).
    let r = reactor.clone();
    reactor.call_later(Duration::ZERO, move || {
        let exploder = r.clone();
        fc.light_fuse(&r, burning_time)
            .add_callback(move |()| {
                fc.explode(&exploder);
                if hand_over.active() && hand_over.cancel().is_ok() {
                    exploder.say(format_args!("The hand-over to {ben} is called off"));
                }
                // After the explosion, shut down two seconds later.
                let stopper = exploder.clone();
                exploder.call_later(SHUTDOWN_AFTER, move || {
                    stopper.say("Shutting down");
                    stopper.stop();
                });
            })
            .detach();
    });
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, _) = match Args::parse_command(USAGE, &["seed"], &["fake-clock"], 0) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let seed = match args.value("seed") {
        None => random_seed(),
        Some(_) => match args.number("seed", 0u64) {
            Ok(seed) => seed,
            Err(code) => return code,
        },
    };
    let burning_time = Duration::from_millis(XorShift::new(seed).choose(&BURNING_TIMES_MS));
    println!("seed {seed}");
    common::run_timers(args.flag("fake-clock"), move |reactor| {
        story(reactor, burning_time)
    })
}
