//! RSA keys and certificates: loading, generation, fingerprints.
//!
//! A [`PrivateKey`] always keeps the pure-Rust `rsa` representation (for encodings and the public
//! half) and, with [`Backend::AwsLc`], an aws-lc-rs decrypting key used for the private-key
//! operation (constant time and about five times faster for RSA-4096).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::crypto_error::{DecryptError, EncryptError};
use crate::pem;

/// Default RSA key size, as upstream.
pub const DEFAULT_KEY_BITS: usize = 4096;
/// Default certificate validity, as upstream (`--key-ttl` 87600h).
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(87_600 * 3600);

/// Which implementation performs private-key operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// aws-lc-rs: constant time, fast. Supports 2048..=8192-bit keys; other sizes fall back
    /// to [`Backend::RustCrypto`].
    #[default]
    AwsLc,
    /// The pure-Rust `rsa` 0.10 crate.
    RustCrypto,
}

/// Errors about keys and certificates. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("failed to read PEM: {0}")]
    Pem(#[from] pem::PemError),
    #[error("no private key found in PEM data")]
    NoPrivateKey,
    #[error("failed to read any certificates")]
    NoCertificate,
    #[error("unexpected private key type: only RSA keys are supported")]
    NotRsaPrivateKey,
    #[error("invalid RSA private key: {0}")]
    InvalidPrivateKey(String),
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("expected RSA public key but found another key type")]
    NotRsaPublicKey,
    #[error("failed to encrypt using an expired certificate on {0}")]
    Expired(String),
    #[error("key generation failed: {0}")]
    Generation(String),
    #[error("unsupported key size {0}: must be between {MIN_KEY_BITS} and 16384 bits")]
    KeySize(usize),
}

/// The smallest key [`PrivateKey::generate`] makes: smaller RSA keys are breakable.
pub const MIN_KEY_BITS: usize = 2048;

/// An RSA public key with its OpenSSH-style fingerprint.
#[derive(Clone)]
pub struct PublicKey {
    key: rsa::PublicKey,
    fingerprint: Arc<str>,
}

impl PublicKey {
    fn new(key: rsa::PublicKey) -> Self {
        let fingerprint = ssh_fingerprint(&key).into();
        Self { key, fingerprint }
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        rsa::PublicKey::from_public_key_der(der)
            .map(Self::new)
            .map_err(|_| KeyError::NotRsaPublicKey)
    }

    /// `SHA256:<base64 without padding>` of the SSH wire encoding, like `ssh-keygen -lf`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Modulus length in bytes (the RSA ciphertext length).
    pub fn modulus_len(&self) -> usize {
        self.key.size()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bit_width() as usize
    }

    /// SubjectPublicKeyInfo DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        self.key
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| KeyError::InvalidCertificate(e.to_string()))
    }

    pub(crate) fn oaep_encrypt(&self, label: &[u8], msg: &[u8]) -> Result<Vec<u8>, EncryptError> {
        let padding = rsa::Oaep::<Sha256>::new_with_label(label.to_vec());
        self.key
            .encrypt(&mut rand::rng(), padding, msg)
            .map_err(|e| EncryptError::Rsa(e.to_string()))
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}
impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint)
    }
}

struct PrivateInner {
    rsa: rsa::PrivateKey,
    aws: Option<OaepPrivateDecryptingKey>,
    public: PublicKey,
}

/// An RSA private key, cheap to clone (shared). Its `Debug` shows only the fingerprint.
#[derive(Clone)]
pub struct PrivateKey {
    inner: Arc<PrivateInner>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey({}, {:?})",
            self.fingerprint(),
            self.backend()
        )
    }
}

impl PrivateKey {
    fn from_rsa(key: rsa::PrivateKey, backend: Backend) -> Result<Self, KeyError> {
        let aws = match backend {
            Backend::RustCrypto => None,
            Backend::AwsLc => {
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
                // Sizes aws-lc-rs refuses (below 2048 or above 8192 bits) use the Rust backend.
                PrivateDecryptingKey::from_pkcs8(der.as_bytes())
                    .ok()
                    .and_then(|k| OaepPrivateDecryptingKey::new(k).ok())
            }
        };
        let public = PublicKey::new(key.to_public_key());
        Ok(Self {
            inner: Arc::new(PrivateInner {
                rsa: key,
                aws,
                public,
            }),
        })
    }

