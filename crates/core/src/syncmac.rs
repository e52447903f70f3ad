//! Knowing, without an RSA operation, that a Secret is exactly what its SealedSecret produces.
//!
//! When the controller writes a Secret it records, in the annotation [`ANNOTATION`], a keyed
//! MAC (HMAC-SHA256) over
//!
//! - a digest of the SealedSecret's input: its namespace, name, UID, scope annotations and
//!   whole `spec` (ciphertexts and template: all public), and
//! - everything the controller manages on the Secret: `type`, `data`, labels, annotations
//!   (except this one) and ownerReferences.
//!
//! The MAC key is derived from a sealing private key (HMAC-SHA256 of its PKCS#1 PEM under a
//! fixed label), so every replica can compute it and nobody without the private key can: a
//! person who can edit Secrets but not read the key Secrets cannot forge a matching annotation.
//! The annotation names the key by its (public) fingerprint.
//!
//! A restarting or newly elected controller reads the Secret, recomputes the MAC for the
//! SealedSecret's current spec and compares (in constant time): equal means that the Secret
//! still holds what unsealing would write, so it skips the decryption; any difference (a new
//! spec, an edited or deleted Secret, a removed key, no annotation) falls back to a full
//! unseal, which repairs the Secret.
//!
//! Why keyed: an unkeyed hash of the plaintext on the Secret would let anyone who can read the
//! Secret's metadata (but not its data) test guesses of a low-entropy secret offline.

use std::collections::BTreeMap;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use zeroize::Zeroizing;

use crate::annotations::{CLUSTER_WIDE, NAMESPACE_WIDE};
use crate::keys::{KeyError, PrivateKey};
use crate::types::SealedSecret;

/// The annotation on a Secret that records the MAC: `v1;<key fingerprint>;<base64 MAC>`.
pub const ANNOTATION: &str = "sealedsecrets.bitnami.com/unsealed-mac";

const VERSION: &str = "v1";
const DERIVE_LABEL: &[u8] = b"sealed-secrets unsealed-mac v1";

