//! The state shared by all reconciles: what was last written for each object, retry counts,
//! one running reconcile per object, the CPU permits for RSA work, the fence and the keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use sealed_secrets_core::unseal::wipe_secret;
use sealed_secrets_core::{SealedSecret, UnsealOptions};
use sealed_secrets_core::{keyusage, syncmac};

use super::mac_matches;
use crate::events::Publisher;
use crate::keys::{KeyEntry, KeyRegistry};
use crate::metrics::Metrics;

/// What we last wrote (or found in sync) for a SealedSecret, to skip decrypting again when an
/// event brings nothing new (our own write coming back through the watch, a restart of the
/// Secret watch, a key change for an object that is already synced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRecord {
    pub uid: String,
    pub generation: Option<i64>,
    pub secret_resource_version: Option<String>,
}

/// `--key-min-time`: keys ordered before `time` are not used to unseal (or, with
/// `warn_only`, still used but reported).
#[derive(Debug, Clone, Copy)]
pub struct MinKey {
    pub time: std::time::SystemTime,
    pub warn_only: bool,
}

/// State shared by all reconciles (and with the HTTP server).
pub struct Context {
    pub client: Client,
    pub keys: Arc<KeyRegistry>,
    pub metrics: Arc<Metrics>,
    pub recorder: Arc<Publisher>,
    pub unseal_options: UnsealOptions,
    pub update_status: bool,
    pub max_retries: u32,
    pub(super) synced: Mutex<HashMap<ObjectRef<SealedSecret>, SyncRecord>>,
    pub(super) retries: Mutex<HashMap<ObjectRef<SealedSecret>, u32>>,
    /// Per-object locks of the reconciles running now (an entry lives only while used).
    pub(super) running: Mutex<HashMap<ObjectRef<SealedSecret>, Arc<tokio::sync::Mutex<()>>>>,
    /// Limits concurrent RSA work to the number of cores.
    pub(super) cpu: tokio::sync::Semaphore,
    /// Checked before every write: only the leader writes.
    pub fence: Arc<crate::leader::Fence>,
    /// `--key-min-time`.
    pub min_key: Option<MinKey>,
}

