//! Calendar time in UTC as seconds since 1970: reading a certificate's dates.
//!
//! Proleptic Gregorian calendar, no leap seconds (X.509 and Unix time both ignore them).
//! The day arithmetic is Howard Hinnant's `days_from_civil`.

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
    fn known_moments_convert() {
        for (moment, seconds) in [
            (time(1970, 1, 1, 0, 0, 0), 0),
            (time(2000, 2, 29, 12, 0, 0), 951_825_600),
            (time(2001, 1, 1, 0, 0, 0), 978_307_200),
            (time(2038, 1, 19, 3, 14, 8), 2_147_483_648),
            (time(9999, 12, 31, 23, 59, 59), 253_402_300_799),
        ] {
            assert_eq!(moment.to_unix(), Some(seconds), "{moment:?}");
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
            assert_eq!(moment.to_unix(), None, "{moment:?}");
        }
        assert!(time(2000, 2, 29, 0, 0, 0).to_unix().is_some());
    }
}
