//! The key registry: every active sealing key, safe for concurrent readers, kept up to date by
//! a watch on the key Secrets (add, update and delete apply without a restart), plus key
//! generation and renewal.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sealed_secrets_core::annotations::SEALING_KEY_LABEL;
use sealed_secrets_core::keys::self_signed_certificate;
use sealed_secrets_core::syncmac::MacKey;
use sealed_secrets_core::{Backend, Certificate, PrivateKey};
use zeroize::Zeroizing;

use crate::config::KeyOrderPriority;

/// The label selector of active key Secrets.
pub fn active_selector() -> String {
    format!("{SEALING_KEY_LABEL}=active")
}

/// One loaded key.
pub struct KeyEntry {
    pub key: PrivateKey,
    pub cert: Certificate,
    /// Name of the Secret holding it.
    pub secret_name: String,
    /// The Secret's resourceVersion when loaded (to avoid re-parsing unchanged Secrets).
    pub resource_version: Option<String>,
    /// The Secret's creationTimestamp.
    pub created: Option<SystemTime>,
    /// Number of items this key decrypted since start.
    pub uses: AtomicU64,
    /// The MAC key derived from it (see `sealed_secrets_core::syncmac`).
    pub mac: MacKey,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("secret", &self.secret_name)
            .field("fingerprint", &self.key.fingerprint())
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    /// The time that orders keys (newest is the sealing key).
    pub fn order_time(&self, p: KeyOrderPriority) -> SystemTime {
        match p {
            KeyOrderPriority::CertNotBefore => self.cert.not_before(),
            KeyOrderPriority::SecretCreationTimestamp => {
                self.created.unwrap_or(self.cert.not_before())
            }
        }
    }
}

/// Why a key Secret was skipped. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySecretError {
    #[error("key Secret {0:?} has no tls.key")]
    MissingKey(String),
    #[error("key Secret {0:?} has no tls.crt")]
    MissingCert(String),
    #[error("key Secret {name:?}: invalid tls.key: {reason}")]
    BadKey { name: String, reason: String },
    #[error("key Secret {name:?}: invalid tls.crt: {reason}")]
    BadCert { name: String, reason: String },
    #[error("key Secret {0:?}: tls.crt does not belong to tls.key")]
    Mismatch(String),
    #[error(
        "key Secret {0:?}: aws-lc-rs cannot use this key size, and the fallback is not \
         constant-time; skipped (pass --allow-non-constant-time-keys to load it anyway)"
    )]
    NonConstantTime(String),
}

impl KeySecretError {
    /// The key Secret's name.
    pub fn secret_name(&self) -> &str {
        match self {
            KeySecretError::MissingKey(n)
            | KeySecretError::MissingCert(n)
            | KeySecretError::Mismatch(n)
            | KeySecretError::NonConstantTime(n) => n,
            KeySecretError::BadKey { name, .. } | KeySecretError::BadCert { name, .. } => name,
        }
    }
}

/// Parses a key Secret (as upstream: PKCS#1 or PKCS#8 RSA key, first certificate of the
/// bundle).
pub fn parse_key_secret(secret: &Secret) -> Result<KeyEntry, KeySecretError> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let data = secret.data.as_ref();
    let key_pem = data
        .and_then(|d| d.get("tls.key"))
        .ok_or_else(|| KeySecretError::MissingKey(name.clone()))?;
    let cert_pem = data
        .and_then(|d| d.get("tls.crt"))
        .ok_or_else(|| KeySecretError::MissingCert(name.clone()))?;
    let key =
        PrivateKey::from_pem(&key_pem.0, Backend::AwsLc).map_err(|e| KeySecretError::BadKey {
            name: name.clone(),
            reason: e.to_string(),
        })?;
    let cert = Certificate::from_pem(&cert_pem.0).map_err(|e| KeySecretError::BadCert {
        name: name.clone(),
        reason: e.to_string(),
    })?;
    if !cert.matches(&key) {
        return Err(KeySecretError::Mismatch(name));
    }
    let mac = MacKey::derive(&key).map_err(|e| KeySecretError::BadKey {
        name: name.clone(),
        reason: e.to_string(),
    })?;
    Ok(KeyEntry {
        mac,
        key,
        cert,
        secret_name: name,
        resource_version: secret.metadata.resource_version.clone(),
        created: secret
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| SystemTime::from(t.0)),
        uses: AtomicU64::new(0),
    })
}

