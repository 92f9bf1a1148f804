//! Prometheus metrics of a metadata server, served as `/metrics` by
//! [`crate::status_listener`]. Labels are bounded: operation names and
//! outcome codes, never ids.

use std::time::Duration;

use nimbus_protocol::rpc::{CommitReply, ItemOutcome};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Latency buckets of RPC operations, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct ServerMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    commits: IntCounterVec,
    commit_items: IntCounterVec,
}

impl ServerMetrics {
    pub fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "nimbus_server_rpc_requests_total",
                "RPC requests answered, by operation and outcome (ok or an error code)",
            ),
            &["operation", "outcome"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "nimbus_server_rpc_duration_seconds",
                "Time from taking an RPC request to its answer, by operation",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let commits = IntCounterVec::new(
            Opts::new(
                "nimbus_server_commits_total",
                "Commits answered: written (a new revision), unchanged (nothing to write) \
                 or replayed (a re-sent commit answered from its first result)",
            ),
            &["result"],
        )
        .expect("valid metric");
        let commit_items = IntCounterVec::new(
            Opts::new(
                "nimbus_server_commit_items_total",
                "Items of first-time commits, by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let registry = Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(commits.clone()),
            Box::new(commit_items.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            commits,
            commit_items,
        }
    }

    /// Records one answered request.
    pub fn observe_request(&self, operation: &str, outcome: &str, elapsed: Duration) {
        self.requests.with_label_values(&[operation, outcome]).inc();
        self.latency
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    /// Records a commit's answer; a replayed one counts no items again.
    pub fn observe_commit(&self, reply: &CommitReply, wrote: bool, replayed: bool) {
        let result = match (replayed, wrote) {
            (true, _) => "replayed",
            (false, true) => "written",
            (false, false) => "unchanged",
        };
        self.commits.with_label_values(&[result]).inc();
        if replayed {
            return;
        }
        for item in &reply.results {
            let outcome = match item.outcome {
                ItemOutcome::Committed { .. } => "committed",
                ItemOutcome::Unchanged { .. } => "unchanged",
                ItemOutcome::Conflict { .. } => "conflict",
                ItemOutcome::Refused { .. } => "refused",
            };
            self.commit_items.with_label_values(&[outcome]).inc();
        }
    }

    /// Every metric in Prometheus' text format.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .expect("metrics encode as text")
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}