    /// Reads the first private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`) in `pem`.
    pub fn from_pem(pem_data: &[u8], backend: Backend) -> Result<Self, KeyError> {
        for block in pem::blocks(pem_data)? {
            match block.label.as_str() {
                "RSA PRIVATE KEY" => {
                    let key = rsa::PrivateKey::from_pkcs1_der(&block.der)
                        .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
                    return Self::from_rsa(key, backend);
                }
                "PRIVATE KEY" => {
                    let key = rsa::PrivateKey::from_pkcs8_der(&block.der).map_err(|e| match e {
                        rsa::pkcs8::Error::PublicKey(_) => KeyError::NotRsaPrivateKey,
                        _ => KeyError::InvalidPrivateKey(e.to_string()),
                    })?;
                    return Self::from_rsa(key, backend);
                }
                "EC PRIVATE KEY" | "OPENSSH PRIVATE KEY" | "DSA PRIVATE KEY" => {
                    return Err(KeyError::NotRsaPrivateKey);
                }
                _ => {}
            }
        }
        Err(KeyError::NoPrivateKey)
    }

    /// Generates a fresh key of at least [`MIN_KEY_BITS`]. 2048, 3072, 4096 and 8192 bits use
    /// aws-lc-rs (fast); other sizes use the `rsa` crate (and then only the `rsa` backend's
    /// decryption, which is not constant-time, can use them: see [`PrivateKey::backend`]).
    pub fn generate(bits: usize, backend: Backend) -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::KeySize;
        if !(MIN_KEY_BITS..=16384).contains(&bits) {
            return Err(KeyError::KeySize(bits));
        }
        let size = match bits {
            2048 => Some(KeySize::Rsa2048),
            3072 => Some(KeySize::Rsa3072),
            4096 => Some(KeySize::Rsa4096),
            8192 => Some(KeySize::Rsa8192),
            _ => None,
        };
        let key = match size {
            Some(size) => {
                let k = PrivateDecryptingKey::generate(size)
                    .map_err(|e| KeyError::Generation(e.to_string()))?;
                let der = k
                    .as_der()
                    .map_err(|e| KeyError::Generation(e.to_string()))?;
                rsa::PrivateKey::from_pkcs8_der(der.as_ref())
                    .map_err(|e| KeyError::Generation(e.to_string()))?
            }
            None => rsa::PrivateKey::new(&mut rand::rng(), bits)
                .map_err(|e| KeyError::Generation(e.to_string()))?,
        };
        Self::from_rsa(key, backend)
    }

    /// The same key with another backend.
    pub fn with_backend(&self, backend: Backend) -> Result<Self, KeyError> {
        Self::from_rsa(self.inner.rsa.clone(), backend)
    }

    /// The backend actually in use for private-key operations.
    pub fn backend(&self) -> Backend {
        if self.inner.aws.is_some() {
            Backend::AwsLc
        } else {
            Backend::RustCrypto
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.inner.public.clone()
    }

    pub fn fingerprint(&self) -> &str {
        self.inner.public.fingerprint()
    }

    pub fn modulus_len(&self) -> usize {
        self.inner.public.modulus_len()
    }

    /// PKCS#1 PEM (`RSA PRIVATE KEY`), the form upstream stores in `tls.key`.
    pub fn to_pkcs1_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.inner
            .rsa
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))
    }

    /// PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.inner
            .rsa
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))
    }

    /// RSA-OAEP(SHA-256, MGF1-SHA-256) decryption of `ct` with `label`.
    pub(crate) fn oaep_decrypt(
        &self,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        match &self.inner.aws {
            Some(aws) => {
                let mut out = Zeroizing::new(vec![0u8; aws.min_output_size()]);
                let n = aws
                    .decrypt(&OAEP_SHA256_MGF1SHA256, ct, &mut out, Some(label))
                    .map_err(|_| DecryptError)?
                    .len();
                out.truncate(n);
                Ok(out)
            }
            None => {
                let padding = rsa::Oaep::<Sha256>::new_with_label(label.to_vec());
                self.inner
                    .rsa
                    .decrypt(padding, ct)
                    .map(Zeroizing::new)
                    .map_err(|_| DecryptError)
            }
        }
    }
}

