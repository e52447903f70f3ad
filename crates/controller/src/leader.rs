//! Leader election on a `coordination.k8s.io/v1` Lease, with fencing.
//!
//! The algorithm is client-go's (optimistic concurrency on the Lease's resourceVersion; a
//! candidate judges expiry by its own monotonic clock from the moment it last saw the Lease
//! change, so clock skew between nodes does not matter), plus:
//!
//! - a [`Fence`]: the instant until which this process may write as leader. It is set to
//!   `send time of the last successful acquire/renew + renew deadline`. Another candidate can
//!   take over no earlier than `lease duration` after it saw that renewal, which is after it was
//!   sent, so every write that passes the fence lands (give or take
//!   `lease duration - renew deadline` of request latency) before anyone else can lead;
//! - a watch on the one Lease, so that followers notice a released Lease at once instead of at
//!   their next retry (hand-over on SIGTERM in milliseconds, not seconds);
//! - a restarted process of the same Pod (same `POD_NAME`, new process suffix) takes over its
//!   own predecessor's Lease at once: a Pod runs one controller container, and the kubelet only
//!   restarts it after the previous one exited.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

/// Leader election settings.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub lease_name: String,
    /// This process: `POD_NAME` (or the host name) plus a per-process suffix.
    pub identity: String,
    /// `POD_NAME`, when set: a Lease held by another process of the same Pod is taken at once.
    pub pod_name: Option<String>,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// A write was refused because this process is not (or no longer surely) the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not the leader")]
pub struct NotLeader;

/// Until when this process may write. Checked right before every write to the API server.
#[derive(Debug)]
pub struct Fence {
    /// `None`: leader election is off, every write is allowed.
    until: Option<Mutex<Option<Instant>>>,
}

impl Fence {
    /// Leader election off: always open.
    pub fn open() -> Self {
        Self { until: None }
    }

    /// Leader election on: closed until the first successful acquisition.
    pub fn closed() -> Self {
        Self {
            until: Some(Mutex::new(None)),
        }
    }

    fn slot(m: &Mutex<Option<Instant>>) -> std::sync::MutexGuard<'_, Option<Instant>> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True while writes are allowed.
    pub fn is_open(&self) -> bool {
        match &self.until {
            None => true,
            Some(m) => Self::slot(m).is_some_and(|u| Instant::now() < u),
        }
    }

    /// `Ok` while writes are allowed.
    pub fn check(&self) -> Result<(), NotLeader> {
        if self.is_open() {
            Ok(())
        } else {
            Err(NotLeader)
        }
    }

    /// The instant writes stop, if leading.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.until {
            None => None,
            Some(m) => *Self::slot(m),
        }
    }

    fn extend(&self, until: Instant) {
        if let Some(m) = &self.until {
            let mut g = Self::slot(m);
            if g.is_none_or(|u| u < until) {
                *g = Some(until);
            }
        }
    }

    fn close(&self) {
        if let Some(m) = &self.until {
            *Self::slot(m) = None;
        }
    }
}

/// What a candidate should do with the Lease it just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Write the Lease with us as holder (acquire, or renew when `renew`).
    Take { renew: bool },
    /// Someone else holds a valid Lease.
    Wait,
}

