//! `deploy/crd.yaml` must be exactly what the Rust types generate.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p sealed-secrets-core --test crd`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[test]
fn committed_crd_matches_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crd.yaml");
    let generated = sealed_secrets_core::types::crd_yaml().unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "deploy/crd.yaml is out of date with the Rust types; run UPDATE_GOLDEN=1 cargo test -p sealed-secrets-core --test crd"
    );
}
