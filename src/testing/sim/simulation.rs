//! The handle a test holds on a simulated network: [`Simulation`].

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::host::SimHost;
use super::link::Link;
use super::trace::TraceEvent;
use super::world::Shared;
use crate::testing::{FakeClock, Faults};
use crate::Clock;

/// How many clock steps [`Simulation::run_until_idle`] takes before deciding the network
/// never goes quiet (a heartbeat, a protocol that talks for ever).
pub const MAX_IDLE_STEPS: u64 = 10_000_000;

/// A partition made by [`Simulation::partition`], to heal with
/// [`Simulation::heal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId(u64);

/// A whole network in memory, on one fake clock, decided by one seed.
///
/// Hosts ([`add_host`](Simulation::add_host)) each have a reactor face ([`SimHost`]: a
/// [`Network`](crate::Network) and a [`Clock`]), so the factories, protocols,
/// `ReconnectingClient`s and endpoint-driven code of production run unchanged. Every
/// connection runs on the connection core the reactor runs. Between hosts, [`Link`]s add
/// latency, bandwidth, segmentation, resets and refusals; the simulation adds partitions
/// that hold segments and heal, and hosts that crash and restart.
///
/// Time moves only through [`run_for`](Simulation::run_for),
/// [`run_until`](Simulation::run_until) and
/// [`run_until_idle`](Simulation::run_until_idle), instantly. Everything happens in an
/// order the seed fixes: the same seed and the same code give the same run, event for
/// event. The [`trace_digest`](Simulation::trace_digest) tells two runs apart; the
/// [`trace`](Simulation::trace) keeps the last events (1 000 by default) to show where a
/// run went; [`report`](Simulation::report) prints both with the seed, for a failing
/// test's message. [`explore`](super::explore) runs a property over many seeds.
///
/// Bytes of one connection stay in order; connections overtake each other. A segment for
/// a connection that is gone is answered with a reset, as TCP does.
///
/// # Examples
///
/// A greeting through a slow, segmenting link, the same on every run with the seed:
///
/// ```
/// use std::time::Duration;
/// use torsade::testing::{Latency, Link, Segmentation, Simulation};
/// use torsade::Network;
/// use torsade_protocols::{GreetingGetter, GreetingServer, RemoteGreetingGetter};
///
/// let run = |seed| {
///     let sim = Simulation::new(seed);
///     sim.set_link(
///         Link::new()
///             .latency(Latency::Uniform { min: Duration::from_millis(10), max: Duration::from_millis(90) })
///             .segmentation(Segmentation::new(3)),
///     );
///     sim.add_host("server").listen("tcp:8000", GreetingServer::factory()).unwrap();
///     let mut greeting = sim
///         .add_host("client")
///         .connect("tcp:host=server:port=8000", GreetingGetter::factory())
///         .and_then(|getter| getter.get_greeting("World"));
///     sim.run_until_idle();
///     assert_eq!(greeting.take_result().unwrap().unwrap(), "Hello, World!");
///     sim.trace_digest()
/// };
/// assert_eq!(run(42), run(42));
/// assert_ne!(run(42), run(43));
/// ```
pub struct Simulation {
    shared: Arc<Shared>,
}

