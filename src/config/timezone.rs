//! The window's time zone: an IANA zone that follows the team's clocks. Fixed-offset and legacy
//! names (`EST`, `EST5EDT`, `Etc/GMT+5`) are refused, abbreviations and US region names that are
//! not zones (`PST`, `Eastern`) get the zone they likely mean, and tzdata's backward-compatibility
//! links (`US/Eastern`, `Asia/Calcutta`) are accepted with a warning naming the current name.

use std::str::FromStr;

use chrono_tz::Tz;

use super::tz_links::BACKWARD_LINKS;

/// What a `timezone:` value comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// A current IANA name.
    Canonical(Tz),
    /// A backward-compatibility link: it works, but the current name is `canonical`.
    Link { zone: Tz, canonical: &'static str },
    /// Refused: the message and the hint.
    Refused { message: String, hint: String },
}

/// Legacy zones tzdata keeps for old systems. `EST`, `MST` and `HST` are a fixed offset all year
/// (since tzdata 2024b, links to America/Panama, America/Phoenix and Pacific/Honolulu); the
/// POSIX-style `EST5EDT` family are links to the city zones now but meant US rules from 1967 in
/// older tzdata. A team means its city's clock; each maps to the zone named here, or to a choice
/// when the abbreviation is used in more than one.
const LEGACY: [(&str, &str, &[&str]); 7] = [
    (
        "EST",
        "UTC-05:00 all year, no daylight saving (the clocks of Panama, not New York)",
        &["America/New_York"],
    ),
    (
        "MST",
        "UTC-07:00 all year, no daylight saving (the clocks of Arizona)",
        &["America/Denver", "America/Phoenix"],
    ),
    (
        "HST",
        "UTC-10:00 all year (Hawaii's clocks, under a legacy name)",
        &["Pacific/Honolulu"],
    ),
    (
        "EST5EDT",
        "a legacy POSIX-style zone whose history differs between tzdata releases",
        &["America/New_York"],
    ),
    (
        "CST6CDT",
        "a legacy POSIX-style zone whose history differs between tzdata releases",
        &["America/Chicago"],
    ),
    (
        "MST7MDT",
        "a legacy POSIX-style zone whose history differs between tzdata releases",
        &["America/Denver"],
    ),
    (
        "PST8PDT",
        "a legacy POSIX-style zone whose history differs between tzdata releases",
        &["America/Los_Angeles"],
    ),
];

/// Abbreviations and region words people write that are not tzdata names, with the zones they
/// likely mean (the first is the likeliest; more than one when the word is ambiguous).
const NOT_ZONES: [(&str, &[&str]); 26] = [
    ("PST", &["America/Los_Angeles"]),
    ("PDT", &["America/Los_Angeles"]),
    ("Pacific", &["America/Los_Angeles"]),
    ("EDT", &["America/New_York"]),
    ("Eastern", &["America/New_York"]),
    ("CDT", &["America/Chicago"]),
    ("Central", &["America/Chicago"]),
    (
        "CST",
        &["America/Chicago", "Asia/Shanghai", "America/Havana"],
    ),
    ("MDT", &["America/Denver"]),
    ("Mountain", &["America/Denver", "America/Phoenix"]),
    ("AKST", &["America/Anchorage"]),
    ("AKDT", &["America/Anchorage"]),
    ("Alaska", &["America/Anchorage"]),
    ("Hawaii", &["Pacific/Honolulu"]),
    ("Arizona", &["America/Phoenix"]),
    ("BST", &["Europe/London", "Asia/Dhaka"]),
    ("IST", &["Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"]),
    ("CEST", &["Europe/Berlin", "Europe/Paris", "Europe/Madrid"]),
    ("EEST", &["Europe/Athens", "Europe/Helsinki", "Europe/Kyiv"]),
    ("WEST", &["Europe/Lisbon"]),
    ("JST", &["Asia/Tokyo"]),
    ("KST", &["Asia/Seoul"]),
    ("SGT", &["Asia/Singapore"]),
    (
        "AEST",
        &[
            "Australia/Sydney",
            "Australia/Melbourne",
            "Australia/Brisbane",
        ],
    ),
    ("AEDT", &["Australia/Sydney", "Australia/Melbourne"]),
    ("NZST", &["Pacific/Auckland"]),
];

