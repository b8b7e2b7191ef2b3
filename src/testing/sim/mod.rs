//! Whole networks of unmodified protocols in memory, decided by one seed: [`Simulation`].
//!
//! A [`Simulation`] holds hosts ([`SimHost`]), each a [`Network`](crate::Network) and a
//! [`Clock`](crate::Clock) that production code takes as it takes the reactor, on one
//! fake clock. Connections between them run on the connection core the reactor runs;
//! [`Link`]s carry their bytes with latency ([`Latency`]), bandwidth, segmentation
//! ([`Segmentation`]), resets and refusals; partitions hold segments and heal; hosts
//! crash and restart. One seed decides every draw and every order, so a run is repeated
//! event for event ([`TraceEvent`]s, digested), and [`explore`] runs a property over many
//! seeds to find one that breaks it.
//!
//! Twisted has nothing like it (`iosim` connects one pair and never reorders); turmoil
//! simulates tokio's sockets but delivers each write whole.

mod carrying;
mod connecting;
mod connection;
mod explore;
mod host;
mod link;
mod simulation;
mod trace;
mod world;

pub use self::explore::{explore, Exploration, Failure};
pub use self::host::SimHost;
pub use self::link::{Latency, Link, Segmentation};
pub use self::simulation::{PartitionId, Simulation, MAX_IDLE_STEPS};
pub use self::trace::{TraceEvent, TraceKind};
