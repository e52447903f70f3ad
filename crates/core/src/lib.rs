//! Sealed Secrets core: the wire format, scopes, keys and certificates, the `SealedSecret`
//! types and CRD, sealing a Secret and unsealing to a Secret (`template.data` is rendered by the
//! `gotemplate` crate).
//!
//! Pure logic: no I/O, no async runtime. Everything here is unit- and property-tested without
//! a cluster; the controller and `kubeseal` are thin adapters around it.

pub mod codec;
pub mod crypto;
pub mod crypto_error;
pub mod duration;
pub mod flags;
pub mod keyfile;
pub mod keys;
pub mod keyusage;
pub mod pem;
pub mod reconcile;
pub mod reseal;
pub mod scope;
pub mod seal;
pub mod splice;
pub mod syncmac;
pub use gotemplate as template;
pub mod types;
pub mod unseal;
pub mod validate;

pub use crypto::{hybrid_decrypt, hybrid_decrypt_any, hybrid_encrypt};
pub use crypto_error::{DecryptError, EncryptError};
pub use keys::{Backend, Certificate, KeyError, PrivateKey, PublicKey};
pub use reseal::{ResealError, reencrypt};
pub use scope::Scope;
pub use seal::{InputSecret, SealError, SealOptions, seal, seal_raw};
pub use types::{
    SealedSecret, SealedSecretCondition, SealedSecretKeyUsage, SealedSecretSpec,
    SealedSecretStatus, SecretTemplateSpec,
};
pub use unseal::{UnsealError, UnsealOptions, Unsealed, unseal};

/// The version the programs print (`--version`, the startup log, the `build_info` metric):
/// the package version, followed by `+<revision>` when the build set
/// `SEALED_SECRETS_BUILD_REVISION` (the container image build passes the git commit, so CI can
/// tell that an image runs the binary of the tree it was built from).
pub fn build_version() -> String {
    version_with_revision(
        env!("CARGO_PKG_VERSION"),
        option_env!("SEALED_SECRETS_BUILD_REVISION"),
    )
}

fn version_with_revision(version: &str, revision: Option<&str>) -> String {
    match revision.map(str::trim) {
        Some(rev) if !rev.is_empty() => format!("{version}+{rev}"),
        _ => version.to_string(),
    }
}

#[cfg(test)]
mod version_tests {
    use super::version_with_revision;

    #[test]
    fn revision_is_appended_as_build_metadata() {
        assert_eq!(
            version_with_revision("0.1.0", Some("0123abcd")),
            "0.1.0+0123abcd"
        );
        assert_eq!(version_with_revision("0.1.0", Some("")), "0.1.0");
        assert_eq!(version_with_revision("0.1.0", None), "0.1.0");
    }
}

/// Annotations and labels with a meaning to Sealed Secrets.
pub mod annotations {
    /// `"true"` on a SealedSecret (top level): empty OAEP label, unseal anywhere.
    pub const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
    /// `"true"` on a SealedSecret (top level): label is the namespace only.
    pub const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
    /// `"true"` on an existing Secret: the controller may take it over.
    pub const MANAGED: &str = "sealedsecrets.bitnami.com/managed";
    /// `"true"` on an existing Secret: merge into it instead of replacing it.
    pub const PATCH: &str = "sealedsecrets.bitnami.com/patch";
    /// `"true"` in `spec.template.metadata.annotations`: no ownerReference on the Secret.
    pub const SKIP_SET_OWNER_REFERENCES: &str =
        "sealedsecrets.bitnami.com/skip-set-owner-references";
    /// Optional, on a SealedSecret (top level): the fingerprint of the key that sealed it
    /// (`kubeseal --key-hint`). The controller tries that key first; it trusts it for nothing
    /// else.
    pub const KEY_HINT: &str = "sealedsecrets.bitnami.com/key-hint";
    /// Label on key Secrets; value `active` marks a key to load.
    pub const SEALING_KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
    /// Annotations that hold a full copy of an applied object, stripped when sealing.
    pub const LAST_APPLIED: &[&str] = &[
        "kubectl.kubernetes.io/last-applied-configuration",
        "kubecfg.ksonnet.io/last-applied-configuration",
    ];
}
