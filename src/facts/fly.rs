//! What `fly` reports, as the gates and the rollback policy read it: releases and machines. The
//! fly edge deserializes flyctl's JSON straight into these shapes; lenient where flyctl is (a field
//! of the wrong type reads as absent, never fails the whole answer).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

open_enum!(
    /// A release's `Status`, as flyctl writes it during a Machines deploy.
    ReleaseStatus {
        Running = "running",
        Complete = "complete",
        Failed = "failed",
        Interrupted = "interrupted",
    }
);

open_enum!(
    /// A machine's `state`; anything but `started` is "not ready".
    MachineState {
        Created = "created",
        Started = "started",
        Stopped = "stopped",
        Suspended = "suspended",
        Destroying = "destroying",
        Destroyed = "destroyed",
        Failed = "failed",
        Replacing = "replacing",
    }
);

open_enum!(
    /// A health check's `status` (Consul's three values).
    CheckStatus {
        Passing = "passing",
        Warning = "warning",
        Critical = "critical",
    }
);

/// One entry of `fly releases --json` (PascalCase: fly-go's `Release` has no json tags).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Release {
    #[serde(rename = "ID", deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub version: Option<u64>,
    #[serde(deserialize_with = "lenient")]
    pub stable: Option<bool>,
    #[serde(deserialize_with = "null_as_default")]
    pub status: ReleaseStatus,
    #[serde(deserialize_with = "lenient")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub description: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user: Option<User>,
    #[serde(deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "non_empty")]
    pub image_ref: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct User {
    #[serde(rename = "ID", deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(deserialize_with = "non_empty")]
    pub email: Option<String>,
}

/// `fly status --json`: PascalCase at the top, snake_case machines inside.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AppStatus {
    #[serde(rename = "ID", deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub deployed: Option<bool>,
    #[serde(deserialize_with = "lenient")]
    pub hostname: Option<String>,
    /// The current release version (0 when there is none).
    #[serde(deserialize_with = "lenient")]
    pub version: Option<u64>,
    #[serde(deserialize_with = "null_as_default")]
    pub machines: Vec<Machine>,
}

/// A machine (fly-go's `Machine`, snake_case), as in `fly machine list --json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Machine {
    pub id: String,
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub state: MachineState,
    #[serde(deserialize_with = "lenient")]
    pub region: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub image_ref: Option<ImageRef>,
    #[serde(deserialize_with = "lenient")]
    pub instance_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub version: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub config: Option<MachineConfig>,
    /// Sent instead of `config` when `host_status` is not `ok`: a partial configuration, enough
    /// to tell the machine's group and release.
    #[serde(deserialize_with = "lenient")]
    pub incomplete_config: Option<MachineConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub checks: Vec<Check>,
    #[serde(deserialize_with = "lenient")]
    pub host_status: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub cordoned: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ImageRef {
    #[serde(deserialize_with = "lenient")]
    pub registry: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub repository: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub tag: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MachineConfig {
    #[serde(deserialize_with = "non_empty")]
    pub image: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, serde_json::Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub services: Vec<MachineService>,
    /// The top-level checks configured, by name (their definitions are not read).
    #[serde(deserialize_with = "null_as_default")]
    pub checks: BTreeMap<String, serde_json::Value>,
    /// The machines this one stands by for: set on standbys only.
    #[serde(deserialize_with = "null_as_default")]
    pub standbys: Vec<String>,
}

/// One of a machine's `config.services`, as far as health needs it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MachineService {
    /// `autostop`: `false`/`"off"`, `true`/`"stop"` or `"suspend"` (booleans in API answers).
    #[serde(deserialize_with = "lenient_autostop")]
    pub autostop: Option<Autostop>,
    #[serde(deserialize_with = "lenient")]
    pub autostart: Option<bool>,
    /// The service checks configured (their definitions are not read).
    #[serde(deserialize_with = "null_as_default")]
    pub checks: Vec<serde_json::Value>,
}

/// A service's `autostop` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autostop {
    Off,
    Stop,
    Suspend,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Check {
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub status: CheckStatus,
    #[serde(deserialize_with = "lenient")]
    pub output: Option<String>,
}

impl ImageRef {
    /// fly-go's `FullImageRef`: `registry/repository[:tag][@digest]`; `None` without a repository.
    pub fn full(&self) -> Option<String> {
        let present =
            |s: &Option<String>| s.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
        let repository = present(&self.repository)?;
        let mut image = match present(&self.registry) {
            Some(registry) => format!("{registry}/{repository}"),
            None => repository,
        };
        if let Some(tag) = present(&self.tag) {
            image.push(':');
            image.push_str(&tag);
        }
        if let Some(digest) = present(&self.digest) {
            image.push('@');
            image.push_str(&digest);
        }
        Some(image)
    }
}

