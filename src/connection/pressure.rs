//! When to pause and resume whoever writes to a connection: [`WritePressure`].
//!
//! asyncio's watermarks: crossing the high mark pauses the producer (or the protocol),
//! draining to the low mark resumes it, each once per crossing; the gap between the two
//! gives hysteresis, so a producer does not stutter around one threshold (Twisted's
//! single threshold with resume-only-when-empty does). A pull producer is asked for one
//! more chunk whenever the unsent bytes are at or below the low mark.

use crate::{ProducerKind, WriteBufferLimits};

/// What write pressure asks of whom, once per check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Nothing,
    /// Pause the push producer, or the protocol if none is registered.
    Pause,
    /// Resume the push producer, or the protocol.
    Resume,
    /// Ask the pull producer for a chunk.
    Pull,
}

/// Whether the writer has been told to pause.
#[derive(Debug, Default)]
pub(crate) struct WritePressure {
    paused: bool,
}

impl WritePressure {
    /// What to signal now that `unsent` bytes wait, with `producer` registered, under
    /// `limits`.
    pub(crate) fn check(
        &mut self,
        unsent: usize,
        producer: Option<ProducerKind>,
        limits: WriteBufferLimits,
    ) -> Signal {
        if producer == Some(ProducerKind::Pull) {
            return if unsent <= limits.low {
                Signal::Pull
            } else {
                Signal::Nothing
            };
        }
        if !self.paused && unsent > limits.high {
            self.paused = true;
            Signal::Pause
        } else if self.paused && unsent <= limits.low {
            self.paused = false;
            Signal::Resume
        } else {
            Signal::Nothing
        }
    }

    /// A producer was registered: it starts unpaused (Twisted's contract).
    pub(crate) fn registered(&mut self) {
        self.paused = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW};

    const DEFAULT: WriteBufferLimits = WriteBufferLimits::DEFAULT;

    #[test]
    fn a_push_producer_is_paused_above_high_and_resumed_at_low_once_each() {
        let mut pressure = WritePressure::default();
        let mut check = |unsent| pressure.check(unsent, Some(ProducerKind::Push), DEFAULT);
        assert_eq!(check(WRITE_BUFFER_HIGH), Signal::Nothing);
        assert_eq!(check(WRITE_BUFFER_HIGH + 1), Signal::Pause);
        assert_eq!(check(WRITE_BUFFER_HIGH + 9), Signal::Nothing);
        assert_eq!(check(WRITE_BUFFER_LOW + 1), Signal::Nothing);
        assert_eq!(check(WRITE_BUFFER_LOW), Signal::Resume);
        assert_eq!(check(0), Signal::Nothing);
    }

    #[test]
    fn a_pull_producer_is_asked_whenever_the_buffer_is_at_or_below_low() {
        let mut pressure = WritePressure::default();
        let mut check = |unsent| pressure.check(unsent, Some(ProducerKind::Pull), DEFAULT);
        assert_eq!(check(0), Signal::Pull);
        assert_eq!(check(WRITE_BUFFER_LOW), Signal::Pull);
        assert_eq!(check(WRITE_BUFFER_LOW + 1), Signal::Nothing);
    }

    #[test]
    fn set_limits_move_both_marks() {
        let limits = WriteBufferLimits::new(100, 10).unwrap();
        let mut pressure = WritePressure::default();
        assert_eq!(pressure.check(100, None, limits), Signal::Nothing);
        assert_eq!(pressure.check(101, None, limits), Signal::Pause);
        assert_eq!(pressure.check(11, None, limits), Signal::Nothing);
        assert_eq!(pressure.check(10, None, limits), Signal::Resume);
        let pull = Some(ProducerKind::Pull);
        assert_eq!(pressure.check(10, pull, limits), Signal::Pull);
        assert_eq!(pressure.check(11, pull, limits), Signal::Nothing);
    }

    #[test]
    fn zero_limits_pause_whenever_anything_is_unsent() {
        let limits = WriteBufferLimits::new(0, 0).unwrap();
        let mut pressure = WritePressure::default();
        assert_eq!(pressure.check(0, None, limits), Signal::Nothing);
        assert_eq!(pressure.check(1, None, limits), Signal::Pause);
        assert_eq!(pressure.check(0, None, limits), Signal::Resume);
    }

    #[test]
    fn lowering_the_marks_while_paused_resumes_at_the_new_low() {
        let mut pressure = WritePressure::default();
        assert_eq!(pressure.check(70_000, None, DEFAULT), Signal::Pause);
        let raised = WriteBufferLimits::new(1 << 20, 100_000).unwrap();
        assert_eq!(pressure.check(70_000, None, raised), Signal::Resume);
    }

    #[test]
    fn a_low_mark_above_the_high_one_is_refused() {
        assert!(matches!(
            WriteBufferLimits::new(10, 11),
            Err(crate::Error::InvalidWriteBufferLimits { high: 10, low: 11 })
        ));
        assert_eq!(WriteBufferLimits::new(7, 7).unwrap().low, 7);
    }
}
