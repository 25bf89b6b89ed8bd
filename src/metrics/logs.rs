//! The `logs` source: the app's recent log lines from `fly logs --app APP --no-tail --json`, read
//! once per interval, counted per rule's regex.
//!
//! What flyctl does, from its source (superfly/flyctl `internal/command/logs/logs.go`,
//! `logs/polling.go`, `logs/entry.go`, `internal/render/render.go`):
//!
//! - `--no-tail` (`-n`) makes one poll of the logs API (`GetAppLogs`) and prints that page; with
//!   an empty buffer it keeps polling and never returns, so an empty buffer ends in our timeout
//!   (no data, not an error). `--machine` (`-m`, alias `--instance`) filters to one machine;
//!   with several machines to follow, shipgate filters on its side instead.
//! - `--json` (`-j`) prints each entry with `render.JSON`: a JSON object indented with four
//!   spaces, one after the other (a stream of multi-line objects, not one object per line), with
//!   the fields `level`, `instance` (the machine id), `message`, `region`, `timestamp` (RFC 3339
//!   with nanoseconds) and `meta` (Go field names: `Instance`, `Region`, `Event`, `HTTP`, `Error`,
//!   `URL`).
//!
//! A line counts once: the reader keeps a cursor, the newest timestamp it has read, and the lines
//! at that very timestamp; a later read counts only what is newer. The first read (the baseline)
//! only sets the cursor. A line counts when its `instance` is one of the new release's machines
//! (all lines when none are given) and its message matches the rule's regex (unanchored, as
//! grep). `--no-tail` prints one page: in an interval with more lines than a page, the count is a
//! lower bound.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Deserialize;

use crate::facts::watch::Reading;
use crate::fly::{Fly, FlyError};

/// One entry of `fly logs --json` (flyctl `logs.LogEntry`); `meta` is not read.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub instance: String,
    #[serde(default)]
    pub region: String,
}

/// The entries of `fly logs --json` output: concatenated (indented) JSON objects.
pub fn parse_entries(stdout: &str) -> Result<Vec<Entry>, String> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Entry>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Where the last read ended.
#[derive(Debug, Clone, Default)]
struct Cursor {
    newest: Option<DateTime<Utc>>,
    /// The lines read at `newest` (instance and message), so a line at the same instant read again
    /// is not counted twice.
    at_newest: HashSet<(String, String)>,
}

impl Cursor {
    /// The entries newer than the cursor (each with its instant), and the cursor moved past them.
    fn advance<'e>(&mut self, entries: &'e [Entry]) -> Vec<&'e Entry> {
        let mut fresh = Vec::new();
        for entry in entries {
            let Ok(at) = DateTime::parse_from_rfc3339(&entry.timestamp) else {
                continue;
            };
            let at = at.with_timezone(&Utc);
            let key = (entry.instance.clone(), entry.message.clone());
            let new = match self.newest {
                None => true,
                Some(newest) if at > newest => true,
                Some(newest) => at == newest && !self.at_newest.contains(&key),
            };
            if new {
                fresh.push((at, entry));
            }
        }
        for (at, entry) in &fresh {
            match self.newest {
                Some(newest) if *at < newest => {}
                Some(newest) if *at == newest => {
                    self.at_newest
                        .insert((entry.instance.clone(), entry.message.clone()));
                }
                _ => {
                    self.newest = Some(*at);
                    self.at_newest.clear();
                    self.at_newest
                        .insert((entry.instance.clone(), entry.message.clone()));
                }
            }
        }
        fresh.into_iter().map(|(_, entry)| entry).collect()
    }
}

/// Reads an app's logs, once per interval, for every log rule.
#[derive(Debug)]
pub struct LogReader {
    fly: Fly,
    app: String,
    machines: Vec<String>,
    timeout: Duration,
    cursor: Option<Cursor>,
}

impl LogReader {
    pub fn new(fly: Fly, app: &str, machines: Vec<String>, timeout: Duration) -> LogReader {
        LogReader {
            fly,
            app: app.to_owned(),
            machines,
            timeout,
            cursor: None,
        }
    }

