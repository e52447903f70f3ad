//! Compatibility with an independent implementation (Python `cryptography`, see
//! `tests/vectors/`): we unseal its ciphertexts, and it decrypts ours.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sealed_secrets_core::{
    Backend, Certificate, PrivateKey, Scope, SealedSecret, UnsealOptions, hybrid_decrypt,
    hybrid_encrypt, unseal,
};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn vectors() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("vectors.json")).unwrap()).unwrap()
}

fn key(backend: Backend) -> PrivateKey {
    PrivateKey::from_pem(&std::fs::read(dir().join("test-key.pem")).unwrap(), backend).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn python_ciphertexts_decrypt_with_both_backends() {
    let v = vectors();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    for backend in [Backend::AwsLc, Backend::RustCrypto] {
        let k = key(backend);
        assert_eq!(k.backend(), backend);
        for case in cases {
            let label = b64(&case["label_b64"]);
            let scope: Scope = case["scope"].as_str().unwrap().parse().unwrap();
            let ns = case["namespace"].as_str().unwrap();
            let name = case["secret_name"].as_str().unwrap();
            assert_eq!(scope.label(ns, name), label, "{}", case["name"]);
            let ct = b64(&case["ciphertext"]);
            let pt = hybrid_decrypt(&k, &label, &ct).unwrap();
            assert_eq!(*pt, b64(&case["plaintext_b64"]), "{}", case["name"]);
            // A different label must not decrypt.
            let mut wrong = label.clone();
            wrong.push(b'x');
            assert!(hybrid_decrypt(&k, &wrong, &ct).is_err());
        }
    }
}

#[test]
fn pkcs8_key_is_the_same_key() {
    let a = key(Backend::AwsLc);
    let b = PrivateKey::from_pem(
        &std::fs::read(dir().join("test-key-pkcs8.pem")).unwrap(),
        Backend::AwsLc,
    )
    .unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    let cert = Certificate::from_pem(&std::fs::read(dir().join("test-cert.pem")).unwrap()).unwrap();
    assert!(cert.matches(&a));
}

#[test]
fn python_sealed_secrets_unseal() {
    let v = vectors();
    let k = key(Backend::AwsLc);
    for case in v["sealedsecrets"].as_array().unwrap() {
        let ss: SealedSecret = serde_json::from_value(case["manifest"].clone()).unwrap();
        let out = unseal(&ss, std::slice::from_ref(&k), UnsealOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        let data = out.secret.data.clone().unwrap();
        let expected: BTreeMap<String, Value> =
            serde_json::from_value(case["expected_data_b64"].clone()).unwrap();
        assert_eq!(data.len(), expected.len(), "{}", case["name"]);
        for (item, want) in expected {
            assert_eq!(data[&item].0, b64(&want), "{} {item}", case["name"]);
        }
        if case["kind"] == "legacy-spec-data" {
            let off = UnsealOptions {
                accept_deprecated_v1_data: false,
                ..UnsealOptions::default()
            };
            assert!(unseal(&ss, std::slice::from_ref(&k), off).is_err());
        }
    }
}

fn python(sub: &str, input: &Value) -> Value {
    let mut child = Command::new("python3")
        .arg(dir().join("sealedsecret_vectors.py"))
        .arg(sub)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is required for the interoperability tests");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python {sub} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn our_ciphertexts_decrypt_in_python() {
    let k = key(Backend::AwsLc);
    let plaintexts: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        Vec::new(),
        (0u8..=255).collect(),
        (0..70_000u32).map(|i| (i % 251) as u8).collect(),
    ];
    let labels: Vec<Vec<u8>> = vec![
        b"vectors/mysecret".to_vec(),
        b"vectors".to_vec(),
        Vec::new(),
    ];
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for l in &labels {
        for p in &plaintexts {
            let ct = hybrid_encrypt(&k.public_key(), l, p).unwrap();
            items.push(
                json!({"label_b64": STANDARD.encode(l), "ciphertext_b64": STANDARD.encode(ct)}),
            );
            expected.push(p.clone());
        }
    }
    // And one with the wrong label, which must fail there too.
    let ct = hybrid_encrypt(&k.public_key(), b"a/b", b"x").unwrap();
    items
        .push(json!({"label_b64": STANDARD.encode(b"a/c"), "ciphertext_b64": STANDARD.encode(ct)}));
    let key_path = dir().join("test-key.pem");
    let out = python(
        "decrypt",
        &json!({"key_pem": key_path.to_str().unwrap(), "items": items}),
    );
    let got = out["plaintexts_b64"].as_array().unwrap();
    assert_eq!(got.len(), expected.len() + 1);
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(&b64(g), e);
    }
    assert!(got.last().unwrap().is_null());
}

#[test]
fn python_encrypts_with_our_certificate() {
    // Python seals with a certificate generated by us; we decrypt.
    let k = key(Backend::AwsLc);
    let cert = sealed_secrets_core::keys::self_signed_certificate(
        &k,
        None,
        sealed_secrets_core::keys::DEFAULT_KEY_TTL,
        std::time::SystemTime::now(),
    )
    .unwrap();
    let tmp = std::env::temp_dir().join(format!("ss-cert-{}.pem", std::process::id()));
    std::fs::write(&tmp, cert.to_pem()).unwrap();
    let out = python(
        "encrypt",
        &json!({"cert_pem": tmp.to_str().unwrap(), "items": [
            {"label_b64": STANDARD.encode(b"ns/n"), "plaintext_b64": STANDARD.encode(b"from python")}
        ]}),
    );
    let _ = std::fs::remove_file(&tmp);
    let ct = b64(&out["ciphertexts_b64"][0]);
    assert_eq!(&*hybrid_decrypt(&k, b"ns/n", &ct).unwrap(), b"from python");
}
