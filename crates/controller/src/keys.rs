//! The key registry: every active sealing key, safe for concurrent readers, kept up to date by
//! a watch on the key Secrets (add, update and delete apply without a restart), plus key
//! generation and renewal.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
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

    /// The ordering time of the newest key (NotBefore or creation time, as configured).
    pub fn newest_time(&self) -> Option<SystemTime> {
        self.newest().map(|e| e.order_time(self.order))
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

/// The PEM of a Secret's tls.crt (for logs: public data).
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_secret(name: &str, rv: &str, bits: usize) -> Secret {
        let (mut s, _) = new_key_secret(
            "ks",
            "sealed-secrets-key",
            bits,
            "",
            Duration::from_secs(3600),
            &BTreeMap::new(),
            &BTreeMap::new(),
        )
        .unwrap();
        s.metadata.name = Some(name.into());
        s.metadata.resource_version = Some(rv.into());
        s
    }

    /// A 1024-bit key (made once with `openssl req -x509 -newkey rsa:1024`, test use only):
    /// aws-lc-rs refuses it, so only the non-constant-time backend could use it.
    fn small_key_secret() -> Secret {
        let mut s = key_secret("small", "1", 2048);
        let data = s.data.as_mut().unwrap();
        data.insert(
            "tls.key".into(),
            ByteString(include_bytes!("testdata/rsa1024.key").to_vec()),
        );
        data.insert(
            "tls.crt".into(),
            ByteString(include_bytes!("testdata/rsa1024.crt").to_vec()),
        );
        s
    }

    #[test]
    fn non_constant_time_keys_only_with_the_flag() {
        let small = small_key_secret();
        let ok = key_secret("ok", "1", 2048);
        let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
        let errs = reg.replace_from_secrets(&[small.clone(), ok.clone()]);
        assert_eq!(errs, vec![KeySecretError::NonConstantTime("small".into())]);
        assert_eq!(errs[0].secret_name(), "small");
        let names: Vec<_> = reg
            .snapshot()
            .iter()
            .map(|e| e.secret_name.clone())
            .collect();
        assert_eq!(names, ["ok"]);

        let reg =
            KeyRegistry::new(KeyOrderPriority::CertNotBefore).allowing_non_constant_time_keys(true);
        assert!(reg.replace_from_secrets(&[small, ok]).is_empty());
        assert_eq!(reg.snapshot().len(), 2);
        assert!(
            reg.snapshot()
                .iter()
                .any(|e| e.key.backend() == Backend::RustCrypto)
        );
    }

    #[test]
    fn load_order_dedup_and_errors() {
        let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
        let a = key_secret("a", "1", 2048);
        std::thread::sleep(Duration::from_millis(1100));
        let b = key_secret("b", "1", 2048);
        let mut broken = a.clone();
        broken.metadata.name = Some("broken".into());
        broken
            .data
            .as_mut()
            .unwrap()
            .insert("tls.key".into(), ByteString(b"garbage".to_vec()));
        let mut dup = a.clone();
        dup.metadata.name = Some("a-copy".into());
        let errs = reg.replace_from_secrets(&[a.clone(), broken, b.clone(), dup]);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().contains("broken"));
        let snap = reg.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[0].secret_name, "b", "newest first");
        assert_eq!(reg.newest().unwrap().secret_name, "b");
        // Unchanged resourceVersion keeps the same entry.
        let before = Arc::clone(&snap[1]);
        reg.replace_from_secrets(&[a.clone(), b.clone()]);
        assert!(Arc::ptr_eq(&before, &reg.snapshot()[1]));
        // Deleting a key removes it.
        let rx = reg.subscribe();
        reg.replace_from_secrets(&[a]);
        assert_eq!(reg.snapshot().len(), 1);
        assert!(rx.has_changed().unwrap());
    }

    #[test]
    fn trial_order_prefers_used_keys() {
        let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
        reg.replace_from_secrets(&[key_secret("a", "1", 2048), key_secret("b", "1", 2048)]);
        let order = reg.trial_order();
        order[1].uses.fetch_add(3, Ordering::Relaxed);
        let again = reg.trial_order();
        assert_eq!(again[0].secret_name, order[1].secret_name);
    }

    #[test]
    fn a_new_key_waits_for_the_next_second() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(wait_for_next_second(None, t), Duration::ZERO);
        // Same second as the newest key: wait until the next one.
        assert_eq!(
            wait_for_next_second(Some(t), t + Duration::from_millis(300)),
            Duration::from_millis(700)
        );
        assert_eq!(wait_for_next_second(Some(t), t), Duration::from_secs(1));
        // A newest time with sub-second precision counts from its whole second.
        assert_eq!(
            wait_for_next_second(
                Some(t + Duration::from_millis(900)),
                t + Duration::from_millis(950)
            ),
            Duration::from_millis(50)
        );
        // Already a later second, or a key from the future: no wait.
        assert_eq!(
            wait_for_next_second(Some(t), t + Duration::from_secs(1)),
            Duration::ZERO
        );
        assert_eq!(
            wait_for_next_second(Some(t + Duration::from_secs(60)), t),
            Duration::ZERO
        );
    }

    #[test]
    fn cutoff_and_renewal() {
        assert_eq!(parse_cutoff("").unwrap(), None);
        let t = parse_cutoff("Mon, 02 Jan 2006 15:04:05 -0700")
            .unwrap()
            .unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_136_239_445
        );
        assert!(parse_cutoff("yesterday").is_err());
        let now = SystemTime::now();
        assert_eq!(next_renewal(Some(now), Duration::ZERO, now), None);
        let old = now - Duration::from_secs(100);
        assert_eq!(
            next_renewal(Some(old), Duration::from_secs(10), now),
            Some(now)
        );
        assert_eq!(
            next_renewal(Some(now), Duration::from_secs(10), now),
            Some(now + Duration::from_secs(10))
        );
    }
}
