//! Turning a Secret into a SealedSecret (what `kubeseal` does).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use zeroize::Zeroizing;

use crate::annotations::LAST_APPLIED;
use crate::crypto::{EncryptError, hybrid_encrypt};
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
        let obj = value
            .as_object_mut()
            .ok_or_else(|| SealError::InvalidSecret("not an object".into()))?;
        match obj.get("kind") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(k)) if k == "Secret" => {}
            Some(serde_json::Value::String(k)) => return Err(SealError::NotASecret(k.clone())),
            Some(_) => return Err(SealError::NotASecret("<not a string>".into())),
        }
        let mut items = BTreeMap::new();
        if let Some(data) = obj.remove("data") {
            match data {
                serde_json::Value::Null => {}
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        let serde_json::Value::String(s) = v else {
                            return Err(SealError::DataNotString(k));
                        };
                        let s = Zeroizing::new(s);
                        let bytes = crate::codec::decode_base64_like_go(s.as_bytes())
                            .ok_or_else(|| SealError::InvalidBase64(k.clone()))?;
                        items.insert(k, bytes);
                    }
                }
                _ => return Err(SealError::InvalidSecret("data is not a mapping".into())),
            }
        }
        if let Some(data) = obj.remove("stringData") {
            match data {
                serde_json::Value::Null => {}
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        let serde_json::Value::String(s) = v else {
                            return Err(SealError::StringDataNotString(k));
                        };
                        items.insert(k, Zeroizing::new(s.into_bytes()));
                    }
                }
                _ => {
                    return Err(SealError::InvalidSecret(
                        "stringData is not a mapping".into(),
                    ));
                }
            }
        }
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

