use super::*;
use crate::keys::{Backend, test_key, test_key_2048};
use crate::seal::{InputSecret, SealOptions, seal};
use serde_json::json;

fn sealed(v: serde_json::Value, key: &PrivateKey) -> SealedSecret {
    let input = InputSecret::from_value(v).unwrap();
    seal(input, &key.public_key(), &SealOptions::default()).unwrap()
}

/// A Secret `s` in namespace `ns` holding `items` (as `stringData`), sealed for `key`.
fn sealed_items(items: &[(&str, &str)], key: &PrivateKey) -> SealedSecret {
    let items: serde_json::Map<String, serde_json::Value> = items
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    sealed(
        json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": items}),
        key,
    )
}

/// Unseals `ss` with `key` alone and the default options.
fn unseal_one(ss: &SealedSecret, key: &PrivateKey) -> Result<Unsealed, UnsealError> {
    unseal(ss, std::slice::from_ref(key), UnsealOptions::default())
}

/// The probes of an oracle attack on `ss` (whose `password` starts with "h"): two copies whose
/// `template.data` fails iff the plaintext starts with "h", resp. "z". Checks that [`unseal`],
/// which renders templates, tells them apart, so that a check answering the same for both is
/// shown not to evaluate templates over the plaintext.
#[track_caller]
pub(crate) fn oracle_probes(ss: &SealedSecret, keys: &[PrivateKey]) -> [SealedSecret; 2] {
    let probes = ["h", "z"].map(|prefix| {
        let mut probe = ss.clone();
        probe.spec.template.data = Some(
            [(
                "x".to_string(),
                format!(
                    "{{{{ if hasPrefix \"{prefix}\" .password }}}}{{{{ fail \"x\" }}}}{{{{ end }}}}"
                ),
            )]
            .into(),
        );
        probe
    });
    assert!(unseal(&probes[0], keys, UnsealOptions::default()).is_err());
    assert!(unseal(&probes[1], keys, UnsealOptions::default()).is_ok());
    probes
}

#[test]
fn round_trip_with_template_metadata_and_owner() {
    let key = test_key(Backend::AwsLc);
    let mut ss = sealed(
        json!({"metadata": {"name": "s", "namespace": "ns", "labels": {"a": "b"}},
               "type": "Opaque", "immutable": true,
               "stringData": {"user": "admin", "pw": "hunter2"}}),
        &key,
    );
    ss.metadata.uid = Some("uid-1".into());
    let out = unseal_one(&ss, &key).unwrap();
    let s = &out.secret;
    assert_eq!(s.data.as_ref().unwrap()["pw"].0, b"hunter2");
    assert_eq!(s.metadata.labels.as_ref().unwrap()["a"], "b");
    assert_eq!(s.immutable, Some(true));
    let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.uid, "uid-1");
    assert_eq!(owner.controller, Some(true));
    assert_eq!(out.keys_used, vec![0, 0]);
}

#[test]
fn wrong_name_namespace_or_scope_fails_and_names_items() {
    let key = test_key(Backend::AwsLc);
    let ss = sealed_items(&[("b", "1"), ("a", "2")], &key);
    let mut renamed = ss.clone();
    renamed.metadata.name = Some("other".into());
    let err = unseal_one(&renamed, &key).unwrap_err();
    assert_eq!(err.to_string(), "no key could decrypt secret (a, b)");
    assert!(err.is_decrypt_only());
    let mut moved = ss.clone();
    moved.metadata.namespace = Some("elsewhere".into());
    assert!(unseal_one(&moved, &key).is_err());
    let mut widened = ss;
    widened.metadata.annotations = Some(
        [(
            crate::annotations::CLUSTER_WIDE.to_string(),
            "true".to_string(),
        )]
        .into(),
    );
    assert!(unseal_one(&widened, &key).is_err());
}

#[test]
fn bad_base64_and_wrong_key_reported_per_item() {
    let key = test_key(Backend::AwsLc);
    let other = test_key_2048();
    let mut ss = sealed_items(&[("good", "x")], &key);
    ss.spec.encrypted_data.insert("bad".into(), "%%%".into());
    let err = unseal_one(&ss, &other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "illegal base64 data (bad), no key could decrypt secret (good)"
    );
    assert!(!err.is_decrypt_only());
}

