//! The HTTP API kubeseal uses (through the API server's service proxy) and the metrics server.
//!
//! `/v1/verify` and `/v1/rotate` decrypt attacker-chosen input, so both are rate-limited per
//! client **address** (never by a header the client controls), their bodies are capped, and
//! every kind of unsealing failure gets the same answer (409, empty body). Neither endpoint
//! renders `spec.template.data`: verify checks that every item opens and every template parses
//! (`core::validate`, shared with the admission webhook), rotate re-encrypts
//! the items and copies the template unchanged. At most `--max-inflight` of them do decryption
//! work at once; the others wait up to `--inflight-wait`, then get 503 with `Retry-After`.
//! Unknown paths and methods are answered (404/405) without spending the rate-limit bucket.

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
use sealed_secrets_core::validate::validate;
use sealed_secrets_core::{PrivateKey, SealedSecret, UnsealOptions, codec, reencrypt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::info;

use crate::keys::KeyRegistry;
use crate::metrics::{HttpDurationLabels, HttpLabels, Metrics, method_label};

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
/// by the peer address (the admission webhook keys it by the requesting user).
pub struct RateLimiter<K = IpAddr> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    const MAX_CLIENTS: usize = 65_536;

    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; `Err(wait)` when none is left.
    pub fn check(&self, ip: K, now: Instant) -> Result<(), Duration> {
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

/// A cap on verify/rotate requests doing work (parsing and decryption) at once.
pub struct Inflight {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl Inflight {
    /// `max` slots (0: the number of CPUs); a request waits at most `wait` for one.
    pub fn new(max: usize, wait: Duration) -> Self {
        let max = if max == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            max
        };
        Self {
            slots: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            wait,
        }
    }

    /// A slot, or `None` when none freed up within the wait.
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// What the handlers need.
pub struct ApiState {
    pub keys: Arc<KeyRegistry>,
    pub metrics: Arc<Metrics>,
    pub ready: Arc<Readiness>,
    pub limiter: RateLimiter,
    pub unseal_options: UnsealOptions,
    pub inflight: Inflight,
    /// `--key-min-time`, to mark keys below it in `/v1/keys`.
    pub min_key: Option<std::time::SystemTime>,
}

/// The API router (`--listen-addr`). `timeout` bounds each request, body read included.
pub fn router(state: Arc<ApiState>, timeout: Duration) -> Router {
    // `route_layer` on the method routers: the limiter runs for POST only, never for the 405
    // of another method, and never for the 404 of an unknown path.
    let limit = || middleware::from_fn_with_state(state.clone(), rate_limit);
    Router::new()
        .route("/v1/verify", post(verify).route_layer(limit()))
        .route("/v1/rotate", post(rotate).route_layer(limit()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .route("/v1/cert.pem", get(cert))
        .route("/v1/keys", get(keys))
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
    let method = method_label(req.method()).to_string();
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
            info!(peer = %peer, endpoint = req.uri().path(), result = "rate limited",
                "API request");
            with_retry_after(
                (StatusCode::TOO_MANY_REQUESTS, "too many requests\n").into_response(),
                wait,
            )
        }
    }
}

fn with_retry_after(mut resp: Response, wait: Duration) -> Response {
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
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

/// `GET /v1/keys`: the loaded keys as public facts (fingerprint, key Secret name, creation
/// and NotBefore times, which one seals, which are below `--key-min-time`), newest first.
/// Not in upstream; `kubeseal --key-usage` reads it.
async fn keys(State(state): State<Arc<ApiState>>) -> Response {
    let body = serde_json::to_string(&state.keys.describe(state.min_key)).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn parse_body(body: &[u8]) -> Result<SealedSecret, String> {
    let value = codec::parse_single(body).map_err(|e| e.to_string())?;
    if codec::kind(&value, "SealedSecret") != codec::Kind::Expected {
        return Err("the body must be a single SealedSecret".into());
    }
    serde_json::from_value(value).map_err(|_| "the body is not a valid SealedSecret".into())
}

fn trial_keys(state: &ApiState) -> Vec<PrivateKey> {
    state
        .keys
        .trial_order()
        .iter()
        .map(|e| e.key.clone())
        .collect()
}

/// How a verify/rotate call ended.
enum Outcome {
    /// 200, with the rotated object for rotate.
    Ok(Option<Vec<u8>>),
    /// 409: some item does not open (every unsealing failure looks the same).
    Conflict,
    /// 400: not a SealedSecret.
    BadRequest(String),
    /// 500.
    Internal(&'static str),
}

/// The object's namespace and name for the log: attacker-chosen strings, so length-capped
/// (and logged with `?`, which escapes them).
fn object_id(ss: &SealedSecret) -> (String, String) {
    let cap = |s: Option<&String>| -> String {
        s.map(|v| v.chars().take(253).collect()).unwrap_or_default()
    };
    (
        cap(ss.metadata.namespace.as_ref()),
        cap(ss.metadata.name.as_ref()),
    )
}

/// The shared path of verify and rotate: a work slot, then parsing and `work` on a blocking
/// thread (the slot is held until the work ends, even if the client goes away), then one INFO
/// line (peer, object, result, duration; never any content) and the response.
async fn unseal_call<F>(
    state: &ApiState,
    endpoint: &'static str,
    peer: SocketAddr,
    body: Bytes,
    work: F,
) -> Response
where
    F: FnOnce(SealedSecret) -> Outcome + Send + 'static,
{
    let start = Instant::now();
    let Some(slot) = state.inflight.acquire().await else {
        info!(peer = %peer, endpoint, result = "busy",
            duration_ms = start.elapsed().as_millis(), "API request");
        return with_retry_after(
            (StatusCode::SERVICE_UNAVAILABLE, "busy, retry later\n").into_response(),
            Duration::from_secs(1),
        );
    };
    let res = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        match parse_body(&body) {
            Ok(ss) => {
                let id = object_id(&ss);
                (Some(id), work(ss))
            }
            Err(msg) => (None, Outcome::BadRequest(msg)),
        }
    })
    .await;
    let (id, outcome) = res.unwrap_or((None, Outcome::Internal("internal error")));
    let (namespace, name) = id.unwrap_or_default();
    let result = match &outcome {
        Outcome::Ok(_) => "ok",
        Outcome::Conflict => "conflict",
        Outcome::BadRequest(_) => "bad request",
        Outcome::Internal(_) => "error",
    };
    info!(peer = %peer, endpoint, namespace = ?namespace, name = ?name, result,
        duration_ms = start.elapsed().as_millis(), "API request");
    match outcome {
        Outcome::Ok(None) => StatusCode::OK.into_response(),
        Outcome::Ok(Some(json)) => {
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
        Outcome::Conflict => StatusCode::CONFLICT.into_response(),
        Outcome::BadRequest(msg) => (StatusCode::BAD_REQUEST, format!("{msg}\n")).into_response(),
        Outcome::Internal(msg) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{msg}\n")).into_response()
        }
    }
}

async fn verify(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let keys = trial_keys(&state);
    let opts = state.unseal_options;
    unseal_call(
        &state,
        "/v1/verify",
        peer,
        body,
        // The same decision as the admission webhook (`core::validate`): every item opens under
        // the object's label and every template parses.
        move |ss| match validate(&ss, &keys, &[], opts) {
            Ok(_) => Outcome::Ok(None),
            Err(_) => Outcome::Conflict,
        },
    )
    .await
}

async fn rotate(
    State(state): State<Arc<ApiState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let Some(newest) = state.keys.newest() else {
        info!(peer = %peer, endpoint = "/v1/rotate", result = "no key", "API request");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot get certificate\n",
        )
            .into_response();
    };
    let keys = trial_keys(&state);
    let public = newest.cert.public_key().clone();
    unseal_call(
        &state,
        "/v1/rotate",
        peer,
        body,
        move |ss| match reencrypt(&ss, &keys, &public) {
            Ok(new) => match serde_json::to_vec(&new) {
                Ok(json) => Outcome::Ok(Some(json)),
                Err(_) => Outcome::Internal("cannot encode the result"),
            },
            Err(_) => Outcome::Conflict,
        },
    )
    .await
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

    fn state(rate: u32, burst: u32, inflight: usize) -> Arc<ApiState> {
        Arc::new(ApiState {
            keys: Arc::new(KeyRegistry::new(Default::default())),
            metrics: Arc::new(Metrics::new()),
            ready: Arc::new(Readiness::default()),
            limiter: RateLimiter::new(rate, burst),
            unseal_options: UnsealOptions::default(),
            inflight: Inflight::new(inflight, Duration::from_millis(50)),
            min_key: None,
        })
    }

    async fn call(app: &Router, method: &str, path: &str) -> Response {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::from("{not json"))
            .unwrap();
        let mut app = app.clone();
        tower_service::Service::call(&mut app, req).await.unwrap()
    }

    fn app(state: Arc<ApiState>) -> Router {
        let peer = SocketAddr::from(([10, 0, 0, 1], 1234));
        router(state, Duration::from_secs(5))
            .layer(axum::extract::connect_info::MockConnectInfo(peer))
    }

    #[tokio::test]
    async fn limiter_is_not_applied_to_fallback_or_other_methods() {
        let app = app(state(1, 2, 4));
        for _ in 0..20 {
            assert_eq!(call(&app, "GET", "/nope").await.status(), 404);
            assert_eq!(call(&app, "POST", "/nope").await.status(), 404);
            assert_eq!(call(&app, "GET", "/v1/verify").await.status(), 405);
            assert_eq!(call(&app, "BREW", "/v1/rotate").await.status(), 405);
            assert_eq!(call(&app, "GET", "/healthz").await.status(), 200);
        }
        // The bucket (burst 2) is still full, and the limiter itself works.
        assert_eq!(call(&app, "POST", "/v1/verify").await.status(), 400);
        assert_eq!(call(&app, "POST", "/v1/verify").await.status(), 400);
        let r = call(&app, "POST", "/v1/verify").await;
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
    }

    #[tokio::test]
    async fn made_up_methods_share_one_metric_series() {
        let st = state(0, 0, 4);
        let app = app(st.clone());
        for m in ["BREW", "XYZZY", "FOO1", "FOO2"] {
            call(&app, m, "/nope").await;
            call(&app, m, "/v1/cert.pem").await;
        }
        let text = st.metrics.encode();
        assert!(!text.contains("BREW") && !text.contains("FOO1"), "{text}");
        assert!(
            text.contains("path=\"unmatched\",code=\"404\",method=\"other\"} 4"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn busy_work_slots_give_503_with_retry_after() {
        let st = state(0, 0, 1);
        let app = app(st.clone());
        let held = st.inflight.acquire().await.unwrap();
        let r = call(&app, "POST", "/v1/verify").await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        drop(held);
        assert_eq!(call(&app, "POST", "/v1/verify").await.status(), 400);
    }

    #[test]
    fn only_a_sealedsecret_body_is_read() {
        let ss = br#"{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret","metadata":{"name":"s"},"spec":{"encryptedData":{}}}"#;
        assert!(parse_body(ss).is_ok());
        for body in [
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#,
            r#"{"metadata":{"name":"s"},"spec":{"encryptedData":{}}}"#,
            r#"{"kind":1,"metadata":{"name":"s"},"spec":{"encryptedData":{}}}"#,
        ] {
            assert_eq!(
                parse_body(body.as_bytes()).unwrap_err(),
                "the body must be a single SealedSecret",
                "{body}"
            );
        }
    }
}
