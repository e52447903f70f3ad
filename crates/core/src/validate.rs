//! Can this controller unseal a SealedSecret? The one decision behind the admission webhook
//! and `/v1/verify` (and so `kubeseal --validate`).
//!
//! Like [`crate::unseal::verify`], the answer depends only on which items open under the
//! object's own label with the given keys and on the syntax of `spec.template.data`: templates
//! are parsed, never executed, and nothing decrypted is looked at. So no answer can be used to
//! learn anything about the plaintext.

use std::fmt;

use crate::keys::PrivateKey;
use crate::types::SealedSecret;
use crate::unseal::{UnsealError, UnsealOptions, verify};

/// Why a SealedSecret would never unseal here. The message names items, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Rejection {
    /// The decryption failure, if any item does not open.
    pub unseal: Option<UnsealError>,
    /// `template.data` entries that do not parse: (entry, the parser's message).
    pub templates: Vec<(String, String)>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(e) = &self.unseal {
            parts.push(e.to_string());
        }
        for (item, msg) in &self.templates {
            parts.push(format!("template.data[{item:?}] does not parse: {msg}"));
        }
        f.write_str(&parts.join("; "))
    }
}

impl Rejection {
    /// A stable category, like the controller's error categories.
    pub fn category(&self) -> &'static str {
        if self.unseal.is_some() {
            "unseal"
        } else {
            "template"
        }
    }
}

/// What a key that opened items is known to be, for soft warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key was created before `--key-cutoff-time`: it still opens, but it should no
    /// longer be used.
    pub before_cutoff: bool,
}

/// Checks that every item opens with `keys` under the object's own label and that every
/// `template.data` entry parses. `info[i]` describes `keys[i]` (missing entries: nothing
/// known). On success returns the warnings (soft problems that do not stop unsealing).
pub fn validate(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    info: &[KeyInfo],
    opts: UnsealOptions,
) -> Result<Vec<String>, Rejection> {
    // Syntax first: it costs no RSA operation, and it is reported with the decryption
    // result either way.
    let templates: Vec<(String, String)> = ss
        .spec
        .template
        .data
        .iter()
        .flatten()
        .filter_map(|(item, text)| {
            gotemplate::check(item, text)
                .err()
                .map(|e| (item.clone(), e.to_string()))
        })
        .collect();
    let opened = verify(ss, keys, opts);
    let used = match opened {
        Ok(used) if templates.is_empty() => used,
        Ok(_) => {
            return Err(Rejection {
                unseal: None,
                templates,
            });
        }
        Err(e) => {
            return Err(Rejection {
                unseal: Some(e),
                templates,
            });
        }
    };
    let mut warnings = Vec::new();
    let stale = used
        .iter()
        .any(|&i| info.get(i).is_some_and(|k| k.before_cutoff));
    if stale {
        warnings.push(
            "sealed with a key created before the controller's --key-cutoff-time; \
             re-encrypt it with the current key (kubeseal --re-encrypt)"
                .to_string(),
        );
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Backend, Certificate};
    use crate::seal::{InputSecret, SealOptions, seal};
    use serde_json::json;

    fn key() -> (PrivateKey, Certificate) {
        let k = PrivateKey::generate(2048, Backend::AwsLc).unwrap();
        let c = crate::keys::self_signed_certificate(
            &k,
            None,
            std::time::Duration::from_secs(3600),
            std::time::SystemTime::now(),
        )
        .unwrap();
        (k, c)
    }

    fn sealed(cert: &Certificate) -> SealedSecret {
        let input = InputSecret::from_value(json!({
            "metadata": {"name": "s", "namespace": "ns"},
            "stringData": {"password": "hunter2", "user": "admin"}
        }))
        .unwrap();
        seal(input, cert.public_key(), &SealOptions::default()).unwrap()
    }

    #[test]
    fn good_bad_and_soft() {
        let (k, c) = key();
        let (other, _) = key();
        let ss = sealed(&c);
        let opts = UnsealOptions::default();
        assert_eq!(
            validate(&ss, std::slice::from_ref(&k), &[], opts),
            Ok(vec![])
        );
        let err = validate(&ss, std::slice::from_ref(&other), &[], opts).unwrap_err();
        assert_eq!(err.category(), "unseal");
        assert_eq!(
            err.to_string(),
            "no key could decrypt secret (password, user)"
        );
        // The key that opens is older than the cutoff: admitted with a warning.
        let w = validate(
            &ss,
            &[other.clone(), k.clone()],
            &[
                KeyInfo::default(),
                KeyInfo {
                    before_cutoff: true,
                },
            ],
            opts,
        )
        .unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("--key-cutoff-time"), "{w:?}");
        // A template that does not parse is named, with the decryption result.
        let mut bad = ss.clone();
        bad.spec.template.data = Some([("cfg".to_string(), "{{ .password ".to_string())].into());
        let err = validate(&bad, std::slice::from_ref(&k), &[], opts).unwrap_err();
        assert_eq!(err.category(), "template");
        assert!(
            err.to_string()
                .starts_with("template.data[\"cfg\"] does not parse"),
            "{err}"
        );
        let err = validate(&bad, std::slice::from_ref(&other), &[], opts).unwrap_err();
        assert!(err.to_string().contains("(password, user)"), "{err}");
        assert!(err.to_string().contains("template.data[\"cfg\"]"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn no_oracle_templates_are_parsed_never_executed() {
        let (k, c) = key();
        let ss = sealed(&c);
        let opts = UnsealOptions::default();
        // unseal would tell the two apart; validate must not.
        let [h, z] = crate::unseal::tests::oracle_probes(&ss, std::slice::from_ref(&k));
        assert_eq!(
            validate(&h, std::slice::from_ref(&k), &[], opts),
            validate(&z, std::slice::from_ref(&k), &[], opts)
        );
        assert_eq!(
            validate(&h, std::slice::from_ref(&k), &[], opts),
            Ok(vec![])
        );
    }
}
