//! Turning a SealedSecret back into a Secret (what the controller and `--recovery-unseal` do).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use zeroize::{Zeroize, Zeroizing};

use crate::annotations::SKIP_SET_OWNER_REFERENCES;
use crate::crypto::hybrid_decrypt_any;
use crate::keys::PrivateKey;
use crate::scope::Scope;
use crate::seal::strip_server_fields;
use crate::types::SealedSecret;

/// What went wrong with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemError {
    /// The stored value is not valid base64.
    Base64,
    /// No key could decrypt the value (wrong key, wrong scope/name/namespace, or corrupt).
    Decrypt,
    /// The `template.data` entry failed to parse or render; the message is the engine's and
    /// never contains secret values.
    Template(String),
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::Base64 => f.write_str("illegal base64 data"),
            ItemError::Decrypt => f.write_str("no key could decrypt secret"),
            ItemError::Template(m) => f.write_str(m),
        }
    }
}

/// Every failed item, rendered like upstream: each distinct error followed by the items it
/// hit, e.g. `no key could decrypt secret (password, username)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemErrors(pub Vec<(String, ItemError)>);

impl fmt::Display for ItemErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut grouped: Vec<(String, Vec<&str>)> = Vec::new();
        for (item, err) in &self.0 {
            let msg = err.to_string();
            match grouped.iter_mut().find(|(m, _)| *m == msg) {
                Some((_, items)) => items.push(item),
                None => grouped.push((msg, vec![item])),
            }
        }
        let parts: Vec<String> = grouped
            .into_iter()
            .map(|(m, items)| format!("{m} ({})", items.join(", ")))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Why a SealedSecret could not be unsealed. Never contains plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsealError {
    #[error("{0}")]
    Items(ItemErrors),
    #[error(
        "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
    )]
    BothDataFields,
    #[error("using deprecated 'data' field, use 'encryptedData' or flip the feature flag")]
    DeprecatedDataDisabled,
    #[error("no key could decrypt secret")]
    DeprecatedDataDecrypt,
    #[error("the deprecated 'data' field does not hold a valid Secret")]
    DeprecatedDataInvalid,
    #[error("SealedSecret has no metadata.name")]
    MissingName,
}

