//! Kubernetes Events (`events.k8s.io/v1`) with a small, bounded memory of recent ones.
//!
//! A repeated Event (same object, type, reason, action and note within [`SERIES_WINDOW`]) is
//! not created again: the first one's `series` is patched with the new count, as
//! `kubectl describe` expects. Only a compact record of the last [`CAPACITY`] Events is kept
//! (their name and count, not the Event), so a first sync of thousands of SealedSecrets does
//! not hold thousands of Event objects in memory (kube-runtime's `Recorder` keeps every Event
//! it published for six minutes and scans them all on every publish).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// How long a repeat still joins the first Event's series (client-go and kube-runtime: 6 min).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// How many recent Events are remembered for series; older ones start a new Event.
pub const CAPACITY: usize = 512;

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Normal`
    Normal,
    /// `Warning`
    Warning,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        }
    }
}

/// One Event to record.
#[derive(Clone, Debug)]
pub struct Note<'a> {
    /// Normal or Warning.
    pub kind: Kind,
    /// CamelCase reason, e.g. `Unsealed`.
    pub reason: &'a str,
    /// What the controller was doing, e.g. `Unseal`.
    pub action: &'a str,
    /// Human-readable text (never secret material).
    pub note: &'a str,
}

#[derive(Debug)]
struct Recent {
    name: String,
    count: i32,
    last: Instant,
}

/// Publishes Events as `reportingController`/`reportingInstance`.
pub struct Publisher {
    client: Client,
    controller: String,
    instance: String,
    recent: Mutex<HashMap<String, Recent>>,
}

impl Publisher {
    /// A publisher reporting as `controller`, instance `instance` (the controller's name if
    /// none).
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or_else(|| controller.to_string()),
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Records `note` about `regarding`: creates an Event, or adds to the series of a recent
    /// identical one.
    pub async fn publish(
        &self,
        note: &Note<'_>,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        let key = series_key(note, regarding);
        let now = Instant::now();
        let repeat = self.with_recent(|recent| {
            recent
                .get(&key)
                .filter(|r| now.duration_since(r.last) < SERIES_WINDOW)
                .map(|r| (r.name.clone(), r.count + 1))
        });
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({
                "series": EventSeries { count, last_observed_time: MicroTime(jiff::Timestamp::now()) }
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.remember(key, name, count, now);
                    return Ok(());
                }
                // The Event expired or was deleted: start a new one.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let event = self.new_event(note, regarding);
        let created = api.create(&PostParams::default(), &event).await?;
        let name = created
            .metadata
            .name
            .or(event.metadata.name)
            .unwrap_or_default();
        self.remember(key, name, 1, now);
        Ok(())
    }

    fn new_event(&self, note: &Note<'_>, regarding: &ObjectReference) -> K8sEvent {
        let now = jiff::Timestamp::now();
        let base = regarding.name.as_deref().unwrap_or(&self.controller);
        K8sEvent {
            action: Some(note.action.to_string()),
            reason: Some(note.reason.to_string()),
            note: Some(note.note.to_string()),
            type_: Some(note.kind.as_str().to_string()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(format!("{base}.{:x}", now.as_nanosecond())),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn remember(&self, key: String, name: String, count: i32, now: Instant) {
        self.with_recent(|recent| {
            recent.insert(
                key,
                Recent {
                    name,
                    count,
                    last: now,
                },
            );
            prune(recent, now);
        });
    }

    fn with_recent<T>(&self, f: impl FnOnce(&mut HashMap<String, Recent>) -> T) -> T {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        let mut guard = match self.recent.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// How many recent Events are remembered (for tests and the memory bound).
    pub fn remembered(&self) -> usize {
        self.with_recent(|r| r.len())
    }
}

/// Drops expired records and, above [`CAPACITY`], the least recently seen.
fn prune(recent: &mut HashMap<String, Recent>, now: Instant) {
    if recent.len() <= CAPACITY {
        return;
    }
    recent.retain(|_, r| now.duration_since(r.last) < SERIES_WINDOW);
    if recent.len() <= CAPACITY {
        return;
    }
    // Keep the newest three quarters, so that this O(n log n) pass runs at most once per
    // CAPACITY/4 publishes.
    let mut ages: Vec<Instant> = recent.values().map(|r| r.last).collect();
    ages.sort_unstable();
    if let Some(&cut) = ages.get(ages.len() - CAPACITY * 3 / 4) {
        recent.retain(|_, r| r.last >= cut);
    }
}

/// What makes two Events the same occurrence (the object by uid, so a new object of the same
/// name starts a new series).
fn series_key(note: &Note<'_>, regarding: &ObjectReference) -> String {
    let part = |s: Option<&str>| s.unwrap_or_default().to_string();
    [
        note.kind.as_str().to_string(),
        note.reason.to_string(),
        note.action.to_string(),
        part(regarding.kind.as_deref()),
        part(regarding.namespace.as_deref()),
        part(regarding.name.as_deref()),
        part(regarding.uid.as_deref()),
        note.note.to_string(),
    ]
    .join("\u{0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(last: Instant) -> Recent {
        Recent {
            name: "e".into(),
            count: 1,
            last,
        }
    }

    #[test]
    fn memory_of_recent_events_is_bounded() {
        let mut recent = HashMap::new();
        let start = Instant::now();
        for i in 0..5_000u64 {
            let now = start + Duration::from_millis(i);
            recent.insert(format!("k{i}"), record(now));
            prune(&mut recent, now);
            assert!(
                recent.len() <= CAPACITY,
                "{} records after {i}",
                recent.len()
            );
        }
        // The newest is always kept.
        assert!(recent.contains_key("k4999"));
    }

    #[test]
    fn expired_records_go_first() {
        let mut recent = HashMap::new();
        let start = Instant::now();
        for i in 0..CAPACITY {
            recent.insert(format!("old{i}"), record(start));
        }
        let later = start + SERIES_WINDOW + Duration::from_secs(1);
        recent.insert("new".into(), record(later));
        prune(&mut recent, later);
        assert_eq!(recent.len(), 1);
        assert!(recent.contains_key("new"));
    }

    #[test]
    fn series_key_tells_objects_notes_and_reasons_apart() {
        let obj = |uid: &str| ObjectReference {
            kind: Some("SealedSecret".into()),
            namespace: Some("ns".into()),
            name: Some("a".into()),
            uid: Some(uid.into()),
            resource_version: Some("1".into()),
            ..Default::default()
        };
        let n = |reason: &'static str, note: &'static str| Note {
            kind: Kind::Warning,
            reason,
            action: "Unseal",
            note,
        };
        let base = series_key(&n("ErrUnsealFailed", "x"), &obj("u1"));
        // The resourceVersion does not matter (retries of one object join one series).
        let mut other_rv = obj("u1");
        other_rv.resource_version = Some("2".into());
        assert_eq!(base, series_key(&n("ErrUnsealFailed", "x"), &other_rv));
        assert_ne!(base, series_key(&n("ErrUnsealFailed", "x"), &obj("u2")));
        assert_ne!(base, series_key(&n("ErrUnsealFailed", "y"), &obj("u1")));
        assert_ne!(base, series_key(&n("Unsealed", "x"), &obj("u1")));
    }
}
