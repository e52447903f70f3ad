//! What `kubeseal` reads from users: Secrets (YAML or JSON, several documents), private key
//! files for `--recovery-unseal` / `--re-encrypt` offline (a PEM key, a key Secret, a `List` of
//! key Secrets: `keyfile::private_keys_from_bytes`, `PrivateKey::from_pem`) and certificates
//! (`--cert`: `Certificate::from_pem`). Every input goes through all three readers.
//!
//! Properties: no panic; every Secret that kubeseal accepts seals (with the fixed test
//! certificate, `fuzz/fixtures/fuzz-cert.pem`), survives its JSON output and unseals with the
//! matching key to exactly the items it was given; both key backends read the same keys.
#![no_main]

use std::sync::LazyLock;
use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::keyfile::private_keys_from_bytes;
use sealed_secrets_core::{
    Backend, Certificate, InputSecret, PrivateKey, SealOptions, SealedSecret, UnsealOptions, codec,
    seal, unseal,
};

struct Fixture {
    key: PrivateKey,
    cert: Certificate,
}

static FIXTURE: LazyLock<Option<Fixture>> = LazyLock::new(|| {
    let key =
        PrivateKey::from_pem(include_bytes!("../fixtures/fuzz-key.pem"), Backend::AwsLc).ok()?;
    let cert = Certificate::from_pem(include_bytes!("../fixtures/fuzz-cert.pem")).ok()?;
    Some(Fixture { key, cert })
});

/// Like `kubeseal < input`: every document is a Secret to seal.
fn secrets(fx: &Fixture, input: &[u8]) {
    let Ok(docs) = codec::parse_documents(input) else {
        return;
    };
    let opts = SealOptions {
        default_namespace: Some("default".into()),
        ..Default::default()
    };
    for doc in docs {
        let Ok(secret) = InputSecret::from_value(doc) else {
            continue;
        };
        let items: Vec<(String, Vec<u8>)> = secret
            .items
            .iter()
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .collect();
        let Ok(sealed) = seal(secret, fx.cert.public_key(), &opts) else {
            continue;
        };
        let json = match codec::render_sealed_secret(&sealed, codec::Format::Json) {
            Ok(j) => j,
            Err(e) => panic!("cannot write a sealed Secret: {e}"),
        };
        let back: SealedSecret = match codec::parse_single(json.as_bytes())
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
        {
            Some(ss) => ss,
            None => panic!("kubeseal's own output does not read back:\n{json}"),
        };
        let unsealed = match unseal(
            &back,
            std::slice::from_ref(&fx.key),
            UnsealOptions::default(),
        ) {
            Ok(u) => u,
            Err(e) => panic!("a freshly sealed Secret does not unseal: {e}"),
        };
        let got: Vec<(String, Vec<u8>)> = unsealed
            .secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        assert_eq!(items, got, "unsealed items differ from the sealed ones");
    }
}

/// `--recovery-private-key` files, read with both backends.
fn key_files(input: &[u8]) {
    let a = private_keys_from_bytes(input, Backend::AwsLc);
    let b = private_keys_from_bytes(input, Backend::RustCrypto);
    match (&a, &b) {
        (Ok(ka), Ok(kb)) => {
            let fa: Vec<&str> = ka.iter().map(PrivateKey::fingerprint).collect();
            let fb: Vec<&str> = kb.iter().map(PrivateKey::fingerprint).collect();
            assert_eq!(fa, fb, "backends read different keys");
        }
        (Err(ea), Err(eb)) => assert_eq!(ea, eb, "backends fail differently"),
        _ => panic!(
            "backends disagree: aws-lc {} / rsa {}",
            a.is_ok(),
            b.is_ok()
        ),
    }
    let _ = PrivateKey::from_pem(input, Backend::AwsLc);
}

/// `--cert` files.
fn certificate(fx: &Fixture, input: &[u8]) {
    if let Ok(cert) = Certificate::from_pem(input) {
        let _ = cert.check_valid_for_sealing(SystemTime::now());
        let _ = cert.matches(&fx.key);
        let _ = cert.to_pem();
    }
}

fuzz_target!(|input: &[u8]| {
    let Some(fx) = FIXTURE.as_ref() else {
        panic!("the fixture key or certificate does not load");
    };
    secrets(fx, input);
    key_files(input);
    certificate(fx, input);
});
