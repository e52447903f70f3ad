//! The Sealed Secrets controller: a thin adapter between the Kubernetes API and
//! `sealed_secrets_core`.

pub mod config;
pub mod error;
pub mod http;
pub mod keys;
pub mod leader;
pub mod metrics;
pub mod ratelimit;
pub mod reconcile;
pub mod server;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use anyhow::{Context as _, Result, anyhow};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, ResourceExt};
use sealed_secrets_core::{SealedSecret, UnsealOptions};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::Flags;
use crate::http::{ApiState, RateLimiter, Readiness};
use crate::keys::KeyRegistry;
use crate::leader::{Elector, Fence, LeaderConfig};
use crate::metrics::Metrics;
use crate::reconcile::Context;

/// The whole program: parse flags (and `SEALED_SECRETS_*`), log, run until a signal.
/// Returns the process exit code. Shared by the binary and the e2e test harness.
pub fn main_entry() -> i32 {
    main_entry_from(std::env::args_os())
}

/// [`main_entry`] with the given command line (first item: the program name).
pub fn main_entry_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let flags = Flags::parse_from(args);
    if flags.version {
        println!(
            "controller version: {}",
            sealed_secrets_core::build_version()
        );
        return 0;
    }
    init_logging(&flags);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .max_blocking_threads(cores.max(2))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(flags)) {
        Ok(()) => 0,
        Err(e) => {
            error!(error = %format!("{e:#}"), "controller failed");
            1
        }
    }
}

/// The controller's own namespace: `--namespace`, `POD_NAMESPACE`, the service account's
/// namespace file, then `default` (upstream's order).
pub fn own_namespace(flag: Option<&str>) -> String {
    if let Some(ns) = flag.filter(|n| !n.is_empty()) {
        return ns.to_string();
    }
    if let Ok(ns) = std::env::var("POD_NAMESPACE")
        && !ns.is_empty()
    {
        return ns;
    }
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

async fn client(flags: &Flags) -> Result<Client> {
    let config = match &flags.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read kubeconfig {path:?}"))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no in-cluster configuration and no kubeconfig")?,
    };
    let builder = kube::client::ClientBuilder::try_from(config)?;
    // `--kubeclient-qps`/`--kubeclient-burst`: one token bucket in front of every request.
    Ok(
        match ratelimit::RateLimitLayer::new(flags.kubeclient_qps, flags.kubeclient_burst) {
            Some(layer) => builder.with_layer(&layer).build(),
            None => builder.build(),
        },
    )
}

/// Everything shared between the tasks.
struct Shared {
    flags: Flags,
    client: Client,
    namespace: String,
    keys: Arc<KeyRegistry>,
    metrics: Arc<Metrics>,
    ready: Arc<Readiness>,
    recorder: Recorder,
    /// Becomes true once the key Secrets have been listed.
    keys_synced: watch::Sender<bool>,
    /// Writes are allowed only while this is open (leader election's fencing).
    fence: Arc<Fence>,
    /// Which watches are failing (readiness).
    health: WatchHealth,
}

/// The watches that currently fail. Readiness's `caches_synced` is true only when none does.
#[derive(Default)]
struct WatchHealth {
    failing: std::sync::Mutex<std::collections::BTreeSet<String>>,
    any: std::sync::atomic::AtomicBool,
}

impl WatchHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The watch `name` delivered an event.
    fn ok(&self, ready: &Readiness, name: &str) {
        if self.any.load(Ordering::Acquire) {
            let mut f = self.lock();
            if f.remove(name) {
                info!(watch = name, "watch works again");
            }
            self.any.store(!f.is_empty(), Ordering::Release);
        }
        if !self.any.load(Ordering::Acquire) {
            // (Readiness also needs `keys_loaded`, set once the key watch has synced.)
            ready.caches_synced.store(true, Ordering::Release);
        }
    }

    /// The watch `name` (of `resource` in `namespace`, or all namespaces) failed.
    fn failed(
        &self,
        ready: &Readiness,
        name: &str,
        resource: &str,
        namespace: Option<&str>,
        e: &watcher::Error,
    ) {
        let new = self.lock().insert(name.to_string());
        self.any.store(true, Ordering::Release);
        ready.caches_synced.store(false, Ordering::Release);
        let scope = namespace.map_or("all namespaces".to_string(), |n| format!("namespace {n}"));
        match missing_permission(e) {
            Some(perm) if new => error!(watch = name, error = %e,
                "{name} watch forbidden: the controller needs `{perm}` on {resource} in {scope}; not ready"),
            Some(_) => {}
            None => warn!(watch = name, error = %e, "watch failed; retrying"),
        }
    }

    /// Forgets the watches of a term that ended.
    fn forget_prefix(&self, ready: &Readiness, prefix: &str) {
        let mut f = self.lock();
        f.retain(|n| !n.starts_with(prefix));
        self.any.store(!f.is_empty(), Ordering::Release);
        if f.is_empty() {
            ready.caches_synced.store(true, Ordering::Release);
        }
    }
}

