//! `/metrics`: deliveries by event and result, decisions by outcome, the evaluation latency and
//! the holds pending, in the OpenMetrics text format Prometheus scrapes (`prometheus-client`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    event: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    evaluation_seconds: Histogram,
    holds_pending: Gauge,
}

/// What became of a delivery, as the `result` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    Accepted,
    Duplicate,
    Ignored,
    Unauthorized,
    BadRequest,
    Unsupported,
    Unavailable,
}

impl DeliveryResult {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Accepted => "accepted",
            DeliveryResult::Duplicate => "duplicate",
            DeliveryResult::Ignored => "ignored",
            DeliveryResult::Unauthorized => "unauthorized",
            DeliveryResult::BadRequest => "bad_request",
            DeliveryResult::Unsupported => "unsupported_media_type",
            DeliveryResult::Unavailable => "unavailable",
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("shipgate_serve");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        // 1 ms .. ~65 s: an evaluation may wait for pending checks.
        let evaluation_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let holds_pending = Gauge::default();
        registry.register(
            "deliveries",
            "Webhook deliveries received, by X-GitHub-Event and what the server did",
            deliveries.clone(),
        );
        registry.register(
            "decisions",
            "Protection-rule decisions by outcome (approved, rejected, held, error)",
            decisions.clone(),
        );
        registry.register(
            "evaluation_seconds",
            "Time to evaluate a protection-rule request",
            evaluation_seconds.clone(),
        );
        registry.register(
            "holds_pending",
            "Requests held until their window opens (all replicas)",
            holds_pending.clone(),
        );
        Metrics {
            registry,
            deliveries,
            decisions,
            evaluation_seconds,
            holds_pending,
        }
    }
}

impl Metrics {
    pub fn delivery(&self, event: &str, result: DeliveryResult) {
        // The event label is bounded: names GitHub does not send are counted as `other`.
        let event =
            if event.len() <= 64 && event.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                event
            } else {
                "other"
            };
        self.deliveries
            .get_or_create(&DeliveryLabels {
                event: event.to_owned(),
                result: result.as_str(),
            })
            .inc();
    }

    pub fn decision(&self, outcome: &'static str, seconds: f64) {
        self.decisions
            .get_or_create(&DecisionLabels { outcome })
            .inc();
        self.evaluation_seconds.observe(seconds);
    }

    /// The text of a scrape, with the holds pending read just before.
    pub fn render(&self, holds_pending: i64) -> String {
        self.holds_pending.set(holds_pending);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_counts_by_label() {
        let metrics = Metrics::default();
        metrics.delivery("deployment_protection_rule", DeliveryResult::Accepted);
        metrics.delivery("deployment_protection_rule", DeliveryResult::Accepted);
        metrics.delivery("Push\n", DeliveryResult::Ignored);
        metrics.decision("approved", 0.003);
        let text = metrics.render(7);
        assert!(text.contains(
            "shipgate_serve_deliveries_total{event=\"deployment_protection_rule\",result=\"accepted\"} 2"
        ), "{text}");
        assert!(
            text.contains("shipgate_serve_deliveries_total{event=\"other\",result=\"ignored\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("shipgate_serve_decisions_total{outcome=\"approved\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("shipgate_serve_evaluation_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains("shipgate_serve_holds_pending 7"), "{text}");
    }
}
