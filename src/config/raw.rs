//! The config file exactly as written: serde checks shape (types, unknown keys), nothing more.
//! Meaning (durations, hours, time zones, references) is checked in `validate.rs`, which knows the
//! path of every value so that each problem can be located in the file.
//!
//! The doc comments here become the descriptions of `shipgate config schema`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// shipgate configuration (`.github/shipgate.yml`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "shipgate configuration")]
pub struct RawConfig {
    /// Version of this file's format. Always `1`.
    pub version: u32,
    /// Required CI checks, for every environment unless the environment overrides them.
    #[serde(default)]
    pub checks: Option<RawChecks>,
    /// Deploy windows, for every environment unless the environment overrides them.
    #[serde(default)]
    pub windows: Option<RawWindows>,
    /// The environments shipgate deploys to, by name (`staging`, `production`, ...).
    pub environments: UniqueMap<RawEnvironment>,
}

/// The required-checks gate.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChecks {
    /// Check-run names or commit-status contexts that must pass on the commit being deployed.
    pub required: Option<Vec<String>>,
    /// Also require what the target branch's rulesets and branch protection require. Default `true`.
    pub from_branch_rules: Option<bool>,
    /// Names or globs (`*`, `?`, `[abc]`) never waited on. The gate's own check is always ignored.
    pub ignore: Option<Vec<String>>,
    /// How long to wait for pending or missing required checks (`20m`); `0` means don't wait. Default `0`.
    pub wait: Option<DurationText>,
    /// Poll interval while waiting (`15s`). Default `15s`.
    pub interval: Option<DurationText>,
}

/// The deploy-window gate.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWindows {
    /// IANA time zone the rules are written in (`America/Los_Angeles`). Default `UTC`.
    pub timezone: Option<String>,
    /// If any allow rule exists, deploys happen only inside one.
    pub allow: Option<Vec<RawAllowRule>>,
    /// Deny rules beat allow rules: weekly ranges, date ranges, or cron + duration.
    pub deny: Option<Vec<RawDenyRule>>,
    /// Built-in holiday calendars: `us-federal`.
    pub holidays: Option<Vec<String>>,
    /// More whole local days on which deploys are closed (`2026-12-24`).
    pub extra_holidays: Option<Vec<String>>,
    /// Refuse when the window closes or a deny rule starts within this long (`30m`). Default `0`.
    pub runway: Option<DurationText>,
    /// The emergency override.
    pub emergency: Option<RawEmergency>,
}

/// A weekly allow rule.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAllowRule {
    /// A name shown when this rule decides.
    pub name: Option<String>,
    /// Days of the week: `mon-fri`, `sat,sun`, `fri` or a list. Default: every day.
    pub days: Option<Days>,
    /// Local hours, `"09:00-17:00"`; `24:00` is allowed as an end. Default: the whole day.
    pub hours: Option<String>,
}

/// A deny rule: weekly (`days`/`hours`), a date range (`from`/`to`), or `cron` + `duration`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDenyRule {
    /// A name shown when this rule decides (`Black Friday / Cyber Monday`).
    pub name: Option<String>,
    /// Weekly form: days of the week.
    pub days: Option<Days>,
    /// Weekly form: local hours, `"12:00-24:00"`.
    pub hours: Option<String>,
    /// Range form: a date (inclusive whole local day) or an RFC 3339 datetime.
    pub from: Option<String>,
    /// Range form: a date (inclusive whole local day) or an RFC 3339 datetime.
    pub to: Option<String>,
    /// Cron form: a 5-field cron expression in the window's time zone (`0 18 * * thu`).
    pub cron: Option<String>,
    /// Cron form: how long each occurrence denies deploys (`14h`).
    pub duration: Option<DurationText>,
}

