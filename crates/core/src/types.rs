//! The `SealedSecret` custom resource (`bitnami.com/v1alpha1`), wire-compatible with upstream.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

// Field order matters for JSON output: upstream writes `template`, then `data`, then
// `encryptedData`.
/// SealedSecretSpec is the specification of a SealedSecret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "bitnami.com",
    version = "v1alpha1",
    kind = "SealedSecret",
    plural = "sealedsecrets",
    singular = "sealedsecret",
    namespaced,
    status = "SealedSecretStatus",
    doc = "SealedSecret is the K8s representation of a \"sealed Secret\" - a regular k8s Secret that has been sealed (encrypted) using the controller's key.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[0].message"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[0].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = spec_schema_transform)]
pub struct SealedSecretSpec {
    /// Template defines the structure of the Secret that will be created from this sealed secret.
    #[serde(default)]
    pub template: SecretTemplateSpec,

    /// Data is deprecated and will be removed eventually. Use per-value EncryptedData instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "byte_string_schema")]
    pub data: Option<ByteString>,

    /// Sealed items: item name to base64 ciphertext.
    #[serde(default, deserialize_with = "lenient_string_map")]
    #[schemars(schema_with = "encrypted_data_schema")]
    pub encrypted_data: BTreeMap<String, String>,

    /// Not part of the resource (never serialized, not in the CRD): set by
    /// [`crate::reconcile::trim_for_cache`] when it drops the ciphertexts and the template from
    /// a cached copy, to the digest of the spec as it was (see [`crate::syncmac::spec_digest`]).
    /// A spec with this set cannot be unsealed; the controller reads the object again first.
    #[serde(skip)]
    #[schemars(skip)]
    pub trimmed: Option<[u8; 32]>,
}

impl SealedSecretSpec {
    /// True if this is a cached copy without ciphertexts (see [`SealedSecretSpec::trimmed`]).
    pub fn is_trimmed(&self) -> bool {
        self.trimmed.is_some()
    }
}

/// Everything of the resulting Secret except its data.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplateSpec {
    /// Standard object's metadata, copied onto the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "template_metadata_schema")]
    // Boxed: most SealedSecrets have none, and the controller caches thousands of them.
    pub metadata: Option<Box<ObjectMeta>>,

    /// Used to facilitate programmatic handling of secret data.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,

    /// Immutable, if set to true, ensures that data stored in the Secret cannot be updated
    /// (only object metadata can be modified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,

    /// Keys that should be templated using decrypted data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable_string_map_schema")]
    pub data: Option<BTreeMap<String, String>>,
}

/// The most recently observed status of the SealedSecret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// The generation most recently observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The latest available observations of the sealed secret's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<SealedSecretCondition>>,

    /// The sealing keys this SealedSecret's items need, one entry per key fingerprint, as
    /// found by the last successful unseal (not part of upstream's schema; upstream ignores
    /// it). Used to count per-key usage and to tell whether a key can be retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<SealedSecretKeyUsage>>,
}

/// The items of a SealedSecret that one sealing key opened.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretKeyUsage {
    /// The key's fingerprint (SHA-256 of its public key, as in the controller's logs and
    /// metrics).
    pub fingerprint: String,
    /// Names of the items this key opened (`encryptedData` keys; `data` for the deprecated
    /// `spec.data` field).
    pub items: Vec<String>,
}

/// The state of a sealed secret at a certain point.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretCondition {
    /// Type of condition. Valid value: "Synced".
    #[serde(rename = "type")]
    pub type_: String,
    /// "True", "False" or "Unknown".
    pub status: String,
    /// The last time this condition was updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// Last time the condition transitioned from one status to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// The reason for the condition's last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human readable message indicating details about the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The condition Argo CD reads (upstream's condition type).
pub const CONDITION_SYNCED: &str = "Synced";

/// The kstatus-style condition (Flux's health checks): mirrors `Synced`.
pub const CONDITION_READY: &str = "Ready";

