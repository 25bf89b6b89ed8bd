//! Time in a place: local instants across DST changes, and holiday calendars computed for any
//! year (no yearly hand edits). Config validation, the window gate and `config explain` all use
//! it; it imports nothing of the crate.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HolidayCalendar {
    #[serde(rename = "us-federal")]
    UsFederal,
}

impl HolidayCalendar {
    pub const ALL: [(&'static str, HolidayCalendar); 1] =
        [("us-federal", HolidayCalendar::UsFederal)];

    pub fn as_str(self) -> &'static str {
        match self {
            HolidayCalendar::UsFederal => "us-federal",
        }
    }
}

/// The instant that `date` at local `time` names in `timezone`.
pub fn local_instant(timezone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    let mut probe = naive;
    // Gaps are at most a few hours; step forward to the first wall-clock time that exists.
    for _ in 0..(26 * 60) {
        if let Some(at) = timezone.from_local_datetime(&probe).earliest() {
            return at.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&naive)
}

/// One holiday: the day it closes deploys and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// Holidays of `calendar` whose closed day falls in `year`, observed days included.
///
/// For US federal holidays (5 U.S.C. 6103), a holiday on a Saturday is observed on the Friday
/// before and one on a Sunday on the Monday after. Deploys are closed on both the holiday and its
/// observed day. New Year's Day on a Saturday is observed on December 31 of the year before, so
/// the next year's holidays are looked at too.
pub fn holidays(calendar: HolidayCalendar, year: i32) -> Vec<Holiday> {
    match calendar {
        HolidayCalendar::UsFederal => {
            let mut days = Vec::new();
            for y in [year, year + 1] {
                for (date, name) in us_federal(y) {
                    if date.year() == year {
                        days.push(Holiday {
                            date,
                            name: name.to_owned(),
                        });
                    }
                    let observed = match date.weekday() {
                        Weekday::Sat => date.pred_opt(),
                        Weekday::Sun => date.succ_opt(),
                        _ => None,
                    };
                    if let Some(observed) = observed.filter(|d| d.year() == year) {
                        days.push(Holiday {
                            date: observed,
                            name: format!("{name} (observed)"),
                        });
                    }
                }
            }
            days.sort_by_key(|h| h.date);
            days
        }
    }
}

fn us_federal(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    let nth = |month, weekday, n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n);
    let last_monday_of_may = (1..=5u8).rev().find_map(|n| nth(5, Weekday::Mon, n));
    let mut days = vec![
        (fixed(1, 1), "New Year's Day"),
        (
            nth(1, Weekday::Mon, 3),
            "Birthday of Martin Luther King, Jr.",
        ),
        (nth(2, Weekday::Mon, 3), "Washington's Birthday"),
        (last_monday_of_may, "Memorial Day"),
        (fixed(7, 4), "Independence Day"),
        (nth(9, Weekday::Mon, 1), "Labor Day"),
        (nth(10, Weekday::Mon, 2), "Columbus Day"),
        (fixed(11, 11), "Veterans Day"),
        (nth(11, Weekday::Thu, 4), "Thanksgiving Day"),
        (fixed(12, 25), "Christmas Day"),
    ];
    // Juneteenth National Independence Day became a federal holiday in 2021.
    if year >= 2021 {
        days.push((fixed(6, 19), "Juneteenth National Independence Day"));
    }
    days.into_iter()
        .filter_map(|(date, name)| date.map(|d| (d, name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_on(year: i32, month: u32, day: u32) -> Vec<String> {
        let date = NaiveDate::from_ymd_opt(year, month, day).expect("valid date");
        holidays(HolidayCalendar::UsFederal, year)
            .into_iter()
            .filter(|h| h.date == date)
            .map(|h| h.name)
            .collect()
    }

    #[test]
    fn computes_the_moving_holidays() {
        assert_eq!(names_on(2026, 11, 26), ["Thanksgiving Day"]);
        assert_eq!(
            names_on(2026, 1, 19),
            ["Birthday of Martin Luther King, Jr."]
        );
        assert_eq!(names_on(2026, 5, 25), ["Memorial Day"]);
        assert_eq!(names_on(2027, 5, 31), ["Memorial Day"]);
        assert_eq!(names_on(2026, 9, 7), ["Labor Day"]);
        assert_eq!(names_on(2026, 10, 12), ["Columbus Day"]);
        assert_eq!(names_on(2026, 2, 16), ["Washington's Birthday"]);
    }

    #[test]
    fn shifts_weekend_holidays_to_observed_days() {
        // July 4, 2026 is a Saturday: observed Friday July 3.
        assert_eq!(names_on(2026, 7, 3), ["Independence Day (observed)"]);
        assert_eq!(names_on(2026, 7, 4), ["Independence Day"]);
        // Christmas 2022 was a Sunday: observed Monday December 26.
        assert_eq!(names_on(2022, 12, 26), ["Christmas Day (observed)"]);
        // Juneteenth 2027 is a Saturday: observed Friday June 18.
        assert_eq!(
            names_on(2027, 6, 18),
            ["Juneteenth National Independence Day (observed)"]
        );
    }

    #[test]
    fn new_years_day_on_a_saturday_is_observed_the_year_before() {
        // January 1, 2022 was a Saturday: observed Friday December 31, 2021.
        assert_eq!(names_on(2021, 12, 31), ["New Year's Day (observed)"]);
        assert!(names_on(2022, 12, 31).is_empty());
    }

    #[test]
    fn juneteenth_starts_in_2021() {
        assert!(names_on(2020, 6, 19).is_empty());
        assert_eq!(
            names_on(2024, 6, 19),
            ["Juneteenth National Independence Day"]
        );
    }

    #[test]
    fn every_year_has_eleven_holidays_at_least() {
        for year in 1990..2100 {
            let count = holidays(HolidayCalendar::UsFederal, year)
                .iter()
                .filter(|h| !h.name.contains("observed"))
                .count();
            assert!(count >= 10, "{year}: {count}");
        }
    }
}
