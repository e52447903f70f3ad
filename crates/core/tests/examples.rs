//! The SealedSecrets in `examples/` are real: each unseals with the committed EXAMPLE key to
//! the plaintext of the `secret.yaml` beside it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use sealed_secrets_core::codec::parse_single;
use sealed_secrets_core::{Backend, InputSecret, PrivateKey, SealedSecret, UnsealOptions, unseal};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn key() -> PrivateKey {
    PrivateKey::from_pem(
        &std::fs::read(examples().join("key/example-key.pem")).unwrap(),
        Backend::AwsLc,
    )
    .unwrap()
}

fn load(dir: &str) -> (SealedSecret, InputSecret) {
    let ss = parse_single(&std::fs::read(examples().join(dir).join("sealedsecret.yaml")).unwrap())
        .unwrap();
    let secret =
        parse_single(&std::fs::read(examples().join(dir).join("secret.yaml")).unwrap()).unwrap();
    (
        serde_json::from_value(ss).unwrap(),
        InputSecret::from_value(secret).unwrap(),
    )
}

#[test]
fn every_example_unseals_to_its_secret() {
    let key = key();
    for dir in [
        "strict",
        "namespace-wide",
        "cluster-wide",
        "template",
        "dockerconfigjson",
    ] {
        let (ss, input) = load(dir);
        let out = unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default())
            .unwrap_or_else(|e| panic!("{dir}: {e}"));
        let data = out.secret.data.clone().unwrap();
        for (k, v) in &input.items {
            assert_eq!(data[k].0, **v, "{dir}: item {k}");
        }
        assert_eq!(out.secret.type_, input.type_, "{dir}: type");
    }
}

#[test]
fn scopes_behave_as_documented() {
    let key = key();
    let moved = |dir: &str, ns: &str, name: &str| {
        let (mut ss, _) = load(dir);
        ss.metadata.namespace = Some(ns.into());
        ss.metadata.name = Some(name.into());
        unseal(&ss, std::slice::from_ref(&key), UnsealOptions::default()).is_ok()
    };
    assert!(!moved("strict", "example", "renamed"));
    assert!(moved("namespace-wide", "example", "renamed"));
    assert!(!moved("namespace-wide", "elsewhere", "api-token"));
    assert!(moved("cluster-wide", "anywhere", "any-name"));
}

#[test]
fn template_example_renders() {
    let (ss, _) = load("template");
    let out = unseal(&ss, std::slice::from_ref(&key()), UnsealOptions::default()).unwrap();
    let config =
        String::from_utf8(out.secret.data.clone().unwrap()["config.yaml"].0.clone()).unwrap();
    assert!(config.contains("user: app\n"), "{config}");
    assert!(
        config.contains("password: \"example-password-template\""),
        "{config}"
    );
    // b64enc of the DSN.
    let dsn = "postgres://app:example-password-template@db:5432/app";
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, dsn);
    assert!(config.contains(&format!("dsn: {b64}")), "{config}");
}
