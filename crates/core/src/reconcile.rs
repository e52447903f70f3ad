//! The decisions of a reconcile, free of I/O: how an unsealed Secret is merged into an existing
//! one (`managed` / `patch` semantics), and when the status (`Synced` and `Ready` conditions,
//! `observedGeneration`) must be written.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::annotations::{MANAGED, PATCH};
use crate::types::{
    CONDITION_READY, CONDITION_SYNCED, SealedSecret, SealedSecretCondition, SealedSecretStatus,
};

/// The label whose value the controller reports with each SealedSecret's condition metric
/// (upstream's `ss_app_kubernetes_io_instance` label).
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// The prefix of this project's annotations: on a SealedSecret they carry its scope and its
/// key hint.
const OWN_ANNOTATIONS: &str = "sealedsecrets.bitnami.com/";

/// Drops from a SealedSecret what a reconcile does not need until it decrypts, before the
/// controller caches it: `managedFields`, every label but [`INSTANCE_LABEL`], every annotation
/// but this project's own (kubectl's last-applied copy of the whole object goes with the
/// rest), and the whole spec (ciphertexts and template: about half of a cached object), whose
/// digest is kept in [`SealedSecretSpec::trimmed`](crate::SealedSecretSpec::trimmed).
/// Identity, scope, status and the spec digest stay, so every decision before decrypting (the
/// scope, the key order, the MAC check, the status comparison) is the same on the trimmed
/// object; decrypting needs the object read again (`unseal` refuses a trimmed one).
pub fn trim_for_cache(ss: &mut SealedSecret) {
    if !ss.spec.is_trimmed() {
        let digest = crate::syncmac::spec_digest(ss);
        ss.spec = crate::SealedSecretSpec {
            trimmed: Some(digest),
            ..Default::default()
        };
    }
    let meta = &mut ss.metadata;
    meta.managed_fields = None;
    // An emptied map is dropped, not kept as an allocated empty node.
    if let Some(mut labels) = meta.labels.take() {
        labels.retain(|k, _| k == INSTANCE_LABEL);
        meta.labels = (!labels.is_empty()).then_some(labels);
    }
    if let Some(mut annotations) = meta.annotations.take() {
        annotations.retain(|k, _| k.starts_with(OWN_ANNOTATIONS));
        meta.annotations = (!annotations.is_empty()).then_some(annotations);
    }
}

/// What to do with the Secret.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretAction {
    /// No Secret exists: create the desired one.
    Create(Secret),
    /// The Secret exists and must be replaced by this (full update).
    Update(Secret),
    /// The Secret already matches.
    Unchanged,
}

/// The existing Secret may not be touched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Resource {0:?} already exists and is not managed by SealedSecret")]
pub struct Unmanaged(pub String);

fn annotation_true(secret: &Secret, key: &str) -> bool {
    secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .is_some_and(|v| v == "true")
}

/// True if the object with `meta` (a Secret, or just its metadata) is controlled by the
/// SealedSecret with `owner_uid`: the one owner check, for reconciling and for deleting.
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references.as_ref().is_some_and(|refs| {
        refs.iter()
            .any(|r| r.controller == Some(true) && r.uid == owner_uid)
    })
}

/// Decides how to bring `existing` to `desired` (upstream's rules):
///
/// - no Secret: create;
/// - a Secret not controlled by this SealedSecret and without `managed`/`patch`: refuse;
/// - replace mode: data, labels, annotations and ownerReferences are replaced;
/// - patch mode (`patch: "true"` on the existing Secret): data, labels and annotations are
///   merged over the existing ones, ownerReferences replaced only if `managed` is also set;
/// - `type` is always set; `immutable` is never changed on an existing Secret.
pub fn plan_secret(
    existing: Option<&Secret>,
    desired: Secret,
    owner_uid: &str,
) -> Result<SecretAction, Unmanaged> {
    let Some(existing) = existing else {
        return Ok(SecretAction::Create(desired));
    };
    let managed = annotation_true(existing, MANAGED);
    let patch = annotation_true(existing, PATCH);
    if !is_controlled_by(&existing.metadata, owner_uid) && !managed && !patch {
        return Err(Unmanaged(
            existing.metadata.name.clone().unwrap_or_default(),
        ));
    }
    let mut next = existing.clone();
    if patch {
        if let Some(d) = desired.data {
            next.data.get_or_insert_with(Default::default).extend(d);
        }
        if let Some(l) = desired.metadata.labels {
            next.metadata
                .labels
                .get_or_insert_with(Default::default)
                .extend(l);
        }
        if let Some(a) = desired.metadata.annotations {
            next.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .extend(a);
        }
        if managed {
            next.metadata.owner_references = desired.metadata.owner_references;
        }
    } else {
        next.data = desired.data;
        next.metadata.labels = desired.metadata.labels;
        next.metadata.annotations = desired.metadata.annotations;
        next.metadata.owner_references = desired.metadata.owner_references;
    }
    next.type_ = desired.type_;
    // `stringData` never comes back from the API server; never send one.
    next.string_data = None;
    if same_content(existing, &next) {
        Ok(SecretAction::Unchanged)
    } else {
        Ok(SecretAction::Update(next))
    }
}

