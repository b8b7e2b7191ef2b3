//! Logging an error that repeats without flooding the log: the first occurrence is
//! logged, the next ones are counted and summarised at most once per interval
//! ([`RepeatedError`]).
//!
//! Made for loops that retry a failing operation on a timer, such as the accept loop at
//! the file-descriptor limit (a failure every 100 ms would be 864 000 lines a day). The
//! limiter decides what to log and returns it as text; the caller logs it at the level it
//! chooses. Time comes from a function the caller gives (the reactor's clock, or a fake
//! one in tests): nothing here reads the system time.

use std::fmt::{self, Write as _};
use std::time::Duration;

/// Where a [`RepeatedError`] reads the time.
pub(crate) type Now = Box<dyn Fn() -> Duration + Send + Sync>;

/// Rate-limited reports of one repeating error: what to log, and when.
///
/// A *run* of failures starts at the first failure after a success (or ever). Its first
/// failure is reported at once. Later ones are counted; when one happens `interval` or
/// more after the last report, a summary is reported (how many, over how long, the latest
/// error). When the operation succeeds again, the failures not yet reported are
/// summarised, and the next failure starts a new run.
pub(crate) struct RepeatedError {
    /// What failed, as the start of a sentence: "accept failed".
    what: &'static str,
    interval: Duration,
    now: Now,
    /// The run under way, if the last outcome was a failure.
    run: Option<Run>,
}

/// Failures since the last report.
struct Run {
    /// When the last report was made.
    reported_at: Duration,
    /// Failures since then, not reported.
    unreported: u64,
    /// The latest of them, as text (the buffer is reused).
    latest: String,
}

impl RepeatedError {
    /// A limiter for failures of `what` ("accept failed"), summarised at most once per
    /// `interval`, reading the time from `now`.
    pub(crate) fn new(what: &'static str, interval: Duration, now: Now) -> RepeatedError {
        RepeatedError {
            what,
            interval,
            now,
            run: None,
        }
    }

    /// `error` happened: the line to log, if one is due now.
    pub(crate) fn failed(&mut self, error: &dyn fmt::Display) -> Option<String> {
        let now = (self.now)();
        let Some(run) = &mut self.run else {
            self.run = Some(Run {
                reported_at: now,
                unreported: 0,
                latest: String::new(),
            });
            return Some(format!(
                "{}: {error}; repeats are summarised every {}",
                self.what,
                seconds(self.interval)
            ));
        };
        let since = now.saturating_sub(run.reported_at);
        if since < self.interval {
            run.unreported += 1;
            run.latest.clear();
            // Writing to a String cannot fail.
            let _ = write!(run.latest, "{error}");
            return None;
        }
        let line = match run.unreported {
            0 => format!("{}: {error}", self.what),
            earlier => format!(
                "{} {} more times in the last {}; the latest: {error}",
                self.what,
                earlier + 1,
                seconds(since)
            ),
        };
        run.reported_at = now;
        run.unreported = 0;
        Some(line)
    }

    /// The operation succeeded: the summary of the failures not yet reported, if any. The
    /// time is read only when there are some, so this is cheap on a success path.
    pub(crate) fn succeeded(&mut self) -> Option<String> {
        let run = self.run.take()?;
        if run.unreported == 0 {
            return None;
        }
        let since = (self.now)().saturating_sub(run.reported_at);
        Some(format!(
            "{} {} more times in the last {}, then succeeded; the latest: {}",
            self.what,
            run.unreported,
            seconds(since),
            run.latest
        ))
    }
}

impl fmt::Debug for RepeatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepeatedError")
            .field("what", &self.what)
            .field("interval", &self.interval)
            .field("unreported", &self.run.as_ref().map(|run| run.unreported))
            .finish_non_exhaustive()
    }
}

