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
    let err = plan_secret(Some(&existing), secret(&[("a", "2")], &[], Some("u")), "u").unwrap_err();
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
    assert!(is_controlled_by(&s.metadata, "u"));
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
    assert!(is_controlled_by(&s.metadata, "u"));
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
    let failed = next_status(Some(&again), Some(2), Err(("unseal", "boom (a)")), t(40)).unwrap();
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
    let failed = next_status(Some(&first), Some(1), Err(("unseal", "boom (a)")), t(30)).unwrap();
    assert_eq!(types(&failed), ["Synced", "Ready", "Healthy"]);
}

/// The condition types of a status, in order.
fn types(s: &SealedSecretStatus) -> Vec<&str> {
    s.conditions
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.type_.as_str())
        .collect()
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
    assert_eq!(
        types(&first),
        ["Synced", "Ready"],
        "Synced first, one of each"
    );
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
    assert_eq!(types(&next), ["Synced", "Ready", "Other"]);
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
        next_status_with_keys(Some(&second), Some(2), Err(("unseal", "no")), now, None).unwrap();
    // (left out of the merge patch: the server keeps the last record)
    assert_eq!(failed.keys, None);
    assert_eq!(failed.conditions.unwrap()[0].status, "False");
}

#[test]
fn trimming_for_the_cache_keeps_everything_a_reconcile_reads() {
    use crate::annotations::{CLUSTER_WIDE, KEY_HINT, LAST_APPLIED, NAMESPACE_WIDE};
    use crate::scope::Scope;
    let full: SealedSecret = serde_json::from_value(serde_json::json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {
            "name": "s", "namespace": "ns", "uid": "u1", "resourceVersion": "7", "generation": 3,
            "labels": {INSTANCE_LABEL: "app-1", "team": "a", "app.kubernetes.io/name": "x"},
            "annotations": {
                NAMESPACE_WIDE: "true",
                KEY_HINT: "abc",
                LAST_APPLIED[0]: "{\"a whole\": \"copy\"}",
                "argocd.argoproj.io/tracking-id": "t",
            },
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "encryptedData": {"a": "AgBy"},
            "template": {"metadata": {"labels": {"l": "v"}, "annotations": {"t": "v"}},
                         "type": "kubernetes.io/tls"},
        },
        "status": {"observedGeneration": 3, "conditions": [{"type": "Synced", "status": "True"}]},
    }))
    .unwrap();
    let mut cached = full.clone();
    trim_for_cache(&mut cached);

    let meta = &cached.metadata;
    assert!(meta.managed_fields.is_none());
    assert_eq!(
        meta.labels,
        Some(BTreeMap::from([(
            INSTANCE_LABEL.to_string(),
            "app-1".to_string()
        )]))
    );
    let kept: Vec<&str> = meta
        .annotations
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(kept, [KEY_HINT, NAMESPACE_WIDE]);
    // Identity and status untouched; the same decisions.
    assert_eq!(
        (
            &meta.name,
            &meta.namespace,
            &meta.uid,
            &meta.resource_version,
            meta.generation
        ),
        (
            &full.metadata.name,
            &full.metadata.namespace,
            &full.metadata.uid,
            &full.metadata.resource_version,
            full.metadata.generation
        )
    );
    assert_eq!(cached.status, full.status);
    // The spec is gone but for its digest (the digest of the whole object, as received).
    let digest = crate::syncmac::spec_digest(&full);
    assert_eq!(
        cached.spec,
        crate::SealedSecretSpec {
            trimmed: Some(digest),
            ..Default::default()
        }
    );
    assert!(cached.spec.is_trimmed() && !full.spec.is_trimmed());
    assert_eq!(crate::syncmac::spec_digest(&cached), digest);
    // Trimming again (the cache's own copy) keeps it; a changed spec has another.
    let mut again = cached.clone();
    trim_for_cache(&mut again);
    assert_eq!(crate::syncmac::spec_digest(&again), digest);
    let mut changed = full.clone();
    changed
        .spec
        .encrypted_data
        .insert("a".into(), "AgBz".into());
    trim_for_cache(&mut changed);
    assert_ne!(crate::syncmac::spec_digest(&changed), digest);
    // Nothing can be unsealed from a trimmed copy: an error, never an empty Secret.
    let opts = crate::UnsealOptions::default();
    assert!(matches!(
        crate::unseal(&cached, &[], opts),
        Err(crate::UnsealError::Trimmed)
    ));
    assert!(matches!(
        crate::unseal::verify(&cached, &[], opts),
        Err(crate::UnsealError::Trimmed)
    ));
    assert_eq!(
        Scope::from_annotations(meta.annotations.as_ref()),
        Scope::NamespaceWide
    );
    assert_eq!(crate::keyusage::hint(&cached), Some("abc"));

    // Maps with nothing left to keep are dropped; a cluster-wide scope is kept.
    let mut other = full.clone();
    other.metadata.labels = Some(BTreeMap::from([("team".into(), "a".into())]));
    other.metadata.annotations = Some(BTreeMap::from([(CLUSTER_WIDE.into(), "true".into())]));
    trim_for_cache(&mut other);
    assert_eq!(other.metadata.labels, None);
    assert_eq!(
        Scope::from_annotations(other.metadata.annotations.as_ref()),
        Scope::ClusterWide
    );
    let mut bare = full;
    bare.metadata.annotations = Some(BTreeMap::from([(LAST_APPLIED[0].into(), "{}".into())]));
    trim_for_cache(&mut bare);
    assert_eq!(bare.metadata.annotations, None);
}
