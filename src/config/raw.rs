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
    /// How long to wait for pending or missing required checks (`30m`); `0` means don't wait (a
    /// pending check blocks at once). Default `20m`: a gate started alongside CI waits for it.
    #[schemars(extend("default" = "20m"))]
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
    /// More whole local days on which deploys are closed: a date (`2026-12-24`), or a day closed
    /// every year: `thanksgiving`, `black-friday`, `cyber-monday`, `easter`, or the nth weekday of
    /// a month (`4th thu nov`, `last mon may`), each with an optional offset in days
    /// (`thanksgiving+1`, `easter-2`).
    pub extra_holidays: Option<Vec<String>>,
    /// Refuse when the window closes or a deny rule starts within this long (`30m`). Default: the
    /// environment's `deploy_timeout` + its health `deadline` (+ the watch's `duration` when it
    /// watches), the time a deploy takes to finish; `0` turns it off.
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
    /// Range form: a date (inclusive whole local day) or an RFC 3339 datetime; or, for a range
    /// closed every year, a floating day (`black-friday`, `4th thu nov`, `easter-2`; see
    /// `extra_holidays`).
    pub from: Option<String>,
    /// Range form: like `from`, inclusive. A floating `from` needs a floating `to`.
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
    /// The override is valid only on a run the GitHub Environment's required reviewers approved
    /// (see the environment's `approval`). Default `false`.
    pub requires_approval: Option<bool>,
}

/// One deploy target: a Fly app.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// The Fly app name (`fly deploy --app`).
    pub app: String,
    /// Path of the fly.toml to deploy with. Default `fly.toml`.
    pub fly_config: Option<String>,
    /// `rolling`, `immediate`, `canary` or `bluegreen`, passed as `fly deploy --strategy`. Default:
    /// not passed, so fly.toml's `[deploy] strategy` rules (flyctl's default is `rolling`).
    pub strategy: Option<String>,
    /// How `fly deploy` runs, beyond what shipgate sets itself.
    pub deploy: Option<RawDeploy>,
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
    /// Commands run around the deploy: a backup and a migration before it, smoke tests after it,
    /// a restore after a rollback.
    pub steps: Option<RawSteps>,
    /// Metrics watched after the deploy is healthy; a failed watch rolls back.
    pub watch: Option<RawWatch>,
    /// Targets for `shipgate report metrics` (the DORA measures and the success rate).
    pub delivery_targets: Option<super::delivery::RawDeliveryTargets>,
    /// The approval gate: the deploy run must have been approved by the GitHub Environment's
    /// required reviewers.
    pub approval: Option<RawApproval>,
    /// How `shipgate serve` answers GitHub's deployment protection rule for this environment.
    pub protection_rule: Option<super::protection::RawProtectionRule>,
}

/// How `fly deploy` runs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    /// Extra `fly deploy` flags, one argument per item, appended to the command as written (never
    /// through a shell): `[--build-arg, NODE_ENV=production, --wait-timeout, 10m]`. Flags shipgate
    /// sets from other keys (`--app`, `--config`, `--image`, `--strategy`) and flags that would
    /// defeat the gate (`--access-token`, `--detach`, `--build-only`) are refused. At most 64 items
    /// of 1024 characters.
    #[schemars(length(max = 64))]
    pub args: Option<Vec<String>>,
}

/// The approval gate.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApproval {
    /// Whether `deploy` needs an approved run. Default `false`.
    pub required: Option<bool>,
    /// Whose approval counts: `environment` (the GitHub Environment's required reviewers, the only
    /// value for now). Default `environment`.
    pub reviewers_from: Option<String>,
}

/// Commands run around the deploy, in order. Never a shell: each is an argument vector.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSteps {
    /// After the gates pass and the GitHub Deployment is created, before `fly deploy`. A failure
    /// stops the deploy: fly never runs.
    pub before_deploy: Option<Vec<RawStep>>,
    /// After the health gate passes (smoke tests). A failure rolls back.
    pub after_deploy: Option<Vec<RawStep>>,
    /// After a rollback's redeploy (restore the database). A failure is `rollback_failed`.
    pub on_rollback: Option<Vec<RawStep>>,
}