/// OpenSSH SHA-256 fingerprint of an RSA public key.
fn ssh_fingerprint(key: &rsa::PublicKey) -> String {
    fn put_string(buf: &mut Vec<u8>, s: &[u8]) {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(s);
    }
    fn put_mpint(buf: &mut Vec<u8>, be: &[u8]) {
        let trimmed: &[u8] = {
            let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
            &be[first..]
        };
        let mut v = Vec::with_capacity(trimmed.len() + 1);
        if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            v.push(0);
        }
        v.extend_from_slice(trimmed);
        put_string(buf, &v);
    }
    let mut wire = Vec::new();
    put_string(&mut wire, b"ssh-rsa");
    put_mpint(&mut wire, &key.e_bytes());
    put_mpint(&mut wire, &key.n_bytes());
    let digest = Sha256::digest(&wire);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// A parsed X.509 certificate holding an RSA public key.
#[derive(Clone)]
pub struct Certificate {
    der: Arc<[u8]>,
    public_key: PublicKey,
    not_before: SystemTime,
    not_after: SystemTime,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("public_key", &self.public_key)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl Certificate {
    /// Parses the **first** `CERTIFICATE` block of a PEM bundle.
    pub fn from_pem(data: &[u8]) -> Result<Self, KeyError> {
        let blocks = pem::blocks(data)?;
        let block = blocks
            .iter()
            .find(|b| b.label == "CERTIFICATE")
            .ok_or(KeyError::NoCertificate)?;
        Self::from_der(&block.der)
    }

    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| KeyError::InvalidCertificate(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| KeyError::InvalidCertificate(e.to_string()))?;
        let public_key = PublicKey::from_spki_der(&spki)?;
        let validity = tbs.validity();
        Ok(Self {
            der: der.into(),
            public_key,
            not_before: validity.not_before.to_system_time(),
            not_after: validity.not_after.to_system_time(),
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }

    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.der)
    }

    /// Refuses an expired certificate for sealing, with upstream's message
    /// (`failed to encrypt using an expired certificate on January 2, 2006`).
    pub fn check_valid_for_sealing(&self, now: SystemTime) -> Result<(), KeyError> {
        if now > self.not_after {
            return Err(KeyError::Expired(format_long_date(self.not_after)));
        }
        Ok(())
    }

    /// True if this certificate belongs to `key`.
    pub fn matches(&self, key: &PrivateKey) -> bool {
        self.public_key.fingerprint() == key.fingerprint()
    }
}

fn format_long_date(t: SystemTime) -> String {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(dt) => format!("{} {}, {}", dt.month(), dt.day(), dt.year()),
        Err(_) => format!("{secs} seconds since the epoch"),
    }
}

/// Builds a self-signed certificate for `key` like upstream's controller: empty subject and
/// issuer unless `cn` is given, CA, critical key usage *encipher only*, random 128-bit serial,
/// validity `[now, now + ttl]`, sha256WithRSAEncryption.
pub fn self_signed_certificate(
    key: &PrivateKey,
    cn: Option<&str>,
    ttl: Duration,
    now: SystemTime,
) -> Result<Certificate, KeyError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
        KeyUsagePurpose, PKCS_RSA_SHA256, SerialNumber,
    };
    let gen_err = |e: rcgen::Error| KeyError::Generation(e.to_string());
    let pkcs8 = key.to_pkcs8_pem()?;
    let signer =
        KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &PKCS_RSA_SHA256).map_err(gen_err)?;

    let to_odt = |t: SystemTime| -> Result<time::OffsetDateTime, KeyError> {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| KeyError::Generation("time before 1970".into()))?
            .as_secs();
        let secs = i64::try_from(secs).map_err(|_| KeyError::Generation("time overflow".into()))?;
        time::OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|e| KeyError::Generation(e.to_string()))
    };

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = cn.filter(|c| !c.is_empty()) {
        dn.push(DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    params.not_before = to_odt(now)?;
    params.not_after = to_odt(now + ttl)?;
    let mut serial = [0u8; 16];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut serial);
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::EncipherOnly];
    let cert = params.self_signed(&signer).map_err(gen_err)?;
    Certificate::from_der(cert.der())
}

/// A process-wide cached RSA-4096 test key (generation takes about a second).
#[cfg(test)]
pub(crate) fn test_key(backend: Backend) -> PrivateKey {
    use std::sync::OnceLock;
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(4096, Backend::AwsLc).unwrap())
        .with_backend(backend)
        .unwrap()
}

#[cfg(test)]
pub(crate) fn test_key_2048() -> PrivateKey {
    use std::sync::OnceLock;
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(2048, Backend::AwsLc).unwrap())
        .clone()
}

#[cfg(test)]
mod tests;
