//! `environments.NAME.delivery_targets`: the runbooks' delivery targets, as written (raw), checked
//! (every problem located) and typed (model). `shipgate report metrics` shows each measure
//! against its target.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::duration;
use super::issues::Issues;
use super::locate::YamlPath;

/// Targets for the delivery measures of `shipgate report metrics`. Every one is optional.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeliveryTargets {
    /// Successful deploys ÷ finished deploys, at least: `95%`.
    pub success_rate: Option<Scalar>,
    /// Deploys that failed or were rolled back ÷ finished deploys, at most: `5%`.
    pub change_failure_rate: Option<Scalar>,
    /// Median time from a failed deploy to the next success on the environment, at most: `30m`.
    pub time_to_restore: Option<Scalar>,
    /// Median time from a pull request's merge to its first successful deploy, at most: `2h`.
    pub lead_time: Option<Scalar>,
    /// Successful deploys per week, at least: `1`.
    pub deploys_per_week: Option<Scalar>,
}

/// A scalar as written (text or number); its meaning is checked in [`targets`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value such as `95%`, `30m` or `1`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl JsonSchema for Scalar {
    fn schema_name() -> Cow<'static, str> {
        "TargetValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A percentage (`95%`), a duration (`30m`, `2h`) or a number (`1`).",
            "type": ["string", "number"]
        })
    }
}

/// The checked targets. A ratio is a fraction (`95%` is 0.95).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeliveryTargets {
    pub success_rate: Option<f64>,
    pub change_failure_rate: Option<f64>,
    #[serde(serialize_with = "seconds")]
    pub time_to_restore: Option<Duration>,
    #[serde(serialize_with = "seconds")]
    pub lead_time: Option<Duration>,
    pub deploys_per_week: Option<f64>,
}

fn seconds<S: serde::Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

pub(super) fn targets(
    raw: Option<&RawDeliveryTargets>,
    path: &YamlPath,
    issues: &mut Issues,
) -> DeliveryTargets {
    let Some(raw) = raw else {
        return DeliveryTargets::default();
    };
    let mut ratio = |value: &Option<Scalar>, key: &str, example: &str| {
        let text = value.as_ref()?;
        parse_percent(&text.0)
            .map_err(|message| {
                issues.push(
                    &path.key(key),
                    message,
                    format!("write a percentage between 0% and 100%, e.g. `{example}`"),
                )
            })
            .ok()
    };
    let success_rate = ratio(&raw.success_rate, "success_rate", "95%");
    let change_failure_rate = ratio(&raw.change_failure_rate, "change_failure_rate", "5%");
    let mut span = |value: &Option<Scalar>, key: &str, example: &str| {
        let text = value.as_ref()?;
        match duration::parse(&text.0) {
            Ok(d) if d.is_zero() => {
                issues.push(
                    &path.key(key),
                    "must be more than 0",
                    format!("use a positive duration, e.g. `{example}`"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(error) => {
                issues.push(
                    &path.key(key),
                    format!("bad duration: {error}"),
                    format!("write durations like `{example}`, `90s`, `1h30m` (units d, h, m, s)"),
                );
                None
            }
        }
    };
    let time_to_restore = span(&raw.time_to_restore, "time_to_restore", "30m");
    let lead_time = span(&raw.lead_time, "lead_time", "2h");
    let deploys_per_week =
        raw.deploys_per_week
            .as_ref()
            .and_then(|text| match text.0.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && n > 0.0 => Some(n),
                _ => {
                    issues.push(
                        &path.key("deploys_per_week"),
                        format!("`{}` is not a positive number of deploys", text.0),
                        "write how many successful deploys a week you aim for, e.g. `1` or `0.5`",
                    );
                    None
                }
            });
    DeliveryTargets {
        success_rate,
        change_failure_rate,
        time_to_restore,
        lead_time,
        deploys_per_week,
    }
}

/// `95%`, `99.5 %` → 0.95, 0.995. The `%` is required: `95` and `0.95` are both refused.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let Some(number) = trimmed.strip_suffix('%') else {
        return Err(format!("`{trimmed}` is not a percentage: it has no `%`"));
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (0.0..=100.0).contains(&n) => Ok(n / 100.0),
        Ok(_) => Err(format!("`{trimmed}` is not between 0% and 100%")),
        Err(_) => Err(format!("`{trimmed}` is not a percentage")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_need_their_sign_and_a_range() {
        assert_eq!(parse_percent("95%"), Ok(0.95));
        assert_eq!(parse_percent(" 99.5 % "), Ok(0.995));
        assert_eq!(parse_percent("0%"), Ok(0.0));
        assert!(parse_percent("95").expect_err("no sign").contains("no `%`"));
        assert!(parse_percent("0.95").is_err());
        assert!(parse_percent("120%")
            .expect_err("too big")
            .contains("between"));
        assert!(parse_percent("-1%").is_err());
        assert!(parse_percent("abc%").is_err());
    }
}