/// The holder of a Lease, if any (an empty identity means released).
pub fn holder(spec: Option<&LeaseSpec>) -> Option<&str> {
    spec.and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

/// The Pod part of an identity `<pod>_<suffix>` (Pod names never contain `_`).
pub fn pod_of(identity: &str) -> &str {
    identity.rsplit_once('_').map_or(identity, |(p, _)| p)
}

/// Pure decision: may `me` take the Lease? `observed_for` is how long ago (by our clock) we
/// first saw the Lease in its current version.
pub fn decide(
    spec: Option<&LeaseSpec>,
    me: &str,
    my_pod: Option<&str>,
    observed_for: Duration,
    default_duration: Duration,
) -> Decision {
    let Some(h) = holder(spec) else {
        return Decision::Take { renew: false };
    };
    if h == me {
        return Decision::Take { renew: true };
    }
    if let Some(pod) = my_pod
        && pod_of(h) == pod
    {
        // Our own Pod's previous process: it has exited.
        return Decision::Take { renew: false };
    }
    let secs = spec
        .and_then(|s| s.lease_duration_seconds)
        .and_then(|s| u64::try_from(s).ok())
        .map_or(default_duration, Duration::from_secs);
    if observed_for >= secs {
        Decision::Take { renew: false }
    } else {
        Decision::Wait
    }
}

/// Where the last leader stopped: the Lease's resourceVersion as we found it just before we
/// took it over (released, or expired after the last renewal). etcd revisions are global, so
/// a SealedSecret watch from there replays everything that changed since the old leader's
/// last word. Set on each take-over, taken once by the next term; `None` for the first leader
/// ever (no Lease existed) and without leader election.
pub type Takeover = std::sync::Arc<Mutex<Option<String>>>;

/// The elector: runs for the life of the process.
pub struct Elector {
    cfg: LeaderConfig,
    api: Api<Lease>,
    fence: std::sync::Arc<Fence>,
    leading: watch::Sender<bool>,
    /// resourceVersion of the Lease as last seen, and when we first saw it.
    observed: Option<(String, Instant)>,
    wake: std::sync::Arc<Notify>,
    takeover: Takeover,
}

impl Elector {
    pub fn new(
        client: Client,
        cfg: LeaderConfig,
        fence: std::sync::Arc<Fence>,
        leading: watch::Sender<bool>,
    ) -> Self {
        let api = Api::namespaced(client, &cfg.namespace);
        Self {
            cfg,
            api,
            fence,
            leading,
            observed: None,
            wake: std::sync::Arc::new(Notify::new()),
            takeover: Takeover::default(),
        }
    }

    /// Records each take-over point into `takeover` (see [`Takeover`]).
    pub fn with_takeover(mut self, takeover: Takeover) -> Self {
        self.takeover = takeover;
        self
    }

    fn now() -> MicroTime {
        MicroTime(k8s_openapi::jiff::Timestamp::now())
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.cfg.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One round: read the Lease and take or renew it if allowed. `Ok(true)` when we lead
    /// after this round.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let sent = Instant::now();
        let Some(lease) = self.api.get_opt(&self.cfg.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.lease_name.clone()),
                    namespace: Some(self.cfg.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.cfg.identity.clone()),
                    lease_duration_seconds: Some(self.duration_secs()),
                    acquire_time: Some(Self::now()),
                    renew_time: Some(Self::now()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(l) => {
                    self.observed = l.metadata.resource_version.map(|rv| (rv, sent));
                    self.fence.extend(sent + self.cfg.renew_deadline);
                    Ok(true)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let first_seen = match &self.observed {
            Some((seen, at)) if *seen == rv => *at,
            _ => {
                self.observed = Some((rv.clone(), sent));
                sent
            }
        };
        let spec = lease.spec.as_ref();
        let decision = decide(
            spec,
            &self.cfg.identity,
            self.cfg.pod_name.as_deref(),
            sent.saturating_duration_since(first_seen),
            self.cfg.lease_duration,
        );
        let Decision::Take { renew } = decision else {
            return Ok(false);
        };
        let old = spec.cloned().unwrap_or_default();
        let transitions = old.lease_transitions.unwrap_or(0);
        let mut next = lease.clone();
        next.spec = Some(LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(self.duration_secs()),
            acquire_time: if renew {
                old.acquire_time.clone()
            } else {
                Some(Self::now())
            },
            renew_time: Some(Self::now()),
            lease_transitions: Some(if renew {
                transitions
            } else {
                transitions.saturating_add(1)
            }),
            ..old
        });
        // The resourceVersion in `next` makes this a compare-and-swap.
        match self
            .api
            .replace(&self.cfg.lease_name, &PostParams::default(), &next)
            .await
        {
            Ok(l) => {
                if !renew {
                    *self
                        .takeover
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(rv);
                }
                self.observed = l.metadata.resource_version.map(|rv| (rv, sent));
                self.fence.extend(sent + self.cfg.renew_deadline);
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn set_leading(&self, v: bool) {
        if *self.leading.borrow() != v {
            if v {
                info!(lease = %self.cfg.lease_name, identity = %self.cfg.identity, "became the leader");
            } else {
                warn!(lease = %self.cfg.lease_name, identity = %self.cfg.identity, "stopped leading");
            }
        }
        self.leading.send_replace(v);
    }

    /// Watches the one Lease (field selector on its name, so RBAC can restrict it by name) and
    /// wakes the election loop on every change.
    fn spawn_watch(&self) -> tokio::task::JoinHandle<()> {
        let api = self.api.clone();
        let name = self.cfg.lease_name.clone();
        let wake = self.wake.clone();
        tokio::spawn(async move {
            let mut warned = false;
            loop {
                let wp = WatchParams::default()
                    .fields(&format!("metadata.name={name}"))
                    .timeout(290);
                match api.watch(&wp, "0").await {
                    Ok(stream) => {
                        futures::pin_mut!(stream);
                        while let Some(ev) = stream.next().await {
                            match ev {
                                Ok(WatchEvent::Error(_)) | Err(_) => break,
                                Ok(_) => wake.notify_one(),
                            }
                        }
                    }
                    Err(e) => {
                        if !warned {
                            warn!(lease = %name, error = %e,
                                "cannot watch the Lease (needs `watch` on leases); hand-over waits for the retry period");
                            warned = true;
                        }
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
            }
        })
    }

    /// Runs the election until `stop` turns true; then releases the Lease if held.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let watch_task = self.spawn_watch();
        loop {
            if *stop.borrow() {
                break;
            }
            let leading = *self.leading.borrow();
            let round = tokio::time::timeout(
                self.cfg.renew_deadline.max(Duration::from_millis(500)),
                self.try_acquire_or_renew(),
            )
            .await;
            match round {
                Ok(Ok(true)) => self.set_leading(true),
                Ok(Ok(false)) => {
                    // Somebody else holds it: stop writing at once.
                    self.fence.close();
                    self.set_leading(false);
                }
                Ok(Err(e)) => {
                    warn!(lease = %self.cfg.lease_name, error = %e, "leader election request failed");
                }
                Err(_) => warn!(lease = %self.cfg.lease_name, "leader election request timed out"),
            }
            if leading && !self.fence.is_open() {
                // Could not renew within the renew deadline.
                self.fence.close();
                self.set_leading(false);
            }
            let wait = if *self.leading.borrow() {
                // Renew on time, and wake up exactly when the fence closes.
                let left = self.fence.deadline().map_or(Duration::ZERO, |d| {
                    d.saturating_duration_since(Instant::now())
                });
                self.cfg.retry_period.min(left)
            } else {
                self.cfg.retry_period
            };
            let is_leader = *self.leading.borrow();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified(), if !is_leader => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        watch_task.abort();
        self.release().await;
    }

    /// Stops writing, then gives the Lease up (holder cleared, duration 1 s) so another replica
    /// takes over at once.
    async fn release(&mut self) {
        let was_leading = *self.leading.borrow();
        self.fence.close();
        self.set_leading(false);
        if !was_leading {
            return;
        }
        let Ok(Some(lease)) = self.api.get_opt(&self.cfg.lease_name).await else {
            return;
        };
        if holder(lease.spec.as_ref()) != Some(self.cfg.identity.as_str()) {
            return;
        }
        let mut next = lease.clone();
        let old = lease.spec.unwrap_or_default();
        next.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            renew_time: Some(Self::now()),
            ..old
        });
        match self
            .api
            .replace(&self.cfg.lease_name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => info!(lease = %self.cfg.lease_name, "leadership released"),
            Err(e) => warn!(lease = %self.cfg.lease_name, error = %e, "cannot release the Lease"),
        }
    }
}

/// This process's identity: `POD_NAME` (else the host name) plus a per-process suffix.
pub fn identity(pod_name: Option<&str>) -> String {
    let base = pod_name
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sealed-secrets-controller".to_string());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mix = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!("{base}_{mix:016x}")
}

#[cfg(test)]
mod tests;
