//! The hybrid encryption used for every sealed item.
//!
//! Layout of one item (compatible with Bitnami Sealed Secrets):
//!
//! ```text
//! u16 big-endian L ‖ RSA-OAEP(SHA-256, MGF1-SHA-256, label)(32-byte session key), L bytes
//!                  ‖ AES-256-GCM(session key, nonce = 12 zero bytes, no AAD)(plaintext) ‖ 16-byte tag
//! ```
//!
//! The zero nonce is safe because every session key encrypts exactly one message.
//!
//! Every decryption failure — too short, a wrong length prefix, an OAEP failure (wrong key or
//! wrong label) or a GCM tag mismatch — is reported as the same [`DecryptError`], so that callers
//! exposing the result (events, HTTP answers, metrics) cannot become a padding oracle.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::Rng;
use zeroize::Zeroizing;

use crate::crypto_error::{DecryptError, EncryptError};
use crate::keys::{PrivateKey, PublicKey};

/// Length of the AES-256 session key.
pub const SESSION_KEY_LEN: usize = 32;
const GCM_NONCE: [u8; 12] = [0u8; 12];
const GCM_TAG_LEN: usize = 16;

/// Encrypts `plaintext` for `key` with the given OAEP `label` (see [`crate::scope`]).
pub fn hybrid_encrypt(
    key: &PublicKey,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    rand::rng().fill_bytes(session_key.as_mut_slice());

    let rsa_ct = key.oaep_encrypt(label, session_key.as_slice())?;
    let rsa_len = u16::try_from(rsa_ct.len()).map_err(|_| EncryptError::TooLong)?;

    let cipher =
        Aes256Gcm::new_from_slice(session_key.as_slice()).map_err(|_| EncryptError::Aead)?;
    let mut out = Vec::with_capacity(2 + rsa_ct.len() + plaintext.len() + GCM_TAG_LEN);
    out.extend_from_slice(&rsa_len.to_be_bytes());
    out.extend_from_slice(&rsa_ct);
    let mut body = Vec::with_capacity(plaintext.len() + GCM_TAG_LEN);
    body.extend_from_slice(plaintext);
    cipher
        .encrypt_in_place(&Nonce::from(GCM_NONCE), b"", &mut body)
        .map_err(|_| EncryptError::Aead)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Splits an item into its RSA part and its AES-GCM part, checking the length prefix.
fn split(data: &[u8]) -> Result<(&[u8], &[u8]), DecryptError> {
    let (prefix, rest) = data.split_first_chunk::<2>().ok_or(DecryptError)?;
    let rsa_len = usize::from(u16::from_be_bytes(*prefix));
    if rest.len() < rsa_len {
        return Err(DecryptError);
    }
    Ok(rest.split_at(rsa_len))
}

/// Decrypts one item with one key. The plaintext is wiped when dropped.
pub fn hybrid_decrypt(
    key: &PrivateKey,
    label: &[u8],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let (rsa_ct, aes_ct) = split(data)?;
    if rsa_ct.len() != key.modulus_len() {
        return Err(DecryptError);
    }
    let session_key = key.oaep_decrypt(label, rsa_ct)?;
    open(&session_key, aes_ct)
}

/// Decrypts one item trying each key in turn; returns the plaintext and the index of the key
/// that worked. Keys whose modulus length does not match the item are skipped without an RSA
/// operation.
pub fn hybrid_decrypt_any<'k, I>(
    keys: I,
    label: &[u8],
    data: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, usize), DecryptError>
where
    I: IntoIterator<Item = &'k PrivateKey>,
{
    let (rsa_ct, aes_ct) = split(data)?;
    for (i, key) in keys.into_iter().enumerate() {
        if rsa_ct.len() != key.modulus_len() {
            continue;
        }
        if let Ok(session_key) = key.oaep_decrypt(label, rsa_ct) {
            return open(&session_key, aes_ct).map(|p| (p, i));
        }
    }
    Err(DecryptError)
}