/// A MAC key derived from one sealing key.
pub struct MacKey {
    id: String,
    key: hmac::Key,
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MacKey {
    /// Derives the MAC key of a sealing key (deterministic: every replica gets the same one).
    pub fn derive(key: &PrivateKey) -> Result<Self, KeyError> {
        let pem = key.to_pkcs1_pem()?;
        let prk = hmac::Key::new(hmac::HMAC_SHA256, DERIVE_LABEL);
        let tag = hmac::sign(&prk, pem.as_bytes());
        let material = Zeroizing::new(tag.as_ref().to_vec());
        Ok(Self {
            id: key.fingerprint().to_string(),
            key: hmac::Key::new(hmac::HMAC_SHA256, &material),
        })
    }

    /// The fingerprint of the sealing key it comes from.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Digest of everything about a SealedSecret that decides what it unseals to.
/// On a cached copy trimmed by [`crate::reconcile::trim_for_cache`], the digest it recorded.
pub fn spec_digest(ss: &SealedSecret) -> [u8; 32] {
    if let Some(d) = ss.spec.trimmed {
        return d;
    }
    let ann = ss.metadata.annotations.as_ref();
    let scope: BTreeMap<&str, Option<&String>> = [CLUSTER_WIDE, NAMESPACE_WIDE]
        .into_iter()
        .map(|k| (k, ann.and_then(|a| a.get(k))))
        .collect();
    let input = serde_json::json!({
        "namespace": ss.metadata.namespace,
        "name": ss.metadata.name,
        "uid": ss.metadata.uid,
        "scope": scope,
        "spec": ss.spec,
    });
    let bytes = serde_json::to_vec(&input).unwrap_or_default();
    let d = digest::digest(&digest::SHA256, &bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The controller-managed content of a Secret, canonically encoded (plaintext: wiped on drop).
fn content(secret: &Secret) -> Zeroizing<Vec<u8>> {
    let mut annotations = secret.metadata.annotations.clone().unwrap_or_default();
    annotations.remove(ANNOTATION);
    let value = serde_json::json!({
        "type": secret.type_.as_deref().unwrap_or("Opaque"),
        "data": secret.data.clone().unwrap_or_default(),
        "labels": secret.metadata.labels.clone().unwrap_or_default(),
        "annotations": annotations,
        "ownerReferences": secret.metadata.owner_references.clone().unwrap_or_default(),
    });
    Zeroizing::new(serde_json::to_vec(&value).unwrap_or_default())
}

fn message(digest: &[u8; 32], secret: &Secret) -> Zeroizing<Vec<u8>> {
    let body = content(secret);
    let mut m = Zeroizing::new(Vec::with_capacity(body.len() + 40));
    m.extend_from_slice(VERSION.as_bytes());
    m.push(0);
    m.extend_from_slice(digest);
    m.extend_from_slice(&body);
    m
}

/// Records the MAC of `secret` (as it is, minus the annotation itself) for `digest`.
pub fn stamp(secret: &mut Secret, digest: &[u8; 32], key: &MacKey) {
    let tag = hmac::sign(&key.key, &message(digest, secret));
    let value = format!(
        "{VERSION};{};{}",
        key.id,
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(tag.as_ref())
    );
    secret
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION.to_string(), value);
}

/// The key fingerprint a Secret's MAC names, if it has a well-formed annotation.
pub fn stamped_key(secret: &Secret) -> Option<&str> {
    let value = secret.metadata.annotations.as_ref()?.get(ANNOTATION)?;
    let mut parts = value.splitn(3, ';');
    (parts.next()? == VERSION).then_some(())?;
    parts.next()
}

/// True if `secret` carries a MAC that matches its content and `digest` under the named key
/// (`find` looks keys up by fingerprint).
pub fn verify<'k>(
    secret: &Secret,
    digest: &[u8; 32],
    find: impl Fn(&str) -> Option<&'k MacKey>,
) -> bool {
    let Some(value) = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
    else {
        return false;
    };
    let mut parts = value.splitn(3, ';');
    let (Some(VERSION), Some(id), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Some(key) = find(id) else {
        return false;
    };
    let Ok(tag) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(mac) else {
        return false;
    };
    hmac::verify(&key.key, &message(digest, secret), &tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Backend;
    use k8s_openapi::ByteString;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn keys() -> &'static (MacKey, MacKey, PrivateKey) {
        static K: OnceLock<(MacKey, MacKey, PrivateKey)> = OnceLock::new();
        K.get_or_init(|| {
            let a = PrivateKey::generate(2048, Backend::AwsLc).unwrap();
            let b = PrivateKey::generate(2048, Backend::AwsLc).unwrap();
            (MacKey::derive(&a).unwrap(), MacKey::derive(&b).unwrap(), a)
        })
    }

    fn ss(json: serde_json::Value) -> SealedSecret {
        serde_json::from_value(json).unwrap()
    }

    fn sample_ss() -> SealedSecret {
        ss(serde_json::json!({
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "s", "namespace": "ns", "uid": "u1"},
            "spec": {"encryptedData": {"a": "AgBx"}, "template": {"metadata": {}}}
        }))
    }

    fn secret(data: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn derivation_is_deterministic_and_per_key() {
        let (a, b, pk) = keys();
        let again = MacKey::derive(pk).unwrap();
        let d = spec_digest(&sample_ss());
        let mut s = secret(&[("x", b"1")]);
        stamp(&mut s, &d, a);
        assert!(verify(&s, &d, |id| (id == again.id()).then_some(&again)));
        assert_eq!(stamped_key(&s), Some(a.id()));
        // Another key with the same name cannot vouch for it.
        assert!(!verify(&s, &d, |_| Some(b)));
        // The key is gone: no verdict.
        assert!(!verify(&s, &d, |_| None));
        assert!(!format!("{a:?}").contains("key:"));
    }

    #[test]
    fn digest_covers_spec_identity_and_scope() {
        let base = spec_digest(&sample_ss());
        let mut other = sample_ss();
        other.spec.encrypted_data.insert("a".into(), "AgBy".into());
        assert_ne!(spec_digest(&other), base);
        let mut other = sample_ss();
        other.metadata.uid = Some("u2".into());
        assert_ne!(spec_digest(&other), base);
        let mut other = sample_ss();
        other.metadata.annotations = Some([(CLUSTER_WIDE.to_string(), "true".to_string())].into());
        assert_ne!(spec_digest(&other), base);
        // Unrelated metadata does not matter.
        let mut other = sample_ss();
        other.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
        assert_eq!(spec_digest(&other), base);
    }

    #[test]
    fn malformed_annotations_never_verify() {
        let (a, _, _) = keys();
        let d = spec_digest(&sample_ss());
        for v in ["", "v1", "v1;x", "v2;id;AAAA", "v1;id;not base64!"] {
            let mut s = secret(&[("x", b"1")]);
            s.metadata.annotations = Some([(ANNOTATION.to_string(), v.to_string())].into());
            assert!(!verify(&s, &d, |_| Some(a)), "{v:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A stamped Secret verifies; changing any byte of any value, adding or removing an
        /// item, changing the type, a label, an annotation or the spec digest makes it fail.
        #[test]
        fn any_change_is_detected(
            data in proptest::collection::btree_map("[a-z]{1,8}", proptest::collection::vec(any::<u8>(), 0..40), 1..5),
            pick in any::<prop::sample::Index>(),
            flip in 0u8..=255,
            extra in "[a-z]{9,12}",
        ) {
            let (a, _, _) = keys();
            let d = spec_digest(&sample_ss());
            let mut s = Secret {
                data: Some(data.iter().map(|(k, v)| (k.clone(), ByteString(v.clone()))).collect()),
                ..Default::default()
            };
            stamp(&mut s, &d, a);
            prop_assert!(verify(&s, &d, |_| Some(a)));

            let keys: Vec<String> = data.keys().cloned().collect();
            let k = pick.get(&keys).clone();

            let mut changed = s.clone();
            let v = &mut changed.data.as_mut().unwrap().get_mut(&k).unwrap().0;
            if v.is_empty() { v.push(flip); } else { let i = pick.index(v.len()); v[i] ^= flip.max(1); }
            prop_assert!(!verify(&changed, &d, |_| Some(a)));

            let mut added = s.clone();
            added.data.as_mut().unwrap().insert(extra.clone(), ByteString(vec![]));
            prop_assert!(!verify(&added, &d, |_| Some(a)));

            let mut removed = s.clone();
            removed.data.as_mut().unwrap().remove(&k);
            prop_assert!(!verify(&removed, &d, |_| Some(a)));

            let mut typed = s.clone();
            typed.type_ = Some("kubernetes.io/tls".into());
            prop_assert!(!verify(&typed, &d, |_| Some(a)));

            let mut labelled = s.clone();
            labelled.metadata.labels = Some([(extra.clone(), "v".to_string())].into());
            prop_assert!(!verify(&labelled, &d, |_| Some(a)));

            let mut annotated = s.clone();
            annotated.metadata.annotations.as_mut().unwrap().insert(extra, "v".into());
            prop_assert!(!verify(&annotated, &d, |_| Some(a)));

            let mut d2 = d;
            d2[0] ^= 1;
            prop_assert!(!verify(&s, &d2, |_| Some(a)));
        }
    }
}
