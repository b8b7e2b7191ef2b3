//! Calendar time in UTC to and from seconds since 1970: reading a certificate's dates,
//! and writing them in messages a person reads.
//!
//! Proleptic Gregorian calendar, no leap seconds (X.509 and Unix time both ignore them).
//! The day arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`.

use std::fmt;

/// A moment in UTC to the second, as a certificate states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UtcTime {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl UtcTime {
    /// The time `seconds` after 1970-01-01 00:00:00 UTC.
    pub(crate) fn from_unix(seconds: u64) -> UtcTime {
        // u64 seconds fit i64 days times 86 400 many times over.
        let days = (seconds / 86_400) as i64;
        let rest = (seconds % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: rest / 3600,
            minute: rest / 60 % 60,
            second: rest % 60,
        }
    }

    /// The time as seconds since 1970-01-01 00:00:00 UTC; `None` when a field is out of
    /// range (month 13, 31 April, second 60...) or the time is before 1970.
    pub(crate) fn to_unix(self) -> Option<u64> {
        let in_range = (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        if !in_range {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let seconds = days.checked_mul(86_400)?
            + i64::from(self.hour * 3600 + self.minute * 60 + self.second);
        u64::try_from(seconds).ok()
    }
}

impl fmt::Display for UtcTime {
    /// `2001-01-01 00:00:00 UTC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to `year-month-day`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` after 1970-01-01, as (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    // Both are in range by construction: day 1..=31, month 1..=12.
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> UtcTime {
        UtcTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_moments_convert_both_ways() {
        for (moment, seconds) in [
            (time(1970, 1, 1, 0, 0, 0), 0),
            (time(2000, 2, 29, 12, 0, 0), 951_825_600),
            (time(2001, 1, 1, 0, 0, 0), 978_307_200),
            (time(2038, 1, 19, 3, 14, 8), 2_147_483_648),
            (time(9999, 12, 31, 23, 59, 59), 253_402_300_799),
        ] {
            assert_eq!(moment.to_unix(), Some(seconds), "{moment}");
            assert_eq!(UtcTime::from_unix(seconds), moment);
        }
    }

    #[test]
    fn every_day_over_four_centuries_round_trips() {
        for days in 0..146_097 * 2 {
            let seconds = days * 86_400 + 86_399;
            assert_eq!(UtcTime::from_unix(seconds).to_unix(), Some(seconds));
        }
    }

    #[test]
    fn out_of_range_fields_and_times_before_1970_are_refused() {
        for moment in [
            time(2001, 13, 1, 0, 0, 0),
            time(2001, 0, 1, 0, 0, 0),
            time(2001, 4, 31, 0, 0, 0),
            time(2001, 2, 29, 0, 0, 0),
            time(1900, 2, 29, 0, 0, 0),
            time(2001, 1, 1, 24, 0, 0),
            time(2001, 1, 1, 0, 60, 0),
            time(2001, 1, 1, 0, 0, 60),
            time(1969, 12, 31, 23, 59, 59),
        ] {
            assert_eq!(moment.to_unix(), None, "{moment}");
        }
        assert!(time(2000, 2, 29, 0, 0, 0).to_unix().is_some());
    }

    #[test]
    fn display_is_iso_like_and_says_utc() {
        assert_eq!(
            UtcTime::from_unix(978_307_200).to_string(),
            "2001-01-01 00:00:00 UTC"
        );
    }
}