fn open(session_key: &[u8], aes_ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    if session_key.len() != SESSION_KEY_LEN {
        return Err(DecryptError);
    }
    let cipher = Aes256Gcm::new_from_slice(session_key).map_err(|_| DecryptError)?;
    let mut buf = Zeroizing::new(aes_ct.to_vec());
    cipher
        .decrypt_in_place(&Nonce::from(GCM_NONCE), b"", &mut *buf)
        .map_err(|_| DecryptError)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Backend, test_key};

    #[test]
    fn layout_matches_upstream() {
        let key = test_key(Backend::AwsLc);
        let ct = hybrid_encrypt(&key.public_key(), b"ns/name", b"hello").unwrap();
        let l = key.modulus_len();
        assert_eq!(u16::from_be_bytes([ct[0], ct[1]]) as usize, l);
        assert_eq!(ct.len(), 2 + l + 5 + 16);
    }

    #[test]
    fn round_trip_both_backends_cross() {
        let aws = test_key(Backend::AwsLc);
        let rust = aws.with_backend(Backend::RustCrypto).unwrap();
        for label in [&b""[..], b"ns", b"ns/name"] {
            let ct = hybrid_encrypt(&aws.public_key(), label, b"payload").unwrap();
            assert_eq!(&**hybrid_decrypt(&aws, label, &ct).unwrap(), b"payload");
            assert_eq!(&**hybrid_decrypt(&rust, label, &ct).unwrap(), b"payload");
        }
    }

    /// An item whose RSA part is made by aws-lc-rs (not by the `rsa` crate that `hybrid_encrypt`
    /// uses) opens with both backends.
    #[test]
    fn aws_lc_encryption_decrypts_with_rust_backend() {
        use aes_gcm::aead::Aead;
        use aws_lc_rs::rsa::{
            OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
        };
        let key = test_key(Backend::AwsLc);
        let rust = key.with_backend(Backend::RustCrypto).unwrap();
        let spki = key.public_key().to_spki_der().unwrap();
        let public =
            OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&spki).unwrap()).unwrap();
        let session = [7u8; 32];
        let mut rsa_ct = vec![0u8; public.ciphertext_size()];
        let rsa_ct = public
            .encrypt(
                &OAEP_SHA256_MGF1SHA256,
                &session,
                &mut rsa_ct,
                Some(b"ns/name"),
            )
            .unwrap()
            .to_vec();
        let body = Aes256Gcm::new_from_slice(&session)
            .unwrap()
            .encrypt(&Nonce::from(GCM_NONCE), &b"from aws-lc"[..])
            .unwrap();
        let mut item = (rsa_ct.len() as u16).to_be_bytes().to_vec();
        item.extend_from_slice(&rsa_ct);
        item.extend_from_slice(&body);
        assert_eq!(
            &**hybrid_decrypt(&rust, b"ns/name", &item).unwrap(),
            b"from aws-lc"
        );
        assert_eq!(
            &**hybrid_decrypt(&key, b"ns/name", &item).unwrap(),
            b"from aws-lc"
        );
    }

    #[test]
    fn failures_are_uniform() {
        let key = test_key(Backend::AwsLc);
        let ct = hybrid_encrypt(&key.public_key(), b"ns/name", b"secret").unwrap();
        let too_short = hybrid_decrypt(&key, b"ns/name", &ct[..1]).unwrap_err();
        let truncated = hybrid_decrypt(&key, b"ns/name", &ct[..100]).unwrap_err();
        let wrong_label = hybrid_decrypt(&key, b"ns/other", &ct).unwrap_err();
        let mut tampered = ct.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let bad_tag = hybrid_decrypt(&key, b"ns/name", &tampered).unwrap_err();
        for e in [too_short, truncated, wrong_label, bad_tag] {
            assert_eq!(e.to_string(), "no key could decrypt secret");
        }
    }

    #[test]
    fn any_reports_index_and_skips_other_sizes() {
        let a = test_key(Backend::AwsLc);
        let b = crate::keys::test_key_2048();
        let ct = hybrid_encrypt(&a.public_key(), b"", b"x").unwrap();
        let keys = [b.clone(), a.clone()];
        let (pt, i) = hybrid_decrypt_any(keys.iter(), b"", &ct).unwrap();
        assert_eq!(&**pt, b"x");
        assert_eq!(i, 1);
        assert!(hybrid_decrypt_any([&b], b"", &ct).is_err());
    }
}
