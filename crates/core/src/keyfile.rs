//! Reading private keys from the files people keep as backups: a PEM key, a key Secret as
//! JSON or YAML (several documents allowed), or a `v1.List` of key Secrets (what
//! `kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` prints).

use crate::codec::{CodecError, parse_documents};
use crate::keys::{Backend, KeyError, PrivateKey};

/// Why a key file could not be used. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("not a PEM private key, nor a key Secret or List of key Secrets: {0}")]
    Format(CodecError),
    #[error("secret {0:?} must contain a 'tls.key' item")]
    MissingTlsKey(String),
    #[error("secret {0:?}: 'tls.key' is not valid base64")]
    Base64(String),
    #[error("secret {name:?}: {source}")]
    Key { name: String, source: KeyError },
    #[error("{0}")]
    Pem(KeyError),
    #[error("no keys found")]
    Empty,
}

/// Reads every private key in `data`.
pub fn private_keys_from_bytes(
    data: &[u8],
    backend: Backend,
) -> Result<Vec<PrivateKey>, KeyFileError> {
    if data.windows(11).any(|w| w == b"-----BEGIN ") {
        return PrivateKey::from_pem(data, backend)
            .map(|k| vec![k])
            .map_err(KeyFileError::Pem);
    }
    let docs = parse_documents(data).map_err(KeyFileError::Format)?;
    let mut secrets = Vec::new();
    for doc in docs {
        if doc
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k.ends_with("List"))
        {
            if let Some(items) = doc.get("items").and_then(|i| i.as_array()) {
                secrets.extend(items.iter().cloned());
            }
        } else {
            secrets.push(doc);
        }
    }
    let mut keys = Vec::new();
    for s in secrets {
        let name = s
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or("<unnamed>")
            .to_string();
        let Some(b64) = s.pointer("/data/tls.key").and_then(|v| v.as_str()) else {
            return Err(KeyFileError::MissingTlsKey(name));
        };
        let pem = crate::codec::decode_base64_like_go(b64.as_bytes())
            .ok_or_else(|| KeyFileError::Base64(name.clone()))?;
        let key = PrivateKey::from_pem(&pem, backend).map_err(|source| KeyFileError::Key {
            name: name.clone(),
            source,
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(keys)
}

/// Removes keys with the same fingerprint, keeping the first.
pub fn dedup(keys: &mut Vec<PrivateKey>) {
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.fingerprint().to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::test_key_2048;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    fn secret(name: &str, key: &PrivateKey) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": name},
               "data": {"tls.key": STANDARD.encode(key.to_pkcs1_pem().unwrap().as_bytes()),
                        "tls.crt": ""}})
    }

    #[test]
    fn pem_secret_multi_doc_and_list() {
        let k = test_key_2048();
        let pem = k.to_pkcs1_pem().unwrap();
        assert_eq!(
            private_keys_from_bytes(pem.as_bytes(), Backend::AwsLc)
                .unwrap()
                .len(),
            1
        );
        let one = secret("a", &k).to_string();
        assert_eq!(
            private_keys_from_bytes(one.as_bytes(), Backend::AwsLc)
                .unwrap()
                .len(),
            1
        );
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [secret("a", &k), secret("b", &k)]});
        let yaml = crate::codec::to_yaml(&list).unwrap();
        let mut keys = private_keys_from_bytes(yaml.as_bytes(), Backend::AwsLc).unwrap();
        assert_eq!(keys.len(), 2);
        dedup(&mut keys);
        assert_eq!(keys.len(), 1);
        let two = format!("{}\n{}", secret("a", &k), secret("b", &k));
        assert_eq!(
            private_keys_from_bytes(two.as_bytes(), Backend::AwsLc)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn errors_name_the_secret() {
        let bad = json!({"kind": "Secret", "metadata": {"name": "x"}, "data": {}}).to_string();
        assert_eq!(
            private_keys_from_bytes(bad.as_bytes(), Backend::AwsLc).unwrap_err(),
            KeyFileError::MissingTlsKey("x".into())
        );
        let corrupt = json!({"kind": "Secret", "metadata": {"name": "y"},
            "data": {"tls.key": STANDARD.encode("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")}})
        .to_string();
        assert!(matches!(
            private_keys_from_bytes(corrupt.as_bytes(), Backend::AwsLc).unwrap_err(),
            KeyFileError::Key { .. }
        ));
        assert!(private_keys_from_bytes(b"just: text\n", Backend::AwsLc).is_err());
    }
}
