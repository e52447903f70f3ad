//! Turning a Secret into a SealedSecret (what `kubeseal` does).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use zeroize::Zeroizing;

use crate::annotations::LAST_APPLIED;
use crate::codec::Kind;
use crate::crypto::hybrid_encrypt;
use crate::crypto_error::EncryptError;
use crate::keys::PublicKey;
use crate::scope::Scope;
use crate::types::{SealedSecret, SealedSecretSpec, SecretTemplateSpec};

/// Why a Secret could not be sealed. Messages name the item, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("input is not a Secret (kind {0:?})")]
    NotASecret(String),
    #[error("invalid Secret: {0}")]
    InvalidSecret(String),
    #[error("invalid base64 in data item {0:?}")]
    InvalidBase64(String),
    #[error("stringData item {0:?} is not a string")]
    StringDataNotString(String),
    #[error("data item {0:?} is not a base64 string")]
    DataNotString(String),
    #[error(
        "secret.data is empty in input Secret, assuming this is an error and aborting. To work with empty data, --allow-empty-data can be used"
    )]
    EmptyData,
    #[error("missing metadata.name in input Secret")]
    MissingName,
    #[error(
        "namespace mismatch: input secret is in namespace {input:?} but {flag:?} was specified"
    )]
    NamespaceMismatch { input: String, flag: String },
    #[error("secret must declare a namespace")]
    MissingNamespace,
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
}

