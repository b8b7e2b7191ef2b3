//! Fate, the toy event manager of Ben Eills' "Async Python and Twisted" (seed `003`),
//! polling loop included, running the article's two scenarios — the Mad Hatter's
//! firecracker and the chain of fuses under the Houses of Parliament — beside the same
//! scenarios on torsade's reactor. The article ends with "Twisted Reactor is
//! approximately Fate"; this program shows where "approximately" lies: Fate wakes five
//! times a second whatever happens and fires a fuse up to 0.2 s late, the reactor wakes
//! only when a fuse is due, and fires it on time.
//!
//! ```text
//! cargo run --example fate                        # both scenarios, in real time (~13 s)
//! cargo run --example fate -- --fuse-ms 1000      # the firecracker's fuse (default 1500)
//! cargo run --example fate -- --length 4          # the chain's length (default 8)
//! cargo run --example fate -- --fake-clock        # instantly, on fake clocks
//! ```
//!
//! Fate is the article's, line for line: `get_fuse` makes a fuse burning until now plus
//! its seconds and keeps it in a list, `Fuse.set_handler` says what to do when it has
//! burned, and `run` calls `check_fuses` and sleeps 0.2 s until `shutdown`; a fuse is
//! burned once its time is *strictly* before now. `check_fuses` removes a fuse from the
//! list it is iterating over before calling its handler, and in Python that makes the
//! loop skip the next fuse in the list until the next pass; Fate here iterates the way
//! Python does, so that quirk costs what it cost the article's readers (see the
//! firecracker with `--fuse-ms 1000`). The scenarios are written once, against a tiny
//! `Universe` trait (a fuse that burns and calls a handler, and a shutdown): on Fate a
//! fuse is `get_fuse` + `set_handler`, on the reactor it is `call_later`.
//!
//! Each run prints its story stamped with the time since its start, then a table gives,
//! fuse by fuse, how late it fired on each loop, and how many times each loop woke up:
//! Fate once per 0.2 s pass; the reactor once per sleep until a fuse was due (fuses due
//! at the same instant, or due already when the previous one finished, share a wake-up).
//! The firecracker's fuse is fixed here (the article picks 0.5, 1.0, 1.5 or 2.0 s at
//! random) so both loops burn the same one; the Mad Hatter lights it and hands the
//! firecracker on as in the article's Twisted version (`callLater(0, fc.light_fuse)`,
//! `callLater(1, fc.hand_to, ben)`), and two seconds after the explosion the universe
//! shuts down.
//!
//! With `--fake-clock` both loops run on fake time, instantly. Fate's fake time moves on
//! by a microsecond each time it is read (the real clock moves while the loop works;
//! without that, a fuse of 0 s checked in the instant it was made would never be burned,
//! which real time never does), and by 0.2 s each time Fate sleeps.

mod common;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::{Args, ClockReactor};
use torsade::Clock;

const USAGE: &str = "usage: fate [--fuse-ms MS] [--length N] [--fake-clock]
  --fuse-ms MS   the firecracker's fuse, in milliseconds (default 1500)
  --length N     the chain of fuses, the barrel's included (default 8)";

/// How long Fate sleeps between two passes over its fuses.
const POLL: Duration = Duration::from_millis(200);

/// When the Mad Hatter hands the firecracker to Ben Eills.
const HAND_OVER_AFTER: Duration = Duration::from_secs(1);

/// How long after the explosion the universe shuts down.
const SHUTDOWN_AFTER: Duration = Duration::from_secs(2);

/// The burning time of the fuse tied to the barrel, in the article's chain.
const BARREL_FUSE: Duration = Duration::from_millis(300);

// ---- Fate, as the article writes it ----

/// Fate's clock: Python's `time.time()` and `time.sleep()`.
enum FateTime {
    /// The wall clock, and a thread that really sleeps: that is what Fate does.
    Real { start: std::time::Instant },
    /// Fake time: moves 1 µs per reading, and by the sleep's length per sleep.
    Fake { now: Cell<Duration> },
}

