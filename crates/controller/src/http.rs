//! The HTTP API kubeseal uses (through the API server's service proxy) and the metrics server.
//!
//! `/v1/verify` and `/v1/rotate` decrypt attacker-chosen input, so both are rate-limited per
//! client **address** (never by a header the client controls), their bodies are capped, and
//! every kind of unsealing failure gets the same answer (409, empty body).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sealed_secrets_core::unseal::verify as verify_items;
use sealed_secrets_core::{PrivateKey, SealedSecret, UnsealOptions, codec, reencrypt};

use crate::keys::KeyRegistry;
use crate::metrics::{HttpDurationLabels, HttpLabels, Metrics};

/// Largest accepted body for `/v1/verify` and `/v1/rotate`.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Readiness: keys loaded and every watch synced.
#[derive(Default)]
pub struct Readiness {
    pub keys_loaded: AtomicBool,
    pub caches_synced: AtomicBool,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.keys_loaded.load(Ordering::Acquire) && self.caches_synced.load(Ordering::Acquire)
    }
}

/// A per-client token bucket (rate per second, burst), like upstream's GCRA limiter but keyed
/// by the peer address.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    const MAX_CLIENTS: usize = 65_536;

    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; `Err(wait)` when none is left.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::MAX_CLIENTS {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, (tokens, t)| {
                *tokens + now.duration_since(*t).as_secs_f64() * rate < burst
            });
        }
        let (tokens, last) = map.entry(ip).or_insert((self.burst, now));
        let refill = now.duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

/// What the handlers need.
pub struct ApiState {
    pub keys: Arc<KeyRegistry>,
    pub metrics: Arc<Metrics>,
    pub ready: Arc<Readiness>,
    pub limiter: RateLimiter,
    pub unseal_options: UnsealOptions,
}

/// The API router (`--listen-addr`).
pub fn api_router(state: Arc<ApiState>, timeout: Duration) -> Router {
    let limited = Router::new()
        .route("/v1/verify", post(verify))
        .route("/v1/rotate", post(rotate))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/v1/cert.pem", get(cert))
        .merge(limited)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state)
}

/// The metrics router (`--listen-metrics-addr`).
pub fn metrics_router(metrics: Arc<Metrics>, keys: Arc<KeyRegistry>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            let keys = keys.clone();
            async move {
                metrics.refresh_keys(&keys.usage());
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }
        }),
    )
}

async fn observe(
    State(state): State<Arc<ApiState>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let path = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            path: path.clone(),
            code: resp.status().as_u16().to_string(),
            method: method.clone(),
        })
        .inc();
    state
        .metrics
        .http_duration
        .get_or_create(&HttpDurationLabels { path, method })
        .observe(start.elapsed().as_secs_f64());
    resp
}

async fn rate_limit(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    match state.limiter.check(peer.ip(), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs().max(1).to_string();
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, "too many requests\n").into_response();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

async fn readyz(State(state): State<Arc<ApiState>>) -> Response {
    if state.ready.is_ready() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn cert(State(state): State<Arc<ApiState>>) -> Response {
    match state.keys.newest() {
        Some(entry) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            entry.cert.to_pem(),
        )
            .into_response(),
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot get certificate\n",
        )
            .into_response(),
    }
}

fn parse_body(body: &[u8]) -> Result<SealedSecret, Box<Response>> {
    let bad = |msg: &str| Box::new((StatusCode::BAD_REQUEST, format!("{msg}\n")).into_response());
    let value = codec::parse_single(body).map_err(|e| bad(&e.to_string()))?;
    if value.get("kind").and_then(|k| k.as_str()) != Some("SealedSecret") {
        return Err(bad("the body must be a single SealedSecret"));
    }
    serde_json::from_value(value).map_err(|_| bad("the body is not a valid SealedSecret"))
}

fn trial_keys(state: &ApiState) -> Vec<PrivateKey> {
    state
        .keys
        .trial_order()
        .iter()
        .map(|e| e.key.clone())
        .collect()
}

async fn verify(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let ss = match parse_body(&body) {
        Ok(ss) => ss,
        Err(r) => return *r,
    };
    let keys = trial_keys(&state);
    let opts = state.unseal_options;
    let ok = tokio::task::spawn_blocking(move || verify_items(&ss, &keys, opts).is_ok())
        .await
        .unwrap_or(false);
    if ok {
        StatusCode::OK.into_response()
    } else {
        StatusCode::CONFLICT.into_response()
    }
}

async fn rotate(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let ss = match parse_body(&body) {
        Ok(ss) => ss,
        Err(r) => return *r,
    };
    let Some(newest) = state.keys.newest() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot get certificate\n",
        )
            .into_response();
    };
    let keys = trial_keys(&state);
    let public = newest.cert.public_key().clone();
    let res = tokio::task::spawn_blocking(move || reencrypt(&ss, &keys, &public)).await;
    match res {
        Ok(Ok(new)) => match serde_json::to_vec(&new) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        _ => StatusCode::CONFLICT.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_per_ip() {
        let l = RateLimiter::new(2, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t = Instant::now();
        assert!(l.check(a, t).is_ok());
        assert!(l.check(a, t).is_ok());
        let wait = l.check(a, t).unwrap_err();
        assert!(wait <= Duration::from_millis(500));
        assert!(l.check(b, t).is_ok(), "another client has its own bucket");
        assert!(
            l.check(a, t + Duration::from_millis(500)).is_ok(),
            "refilled"
        );
        assert!(RateLimiter::new(0, 0).check(a, t).is_ok(), "0 disables");
    }
}