/// Runs the controller until SIGTERM/SIGINT.
pub async fn run(flags: Flags) -> Result<()> {
    flags.validate().map_err(|e| anyhow!(e))?;
    let cutoff = keys::parse_cutoff(&flags.key_cutoff_time).map_err(|e| anyhow!(e))?;
    let min_key = keys::parse_cutoff(&flags.key_min_time)
        .map_err(|e| anyhow!(e.replace("--key-cutoff-time", "--key-min-time")))?
        .map(|time| reconcile::MinKey {
            time,
            warn_only: flags.key_min_time_warn_only,
        });
    let client = client(&flags).await?;
    let namespace = own_namespace(flags.namespace.as_deref());
    let metrics = Arc::new(Metrics::new());
    let keys = Arc::new(
        KeyRegistry::new(flags.key_order_priority)
            .allowing_non_constant_time_keys(flags.allow_non_constant_time_keys),
    );
    let ready = Arc::new(Readiness::default());
    let fence = Arc::new(if flags.leader_elect {
        Fence::closed()
    } else {
        Fence::open()
    });
    let (leading_tx, leading_rx) = watch::channel(!flags.leader_elect);
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "sealed-secrets".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    info!(namespace = %namespace, version = %sealed_secrets_core::build_version(), "starting controller");
    let shared = Arc::new(Shared {
        flags: flags.clone(),
        client: client.clone(),
        namespace: namespace.clone(),
        keys: keys.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
        recorder: recorder.clone(),
        keys_synced: watch::channel(false).0,
        fence: fence.clone(),
        health: WatchHealth::default(),
    });

    // HTTP first, so liveness passes during a slow start; readiness follows the keys and caches.
    let unseal_options = UnsealOptions {
        accept_deprecated_v1_data: flags.accept_deprecated_v1_data,
        template_limits: flags.template_limits(),
    };
    let api_state = Arc::new(ApiState {
        keys: keys.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
        limiter: RateLimiter::new(flags.rate_limit, flags.rate_limit_burst),
        unseal_options,
        inflight: http::Inflight::new(flags.max_inflight, flags.inflight_wait),
        min_key: min_key.map(|m| m.time),
    });
    let api_addr = config::socket_addr(&flags.listen_addr).map_err(|e| anyhow!(e))?;
    let metrics_addr = config::socket_addr(&flags.listen_metrics_addr).map_err(|e| anyhow!(e))?;
    let api = http::api_router(api_state, flags.write_timeout.max(flags.read_timeout));
    let metrics_app = http::metrics_router(metrics.clone(), keys.clone());
    let api_listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .with_context(|| format!("cannot listen on {api_addr}"))?;
    let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .with_context(|| format!("cannot listen on {metrics_addr}"))?;
    info!(addr = %api_listener.local_addr()?, "HTTP API listening");
    info!(addr = %metrics_listener.local_addr()?, "metrics listening");
    let (stop_tx, stop_rx) = watch::channel(false);
    let serve_opts = server::ServeOptions::from_flags(&flags);
    let http_task = tokio::spawn(server::serve(
        api_listener,
        api,
        serve_opts,
        stop_rx.clone(),
    ));
    let metrics_task = tokio::spawn(server::serve(
        metrics_listener,
        metrics_app,
        serve_opts,
        stop_rx.clone(),
    ));

    // The admission webhook: every replica serves it (HTTPS) and keeps its certificate.
    let webhook_tasks = if flags.webhook_listen_addr.is_empty() {
        None
    } else {
        let addr = config::socket_addr(&flags.webhook_listen_addr).map_err(|e| anyhow!(e))?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (--webhook-listen-addr)"))?;
        info!(addr = %listener.local_addr()?, "admission webhook listening");
        let slot = Arc::new(webhook::CertSlot::default());
        let acceptor = webhook::acceptor(slot.clone())?;
        let state = Arc::new(webhook::WebhookState {
            keys: keys.clone(),
            unseal_options,
            cutoff,
            limiter: RateLimiter::new(flags.webhook_rate_limit, flags.webhook_rate_limit_burst),
            inflight: http::Inflight::new(flags.max_inflight, flags.inflight_wait),
        });
        let cfg = webhook::CertConfig {
            namespace: namespace.clone(),
            secret_name: flags.webhook_tls_secret.clone(),
            configuration_name: flags.webhook_configuration_name.clone(),
            hosts: webhook::hosts(&flags.webhook_service_name, &namespace),
        };
        Some((
            tokio::spawn(webhook::maintain(
                client.clone(),
                cfg,
                slot,
                stop_rx.clone(),
            )),
            tokio::spawn(server::serve_tls(
                listener,
                webhook::router(state),
                serve_opts,
                stop_rx.clone(),
                acceptor,
            )),
        ))
    };

    // SIGUSR1 (force a new key) must never kill a replica that does not lead right now.
    #[cfg(unix)]
    let _usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
    // Every replica watches the keys (and serves them); only the leader creates keys and
    // reconciles.
    let key_task = tokio::spawn(watch_keys(shared.clone()));
    // Without leader election the sender stays here, saying "leading" until the end.
    let mut leading_tx = Some(leading_tx);
    let elector_task = if flags.leader_elect
        && let Some(tx) = leading_tx.take()
    {
        let pod = std::env::var("POD_NAME").ok().filter(|p| !p.is_empty());
        let cfg = LeaderConfig {
            namespace: namespace.clone(),
            lease_name: flags.leader_elect_lease_name.clone(),
            identity: leader::identity(pod.as_deref()),
            pod_name: pod,
            lease_duration: flags.leader_elect_lease_duration,
            renew_deadline: flags.leader_elect_renew_deadline,
            retry_period: flags.leader_elect_retry_period,
        };
        info!(lease = %cfg.lease_name, identity = %cfg.identity, "leader election on");
        let elector = Elector::new(client.clone(), cfg, fence.clone(), tx);
        Some(tokio::spawn(elector.run(stop_rx.clone())))
    } else {
        None
    };

    let ctx = Arc::new(
        Context::new(
            client.clone(),
            keys.clone(),
            metrics.clone(),
            recorder,
            unseal_options,
            flags.update_status,
            flags.max_unseal_retries,
        )
        .with_fence(fence.clone())
        .with_min_key(min_key),
    );
    let supervisor = tokio::spawn(lead(
        shared.clone(),
        ctx,
        cutoff,
        leading_rx,
        stop_rx.clone(),
    ));

    shutdown_signal().await;
    info!("shutting down");
    // The elector closes the fence (no write after this point), releases the Lease and drops
    // leadership; the supervisor then stops the controllers.
    let _ = stop_tx.send(true);
    if let Some(t) = elector_task {
        let _ = t.await;
    }
    let _ = supervisor.await;
    drop(leading_tx);
    key_task.abort();
    let _ = http_task.await;
    let _ = metrics_task.await;
    if let Some((cert_task, serve_task)) = webhook_tasks {
        let _ = serve_task.await;
        let _ = cert_task.await;
    }
    Ok(())
}

