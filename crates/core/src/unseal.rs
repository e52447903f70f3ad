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
use crate::seal::non_empty;
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
    /// A cached copy without its ciphertexts (see [`crate::SealedSecretSpec::trimmed`]) was
    /// passed in: a bug of the caller, never an empty Secret.
    #[error("the cached copy of the SealedSecret holds no ciphertexts")]
    Trimmed,
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
    if non_empty(ss.metadata.name.as_ref()).is_none() {
        return Err(UnsealError::MissingName);
    }
    if ss.spec.is_trimmed() {
        return Err(UnsealError::Trimmed);
    }
    let label = label_for(ss);
    if let Some((_plain, idx)) = open_v1_data(ss, keys, &label, opts)? {
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

/// A plaintext, and the index (into the keys) of the key that opened it.
type Opened = (Zeroizing<Vec<u8>>, usize);

/// The deprecated `spec.data` field (the whole Secret as one ciphertext), if the object has
/// one: its plaintext and the index of the key that opened it. Refused unless `opts` accepts
/// it, and next to `encryptedData`.
fn open_v1_data(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    label: &[u8],
    opts: UnsealOptions,
) -> Result<Option<Opened>, UnsealError> {
    let Some(v1) = &ss.spec.data else {
        return Ok(None);
    };
    if !opts.accept_deprecated_v1_data {
        return Err(UnsealError::DeprecatedDataDisabled);
    }
    if !ss.spec.encrypted_data.is_empty() {
        return Err(UnsealError::BothDataFields);
    }
    hybrid_decrypt_any(keys.iter(), label, &v1.0)
        .map(Some)
        .map_err(|_| UnsealError::DeprecatedDataDecrypt)
}

/// Decrypts every item with `keys` (see [`open_items`] for the order), renders
/// `template.data`, and builds the Secret.
pub fn unseal(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    opts: UnsealOptions,
) -> Result<Unsealed, UnsealError> {
    let name = non_empty(ss.metadata.name.as_ref())
        .cloned()
        .ok_or(UnsealError::MissingName)?;
    if ss.spec.is_trimmed() {
        return Err(UnsealError::Trimmed);
    }
    let label = label_for(ss);
    let mut keys_used = Vec::new();
    let mut item_keys = Vec::new();

    let mut secret = if let Some((plain, idx)) = open_v1_data(ss, keys, &label, opts)? {
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
            metadata: *meta,
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
pub(crate) mod tests;
