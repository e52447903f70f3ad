//! The decisions of a reconcile, free of I/O: how an unsealed Secret is merged into an existing
//! one (`managed` / `patch` semantics), and when the status (`Synced` and `Ready` conditions,
//! `observedGeneration`) must be written.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::annotations::{MANAGED, PATCH};
use crate::types::{CONDITION_READY, CONDITION_SYNCED, SealedSecretCondition, SealedSecretStatus};

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

/// True if `secret` is controlled by the SealedSecret with `owner_uid`.
pub fn is_controlled_by(secret: &Secret, owner_uid: &str) -> bool {
    secret
        .metadata
        .owner_references
        .as_ref()
        .is_some_and(|refs| {
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
    if !is_controlled_by(existing, owner_uid) && !managed && !patch {
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
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    use std::collections::BTreeMap;

    fn owner(uid: &str) -> Vec<OwnerReference> {
        vec![OwnerReference {
            api_version: "bitnami.com/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name: "s".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]
    }

    fn secret(data: &[(&str, &str)], ann: &[(&str, &str)], owner_uid: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("s".into()),
                namespace: Some("ns".into()),
                annotations: (!ann.is_empty()).then(|| {
                    ann.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
                owner_references: owner_uid.map(owner),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            type_: Some("Opaque".into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_when_missing() {
        let d = secret(&[("a", "1")], &[], Some("u"));
        assert_eq!(
            plan_secret(None, d.clone(), "u").unwrap(),
            SecretAction::Create(d)
        );
    }

    #[test]
    fn unmanaged_is_refused_with_upstream_message() {
        let existing = secret(&[("a", "1")], &[], None);
        let err =
            plan_secret(Some(&existing), secret(&[("a", "2")], &[], Some("u")), "u").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Resource \"s\" already exists and is not managed by SealedSecret"
        );
        // Owned by another SealedSecret (uid differs): also refused.
        let other = secret(&[("a", "1")], &[], Some("other"));
        assert!(plan_secret(Some(&other), secret(&[], &[], Some("u")), "u").is_err());
    }

    #[test]
    fn owned_replace_and_unchanged() {
        let existing = secret(&[("a", "1"), ("old", "x")], &[], Some("u"));
        let desired = secret(&[("a", "2")], &[], Some("u"));
        match plan_secret(Some(&existing), desired.clone(), "u").unwrap() {
            SecretAction::Update(s) => {
                let keys: Vec<_> = s.data.unwrap().into_keys().collect();
                assert_eq!(keys, ["a"]);
            }
            other => panic!("{other:?}"),
        }
        let same = secret(&[("a", "2")], &[], Some("u"));
        assert_eq!(
            plan_secret(Some(&same), desired, "u").unwrap(),
            SecretAction::Unchanged
        );
    }

    #[test]
    fn managed_takes_ownership() {
        let existing = secret(&[("a", "1")], &[(MANAGED, "true")], None);
        let desired = secret(&[("b", "2")], &[], Some("u"));
        let SecretAction::Update(s) = plan_secret(Some(&existing), desired, "u").unwrap() else {
            panic!()
        };
        assert!(is_controlled_by(&s, "u"));
        assert!(!s.data.as_ref().unwrap().contains_key("a"));
    }

    #[test]
    fn patch_merges_and_keeps_ownership_unless_managed() {
        let existing = secret(
            &[("keep", "1"), ("a", "old")],
            &[(PATCH, "true"), ("x", "y")],
            None,
        );
        let desired = secret(&[("a", "new")], &[("z", "w")], Some("u"));
        let SecretAction::Update(s) = plan_secret(Some(&existing), desired.clone(), "u").unwrap()
        else {
            panic!()
        };
        let data = s.data.as_ref().unwrap();
        assert_eq!(data["keep"].0, b"1");
        assert_eq!(data["a"].0, b"new");
        let ann = s.metadata.annotations.as_ref().unwrap();
        assert_eq!(ann["x"], "y");
        assert_eq!(ann["z"], "w");
        assert!(s.metadata.owner_references.is_none());

        let both = secret(
            &[("keep", "1")],
            &[(PATCH, "true"), (MANAGED, "true")],
            None,
        );
        let SecretAction::Update(s) = plan_secret(Some(&both), desired, "u").unwrap() else {
            panic!()
        };
        assert!(is_controlled_by(&s, "u"));
        assert_eq!(s.data.as_ref().unwrap()["keep"].0, b"1");
    }

    fn t(s: i64) -> Time {
        Time(jiff_ts(s))
    }
    fn jiff_ts(s: i64) -> k8s_openapi::jiff::Timestamp {
        k8s_openapi::jiff::Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn status_written_only_on_change() {
        let first = next_status(None, Some(1), Ok(()), t(10)).unwrap();
        let c = &first.conditions.as_ref().unwrap()[0];
        assert_eq!((c.type_.as_str(), c.status.as_str()), ("Synced", "True"));
        assert_eq!(first.observed_generation, Some(1));
        // Same outcome, same generation: nothing to write.
        assert!(next_status(Some(&first), Some(1), Ok(()), t(20)).is_none());
        // New generation: write, but keep the transition time.
        let again = next_status(Some(&first), Some(2), Ok(()), t(30)).unwrap();
        let c2 = &again.conditions.as_ref().unwrap()[0];
        assert_eq!(c2.last_transition_time, Some(t(10)));
        assert_eq!(c2.last_update_time, Some(t(30)));
        // Failure: status False, reason and message set, transition time moves.
        let failed =
            next_status(Some(&again), Some(2), Err(("unseal", "boom (a)")), t(40)).unwrap();
        let c3 = &failed.conditions.as_ref().unwrap()[0];
        assert_eq!(c3.status, "False");
        assert_eq!(c3.message.as_deref(), Some("boom (a)"));
        assert_eq!(c3.reason.as_deref(), Some("unseal"));
        assert_eq!(c3.last_transition_time, Some(t(40)));
        assert!(next_status(Some(&failed), Some(2), Err(("unseal", "boom (a)")), t(50)).is_none());
        assert!(next_status(Some(&failed), Some(2), Err(("unseal", "other (b)")), t(50)).is_some());
        // Success clears the message.
        let ok = next_status(Some(&failed), Some(2), Ok(()), t(60)).unwrap();
        assert!(ok.conditions.as_ref().unwrap()[0].message.is_none());
    }

    /// A condition someone else added (a GitOps tool, say) does not make an unchanged status
    /// look changed, and is kept when the status is written.
    #[test]
    fn others_conditions_do_not_force_a_write() {
        let mut first = next_status(None, Some(1), Ok(()), t(10)).unwrap();
        let mut foreign = first.conditions.as_ref().unwrap()[0].clone();
        foreign.type_ = "Healthy".into();
        first.conditions.as_mut().unwrap().push(foreign);
        assert!(next_status(Some(&first), Some(1), Ok(()), t(20)).is_none());
        let failed =
            next_status(Some(&first), Some(1), Err(("unseal", "boom (a)")), t(30)).unwrap();
        let types: Vec<&str> = failed
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, ["Synced", "Ready", "Healthy"]);
    }

    fn cond<'a>(s: &'a SealedSecretStatus, t: &str) -> Vec<&'a SealedSecretCondition> {
        s.conditions
            .as_ref()
            .unwrap()
            .iter()
            .filter(|c| c.type_ == t)
            .collect()
    }

    #[test]
    fn ready_mirrors_synced_and_keeps_its_transition_time() {
        let first = next_status(None, Some(1), Err(("unseal", "no key (a)")), t(10)).unwrap();
        let types: Vec<_> = first
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, ["Synced", "Ready"], "Synced first, one of each");
        let r = cond(&first, "Ready")[0];
        assert_eq!(r.status, "False");
        assert_eq!(r.reason.as_deref(), Some("unseal"));
        assert_eq!(r.message.as_deref(), Some("no key (a)"));
        // Fixed by a new spec: both True at the new generation, no stale message.
        let fixed = next_status(Some(&first), Some(2), Ok(()), t(20)).unwrap();
        assert_eq!(fixed.observed_generation, Some(2));
        for c in fixed.conditions.as_ref().unwrap() {
            assert_eq!(c.status, "True", "{c:?}");
            assert_eq!(c.last_transition_time, Some(t(20)));
        }
        assert!(cond(&fixed, "Synced")[0].message.is_none());
        assert_eq!(
            cond(&fixed, "Ready")[0].reason.as_deref(),
            Some(READY_REASON_SUCCEEDED)
        );
        // An unchanged outcome at a new generation moves observedGeneration only.
        let g3 = next_status(Some(&fixed), Some(3), Ok(()), t(30)).unwrap();
        assert_eq!(g3.observed_generation, Some(3));
        for c in g3.conditions.as_ref().unwrap() {
            assert_eq!(c.last_transition_time, Some(t(20)), "{c:?}");
        }
        assert!(next_status(Some(&g3), Some(3), Ok(()), t(40)).is_none());
    }

    #[test]
    fn status_written_by_an_older_controller_is_completed() {
        // Upstream (and our earlier versions) wrote only `Synced`: add `Ready` once.
        let old = SealedSecretStatus {
            observed_generation: Some(1),
            conditions: Some(vec![SealedSecretCondition {
                type_: "Synced".into(),
                status: "True".into(),
                last_transition_time: Some(t(5)),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let next = next_status(Some(&old), Some(1), Ok(()), t(10)).unwrap();
        assert_eq!(cond(&next, "Synced")[0].last_transition_time, Some(t(5)));
        assert_eq!(cond(&next, "Ready").len(), 1);
        // Duplicated conditions (someone else's patch) are collapsed to one each.
        let mut dup = next.clone();
        let extra = dup.conditions.as_ref().unwrap()[0].clone();
        dup.conditions.as_mut().unwrap().push(extra);
        let fixed = next_status(Some(&dup), Some(1), Ok(()), t(20)).unwrap();
        assert_eq!(cond(&fixed, "Synced").len(), 1);
        // A foreign condition is kept, after ours.
        let mut foreign = fixed.clone();
        foreign
            .conditions
            .as_mut()
            .unwrap()
            .push(SealedSecretCondition {
                type_: "Other".into(),
                status: "True".into(),
                ..Default::default()
            });
        let next = next_status(Some(&foreign), Some(2), Ok(()), t(30)).unwrap();
        let types: Vec<_> = next
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, ["Synced", "Ready", "Other"]);
    }

    #[test]
    fn status_records_keys_only_when_they_change() {
        use crate::types::SealedSecretKeyUsage;
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let rec = vec![SealedSecretKeyUsage {
            fingerprint: "A".into(),
            items: vec!["x".into()],
        }];
        let first =
            next_status_with_keys(None, Some(1), Ok(()), now.clone(), Some(rec.clone())).unwrap();
        assert_eq!(first.keys.as_ref(), Some(&rec));
        // Same outcome, same keys: nothing to write.
        assert!(
            next_status_with_keys(
                Some(&first),
                Some(1),
                Ok(()),
                now.clone(),
                Some(rec.clone())
            )
            .is_none()
        );
        // Same outcome, new keys (re-encrypted at the same generation): written.
        let rec_b = vec![SealedSecretKeyUsage {
            fingerprint: "B".into(),
            items: vec!["x".into()],
        }];
        let second = next_status_with_keys(
            Some(&first),
            Some(1),
            Ok(()),
            now.clone(),
            Some(rec_b.clone()),
        )
        .unwrap();
        assert_eq!(second.keys.as_ref(), Some(&rec_b));
        assert_eq!(second.conditions, first.conditions);
        // A failure keeps the last record.
        let failed =
            next_status_with_keys(Some(&second), Some(2), Err(("unseal", "no")), now, None)
                .unwrap();
        // (left out of the merge patch: the server keeps the last record)
        assert_eq!(failed.keys, None);
        assert_eq!(failed.conditions.unwrap()[0].status, "False");
    }
}