/// Runs the leader's work (keys, then one controller per watched scope) during each term of
/// leadership; with leader election off, one term for the life of the process.
async fn lead(
    shared: Arc<Shared>,
    ctx: Arc<Context>,
    cutoff: Option<SystemTime>,
    mut leading: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) {
    wait_for_keys(&shared).await;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut stop_wait = stop.clone();
        tokio::select! {
            r = leading.wait_for(|l| *l) => if r.is_err() { return },
            _ = stop_wait.wait_for(|s| *s) => return,
        }
        shared.metrics.leader.set(1);
        let (term_tx, term_rx) = watch::channel(false);
        // Make sure a key exists (retrying while we lead), then reconcile.
        let mut stop_wait = stop.clone();
        let mut lost = leading.clone();
        let ready = tokio::select! {
            _ = async {
                while let Err(e) = ensure_key(&shared, cutoff).await {
                    error!(error = %format!("{e:#}"), category = "keys",
                        "cannot make sure a sealing key exists; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
            } => true,
            _ = lost.wait_for(|l| !*l) => false,
            _ = stop_wait.wait_for(|s| *s) => false,
        };
        let mut controllers = Vec::new();
        let mut renew_task = None;
        if ready {
            renew_task = Some(tokio::spawn(renew_keys(shared.clone())));
            let scopes: Vec<Option<String>> =
                match shared.flags.watched_namespaces(&shared.namespace) {
                    None => vec![None],
                    Some(list) => list.into_iter().map(Some).collect(),
                };
            let sync = Arc::new(ScopeSync::new(scopes.len()));
            for (index, scope) in scopes.into_iter().enumerate() {
                controllers.push(tokio::spawn(run_controller(
                    shared.clone(),
                    ctx.clone(),
                    scope,
                    sync.clone(),
                    index,
                    term_rx.clone(),
                )));
            }
            // The term ends when leadership is lost or the process stops.
            let mut stop_wait = stop.clone();
            tokio::select! {
                _ = leading.wait_for(|l| !*l) => {}
                _ = stop_wait.wait_for(|s| *s) => {}
            }
        }
        let _ = term_tx.send(true);
        if let Some(t) = renew_task {
            t.abort();
        }
        for c in controllers {
            let _ = c.await;
        }
        shared.health.forget_prefix(&shared.ready, "leader:");
        shared.metrics.pending.set(0);
        shared.metrics.forget_all_keys();
        shared.metrics.leader.set(0);
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// An event of one of the two key watches.
enum KeyWatch {
    Labelled(Result<watcher::Event<Secret>, watcher::Error>),
    Legacy(Result<watcher::Event<Secret>, watcher::Error>),
}

/// Keeps the registry equal to the active key Secrets plus the legacy pre-0.9 Secret named
/// exactly `<prefix>`: both are watched, so adding, changing or deleting either applies at once.
async fn watch_keys(shared: Arc<Shared>) {
    let api: Api<Secret> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let wc = watcher::Config::default().labels(&keys::active_selector());
    let (reader, writer) = reflector::store::<Secret>();
    let labelled = reflector::reflector(writer, watcher(api.clone(), wc))
        .default_backoff()
        .map(KeyWatch::Labelled);
    let legacy_wc =
        watcher::Config::default().fields(&format!("metadata.name={}", shared.flags.key_prefix));
    let (legacy_reader, legacy_writer) = reflector::store::<Secret>();
    let legacy = reflector::reflector(legacy_writer, watcher(api.clone(), legacy_wc))
        .default_backoff()
        .map(KeyWatch::Legacy);
    let stream = futures::stream::select(labelled, legacy);
    futures::pin_mut!(stream);
    let mut synced = false;
    let mut legacy_synced = false;
    let mut reported: BTreeMap<String, String> = BTreeMap::new();
    while let Some(ev) = stream.next().await {
        let labelled_ev = match ev {
            KeyWatch::Labelled(ev) => Some(ev),
            KeyWatch::Legacy(ev) => {
                match ev {
                    Ok(watcher::Event::InitDone) => legacy_synced = true,
                    Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                    Ok(_) => {}
                    Err(e) => {
                        // Not fatal (the labelled keys are loaded), but an operator must know:
                        // a forbidden or failing watch hides the legacy key.
                        warn!(secret = %shared.flags.key_prefix, category = "keys", error = %e,
                            "cannot watch the legacy key Secret");
                        if legacy_synced {
                            continue;
                        }
                        legacy_synced = true;
                    }
                }
                None
            }
        };
        if let Some(ev) = labelled_ev {
            match ev {
                Ok(watcher::Event::InitDone) => synced = true,
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                Ok(_) => {}
                Err(e) => {
                    // A replica that cannot see its keys cannot serve them: unready until the
                    // watch works again, with the missing permission named.
                    shared.health.failed(
                        &shared.ready,
                        "key Secrets",
                        "secrets",
                        Some(&shared.namespace),
                        &e,
                    );
                    continue;
                }
            }
            shared.health.ok(&shared.ready, "key Secrets");
        }
        if !synced || !legacy_synced {
            continue;
        }
        let mut secrets: Vec<Secret> = reader.state().iter().map(|s| (**s).clone()).collect();
        // The pre-0.9 single key, named exactly like the prefix, if it exists.
        for legacy in legacy_reader.state() {
            if !secrets
                .iter()
                .any(|s| s.metadata.uid == legacy.metadata.uid)
            {
                secrets.push((*legacy).clone());
            }
        }
        let errors = shared.keys.replace_from_secrets(&secrets);
        for s in secrets.iter_mut() {
            sealed_secrets_core::unseal::wipe_secret(s);
        }
        for e in errors {
            let msg = e.to_string();
            let name = e.secret_name().to_string();
            if reported.get(&name) != Some(&msg) {
                error!(secret = %name, category = "keys", error = %msg, "skipping invalid key Secret");
                shared.metrics.key_errors.inc();
                if let Some(s) = secrets
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some(name.as_str()))
                    && shared.fence.is_open()
                {
                    let ev = kube::runtime::events::Event {
                        type_: kube::runtime::events::EventType::Warning,
                        reason: "ErrKeyInvalid".into(),
                        note: Some(format!("Key Secret skipped: {msg}")),
                        action: "LoadKey".into(),
                        secondary: None,
                    };
                    let _ = shared
                        .recorder
                        .publish(&ev, &kube::Resource::object_ref(s, &()))
                        .await;
                }
                reported.insert(name, msg);
            }
        }
        let n = shared.keys.snapshot().len();
        shared
            .metrics
            .keys_loaded
            .set(i64::try_from(n).unwrap_or(0));
        info!(keys = n, "sealing keys loaded");
        shared.ready.keys_loaded.store(n > 0, Ordering::Release);
        shared.keys_synced.send_replace(true);
    }
}

/// The permission a watch error says is missing (`list`/`watch`), if it is a 403.
fn missing_permission(e: &watcher::Error) -> Option<&'static str> {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s)) if s.code == 403 => Some("list"),
        watcher::Error::WatchStartFailed(kube::Error::Api(s)) if s.code == 403 => Some("watch"),
        watcher::Error::WatchFailed(kube::Error::Api(s)) if s.code == 403 => Some("watch"),
        watcher::Error::WatchError(s) if s.code == 403 => Some("watch"),
        _ => None,
    }
}