/// All loaded keys. Readers take a cheap snapshot; writers replace it.
pub struct KeyRegistry {
    entries: RwLock<Arc<Vec<Arc<KeyEntry>>>>,
    order: KeyOrderPriority,
    /// `--allow-non-constant-time-keys`.
    allow_non_constant_time: bool,
    epoch: AtomicU64,
    changed: tokio::sync::watch::Sender<u64>,
}

impl KeyRegistry {
    pub fn new(order: KeyOrderPriority) -> Self {
        Self {
            entries: RwLock::new(Arc::new(Vec::new())),
            order,
            allow_non_constant_time: false,
            epoch: AtomicU64::new(0),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// Also load keys that only the non-constant-time `rsa` backend can use.
    pub fn allowing_non_constant_time_keys(mut self, allow: bool) -> Self {
        self.allow_non_constant_time = allow;
        self
    }

    /// The current keys, newest first.
    pub fn snapshot(&self) -> Arc<Vec<Arc<KeyEntry>>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    /// The sealing key: newest by the configured ordering.
    pub fn newest(&self) -> Option<Arc<KeyEntry>> {
        self.snapshot().first().cloned()
    }

    /// Notified after every change (the value is a change counter).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Keys in the order they should be tried: those that decrypted most first (items are
    /// usually sealed with one long-lived key, so this costs ~1 RSA operation per item even
    /// with many keys), then newest first.
    pub fn trial_order(&self) -> Vec<Arc<KeyEntry>> {
        let mut v: Vec<Arc<KeyEntry>> = self.snapshot().iter().cloned().collect();
        // Stable sort keeps newest-first among equals.
        v.sort_by_key(|e| std::cmp::Reverse(e.uses.load(Ordering::Relaxed)));
        v
    }

    /// Replaces the key set with the given Secrets (the watched active keys, plus the legacy
    /// key if present). Unchanged Secrets keep their entry (and usage counters). Returns the
    /// Secrets that could not be loaded.
    pub fn replace_from_secrets(&self, secrets: &[Secret]) -> Vec<KeySecretError> {
        let current = self.snapshot();
        let by_name: HashMap<&str, &Arc<KeyEntry>> = current
            .iter()
            .map(|e| (e.secret_name.as_str(), e))
            .collect();
        let mut next: Vec<Arc<KeyEntry>> = Vec::new();
        let mut errors = Vec::new();
        for s in secrets {
            let name = s.metadata.name.as_deref().unwrap_or_default();
            if let Some(old) = by_name.get(name)
                && old.resource_version.is_some()
                && old.resource_version == s.metadata.resource_version
            {
                next.push(Arc::clone(old));
                continue;
            }
            match parse_key_secret(s) {
                Ok(e) if e.key.backend() != Backend::AwsLc && !self.allow_non_constant_time => {
                    errors.push(KeySecretError::NonConstantTime(name.to_string()));
                }
                Ok(e) => next.push(Arc::new(e)),
                Err(e) => errors.push(e),
            }
        }
        self.set(next);
        errors
    }

    /// Adds one key (e.g. just generated) without waiting for the watch.
    pub fn insert(&self, entry: KeyEntry) {
        let mut v: Vec<Arc<KeyEntry>> = self.snapshot().iter().cloned().collect();
        v.retain(|e| e.secret_name != entry.secret_name);
        v.push(Arc::new(entry));
        self.set(v);
    }

    fn set(&self, mut v: Vec<Arc<KeyEntry>>) {
        // De-duplicate by fingerprint (a key restored under two names counts once).
        let order = self.order;
        v.sort_by(|a, b| {
            b.order_time(order)
                .cmp(&a.order_time(order))
                .then_with(|| a.secret_name.cmp(&b.secret_name))
        });
        let mut seen = std::collections::HashSet::new();
        v.retain(|e| seen.insert(e.key.fingerprint().to_string()));
        let changed = {
            let cur = self.snapshot();
            cur.len() != v.len() || cur.iter().zip(v.iter()).any(|(a, b)| !Arc::ptr_eq(a, b))
        };
        *self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(v);
        if changed {
            let n = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
            self.changed.send_replace(n);
        }
    }

    /// The MAC key of the sealing key with this fingerprint, if loaded.
    pub fn mac_key(&self, fingerprint: &str) -> Option<Arc<KeyEntry>> {
        self.snapshot()
            .iter()
            .find(|e| e.key.fingerprint() == fingerprint)
            .cloned()
    }

    /// The configured key ordering (`--key-order-priority`).
    pub fn order(&self) -> KeyOrderPriority {
        self.order
    }

    /// The loaded keys as public facts (`/v1/keys`), newest first; `min` is
    /// `--key-min-time`.
    pub fn describe(
        &self,
        min: Option<SystemTime>,
    ) -> Vec<sealed_secrets_core::keyusage::ActiveKey> {
        let unix = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok())
        };
        self.snapshot()
            .iter()
            .enumerate()
            .map(|(i, e)| sealed_secrets_core::keyusage::ActiveKey {
                fingerprint: e.key.fingerprint().to_string(),
                secret: e.secret_name.clone(),
                created_unix: e.created.and_then(unix),
                not_before_unix: unix(e.cert.not_before()),
                sealing: i == 0,
                below_minimum: min.is_some_and(|m| e.order_time(self.order) < m),
            })
            .collect()
    }

