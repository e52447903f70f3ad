//! The errors of encrypting and decrypting, shared by the RSA-OAEP primitives (`keys`) and
//! the hybrid scheme built on them (`crypto`), so that neither module imports the other both
//! ways.

/// The single error for every way an item can fail to decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no key could decrypt secret")]
pub struct DecryptError;

/// Encryption can only fail when the RSA key cannot hold a session key (absurdly small
/// modulus) or when the system random number generator fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptError {
    #[error("RSA encryption of the session key failed: {0}")]
    Rsa(String),
    #[error("AES-GCM encryption failed")]
    Aead,
    #[error("RSA ciphertext too long for the 2-byte length prefix")]
    TooLong,
}