/// Waits until the key Secrets have been listed once (retrying forever on API errors: a
/// controller that cannot see its keys must not generate a new one).
async fn wait_for_keys(shared: &Shared) {
    let mut rx = shared.keys_synced.subscribe();
    let _ = rx.wait_for(|s| *s).await;
}

/// The newest key by a fresh LIST of the key Secrets (never a cache, which may lag behind a
/// key that the previous leader created just before it lost the Lease): its ordering time
/// and its certificate's NotBefore. The listed keys are loaded, too.
async fn fresh_newest(shared: &Shared) -> Result<Option<(SystemTime, SystemTime)>> {
    let api: Api<Secret> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let lp = ListParams::default().labels(&keys::active_selector());
    let mut secrets = api
        .list(&lp)
        .await
        .context("cannot list the key Secrets")?
        .items;
    if let Ok(Some(legacy)) = api.get_opt(&shared.flags.key_prefix).await
        && !secrets
            .iter()
            .any(|s| s.metadata.uid == legacy.metadata.uid)
    {
        secrets.push(legacy);
    }
    let order = shared.flags.key_order_priority;
    let newest = secrets
        .iter()
        .filter_map(|s| keys::parse_key_secret(s).ok())
        .map(|e| (e.order_time(order), e.cert.not_before()))
        .max();
    let _ = shared.keys.replace_from_secrets(&secrets);
    for s in secrets.iter_mut() {
        sealed_secrets_core::unseal::wipe_secret(s);
    }
    Ok(newest)
}

