//! Key lifecycle: watch the key Secrets into the registry, make sure a key exists, generate
//! and renew keys (only the leader writes).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use anyhow::{Context as _, Result, anyhow};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use tracing::{error, info, warn};

use crate::{Shared, config, events, keys};

/// An event of one of the two key watches.
pub(crate) enum KeyWatch {
    Labelled(Result<watcher::Event<Secret>, watcher::Error>),
    Legacy(Result<watcher::Event<Secret>, watcher::Error>),
}

/// Keeps the registry equal to the active key Secrets plus the legacy pre-0.9 Secret named
/// exactly `<prefix>`: both are watched, so adding, changing or deleting either applies at once.
pub(crate) async fn watch_keys(shared: Arc<Shared>) {
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
                    let note = format!("Key Secret skipped: {msg}");
                    let ev = events::Note {
                        kind: events::Kind::Warning,
                        reason: "ErrKeyInvalid",
                        note: &note,
                        action: "LoadKey",
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

/// Waits until the key Secrets have been listed once (retrying forever on API errors: a
/// controller that cannot see its keys must not generate a new one).
pub(crate) async fn wait_for_keys(shared: &Shared) {
    let mut rx = shared.keys_synced.subscribe();
    let _ = rx.wait_for(|s| *s).await;
}

/// The newest key by a fresh LIST of the key Secrets (never a cache, which may lag behind a
/// key that the previous leader created just before it lost the Lease): its ordering time
/// and its certificate's NotBefore. The listed keys are loaded, too.
pub(crate) async fn fresh_newest(shared: &Shared) -> Result<Option<(SystemTime, SystemTime)>> {
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
pub(crate) async fn ensure_key(shared: &Shared, cutoff: Option<SystemTime>) -> Result<()> {
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
pub(crate) async fn generate_key(shared: &Shared, based_on: Option<SystemTime>) -> Result<()> {
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
pub(crate) async fn renew_keys(shared: Arc<Shared>) {
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
