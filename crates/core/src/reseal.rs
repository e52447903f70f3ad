//! Re-encrypting a SealedSecret for another key without changing anything else
//! (`kubeseal --re-encrypt`, the controller's `/v1/rotate`).
//!
//! Every item is decrypted with the label derived from the object's own top-level metadata and
//! encrypted again with **the same label**, so re-encryption can never widen a scope (the attack
//! upstream fixed in v0.36.0 by discarding the template's metadata). Because nothing else is
//! touched, template labels, annotations and `template.data` survive — upstream drops them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;

use crate::crypto::{hybrid_decrypt_any, hybrid_encrypt};
use crate::keys::{PrivateKey, PublicKey};
use crate::seal::strip_server_fields;
use crate::types::SealedSecret;
use crate::unseal::{ItemErrors, UnsealError, label_for, open_items};

/// Why re-encryption failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResealError {
    #[error(transparent)]
    Unseal(#[from] UnsealError),
    #[error(transparent)]
    Encrypt(#[from] crate::crypto_error::EncryptError),
}

/// Returns a copy of `ss` whose ciphertexts are re-encrypted for `new_key`. Status and
/// server-set metadata are dropped.
pub fn reencrypt(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    new_key: &PublicKey,
) -> Result<SealedSecret, ResealError> {
    let label = label_for(ss);
    let mut out = ss.clone();
    out.status = None;
    strip_server_fields(&mut out.metadata);

    if let Some(v1) = &ss.spec.data {
        let (plain, _) = hybrid_decrypt_any(keys.iter(), &label, &v1.0)
            .map_err(|_| UnsealError::DeprecatedDataDecrypt)?;
        out.spec.data = Some(ByteString(hybrid_encrypt(new_key, &label, &plain)?));
    }

    let mut errors = Vec::new();
    let mut encrypt_error = None;
    open_items(
        ss,
        keys,
        &label,
        &mut errors,
        |item, plain, _| match hybrid_encrypt(new_key, &label, &plain) {
            Ok(ct) => {
                out.spec
                    .encrypted_data
                    .insert(item.to_string(), STANDARD.encode(ct));
            }
            Err(e) => encrypt_error = Some(e),
        },
    );
    if let Some(e) = encrypt_error {
        return Err(e.into());
    }
    if !errors.is_empty() {
        return Err(UnsealError::Items(ItemErrors(errors)).into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Backend, test_key, test_key_2048};
    use crate::seal::{InputSecret, SealOptions, seal};
    use crate::unseal::{UnsealOptions, unseal};
    use serde_json::json;

    #[test]
    fn keeps_everything_but_the_ciphertexts() {
        let old = test_key_2048();
        let new = test_key(Backend::AwsLc);
        let input = InputSecret::from_value(json!({
            "metadata": {"name": "s", "namespace": "ns", "labels": {"team": "a"},
                         "annotations": {"note": "kept"}},
            "stringData": {"pw": "hunter2"}
        }))
        .unwrap();
        let mut ss = seal(input, &old.public_key(), &SealOptions::default()).unwrap();
        ss.spec.template.data = Some([("cfg".to_string(), "{{ .pw }}".to_string())].into());
        ss.metadata.labels = Some([("top".to_string(), "1".to_string())].into());
        ss.metadata.resource_version = Some("42".into());

        let out = reencrypt(&ss, std::slice::from_ref(&old), &new.public_key()).unwrap();
        assert_eq!(out.spec.template, ss.spec.template);
        assert_eq!(out.metadata.labels, ss.metadata.labels);
        assert!(out.metadata.resource_version.is_none());
        assert_ne!(out.spec.encrypted_data["pw"], ss.spec.encrypted_data["pw"]);
        // Only the new key opens it now.
        assert!(unseal(&out, std::slice::from_ref(&old), UnsealOptions::default()).is_err());
        let mut no_tmpl = out.clone();
        no_tmpl.spec.template.data = None;
        let u = unseal(
            &no_tmpl,
            std::slice::from_ref(&new),
            UnsealOptions::default(),
        )
        .unwrap();
        assert_eq!(u.secret.data.as_ref().unwrap()["pw"].0, b"hunter2");
    }

    #[test]
    fn template_scope_annotation_cannot_widen_scope() {
        let key = test_key(Backend::AwsLc);
        let input = InputSecret::from_value(json!({
            "metadata": {"name": "s", "namespace": "ns"}, "stringData": {"pw": "x"}
        }))
        .unwrap();
        let mut ss = seal(input, &key.public_key(), &SealOptions::default()).unwrap();
        // An attacker adds cluster-wide to the template only.
        ss.spec.template.metadata.as_mut().unwrap().annotations = Some(
            [(
                crate::annotations::CLUSTER_WIDE.to_string(),
                "true".to_string(),
            )]
            .into(),
        );
        let out = reencrypt(&ss, std::slice::from_ref(&key), &key.public_key()).unwrap();
        // Moving it elsewhere with a cluster-wide top-level annotation still fails.
        let mut moved = out.clone();
        moved.metadata.namespace = Some("attacker".into());
        moved.metadata.annotations = Some(
            [(
                crate::annotations::CLUSTER_WIDE.to_string(),
                "true".to_string(),
            )]
            .into(),
        );
        assert!(unseal(&moved, std::slice::from_ref(&key), UnsealOptions::default()).is_err());
    }

    #[test]
    fn wrong_key_fails_uniformly() {
        let key = test_key(Backend::AwsLc);
        let other = test_key_2048();
        let input = InputSecret::from_value(json!({
            "metadata": {"name": "s", "namespace": "ns"}, "stringData": {"pw": "x"}
        }))
        .unwrap();
        let ss = seal(input, &key.public_key(), &SealOptions::default()).unwrap();
        let err = reencrypt(&ss, std::slice::from_ref(&other), &other.public_key()).unwrap_err();
        assert_eq!(err.to_string(), "no key could decrypt secret (pw)");
    }
}
