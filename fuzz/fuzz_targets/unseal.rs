//! Decrypting attacker-chosen ciphertexts, as the controller does for every SealedSecret and
//! for `/v1/verify` / `/v1/rotate` bodies, with a fixed 2048-bit test key
//! (`fuzz/fixtures/fuzz-key.pem`, public on purpose).
//!
//! Input: a SealedSecret (YAML or JSON) — unsealed with `unseal::verify`, `unseal` and
//! `reencrypt`; otherwise raw bytes taken as one sealed item (`u16 len ‖ RSA-OAEP ‖ AES-GCM`)
//! for `hybrid_decrypt`.
//!
//! Properties: no panic; the aws-lc-rs and RustCrypto backends agree on raw items and on the
//! first item of a SealedSecret (same plaintext or both fail); `verify` succeeds exactly when
//! every item opens, and then `unseal` can only fail on `template.data`; a re-encrypted object
//! verifies again.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::unseal::{ItemError, UnsealError, label_for, verify};
use sealed_secrets_core::{
    Backend, PrivateKey, SealedSecret, UnsealOptions, codec, hybrid_decrypt, reencrypt, unseal,
};

struct Keys {
    aws_lc: PrivateKey,
    rust_crypto: PrivateKey,
}

static KEYS: LazyLock<Option<Keys>> = LazyLock::new(|| {
    let pem = include_bytes!("../fixtures/fuzz-key.pem");
    let aws_lc = PrivateKey::from_pem(pem, Backend::AwsLc).ok()?;
    let rust_crypto = aws_lc.with_backend(Backend::RustCrypto).ok()?;
    Some(Keys {
        aws_lc,
        rust_crypto,
    })
});

/// Decrypts one item with both backends; they must agree.
fn decrypt_both(keys: &Keys, label: &[u8], item: &[u8]) -> bool {
    let a = hybrid_decrypt(&keys.aws_lc, label, item);
    let b = hybrid_decrypt(&keys.rust_crypto, label, item);
    match (&a, &b) {
        (Ok(pa), Ok(pb)) => assert_eq!(pa.as_slice(), pb.as_slice(), "backends disagree"),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "backends disagree: aws-lc {} / rsa {}",
            a.is_ok(),
            b.is_ok()
        ),
    }
    a.is_ok()
}

fn sealed_secret(input: &[u8]) -> Option<SealedSecret> {
    let value = codec::parse_single(input).ok()?;
    serde_json::from_value(value).ok()
}

fn check_sealed_secret(keys: &Keys, ss: &SealedSecret) {
    let label = label_for(ss);
    let mut all_open = true;
    // The backend differential on the first item only: RustCrypto's RSA is ~8x slower.
    for (i, value) in ss.spec.encrypted_data.values().enumerate() {
        match codec::decode_base64_like_go(value.as_bytes()) {
            Some(raw) if i == 0 => all_open &= decrypt_both(keys, &label, &raw),
            Some(raw) => all_open &= hybrid_decrypt(&keys.aws_lc, &label, &raw).is_ok(),
            None => all_open = false,
        }
    }
    if let Some(v1) = &ss.spec.data {
        decrypt_both(keys, &label, &v1.0);
    }

    let opts = UnsealOptions::default();
    let one_key = std::slice::from_ref(&keys.aws_lc);
    let verified = verify(ss, one_key, opts);
    let has_name = ss.metadata.name.as_deref().is_some_and(|n| !n.is_empty());
    if ss.spec.data.is_none() && has_name {
        assert_eq!(
            verified.is_ok(),
            all_open,
            "verify disagrees with the items"
        );
    }
    match unseal(ss, one_key, opts) {
        Ok(unsealed) => {
            assert!(verified.is_ok(), "unseal succeeded where verify failed");
            assert_eq!(unsealed.secret.metadata.name, ss.metadata.name);
        }
        Err(UnsealError::Items(errors)) if verified.is_ok() => {
            for (item, e) in &errors.0 {
                assert!(
                    matches!(e, ItemError::Template(_)),
                    "item {item:?} verified but did not unseal: {e}"
                );
            }
        }
        Err(UnsealError::DeprecatedDataInvalid) => assert!(verified.is_ok()),
        Err(e) => assert!(verified.is_err(), "verify ok, unseal failed: {e}"),
    }

    if verified.is_ok() {
        let public = keys.aws_lc.public_key();
        match reencrypt(ss, one_key, &public) {
            Ok(again) => assert!(
                verify(&again, one_key, opts).is_ok(),
                "re-encrypted object does not verify"
            ),
            Err(e) => panic!("verified object cannot be re-encrypted: {e}"),
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some(keys) = KEYS.as_ref() else {
        panic!("the fixture key does not load");
    };
    if let Some(ss) = sealed_secret(input) {
        check_sealed_secret(keys, &ss);
    } else {
        decrypt_both(keys, b"fuzz/item", input);
        decrypt_both(keys, b"", input);
    }
});