/// Generates a key if there is none, or if the newest is older than the cutoff. Leader only.
async fn ensure_key(shared: &Shared, cutoff: Option<SystemTime>) -> Result<()> {
    let newest = fresh_newest(shared).await?;
    let needs = match (newest, cutoff) {
        (None, _) => true,
        (Some((_, not_before)), Some(c)) => not_before < c,
        _ => false,
    };
    if needs {
        generate_key(shared, newest.map(|n| n.0)).await?;
    }
    Ok(())
}

/// Generates and stores a key, unless another key newer than `based_on` (the newest key when
/// the decision was made) appeared meanwhile, or this process is no longer the leader.
async fn generate_key(shared: &Shared, based_on: Option<SystemTime>) -> Result<()> {
    let wait = keys::wait_for_next_second(based_on, SystemTime::now());
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    shared.fence.check().context("key not generated")?;
    let f = &shared.flags;
    let labels = config::parse_kv_list(&f.privatekey_labels).map_err(|e| anyhow!(e))?;
    let annotations = config::parse_kv_list(&f.privatekey_annotations).map_err(|e| anyhow!(e))?;
    let (ns, prefix, bits, cn, ttl) = (
        shared.namespace.clone(),
        f.key_prefix.clone(),
        f.key_size,
        f.my_cn.clone(),
        f.key_ttl,
    );
    let (mut secret, mut entry) = tokio::task::spawn_blocking(move || {
        keys::new_key_secret(&ns, &prefix, bits, &cn, ttl, &labels, &annotations)
    })
    .await??;
    // Generation takes seconds: check again that nobody added a key meanwhile (a previous
    // leader, or ourselves before a leadership change), and that we still lead.
    let now_newest = fresh_newest(shared).await?.map(|n| n.0);
    if now_newest != based_on {
        sealed_secrets_core::unseal::wipe_secret(&mut secret);
        info!(
            category = "keys",
            "a newer key appeared while generating one; not adding another"
        );
        return Ok(());
    }
    if let Err(e) = shared.fence.check() {
        sealed_secrets_core::unseal::wipe_secret(&mut secret);
        return Err(anyhow!(e)).context("key not stored");
    }
    let api: Api<Secret> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let created = api.create(&PostParams::default(), &secret).await;
    sealed_secrets_core::unseal::wipe_secret(&mut secret);
    let mut created = created.context("cannot create the key Secret")?;
    // The API server echoes the private key back.
    sealed_secrets_core::unseal::wipe_secret(&mut created);
    entry.secret_name = created.name_any();
    entry.resource_version = created.metadata.resource_version.clone();
    info!(secret = %entry.secret_name, fingerprint = %entry.key.fingerprint(), "new sealing key generated");
    // The certificate is public; print it like upstream so operators can grab it from logs.
    info!("certificate is:\n{}", entry.cert.to_pem());
    shared.keys.insert(entry);
    Ok(())
}

