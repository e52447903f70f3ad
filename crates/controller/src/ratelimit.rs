//! `--kubeclient-qps` / `--kubeclient-burst`: a token bucket in front of every request the
//! controller's Kubernetes client makes (lists, watches, gets, writes, Events, the Lease), like
//! client-go's client-side rate limiter. kube's `Client` sends requests through a buffer whose
//! one worker polls the service for readiness before each call, so waiting in `poll_ready`
//! delays every request in order.

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
