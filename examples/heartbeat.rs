//! A heartbeat: a `LoopingCall` beats every second and says how many beats it missed
//! when one of them is slow. The same heartbeat runs as callbacks (a `LoopingCall` with
//! a count) or as an async task over the loop's async face (`torsade::ticks`).
//!
//! ```text
//! cargo run --example heartbeat                              # 5 beats, a second apart
//! cargo run --example heartbeat -- --beats 6 --slow-beat 3   # beat 3 takes 2.5 s
//! cargo run --example heartbeat -- --async --slow-beat 3     # the same, as a task
//! cargo run --example heartbeat -- --slow-beat 3 --fake-clock   # instantly
//! ```
//!
//! Each line is stamped with the time since the start. The slow beat does 2.5 seconds of
//! asynchronous work (a Deferred that fires later); the loop waits for it before
//! scheduling the next beat, at the next whole second after it ends — the beats that fell
//! due meanwhile are skipped, not queued, and the next beat's count says how many
//! intervals went by:
//!
//! ```text
//! [2.0 s] beat 3, slow: busy for 2.5 s
//! [5.0 s] beat 4 (2 missed)
//! ```
//!
//! With `--async`, the task takes each tick and then does the beat's work, so the slow
//! beat makes the task late taking the next tick: the tick that came at 3 s is taken at
//! 4.5 s, and the one after it, at 5 s, counts the interval missed at 4 s.

mod common;

use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::{Args, ClockReactor};
use torsade::{sleep, ticks, Deferred, Failure, LoopingCall};

const USAGE: &str =
    "usage: heartbeat [--beats N] [--slow-beat K] [--async] [--fake-clock]   (default: 5 beats)";

/// The time between beats.
const INTERVAL: Duration = Duration::from_secs(1);

/// How long the slow beat is busy.
const SLOW_WORK: Duration = Duration::from_millis(2500);

/// What the command line asks for.
#[derive(Clone, Copy, Debug)]
struct Plan {
    beats: u64,
    /// The beat (counted from 1) that is slow, if any.
    slow_beat: Option<u64>,
}

/// Says beat `number` and its missed beats, if any.
fn say_beat(reactor: &ClockReactor, number: u64, count: u64, slow: bool) {
    let missed = match count {
        0 | 1 => String::new(),
        count => format!(" ({} missed)", count - 1),
    };
    let busy = if slow {
        format!(", slow: busy for {}", common::seconds(SLOW_WORK))
    } else {
        String::new()
    };
    reactor.say(format_args!("beat {number}{missed}{busy}"));
}

/// The callback style: a `LoopingCall` whose function is told the count of intervals.
fn with_callbacks(reactor: ClockReactor, plan: Plan) {
    let clock = reactor.clock().clone();
    let (beater, timer) = (reactor.clone(), clock.clone());
    // The loop's own handle, for the last beat to stop it (taken then, so the loop and its
    // function do not keep each other alive afterwards).
    let own_handle: Arc<Mutex<Option<LoopingCall>>> = Arc::default();
    let stop_handle = own_handle.clone();
    let mut number = 0;
    let heart = LoopingCall::with_count(clock, move |count| {
        number += 1;
        let slow = plan.slow_beat == Some(number);
        say_beat(&beater, number, count, slow);
        if number == plan.beats {
            let heart = stop_handle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(heart) = heart {
                // Stopped from inside a call: the loop ends when the call returns.
                if let Err(error) = heart.stop() {
                    beater.fail(error);
                }
            }
        }
        if slow {
            // Asynchronous work: the loop waits for it before scheduling the next beat.
            sleep(&timer, SLOW_WORK)
        } else {
            Deferred::succeed(())
        }
    });
    *own_handle.lock().unwrap_or_else(PoisonError::into_inner) = Some(heart.clone());
    match heart.start(INTERVAL, true) {
        Ok(stopped) => {
            let stopper = reactor.clone();
            reactor.stop_when(stopped.add_callback(move |_| {
                stopper.say(format_args!("stopping after {} beats", plan.beats));
            }));
        }
        Err(error) => reactor.fail(error),
    }
}

/// The async style: a task taking ticks from the loop's async face.
fn with_async(reactor: ClockReactor, plan: Plan) {
    let clock = reactor.clock().clone();
    let beater = reactor.clone();
    let heartbeat = reactor.spawn(async move {
        let mut ticks = ticks(clock.clone(), INTERVAL);
        for number in 1..=plan.beats {
            let Some(count) = ticks.tick().await else {
                break;
            };
            let slow = plan.slow_beat == Some(number);
            say_beat(&beater, number, count, slow);
            if slow {
                sleep(&clock, SLOW_WORK).await?;
            }
        }
        beater.say(format_args!("stopping after {} beats", plan.beats));
        Ok::<(), Failure>(())
    });
    reactor.stop_when(heartbeat.and_then(|outcome| outcome));
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, _) =
        match Args::parse_command(USAGE, &["beats", "slow-beat"], &["async", "fake-clock"], 0) {
            Ok(parsed) => parsed,
            Err(code) => return code,
        };
    let beats = match args.number("beats", 5u64) {
        Ok(0) => {
            eprintln!("error: --beats must be at least 1\n\n{USAGE}");
            return ExitCode::from(2);
        }
        Ok(beats) => beats,
        Err(code) => return code,
    };
    let slow_beat = match args.value("slow-beat") {
        None => None,
        Some(_) => match args.number("slow-beat", 0u64) {
            Ok(beat) => Some(beat),
            Err(code) => return code,
        },
    };
    let plan = Plan { beats, slow_beat };
    let asynchronous = args.flag("async");
    common::run_timers(args.flag("fake-clock"), move |reactor| {
        if asynchronous {
            with_async(reactor, plan);
        } else {
            with_callbacks(reactor, plan);
        }
    })
}