#[test]
fn preferred_key_is_reused() {
    let a = test_key(Backend::AwsLc);
    let b = test_key_2048();
    let ss = sealed_items(&[("x", "1"), ("y", "2"), ("z", "3")], &a);
    let out = unseal(&ss, &[b, a], UnsealOptions::default()).unwrap();
    assert_eq!(out.keys_used, vec![1, 1, 1]);
}

#[test]
fn every_item_reports_the_key_that_opened_it() {
    let a = test_key(Backend::AwsLc);
    let b = test_key_2048();
    let from_a = sealed_items(&[("x", "1"), ("w", "0")], &a);
    let mut mixed = sealed_items(&[("y", "2"), ("z", "3")], &b);
    mixed.spec.encrypted_data.extend(from_a.spec.encrypted_data);
    // b first: the items sealed with a must still be credited to a, not to the last key.
    let out = unseal(&mixed, &[b.clone(), a.clone()], UnsealOptions::default()).unwrap();
    let mut got = out.item_keys.clone();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("w".to_string(), 1),
            ("x".to_string(), 1),
            ("y".to_string(), 0),
            ("z".to_string(), 0)
        ]
    );
    let keys = [b, a];
    let rec = crate::keyusage::record(&out.item_keys, |i| {
        keys.get(i).map(|k| k.fingerprint().to_string())
    });
    assert_eq!(rec.len(), 2);
    let for_a = rec
        .iter()
        .find(|u| u.fingerprint == keys[1].fingerprint())
        .unwrap();
    assert_eq!(for_a.items, ["w", "x"]);
}

#[test]
fn verify_never_evaluates_templates_over_plaintext() {
    let key = test_key(Backend::AwsLc);
    let mut ss = sealed_items(&[("password", "hunter2")], &key);
    // unseal (the reconcile path) does render templates, so the probes are real ones...
    let [h, z] = oracle_probes(&ss, std::slice::from_ref(&key));
    // ...but verify answers the same for both prefixes.
    for probe in [h, z] {
        assert_eq!(
            verify(&probe, std::slice::from_ref(&key), UnsealOptions::default()),
            Ok(vec![0])
        );
    }
    // A template that does not even parse does not change verify's answer either.
    ss.spec.template.data = Some([("x".to_string(), "{{ nope".to_string())].into());
    assert_eq!(
        verify(&ss, std::slice::from_ref(&key), UnsealOptions::default()),
        Ok(vec![0])
    );
    // Wrong scope still fails, naming the item.
    ss.metadata.namespace = Some("other".into());
    let err = verify(&ss, std::slice::from_ref(&key), UnsealOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "no key could decrypt secret (password)");
}

