//! The validating admission webhook (`--webhook-listen-addr`, HTTPS).
//!
//! On create and update of a SealedSecret the API server sends an `AdmissionReview`; the
//! answer comes from `core::validate` (the decision behind `/v1/verify` and `kubeseal
//! --validate`): every item must open with the live keys under the object's own label and
//! every `template.data` entry must parse. Templates are never executed here, so the answer
//! depends only on "opens or not" and on the template's syntax: no plaintext oracle. Soft
//! problems (a key older than `--key-cutoff-time`) become admission warnings.
//!
//! A request over the per-user rate limit, a request while every work slot is busy, and a
//! request before any key is loaded are admitted unchecked, with a warning saying so: the
//! webhook is an early warning, never an availability risk (its configuration also uses
//! `failurePolicy: Ignore`). Every review is logged (user, object, result; never content).
//!
//! TLS without cert-manager: every replica makes sure the Secret `--webhook-tls-secret` in its
//! namespace holds a CA and a serving certificate (creating or renewing them, first writer
//! wins), serves that certificate, and keeps the `caBundle` of every webhook in the
//! ValidatingWebhookConfiguration `--webhook-configuration-name` equal to the CA bundle. So any
//! replica can answer.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sealed_secrets_core::validate::{KeyInfo, validate};
use sealed_secrets_core::{PrivateKey, SealedSecret, UnsealOptions};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use crate::http::{Inflight, MAX_BODY, RateLimiter};
use crate::keys::KeyRegistry;

/// The path the ValidatingWebhookConfiguration calls.
pub const PATH: &str = "/v1/validate";

/// Lifetime of the CA and the serving certificate.
pub const CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// A certificate with less than this left is renewed.
pub const RENEW_BEFORE: Duration = Duration::from_secs(90 * 24 * 3600);

/// How often each replica checks the certificate Secret and the `caBundle`.
pub const RESYNC: Duration = Duration::from_secs(30);

/// Annotation on the TLS Secret: when its serving certificate expires (RFC 3339).
pub const NOT_AFTER_ANNOTATION: &str = "sealedsecrets.bitnami.com/webhook-cert-not-after";

/// What the admission handler needs.
pub struct WebhookState {
    pub keys: Arc<KeyRegistry>,
    pub unseal_options: UnsealOptions,
    /// `--key-cutoff-time`: a key created before it draws a warning.
    pub cutoff: Option<SystemTime>,
    /// Per requesting user.
    pub limiter: RateLimiter<String>,
    pub inflight: Inflight,
}

/// The webhook's router.
pub fn router(state: Arc<WebhookState>) -> Router {
    Router::new()
        .route(PATH, post(review))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The answer to one review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow { warnings: Vec<String> },
    Deny { message: String },
}

/// The parts of an `AdmissionRequest` the decision uses.
#[derive(Debug)]
struct Request {
    operation: String,
    user: String,
    object: Option<SealedSecret>,
    old: Option<SealedSecret>,
    /// The object could not be read as a SealedSecret.
    malformed: bool,
}

fn cap(s: &str) -> String {
    s.chars().take(253).collect()
}

fn parse_request(req: &Value) -> Request {
    let parse = |v: &Value| -> Option<Result<SealedSecret, ()>> {
        if v.is_null() {
            return None;
        }
        Some(serde_json::from_value::<SealedSecret>(v.clone()).map_err(|_| ()))
    };
    let mut malformed = false;
    let mut object = match parse(&req["object"]) {
        Some(Ok(o)) => Some(o),
        Some(Err(())) => {
            malformed = true;
            None
        }
        None => None,
    };
    if let Some(o) = object.as_mut() {
        // The API server fills these in before validating admission; fall back to the
        // request's own fields.
        if o.metadata.namespace.as_deref().is_none_or(str::is_empty) {
            o.metadata.namespace = req["namespace"].as_str().map(str::to_string);
        }
        if o.metadata.name.as_deref().is_none_or(str::is_empty) {
            o.metadata.name = req["name"].as_str().map(str::to_string);
        }
    }
    let old = parse(&req["oldObject"]).and_then(Result::ok);
    Request {
        operation: req["operation"].as_str().unwrap_or_default().to_string(),
        user: cap(req["userInfo"]["username"].as_str().unwrap_or_default()),
        object,
        old,
        malformed,
    }
}

/// True when an update leaves everything unsealing depends on as it was (metadata-only
/// changes, finalizers, labels): such an update is never refused, so an object whose key is
/// gone can still be relabelled or deleted.
fn same_sealing(a: &SealedSecret, b: &SealedSecret) -> bool {
    a.spec == b.spec
        && a.metadata.name == b.metadata.name
        && a.metadata.namespace == b.metadata.namespace
        && sealed_secrets_core::unseal::label_for(a) == sealed_secrets_core::unseal::label_for(b)
}

/// Why an object was admitted without a check.
fn unchecked(why: &str) -> Decision {
    Decision::Allow {
        warnings: vec![format!("not checked by the sealed-secrets webhook: {why}")],
    }
}

/// The keys in trial order, with what the warnings need to know about each.
fn keys_and_info(state: &WebhookState, now: SystemTime) -> (Vec<PrivateKey>, Vec<KeyInfo>) {
    let entries = state.keys.trial_order();
    let cutoff = state.cutoff.filter(|c| *c <= now);
    let info = entries
        .iter()
        .map(|e| KeyInfo {
            before_cutoff: cutoff.is_some_and(|c| e.cert.not_before() < c),
        })
        .collect();
    (entries.iter().map(|e| e.key.clone()).collect(), info)
}