impl SealedSecret {
    /// The `Synced` condition, if any.
    pub fn synced_condition(&self) -> Option<&SealedSecretCondition> {
        self.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == CONDITION_SYNCED)
    }
}

/// Like upstream's decoder, which never fails on `encryptedData`: string values are kept,
/// and any other JSON value is kept as its JSON text so that unsealing reports the item by
/// name (it will not be valid base64) instead of the whole object failing to decode.
fn lenient_string_map<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(d)?;
    let Some(serde_json::Value::Object(map)) = value else {
        return Ok(BTreeMap::new());
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect())
}

/// `encryptedData` is required in the schema (as upstream) although the Rust type accepts its
/// absence (legacy `spec.data` objects); and no `default`s are injected into the schema.
fn spec_schema_transform(schema: &mut schemars::Schema) {
    if let Some(props) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        for prop in props.values_mut() {
            if let Some(p) = prop.as_object_mut() {
                p.remove("default");
            }
        }
    }
    schema.insert("required".into(), serde_json::json!(["encryptedData"]));
}

fn object(v: serde_json::Value) -> schemars::Schema {
    match v {
        serde_json::Value::Object(m) => schemars::Schema::from(m),
        _ => schemars::Schema::default(),
    }
}

fn byte_string_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    object(serde_json::json!({
        "description": "Data is deprecated and will be removed eventually. Use per-value EncryptedData instead.",
        "type": "string",
        "format": "byte"
    }))
}

fn encrypted_data_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    object(serde_json::json!({
        "type": "object",
        "additionalProperties": {"type": "string"},
        "x-kubernetes-preserve-unknown-fields": true
    }))
}

fn nullable_string_map_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    object(serde_json::json!({
        "description": "Keys that should be templated using decrypted data.",
        "type": "object",
        "nullable": true,
        "additionalProperties": {"type": "string"}
    }))
}

fn template_metadata_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    object(serde_json::json!({
        "description": "Standard object's metadata.",
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "finalizers": {"type": "array", "items": {"type": "string"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "name": {"type": "string"},
            "namespace": {"type": "string"}
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn crd_identity_and_schema() {
        let crd = serde_json::to_value(SealedSecret::crd()).unwrap();
        assert_eq!(crd["metadata"]["name"], "sealedsecrets.bitnami.com");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let v = &crd["spec"]["versions"][0];
        assert_eq!(v["name"], "v1alpha1");
        assert_eq!(v["subresources"]["status"], serde_json::json!({}));
        let cols: Vec<_> = v["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(cols, ["Status", "Synced", "Age"]);
        let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["required"], serde_json::json!(["encryptedData"]));
        assert_eq!(
            spec["properties"]["encryptedData"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        assert_eq!(spec["properties"]["data"]["format"], "byte");
        assert_eq!(
            spec["properties"]["template"]["properties"]["metadata"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
    }

    #[test]
    fn lenient_encrypted_data() {
        let ss: SealedSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "a", "namespace": "b"},
            "spec": {"encryptedData": {"ok": "QUJD", "bad": 5}}
        }))
        .unwrap();
        assert_eq!(ss.spec.encrypted_data["ok"], "QUJD");
        assert_eq!(ss.spec.encrypted_data["bad"], "5");
        let legacy: SealedSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "a", "namespace": "b"},
            "spec": {"data": "QUJD"}
        }))
        .unwrap();
        assert!(legacy.spec.encrypted_data.is_empty());
        assert_eq!(legacy.spec.data.unwrap().0, b"ABC");
    }

    #[test]
    fn json_field_order_like_upstream() {
        let mut ss = SealedSecret::new("n", SealedSecretSpec::default());
        ss.spec.encrypted_data.insert("k".into(), "v".into());
        let s = serde_json::to_string(&ss).unwrap();
        let t = s.find("\"template\"").unwrap();
        let e = s.find("\"encryptedData\"").unwrap();
        assert!(t < e);
        assert!(s.find("\"apiVersion\"").unwrap() < s.find("\"spec\"").unwrap());
    }
}