/// One command.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Shown in the log and the report (`backup`, `migrate`, `smoke tests`).
    pub name: String,
    /// The program and its arguments: `[pg_dump, --file, backup.sql, ...]`. `${sha}`, `${ref}`,
    /// `${environment}`, `${app}`, `${url}`, `${version}` and `${previous_version}` are filled
    /// inside single arguments.
    pub run: Vec<String>,
    /// Extra environment variables. A value may name a variable of shipgate's own environment,
    /// `${env.DATABASE_URL}`: its value is masked in every output.
    pub env: Option<UniqueMap<String>>,
    /// Longest the command may run (`10m`). Default `10m`.
    pub timeout: Option<DurationText>,
    /// Directory the command runs in, relative to where shipgate runs. Default: that directory.
    pub working_directory: Option<String>,
}

/// The post-deploy watch: every `interval`, each rule's metric is read and held against its
/// condition (as Argo Rollouts' analysis).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    /// How long to watch after the deploy is healthy (`15m`).
    pub duration: DurationText,
    /// Time between measurements. Default `1m`.
    pub interval: Option<DurationText>,
    /// How long to watch after an emergency deploy (`2h`). Default: `duration`.
    pub emergency_duration: Option<DurationText>,
    /// Failed measurements tolerated; one more fails the watch. Default `0`: the first fails it.
    pub failure_limit: Option<u32>,
    /// Measurements with no data tolerated; one more fails the watch. Default: no limit.
    pub inconclusive_limit: Option<u32>,
    /// Measurements in a row that could not be read tolerated. Default `4`.
    pub consecutive_error_limit: Option<u32>,
    /// Where the `error_rate` and `p95` shortcuts read: `prometheus` or `scrape`. Default `prometheus`.
    pub source: Option<String>,
    /// The Prometheus-compatible API `prometheus` rules query (Fly's managed Prometheus, or your own).
    pub prometheus: Option<RawPrometheus>,
    /// The app's own metrics endpoint, read directly by `scrape` rules.
    pub scrape: Option<RawScrape>,
    /// The rules; each needs one metric (`error_rate`, `p95`, `prometheus`, `scrape` or `logs`).
    pub rules: Vec<RawRule>,
}

/// A Prometheus-compatible HTTP API.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    /// Environment variable holding its base URL. Default `SHIPGATE_PROMETHEUS_URL`.
    pub url_env: Option<String>,
    /// Environment variable holding the `Authorization` header value. Default `SHIPGATE_PROMETHEUS_AUTH`.
    pub auth_env: Option<String>,
}

/// The app's own Prometheus text endpoint and the metric names the shortcuts read there.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScrape {
    /// Path relative to the environment's `url`. Default `/metrics`.
    pub path: Option<String>,
    /// The request counter. Default `http_requests_total`.
    pub requests: Option<String>,
    /// Its status-code label. Default `status`.
    pub status_label: Option<String>,
    /// The request-duration histogram. Default `http_request_duration_seconds`.
    pub duration: Option<String>,
}

/// One watched metric and its condition.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Shown in the log and the report. Default: the shortcut's name.
    pub name: Option<String>,
    /// Shortcut: the share of responses that are 5xx, `{max: 1%}`.
    pub error_rate: Option<RawShortcut>,
    /// Shortcut: the 95th percentile response time, `{max: 2s}`.
    pub p95: Option<RawShortcut>,
    /// An instant PromQL query; `${app}`, `${version}` and `${interval}` are filled in.
    pub prometheus: Option<String>,
    /// A value computed from the app's metrics endpoint between two scrapes.
    pub scrape: Option<RawScrapeQuery>,
    /// A regex: lines of the new release's logs matching it, per interval (`max: 0`).
    pub logs: Option<String>,
    /// The value must stay at or under this: `1%`, `2s`, `250ms`, `0.5/s`, `100 count`.
    pub max: Option<ThresholdText>,
    /// The value must stay at or over this.
    pub min: Option<ThresholdText>,
}

