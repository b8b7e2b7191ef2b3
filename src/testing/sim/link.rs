//! What a simulated link does to the bytes it carries: [`Link`], its [`Latency`] and
//! [`Segmentation`].

use std::time::Duration;

use crate::testing::random::SplitMix64;

/// How a link between two simulated hosts behaves, each way: latency, bandwidth, how
/// writes are cut into segments, and how often a connection is reset or refused. Every
/// draw comes from the simulation's seed.
///
/// The default is a clean link with 1 ms of latency, unlimited bandwidth, writes carried
/// whole, no resets and no refusals.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use torsade::testing::{Latency, Link, Segmentation, Simulation};
///
/// let sim = Simulation::new(7);
/// sim.set_link(
///     Link::new()
///         .latency(Latency::Uniform { min: Duration::from_millis(5), max: Duration::from_millis(50) })
///         .bandwidth(1_000_000)
///         .segmentation(Segmentation::new(100).spread(Duration::from_millis(2)))
///         .resets(0.001),
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub(crate) latency: Latency,
    pub(crate) bandwidth: Option<u64>,
    pub(crate) segmentation: Option<Segmentation>,
    pub(crate) reset_chance: f64,
    pub(crate) refuse_chance: f64,
}

impl Link {
    /// A clean link with 1 ms of latency.
    pub fn new() -> Link {
        Link {
            latency: Latency::Fixed(Duration::from_millis(1)),
            bandwidth: None,
            segmentation: None,
            reset_chance: 0.0,
            refuse_chance: 0.0,
        }
    }

    /// How long a segment takes to cross, drawn for each segment (and for each step of a
    /// connection's handshake). Bytes of one connection never overtake each other: a
    /// segment that draws a shorter time waits for the one before it. Segments of
    /// different connections do overtake each other.
    pub fn latency(mut self, latency: Latency) -> Link {
        self.latency = latency;
        self
    }

    /// At most `bytes_per_second` leave each host toward the other: a segment waits until
    /// the ones before it (of any connection between the two) have been sent. Zero means
    /// unlimited.
    pub fn bandwidth(mut self, bytes_per_second: u64) -> Link {
        self.bandwidth = (bytes_per_second > 0).then_some(bytes_per_second);
        self
    }

    /// Cuts every write into segments at seeded points (see [`Segmentation`]).
    pub fn segmentation(mut self, segmentation: Segmentation) -> Link {
        self.segmentation = Some(segmentation);
        self
    }

    /// Each segment that arrives resets its connection instead, with probability
    /// `chance` (clamped to 0..=1): both ends lose it with `ConnectionReset`.
    pub fn resets(mut self, chance: f64) -> Link {
        self.reset_chance = probability(chance);
        self
    }

    /// Each connection attempt is refused, with probability `chance` (clamped to 0..=1),
    /// even where a port listens.
    pub fn refusals(mut self, chance: f64) -> Link {
        self.refuse_chance = probability(chance);
        self
    }
}

impl Default for Link {
    fn default() -> Link {
        Link::new()
    }
}

/// A probability from a caller's number: NaN is 0, the rest clamped to 0..=1.
fn probability(chance: f64) -> f64 {
    if chance.is_nan() {
        0.0
    } else {
        chance.clamp(0.0, 1.0)
    }
}

/// How long a segment takes to cross a [`Link`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always this long.
    Fixed(Duration),
    /// Uniform between `min` and `max` (inclusive; a `max` below `min` is `min`).
    Uniform {
        /// The shortest.
        min: Duration,
        /// The longest.
        max: Duration,
    },
    /// `base`, plus an exponentially distributed extra with mean `mean_extra`: mostly
    /// fast, with a long tail, as queues make real latency.
    Exponential {
        /// The least it takes.
        base: Duration,
        /// The mean of what it takes beyond `base`.
        mean_extra: Duration,
    },
}

impl Latency {
    /// One draw.
    pub(crate) fn draw(&self, random: &mut SplitMix64) -> Duration {
        match *self {
            Latency::Fixed(latency) => latency,
            Latency::Uniform { min, max } => min + random.up_to(max.saturating_sub(min)),
            Latency::Exponential { base, mean_extra } => {
                if mean_extra.is_zero() {
                    return base;
                }
                // 1 - unit() is in (0, 1], so the logarithm is finite; the tail is cut at
                // 50 means so that one draw cannot stall a run.
                let extra = -(1.0 - random.unit()).ln();
                base + mean_extra.mul_f64(extra.min(50.0))
            }
        }
    }
}

/// How a [`Link`] cuts writes into segments: the every-split idea applied to whole
/// systems.
///
/// Each write is cut into segments of 1 to `max_segment` bytes, sizes drawn from the
/// seed. Each segment lands up to `spread` after the one before it (a draw of zero joins
/// it to the one before, and segments of neighbouring writes that land together are read
/// together), so a protocol sees its peer's writes split and coalesced at places nobody
/// chose.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segmentation {
    pub(crate) max_segment: usize,
    pub(crate) spread: Duration,
}

impl Segmentation {
    /// Segments of at most `max_segment` bytes (at least 1), landing together.
    pub fn new(max_segment: usize) -> Segmentation {
        Segmentation {
            max_segment: max_segment.max(1),
            spread: Duration::ZERO,
        }
    }

    /// Each segment lands up to `spread` after the one before it.
    pub fn spread(mut self, spread: Duration) -> Segmentation {
        self.spread = spread;
        self
    }

    /// The sizes `length` bytes are cut into, and each segment's delay after the one
    /// before it.
    pub(crate) fn cut(
        &self,
        length: usize,
        random: &mut SplitMix64,
        mut each: impl FnMut(usize, Duration),
    ) {
        let mut left = length;
        while left > 0 {
            let size = random.between(1, self.max_segment.min(left) as u64) as usize;
            let gap = if self.spread.is_zero() || random.chance(0.5) {
                Duration::ZERO
            } else {
                random.up_to(self.spread)
            };
            each(size, gap);
            left -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_write_exactly_and_stay_within_the_maximum() {
        let mut random = SplitMix64(3);
        for length in [1, 2, 7, 100, 1000] {
            let mut sizes = Vec::new();
            Segmentation::new(9).cut(length, &mut random, |size, _| sizes.push(size));
            assert_eq!(sizes.iter().sum::<usize>(), length);
            assert!(sizes.iter().all(|&size| (1..=9).contains(&size)));
        }
    }

    #[test]
    fn latency_draws_stay_in_their_range() {
        let mut random = SplitMix64(5);
        let (min, max) = (Duration::from_millis(2), Duration::from_millis(9));
        for _ in 0..1000 {
            let uniform = Latency::Uniform { min, max }.draw(&mut random);
            assert!(uniform >= min && uniform <= max);
            let tail = Latency::Exponential {
                base: min,
                mean_extra: min,
            }
            .draw(&mut random);
            assert!(tail >= min && tail <= min + min * 50);
        }
    }

    #[test]
    fn chances_are_clamped() {
        assert_eq!(Link::new().resets(2.0).reset_chance, 1.0);
        assert_eq!(Link::new().refusals(f64::NAN).refuse_chance, 0.0);
        assert_eq!(Link::new().refusals(-1.0).refuse_chance, 0.0);
    }
}