/// Adds a key every `--key-renew-period` after the newest key; SIGUSR1 forces one now.
/// Runs only while leading.
async fn renew_keys(shared: Arc<Shared>) {
    #[cfg(unix)]
    let mut usr1 =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
    loop {
        let period = shared.flags.key_renew_period;
        let newest = shared.keys.newest().map(|e| e.cert.not_before());
        let due = keys::next_renewal(newest, period, SystemTime::now());
        let sleep = due.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default());
        let mut changed = shared.keys.subscribe();
        let timer = async {
            match sleep {
                Some(s) => tokio::time::sleep(s).await,
                None => futures::future::pending::<()>().await,
            }
        };
        #[cfg(unix)]
        let force = async {
            match usr1.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => futures::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let force = futures::future::pending::<()>();
        tokio::select! {
            _ = timer => {
                // Decide again on fresh data: the key may have been renewed by a previous
                // leader a moment ago.
                let res = match fresh_newest(&shared).await {
                    Ok(n) => {
                        let due = keys::next_renewal(n.map(|n| n.1), period, SystemTime::now());
                        if due.is_some_and(|d| d <= SystemTime::now() + std::time::Duration::from_secs(1)) {
                            generate_key(&shared, n.map(|n| n.0)).await
                        } else {
                            Ok(())
                        }
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = res {
                    error!(error = %format!("{e:#}"), category = "keys", "key renewal failed; retrying in 1 minute");
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                }
            }
            _ = force => {
                info!("SIGUSR1: generating a new key");
                let res = match fresh_newest(&shared).await {
                    Ok(n) => generate_key(&shared, n.map(|n| n.0)).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = res {
                    error!(error = %format!("{e:#}"), category = "keys", "key generation failed");
                }
            }
            // A key added from outside moves the schedule.
            _ = changed.changed() => {}
        }
    }
}

/// What the per-scope controllers report to each other: how many caches are synced (for
/// readiness) and how many objects each scope has pending (the gauge is their sum).
struct ScopeSync {
    synced: std::sync::atomic::AtomicUsize,
    pending: Vec<std::sync::atomic::AtomicUsize>,
}

impl ScopeSync {
    fn new(scopes: usize) -> Self {
        Self {
            synced: std::sync::atomic::AtomicUsize::new(0),
            pending: (0..scopes)
                .map(|_| std::sync::atomic::AtomicUsize::new(0))
                .collect(),
        }
    }
}

async fn run_controller(
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
    let forget_ctx = ctx.clone();
    let old_gc = shared.flags.old_gc_behavior;
    let gc_client = client.clone();
    // managedFields and kubectl's last-applied copy are never read; dropping them before
    // caching saves a large share of the store's memory.
    let ss_stream = watcher(ss_api, wc).modify(|ss: &mut SealedSecret| {
        ss.metadata.managed_fields = None;
        if let Some(a) = ss.metadata.annotations.as_mut() {
            for k in sealed_secrets_core::annotations::LAST_APPLIED {
                a.remove(*k);
            }
        }
    });
    // Objects of the initial list whose status says they are synced at their generation are
    // re-verified apart (one GET and a MAC each, no RSA, a few at a time), so that new and
    // changed objects (and any that fail re-verification) reach the workers first.
    let (verify_tx, verify_rx) = tokio::sync::mpsc::unbounded_channel::<ObjectRef<SealedSecret>>();
    let (retry_tx, retry_rx) = tokio::sync::mpsc::unbounded_channel::<ObjectRef<SealedSecret>>();
    let ready_ctx = ctx.clone();
    let scope = namespace.clone();
    let ss_watch = format!(
        "leader: SealedSecrets in {}",
        scope.as_deref().unwrap_or("*")
    );
    let health_shared = shared.clone();
    let triggers = reflector::reflector(writer, ss_stream)
        .default_backoff()
        .inspect(move |ev| match ev {
            Ok(_) => health_shared.health.ok(&health_shared.ready, &ss_watch),
            Err(e) => health_shared.health.failed(
                &health_shared.ready,
                &ss_watch,
                "sealedsecrets.bitnami.com",
                scope.as_deref(),
                e,
            ),
        })
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
        let scope = namespace.clone();
        let secret_watch = format!("leader: Secrets in {}", scope.as_deref().unwrap_or("*"));
        let health_shared = shared.clone();
        let secrets = watcher(secret_api, watcher::Config::default().page_size(100))
            .default_backoff()
            .inspect(move |ev| match ev {
                Ok(_) => health_shared.health.ok(&health_shared.ready, &secret_watch),
                Err(e) => health_shared.health.failed(
                    &health_shared.ready,
                    &secret_watch,
                    "secrets",
                    scope.as_deref(),
                    e,
                ),
            })
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

/// True if the status says the object was synced successfully at its current generation and
/// records the keys its items need (objects synced before that record existed are decrypted
/// once more to get it).
fn is_steady(ss: &SealedSecret) -> bool {
    sealed_secrets_core::keyusage::is_current(ss)
}

/// Re-verifies steady objects of an initial list a few at a time (see
/// [`Context::reverify`]); those that fail go to the workers.
async fn reverify_steady(
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
async fn delete_owned_secret(client: Client, ss: SealedSecret) {
    let (Some(ns), Some(uid)) = (ss.namespace(), ss.metadata.uid.clone()) else {
        return;
    };
    let api: Api<Secret> = Api::namespaced(client, &ns);
    if let Ok(Some(s)) = api.get_metadata_opt(&ss.name_any()).await {
        let owned = s.metadata.owner_references.as_ref().is_some_and(|refs| {
            refs.iter()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        });
        if owned && let Err(e) = api.delete(&ss.name_any(), &DeleteParams::default()).await {
            warn!(namespace = %ns, name = %ss.name_any(), error = %e, "cannot delete Secret");
        }
    }
}

/// Logging as upstream's flags say: level, text or JSON, INFO to stdout and WARN+ to stderr.
pub fn init_logging(flags: &Flags) {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let level = match flags.log_level.to_ascii_uppercase().as_str() {
        "DEBUG" => tracing::Level::DEBUG,
        "WARN" | "WARNING" => tracing::Level::WARN,
        "ERROR" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{},kube=warn,hyper=warn,tower=warn",
            level.as_str().to_lowercase()
        ))
    });
    let errors = std::io::stderr.with_max_level(tracing::Level::WARN);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let res = if flags.log_info_stdout {
        let writer = errors.or_else(std::io::stdout);
        if flags.log_format == "json" {
            builder.json().with_writer(writer).try_init()
        } else {
            builder.with_writer(writer).try_init()
        }
    } else if flags.log_format == "json" {
        builder.json().with_writer(std::io::stderr).try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
    if res.is_err() {
        eprintln!("logging already initialised");
    }
}