impl FateTime {
    /// `time.time()`, as time since Fate began.
    fn now(&self) -> Duration {
        match self {
            FateTime::Real { start } => start.elapsed(),
            FateTime::Fake { now } => {
                let time = now.get();
                now.set(time + Duration::from_micros(1));
                time
            }
        }
    }

    /// `time.sleep(duration)`.
    fn sleep(&self, duration: Duration) {
        match self {
            // Fate is the article's polling loop: it sleeps the thread, which is exactly
            // what the reactor does not do, and what this program compares.
            #[allow(clippy::disallowed_methods)]
            FateTime::Real { .. } => std::thread::sleep(duration),
            FateTime::Fake { now } => now.set(now.get() + duration),
        }
    }
}

/// `class Fuse`: a time at which it is burned, and a handler.
struct Fuse {
    time: Cell<Duration>,
    handler: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl Fuse {
    fn set_time(&self, time: Duration) {
        self.time.set(time);
    }

    /// `return self.time < time.time()`: strictly before now.
    fn is_burned(&self, now: Duration) -> bool {
        self.time.get() < now
    }

    fn set_handler(&self, handler: Box<dyn FnOnce()>) {
        *self.handler.borrow_mut() = Some(handler);
    }

    fn has_handler(&self) -> bool {
        self.handler.borrow().is_some()
    }

    fn call_handler(&self) {
        let handler = self.handler.borrow_mut().take();
        if let Some(handler) = handler {
            handler();
        }
    }
}

/// `class Fate`: the fuses, and whether to shut down.
struct Fate {
    shutdown: Cell<bool>,
    fuses: RefCell<Vec<Rc<Fuse>>>,
    time: FateTime,
    /// How many times `run` slept and woke up again.
    wake_ups: Cell<u64>,
}

impl Fate {
    fn new(time: FateTime) -> Fate {
        Fate {
            shutdown: Cell::new(false),
            fuses: RefCell::new(Vec::new()),
            time,
            wake_ups: Cell::new(0),
        }
    }

    /// `get_fuse(seconds)`: a fuse burned `seconds` from now, kept in the list.
    fn get_fuse(&self, seconds: Duration) -> Rc<Fuse> {
        let fuse = Rc::new(Fuse {
            time: Cell::new(Duration::ZERO),
            handler: RefCell::new(None),
        });
        fuse.set_time(self.time.now() + seconds);
        self.fuses.borrow_mut().push(fuse.clone());
        fuse
    }

    /// `check_fuses()`: `for fuse in self.fuses:` — if it has a handler and is burned,
    /// `self.fuses.remove(fuse)` and call the handler.
    ///
    /// Iterated as Python iterates a list: by index, re-reading the list's length at each
    /// step, so fuses appended by a handler are visited in the same pass, and removing
    /// the fuse at the index shifts the next one under it, to be skipped until the next
    /// pass.
    fn check_fuses(&self) {
        let mut index = 0;
        loop {
            let Some(fuse) = self.fuses.borrow().get(index).cloned() else {
                return;
            };
            if fuse.has_handler() && fuse.is_burned(self.time.now()) {
                self.fuses
                    .borrow_mut()
                    .retain(|kept| !Rc::ptr_eq(kept, &fuse));
                fuse.call_handler();
            }
            index += 1;
        }
    }

    /// `run()`: `while not self._shutdown: self.check_fuses(); time.sleep(0.2)`.
    fn run(&self) {
        while !self.shutdown.get() {
            self.check_fuses();
            self.time.sleep(POLL);
            self.wake_ups.set(self.wake_ups.get() + 1);
        }
    }

