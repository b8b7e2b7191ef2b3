//! The seeded generator every fault in the in-memory networks is drawn from:
//! [`SplitMix64`].

use std::time::Duration;

/// A small deterministic generator (SplitMix64): enough to draw faults reproducibly, and
/// the same sequence for a seed on every platform.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        // The top 53 bits, exactly representable as an f64 fraction.
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`; a `p` of 0 draws nothing, so fault-free runs keep the
    /// generator untouched.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A uniform duration in [0, max].
    pub(crate) fn up_to(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            Duration::ZERO
        } else {
            max.mul_f64(self.unit())
        }
    }

    /// A uniform integer in [low, high] (`low` when the range is empty).
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = high - low;
        if span == u64::MAX {
            return self.next();
        }
        // The modulo bias is below 2^-40 for the spans faults use (segment sizes, ports).
        low + self.next() % (span + 1)
    }
}
