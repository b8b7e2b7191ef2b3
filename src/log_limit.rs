//! Logging an error that repeats without flooding the log: [`RepeatedLog`].
//!
//! The first occurrence is logged at once; the ones that follow within the interval are
//! counted, and logged as one line ("... 1 234 more times in the last 60 s: ...") when the
//! next one comes after the interval. At the file-descriptor limit an accept loop fails
//! ten times a second; this turns that into a line a minute.

use std::fmt;
use std::time::Duration;

/// How often a repeated error is logged, at most.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// One kind of repeated error, and what has been logged of it.
#[derive(Debug)]
pub(crate) struct RepeatedLog {
    what: &'static str,
    /// When it was last logged, in the clock's time.
    logged_at: Option<Duration>,
    /// Occurrences since then that were not logged.
    suppressed: u64,
}

impl RepeatedLog {
    pub(crate) fn new(what: &'static str) -> RepeatedLog {
        RepeatedLog {
            what,
            logged_at: None,
            suppressed: 0,
        }
    }

    /// Records one occurrence at `now`; logs it (at warn level) if the interval has passed
    /// since the last line. Returns whether it logged.
    pub(crate) fn record(&mut self, now: Duration, error: &dyn fmt::Display) -> bool {
        match self.logged_at {
            Some(at) if now.saturating_sub(at) < LOG_INTERVAL => {
                self.suppressed += 1;
                false
            }
            Some(at) if self.suppressed > 0 => {
                let suppressed = std::mem::take(&mut self.suppressed);
                let over = now.saturating_sub(at).as_secs();
                tracing::warn!(
                    "{}: {error} (and {suppressed} more times in the last {over} s)",
                    self.what
                );
                self.logged_at = Some(now);
                true
            }
            _ => {
                tracing::warn!("{}: {error}", self.what);
                self.logged_at = Some(now);
                true
            }
        }
    }

    /// Occurrences not logged yet.
    pub(crate) fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_logged_then_one_line_per_interval() {
        let mut log = RepeatedLog::new("accept failed");
        let error = "Too many open files";
        assert!(log.record(Duration::ZERO, &error));
        let mut logged = 0;
        // Ten a second for ten minutes.
        for tenth in 1..6000u64 {
            if log.record(Duration::from_millis(100 * tenth), &error) {
                logged += 1;
            }
        }
        assert_eq!(logged, 9, "one line a minute");
        assert!(log.suppressed() < 600);
    }
}