#[test]
fn all_template_entries_share_one_budget() {
    let key = test_key(Backend::AwsLc);
    let mut ss = sealed_items(&[("pw", "hunter2")], &key);
    let opts = UnsealOptions {
        template_limits: gotemplate::Limits {
            output_bytes: 100,
            ..gotemplate::Limits::default()
        },
        ..UnsealOptions::default()
    };
    // One entry of 60 bytes fits...
    ss.spec.template.data = Some([("a".to_string(), "{{ repeat 60 \"x\" }}".to_string())].into());
    let out = unseal(&ss, std::slice::from_ref(&key), opts).unwrap();
    assert_eq!(out.secret.data.as_ref().unwrap()["a"].0.len(), 60);
    // ...two do not: the second entry finds the object's budget spent. Later entries are
    // not reported one by one.
    ss.spec.template.data = Some(
        ["a", "b", "c"]
            .map(|k| (k.to_string(), "{{ repeat 60 \"x\" }}{{ .pw }}".to_string()))
            .into(),
    );
    let err = unseal(&ss, std::slice::from_ref(&key), opts).unwrap_err();
    assert_eq!(err.failed_items(), ["b"]);
    let msg = err.to_string();
    assert!(msg.contains("exceeded the limit of 100"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn skip_owner_references() {
    let key = test_key(Backend::AwsLc);
    let mut ss = sealed(
        json!({"metadata": {"name": "s", "namespace": "ns",
            "annotations": {SKIP_SET_OWNER_REFERENCES: "true"}}, "stringData": {"x": "1"}}),
        &key,
    );
    ss.metadata.uid = Some("u".into());
    let out = unseal_one(&ss, &key).unwrap();
    assert!(out.secret.metadata.owner_references.is_none());
}

#[test]
fn legacy_v1_rules() {
    let key = test_key(Backend::AwsLc);
    let mut ss = sealed_items(&[("x", "1")], &key);
    ss.spec.data = Some(ByteString(vec![1, 2, 3]));
    assert_eq!(
        unseal_one(&ss, &key).unwrap_err(),
        UnsealError::BothDataFields
    );
    assert_eq!(
        unseal(
            &ss,
            std::slice::from_ref(&key),
            UnsealOptions {
                accept_deprecated_v1_data: false,
                ..UnsealOptions::default()
            }
        )
        .unwrap_err(),
        UnsealError::DeprecatedDataDisabled
    );
    let legacy_secret = json!({"kind": "Secret", "apiVersion": "v1",
        "metadata": {"name": "s", "namespace": "ns"}, "data": {"foo": "YmFy"}});
    let blob = crate::crypto::hybrid_encrypt(
        &key.public_key(),
        b"ns/s",
        legacy_secret.to_string().as_bytes(),
    )
    .unwrap();
    ss.spec.encrypted_data.clear();
    ss.spec.data = Some(ByteString(blob));
    let out = unseal_one(&ss, &key).unwrap();
    assert_eq!(out.secret.data.as_ref().unwrap()["foo"].0, b"bar");
    // Sealed for another key: only a decryption failure (what key rotation can fix).
    let other = test_key_2048();
    let err = unseal_one(&ss, &other).unwrap_err();
    assert_eq!(err, UnsealError::DeprecatedDataDecrypt);
    assert!(err.is_decrypt_only());
    assert!(!UnsealError::BothDataFields.is_decrypt_only());
}

#[test]
fn verify_applies_the_legacy_v1_rules_like_unseal() {
    let key = test_key(Backend::AwsLc);
    let mut ss = sealed_items(&[("x", "1")], &key);
    let keys = std::slice::from_ref(&key);
    let strict = UnsealOptions {
        accept_deprecated_v1_data: false,
        ..UnsealOptions::default()
    };
    assert_eq!(verify(&ss, keys, strict), Ok(vec![0]));
    ss.spec.data = Some(ByteString(vec![1, 2, 3]));
    assert_eq!(
        verify(&ss, keys, UnsealOptions::default()),
        Err(UnsealError::BothDataFields)
    );
    assert_eq!(
        verify(&ss, keys, strict),
        Err(UnsealError::DeprecatedDataDisabled)
    );
    let blob = crate::crypto::hybrid_encrypt(&key.public_key(), b"ns/s", b"{}").unwrap();
    ss.spec.encrypted_data.clear();
    ss.spec.data = Some(ByteString(blob));
    assert_eq!(verify(&ss, keys, UnsealOptions::default()), Ok(vec![0]));
    assert_eq!(
        verify(&ss, keys, strict),
        Err(UnsealError::DeprecatedDataDisabled)
    );
}

#[test]
fn unsealed_debug_names_items_never_values() {
    let key = test_key(Backend::AwsLc);
    let ss = sealed(
        json!({"metadata": {"name": "db", "namespace": "ns"}, "stringData": {"password": "hunter2"}}),
        &key,
    );
    let out = unseal_one(&ss, &key).unwrap();
    let shown = format!("{out:?}");
    assert!(
        shown.contains("db") && shown.contains("password"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn take_secret_hands_over_the_secret_and_wipe_clears_every_value() {
    let key = test_key(Backend::AwsLc);
    let ss = sealed_items(&[("a", "xyz"), ("b", "12")], &key);
    let out = unseal_one(&ss, &key).unwrap();
    let mut secret = out.take_secret();
    assert_eq!(secret.metadata.name.as_deref(), Some("s"));
    assert_eq!(secret.data.as_ref().unwrap()["a"].0, b"xyz");
    secret.string_data = Some([("c".to_string(), "pq".to_string())].into());
    wipe_secret(&mut secret);
    // zeroize overwrites each buffer, then empties it.
    let data = secret.data.as_ref().unwrap();
    assert!(data.values().all(|v| v.0.is_empty()), "{:?}", data.keys());
    assert_eq!(secret.string_data.as_ref().unwrap()["c"], "");
}
