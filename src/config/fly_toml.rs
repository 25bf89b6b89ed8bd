//! What shipgate needs from an app's fly.toml: whether it mounts volumes and whether it defines
//! health checks, and the strategies flyctl refuses because of them. Pure: `run/` reads the file
//! and hands the text here.
//!
//! flyctl's rules (flyctl's `deploy` strategy rules, as in its v0.4.87 sources):
//! - `canary` is refused when the app has mounts: `len(cfg.Mounts) > 0` with
//!   "canary deployment strategy is not supported when using mounted volumes"
//!   (`internal/appconfig/validation.go`).
//! - `bluegreen` is refused when no machine has a check: top-level `[checks]` plus every
//!   service's checks (`[[services.tcp_checks]]`, `[[services.http_checks]]`, and
//!   `[[http_service.checks]]`, which flyctl turns into a service), "You need to define at least 1
//!   check in order to use blue-green deployments" (`internal/command/deploy/strategy_bluegreen.go`).

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::model::Strategy;

/// The parts of a fly.toml that decide which strategies flyctl accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlyToml {
    /// `[mounts]` or `[[mounts]]` with at least one entry.
    pub mounts: bool,
    /// At least one check: `[checks]`, `[[services.tcp_checks]]`, `[[services.http_checks]]` or
    /// `[[http_service.checks]]`.
    pub checks: bool,
    /// `[deploy] strategy`, when it names one flyctl knows: what a deploy without `--strategy`
    /// uses (flyctl's default is rolling).
    pub deploy_strategy: Option<Strategy>,
}

impl FlyToml {
    /// Parses fly.toml's text; every key shipgate does not read is ignored. The error's `Display`
    /// names the line and column.
    pub fn parse(text: &str) -> Result<FlyToml, toml::de::Error> {
        let raw: RawFlyToml = toml::from_str(text)?;
        let service_checks = raw
            .services
            .iter()
            .map(|s| s.tcp_checks.0 + s.http_checks.0)
            .sum::<usize>();
        let http_service_checks = raw.http_service.map_or(0, |h| h.checks.0);
        Ok(FlyToml {
            mounts: raw.mounts.0 > 0,
            checks: raw.checks.0 + service_checks + http_service_checks > 0,
            deploy_strategy: raw.deploy.strategy.and_then(|name| {
                Strategy::ALL
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, strategy)| *strategy)
            }),
        })
    }
}

/// Why flyctl would refuse this strategy for this app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// `canary` with volume mounts.
    CanaryWithMounts,
    /// `bluegreen` without any health check.
    BluegreenWithoutChecks,
}

impl Conflict {
    /// The reason, after "strategy `S` ...".
    pub fn reason(self) -> &'static str {
        match self {
            Conflict::CanaryWithMounts => {
                "cannot deploy an app with volume mounts ([mounts]): flyctl refuses canary deploys of apps with volumes"
            }
            Conflict::BluegreenWithoutChecks => {
                "needs at least one health check and none is defined ([checks], [[services.tcp_checks]], [[services.http_checks]], [[http_service.checks]]): flyctl refuses bluegreen deploys without checks"
            }
        }
    }

    /// The way out.
    pub fn fix(self) -> &'static str {
        match self {
            Conflict::CanaryWithMounts => "use `strategy: rolling` or `immediate`",
            Conflict::BluegreenWithoutChecks => {
                "add a [[http_service.checks]] (or [checks]) to fly.toml, or use `strategy: rolling` or `immediate`"
            }
        }
    }
}

