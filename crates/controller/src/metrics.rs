//! Prometheus metrics with upstream's names (`sealed_secrets_controller_*`), plus reconcile
//! duration, pending work and per-key usage.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sealed_secrets_core::SealedSecretKeyUsage;
use sealed_secrets_core::keyusage::Tally;

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub reason: String,
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub namespace: String,
    pub name: String,
    pub condition: String,
    pub ss_app_kubernetes_io_instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub path: String,
    pub code: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpDurationLabels {
    pub path: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub revision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabels {
    pub fingerprint: String,
    pub secret: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

/// The `method` label of the HTTP metrics: a fixed set, so made-up methods cannot create
/// new series.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn default_buckets() -> impl Iterator<Item = f64> {
    // Prometheus' default histogram buckets, like upstream.
    [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
}

/// Registers `metric` under `name` and hands back the handle the controller updates.
fn add<M: prometheus_client::registry::Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// A histogram family whose histograms have the given buckets.
fn histograms<L: Clone + std::hash::Hash + Eq>(new: fn() -> Histogram) -> Family<L, Histogram> {
    Family::new_with_constructor(new)
}

/// The per-key gauges, labelled with the key's fingerprint and its Secret's name (empty for
/// a key that is needed but not loaded).
pub struct KeyGauges {
    /// `…_key_unsealed_items`: items each loaded key decrypted since start.
    unsealed_items: Family<KeyLabels, Gauge>,
    /// `…_key_sealedsecrets`: SealedSecrets with an item that needs the key.
    sealedsecrets: Family<KeyLabels, Gauge>,
    /// `…_key_sealedsecret_items`: items that need the key.
    sealedsecret_items: Family<KeyLabels, Gauge>,
}

impl KeyGauges {
    fn clear(&self) {
        self.unsealed_items.clear();
        self.sealedsecrets.clear();
        self.sealedsecret_items.clear();
    }

    /// One key's series; `uses` only for a loaded key.
    fn set(&self, fingerprint: &str, secret: &str, uses: Option<u64>, needed: Tally) {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let labels = KeyLabels {
            fingerprint: fingerprint.to_string(),
            secret: secret.to_string(),
        };
        if let Some(uses) = uses {
            self.unsealed_items.get_or_create(&labels).set(gauge(uses));
        }
        self.sealedsecrets
            .get_or_create(&labels)
            .set(gauge(needed.sealed_secrets));
        self.sealedsecret_items
            .get_or_create(&labels)
            .set(gauge(needed.items));
    }
}

/// Every metric the controller exports.
pub struct Metrics {
    pub registry: Registry,
    /// `…_unseal_requests_total`: reconciles started.
    pub unseal_requests: Counter,
    /// `…_unseal_errors_total{reason, namespace}`: failures by error category.
    pub unseal_errors: Family<ErrorLabels, Counter>,
    /// `…_condition_info{namespace, name, condition, ss_app_kubernetes_io_instance}`: each SealedSecret's `Synced` condition (-1, 0, 1).
    pub condition_info: Family<ConditionLabels, Gauge>,
    /// `…_http_requests_total{path, code, method}`.
    pub http_requests: Family<HttpLabels, Counter>,
    /// `…_http_request_duration_seconds{path, method}`.
    pub http_duration: Family<HttpDurationLabels, Histogram>,
    /// `…_reconcile_duration_seconds{result}`.
    pub reconcile_duration: Family<ResultLabels, Histogram>,
    /// `…_pending_sealedsecrets`: not yet reconciled at their generation.
    pub pending: Gauge,
    /// `…_reconciles_in_flight`.
    pub in_flight: Gauge,
    /// Unseals holding a CPU permit right now (never more than the CPU limit).
    pub unseals_running: Gauge,
    /// The per-key gauges.
    pub keys: KeyGauges,
    /// `…_keys_loaded`.
    pub keys_loaded: Gauge,
    /// `…_key_load_errors_total`: key Secrets that could not be loaded.
    pub key_errors: Counter,
    /// 1 while this replica holds the leader Lease (or leader election is off), else 0.
    pub leader: Gauge,
    /// SealedSecrets decrypted (each costs at least one RSA operation).
    pub decryptions: Counter,
    /// SealedSecrets found in sync by the MAC on their Secret, without decrypting.
    pub verified_without_decrypting: Counter,
    /// SealedSecret (ns/name) → the keys its items need (from its last successful unseal, or
    /// from its `status.keys` until it is unsealed again).
    needs: Mutex<BTreeMap<String, Vec<SealedSecretKeyUsage>>>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("sealed_secrets_controller");
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                revision: sealed_secrets_core::build_version(),
            })
            .set(1);
        r.register(
            "build_info",
            "Build information (revision label); always 1",
            build_info,
        );
        Self {
            unseal_requests: add(
                &mut r,
                "unseal_requests",
                "Total number of sealed secret unseal requests",
                Counter::default(),
            ),
            unseal_errors: add(
                &mut r,
                "unseal_errors",
                "Total number of sealed secret unseal errors by reason",
                Family::default(),
            ),
            condition_info: add(
                &mut r,
                "condition_info",
                "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)",
                Family::default(),
            ),
            http_requests: add(
                &mut r,
                "http_requests",
                "Total number of HTTP requests by path, code and method",
                Family::default(),
            ),
            http_duration: add(
                &mut r,
                "http_request_duration_seconds",
                "HTTP request latencies in seconds",
                histograms(|| Histogram::new(default_buckets())),
            ),
            reconcile_duration: add(
                &mut r,
                "reconcile_duration_seconds",
                "Duration of SealedSecret reconciles by result (success, error, skipped)",
                histograms(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))),
            ),
            pending: add(
                &mut r,
                "pending_sealedsecrets",
                "SealedSecrets whose current generation has not been reconciled successfully yet (work queue depth)",
                Gauge::default(),
            ),
            in_flight: add(
                &mut r,
                "reconciles_in_flight",
                "Reconciles running right now",
                Gauge::default(),
            ),
            unseals_running: add(
                &mut r,
                "unseals_running",
                "Unseals running right now (bounded by the CPU limit)",
                Gauge::default(),
            ),
            keys: KeyGauges {
                unsealed_items: add(
                    &mut r,
                    "key_unsealed_items",
                    "Items decrypted by each sealing key since the controller started",
                    Family::default(),
                ),
                sealedsecrets: add(
                    &mut r,
                    "key_sealedsecrets",
                    "SealedSecrets with at least one item that needs each key (every item counted; see README: retiring a key)",
                    Family::default(),
                ),
                sealedsecret_items: add(
                    &mut r,
                    "key_sealedsecret_items",
                    "Items of SealedSecrets that need each key",
                    Family::default(),
                ),
            },
            keys_loaded: add(
                &mut r,
                "keys_loaded",
                "Sealing keys loaded",
                Gauge::default(),
            ),
            key_errors: add(
                &mut r,
                "key_load_errors",
                "Key Secrets that could not be loaded",
                Counter::default(),
            ),
            leader: add(
                &mut r,
                "leader",
                "1 if this replica is the leader (reconciles and manages keys), else 0",
                Gauge::default(),
            ),
            decryptions: add(
                &mut r,
                "unseal_decryptions",
                "SealedSecrets decrypted (at least one RSA operation each)",
                Counter::default(),
            ),
            verified_without_decrypting: add(
                &mut r,
                "unseal_verified_without_decryption",
                "SealedSecrets whose Secret was found in sync by its MAC, without decrypting",
                Counter::default(),
            ),
            registry: r,
            needs: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn error(&self, reason: &str, namespace: &str) {
        self.unseal_errors
            .get_or_create(&ErrorLabels {
                reason: reason.to_string(),
                namespace: namespace.to_string(),
            })
            .inc();
    }

    pub fn set_condition(&self, namespace: &str, name: &str, instance: &str, ok: bool) {
        self.condition_info
            .get_or_create(&ConditionLabels {
                namespace: namespace.into(),
                name: name.into(),
                condition: "Synced".into(),
                ss_app_kubernetes_io_instance: instance.into(),
            })
            .set(if ok { 1 } else { -1 });
    }

    /// Drops the per-object series of a deleted SealedSecret.
    pub fn forget(&self, namespace: &str, name: &str, instance: &str) {
        self.condition_info.remove(&ConditionLabels {
            namespace: namespace.into(),
            name: name.into(),
            condition: "Synced".into(),
            ss_app_kubernetes_io_instance: instance.into(),
        });
        self.needs().remove(&format!("{namespace}/{name}"));
    }

    fn needs(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<SealedSecretKeyUsage>>> {
        self.needs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the keys a SealedSecret's items needed when it was just unsealed.
    pub fn record_keys(&self, namespace: &str, name: &str, record: &[SealedSecretKeyUsage]) {
        self.needs()
            .insert(format!("{namespace}/{name}"), record.to_vec());
    }

    /// Forgets every SealedSecret's needs (leadership lost: the next leader counts).
    pub fn forget_all_keys(&self) {
        self.needs().clear();
    }

    /// Takes a SealedSecret's `status.keys` as its needs unless it was unsealed since the
    /// controller started (how the counts survive a restart without decrypting).
    pub fn seed_keys(&self, namespace: &str, name: &str, record: &[SealedSecretKeyUsage]) {
        self.needs()
            .entry(format!("{namespace}/{name}"))
            .or_insert_with(|| record.to_vec());
    }

    /// Refreshes the per-key gauges: items decrypted by each loaded key since start, and how
    /// many SealedSecrets (and items) need each key. Keys that are needed but not loaded get
    /// series with an empty `secret` label.
    pub fn refresh_keys(&self, usage: &BTreeMap<String, (String, u64)>) {
        let tally = {
            let needs = self.needs();
            sealed_secrets_core::keyusage::tally(needs.values().map(Vec::as_slice))
        };
        self.keys.clear();
        for (fp, (secret, uses)) in usage {
            let t = tally.get(fp).copied().unwrap_or_default();
            self.keys.set(fp, secret, Some(*uses), t);
        }
        for (fp, t) in tally.iter().filter(|(fp, _)| !usage.contains_key(*fp)) {
            self.keys.set(fp, "", None, *t);
        }
        self.keys_loaded
            .set(i64::try_from(usage.len()).unwrap_or(i64::MAX));
    }

    /// The text exposition (Prometheus/OpenMetrics text format).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_label_is_a_fixed_set() {
        for (m, want) in [
            ("GET", "GET"),
            ("HEAD", "HEAD"),
            ("POST", "POST"),
            ("PUT", "PUT"),
            ("DELETE", "DELETE"),
            ("PATCH", "PATCH"),
            ("OPTIONS", "OPTIONS"),
            ("TRACE", "other"),
            ("CONNECT", "other"),
            ("BREW", "other"),
            ("get", "other"),
            ("XYZZY123", "other"),
        ] {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(method_label(&method), want, "{m}");
        }
    }

    #[test]
    fn names_like_upstream() {
        let m = Metrics::new();
        m.unseal_requests.inc();
        m.error("unseal", "ns");
        m.set_condition("ns", "a", "", true);
        m.http_requests
            .get_or_create(&HttpLabels {
                path: "/v1/cert.pem".into(),
                code: "200".into(),
                method: "GET".into(),
            })
            .inc();
        m.refresh_keys(&BTreeMap::from([(
            "SHA256:x".to_string(),
            ("k1".to_string(), 3u64),
        )]));
        let text = m.encode();
        for name in [
            "sealed_secrets_controller_build_info{revision=",
            "sealed_secrets_controller_unseal_requests_total 1",
            "sealed_secrets_controller_unseal_errors_total{reason=\"unseal\",namespace=\"ns\"} 1",
            "sealed_secrets_controller_condition_info{namespace=\"ns\",name=\"a\",condition=\"Synced\",ss_app_kubernetes_io_instance=\"\"} 1",
            "sealed_secrets_controller_http_requests_total{path=\"/v1/cert.pem\",code=\"200\",method=\"GET\"} 1",
            "sealed_secrets_controller_key_unsealed_items{fingerprint=\"SHA256:x\",secret=\"k1\"} 3",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
        m.forget("ns", "a", "");
        assert!(!m.encode().contains("name=\"a\""));
    }

    /// Refreshes the per-key gauges with `loaded` keys and checks, for each of `counts`
    /// (fingerprint, key Secret, SealedSecrets, items), the two series of that key; returns the
    /// exposition.
    fn refreshed(
        m: &Metrics,
        loaded: &BTreeMap<String, (String, u64)>,
        counts: &[(&str, &str, u32, u32)],
    ) -> String {
        m.refresh_keys(loaded);
        let text = m.encode();
        for (fp, secret, sealedsecrets, items) in counts {
            let labels = format!("{{fingerprint=\"{fp}\",secret=\"{secret}\"}}");
            for line in [
                format!("sealed_secrets_controller_key_sealedsecrets{labels} {sealedsecrets}"),
                format!("sealed_secrets_controller_key_sealedsecret_items{labels} {items}"),
            ] {
                assert!(text.contains(&line), "missing {line} in\n{text}");
            }
        }
        text
    }

    #[test]
    fn per_key_counts_follow_updates_deletions_and_restarts() {
        let u = |fp: &str, items: &[&str]| SealedSecretKeyUsage {
            fingerprint: fp.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
        };
        let loaded = BTreeMap::from([
            ("A".to_string(), ("ka".to_string(), 0u64)),
            ("B".to_string(), ("kb".to_string(), 0u64)),
        ]);
        let m = Metrics::new();
        m.record_keys("ns", "a-only", &[u("A", &["p", "q"])]);
        m.record_keys("ns", "mixed", &[u("A", &["x"]), u("B", &["y", "z"])]);
        // Seeded from status after a restart.
        m.seed_keys("ns", "b-only", &[u("B", &["v"])]);
        // A stale status never overrides what an unseal found.
        m.seed_keys("ns", "mixed", &[u("C", &["x"])]);
        let text = refreshed(&m, &loaded, &[("A", "ka", 2, 3), ("B", "kb", 2, 3)]);
        assert!(!text.contains("fingerprint=\"C\""));
        // Re-encrypted with B, then a deletion; a record naming an unloaded key shows up.
        m.record_keys("ns", "a-only", &[u("B", &["p", "q"])]);
        m.forget("ns", "b-only", "");
        m.record_keys("ns", "old", &[u("Z", &["k"])]);
        let counts = [("A", "ka", 1, 1), ("B", "kb", 2, 4), ("Z", "", 1, 1)];
        let text = refreshed(&m, &loaded, &counts);
        // The unloaded key has no "decrypted since start" series.
        assert!(!text.contains("key_unsealed_items{fingerprint=\"Z\""));
    }
}
