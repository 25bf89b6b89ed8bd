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

/// A day that moves from year to year, written once in the config and computed for every year
/// (so a freeze written as `black-friday` never expires): a named day, or the nth weekday of a
/// month, plus an offset in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloatingDay {
    pub anchor: Anchor,
    /// Days after (or, negative, before) the anchor.
    pub offset: i8,
}

/// What a [`FloatingDay`] counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// US Thanksgiving: the fourth Thursday of November.
    Thanksgiving,
    /// Western (Gregorian) Easter Sunday.
    Easter,
    /// The nth (1-5) weekday of a month; `None` is the last one.
    Nth {
        nth: Option<u8>,
        weekday: Weekday,
        month: u32,
    },
}

/// The named days a config may use, and what each one is. `black-friday` and `cyber-monday` are
/// Thanksgiving plus 1 and 4 days.
pub const FLOATING_NAMES: [(&str, Anchor, i8); 4] = [
    ("thanksgiving", Anchor::Thanksgiving, 0),
    ("black-friday", Anchor::Thanksgiving, 1),
    ("cyber-monday", Anchor::Thanksgiving, 4),
    ("easter", Anchor::Easter, 0),
];

/// The largest offset, in days, a floating day may have.
pub const MAX_FLOATING_OFFSET: i8 = 31;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const ORDINALS: [(&str, Option<u8>); 11] = [
    ("1st", Some(1)),
    ("2nd", Some(2)),
    ("3rd", Some(3)),
    ("4th", Some(4)),
    ("5th", Some(5)),
    ("first", Some(1)),
    ("second", Some(2)),
    ("third", Some(3)),
    ("fourth", Some(4)),
    ("fifth", Some(5)),
    ("last", None),
];

impl FloatingDay {
    /// Reads `thanksgiving`, `black-friday`, `cyber-monday`, `easter`, `4th thu nov`,
    /// `last mon may` (`of` and full names allowed: `fourth thursday of november`), each with an
    /// optional offset in days: `thanksgiving+1`, `easter-2`. The error says what is wrong.
    pub fn parse(text: &str) -> Result<FloatingDay, String> {
        let lower = text.trim().to_ascii_lowercase();
        let (base, offset) = split_offset(&lower)?;
        let base = base.trim();
        if let Some((_, anchor, shift)) = FLOATING_NAMES.iter().find(|(name, ..)| *name == base) {
            let offset = offset + *shift;
            return Ok(FloatingDay {
                anchor: *anchor,
                offset,
            });
        }
        let words: Vec<&str> = base.split_whitespace().filter(|w| *w != "of").collect();
        let [ordinal, day, month] = words[..] else {
            return Err(format!("`{}` is not a known day", text.trim()));
        };
        let nth = ORDINALS
            .iter()
            .find(|(word, _)| *word == ordinal)
            .map(|(_, nth)| *nth)
            .ok_or_else(|| format!("`{ordinal}` is not an ordinal (1st-5th or last)"))?;
        let weekday = weekday_named(day).ok_or_else(|| format!("`{day}` is not a weekday"))?;
        let month = month_named(month).ok_or_else(|| format!("`{month}` is not a month"))?;
        Ok(FloatingDay {
            anchor: Anchor::Nth {
                nth,
                weekday,
                month,
            },
            offset,
        })
    }

    /// The day in `year`, or `None` when the year has none (a 5th weekday that month lacks).
    pub fn on(self, year: i32) -> Option<NaiveDate> {
        let anchor = match self.anchor {
            Anchor::Thanksgiving => NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4),
            Anchor::Easter => easter(year),
            Anchor::Nth {
                nth: Some(n),
                weekday,
                month,
            } => NaiveDate::from_weekday_of_month_opt(year, month, weekday, n),
            Anchor::Nth {
                nth: None,
                weekday,
                month,
            } => (1..=5u8)
                .rev()
                .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)),
        }?;
        anchor.checked_add_signed(chrono::Duration::days(i64::from(self.offset)))
    }
}

impl std::fmt::Display for FloatingDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named = FLOATING_NAMES
            .iter()
            .find(|(_, anchor, shift)| *anchor == self.anchor && *shift == self.offset);
        if let Some((name, ..)) = named {
            return write!(f, "{name}");
        }
        match self.anchor {
            Anchor::Thanksgiving => write!(f, "thanksgiving")?,
            Anchor::Easter => write!(f, "easter")?,
            Anchor::Nth {
                nth,
                weekday,
                month,
            } => {
                let ordinal = match nth {
                    Some(1) => "1st",
                    Some(2) => "2nd",
                    Some(3) => "3rd",
                    Some(4) => "4th",
                    Some(_) => "5th",
                    None => "last",
                };
                let day = format!("{weekday:?}").to_ascii_lowercase();
                write!(f, "{ordinal} {day} {}", MONTHS[month as usize - 1])?;
            }
        }
        match self.offset {
            0 => Ok(()),
            n if n > 0 => write!(f, "+{n}"),
            n => write!(f, "{n}"),
        }
    }
}