impl Context {
    pub fn new(
        client: Client,
        keys: Arc<KeyRegistry>,
        metrics: Arc<Metrics>,
        recorder: Arc<Publisher>,
        unseal_options: UnsealOptions,
        update_status: bool,
        max_retries: u32,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            client,
            keys,
            metrics,
            recorder,
            unseal_options,
            update_status,
            max_retries,
            synced: Mutex::new(HashMap::new()),
            retries: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            cpu: tokio::sync::Semaphore::new(cores),
            fence: Arc::new(crate::leader::Fence::open()),
            min_key: None,
        }
    }

    /// Applies `--key-min-time`.
    pub fn with_min_key(mut self, min_key: Option<MinKey>) -> Self {
        self.min_key = min_key;
        self
    }

    /// True if the key is older than `--key-min-time`.
    pub(super) fn below_minimum(&self, entry: &KeyEntry) -> bool {
        self.min_key
            .is_some_and(|m| entry.order_time(self.keys.order()) < m.time)
    }

    /// Whether a Secret with a valid MAC may stand for this object without decrypting: its
    /// status must record the keys its items need at this generation (objects synced before
    /// that record existed are decrypted once to get it), and with `--key-min-time` none of
    /// them may be below the minimum (warn-only mode must see them to report them).
    pub(super) fn may_skip_decrypting(&self, ss: &SealedSecret) -> bool {
        if !keyusage::is_current(ss) {
            return false;
        }
        if self.min_key.is_none() {
            return true;
        }
        keyusage::recorded(ss).unwrap_or_default().iter().all(|u| {
            self.keys
                .mac_key(&u.fingerprint)
                .is_none_or(|e| !self.below_minimum(&e))
        })
    }

    /// Writes only while `fence` is open (leader election).
    pub fn with_fence(mut self, fence: Arc<crate::leader::Fence>) -> Self {
        self.fence = fence;
        self
    }

    pub(super) fn synced(&self) -> MutexGuard<'_, HashMap<ObjectRef<SealedSecret>, SyncRecord>> {
        locked(&self.synced)
    }

    pub(super) fn retries(&self) -> MutexGuard<'_, HashMap<ObjectRef<SealedSecret>, u32>> {
        locked(&self.retries)
    }

    /// Waits until no other reconcile of the object runs, and holds that until the guard is
    /// dropped.
    pub async fn lock(&self, r: ObjectRef<SealedSecret>) -> ObjectLock<'_> {
        let slot = {
            let mut running = locked(&self.running);
            running.entry(r.clone()).or_default().clone()
        };
        let guard = slot.clone().lock_owned().await;
        ObjectLock {
            ctx: self,
            r,
            slot,
            guard: Some(guard),
        }
    }

    /// True if a Secret event (its resourceVersion) is just our own last write echoing back.
    pub fn is_known_secret_version(&self, r: &ObjectRef<SealedSecret>, rv: Option<&str>) -> bool {
        self.synced()
            .get(r)
            .is_some_and(|rec| rec.secret_resource_version.as_deref() == rv && rv.is_some())
    }

    /// True if a sync record exists for the object (at any generation).
    pub fn has_record(&self, r: &ObjectRef<SealedSecret>) -> bool {
        self.synced().contains_key(r)
    }

    /// True if the object was found in sync at its current generation.
    pub fn in_sync_now(&self, ss: &SealedSecret) -> bool {
        self.synced()
            .get(&ObjectRef::from_obj(ss))
            .is_some_and(|rec| {
                Some(&rec.uid) == ss.metadata.uid.as_ref()
                    && rec.generation == ss.metadata.generation
            })
    }

    /// Re-verification after a restart or a change of leader: if the SealedSecret's status says
    /// it was synced at its current generation and its Secret carries a valid MAC for its
    /// current spec, records it as in sync (no RSA operation) and returns true. False means
    /// it needs a real reconcile (Secret missing, edited, stamped with a removed key…).
    pub async fn reverify(&self, ss: &SealedSecret) -> bool {
        if self.in_sync_now(ss) {
            return true;
        }
        if !self.may_skip_decrypting(ss) {
            return false;
        }
        let (Some(ns), Some(name), Some(uid)) = (
            ss.metadata.namespace.as_deref(),
            ss.metadata.name.as_deref(),
            ss.metadata.uid.clone(),
        ) else {
            return false;
        };
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let Ok(Some(mut secret)) = api.get_opt(name).await else {
            return false;
        };
        let ok = mac_matches(&self.keys, &secret, &syncmac::spec_digest(ss));
        if ok {
            self.metrics.verified_without_decrypting.inc();
            self.synced().insert(
                ObjectRef::from_obj(ss),
                SyncRecord {
                    uid,
                    generation: ss.metadata.generation,
                    secret_resource_version: secret.metadata.resource_version.clone(),
                },
            );
        }
        wipe_secret(&mut secret);
        ok
    }

    /// Forgets a deleted SealedSecret.
    pub fn forget(&self, ss: &SealedSecret) {
        let r = ObjectRef::from_obj(ss);
        self.synced().remove(&r);
        self.retries().remove(&r);
        self.metrics.forget(
            &ss.namespace().unwrap_or_default(),
            &ss.name_any(),
            &instance_label(ss),
        );
    }

    /// How many of `objects` were not unsealed successfully at their current generation.
    pub fn unsynced_count(&self, objects: &[Arc<SealedSecret>]) -> usize {
        let synced = self.synced();
        objects
            .iter()
            .filter(|ss| {
                let rec = synced.get(&ObjectRef::from_obj(ss.as_ref()));
                !rec.is_some_and(|rec| {
                    Some(&rec.uid) == ss.metadata.uid.as_ref()
                        && rec.generation == ss.metadata.generation
                })
            })
            .count()
    }
}

/// A lock on shared state; a panic elsewhere while holding it leaves the data usable (each
/// map entry is written whole).
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn instance_label(ss: &SealedSecret) -> String {
    ss.labels()
        .get(sealed_secrets_core::reconcile::INSTANCE_LABEL)
        .cloned()
        .unwrap_or_default()
}

/// A CPU permit, counted in `unseals_running` while it is held.
pub(super) struct CpuPermit<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    metrics: &'a Metrics,
}

impl<'a> CpuPermit<'a> {
    pub(super) fn new(permit: tokio::sync::SemaphorePermit<'a>, metrics: &'a Metrics) -> Self {
        metrics.unseals_running.inc();
        Self {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for CpuPermit<'_> {
    fn drop(&mut self) {
        self.metrics.unseals_running.dec();
    }
}

/// Held while one reconcile of an object runs (see [`Context::lock`]).
pub struct ObjectLock<'a> {
    ctx: &'a Context,
    r: ObjectRef<SealedSecret>,
    slot: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for ObjectLock<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut running = locked(&self.ctx.running);
        // Ours and the map's are the only handles left: nobody waits, forget the entry.
        if Arc::strong_count(&self.slot) == 2 {
            running.remove(&self.r);
        }
    }
}