/// Seals one Secret for `key` (upstream's `Seal` + `NewSealedSecret`).
pub fn seal(
    mut input: InputSecret,
    key: &PublicKey,
    opts: &SealOptions,
) -> Result<SealedSecret, SealError> {
    if input.items.is_empty() && !opts.allow_empty_data {
        return Err(SealError::EmptyData);
    }
    if let Some(name) = opts.name.as_ref().filter(|n| !n.is_empty()) {
        input.metadata.name = Some(name.clone());
    }
    let name = input
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(SealError::MissingName)?;
    if let Some(ns) = opts.force_namespace.as_ref().filter(|n| !n.is_empty()) {
        input.metadata.namespace = Some(ns.clone());
    }
    if let Some(scope) = opts.scope.filter(|s| *s != Scope::Strict) {
        let mut ann = input.metadata.annotations.take().unwrap_or_default();
        scope.apply_to(&mut ann);
        input.metadata.annotations = Some(ann);
    }
    let scope = Scope::from_annotations(input.metadata.annotations.as_ref());
    if scope != Scope::ClusterWide {
        let input_ns = input.metadata.namespace.clone().filter(|n| !n.is_empty());
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
            input.metadata.namespace = opts.default_namespace.clone().filter(|n| !n.is_empty());
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
                metadata: Some(input.metadata),
                type_: input.type_,
                immutable: input.immutable,
                data: None,
            },
            data: None,
            encrypted_data: encrypted,
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
mod tests {
    use super::*;
    use crate::annotations::{CLUSTER_WIDE, NAMESPACE_WIDE};
    use crate::keys::{Backend, test_key_2048};
    use serde_json::json;

    fn secret(v: serde_json::Value) -> InputSecret {
        InputSecret::from_value(v).unwrap()
    }

    fn opts_ns(ns: &str) -> SealOptions {
        SealOptions {
            default_namespace: Some(ns.into()),
            ..Default::default()
        }
    }

    #[test]
    fn shape_like_upstream() {
        let key = test_key_2048().with_backend(Backend::AwsLc).unwrap();
        let input = secret(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns", "uid": "u", "resourceVersion": "1",
                "creationTimestamp": "2020-01-01T00:00:00Z",
                "labels": {"l": "1"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{..secret..}", "a": "b"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "y"}]},
            "type": "kubernetes.io/basic-auth",
            "data": {"username": "YWRtaW4="},
            "stringData": {"password": "hunter2"}
        }));
        let ss = seal(input, &key.public_key(), &SealOptions::default()).unwrap();
        assert_eq!(ss.metadata.name.as_deref(), Some("s"));
        assert_eq!(ss.metadata.namespace.as_deref(), Some("ns"));
        assert!(ss.metadata.annotations.is_none());
        let t = ss.spec.template.metadata.as_ref().unwrap();
        assert_eq!(t.labels.as_ref().unwrap()["l"], "1");
        assert_eq!(t.annotations.as_ref().unwrap().len(), 1);
        assert!(t.uid.is_none() && t.resource_version.is_none() && t.creation_timestamp.is_none());
        assert!(t.owner_references.is_none());
        assert_eq!(
            ss.spec.template.type_.as_deref(),
            Some("kubernetes.io/basic-auth")
        );
        let keys: Vec<_> = ss.spec.encrypted_data.keys().cloned().collect();
        assert_eq!(keys, ["password", "username"]);
        assert!(ss.spec.encrypted_data["password"].starts_with("AQ"));
    }

    #[test]
    fn scope_flag_rewrites_annotations() {
        let key = test_key_2048();
        let input = secret(
            json!({"metadata": {"name": "s", "annotations": {NAMESPACE_WIDE: "true"}}, "data": {"a": "Yg=="}}),
        );
        let opts = SealOptions {
            scope: Some(Scope::ClusterWide),
            ..Default::default()
        };
        let ss = seal(input, &key.public_key(), &opts).unwrap();
        let top = ss.metadata.annotations.unwrap();
        assert_eq!(top.get(CLUSTER_WIDE).map(String::as_str), Some("true"));
        assert!(!top.contains_key(NAMESPACE_WIDE));
        assert!(ss.metadata.namespace.is_none());
    }

    #[test]
    fn errors() {
        let key = test_key_2048().public_key();
        assert_eq!(
            InputSecret::from_value(json!({"kind": "ConfigMap"})).unwrap_err(),
            SealError::NotASecret("ConfigMap".into())
        );
        let e = InputSecret::from_value(json!({"data": {"pw": "not base64!!"}})).unwrap_err();
        assert_eq!(e, SealError::InvalidBase64("pw".into()));
        assert!(!e.to_string().contains("not base64"));
        let e = InputSecret::from_value(json!({"stringData": {"pw": 12345}})).unwrap_err();
        assert!(!e.to_string().contains("12345"));
        assert_eq!(
            seal(
                secret(json!({"metadata": {"name": "x"}})),
                &key,
                &opts_ns("n")
            )
            .unwrap_err(),
            SealError::EmptyData
        );
        assert_eq!(
            seal(secret(json!({"data": {"a": ""}})), &key, &opts_ns("n")).unwrap_err(),
            SealError::MissingName
        );
        assert_eq!(
            seal(
                secret(json!({"metadata": {"name": "x"}, "data": {"a": ""}})),
                &key,
                &SealOptions::default()
            )
            .unwrap_err(),
            SealError::MissingNamespace
        );
        let mismatch = SealOptions {
            default_namespace: Some("other".into()),
            namespace_explicit: true,
            ..Default::default()
        };
        assert_eq!(
            seal(
                secret(json!({"metadata": {"name": "x", "namespace": "ns"}, "data": {"a": ""}})),
                &key,
                &mismatch
            )
            .unwrap_err()
            .to_string(),
            "namespace mismatch: input secret is in namespace \"ns\" but \"other\" was specified"
        );
        // Empty data allowed on request.
        let allow = SealOptions {
            allow_empty_data: true,
            ..opts_ns("n")
        };
        let ss = seal(secret(json!({"metadata": {"name": "x"}})), &key, &allow).unwrap();
        assert!(ss.spec.encrypted_data.is_empty());
        assert_eq!(ss.metadata.namespace.as_deref(), Some("n"));
    }

    #[test]
    fn data_base64_like_go_and_no_values_in_messages() {
        let s = secret(json!({"metadata": {"name": "x"}, "data": {"a": "YWJj\nZGVm\n"}}));
        assert_eq!(s.items["a"].as_slice(), b"abcdef");
        for bad in [
            json!({"metadata": {"name": "x", "labels": {"l": 12345}}}),
            json!({"metadata": {"name": "x"}, "immutable": "hunter2"}),
            json!({"metadata": {"name": "x", "annotations": {"a": 1.5}}}),
            json!({"metadata": {"name": "x", "annotations": {"a": true}}}),
        ] {
            let msg = InputSecret::from_value(bad).unwrap_err().to_string();
            for v in ["12345", "hunter2", "1.5", "true"] {
                assert!(!msg.contains(v), "{msg}");
            }
            assert!(msg.starts_with("invalid Secret: invalid type: "), "{msg}");
        }
        assert_eq!(
            redact_scalars(r#"invalid type: string "a\"b", expected x; missing field `uid`"#),
            "invalid type: string, expected x; missing field `uid`"
        );
    }

    #[test]
    fn name_override() {
        let key = test_key_2048().public_key();
        let opts = SealOptions {
            name: Some("new".into()),
            ..opts_ns("n")
        };
        let ss = seal(
            secret(json!({"metadata": {"name": "old"}, "data": {"a": ""}})),
            &key,
            &opts,
        )
        .unwrap();
        assert_eq!(ss.metadata.name.as_deref(), Some("new"));
        assert_eq!(
            ss.spec.template.metadata.unwrap().name.as_deref(),
            Some("new")
        );
    }

    #[test]
    fn debug_names_the_secret_and_its_items_but_no_value() {
        let input = secret(json!({
            "metadata": {"name": "db", "namespace": "prod"},
            "data": {"password": "aHVudGVyMg=="},
        }));
        let shown = format!("{input:?}");
        for want in ["db", "prod", "password"] {
            assert!(shown.contains(want), "{want:?} missing from {shown}");
        }
        assert!(
            !shown.contains("hunter2") && !shown.contains("aHVudGVyMg"),
            "{shown}"
        );
    }

    #[test]
    fn null_data_or_string_data_counts_as_none() {
        let a = secret(json!({"metadata": {"name": "a"}, "data": null, "stringData": {"x": "1"}}));
        assert_eq!(a.items.keys().collect::<Vec<_>>(), ["x"]);
        let b =
            secret(json!({"metadata": {"name": "b"}, "data": {"y": "Mg=="}, "stringData": null}));
        assert_eq!(b.items.keys().collect::<Vec<_>>(), ["y"]);
        assert_eq!(b.items["y"].as_slice(), b"2");
    }

    #[test]
    fn force_namespace_wins_unless_empty() {
        let key = test_key_2048().public_key();
        let input =
            || secret(json!({"metadata": {"name": "s", "namespace": "own"}, "data": {"a": ""}}));
        let forced = SealOptions {
            force_namespace: Some("forced".into()),
            ..opts_ns("default")
        };
        let ss = seal(input(), &key, &forced).unwrap();
        assert_eq!(ss.metadata.namespace.as_deref(), Some("forced"));
        let empty = SealOptions {
            force_namespace: Some(String::new()),
            ..opts_ns("default")
        };
        let ss = seal(input(), &key, &empty).unwrap();
        assert_eq!(ss.metadata.namespace.as_deref(), Some("own"));
    }

    #[test]
    fn seal_raw_opens_with_the_label_of_its_scope_only() {
        let private = test_key_2048();
        let public = private.public_key();
        let sealed = seal_raw(&public, Scope::Strict, "ns", "name", b"raw value").unwrap();
        assert!(!sealed.contains('\n'));
        let ct = STANDARD.decode(&sealed).unwrap();
        let opened = crate::crypto::hybrid_decrypt(&private, b"ns/name", &ct).unwrap();
        assert_eq!(opened.as_slice(), b"raw value");
        assert!(crate::crypto::hybrid_decrypt(&private, b"ns/other", &ct).is_err());
        let wide = seal_raw(&public, Scope::NamespaceWide, "ns", "name", b"v").unwrap();
        let ct = STANDARD.decode(&wide).unwrap();
        assert_eq!(
            crate::crypto::hybrid_decrypt(&private, b"ns", &ct)
                .unwrap()
                .as_slice(),
            b"v"
        );
    }

    #[test]
    fn merge_into_adds_items_labels_annotations_and_template_data() {
        let ss = |v: serde_json::Value| -> SealedSecret { serde_json::from_value(v).unwrap() };
        let mut original = ss(json!({
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "s", "namespace": "n"},
            "spec": {
                "encryptedData": {"a": "old-a", "keep": "k"},
                "template": {"metadata": {"labels": {"l1": "1"}}, "data": {"t1": "x"}},
            },
        }));
        let update = ss(json!({
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "s", "namespace": "n"},
            "spec": {
                "encryptedData": {"a": "new-a", "b": "new-b"},
                "template": {
                    "metadata": {"labels": {"l2": "2"}, "annotations": {"an": "v"}},
                    "data": {"t2": "y"},
                },
            },
        }));
        merge_into(&mut original, update);
        let items: Vec<(&str, &str)> = original
            .spec
            .encrypted_data
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(items, [("a", "new-a"), ("b", "new-b"), ("keep", "k")]);
        let meta = original.spec.template.metadata.unwrap();
        let labels = meta.labels.unwrap();
        assert_eq!(labels.get("l1").map(String::as_str), Some("1"));
        assert_eq!(labels.get("l2").map(String::as_str), Some("2"));
        assert_eq!(
            meta.annotations.unwrap().get("an").map(String::as_str),
            Some("v")
        );
        let data = original.spec.template.data.unwrap();
        assert_eq!(
            data.keys().map(String::as_str).collect::<Vec<_>>(),
            ["t1", "t2"]
        );
    }
}
