//! Running a property over many seeds until one fails: [`explore`].

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::simulation::Simulation;

/// Runs `property` on a fresh [`Simulation`] for each seed, in order, and stops at the
/// first that fails: it returns an error, it panics, or a protocol's callback panicked
/// during it. The [`Exploration`] says how many ran and, for a failure, its seed, its
/// message and the simulation's [`report`](Simulation::report) (digest and last events),
/// so that `Simulation::new(seed)` runs it again, event for event.
///
/// # Examples
///
/// A client that sends two messages on two connections and expects the first sent to be
/// the first received: on a network whose latency varies, some seed proves it wrong.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use bytes::Bytes;
/// use torsade::prelude::*;
/// use torsade::testing::{explore, Latency, Link};
/// use torsade::{factory_fn, Address, Network};
///
/// struct Record(Arc<Mutex<Vec<u8>>>);
/// impl Protocol for Record {
///     fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
///         self.0.lock().unwrap().extend_from_slice(&data);
///     }
/// }
/// struct SendOne(u8);
/// impl Protocol for SendOne {
///     fn connection_made(&mut self, cx: &mut Context<'_, Self>) {
///         cx.write(&[self.0]);
///     }
///     fn data_received(&mut self, _: &mut Context<'_, Self>, _: Bytes) {}
/// }
///
/// let exploration = explore(0..100, |sim| {
///     sim.set_link(Link::new().latency(Latency::Uniform {
///         min: Duration::from_millis(1),
///         max: Duration::from_millis(20),
///     }));
///     let seen = Arc::new(Mutex::new(Vec::new()));
///     let record = seen.clone();
///     sim.add_host("server")
///         .listen("tcp:80", factory_fn(move |_: &Address| Record(record.clone())))
///         .unwrap();
///     let client = sim.add_host("client");
///     for byte in [1, 2] {
///         let _ = client.connect("tcp:host=server:port=80", factory_fn(move |_: &Address| SendOne(byte)));
///     }
///     sim.run_until_idle();
///     let seen = seen.lock().unwrap().clone();
///     if seen == [1, 2] { Ok(()) } else { Err(format!("received {seen:?}")) }
/// });
/// let failure = exploration.failure().expect("connections overtake each other");
/// assert!(failure.seed() < 100);
/// assert_eq!(failure.message(), "received [2, 1]");
/// ```
pub fn explore<S, P>(seeds: S, mut property: P) -> Exploration
where
    S: IntoIterator<Item = u64>,
    P: FnMut(&Simulation) -> Result<(), String>,
{
    let mut runs = 0;
    for seed in seeds {
        runs += 1;
        let sim = Simulation::new(seed);
        let outcome = catch_unwind(AssertUnwindSafe(|| property(&sim)));
        let message = match outcome {
            Ok(Ok(())) => match sim.panics().first() {
                None => continue,
                Some(panic) => format!("a protocol's callback panicked: {panic}"),
            },
            Ok(Err(message)) => message,
            Err(panic) => panic_message(&*panic),
        };
        return Exploration {
            runs,
            failure: Some(Failure {
                seed,
                message,
                report: sim.report(),
            }),
        };
    }
    Exploration {
        runs,
        failure: None,
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        format!("panicked: {text}")
    } else if let Some(text) = panic.downcast_ref::<String>() {
        format!("panicked: {text}")
    } else {
        "panicked".to_string()
    }
}

/// What [`explore`] found.
#[derive(Clone, Debug)]
pub struct Exploration {
    runs: u64,
    failure: Option<Failure>,
}

impl Exploration {
    /// How many seeds ran (the failing one included).
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The first failing seed's failure, if one failed.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Fails the test with the failure's report, if a seed failed.
    ///
    /// # Panics
    ///
    /// If a seed failed: a test helper, panicking is how it fails.
    #[track_caller]
    pub fn assert_passed(&self) {
        if let Some(failure) = &self.failure {
            panic!("{failure}");
        }
    }
}

/// A failing seed: see [`explore`].
#[derive(Clone, Debug)]
pub struct Failure {
    seed: u64,
    message: String,
    report: String,
}

impl Failure {
    /// The seed that failed: `Simulation::new(seed)` runs it again.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Why it failed.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The simulation's [`report`](Simulation::report) when it failed: seed, digest and
    /// the last events.
    pub fn report(&self) -> &str {
        &self.report
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} failed: {}\n{}",
            self.seed, self.message, self.report
        )
    }
}