/// Semantic equality of the parts the controller manages. An absent map equals an empty one.
fn same_content(a: &Secret, b: &Secret) -> bool {
    fn norm<T: Clone + Default>(o: &Option<T>) -> T {
        o.clone().unwrap_or_default()
    }
    // The MAC annotation is the controller's own record, not content: it is compared by
    // `syncmac::verify`, never here.
    let ann = |s: &Secret| {
        let mut m = norm(&s.metadata.annotations);
        m.remove(crate::syncmac::ANNOTATION);
        m
    };
    norm(&a.data) == norm(&b.data)
        && norm(&a.metadata.labels) == norm(&b.metadata.labels)
        && ann(a) == ann(b)
        && norm(&a.metadata.owner_references) == norm(&b.metadata.owner_references)
        && a.type_.as_deref().unwrap_or("Opaque") == b.type_.as_deref().unwrap_or("Opaque")
}

/// The error text the API server returns when data of an immutable Secret changes.
pub const IMMUTABLE_SUFFIX: &str = "field is immutable when `immutable` is set";

/// The explanation given instead of the API server's message for an immutable Secret.
pub const IMMUTABLE_MESSAGE: &str = "the Secret is immutable (`immutable: true`) and its data changed: \
Kubernetes does not allow this. Delete the Secret so the controller can recreate it with the new data";

/// The reason of the `Ready` condition when the Secret is in sync.
pub const READY_REASON_SUCCEEDED: &str = "Succeeded";

/// The status after a reconcile, or `None` when nothing needs writing (same outcome, same
/// message, same observed generation, both conditions present): status writes never loop.
///
/// The contract GitOps tools rely on (README, "Status contract"):
///
/// - exactly one `Synced` condition, first in the list, `"True"` or `"False"` (with the
///   error's category as `reason` and a message naming the failing items, never content);
/// - exactly one `Ready` condition (kstatus) with the same status;
/// - `observedGeneration` is the generation this outcome was computed for, after every
///   reconcile, whether or not the outcome changed;
/// - `lastTransitionTime` of a condition moves only when its status changes.
pub fn next_status(
    current: Option<&SealedSecretStatus>,
    generation: Option<i64>,
    outcome: Result<(), (&str, &str)>,
    now: Time,
) -> Option<SealedSecretStatus> {
    let (status, reason, message) = match outcome {
        Ok(()) => ("True", None, None),
        Err((reason, message)) => ("False", Some(reason.to_string()), Some(message.to_string())),
    };
    let old_conditions = current.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
    let find = |t: &str| old_conditions.iter().find(|c| c.type_ == t);
    let synced = condition(
        find(CONDITION_SYNCED),
        CONDITION_SYNCED,
        status,
        reason.clone(),
        message.clone(),
        &now,
    );
    let ready = condition(
        find(CONDITION_READY),
        CONDITION_READY,
        status,
        Some(reason.unwrap_or_else(|| READY_REASON_SUCCEEDED.to_string())),
        message,
        &now,
    );
    let observed = current.and_then(|s| s.observed_generation);
    let one_each = |t: &str| old_conditions.iter().filter(|c| c.type_ == t).count() == 1;
    if observed == generation
        && one_each(CONDITION_SYNCED)
        && one_each(CONDITION_READY)
        && [&synced, &ready].iter().all(|new| {
            find(&new.type_).is_some_and(|old| {
                old.status == new.status && old.reason == new.reason && old.message == new.message
            })
        })
    {
        return None;
    }
    // `Synced` first (the printer columns read `conditions[0]`), `Ready` second, then any
    // other condition someone else wrote.
    let mut conditions = vec![synced, ready];
    conditions.extend(
        old_conditions
            .iter()
            .filter(|c| c.type_ != CONDITION_SYNCED && c.type_ != CONDITION_READY)
            .cloned(),
    );
    // `keys` is left out: the status is written as a merge patch, so the recorded keys stay
    // as they are on the server. Copying them from `current` (the cache, which may lag behind
    // our own last write) could put back a record that a newer unseal replaced.
    Some(SealedSecretStatus {
        observed_generation: generation,
        conditions: Some(conditions),
        keys: None,
    })
}

/// One condition after a reconcile: the transition time is kept while the status stays.
fn condition(
    old: Option<&SealedSecretCondition>,
    type_: &str,
    status: &str,
    reason: Option<String>,
    message: Option<String>,
    now: &Time,
) -> SealedSecretCondition {
    let transition = match old {
        Some(o) if o.status == status => o.last_transition_time.clone().or(Some(now.clone())),
        _ => Some(now.clone()),
    };
    SealedSecretCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        last_update_time: Some(now.clone()),
        last_transition_time: transition,
        reason,
        message,
    }
}

/// Like [`next_status`], also recording `keys` (the keys the items needed, from a successful
/// unseal) in `status.keys` when they differ from what the status holds. `None` keeps the
/// current record (a failed or skipped reconcile says nothing new about the keys).
pub fn next_status_with_keys(
    current: Option<&SealedSecretStatus>,
    generation: Option<i64>,
    outcome: Result<(), (&str, &str)>,
    now: Time,
    keys: Option<Vec<crate::types::SealedSecretKeyUsage>>,
) -> Option<SealedSecretStatus> {
    let base = next_status(current, generation, outcome, now);
    match keys {
        Some(k) if current.and_then(|s| s.keys.as_ref()) != Some(&k) => {
            let mut status = base.or_else(|| current.cloned()).unwrap_or_default();
            status.keys = Some(k);
            Some(status)
        }
        _ => base,
    }
}

#[cfg(test)]
mod tests;