/// A shortcut's condition.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawShortcut {
    /// `1%` for `error_rate`, `2s` for `p95`.
    pub max: ThresholdText,
}

/// What a `scrape` rule computes; exactly one of these.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScrapeQuery {
    /// Per-second rate of a counter: `jobs_failed_total{queue="mail"}`.
    pub rate: Option<String>,
    /// One counter's increase over another's: `{of: 'http_requests_total{status=~"5.."}', over: http_requests_total}`.
    pub ratio: Option<RawRatio>,
    /// A quantile of a histogram: `{histogram: http_request_duration_seconds, q: 0.99}`.
    pub quantile: Option<RawQuantile>,
    /// A gauge's value: `queue_depth`.
    pub gauge: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRatio {
    pub of: String,
    pub over: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQuantile {
    pub histogram: String,
    pub q: f64,
}

/// A threshold as written: a number with its unit (`1%`, `2s`, `0.5/s`, `100 count`).
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdText(pub String);

impl<'de> Deserialize<'de> for ThresholdText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThresholdVisitor;
        impl Visitor<'_> for ThresholdVisitor {
            type Value = ThresholdText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a threshold such as `1%`, `2s` or `0.5/s`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ThresholdText, E> {
                Ok(ThresholdText(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ThresholdText, E> {
                Ok(ThresholdText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ThresholdText, E> {
                Ok(ThresholdText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ThresholdText, E> {
                Ok(ThresholdText(v.to_string()))
            }
        }
        deserializer.deserialize_any(ThresholdVisitor)
    }
}

impl JsonSchema for ThresholdText {
    fn schema_name() -> Cow<'static, str> {
        "Threshold".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number with its unit: `1%` (a ratio), `2s` or `250ms` (a latency), `0.5/s` (a rate), `100 count` (a plain number). A log rule's `max` may be a bare count.",
            "oneOf": [
                { "type": "string" },
                { "type": "number" }
            ]
        })
    }
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
    /// How soon production should be healthy again after a failure (`5m`); a miss is a warning
    /// and a field in every notification. Default none.
    pub recovery_target: Option<DurationText>,
}

/// Notifications: each channel sends the events it lists.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// POST a Slack-compatible message (Block Kit, with a `text` fallback) to
    /// `$SHIPGATE_WEBHOOK_URL`. Default `false`.
    pub webhook: Option<bool>,
    /// The events `webhook` sends: `started`, `succeeded`, `failed`, `rolled_back`,
    /// `rollback_failed`, `blocked`. Default every event but `started` and `blocked`.
    pub events: Option<Vec<String>>,
    /// Email over SMTP (STARTTLS or implicit TLS).
    pub email: Option<RawEmail>,
    /// A Slack incoming webhook (Block Kit).
    pub slack: Option<RawChat>,
    /// A Microsoft Teams incoming webhook (an Adaptive Card message).
    pub teams: Option<RawChat>,
    /// A Discord webhook (embeds).
    pub discord: Option<RawChat>,
}

/// Email notifications.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    /// Recipients, e.g. `[oncall@example.com, "Ops <ops@example.com>"]`.
    pub to: Vec<String>,
    /// The sender, e.g. `shipgate <deploys@example.com>`.
    pub from: String,
    /// The variable holding the SMTP URL (`smtp://user:pass@host:587` for STARTTLS,
    /// `smtps://user:pass@host:465` for implicit TLS). Default `SHIPGATE_SMTP_URL`.
    pub smtp_url_env: Option<String>,
    /// The events sent by email. Default every event but `started` and `blocked`.
    pub events: Option<Vec<String>>,
}

/// A chat webhook (Slack, Teams, Discord).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChat {
    /// The variable holding the webhook URL (a secret). Default `SHIPGATE_SLACK_WEBHOOK_URL`,
    /// `SHIPGATE_TEAMS_WEBHOOK_URL` or `SHIPGATE_DISCORD_WEBHOOK_URL`.
    pub url_env: Option<String>,
    /// The events sent. Default every event but `started` and `blocked`.
    pub events: Option<Vec<String>>,
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