/// `thanksgiving+1` -> (`thanksgiving`, 1). Names hold `-` too (`black-friday`): only digits
/// after the last sign make an offset.
fn split_offset(text: &str) -> Result<(&str, i8), String> {
    let Some(at) = text.rfind(['+', '-']) else {
        return Ok((text, 0));
    };
    let digits = text[at + 1..].trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok((text, 0));
    }
    let days: u32 = digits.parse().unwrap_or(u32::MAX);
    if days > MAX_FLOATING_OFFSET as u32 {
        return Err(format!(
            "an offset of {days} days; at most {MAX_FLOATING_OFFSET} are allowed"
        ));
    }
    let days = days as i8;
    Ok((
        &text[..at],
        if text[at..].starts_with('-') {
            -days
        } else {
            days
        },
    ))
}

fn weekday_named(word: &str) -> Option<Weekday> {
    // chrono reads `thu` and `thursday`, in any case.
    word.parse().ok()
}

fn month_named(word: &str) -> Option<u32> {
    word.parse::<chrono::Month>()
        .ok()
        .map(|m| m.number_from_month())
}

/// Western Easter Sunday in `year` (the anonymous Gregorian computus, Meeus/Jones/Butcher).
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanksgiving_and_the_days_after_it_2024_to_2035() {
        // Thanksgiving Day, from the US Naval Observatory's and timeanddate.com's tables.
        let thanksgiving = [
            (2024, 28),
            (2025, 27),
            (2026, 26),
            (2027, 25),
            (2028, 23),
            (2029, 22),
            (2030, 28),
            (2031, 27),
            (2032, 25),
            (2033, 24),
            (2034, 23),
            (2035, 22),
        ];
        let day = |text: &str, year| {
            FloatingDay::parse(text)
                .expect("valid")
                .on(year)
                .expect("valid")
        };
        for (year, date) in thanksgiving {
            let expected = NaiveDate::from_ymd_opt(year, 11, date).expect("valid");
            assert_eq!(day("thanksgiving", year), expected, "{year}");
            assert_eq!(day("fourth thursday of november", year), expected);
            assert_eq!(day("4th thu nov", year), expected);
            assert_eq!(
                day("black-friday", year),
                expected.succ_opt().expect("valid")
            );
            assert_eq!(day("thanksgiving+1", year), day("black-friday", year));
            assert_eq!(day("cyber-monday", year).weekday(), Weekday::Mon);
            assert_eq!(
                day("cyber-monday", year) - expected,
                chrono::Duration::days(4)
            );
            assert_eq!(day("black-friday", year).weekday(), Weekday::Fri);
        }
        assert_eq!(
            day("thanksgiving", 2026),
            NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid")
        );
        assert_eq!(
            day("black-friday", 2026),
            NaiveDate::from_ymd_opt(2026, 11, 27).expect("valid")
        );
        assert_eq!(
            day("cyber-monday", 2026),
            NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid")
        );
    }

    #[test]
    fn easter_2024_to_2035() {
        // Western Easter Sunday, from published tables.
        let expected = [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2028, 4, 16),
            (2029, 4, 1),
            (2030, 4, 21),
            (2031, 4, 13),
            (2032, 3, 28),
            (2033, 4, 17),
            (2034, 4, 9),
            (2035, 3, 25),
        ];
        for (year, month, day) in expected {
            let easter_day = NaiveDate::from_ymd_opt(year, month, day).expect("valid");
            assert_eq!(easter(year), Some(easter_day), "{year}");
            let good_friday = FloatingDay::parse("easter-2").expect("valid").on(year);
            assert_eq!(good_friday.map(|d| d.weekday()), Some(Weekday::Fri));
        }
    }

    #[test]
    fn nth_and_last_weekdays_agree_with_the_federal_calendar() {
        for year in 2024..=2035 {
            let memorial = FloatingDay::parse("last mon may")
                .expect("valid")
                .on(year)
                .expect("valid");
            let labor = FloatingDay::parse("1st monday of september")
                .expect("valid")
                .on(year)
                .expect("valid");
            let names = |date: NaiveDate| -> Vec<String> {
                holidays(HolidayCalendar::UsFederal, year)
                    .into_iter()
                    .filter(|h| h.date == date)
                    .map(|h| h.name)
                    .collect()
            };
            assert_eq!(names(memorial), ["Memorial Day"], "{year}");
            assert_eq!(names(labor), ["Labor Day"], "{year}");
        }
        // February 2026 has four Mondays: the fifth is in no year's calendar that February.
        assert_eq!(
            FloatingDay::parse("5th mon feb").expect("valid").on(2026),
            None
        );
    }

    #[test]
    fn floating_days_print_as_they_parse() {
        for text in [
            "thanksgiving",
            "black-friday",
            "cyber-monday",
            "easter-2",
            "thanksgiving+2",
            "4th thu nov",
            "last mon may+1",
            "1st sun mar-3",
        ] {
            let day = FloatingDay::parse(text).expect("valid");
            assert_eq!(day.to_string(), text);
            assert_eq!(FloatingDay::parse(&day.to_string()), Ok(day));
        }
        assert_eq!(
            FloatingDay::parse("Thanksgiving + 1")
                .expect("valid")
                .to_string(),
            "black-friday"
        );
    }

    #[test]
    fn bad_floating_days_say_what_is_wrong() {
        for (text, expected) in [
            ("thanksgivin", "is not a known day"),
            ("6th mon may", "is not an ordinal"),
            ("4th thr nov", "is not a weekday"),
            ("4th thu novem", "is not a month"),
            ("easter+40", "at most 31"),
        ] {
            let error = FloatingDay::parse(text).expect_err("invalid");
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

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
