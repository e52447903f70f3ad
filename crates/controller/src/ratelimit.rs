//! `--kubeclient-qps` / `--kubeclient-burst`: a token bucket in front of every request the
//! controller's Kubernetes client makes (lists, watches, gets, writes, Events, the Lease), like
//! client-go's client-side rate limiter. kube's `Client` sends requests through a buffer whose
//! one worker polls the service for readiness before each call, so waiting in `poll_ready`
//! delays every request in order.
//!
//! Also [`InflightLayer`]: at most a few requests other than watches in flight at once, so
//! the client keeps a few connections to the API server instead of one per waiting reconcile.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tower::{Layer, Service};

/// A token bucket: `rate` tokens per second, at most `burst` stored.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token (`Ok`), or says how long until one is available.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// The layer; `None` from [`RateLimitLayer::new`] when no limit is set (upstream's default).
#[derive(Clone)]
pub struct RateLimitLayer {
    bucket: Arc<Mutex<TokenBucket>>,
}

impl RateLimitLayer {
    /// `qps <= 0` (or not finite) means no client-side limit.
    pub fn new(qps: f64, burst: u32) -> Option<Self> {
        (qps.is_finite() && qps > 0.0).then(|| Self {
            bucket: Arc::new(Mutex::new(TokenBucket::new(qps, burst, Instant::now()))),
        })
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            bucket: self.bucket.clone(),
            sleep: None,
            has_token: false,
        }
    }
}

/// The service: waits for a token in `poll_ready`.
pub struct RateLimited<S> {
    inner: S,
    bucket: Arc<Mutex<TokenBucket>>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    has_token: bool,
}

impl<S, R> Service<R> for RateLimited<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        while !self.has_token {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            let res = self
                .bucket
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .try_take(Instant::now());
            match res {
                Ok(()) => self.has_token = true,
                Err(wait) => self.sleep = Some(Box::pin(tokio::time::sleep(wait))),
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.has_token = false;
        self.inner.call(req)
    }
}

/// Requests other than watches the controller's client has in flight at once. Each request in
/// flight holds its own HTTP/1.1 connection, with TLS and read buffers that outlive it in the
/// pool: with `--workers` (32) reconciles all writing at once, a first sync of 5,000
/// SealedSecrets held ~55 connections and 2.5 MB more at its peak than with this limit. On the
/// scale bench sixteen sync as fast as no limit; eight were ~20% slower (the API server
/// overlaps its writes).
pub const MAX_INFLIGHT_REQUESTS: usize = 16;

/// The layer: requests other than watches wait for one of `limit` permits, held until the
/// response's headers arrive. The permit is taken in `poll_ready` (which does not see the
/// request; behind kube's buffer, one request at a time), and a watch, long-running by design,
/// hands it back at once.
#[derive(Clone)]
pub struct InflightLayer {
    permits: Arc<tokio::sync::Semaphore>,
}

impl InflightLayer {
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(limit.max(1))),
        }
    }
}

