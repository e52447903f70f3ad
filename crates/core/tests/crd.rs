//! `deploy/crd.yaml` must be exactly what the Rust types generate. This test only compares;
//! regenerating the file is a separate, explicit command: `bash scripts/regen-crd.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

#[test]
fn committed_crd_matches_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crd.yaml");
    let generated = sealed_secrets_core::codec::crd_yaml().unwrap();
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "deploy/crd.yaml is out of date with the Rust types; run `bash scripts/regen-crd.sh` and review the diff"
    );
}