    /// `shutdown()`.
    fn shutdown(&self) {
        self.shutdown.set(true);
    }
}

// ---- the article's scenarios, once for any event loop ----

/// What the scenarios need from an event loop.
trait Universe {
    /// A fuse burning for `burn`, then calling `handler`; `what` names it in the report.
    fn fuse(&self, burn: Duration, what: String, handler: Handler);
    /// Ends the program.
    fn shutdown(&self);
    /// Prints `text` stamped with the time since the start.
    fn say(&self, text: fmt::Arguments<'_>);
}

/// What a fuse does when it has burned.
type Handler = Box<dyn FnOnce(&dyn Universe) + Send>;

/// The two people of the story.
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

/// The firecracker: who holds it, and whether it has exploded.
struct FireCracker {
    owner: Person,
    exploded: bool,
}

/// The Mad Hatter's firecracker: lit at once (a fuse of 0 s), handed to Ben Eills a
/// second later, exploding when its fuse has burned for `burning`.
fn firecracker(universe: &dyn Universe, burning: Duration) {
    let fc = Arc::new(Mutex::new(FireCracker {
        owner: Person::MadHatter,
        exploded: false,
    }));
    let held = fc.clone();
    universe.fuse(
        HAND_OVER_AFTER,
        "hand the firecracker to Ben Eills".to_string(),
        Box::new(move |universe| {
            let mut fc = held.lock().unwrap_or_else(PoisonError::into_inner);
            if fc.exploded {
                universe.say(format_args!(
                    "The {} has nothing left to hand to {}",
                    fc.owner,
                    Person::BenEills
                ));
            } else {
                universe.say(format_args!(
                    "The {} hands the firecracker to {}",
                    fc.owner,
                    Person::BenEills
                ));
                fc.owner = Person::BenEills;
            }
        }),
    );
    universe.fuse(
        Duration::ZERO,
        "light the fuse".to_string(),
        Box::new(move |universe| {
            let owner = fc.lock().unwrap_or_else(PoisonError::into_inner).owner;
            universe.say(format_args!(
                "The {owner} lights the fuse: it burns for {}",
                common::seconds(burning)
            ));
            universe.fuse(
                burning,
                format!("explode ({} fuse)", common::seconds(burning)),
                Box::new(move |universe| {
                    let mut fc = fc.lock().unwrap_or_else(PoisonError::into_inner);
                    fc.exploded = true;
                    universe.say(format_args!(
                        "BOOM! Firecracker exploded in the unlucky hands of {}",
                        fc.owner
                    ));
                    universe.fuse(
                        SHUTDOWN_AFTER,
                        "shut down".to_string(),
                        Box::new(|universe| {
                            universe.say(format_args!("Shutting down"));
                            universe.shutdown();
                        }),
                    );
                }),
            );
        }),
    );
}

/// The article's chain of fuses: fuse `index` (of `burn_times`) is ignited; when it has
/// burned, it ignites the next, and the last blows up the barrel.
fn ignite(universe: &dyn Universe, burn_times: Arc<[Duration]>, index: usize) {
    let burn = burn_times[index];
    let at_barrel = if index + 1 == burn_times.len() {
        ", tied to the barrel"
    } else {
        ""
    };
    universe.say(format_args!(
        "...igniting next fuse in chain... (fuse {} of {}, burns {}{at_barrel})",
        index + 1,
        burn_times.len(),
        common::seconds(burn)
    ));
    let what = format!("fuse {} ({})", index + 1, common::seconds(burn));
    universe.fuse(
        burn,
        what,
        Box::new(move |universe| {
            if index + 1 < burn_times.len() {
                ignite(universe, burn_times, index + 1);
            } else {
                universe.say(format_args!("Boom! The Houses of Parliament explode!"));
                universe.shutdown();
            }
        }),
    );
}

/// The article's burning times for a chain of `length` fuses, from the one lit first:
/// ..., 0.2, 0.1, 0.0 s, then 0.3 s at the barrel.
fn chain_burn_times(length: usize) -> Arc<[Duration]> {
    let mut times: Vec<Duration> = (0..length.saturating_sub(1))
        .rev()
        .map(|tenths| Duration::from_millis(100 * tenths as u64))
        .collect();
    times.push(BARREL_FUSE);
    times.into()
}

// ---- what each loop did ----

/// One fuse: what it was for, and how late it fired.
struct Record {
    what: String,
    /// When it was due, in the loop's time.
    due: Duration,
    /// How late it fired, if it did.
    late: Option<Duration>,
}

/// What one run of a scenario did.
#[derive(Default)]
struct Report {
    /// Every fuse, in the order the scenario made them.
    fuses: Vec<Record>,
    wake_ups: u64,
    /// When the last fuse's handler returned (the reactor's wake-up count needs it).
    last_finish: Duration,
}

impl Report {
    /// Records a new fuse due at `due`; returns its number.
    fn made(&mut self, what: String, due: Duration) -> usize {
        self.fuses.push(Record {
            what,
            due,
            late: None,
        });
        self.fuses.len() - 1
    }