/// The combination flyctl refuses, if this is one.
pub fn conflict(fly: &FlyToml, strategy: Strategy) -> Option<Conflict> {
    match strategy {
        Strategy::Canary if fly.mounts => Some(Conflict::CanaryWithMounts),
        Strategy::Bluegreen if !fly.checks => Some(Conflict::BluegreenWithoutChecks),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawFlyToml {
    mounts: Items,
    checks: Entries,
    services: Vec<RawService>,
    http_service: Option<RawHttpService>,
    deploy: RawDeploySection,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawDeploySection {
    strategy: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawService {
    tcp_checks: Items,
    http_checks: Items,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawHttpService {
    checks: Items,
}

/// How many items a `[[key]]` array holds; a single `[key]` table is one item (flyctl accepts
/// both for mounts and checks); anything else is none.
#[derive(Default)]
struct Items(usize);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(CountVisitor { table_counts: 1 })
            .map(Items)
    }
}

/// How many entries a `[key]` table of named items holds (`[checks.NAME]`).
#[derive(Default)]
struct Entries(usize);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(CountVisitor { table_counts: 0 })
            .map(Entries)
    }
}

/// Counts array elements; a table counts `table_counts`, or its entries when that is 0.
struct CountVisitor {
    table_counts: usize,
}

impl<'de> Visitor<'de> for CountVisitor {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table or an array of tables")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(if self.table_counts > 0 && n > 0 {
            self.table_counts
        } else {
            n
        })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<usize, E> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FlyToml {
        FlyToml::parse(text).expect("parses")
    }

    #[test]
    fn reads_mounts_and_checks_in_every_spelling() {
        let cases: &[(&str, FlyToml)] = &[
            ("app = 'a'\n", FlyToml::default()),
            (
                "[deploy]\nstrategy = 'bluegreen'\n",
                FlyToml {
                    deploy_strategy: Some(Strategy::Bluegreen),
                    ..FlyToml::default()
                },
            ),
            ("[deploy]\nstrategy = 'sideways'\n", FlyToml::default()),
            (
                "[mounts]\nsource = 'data'\ndestination = '/data'\n",
                FlyToml {
                    mounts: true,
                    checks: false,
                    ..FlyToml::default()
                },
            ),
            (
                "[[mounts]]\nsource = 'data'\ndestination = '/data'\n",
                FlyToml {
                    mounts: true,
                    checks: false,
                    ..FlyToml::default()
                },
            ),
            ("mounts = []\n", FlyToml::default()),
            (
                "[checks.alive]\ntype = 'tcp'\nport = 8080\n",
                FlyToml {
                    mounts: false,
                    checks: true,
                    ..FlyToml::default()
                },
            ),
            ("[checks]\n", FlyToml::default()),
            (
                "[[services]]\ninternal_port = 8080\n[[services.tcp_checks]]\ninterval = '15s'\n",
                FlyToml {
                    mounts: false,
                    checks: true,
                    ..FlyToml::default()
                },
            ),
            (
                "[[services]]\ninternal_port = 8080\n[[services.http_checks]]\npath = '/health'\n",
                FlyToml {
                    mounts: false,
                    checks: true,
                    ..FlyToml::default()
                },
            ),
            (
                "[[services]]\ninternal_port = 8080\n[[services.ports]]\nport = 80\n",
                FlyToml::default(),
            ),
            (
                "[http_service]\ninternal_port = 8080\n[[http_service.checks]]\npath = '/health'\n",
                FlyToml {
                    mounts: false,
                    checks: true,
                    ..FlyToml::default()
                },
            ),
            (
                "[http_service]\ninternal_port = 8080\nforce_https = true\n",
                FlyToml::default(),
            ),
            (
                "[[mounts]]\nsource = 'd'\ndestination = '/d'\n[[http_service.checks]]\npath = '/'\n[unknown]\nx = { y = [1, 2] }\n",
                FlyToml {
                    mounts: true,
                    checks: true,
                    ..FlyToml::default()
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), *expected, "{text}");
        }
    }

    #[test]
    fn a_syntax_error_names_its_line_and_column() {
        let error = FlyToml::parse("app = 'a'\n[http_service\n").expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("column"), "{text}");
    }

    #[test]
    fn flyctl_refuses_canary_with_mounts_and_bluegreen_without_checks() {
        let none = FlyToml::default();
        let mounts = FlyToml {
            mounts: true,
            checks: false,
            ..FlyToml::default()
        };
        let checks = FlyToml {
            mounts: false,
            checks: true,
            ..FlyToml::default()
        };
        let both = FlyToml {
            mounts: true,
            checks: true,
            ..FlyToml::default()
        };
        use Conflict::*;
        use Strategy::*;
        let cases = [
            (none, Rolling, None),
            (none, Immediate, None),
            (none, Canary, None),
            (none, Bluegreen, Some(BluegreenWithoutChecks)),
            (mounts, Rolling, None),
            (mounts, Immediate, None),
            (mounts, Canary, Some(CanaryWithMounts)),
            (mounts, Bluegreen, Some(BluegreenWithoutChecks)),
            (checks, Canary, None),
            (checks, Bluegreen, None),
            (both, Canary, Some(CanaryWithMounts)),
            (both, Bluegreen, None),
            (both, Rolling, None),
        ];
        for (fly, strategy, expected) in cases {
            assert_eq!(conflict(&fly, strategy), expected, "{fly:?} {strategy:?}");
        }
    }
}