async fn decide(state: &WebhookState, req: &Request) -> (Decision, &'static str) {
    if req.operation != "CREATE" && req.operation != "UPDATE" {
        return (Decision::Allow { warnings: vec![] }, "not checked");
    }
    if req.malformed {
        return (
            Decision::Deny {
                message: "the object is not a valid SealedSecret".into(),
            },
            "rejected",
        );
    }
    let Some(ss) = req.object.clone() else {
        return (Decision::Allow { warnings: vec![] }, "not checked");
    };
    if req.operation == "UPDATE" && req.old.as_ref().is_some_and(|o| same_sealing(o, &ss)) {
        return (Decision::Allow { warnings: vec![] }, "unchanged");
    }
    if state
        .limiter
        .check(req.user.clone(), Instant::now())
        .is_err()
    {
        return (
            unchecked("too many requests from this user, retry later to have it checked"),
            "rate limited",
        );
    }
    let (keys, info) = keys_and_info(state, SystemTime::now());
    if keys.is_empty() {
        return (unchecked("the controller has no key loaded yet"), "no keys");
    }
    let Some(slot) = state.inflight.acquire().await else {
        return (unchecked("the controller is busy"), "busy");
    };
    let opts = state.unseal_options;
    let res = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let res = validate(&ss, &keys, &info, opts);
        (res, ss)
    })
    .await;
    match res {
        Ok((Ok(warnings), _)) => {
            let result = if warnings.is_empty() {
                "admitted"
            } else {
                "admitted with warnings"
            };
            (Decision::Allow { warnings }, result)
        }
        Ok((Err(rejection), ss)) => {
            let ns = ss.metadata.namespace.as_deref().unwrap_or_default();
            let name = ss.metadata.name.as_deref().unwrap_or_default();
            let hint = if rejection.unseal.is_some() {
                " (sealed with another cluster's or an older, removed key, or for another \
                 name, namespace or scope: seal it again with this cluster's certificate)"
            } else {
                ""
            };
            (
                Decision::Deny {
                    message: format!(
                        "SealedSecret {ns}/{name} cannot be unsealed by this cluster's \
                         sealed-secrets controller: {rejection}{hint}"
                    ),
                },
                "rejected",
            )
        }
        Err(_) => (unchecked("internal error"), "error"),
    }
}

/// The `AdmissionReview` response for `decision`.
pub fn response(api_version: &str, uid: &str, decision: &Decision) -> Value {
    let response = match decision {
        Decision::Allow { warnings } if warnings.is_empty() => {
            json!({"uid": uid, "allowed": true})
        }
        Decision::Allow { warnings } => json!({"uid": uid, "allowed": true, "warnings": warnings}),
        Decision::Deny { message } => json!({
            "uid": uid,
            "allowed": false,
            "status": {"code": 403, "reason": "Forbidden", "message": message}
        }),
    };
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}

async fn review(
    State(state): State<Arc<WebhookState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let start = Instant::now();
    let Ok(review) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not an AdmissionReview\n").into_response();
    };
    let req = &review["request"];
    let Some(uid) = req["uid"].as_str() else {
        return (StatusCode::BAD_REQUEST, "not an AdmissionReview\n").into_response();
    };
    let api_version = review["apiVersion"]
        .as_str()
        .unwrap_or("admission.k8s.io/v1");
    let parsed = parse_request(req);
    let (decision, result) = decide(&state, &parsed).await;
    let (ns, name) = parsed.object.as_ref().map_or_else(Default::default, |o| {
        (
            cap(o.metadata.namespace.as_deref().unwrap_or_default()),
            cap(o.metadata.name.as_deref().unwrap_or_default()),
        )
    });
    info!(peer = %peer, user = ?parsed.user, operation = ?cap(&parsed.operation),
        namespace = ?ns, name = ?name, result,
        duration_ms = start.elapsed().as_millis(), "admission review");
    let body = response(api_version, uid, &decision);
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

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

    #[test]
    fn responses() {
        let deny = response(
            "admission.k8s.io/v1",
            "u1",
            &Decision::Deny {
                message: "no".into(),
            },
        );
        assert_eq!(deny["response"]["allowed"], false);
        assert_eq!(deny["response"]["uid"], "u1");
        assert_eq!(deny["response"]["status"]["message"], "no");
        let warn = response(
            "admission.k8s.io/v1",
            "u2",
            &Decision::Allow {
                warnings: vec!["w".into()],
            },
        );
        assert_eq!(warn["response"]["allowed"], true);
        assert_eq!(warn["response"]["warnings"][0], "w");
    }

    #[test]
    fn metadata_only_updates_are_not_rechecked() {
        let mut a = SealedSecret::new("s", Default::default());
        a.metadata.namespace = Some("ns".into());
        let mut b = a.clone();
        b.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
        assert!(same_sealing(&a, &b));
        b.metadata.annotations = Some(
            [(
                sealed_secrets_core::annotations::CLUSTER_WIDE.to_string(),
                "true".to_string(),
            )]
            .into(),
        );
        assert!(!same_sealing(&a, &b), "a scope change is rechecked");
        let mut c = a.clone();
        c.spec.encrypted_data.insert("k".into(), "v".into());
        assert!(!same_sealing(&a, &c));
    }
}