    /// `fly logs` as run.
    pub fn args(&self) -> Vec<String> {
        ["logs", "--app", &self.app, "--no-tail", "--json"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// Reads once and sets the cursor past every line read (an empty buffer, a cursor at none).
    pub async fn baseline(&mut self) {
        match self.read().await {
            Ok(entries) => {
                let mut cursor = Cursor::default();
                cursor.advance(&entries);
                self.cursor = Some(cursor);
            }
            Err(Unread::Empty(_)) => self.cursor = Some(Cursor::default()),
            Err(Unread::Failed(_)) => {}
        }
    }

    /// Reads once and counts, per pattern, the new lines of the machines followed that match.
    pub async fn measure(&mut self, patterns: &[&Regex]) -> Vec<Reading> {
        let entries = match self.read().await {
            Ok(entries) => entries,
            Err(Unread::Empty(why)) => {
                if self.cursor.is_none() {
                    self.cursor = Some(Cursor::default());
                }
                return patterns
                    .iter()
                    .map(|_| Reading::NoData { why: why.clone() })
                    .collect();
            }
            Err(Unread::Failed(why)) => {
                return patterns
                    .iter()
                    .map(|_| Reading::Error { why: why.clone() })
                    .collect()
            }
        };
        let Some(cursor) = self.cursor.as_mut() else {
            let mut cursor = Cursor::default();
            cursor.advance(&entries);
            self.cursor = Some(cursor);
            return patterns
                .iter()
                .map(|_| Reading::NoData {
                    why: "baseline: the first read of the logs, nothing to compare with yet"
                        .to_owned(),
                })
                .collect();
        };
        let fresh = cursor.advance(&entries);
        let followed: Vec<&Entry> = fresh
            .into_iter()
            .filter(|e| self.machines.is_empty() || self.machines.contains(&e.instance))
            .collect();
        patterns
            .iter()
            .map(|pattern| Reading::Value {
                value: followed
                    .iter()
                    .filter(|e| pattern.is_match(&e.message))
                    .count() as f64,
            })
            .collect()
    }

    async fn read(&self) -> Result<Vec<Entry>, Unread> {
        match self.fly.run(&self.args(), self.timeout).await {
            Ok(output) => parse_entries(&output.stdout()).map_err(|e| {
                Unread::Failed(format!(
                    "could not read the output of `fly logs --json`: {e}"
                ))
            }),
            // `--no-tail` polls until the buffer has a line: silence until the timeout is an
            // empty buffer as far as can be told.
            Err(FlyError::TimedOut { after, .. }) => Err(Unread::Empty(format!(
                "fly logs printed no line within {}s (an empty log buffer)",
                after.as_secs_f64()
            ))),
            Err(error) => Err(Unread::Failed(format!("fly logs: {error}"))),
        }
    }
}

enum Unread {
    Empty(String),
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As flyctl prints them: `render.JSON`, four-space indent, one object after the other.
    const OUTPUT: &str = r#"{
    "level": "info",
    "instance": "148e21ea7e3589",
    "message": "GET / 200",
    "region": "iad",
    "timestamp": "2026-08-12T16:25:00.123456789Z",
    "meta": {
        "Instance": "148e21ea7e3589",
        "Region": "iad",
        "Event": {
            "Provider": "app"
        },
        "HTTP": {
            "Request": {"ID": "", "Method": "", "Version": ""},
            "Response": {"status_code": 0}
        },
        "Error": {"Code": 0, "Message": ""},
        "URL": {"Full": ""}
    }
}
{
    "level": "error",
    "instance": "e286065f969386",
    "message": "panic: boom",
    "region": "ams",
    "timestamp": "2026-08-12T16:25:01Z",
    "meta": {}
}
"#;

    #[test]
    fn reads_flyctls_indented_stream() {
        let entries = parse_entries(OUTPUT).expect("two objects");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].instance, "148e21ea7e3589");
        assert_eq!(entries[1].message, "panic: boom");
        assert_eq!(entries[1].level, "error");
        assert_eq!(entries[1].region, "ams");
        assert!(parse_entries("").expect("nothing").is_empty());
        assert!(parse_entries("{\"message\": ").is_err());
    }

    fn entry(timestamp: &str, message: &str) -> Entry {
        Entry {
            timestamp: timestamp.to_owned(),
            message: message.to_owned(),
            level: "info".to_owned(),
            instance: "m1".to_owned(),
            region: "iad".to_owned(),
        }
    }

    #[test]
    fn the_cursor_counts_each_line_once() {
        let mut cursor = Cursor::default();
        let first = [
            entry("2026-08-12T16:25:00Z", "a"),
            entry("2026-08-12T16:25:01Z", "b"),
        ];
        assert_eq!(cursor.advance(&first).len(), 2);
        // Read again with one line more at the same instant and one later.
        let second = [
            entry("2026-08-12T16:25:00Z", "a"),
            entry("2026-08-12T16:25:01Z", "b"),
            entry("2026-08-12T16:25:01Z", "c"),
            entry("2026-08-12T16:25:01.5+00:00", "d"),
        ];
        let fresh: Vec<&str> = cursor
            .advance(&second)
            .iter()
            .map(|e| e.message.as_str())
            .collect();
        assert_eq!(fresh, ["c", "d"]);
        assert!(cursor.advance(&second).is_empty());
        // An unparsable timestamp is skipped, not counted.
        assert!(cursor.advance(&[entry("yesterday", "e")]).is_empty());
    }
}