impl UnsealError {
    /// The items that failed, if the error is about items.
    pub fn failed_items(&self) -> Vec<&str> {
        match self {
            UnsealError::Items(e) => e.0.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// True if the only problem is that no key could decrypt (as opposed to malformed input).
    pub fn is_decrypt_only(&self) -> bool {
        match self {
            UnsealError::Items(e) => e.0.iter().all(|(_, k)| *k == ItemError::Decrypt),
            UnsealError::DeprecatedDataDecrypt => true,
            _ => false,
        }
    }
}

/// Options of unsealing.
#[derive(Debug, Clone, Copy)]
pub struct UnsealOptions {
    /// `--accept-deprecated-v1-data` (upstream default: true).
    pub accept_deprecated_v1_data: bool,
    /// The budget that all `template.data` entries of one SealedSecret share.
    pub template_limits: gotemplate::Limits,
}

impl Default for UnsealOptions {
    fn default() -> Self {
        Self {
            accept_deprecated_v1_data: true,
            template_limits: gotemplate::Limits::default(),
        }
    }
}

/// The result of unsealing: the desired Secret and which keys did the work.
pub struct Unsealed {
    pub secret: Secret,
    /// Index (into the key slice given to [`unseal`]) of the key that decrypted each item.
    pub keys_used: Vec<usize>,
    /// Each item with the index of the key that decrypted it (`data` for the deprecated
    /// `spec.data` field); see [`crate::keyusage::record`].
    pub item_keys: Vec<(String, usize)>,
}

impl fmt::Debug for Unsealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unsealed")
            .field("name", &self.secret.metadata.name)
            .field(
                "items",
                &self
                    .secret
                    .data
                    .as_ref()
                    .map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("keys_used", &self.keys_used)
            .field("item_keys", &self.item_keys)
            .finish()
    }
}

impl Drop for Unsealed {
    fn drop(&mut self) {
        wipe_secret(&mut self.secret);
    }
}

impl Unsealed {
    /// Takes the Secret out (the caller becomes responsible for wiping it).
    pub fn take_secret(mut self) -> Secret {
        std::mem::take(&mut self.secret)
    }
}

/// Overwrites every data value of a Secret with zeros.
pub fn wipe_secret(secret: &mut Secret) {
    if let Some(data) = secret.data.as_mut() {
        for v in data.values_mut() {
            v.0.zeroize();
        }
    }
    if let Some(data) = secret.string_data.as_mut() {
        for v in data.values_mut() {
            v.zeroize();
        }
    }
}

/// The OAEP label a SealedSecret's items must carry: from its own name, namespace and
/// **top-level** annotations (never from the template).
pub fn label_for(ss: &SealedSecret) -> Vec<u8> {
    let scope = Scope::from_annotations(ss.metadata.annotations.as_ref());
    scope.label(
        ss.metadata.namespace.as_deref().unwrap_or_default(),
        ss.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// The one "preferred key first" loop: decrypts every item of `encryptedData` with `keys`
/// under `label`, calling `on_open(item, plaintext, key_index)` for each item that opens and
/// recording every item that does not in `errors`.
///
/// Keys are tried in the given order, except that once a key has decrypted an item it is
/// tried first for the remaining items (a SealedSecret is normally sealed with one key), so
/// callers that order keys by past success pay about one RSA operation per item.
pub fn open_items(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    label: &[u8],
    errors: &mut Vec<(String, ItemError)>,
    mut on_open: impl FnMut(&str, Zeroizing<Vec<u8>>, usize),
) {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    for (item, value) in &ss.spec.encrypted_data {
        let Some(raw) = crate::codec::decode_base64_like_go(value.as_bytes()) else {
            errors.push((item.clone(), ItemError::Base64));
            continue;
        };
        match hybrid_decrypt_any(order.iter().filter_map(|&i| keys.get(i)), label, &raw) {
            Ok((plain, pos)) => {
                let idx = order.get(pos).copied().unwrap_or(pos);
                if pos != 0 {
                    order.retain(|&i| i != idx);
                    order.insert(0, idx);
                }
                on_open(item, plain, idx);
            }
            Err(_) => errors.push((item.clone(), ItemError::Decrypt)),
        }
    }
}

/// What `/v1/verify` answers: does every item open with some key under this object's own
/// label? Nothing user-supplied is evaluated over the plaintext (no `template.data`, no
/// parsing of decrypted bytes), so the answer depends only on which key sealed the items and
/// for which scope, never on what they contain. Plaintexts are wiped as soon as they open.
///
/// Returns the index (into `keys`) of the key that opened each item.
pub fn verify(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    opts: UnsealOptions,
) -> Result<Vec<usize>, UnsealError> {
    if ss.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err(UnsealError::MissingName);
    }
    let label = label_for(ss);
    if let Some(v1) = &ss.spec.data {
        if !opts.accept_deprecated_v1_data {
            return Err(UnsealError::DeprecatedDataDisabled);
        }
        if !ss.spec.encrypted_data.is_empty() {
            return Err(UnsealError::BothDataFields);
        }
        let (_plain, idx) = hybrid_decrypt_any(keys.iter(), &label, &v1.0)
            .map_err(|_| UnsealError::DeprecatedDataDecrypt)?;
        return Ok(vec![idx]);
    }
    let mut errors = Vec::new();
    let mut used = Vec::new();
    open_items(ss, keys, &label, &mut errors, |_, _plain, idx| {
        used.push(idx)
    });
    if errors.is_empty() {
        Ok(used)
    } else {
        Err(UnsealError::Items(ItemErrors(errors)))
    }
}

/// Decrypts every item with `keys` (see [`open_items`] for the order), renders
/// `template.data`, and builds the Secret.
pub fn unseal(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    opts: UnsealOptions,
) -> Result<Unsealed, UnsealError> {
    let name = ss
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(UnsealError::MissingName)?;
    let label = label_for(ss);
    let mut keys_used = Vec::new();
    let mut item_keys = Vec::new();

    let mut secret = if let Some(v1) = &ss.spec.data {
        if !opts.accept_deprecated_v1_data {
            return Err(UnsealError::DeprecatedDataDisabled);
        }
        if !ss.spec.encrypted_data.is_empty() {
            return Err(UnsealError::BothDataFields);
        }
        let (plain, idx) = hybrid_decrypt_any(keys.iter(), &label, &v1.0)
            .map_err(|_| UnsealError::DeprecatedDataDecrypt)?;
        keys_used.push(idx);
        item_keys.push(("data".to_string(), idx));
        let secret: Secret =
            serde_json::from_slice(&plain).map_err(|_| UnsealError::DeprecatedDataInvalid)?;
        secret
    } else {
        let template = &ss.spec.template;
        let mut meta = template.metadata.clone().unwrap_or_default();
        strip_server_fields(&mut meta);
        let mut errors = Vec::new();
        let mut data: BTreeMap<String, ByteString> = BTreeMap::new();
        let mut strings: BTreeMap<String, String> = BTreeMap::new();
        open_items(ss, keys, &label, &mut errors, |item, plain, idx| {
            keys_used.push(idx);
            item_keys.push((item.to_string(), idx));
            strings.insert(
                item.to_string(),
                String::from_utf8_lossy(&plain).into_owned(),
            );
            data.insert(item.to_string(), ByteString(plain.to_vec()));
        });
        if let Some(tdata) = &template.data {
            // One budget for the whole object: a tenant cannot multiply it by adding entries.
            let mut budget = gotemplate::Budget::new(opts.template_limits);
            for (item, text) in tdata {
                match gotemplate::render_with_budget(item, text, &strings, &mut budget) {
                    Ok(mut rendered) => {
                        data.insert(item.clone(), ByteString(rendered.as_bytes().to_vec()));
                        rendered.zeroize();
                    }
                    Err(e) => {
                        let exhausted = e.is_budget();
                        errors.push((item.clone(), ItemError::Template(e.to_string())));
                        if exhausted {
                            // Every later entry would fail the same way.
                            break;
                        }
                    }
                }
            }
        }
        for v in strings.values_mut() {
            v.zeroize();
        }
        if !errors.is_empty() {
            for v in data.values_mut() {
                v.0.zeroize();
            }
            return Err(UnsealError::Items(ItemErrors(errors)));
        }
        Secret {
            metadata: meta,
            type_: template.type_.clone(),
            immutable: template.immutable,
            data: Some(data),
            ..Default::default()
        }
    };

    secret.metadata.name = Some(name.clone());
    secret.metadata.namespace = ss.metadata.namespace.clone();
    let skip_owner = ss
        .spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(SKIP_SET_OWNER_REFERENCES))
        .is_some_and(|v| v == "true");
    if !skip_owner && let Some(uid) = ss.metadata.uid.clone() {
        secret.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "bitnami.com/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name,
            uid,
            controller: Some(true),
            block_owner_deletion: None,
        }]);
    }
    Ok(Unsealed {
        secret,
        keys_used,
        item_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Backend, test_key, test_key_2048};
    use crate::seal::{InputSecret, SealOptions, seal};
    use serde_json::json;

    fn sealed(v: serde_json::Value, key: &PrivateKey) -> SealedSecret {
        let input = InputSecret::from_value(v).unwrap();
        seal(input, &key.public_key(), &SealOptions::default()).unwrap()
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
        let out = unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default()).unwrap();
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
        let ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"b": "1", "a": "2"}}),
            &key,
        );
        let mut renamed = ss.clone();
        renamed.metadata.name = Some("other".into());
        let err = unseal(
            &renamed,
            std::slice::from_ref(&key),
            UnsealOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "no key could decrypt secret (a, b)");
        assert!(err.is_decrypt_only());
        let mut moved = ss.clone();
        moved.metadata.namespace = Some("elsewhere".into());
        assert!(unseal(&moved, std::slice::from_ref(&key), UnsealOptions::default()).is_err());
        let mut widened = ss;
        widened.metadata.annotations = Some(
            [(
                crate::annotations::CLUSTER_WIDE.to_string(),
                "true".to_string(),
            )]
            .into(),
        );
        assert!(
            unseal(
                &widened,
                std::slice::from_ref(&key),
                UnsealOptions::default()
            )
            .is_err()
        );
    }

    #[test]
    fn bad_base64_and_wrong_key_reported_per_item() {
        let key = test_key(Backend::AwsLc);
        let other = test_key_2048();
        let mut ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"good": "x"}}),
            &key,
        );
        ss.spec.encrypted_data.insert("bad".into(), "%%%".into());
        let err = unseal(&ss, std::slice::from_ref(&other), UnsealOptions::default()).unwrap_err();
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
        let ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"x": "1", "y": "2", "z": "3"}}),
            &a,
        );
        let out = unseal(&ss, &[b, a], UnsealOptions::default()).unwrap();
        assert_eq!(out.keys_used, vec![1, 1, 1]);
    }

    #[test]
    fn every_item_reports_the_key_that_opened_it() {
        let a = test_key(Backend::AwsLc);
        let b = test_key_2048();
        let from_a = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"x": "1", "w": "0"}}),
            &a,
        );
        let mut mixed = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"y": "2", "z": "3"}}),
            &b,
        );
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
        let mut ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"password": "hunter2"}}),
            &key,
        );
        // The oracle probe: a template that fails iff the secret starts with a given prefix.
        let probe = |prefix: &str| {
            let mut probe = ss.clone();
            probe.spec.template.data = Some(
                [(
                    "x".to_string(),
                    format!("{{{{ if hasPrefix \"{prefix}\" .password }}}}{{{{ fail \"x\" }}}}{{{{ end }}}}"),
                )]
                .into(),
            );
            probe
        };
        // unseal (the reconcile path) does render it, so the probe is a real one...
        assert!(
            unseal(
                &probe("h"),
                std::slice::from_ref(&key),
                UnsealOptions::default()
            )
            .is_err()
        );
        assert!(
            unseal(
                &probe("z"),
                std::slice::from_ref(&key),
                UnsealOptions::default()
            )
            .is_ok()
        );
        // ...but verify answers the same for both prefixes.
        let h = verify(
            &probe("h"),
            std::slice::from_ref(&key),
            UnsealOptions::default(),
        );
        let z = verify(
            &probe("z"),
            std::slice::from_ref(&key),
            UnsealOptions::default(),
        );
        assert_eq!(h, Ok(vec![0]));
        assert_eq!(z, Ok(vec![0]));
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
        let mut ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"pw": "hunter2"}}),
            &key,
        );
        let opts = UnsealOptions {
            template_limits: gotemplate::Limits {
                output_bytes: 100,
                ..gotemplate::Limits::default()
            },
            ..UnsealOptions::default()
        };
        // One entry of 60 bytes fits...
        ss.spec.template.data =
            Some([("a".to_string(), "{{ repeat 60 \"x\" }}".to_string())].into());
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
        let out = unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default()).unwrap();
        assert!(out.secret.metadata.owner_references.is_none());
    }

    #[test]
    fn legacy_v1_rules() {
        let key = test_key(Backend::AwsLc);
        let mut ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"x": "1"}}),
            &key,
        );
        ss.spec.data = Some(ByteString(vec![1, 2, 3]));
        assert_eq!(
            unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default()).unwrap_err(),
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
        let out = unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default()).unwrap();
        assert_eq!(out.secret.data.as_ref().unwrap()["foo"].0, b"bar");
        // Sealed for another key: only a decryption failure (what key rotation can fix).
        let other = test_key_2048();
        let err = unseal(&ss, std::slice::from_ref(&other), UnsealOptions::default()).unwrap_err();
        assert_eq!(err, UnsealError::DeprecatedDataDecrypt);
        assert!(err.is_decrypt_only());
        assert!(!UnsealError::BothDataFields.is_decrypt_only());
    }

    #[test]
    fn verify_applies_the_legacy_v1_rules_like_unseal() {
        let key = test_key(Backend::AwsLc);
        let mut ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"x": "1"}}),
            &key,
        );
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
        let out = unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default()).unwrap();
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
        let ss = sealed(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "stringData": {"a": "xyz", "b": "12"}}),
            &key,
        );
        let out = unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default()).unwrap();
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
}