/// `duration` for a person: `60 s`, `2.5 s`.
fn seconds(duration: Duration) -> String {
    if duration >= Duration::from_secs(10) {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::testing::FakeClock;
    use crate::Clock;

    const MINUTE: Duration = Duration::from_secs(60);

    fn limiter(clock: &FakeClock) -> RepeatedError {
        let clock = clock.clone();
        RepeatedError::new("accept failed", MINUTE, Box::new(move || clock.now()))
    }

    fn emfile() -> io::Error {
        io::Error::from_raw_os_error(24)
    }

    /// Fails every 100 ms for `duration` on `clock`; returns the lines to log.
    fn fail_every_tenth_of_a_second(
        limiter: &mut RepeatedError,
        clock: &FakeClock,
        duration: Duration,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        let step = Duration::from_millis(100);
        for _ in 0..duration.as_millis() / step.as_millis() {
            lines.extend(limiter.failed(&emfile()));
            clock.advance(step);
        }
        lines
    }

    #[test]
    fn the_first_failure_is_logged_at_once_and_says_repeats_are_summarised() {
        let clock = FakeClock::new();
        let mut limiter = limiter(&clock);
        let line = limiter
            .failed(&emfile())
            .expect("the first failure is logged");
        assert_eq!(
            line,
            format!(
                "accept failed: {}; repeats are summarised every 60 s",
                emfile()
            )
        );
        assert_eq!(limiter.failed(&emfile()), None);
    }

    #[test]
    fn a_failure_every_100_ms_for_ten_minutes_logs_ten_lines() {
        let clock = FakeClock::new();
        let mut limiter = limiter(&clock);
        let lines = fail_every_tenth_of_a_second(&mut limiter, &clock, 10 * MINUTE);
        // The first, then one summary a minute (at 60 s, 120 s, ... 540 s).
        assert_eq!(lines.len(), 10, "{lines:#?}");
        assert_eq!(
            lines[1],
            format!(
                "accept failed 600 more times in the last 60 s; the latest: {}",
                emfile()
            )
        );
        assert!(lines[2..]
            .iter()
            .all(|line| line.contains(" 600 more times")));
    }

    #[test]
    fn a_success_summarises_the_failures_not_yet_reported_then_a_new_run_starts() {
        let clock = FakeClock::new();
        let mut limiter = limiter(&clock);
        let lines = fail_every_tenth_of_a_second(&mut limiter, &clock, Duration::from_millis(2500));
        assert_eq!(lines.len(), 1);
        assert_eq!(
            limiter.succeeded(),
            Some(format!(
                "accept failed 24 more times in the last 2.5 s, then succeeded; the latest: {}",
                emfile()
            ))
        );
        assert_eq!(limiter.succeeded(), None, "nothing left to report");
        let again = limiter
            .failed(&emfile())
            .expect("a new run is reported at once");
        assert!(again.starts_with("accept failed: "), "{again}");
    }

    #[test]
    fn a_success_after_a_single_failure_has_nothing_to_add() {
        let clock = FakeClock::new();
        let mut limiter = limiter(&clock);
        assert!(limiter.failed(&emfile()).is_some());
        assert_eq!(limiter.succeeded(), None);
        assert_eq!(limiter.succeeded(), None, "successes alone log nothing");
    }

    #[test]
    fn failures_further_apart_than_the_interval_are_each_logged_plainly() {
        let clock = FakeClock::new();
        let mut limiter = limiter(&clock);
        assert!(limiter.failed(&emfile()).is_some());
        clock.advance(2 * MINUTE);
        assert_eq!(
            limiter.failed(&emfile()),
            Some(format!("accept failed: {}", emfile()))
        );
    }

    #[test]
    fn the_summary_carries_the_latest_error() {
        let clock = FakeClock::new();
        let mut limiter = limiter(&clock);
        assert!(limiter.failed(&emfile()).is_some());
        assert_eq!(limiter.failed(&io::Error::from_raw_os_error(23)), None);
        let summary = limiter.succeeded().expect("one unreported failure");
        assert!(
            summary.ends_with(&io::Error::from_raw_os_error(23).to_string()),
            "{summary}"
        );
    }
}