    fn fired(&mut self, fuse: usize, now: Duration) {
        if let Some(record) = self.fuses.get_mut(fuse) {
            record.late = Some(now.saturating_sub(record.due));
        }
    }
}

type SharedReport = Arc<Mutex<Report>>;

fn report_of(report: &SharedReport) -> std::sync::MutexGuard<'_, Report> {
    report.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---- the scenarios on Fate ----

/// Fate as a [`Universe`]: a fuse is `get_fuse` + `set_handler`.
#[derive(Clone)]
struct OnFate {
    fate: Rc<Fate>,
    report: SharedReport,
}

impl Universe for OnFate {
    fn fuse(&self, burn: Duration, what: String, handler: Handler) {
        let fuse = self.fate.get_fuse(burn);
        let number = report_of(&self.report).made(what, fuse.time.get());
        let universe = self.clone();
        fuse.set_handler(Box::new(move || {
            let now = universe.fate.time.now();
            report_of(&universe.report).fired(number, now);
            handler(&universe);
        }));
    }

    fn shutdown(&self) {
        self.fate.shutdown();
    }

    fn say(&self, text: fmt::Arguments<'_>) {
        println!("[{}] {text}", common::seconds(self.fate.time.now()));
    }
}

/// Runs `scenario` on Fate until it shuts down.
fn on_fate(fake: bool, scenario: impl FnOnce(&dyn Universe)) -> Report {
    let time = if fake {
        FateTime::Fake {
            now: Cell::new(Duration::ZERO),
        }
    } else {
        FateTime::Real {
            // Fate reads the wall clock: that is the article's `time.time()`.
            #[allow(clippy::disallowed_methods)]
            start: std::time::Instant::now(),
        }
    };
    let universe = OnFate {
        fate: Rc::new(Fate::new(time)),
        report: SharedReport::default(),
    };
    scenario(&universe);
    universe.fate.run();
    let mut report = std::mem::take(&mut *report_of(&universe.report));
    report.wake_ups = universe.fate.wake_ups.get();
    report
}

// ---- the same scenarios on the reactor ----

/// The reactor as a [`Universe`]: a fuse is `call_later`.
#[derive(Clone)]
struct OnReactor {
    reactor: ClockReactor,
    report: SharedReport,
}

impl Universe for OnReactor {
    fn fuse(&self, burn: Duration, what: String, handler: Handler) {
        let universe = self.clone();
        let clock = self.reactor.clock().clone();
        // The number is recorded before the call can run: both under the report's lock.
        let mut report = report_of(&self.report);
        let number = report.made(what, clock.now() + burn);
        let call = self.reactor.call_later(burn, move || {
            let now = clock.now();
            {
                let mut report = report_of(&universe.report);
                report.fired(number, now);
                // The reactor slept until this fuse was due, unless it was due already
                // when the previous one finished.
                if report.fuses[number].due > report.last_finish {
                    report.wake_ups += 1;
                }
            }
            handler(&universe);
            report_of(&universe.report).last_finish = clock.now();
        });
        if let Some(due) = call.time() {
            report.fuses[number].due = due;
        }
    }