impl Simulation {
    /// An empty network at time zero, every draw from `seed`.
    pub fn new(seed: u64) -> Simulation {
        Simulation {
            shared: Shared::new(seed),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// The simulation's clock (move it with the `run_` methods, not by hand: connections
    /// are driven between the clock's steps).
    pub fn clock(&self) -> &FakeClock {
        &self.shared.clock
    }

    /// The host named `name`, added if there is none (up, at the next address from
    /// `10.0.0.1`).
    pub fn add_host(&self, name: &str) -> SimHost {
        let id = self.shared.add_host(name);
        SimHost::new(&self.shared, id)
    }

    /// The link every pair of hosts uses unless [`set_link_between`](Simulation::set_link_between)
    /// gave them their own. Segments already sent keep the link they were sent on.
    pub fn set_link(&self, link: Link) {
        self.shared.set_link(link);
    }

    /// The link between `a` and `b`, both ways.
    pub fn set_link_between(&self, a: &SimHost, b: &SimHost, link: Link) {
        self.shared.set_link_between(a.id(), b.id(), link);
    }

    /// What the network does to datagrams ([`SimHost::listen_udp`]): latency, jitter
    /// (which reorders), loss and duplication, drawn from the seed. Partitions and hosts
    /// that are down lose datagrams (they are not held as a connection's bytes are).
    pub fn set_datagram_faults(&self, faults: Faults) {
        self.shared.datagrams.set_faults(faults);
    }

    /// Cuts every host of `side` off from every host of `other`, both ways, until
    /// [`heal`](Simulation::heal)ed. Segments between them are held, not lost (TCP
    /// retransmits), and land in order one crossing after the heal; connection attempts
    /// across it retry their SYN every second until their timeout.
    pub fn partition(&self, side: &[&SimHost], other: &[&SimHost]) -> PartitionId {
        let ids = |hosts: &[&SimHost]| hosts.iter().map(|host| host.id()).collect::<BTreeSet<_>>();
        PartitionId(self.shared.partition(ids(side), ids(other)))
    }

    /// Heals `partition`.
    pub fn heal(&self, partition: PartitionId) {
        self.shared.heal(Some(partition.0));
    }

    /// Heals every partition.
    pub fn heal_all(&self) {
        self.shared.heal(None);
    }

    /// `host` crashes: its connections are gone without a callback (their peers are reset
    /// one crossing later), its ports close, what it scheduled never runs, and the state
    /// its protocols held is dropped. It stays down (its SYNs unanswered) until
    /// [`restart`](Simulation::restart)ed.
    pub fn crash(&self, host: &SimHost) {
        self.shared.crash(host.id());
    }

    /// `host` comes back up, and runs its [`on_boot`](SimHost::on_boot) code again.
    pub fn restart(&self, host: &SimHost) {
        for boot in self.shared.restart(host.id()) {
            boot(host.id());
        }
    }

    /// Runs the network for `duration` of simulated time.
    pub fn run_for(&self, duration: Duration) {
        let target = self.shared.clock.now().saturating_add(duration);
        self.run_until(target.saturating_sub(self.shared.clock.now()), || false);
    }

    /// Runs the network until `done` returns true (checked after each step) or `limit`
    /// of simulated time has passed; returns whether `done` did.
    pub fn run_until(&self, limit: Duration, mut done: impl FnMut() -> bool) -> bool {
        let clock = &self.shared.clock;
        let target = clock.now().saturating_add(limit);
        self.shared.sync_time();
        self.shared.drain();
        if done() {
            return true;
        }
        while self.shared.step(target) {
            if done() {
                return true;
            }
        }
        if clock.now() < target {
            clock.advance(target - clock.now());
            self.shared.sync_time();
            self.shared.drain();
        }
        done()
    }

    /// Runs the network until nothing is scheduled and no connection has work; returns
    /// false if it was still busy after [`MAX_IDLE_STEPS`] steps.
    pub fn run_until_idle(&self) -> bool {
        self.shared.sync_time();
        self.shared.drain();
        for _ in 0..MAX_IDLE_STEPS {
            if !self.shared.step(Duration::MAX) {
                return true;
            }
        }
        false
    }

    /// How many connections are open (or being opened).
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections()
    }

    /// How many events have happened (each is in the digest).
    pub fn events(&self) -> u64 {
        self.shared.with_trace(|trace| trace.count())
    }

    /// A digest of every event so far: two runs with the same digest went the same way.
    pub fn trace_digest(&self) -> u64 {
        self.shared.with_trace(|trace| trace.digest())
    }

    /// The last events kept (see [`keep_trace`](Simulation::keep_trace)), oldest first.
    pub fn trace(&self) -> Vec<TraceEvent> {
        self.shared.with_trace(|trace| trace.kept())
    }

    /// Keeps the last `events` events for [`trace`](Simulation::trace) (1 000 by default;
    /// `usize::MAX` keeps all, 0 none). The digest covers all of them either way.
    pub fn keep_trace(&self, events: usize) {
        self.shared.with_trace(|trace| trace.keep(events));
    }

    /// The messages of the protocols' callbacks that panicked (each connection was
    /// aborted, as the reactor does).
    pub fn panics(&self) -> Vec<String> {
        self.shared.panics()
    }

    /// The seed, the digest, and the events kept: what a failing test prints.
    pub fn report(&self) -> String {
        let mut report = format!(
            "seed {}: {} events, digest {:016x}, at {:.6}s\n",
            self.seed(),
            self.events(),
            self.trace_digest(),
            self.shared.clock.now().as_secs_f64()
        );
        for event in self.trace() {
            let _ = writeln!(report, "{event}");
        }
        report
    }
}

impl Drop for Simulation {
    /// Drops every connection and listener: protocols and factories may hold hosts,
    /// which hold the simulation weakly, so nothing is left behind.
    fn drop(&mut self) {
        self.shared.tear_down();
    }
}

impl fmt::Debug for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("seed", &self.seed())
            .field("now", &self.shared.clock.now())
            .field("events", &self.events())
            .finish_non_exhaustive()
    }
}