/// The audited emergency override (`--emergency --reason TEXT`).
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEmergency {
    /// Whether an emergency may override a closed window. Default `true`.
    pub allowed: Option<bool>,
    /// Minimum length of the reason, in characters. Default `15`.
    pub min_reason_length: Option<u32>,
    /// GitHub logins allowed to override; empty means anyone who can run shipgate.
    pub actors: Option<Vec<String>>,
}

/// One deploy target: a Fly app.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// The Fly app name (`fly deploy --app`).
    pub app: String,
    /// Path of the fly.toml to deploy with. Default `fly.toml`.
    pub fly_config: Option<String>,
    /// `rolling`, `immediate`, `canary` or `bluegreen`. Default `rolling`.
    pub strategy: Option<String>,
    /// Public URL of the app; health endpoints are relative to it.
    pub url: Option<String>,
    /// `false` turns windows off for this environment; a block overrides the top-level fields it sets.
    pub windows: Option<EnvWindows>,
    /// Overrides the top-level fields it sets.
    pub checks: Option<RawChecks>,
    /// Environments this SHA must be deployed to, successfully and healthy now, first.
    pub requires: Option<Vec<String>>,
    /// Longest a `fly deploy` may run (`15m`). Default `15m`.
    pub deploy_timeout: Option<DurationText>,
    /// The health gate run after the deploy.
    pub health: Option<RawHealth>,
    /// What happens when the deploy or its health gate fails.
    pub rollback: Option<RawRollback>,
    /// Notifications.
    pub notify: Option<RawNotify>,
    /// Whether this environment is production (GitHub's `production_environment` on its
    /// Deployments). Default: `true` for the environment named `production`, else `false`.
    pub production_environment: Option<bool>,
}

/// The health gate.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// Wait this long after the deploy before the first round. Default `10s`.
    pub initial_delay: Option<DurationText>,
    /// Time between rounds. Default `10s`.
    pub interval: Option<DurationText>,
    /// Wall-clock limit for the whole gate. Default `5m`.
    pub deadline: Option<DurationText>,
    /// Rounds in a row with every endpoint passing needed to pass. Default `3`.
    pub consecutive_successes: Option<u32>,
    /// Failed rounds tolerated (the app answered, badly). Default `0`.
    pub failure_limit: Option<u32>,
    /// Rounds in a row that could not measure (refused, DNS, timeout) tolerated. Default `4`.
    pub consecutive_error_limit: Option<u32>,
    /// Timeout of one request. Default `5s`.
    pub request_timeout: Option<DurationText>,
    /// Fail if the 95th percentile latency over all samples exceeds this.
    pub p95_latency: Option<DurationText>,
    /// Every Fly machine of the new version must be started with its checks passing. Default `true`.
    pub machines: Option<bool>,
    /// The certificate of `url` must stay valid at least this many days.
    pub tls_min_days: Option<u32>,
    /// Response headers every endpoint must send.
    pub headers: Option<Vec<String>>,
    /// Endpoints probed every round. Default: `/health` expecting 200.
    pub endpoints: Option<Vec<RawEndpoint>>,
}

/// One probed endpoint.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    /// Path relative to the environment's `url` (`/health`).
    pub path: String,
    /// Accepted status codes. Default `[200]`.
    pub status: Option<Vec<u16>>,
    /// JSON Pointer (`/status`) -> expected value. Strings in it may name what the run deployed:
    /// `${sha}` (the commit), `${version}` (the Fly release version), `${image}` (the image).
    pub json: Option<UniqueMap<serde_json::Value>>,
    /// For an app without this endpoint: probed instead when the endpoint answers one of the
    /// fallback's `when` statuses; never when it answers badly or not at all.
    pub fallback: Option<RawFallback>,
    /// The body must parse as Prometheus text exposition.
    pub prometheus: Option<bool>,
}

/// A fallback endpoint, for an app that has no such endpoint.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    /// Path relative to the environment's `url`.
    pub path: String,
    /// Accepted status codes. Default `[200]`.
    pub status: Option<Vec<u16>>,
    /// The endpoint's answers that mean it does not exist, so the fallback is probed instead.
    /// Default `[404, 405]`. Never a 5xx but 501: a 503 is a sick app, not a missing endpoint.
    pub when: Option<Vec<u16>>,
}