impl<S> Layer<S> for InflightLayer {
    type Service = Inflight<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Inflight {
            inner,
            permits: self.permits.clone(),
            acquiring: None,
            permit: None,
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The service of [`InflightLayer`].
pub struct Inflight<S> {
    inner: S,
    permits: Arc<tokio::sync::Semaphore>,
    acquiring: Option<BoxFuture<Option<tokio::sync::OwnedSemaphorePermit>>>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// True for a watch request (`watch=true` or `watch=1` in the query, as kube sends it).
fn is_watch(uri: &http::Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"))
}

impl<S, B> Service<http::Request<B>> for Inflight<S>
where
    S: Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            let permits = self.permits.clone();
            let acquiring = self
                .acquiring
                .get_or_insert_with(|| Box::pin(async move { permits.acquire_owned().await.ok() }));
            match acquiring.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                // `None` only if the semaphore were closed (never): go ahead without one.
                Poll::Ready(permit) => {
                    self.acquiring = None;
                    self.permit = permit;
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let permit = self.permit.take();
        let watch = is_watch(req.uri());
        let fut = self.inner.call(req);
        if watch {
            drop(permit);
            return Box::pin(fut);
        }
        Box::pin(async move {
            let res = fut.await;
            drop(permit);
            res
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3, t0);
        assert!(b.try_take(t0).is_ok());
        assert!(b.try_take(t0).is_ok());
        assert!(b.try_take(t0).is_ok());
        let wait = b.try_take(t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        assert!(b.try_take(t0 + Duration::from_millis(100)).is_ok());
        assert!(b.try_take(t0 + Duration::from_millis(100)).is_err());
        // Never more than the burst, however long it idles.
        let later = t0 + Duration::from_secs(100);
        for _ in 0..3 {
            assert!(b.try_take(later).is_ok());
        }
        assert!(b.try_take(later).is_err());
    }

    #[test]
    fn off_unless_positive() {
        assert!(RateLimitLayer::new(-1.0, 10).is_none());
        assert!(RateLimitLayer::new(0.0, 10).is_none());
        assert!(RateLimitLayer::new(f64::NAN, 10).is_none());
        assert!(RateLimitLayer::new(5.0, 10).is_some());
    }

    #[test]
    fn watches_are_told_apart() {
        let watch = |u: &str| is_watch(&u.parse::<http::Uri>().unwrap());
        assert!(watch("/api/v1/secrets?watch=true&resourceVersion=1"));
        assert!(watch("/api/v1/secrets?labelSelector=a&watch=1"));
        assert!(!watch("/api/v1/secrets?limit=100"));
        assert!(!watch("/api/v1/secrets?labelSelector=watch%3Dtrue"));
        assert!(!watch("/api/v1/namespaces/ns/secrets/watch"));
    }

    /// A watch is open (unanswered: it holds no permit), then twenty requests at once through a
    /// kube `Client`: exactly the limit reach the API server together, and all are answered.
    #[tokio::test]
    async fn at_most_the_limit_in_flight_and_watches_hold_no_permit() {
        use http::{Request, Response};
        use kube::client::Body;
        let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(InflightLayer::new(3).layer(mock), "default");
        let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(client, "default");
        let watcher = api.clone();
        tokio::spawn(async move {
            let _ = watcher.watch(&kube::api::WatchParams::default(), "0").await;
        });
        let (watch, _open) = handle.next_request().await.unwrap();
        assert!(is_watch(watch.uri()), "{}", watch.uri());
        let gets: Vec<_> = (0..20)
            .map(|i| {
                let api = api.clone();
                tokio::spawn(async move { api.get(&format!("c{i}")).await })
            })
            .collect();
        let cm = |name: &str| {
            let body = serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default"}
            });
            Response::builder()
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap()
        };
        let mut batches = Vec::new();
        while batches.iter().sum::<usize>() < 20 {
            // Take what has arrived before answering any: at most the limit can be waiting.
            let mut waiting = Vec::new();
            while let Ok(Some(pair)) =
                tokio::time::timeout(Duration::from_millis(100), handle.next_request()).await
            {
                waiting.push(pair);
            }
            batches.push(waiting.len());
            for (req, send) in waiting {
                let name = req.uri().path().rsplit('/').next().unwrap().to_string();
                send.send_response(cm(&name));
            }
        }
        assert_eq!(batches[0], 3, "{batches:?}");
        assert!(batches.iter().all(|&n| (1..=3).contains(&n)), "{batches:?}");
        for g in gets {
            g.await.unwrap().unwrap();
        }
    }

    /// Every request through a kube `Client` waits for a token: 1 qps with burst 1 spaces two
    /// requests by about a second.
    #[tokio::test]
    async fn kube_client_requests_are_limited() {
        use http::{Request, Response};
        use kube::client::Body;
        let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let layer = RateLimitLayer::new(1.0, 1).unwrap();
        let client = kube::Client::new(layer.layer(mock), "default");
        let server = tokio::spawn(async move {
            let mut times = Vec::new();
            for _ in 0..2 {
                let (_req, send) = handle.next_request().await.unwrap();
                times.push(Instant::now());
                let body = serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "x", "namespace": "default"}
                });
                send.send_response(
                    Response::builder()
                        .body(Body::from(serde_json::to_vec(&body).unwrap()))
                        .unwrap(),
                );
            }
            times
        });
        let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(client, "default");
        api.get("x").await.unwrap();
        api.get("x").await.unwrap();
        let times = server.await.unwrap();
        let gap = times[1] - times[0];
        assert!(gap >= Duration::from_millis(900), "{gap:?}");
    }
}