    fn shutdown(&self) {
        self.reactor.stop();
    }

    fn say(&self, text: fmt::Arguments<'_>) {
        self.reactor.say(text);
    }
}

/// Runs `scenario` on a reactor (or the fake clock) until it shuts down.
fn on_reactor(
    fake: bool,
    scenario: impl FnOnce(&dyn Universe) + Send + 'static,
) -> Result<Report, ExitCode> {
    let report = SharedReport::default();
    let shared = report.clone();
    let status = common::run_timers(fake, move |reactor| {
        let clock = reactor.clock().clone();
        scenario(&OnReactor {
            reactor,
            report: shared.clone(),
        });
        // The turn that ran the scenario's start ends here: what it made due by now
        // runs before the reactor next sleeps.
        report_of(&shared).last_finish = clock.now();
    });
    if status != ExitCode::SUCCESS {
        return Err(status);
    }
    let taken = std::mem::take(&mut *report_of(&report));
    Ok(taken)
}

// ---- the comparison ----

fn late(record: Option<&Record>) -> String {
    match record.and_then(|record| record.late) {
        Some(late) => format!("+{} ms", (late.as_micros() + 500) / 1000),
        None => "never".to_string(),
    }
}

/// Prints, fuse by fuse, how late each loop fired it, and how often each woke up.
fn compare(name: &str, fate: &Report, reactor: &Report) {
    println!("== {name}: how late each fuse fired, and how often each loop woke up");
    let width = fate
        .fuses
        .iter()
        .map(|record| record.what.len())
        .max()
        .unwrap_or(0)
        .max("woke up".len());
    println!("  {:width$}  {:>9}  {:>9}", "", "Fate", "reactor");
    for (index, record) in fate.fuses.iter().enumerate() {
        println!(
            "  {:width$}  {:>9}  {:>9}",
            record.what,
            late(Some(record)),
            late(reactor.fuses.get(index)),
        );
    }
    println!(
        "  {:width$}  {:>9}  {:>9}",
        "woke up",
        times(fate.wake_ups),
        times(reactor.wake_ups)
    );
}

fn times(count: u64) -> String {
    match count {
        1 => "once".to_string(),
        count => format!("{count} times"),
    }
}

/// Runs `scenario` on Fate, then on the reactor, and compares them.
fn run_both(
    name: &str,
    fake: bool,
    scenario: impl Fn(&dyn Universe) + Send + Sync + Clone + 'static,
) -> Result<(), ExitCode> {
    println!("== {name}, on Fate (a pass over the fuses every 0.2 s)");
    let fate = on_fate(fake, scenario.clone());
    println!("== {name}, on the reactor");
    let reactor = on_reactor(fake, scenario)?;
    compare(name, &fate, &reactor);
    Ok(())
}

fn main() -> ExitCode {
    common::init_logging();
    let (args, _) = match Args::parse_command(USAGE, &["fuse-ms", "length"], &["fake-clock"], 0) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let (fuse_ms, length) = match (args.number("fuse-ms", 1500u64), args.number("length", 8)) {
        (Ok(fuse_ms), Ok(length)) => (fuse_ms, length),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    if !(1..=1000).contains(&length) {
        eprintln!("error: a chain has 1 to 1000 fuses\n\n{USAGE}");
        return ExitCode::from(2);
    }
    let fake = args.flag("fake-clock");
    let burning = Duration::from_millis(fuse_ms);
    let name = format!("firecracker, {} fuse", common::seconds(burning));
    let outcome =
        run_both(&name, fake, move |universe| firecracker(universe, burning)).and_then(|()| {
            let burn_times = chain_burn_times(length);
            let name = format!("chain of {length} fuses");
            run_both(&name, fake, move |universe| {
                ignite(universe, burn_times.clone(), 0)
            })
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