/// Rollback on failure.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRollback {
    /// Workflow file (`rollback-production.yml`) dispatched with `workflow_dispatch` on failure.
    pub workflow: Option<String>,
    /// The ref the rollback workflow is dispatched on. Default `main`.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Also redeploy the previous image from this job. Default `true`.
    pub direct: Option<bool>,
    /// Refuse automatic rollbacks past this many in a row. Default `3`.
    pub max_consecutive: Option<u32>,
}

/// Notifications.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// POST a Slack-compatible message to `$SHIPGATE_WEBHOOK_URL`. Default `false`.
    pub webhook: Option<bool>,
}

/// A duration as written: `90s`, `5m`, `1h30m`, or the number `0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationText(pub String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `90s`, `5m` or `1h30m`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
                Ok(DurationText(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `90s`, `5m`, `1h30m`, `1d`, `250ms`, or `0`.",
            "oneOf": [
                { "type": "string", "pattern": "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$" },
                { "type": "integer", "const": 0 }
            ]
        })
    }
}

/// Days of the week: `mon-fri`, `sat,sun`, or a list of such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Days(pub Vec<String>);

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DaysVisitor;
        impl<'de> Visitor<'de> for DaysVisitor {
            type Value = Days;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("days such as `mon-fri`, `sat,sun` or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Days, E> {
                Ok(Days(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Days, A::Error> {
                let mut days = Vec::new();
                while let Some(day) = seq.next_element::<String>()? {
                    days.push(day);
                }
                Ok(Days(days))
            }
        }
        deserializer.deserialize_any(DaysVisitor)
    }
}

impl JsonSchema for Days {
    fn schema_name() -> Cow<'static, str> {
        "Days".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Days of the week: `mon-fri`, `sat,sun`, `fri`, or a list of such.",
            "oneOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

/// An environment's `windows:`: `false` (off), `true` (inherit), or a block of overrides.
#[derive(Debug, Clone)]
pub enum EnvWindows {
    Off,
    Inherit,
    Override(RawWindows),
}

impl<'de> Deserialize<'de> for EnvWindows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvWindowsVisitor;
        impl<'de> Visitor<'de> for EnvWindowsVisitor {
            type Value = EnvWindows;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`false`, `true` or a windows block")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvWindows, E> {
                Ok(if v {
                    EnvWindows::Inherit
                } else {
                    EnvWindows::Off
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EnvWindows, A::Error> {
                RawWindows::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(EnvWindows::Override)
            }
        }
        deserializer.deserialize_any(EnvWindowsVisitor)
    }
}

impl JsonSchema for EnvWindows {
    fn schema_name() -> Cow<'static, str> {
        "EnvironmentWindows".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let block = generator.subschema_for::<RawWindows>();
        json_schema!({
            "description": "`false` turns windows off for this environment; a block overrides the top-level fields it sets.",
            "oneOf": [ { "type": "boolean" }, block ]
        })
    }
}

/// A mapping whose keys must be unique. YAML forbids duplicate keys, but a plain map would keep
/// the last one silently: two `production:` blocks would pass with the second one winning.
#[derive(Debug, Clone, Default)]
pub struct UniqueMap<V>(pub BTreeMap<String, V>);

impl<V> std::ops::Deref for UniqueMap<V> {
    type Target = BTreeMap<String, V>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueVisitor<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueMap<V>, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.contains_key(&key) {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    let value = map.next_value()?;
                    entries.insert(key, value);
                }
                Ok(UniqueMap(entries))
            }
        }
        deserializer.deserialize_map(UniqueVisitor(std::marker::PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for UniqueMap<V> {
    fn schema_name() -> Cow<'static, str> {
        BTreeMap::<String, V>::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        BTreeMap::<String, V>::json_schema(generator)
    }
}
