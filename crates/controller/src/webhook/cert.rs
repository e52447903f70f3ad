//! The webhook's TLS without cert-manager: a CA and a serving certificate kept in the Secret
//! `--webhook-tls-secret` (created or renewed by whichever replica comes first), served from a
//! slot that is swapped when the Secret changes, and trusted through the `caBundle` of the
//! ValidatingWebhookConfiguration.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

/// Lifetime of the CA and the serving certificate.
pub const CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// A certificate with less than this left is renewed.
pub const RENEW_BEFORE: Duration = Duration::from_secs(90 * 24 * 3600);

/// How often each replica checks the certificate Secret and the `caBundle`.
pub const RESYNC: Duration = Duration::from_secs(30);

/// Annotation on the TLS Secret: when its serving certificate expires (RFC 3339).
pub const NOT_AFTER_ANNOTATION: &str = "sealedsecrets.bitnami.com/webhook-cert-not-after";

/// The serving certificate, swapped when the Secret changes.
#[derive(Debug, Default)]
pub struct CertSlot(RwLock<Option<Arc<CertifiedKey>>>);

impl CertSlot {
    fn set(&self, key: Arc<CertifiedKey>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Errors of the certificate work. Never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate the webhook certificate: {0}")]
    Generate(String),
    #[error("the webhook TLS Secret holds no usable certificate: {0}")]
    Load(String),
    #[error("cannot read or write the webhook TLS Secret: {0}")]
    Secret(#[source] kube::Error),
}

/// The TLS acceptor serving whatever `slot` holds (HTTP/1.1 only).
pub fn acceptor(slot: Arc<CertSlot>) -> Result<tokio_rustls::TlsAcceptor, CertError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CertError::Generate(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A CA and a serving certificate it signed, as stored in the Secret.
#[derive(Clone)]
pub struct Bundle {
    /// The current CA (PEM).
    pub ca: String,
    /// The CA before the last renewal, still trusted so that replicas that have not reloaded
    /// yet keep working (PEM, may be empty).
    pub previous_ca: String,
    pub cert: String,
    pub key: Zeroizing<String>,
    pub not_after: SystemTime,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Bundle {
    /// What the API server must trust: the current and the previous CA.
    pub fn ca_bundle(&self) -> String {
        format!("{}{}", self.ca, self.previous_ca)
    }

    /// The rustls key for serving.
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, CertError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(self.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertError::Load(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes())
            .map_err(|_| CertError::Load("tls.key is not a PEM private key".into()))?;
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        CertifiedKey::from_der(certs, key, &provider)
            .map(Arc::new)
            .map_err(|e| CertError::Load(e.to_string()))
    }
}

/// The DNS names (and loopback addresses) of the serving certificate.
pub fn hosts(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        format!("{service}.{namespace}"),
        service.to_string(),
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
    ]
}

/// Makes a new CA and a serving certificate for `hosts`, valid from `now` for `validity`.
pub fn generate(
    hosts: &[String],
    now: SystemTime,
    validity: Duration,
    previous_ca: &str,
) -> Result<Bundle, CertError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| CertError::Generate(e.to_string());
    let start = time::OffsetDateTime::from(now - Duration::from_secs(3600).min(validity / 4));
    let end = time::OffsetDateTime::from(now + validity);
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name
        .push(DnType::CommonName, "sealed-secrets-webhook-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = start;
    ca.not_after = end;
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().map_err(err)?;
    let mut leaf = CertificateParams::new(hosts.to_vec()).map_err(err)?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        hosts
            .first()
            .map_or("sealed-secrets-webhook", String::as_str),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.not_before = start;
    leaf.not_after = end;
    let cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;
    Ok(Bundle {
        ca: ca_cert.pem(),
        previous_ca: previous_ca.to_string(),
        cert: cert.pem(),
        key: Zeroizing::new(leaf_key.serialize_pem()),
        not_after: now + validity,
    })
}

/// True when a certificate expiring at `not_after` must be replaced at `now`.
pub fn needs_renewal(not_after: SystemTime, now: SystemTime) -> bool {
    not_after
        .duration_since(now)
        .map_or(true, |left| left < RENEW_BEFORE)
}

fn data_str(s: &Secret, key: &str) -> Option<String> {
    s.data
        .as_ref()?
        .get(key)
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
}

/// Reads a bundle from the Secret; `None` when it is incomplete.
pub fn bundle_from_secret(s: &Secret) -> Option<Bundle> {
    let not_after = s
        .metadata
        .annotations
        .as_ref()?
        .get(NOT_AFTER_ANNOTATION)?
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()?;
    Some(Bundle {
        ca: data_str(s, "ca.crt")?,
        previous_ca: data_str(s, "ca-previous.crt").unwrap_or_default(),
        cert: data_str(s, "tls.crt")?,
        key: Zeroizing::new(data_str(s, "tls.key")?),
        not_after: SystemTime::from(not_after),
    })
}

fn bundle_to_secret(name: &str, b: &Bundle, resource_version: Option<String>) -> Secret {
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    let not_after = k8s_openapi::jiff::Timestamp::try_from(b.not_after)
        .map(|t| t.to_string())
        .unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            resource_version,
            annotations: Some([(NOT_AFTER_ANNOTATION.to_string(), not_after)].into()),
            labels: Some(
                [(
                    "app.kubernetes.io/name".to_string(),
                    "sealed-secrets".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(
            [
                ("ca.crt".to_string(), bytes(&b.ca)),
                ("ca-previous.crt".to_string(), bytes(&b.previous_ca)),
                ("tls.crt".to_string(), bytes(&b.cert)),
                ("tls.key".to_string(), bytes(&b.key)),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// Where the certificate lives and who trusts it.
pub struct CertConfig {
    pub namespace: String,
    pub secret_name: String,
    pub configuration_name: String,
    pub hosts: Vec<String>,
}

/// Returns the current bundle, creating or renewing it in the Secret first when needed. Races
/// between replicas end with one writer winning (create conflicts, update preconditions);
/// the loser reads the winner's bundle.
pub async fn ensure_bundle(client: &Client, cfg: &CertConfig) -> Result<Bundle, CertError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &cfg.namespace);
    for _ in 0..3 {
        let existing = api
            .get_opt(&cfg.secret_name)
            .await
            .map_err(CertError::Secret)?;
        let now = SystemTime::now();
        let current = existing.as_ref().and_then(bundle_from_secret);
        if let Some(b) = &current
            && !needs_renewal(b.not_after, now)
        {
            return Ok(b.clone());
        }
        let previous = current.as_ref().map(|b| b.ca.clone()).unwrap_or_default();
        let hosts = cfg.hosts.clone();
        let fresh =
            tokio::task::spawn_blocking(move || generate(&hosts, now, CERT_VALIDITY, &previous))
                .await
                .map_err(|e| CertError::Generate(e.to_string()))??;
        let res = match &existing {
            None => {
                api.create(
                    &PostParams::default(),
                    &bundle_to_secret(&cfg.secret_name, &fresh, None),
                )
                .await
            }
            Some(s) => {
                api.replace(
                    &cfg.secret_name,
                    &PostParams::default(),
                    &bundle_to_secret(
                        &cfg.secret_name,
                        &fresh,
                        s.metadata.resource_version.clone(),
                    ),
                )
                .await
            }
        };
        match res {
            Ok(_) => {
                info!(secret = %cfg.secret_name, "webhook certificate created");
                return Ok(fresh);
            }
            // Another replica wrote first: use its bundle.
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(CertError::Secret(e)),
        }
    }
    Err(CertError::Load("the Secret keeps changing".into()))
}

/// Sets the `caBundle` of every webhook in the configuration. `Ok(false)` when the
/// configuration does not exist (the webhook is not installed).
pub async fn patch_ca_bundle(
    client: &Client,
    name: &str,
    ca_bundle: &str,
) -> Result<bool, kube::Error> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let Some(mut vwc) = api.get_opt(name).await? else {
        return Ok(false);
    };
    let want = ByteString(ca_bundle.as_bytes().to_vec());
    let mut changed = false;
    for w in vwc.webhooks.iter_mut().flatten() {
        if w.client_config.ca_bundle.as_ref() != Some(&want) {
            w.client_config.ca_bundle = Some(want.clone());
            changed = true;
        }
    }
    if changed {
        api.replace(name, &PostParams::default(), &vwc).await?;
        info!(configuration = name, "webhook caBundle updated");
    }
    Ok(true)
}

/// Keeps the certificate fresh, served and trusted, until `stop`.
pub async fn maintain(
    client: Client,
    cfg: CertConfig,
    slot: Arc<CertSlot>,
    mut stop: watch::Receiver<bool>,
) {
    let mut served: Option<String> = None;
    let mut missing_logged = false;
    loop {
        let ok = match ensure_bundle(&client, &cfg).await {
            Ok(b) => {
                if served.as_deref() != Some(b.cert.as_str()) {
                    match b.certified_key() {
                        Ok(k) => {
                            slot.set(k);
                            served = Some(b.cert.clone());
                            info!(secret = %cfg.secret_name, "webhook serving certificate loaded");
                        }
                        Err(e) => warn!(error = %e, "cannot load the webhook certificate"),
                    }
                }
                match patch_ca_bundle(&client, &cfg.configuration_name, &b.ca_bundle()).await {
                    Ok(true) => {
                        missing_logged = false;
                        true
                    }
                    Ok(false) => {
                        if !missing_logged {
                            info!(configuration = %cfg.configuration_name,
                                "no ValidatingWebhookConfiguration of that name; the webhook serves but the API server does not call it");
                            missing_logged = true;
                        }
                        true
                    }
                    Err(e) => {
                        warn!(configuration = %cfg.configuration_name, error = %e,
                            "cannot update the webhook caBundle");
                        false
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "webhook certificate");
                false
            }
        };
        let wait = if ok { RESYNC } else { Duration::from_secs(5) };
        debug!(?wait, "webhook certificate check done");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_bundle_round_trips_through_the_secret_and_serves() {
        let now = SystemTime::now();
        let b = generate(&hosts("svc", "ns"), now, CERT_VALIDITY, "").unwrap();
        assert!(b.ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(b.certified_key().is_ok());
        let s = bundle_to_secret("tls", &b, None);
        let back = bundle_from_secret(&s).unwrap();
        assert_eq!(back.cert, b.cert);
        assert_eq!(back.ca_bundle(), b.ca);
        let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs(back.not_after), secs(b.not_after));
        // A renewal keeps trusting the old CA.
        let renewed = generate(&hosts("svc", "ns"), now, CERT_VALIDITY, &b.ca).unwrap();
        assert!(renewed.ca_bundle().contains(&b.ca));
        assert_ne!(renewed.ca, b.ca);
        assert!(format!("{b:?}").find("PRIVATE").is_none());
    }

    #[test]
    fn renewal_window() {
        let now = SystemTime::now();
        assert!(!needs_renewal(now + CERT_VALIDITY, now));
        assert!(needs_renewal(now + RENEW_BEFORE / 2, now));
        assert!(needs_renewal(now - Duration::from_secs(1), now));
    }
}
