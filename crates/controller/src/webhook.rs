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
//! replica can answer. That part is [`cert`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sealed_secrets_core::validate::{KeyInfo, validate};
use sealed_secrets_core::{PrivateKey, SealedSecret, UnsealOptions};
use serde_json::{Value, json};
use tracing::info;

pub mod cert;

pub use cert::{CertConfig, CertSlot, acceptor, hosts, maintain};

use crate::api::{Inflight, MAX_BODY, RateLimiter};
use crate::keys::KeyRegistry;

/// The path the ValidatingWebhookConfiguration calls.
pub const PATH: &str = "/v1/validate";

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

#[cfg(test)]
mod tests;
