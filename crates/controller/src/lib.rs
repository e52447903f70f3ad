//! The Sealed Secrets controller: a thin adapter between the Kubernetes API and
//! `sealed_secrets_core`.

pub mod api;
pub mod config;
pub mod error;
pub mod events;
mod health;
pub mod keys;
pub mod leader;
mod lifecycle;
pub mod metrics;
pub mod ratelimit;
pub mod reconcile;
pub mod server;
mod sync;
pub mod telemetry;
pub use telemetry::init_logging;
pub mod webhook;

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context as _, Result, anyhow};
use kube::Client;
use sealed_secrets_core::UnsealOptions;
use tokio::sync::watch;
use tracing::{error, info};

use crate::api::{ApiState, RateLimiter, Readiness};
use crate::config::Flags;
use crate::health::WatchHealth;
use crate::keys::KeyRegistry;
use crate::leader::{Elector, Fence, LeaderConfig};
use crate::lifecycle::{ensure_key, renew_keys, wait_for_keys, watch_keys};
use crate::metrics::Metrics;
use crate::reconcile::Context;
use crate::sync::{ScopeSync, run_controller};

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
    let builder = kube::client::ClientBuilder::try_from(config)?.with_layer(
        &ratelimit::InflightLayer::new(ratelimit::MAX_INFLIGHT_REQUESTS),
    );
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
    recorder: Arc<events::Publisher>,
    /// Becomes true once the key Secrets have been listed.
    keys_synced: watch::Sender<bool>,
    /// Writes are allowed only while this is open (leader election's fencing).
    fence: Arc<Fence>,
    /// Which watches are failing (readiness).
    health: WatchHealth,
    /// Where the previous leader stopped (leader election), for the next term's early watch.
    takeover: leader::Takeover,
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
    let recorder = Arc::new(events::Publisher::new(
        client.clone(),
        "sealed-secrets",
        std::env::var("POD_NAME").ok(),
    ));
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
        takeover: leader::Takeover::default(),
    });

    // HTTP first, so liveness passes during a slow start; readiness follows the keys and caches.
    let unseal_options = UnsealOptions {
        accept_deprecated_v1_data: flags.accept_deprecated_v1_data,
        template_limits: flags.template.limits(),
    };
    let api_state = Arc::new(ApiState {
        keys: keys.clone(),
        metrics: metrics.clone(),
        ready: ready.clone(),
        limiter: RateLimiter::new(flags.rate_limit, flags.rate_limit_burst),
        unseal_options,
        inflight: api::Inflight::new(flags.max_inflight, flags.inflight_wait),
        min_key: min_key.map(|m| m.time),
    });
    let api_addr = config::socket_addr(&flags.listen_addr).map_err(|e| anyhow!(e))?;
    let metrics_addr = config::socket_addr(&flags.listen_metrics_addr).map_err(|e| anyhow!(e))?;
    let api = api::router(api_state, flags.write_timeout.max(flags.read_timeout));
    let metrics_app = api::metrics_router(metrics.clone(), keys.clone());
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
            inflight: api::Inflight::new(flags.max_inflight, flags.inflight_wait),
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
        let elector = Elector::new(client.clone(), cfg, fence.clone(), tx)
            .with_takeover(shared.takeover.clone());
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
            let takeover = shared
                .takeover
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            let sync = Arc::new(ScopeSync::new(scopes.len()).with_takeover(takeover));
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