/// A Secret read from user input, with its values decoded and wiped on drop.
#[derive(Default)]
pub struct InputSecret {
    pub metadata: ObjectMeta,
    pub type_: Option<String>,
    pub immutable: Option<bool>,
    /// `data` (decoded) merged with `stringData` (which wins), in key order.
    pub items: BTreeMap<String, Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for InputSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputSecret")
            .field("name", &self.metadata.name)
            .field("namespace", &self.metadata.namespace)
            .field("items", &self.items.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl InputSecret {
    /// Reads a Secret from a JSON value, checking `kind` and every item. A missing `kind` is
    /// accepted like upstream; any other kind is refused.
    pub fn from_value(mut value: serde_json::Value) -> Result<Self, SealError> {
        match crate::codec::kind(&value, "Secret") {
            Kind::Expected | Kind::Missing => {}
            Kind::Other(k) => return Err(SealError::NotASecret(k)),
            Kind::NotAString => return Err(SealError::NotASecret("<not a string>".into())),
        }
        let obj = value
            .as_object_mut()
            .ok_or_else(|| SealError::InvalidSecret("not an object".into()))?;
        let mut items = BTreeMap::new();
        take_items(obj, "data", SealError::DataNotString, &mut items, |k, s| {
            let s = Zeroizing::new(s);
            crate::codec::decode_base64_like_go(s.as_bytes())
                .ok_or_else(|| SealError::InvalidBase64(k.to_string()))
        })?;
        // `stringData` after `data`: it wins, as in the API server.
        take_items(
            obj,
            "stringData",
            SealError::StringDataNotString,
            &mut items,
            |_, s| Ok(Zeroizing::new(s.into_bytes())),
        )?;
        let rest: Secret = serde_json::from_value(value)
            .map_err(|e| SealError::InvalidSecret(redact_scalars(&e.to_string())))?;
        Ok(Self {
            metadata: rest.metadata,
            type_: rest.type_,
            immutable: rest.immutable,
            items,
        })
    }
}

/// Removes the mapping `field` (`data` or `stringData`) from `obj` and adds its items to
/// `items`, each value turned into bytes by `decode`. A missing or null field adds nothing; a
/// value that is not a string fails with `not_string`.
fn take_items(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    field: &str,
    not_string: fn(String) -> SealError,
    items: &mut BTreeMap<String, Zeroizing<Vec<u8>>>,
    decode: impl Fn(&str, String) -> Result<Zeroizing<Vec<u8>>, SealError>,
) -> Result<(), SealError> {
    match obj.remove(field) {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::Object(map)) => {
            for (k, v) in map {
                let serde_json::Value::String(s) = v else {
                    return Err(not_string(k));
                };
                let bytes = decode(&k, s)?;
                items.insert(k, bytes);
            }
            Ok(())
        }
        Some(_) => Err(SealError::InvalidSecret(format!(
            "{field} is not a mapping"
        ))),
    }
}

/// Removes the values serde quotes in its messages (``invalid type: string "x"``,
/// ``integer `5` ``), keeping their kind: an annotation or label may hold a secret, and
/// upstream's messages never show values either.
fn redact_scalars(msg: &str) -> String {
    const KINDS: [&str; 4] = ["string ", "integer ", "floating point ", "boolean "];
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    'outer: while !rest.is_empty() {
        for kind in KINDS {
            if let Some(after) = rest.strip_prefix(kind) {
                let closing = match after.chars().next() {
                    Some('"') => Some('"'),
                    Some('`') => Some('`'),
                    _ => None,
                };
                if let Some(close) = closing {
                    out.push_str(kind.trim_end());
                    // Skip the quoted value, honouring `\"` escapes in Debug-quoted strings.
                    let mut escaped = false;
                    let mut end = after.len();
                    for (i, c) in after.char_indices().skip(1) {
                        if escaped {
                            escaped = false;
                        } else if c == '\\' && close == '"' {
                            escaped = true;
                        } else if c == close {
                            end = i + c.len_utf8();
                            break;
                        }
                    }
                    rest = &after[end..];
                    continue 'outer;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// Options of a sealing run, mirroring kubeseal's flags.
#[derive(Debug, Clone, Default)]
pub struct SealOptions {
    /// `--scope`; `None` keeps whatever the input's annotations say.
    pub scope: Option<Scope>,
    /// `--allow-empty-data`.
    pub allow_empty_data: bool,
    /// `--name`: overrides the input's name.
    pub name: Option<String>,
    /// Forced namespace (used by `--merge-into`).
    pub force_namespace: Option<String>,
    /// The namespace from `-n` or the kubeconfig context.
    pub default_namespace: Option<String>,
    /// True when `-n` was given explicitly: a different namespace in the input is an error.
    pub namespace_explicit: bool,
}

/// Removes everything the server sets, and the annotations that would leak plaintext.
pub fn strip_server_fields(meta: &mut ObjectMeta) {
    meta.uid = None;
    meta.resource_version = None;
    meta.generation = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.self_link = None;
    meta.managed_fields = None;
}

/// `s` if it is set and not empty: Kubernetes treats an empty name or namespace as unset.
pub(crate) fn non_empty(s: Option<&String>) -> Option<&String> {
    s.filter(|s| !s.is_empty())
}

/// Seals one Secret for `key` (upstream's `Seal` + `NewSealedSecret`).
pub fn seal(
    mut input: InputSecret,
    key: &PublicKey,
    opts: &SealOptions,
) -> Result<SealedSecret, SealError> {
    if input.items.is_empty() && !opts.allow_empty_data {
        return Err(SealError::EmptyData);
    }
    if let Some(name) = non_empty(opts.name.as_ref()) {
        input.metadata.name = Some(name.clone());
    }
    let name = non_empty(input.metadata.name.as_ref())
        .cloned()
        .ok_or(SealError::MissingName)?;
    if let Some(ns) = non_empty(opts.force_namespace.as_ref()) {
        input.metadata.namespace = Some(ns.clone());
    }
    if let Some(scope) = opts.scope.filter(|s| *s != Scope::Strict) {
        let mut ann = input.metadata.annotations.take().unwrap_or_default();
        scope.apply_to(&mut ann);
        input.metadata.annotations = Some(ann);
    }
    let scope = Scope::from_annotations(input.metadata.annotations.as_ref());
    if scope != Scope::ClusterWide {
        let input_ns = non_empty(input.metadata.namespace.as_ref()).cloned();
        if opts.namespace_explicit
            && let (Some(flag), Some(ins)) = (opts.default_namespace.as_ref(), input_ns.as_ref())
            && flag != ins
        {
            return Err(SealError::NamespaceMismatch {
                input: ins.clone(),
                flag: flag.clone(),
            });
        }
        if input_ns.is_none() {
            input.metadata.namespace = non_empty(opts.default_namespace.as_ref()).cloned();
        }
        if input.metadata.namespace.is_none() {
            return Err(SealError::MissingNamespace);
        }
    }
    strip_server_fields(&mut input.metadata);
    input.metadata.owner_references = None;
    if let Some(ann) = input.metadata.annotations.as_mut() {
        for k in LAST_APPLIED {
            ann.remove(*k);
        }
        if ann.is_empty() {
            input.metadata.annotations = None;
        }
    }

    let namespace = input.metadata.namespace.clone().unwrap_or_default();
    let label = scope.label(&namespace, &name);
    let mut encrypted = BTreeMap::new();
    for (k, v) in &input.items {
        let ct = hybrid_encrypt(key, &label, v)?;
        encrypted.insert(k.clone(), STANDARD.encode(ct));
    }

    let mut top_annotations = BTreeMap::new();
    scope.apply_to(&mut top_annotations);
    let metadata = ObjectMeta {
        name: Some(name),
        namespace: input.metadata.namespace.clone(),
        annotations: (!top_annotations.is_empty()).then_some(top_annotations),
        ..Default::default()
    };
    Ok(SealedSecret {
        metadata,
        spec: SealedSecretSpec {
            template: SecretTemplateSpec {
                metadata: Some(Box::new(input.metadata)),
                type_: input.type_,
                immutable: input.immutable,
                data: None,
            },
            data: None,
            encrypted_data: encrypted,
            trimmed: None,
        },
        status: None,
    })
}

/// Encrypts one raw value (`kubeseal --raw`): the stored base64 form, without a newline.
pub fn seal_raw(
    key: &PublicKey,
    scope: Scope,
    namespace: &str,
    name: &str,
    value: &[u8],
) -> Result<String, SealError> {
    let ct = hybrid_encrypt(key, &scope.label(namespace, name), value)?;
    Ok(STANDARD.encode(ct))
}

/// `kubeseal --merge-into`: copies the newly sealed items and the template's labels,
/// annotations and data into `original`.
pub fn merge_into(original: &mut SealedSecret, update: SealedSecret) {
    original
        .spec
        .encrypted_data
        .extend(update.spec.encrypted_data);
    if let Some(new_meta) = update.spec.template.metadata {
        let meta = original
            .spec
            .template
            .metadata
            .get_or_insert_with(Default::default);
        if let Some(a) = new_meta.annotations {
            meta.annotations
                .get_or_insert_with(Default::default)
                .extend(a);
        }
        if let Some(l) = new_meta.labels {
            meta.labels.get_or_insert_with(Default::default).extend(l);
        }
    }
    if let Some(d) = update.spec.template.data {
        original
            .spec
            .template
            .data
            .get_or_insert_with(Default::default)
            .extend(d);
    }
}

#[cfg(test)]
mod tests;