    /// Items decrypted by each key, by fingerprint (for metrics).
    pub fn usage(&self) -> BTreeMap<String, (String, u64)> {
        self.snapshot()
            .iter()
            .map(|e| {
                (
                    e.key.fingerprint().to_string(),
                    (e.secret_name.clone(), e.uses.load(Ordering::Relaxed)),
                )
            })
            .collect()
    }
}

/// Builds a new key Secret like upstream's (generateName `<prefix>`, type kubernetes.io/tls,
/// PKCS#1 `tls.key`, the label `…/sealed-secrets-key: active`). CPU-heavy: call it on a
/// blocking thread.
pub fn new_key_secret(
    namespace: &str,
    prefix: &str,
    bits: usize,
    cn: &str,
    ttl: Duration,
    extra_labels: &BTreeMap<String, String>,
    extra_annotations: &BTreeMap<String, String>,
) -> Result<(Secret, KeyEntry), sealed_secrets_core::KeyError> {
    let key = PrivateKey::generate(bits, Backend::AwsLc)?;
    let cert = self_signed_certificate(&key, Some(cn), ttl, SystemTime::now())?;
    let key_pem: Zeroizing<String> = key.to_pkcs1_pem()?;
    let mut labels = extra_labels.clone();
    labels.insert(SEALING_KEY_LABEL.to_string(), "active".to_string());
    let data = BTreeMap::from([
        (
            "tls.crt".to_string(),
            ByteString(cert.to_pem().into_bytes()),
        ),
        (
            "tls.key".to_string(),
            ByteString(key_pem.as_bytes().to_vec()),
        ),
    ]);
    let secret = Secret {
        metadata: ObjectMeta {
            generate_name: Some(prefix.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: (!extra_annotations.is_empty()).then(|| extra_annotations.clone()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(data),
        ..Default::default()
    };
    let entry = KeyEntry {
        mac: MacKey::derive(&key)?,
        key,
        cert,
        secret_name: String::new(),
        resource_version: None,
        created: Some(SystemTime::now()),
        uses: AtomicU64::new(0),
    };
    Ok((secret, entry))
}

/// Parses `--key-cutoff-time` (RFC 1123 with a numeric zone, as `date -R` prints).
pub fn parse_cutoff(s: &str) -> Result<Option<SystemTime>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let ts = k8s_openapi::jiff::fmt::rfc2822::parse(s)
        .map(|z| z.timestamp())
        .map_err(|_| {
            format!("invalid --key-cutoff-time {s:?}: expected RFC1123Z like `date -R`")
        })?;
    Ok(Some(SystemTime::from(ts)))
}

/// When the next key is due: `period` after the newest key's time (floored at now).
pub fn next_renewal(
    newest: Option<SystemTime>,
    period: Duration,
    now: SystemTime,
) -> Option<SystemTime> {
    if period.is_zero() {
        return None;
    }
    let due = newest.map_or(now, |t| t + period);
    Some(if due < now { now } else { due })
}

/// How long to wait before generating a key so that it is strictly newer than the newest one
/// (`newest`, its ordering time). Certificates and creation timestamps have a resolution of one
/// second and keys that tie are ordered by name, so a key generated in the same second as the
/// newest (a renewal right after start, SIGUSR1, `--key-cutoff-time`) could otherwise stay
/// behind it and never become the sealing key. At most one second; nothing when the newest
/// key is from the future (it cannot be beaten by waiting).
pub fn wait_for_next_second(newest: Option<SystemTime>, now: SystemTime) -> Duration {
    let Some(t) = newest else {
        return Duration::ZERO;
    };
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let next = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.saturating_add(1));
    match next.duration_since(now) {
        Ok(d) if d <= Duration::from_secs(1) => d,
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
pub(crate) mod tests;