/// `fly_process_group` of the release command's machine.
pub const RELEASE_COMMAND_GROUP: &str = "fly_app_release_command";
/// `fly_process_group` of the machines `fly console` starts.
pub const CONSOLE_GROUP: &str = "fly_app_console";
/// `fly_process_group` of the test machines `fly deploy` runs (`FLY_TEST_COMMAND`).
pub const TEST_MACHINE_GROUP: &str = "fly_app_test_machine_command";
/// The process group `fly deploy` gives a machine of the platform that names none.
pub const DEFAULT_GROUP: &str = "app";

impl Machine {
    /// The image the machine runs: `image_ref` in full, else `config.image`.
    pub fn image(&self) -> Option<String> {
        self.image_ref
            .as_ref()
            .and_then(ImageRef::full)
            .or_else(|| self.config.as_ref().and_then(|c| c.image.clone()))
    }

    /// `config`, or `incomplete_config` when the host could not send the whole one.
    pub fn effective_config(&self) -> Option<&MachineConfig> {
        self.config.as_ref().or(self.incomplete_config.as_ref())
    }

    /// Part of the Fly Apps platform (`fly_platform_version` `v2`): what `fly deploy` manages.
    /// Machines started by hand (`fly machine run`) carry no such mark.
    pub fn on_apps_platform(&self) -> bool {
        self.metadata("fly_platform_version")
            .and_then(serde_json::Value::as_str)
            == Some("v2")
    }

    /// The release command's machine (`fly_app_release_command`, or the older
    /// `process_group: release_command`).
    pub fn is_release_command(&self) -> bool {
        self.process_group() == Some(RELEASE_COMMAND_GROUP)
            || self
                .metadata("process_group")
                .and_then(serde_json::Value::as_str)
                == Some("release_command")
    }

    /// A standby: its config lists the machines it stands by for.
    pub fn standby_for(&self) -> &[String] {
        self.effective_config()
            .map(|c| c.standbys.as_slice())
            .unwrap_or_default()
    }

    /// How many checks its config defines: top-level `checks` and every service's `checks`.
    pub fn configured_checks(&self) -> usize {
        self.effective_config().map_or(0, |c| {
            c.checks.len() + c.services.iter().map(|s| s.checks.len()).sum::<usize>()
        })
    }

    /// A service stops or starts it on demand (`autostop` not off, or `autostart`): `fly deploy`
    /// leaves such a machine stopped or suspended when it found it so.
    pub fn autoscaled(&self) -> bool {
        self.effective_config().is_some_and(|c| {
            c.services.iter().any(|s| {
                matches!(s.autostop, Some(Autostop::Stop | Autostop::Suspend))
                    || s.autostart == Some(true)
            })
        })
    }

    /// The check results, without the `bg_deployments_compat*` ones flaps adds for old clients.
    pub fn check_results(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| !c.name.starts_with("bg_deployments_compat"))
    }

    /// `config.metadata.fly_release_version` (a string in flyctl's output).
    pub fn release_version(&self) -> Option<u64> {
        match self.metadata("fly_release_version")? {
            serde_json::Value::String(text) => text.trim().parse().ok(),
            serde_json::Value::Number(number) => number.as_u64(),
            _ => None,
        }
    }

    /// `config.metadata.fly_process_group` (else the older `process_group`): set on app
    /// machines, not on one-off machines.
    pub fn process_group(&self) -> Option<&str> {
        ["fly_process_group", "process_group"]
            .into_iter()
            .filter_map(|key| self.metadata(key)?.as_str())
            .find(|g| !g.is_empty())
    }

    fn metadata(&self, key: &str) -> Option<&serde_json::Value> {
        self.effective_config()?.metadata.get(key)
    }

    /// At least one check result, and all of them `passing`.
    pub fn checks_passing(&self) -> bool {
        let mut results = self.check_results().peekable();
        results.peek().is_some() && results.all(|c| c.status == CheckStatus::Passing)
    }
}

impl Release {
    pub fn version(&self) -> u64 {
        self.version.unwrap_or(0)
    }
}

/// The line `fly deploy` prints with `FLY_EMIT_RELEASE_JSON=1`: `{"id":..,"version":N,"image_ref":..}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EmittedRelease {
    #[serde(deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub version: Option<u64>,
    #[serde(deserialize_with = "non_empty")]
    pub image_ref: Option<String>,
}

/// A field of the wrong type or shape is treated as absent rather than failing the whole answer.
fn lenient<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// `autostop` as fly-go reads it: a boolean (`true` is `stop`) or one of the three words; any
/// other value reads as absent.
fn lenient_autostop<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Autostop>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Bool(true) => Some(Autostop::Stop),
        serde_json::Value::Bool(false) => Some(Autostop::Off),
        serde_json::Value::String(word) => match word.as_str() {
            "off" => Some(Autostop::Off),
            "stop" => Some(Autostop::Stop),
            "suspend" => Some(Autostop::Suspend),
            _ => None,
        },
        _ => None,
    })
}

fn non_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(lenient::<D, String>(deserializer)?.filter(|s| !s.trim().is_empty()))
}

fn lenient_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(lenient::<D, String>(deserializer)?
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

fn null_as_default<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(lenient::<D, T>(deserializer)?.unwrap_or_default())
}
