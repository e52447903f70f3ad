//! The SealedSecret watch of one scope (a namespace or all) wired to the reconciler: initial
//! list triage (steady objects are re-verified apart), Secret-change triggers, key-change
//! retries, the pending gauge and `--old-gc-behavior`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::DeleteParams;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, ResourceExt};
use sealed_secrets_core::SealedSecret;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::Shared;
use crate::reconcile::{self, Context};

/// What the per-scope controllers of one term share: how many caches are synced (for
/// readiness), how many objects each scope has pending (the gauge is their sum), and where
/// the previous leader stopped (see [`crate::leader::Takeover`]).
pub(crate) struct ScopeSync {
    synced: std::sync::atomic::AtomicUsize,
    pending: Vec<std::sync::atomic::AtomicUsize>,
    takeover: Option<String>,
}

impl ScopeSync {
    pub(crate) fn new(scopes: usize) -> Self {
        Self {
            synced: std::sync::atomic::AtomicUsize::new(0),
            pending: (0..scopes)
                .map(|_| std::sync::atomic::AtomicUsize::new(0))
                .collect(),
            takeover: None,
        }
    }

    pub(crate) fn with_takeover(mut self, rv: Option<String>) -> Self {
        self.takeover = rv;
        self
    }
}

pub(crate) async fn run_controller(
    shared: Arc<Shared>,
    ctx: Arc<Context>,
    namespace: Option<String>,
    sync: Arc<ScopeSync>,
    index: usize,
    mut stop: watch::Receiver<bool>,
) {
    let client = shared.client.clone();
    let (ss_api, secret_api): (Api<SealedSecret>, Api<PartialObjectMeta<Secret>>) = match &namespace
    {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    // Smaller list pages keep the start-up memory peak down (one page is held while parsed).
    let mut wc = watcher::Config::default().page_size(100);
    if !shared.flags.label_selector.is_empty() {
        wc = wc.labels(&shared.flags.label_selector);
    }
    let (reader, writer) = reflector::store::<SealedSecret>();
    // New and changed objects do not wait for the initial list (see `early_changes`).
    let workers = usize::from(shared.flags.workers.max(1));
    let (early_tx, early_rx) = tokio::sync::mpsc::channel::<SealedSecret>(workers * 2);
    tokio::spawn(early_changes(
        shared.clone(),
        ctx.clone(),
        ss_api.clone(),
        reader.clone(),
        early_rx,
        sync.takeover.clone(),
        stop.clone(),
    ));
    let forget_ctx = ctx.clone();
    let old_gc = shared.flags.old_gc_behavior;
    let gc_client = client.clone();
    // The cache keeps only what a reconcile reads (no managedFields, no kubectl last-applied
    // copy, no foreign labels or annotations): the store clones every object it holds.
    let ss_stream = watcher(ss_api, wc).modify(sealed_secrets_core::reconcile::trim_for_cache);
    // Objects of the initial list whose status says they are synced at their generation are
    // re-verified apart (one GET and a MAC each, no RSA, a few at a time), so that new and
    // changed objects (and any that fail re-verification) reach the workers first.
    let (verify_tx, verify_rx) = tokio::sync::mpsc::unbounded_channel::<ObjectRef<SealedSecret>>();
    let (retry_tx, retry_rx) = tokio::sync::mpsc::unbounded_channel::<ObjectRef<SealedSecret>>();
    let ready_ctx = ctx.clone();
    let triggers = reflector::reflector(writer, ss_stream)
        .default_backoff()
        .inspect(watch_health(
            &shared,
            "SealedSecrets",
            "sealedsecrets.bitnami.com",
            &namespace,
        ))
        .inspect_ok(move |ev| match ev {
            watcher::Event::Delete(ss) => {
                forget_ctx.forget(ss);
                if old_gc {
                    tokio::spawn(delete_owned_secret(gc_client.clone(), ss.clone()));
                }
            }
            // Per-key counts come back from each object's status.keys on the initial list,
            // before (and without) any re-verification or decryption.
            watcher::Event::Apply(ss) | watcher::Event::InitApply(ss) => {
                if let Some(rec) = sealed_secrets_core::keyusage::recorded(ss) {
                    forget_ctx.metrics.seed_keys(
                        &ss.namespace().unwrap_or_default(),
                        &ss.name_any(),
                        rec,
                    );
                }
            }
            _ => {}
        })
        .filter(move |ev| {
            let pass = match ev {
                Ok(watcher::Event::InitApply(ss)) if is_steady(ss) => {
                    let _ = verify_tx.send(ObjectRef::from_obj(ss));
                    false
                }
                Ok(watcher::Event::InitApply(ss)) => {
                    // Also to the early path if it has room (the `Controller` has it anyway).
                    let _ = early_tx.try_send(ss.clone());
                    true
                }
                _ => true,
            };
            futures::future::ready(pass)
        })
        .touched_objects()
        .predicate_filter(predicates::generation, Default::default());

    // Readiness: this scope's cache is synced.
    {
        let reader = reader.clone();
        let ready = shared.ready.clone();
        let namespace = namespace.clone();
        let sync = sync.clone();
        tokio::spawn(async move {
            // A fresh future on each round: one future created before the first list can miss
            // its wake-up (seen with kube-runtime 5.0), so poll with a short timeout.
            let res = loop {
                let wait = reader.wait_until_ready();
                if let Ok(r) =
                    tokio::time::timeout(std::time::Duration::from_millis(200), wait).await
                {
                    break r;
                }
            };
            info!(namespace = %namespace.as_deref().unwrap_or("*"), "SealedSecret cache synced");
            if res.is_ok() {
                sync.synced.fetch_add(1, Ordering::AcqRel);
            }
            // Readiness follows the key watch and watch health (WatchHealth), not this cache:
            // followers never fill it.
            let _ = ready;
        });
    }
    // Pending gauge: objects in this scope's cache not yet reconciled successfully at their
    // current generation, summed over every scope.
    {
        let reader = reader.clone();
        let ctx = ctx.clone();
        let sync = sync.clone();
        let mut term = stop.clone();
        tokio::spawn(async move {
            loop {
                // Ends with the term (leadership lost), releasing its handle on the cache.
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    _ = term.wait_for(|s| *s) => break,
                }
                let mine = ctx.unsynced_count(&reader.state());
                if let Some(slot) = sync.pending.get(index) {
                    slot.store(mine, Ordering::Release);
                }
                let all: usize = sync.pending.iter().map(|p| p.load(Ordering::Acquire)).sum();
                ctx.metrics.pending.set(i64::try_from(all).unwrap_or(0));
            }
        });
    }

    // A key change retries everything that failed (synced objects are skipped cheaply).
    let key_changes = futures::stream::unfold(shared.keys.subscribe(), |mut rx| async move {
        rx.changed().await.ok().map(|_| ((), rx))
    });

    tokio::spawn(reverify_steady(
        ready_ctx,
        reader.clone(),
        verify_rx,
        retry_tx,
    ));
    let retries = futures::stream::unfold(retry_rx, |mut rx| async move {
        rx.recv().await.map(|r| (r, rx))
    });

    let mut controller = Controller::for_stream(triggers, reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(shared.flags.workers))
        .reconcile_all_on(key_changes)
        .reconcile_on(retries)
        .graceful_shutdown_on(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
    if !shared.flags.skip_recreate {
        // Secret metadata only (no data cached, no data on the wire); any change or deletion of
        // a Secret named like a SealedSecret triggers it: recreation and drift repair.
        let mapper_ctx = ctx.clone();
        // The initial list of Secrets says nothing new about objects without a sync record
        // (each is reconciled or re-verified from the SealedSecret side anyway); only a
        // relist can reveal a change to one we know.
        let init_ctx = ctx.clone();
        let secrets = watcher(secret_api, watcher::Config::default().page_size(100))
            .default_backoff()
            .inspect(watch_health(&shared, "Secrets", "secrets", &namespace))
            .filter(move |ev| {
                let pass = match ev {
                    Ok(watcher::Event::InitApply(meta)) => match meta.namespace() {
                        Some(ns) => init_ctx.has_record(
                            &ObjectRef::<SealedSecret>::new(&meta.name_any()).within(&ns),
                        ),
                        None => false,
                    },
                    _ => true,
                };
                futures::future::ready(pass)
            })
            .touched_objects();
        controller = controller.watches_stream(secrets, move |meta| {
            let ns = meta.namespace()?;
            let r = ObjectRef::<SealedSecret>::new(&meta.name_any()).within(&ns);
            if mapper_ctx.is_known_secret_version(&r, meta.metadata.resource_version.as_deref()) {
                return None;
            }
            Some(r)
        });
    }
    controller
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// Reports each event of the leader's watch of `kind` in `scope` to the readiness check
/// (see [`crate::health`]): an error names the `resource` whose permission may be missing.
fn watch_health<T>(
    shared: &Arc<Shared>,
    kind: &str,
    resource: &'static str,
    scope: &Option<String>,
) -> impl FnMut(&Result<T, watcher::Error>) + use<T> {
    let shared = shared.clone();
    let scope = scope.clone();
    let watch = format!("leader: {kind} in {}", scope.as_deref().unwrap_or("*"));
    move |ev| match ev {
        Ok(_) => shared.health.ok(&shared.ready, &watch),
        Err(e) => shared
            .health
            .failed(&shared.ready, &watch, resource, scope.as_deref(), e),
    }
}

/// Reconciles new and changed SealedSecrets while the initial list is still being read.
/// kube-runtime's `Controller` holds every reconcile until its store is complete (about three
/// seconds at 5,000 objects here), so without this a SealedSecret applied just before or
/// right after a restart or a change of leader would wait for the whole list.
///
/// Sources: objects of the initial list that are not steady, handed over page by page as
/// they arrive (`listed`, a small bounded channel: what does not fit is left to the
/// `Controller`); a watch from the current resourceVersion (one `limit=1` list gives it) for
/// what is created or changed while the list runs; and after a take-over, a watch from where
/// the previous leader stopped, for what was applied during the hand-over. Steady objects are left alone, and each
/// generation is tried once (a failure's own status write comes back as a modification and
/// must not start another attempt: the `Controller` owns retries), on the object as it is
/// when its turn comes (one GET: the take-over watch replays history). Stops taking objects as
/// soon as the store is ready or the term ends; from then on the `Controller` sees everything,
/// these objects included, which it then finds in sync without decrypting again.
pub(crate) async fn early_changes(
    shared: Arc<Shared>,
    ctx: Arc<Context>,
    api: Api<SealedSecret>,
    reader: reflector::Store<SealedSecret>,
    listed: tokio::sync::mpsc::Receiver<SealedSecret>,
    takeover: Option<String>,
    mut stop: watch::Receiver<bool>,
) {
    use kube::api::{ListParams, WatchEvent, WatchParams};
    let label_selector = &shared.flags.label_selector;
    let workers = usize::from(shared.flags.workers.max(1));
    let mut lp = ListParams::default().limit(1);
    let mut wp = WatchParams::default().timeout(290);
    if !label_selector.is_empty() {
        lp = lp.labels(label_selector);
        wp = wp.labels(label_selector);
    }
    // Reconciles already running when this fires finish (cancelling one half-way would leave
    // its metrics and writes half done).
    let done = async move {
        let ready = async {
            loop {
                let wait = reader.wait_until_ready();
                if tokio::time::timeout(std::time::Duration::from_millis(200), wait)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        };
        tokio::select! {
            () = ready => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    };
    let done = futures::future::FutureExt::shared(Box::pin(done));
    // From now on; and, after a take-over, also from where the previous leader stopped (a
    // watch the API server may refuse as too old, then only the list covers that gap).
    let from_now = {
        let (api, wp) = (api.clone(), wp.clone());
        futures::stream::once(async move {
            let list = api.list_metadata(&lp).await.ok()?;
            let rv = list.metadata.resource_version?;
            api.watch(&wp, &rv).await.ok()
        })
    };
    let from_takeover = futures::stream::once(async move {
        let rv = takeover?;
        api.watch(&wp, &rv).await.ok()
    });
    let watched = futures::stream::select(from_now, from_takeover)
        .filter_map(futures::future::ready)
        .flat_map_unordered(None, |events| events.boxed())
        .filter_map(|ev| {
            futures::future::ready(match ev {
                Ok(WatchEvent::Added(ss) | WatchEvent::Modified(ss)) => Some(ss),
                _ => None,
            })
        })
        .boxed();
    let listed = futures::stream::unfold(listed, |mut rx| async move {
        rx.recv().await.map(|ss| (ss, rx))
    })
    .boxed();
    // The list and the watches may bring one object's generations out of order: only a
    // higher generation than any seen before is taken.
    let mut seen: std::collections::HashMap<String, i64> = Default::default();
    futures::stream::select(listed, watched)
        .take_until(done.clone())
        .filter(move |ss| {
            let fresh = !is_steady(ss) && {
                let uid = ss.metadata.uid.clone().unwrap_or_default();
                let generation = ss.metadata.generation.unwrap_or(0);
                let newer = seen.get(&uid).is_none_or(|g| generation > *g);
                if newer {
                    seen.insert(uid, generation);
                }
                newer
            };
            futures::future::ready(fresh)
        })
        .for_each_concurrent(workers, |ss| {
            let ctx = ctx.clone();
            let done = done.clone();
            async move {
                let _held = ctx.lock(ObjectRef::from_obj(&ss)).await;
                // Once the store is ready the `Controller` reconciles from its fresh copy; an
                // early one that has not started by then would only be older.
                if futures::FutureExt::now_or_never(done).is_some() {
                    return;
                }
                // A watch from the take-over point replays history: act on the object as it is
                // now (one GET), and not at all if it is steady by now.
                let (Some(ns), Some(name)) = (ss.namespace(), ss.metadata.name.clone()) else {
                    return;
                };
                let api: Api<SealedSecret> = Api::namespaced(ctx.client.clone(), &ns);
                let Ok(Some(current)) = api.get_opt(&name).await else {
                    return;
                };
                if current.metadata.uid != ss.metadata.uid || is_steady(&current) {
                    return;
                }
                let _ = reconcile::reconcile_locked(Arc::new(current), ctx.clone()).await;
            }
        })
        .await;
}

/// True if the status says the object was synced successfully at its current generation and
/// records the keys its items need (objects synced before that record existed are decrypted
/// once more to get it).
pub(crate) fn is_steady(ss: &SealedSecret) -> bool {
    sealed_secrets_core::keyusage::is_current(ss)
}

/// Re-verifies steady objects of an initial list a few at a time (see
/// [`Context::reverify`]); those that fail go to the workers.
pub(crate) async fn reverify_steady(
    ctx: Arc<Context>,
    reader: reflector::Store<SealedSecret>,
    rx: tokio::sync::mpsc::UnboundedReceiver<ObjectRef<SealedSecret>>,
    retry: tokio::sync::mpsc::UnboundedSender<ObjectRef<SealedSecret>>,
) {
    // The store is published when the initial list is complete.
    loop {
        let wait = reader.wait_until_ready();
        if let Ok(r) = tokio::time::timeout(std::time::Duration::from_millis(200), wait).await {
            if r.is_err() {
                return;
            }
            break;
        }
    }
    let queue =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
    queue
        .for_each_concurrent(4, |r| {
            let ctx = ctx.clone();
            let reader = reader.clone();
            let retry = retry.clone();
            async move {
                let Some(ss) = reader.get(&r) else {
                    return; // deleted meanwhile
                };
                if !ctx.reverify(&ss).await {
                    let _ = retry.send(r);
                }
            }
        })
        .await;
}

/// `--old-gc-behavior`: delete the Secret controlled by a deleted SealedSecret.
pub(crate) async fn delete_owned_secret(client: Client, ss: SealedSecret) {
    let (Some(ns), Some(uid)) = (ss.namespace(), ss.metadata.uid.clone()) else {
        return;
    };
    let api: Api<Secret> = Api::namespaced(client, &ns);
    if let Ok(Some(s)) = api.get_metadata_opt(&ss.name_any()).await {
        let owned = sealed_secrets_core::reconcile::is_controlled_by(&s.metadata, &uid);
        if owned && let Err(e) = api.delete(&ss.name_any(), &DeleteParams::default()).await {
            warn!(namespace = %ns, name = %ss.name_any(), error = %e, "cannot delete Secret");
        }
    }
}