fn choice(zones: &[&str]) -> String {
    match zones {
        [one] => format!("write `{one}`"),
        many => format!(
            "write the zone of the team's city: {}",
            many.iter()
                .map(|z| format!("`{z}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Reads a `timezone:` value.
pub fn zone(name: &str) -> Zone {
    if let Some((_, why, zones)) = LEGACY.iter().find(|(legacy, ..)| *legacy == name) {
        return Zone::Refused {
            message: format!(
                "`{name}` is {why}: a team's window would move by an hour for part of the year"
            ),
            hint: format!(
                "{} (an IANA zone follows the place's daylight saving)",
                choice(zones)
            ),
        };
    }
    if let Some(offset) = fixed_offset(name) {
        return Zone::Refused {
            message: format!(
                "`{name}` is UTC{offset} all year (POSIX inverts the sign of `Etc/GMT` zones) and never follows daylight saving"
            ),
            hint: "write the IANA zone of the team's city (e.g. `America/New_York`, `Europe/Berlin`), or `UTC`".to_owned(),
        };
    }
    if let Ok(zone) = Tz::from_str(name) {
        return match BACKWARD_LINKS.iter().find(|(link, _)| *link == name) {
            Some((_, canonical)) => Zone::Link { zone, canonical },
            None => Zone::Canonical(zone),
        };
    }
    let lookup = NOT_ZONES
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(name));
    if let Some((_, zones)) = lookup {
        return Zone::Refused {
            message: format!(
                "unknown time zone `{name}`: an abbreviation or a region, not an IANA zone"
            ),
            hint: choice(zones),
        };
    }
    let other_case = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(name));
    if let Some(zone) = other_case {
        return Zone::Refused {
            message: format!("unknown time zone `{name}`"),
            hint: format!(
                "IANA names are case-sensitive: write `{}`",
                canonical_name(zone.name())
            ),
        };
    }
    // Suggest current names only: a link would earn a warning of its own.
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter(|n| !is_link(n) && fixed_offset(n).is_none())
        .filter(|n| !LEGACY.iter().any(|(legacy, ..)| legacy == n))
        .collect();
    Zone::Refused {
        message: format!("unknown time zone `{name}`"),
        hint: super::suggest(
            "use an IANA name such as `America/Los_Angeles` or `Europe/Berlin`",
            name,
            &names,
        ),
    }
}

fn is_link(name: &str) -> bool {
    BACKWARD_LINKS.iter().any(|(link, _)| *link == name)
}

/// The current name for `name`: its link target, if it is a link.
fn canonical_name(name: &str) -> &str {
    BACKWARD_LINKS
        .iter()
        .find(|(link, _)| *link == name)
        .map_or(name, |(_, target)| target)
}

/// `-05:00` for `Etc/GMT+5` (and `GMT+5`): the fixed offset an `Etc/GMT±N` zone (N > 0) means.
fn fixed_offset(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("Etc/GMT")
        .or_else(|| name.strip_prefix("GMT"))?;
    let (sign, hours) = rest.split_at_checked(1)?;
    let hours: u32 = hours.parse().ok()?;
    if hours == 0 || !hours.to_string().eq(&rest[1..]) {
        return None;
    }
    // POSIX: `Etc/GMT+5` is five hours *behind* UTC.
    let utc_sign = match sign {
        "+" => '-',
        "-" => '+',
        _ => return None,
    };
    Some(format!("{utc_sign}{hours:02}:00"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Offset, TimeZone, Utc};

    #[test]
    fn every_link_names_a_zone_chrono_tz_knows_and_keeps_its_offsets() {
        for (link, target) in BACKWARD_LINKS {
            let link_zone = Tz::from_str(link).unwrap_or_else(|_| panic!("{link} is no zone"));
            let target_zone =
                Tz::from_str(target).unwrap_or_else(|_| panic!("{target} is no zone"));
            assert!(!is_link(target), "{link} -> {target}, itself a link");
            // A link is its target under another name: the same offsets, month by month.
            for month in 0..(12 * 36) {
                let at = Utc
                    .with_ymd_and_hms(2000 + month / 12, 1 + (month % 12) as u32, 15, 12, 0, 0)
                    .single()
                    .expect("valid");
                assert_eq!(
                    link_zone.offset_from_utc_datetime(&at.naive_utc()).fix(),
                    target_zone.offset_from_utc_datetime(&at.naive_utc()).fix(),
                    "{link} vs {target} at {at}"
                );
            }
        }
    }

    #[test]
    fn legacy_zones_are_refused_with_the_city_zone() {
        for (name, zone_name) in [
            ("EST", "America/New_York"),
            ("MST", "America/Denver"),
            ("HST", "Pacific/Honolulu"),
            ("EST5EDT", "America/New_York"),
            ("CST6CDT", "America/Chicago"),
            ("MST7MDT", "America/Denver"),
            ("PST8PDT", "America/Los_Angeles"),
        ] {
            // Each is a zone chrono-tz accepts: only shipgate refuses it.
            assert!(Tz::from_str(name).is_ok(), "{name}");
            let Zone::Refused { hint, .. } = zone(name) else {
                panic!("{name} accepted");
            };
            assert!(hint.contains(&format!("`{zone_name}`")), "{name}: {hint}");
            assert!(Tz::from_str(zone_name).is_ok() && !is_link(zone_name));
        }
    }

    #[test]
    fn fixed_offsets_name_their_real_sign() {
        let Zone::Refused { message, .. } = zone("Etc/GMT+5") else {
            panic!("accepted");
        };
        assert!(message.contains("UTC-05:00"), "{message}");
        let Zone::Refused { message, .. } = zone("Etc/GMT-10") else {
            panic!("accepted");
        };
        assert!(message.contains("UTC+10:00"), "{message}");
        for fine in ["UTC", "Etc/UTC", "Etc/GMT", "GMT"] {
            assert!(matches!(zone(fine), Zone::Canonical(_)), "{fine}");
        }
    }

    #[test]
    fn links_warn_with_the_current_name() {
        for (name, canonical) in [
            ("US/Eastern", "America/New_York"),
            ("US/Pacific", "America/Los_Angeles"),
            ("Asia/Calcutta", "Asia/Kolkata"),
            ("Europe/Kiev", "Europe/Kyiv"),
        ] {
            assert_eq!(
                zone(name),
                Zone::Link {
                    zone: Tz::from_str(name).expect("valid"),
                    canonical
                }
            );
        }
        // A merged country zone is the name a team there uses: no warning.
        assert!(matches!(zone("America/Anguilla"), Zone::Canonical(_)));
    }

    #[test]
    fn names_that_are_not_zones_get_a_zone_never_a_link() {
        for (name, expected) in [
            ("Eastern", "America/New_York"),
            ("eastern", "America/New_York"),
            ("PST", "America/Los_Angeles"),
            ("CST", "America/Chicago"),
            ("IST", "Asia/Kolkata"),
            ("america/new_york", "America/New_York"),
            ("us/eastern", "America/New_York"),
            ("America/New_Yrok", "America/New_York"),
        ] {
            let Zone::Refused { hint, .. } = zone(name) else {
                panic!("{name} accepted");
            };
            assert!(hint.contains(&format!("`{expected}`")), "{name}: {hint}");
            assert!(!hint.contains("US/"), "{name}: {hint}");
        }
    }
}
