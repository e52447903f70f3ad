//! Reconciling one SealedSecret: unseal, then create or update its Secret, then write status.
//! The decisions live in `sealed_secrets_core::reconcile`; this is the I/O around them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::events::{Kind as EventType, Note};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{GetParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use sealed_secrets_core::reconcile::next_status_with_keys;
use sealed_secrets_core::unseal::wipe_secret;
use sealed_secrets_core::{PrivateKey, SealedSecret, SealedSecretKeyUsage, UnsealOptions, unseal};
use sealed_secrets_core::{keyusage, syncmac};
use tracing::{debug, info, warn};

use crate::error::Error;
use crate::keys::KeyEntry;

mod context;
mod write;

pub use context::{Context, MinKey, ObjectLock, SyncRecord};
use context::{CpuPermit, instance_label};
pub use write::mac_matches;
use write::{Stamp, write_secret};

/// Outcome of the Secret step.
enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
    /// Read again before decrypting, the object was gone or replaced (another uid): nothing
    /// was written, and its own watch events follow.
    Gone,
}

/// The reconcile entry point for kube-runtime's `Controller`. One reconcile per object at a
/// time: the `Controller` guarantees that among its own, the lock extends it to the early
/// path of a new term (`sync::early_changes`).
pub async fn reconcile(ss: Arc<SealedSecret>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _held = ctx.lock(ObjectRef::from_obj(ss.as_ref())).await;
    reconcile_locked(ss, ctx.clone()).await
}

/// [`reconcile`] for a caller that already holds the object's [`Context::lock`].
pub async fn reconcile_locked(ss: Arc<SealedSecret>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    ctx.metrics.unseal_requests.inc();
    ctx.metrics.in_flight.inc();
    let result = apply(&ss, &ctx).await;
    ctx.metrics.in_flight.dec();
    if matches!(result, Err(Error::NotLeader(_))) || !ctx.fence.is_open() {
        // Leadership is gone: no Event, no status, no retry; the next leader takes over.
        return Ok(Action::await_change());
    }
    if matches!(result, Ok((Outcome::Gone, _))) {
        return Ok(Action::await_change());
    }
    let ns = ss.namespace().unwrap_or_default();
    let name = ss.name_any();
    let r = ObjectRef::from_obj(ss.as_ref());

    let outcome_label = match &result {
        Ok((Outcome::Skipped, _)) => "skipped",
        Ok(_) => "success",
        Err(_) => "error",
    };
    ctx.metrics
        .reconcile_duration
        .get_or_create(&crate::metrics::ResultLabels {
            result: outcome_label.into(),
        })
        .observe(started.elapsed().as_secs_f64());

    let status_outcome = match &result {
        Ok(_) => Ok(()),
        Err(e) => Err((e.category(), e.to_string())),
    };
    match &result {
        Ok((Outcome::Created | Outcome::Updated, _)) => {
            publish(
                &ctx,
                &ss,
                EventType::Normal,
                "Unsealed",
                "SealedSecret unsealed successfully",
            )
            .await;
            info!(namespace = %ns, name = %name, elapsed_ms = started.elapsed().as_millis() as u64, "unsealed");
        }
        Ok(_) => debug!(namespace = %ns, name = %name, "in sync"),
        Err(e) => {
            warn!(namespace = %ns, name = %name, category = e.category(), error = %e, "reconcile failed");
            ctx.metrics.error(e.category(), &ns);
            publish(
                &ctx,
                &ss,
                EventType::Warning,
                e.event_reason(),
                &e.event_message(),
            )
            .await;
        }
    }
    ctx.metrics
        .set_condition(&ns, &name, &instance_label(&ss), result.is_ok());

    if ctx.update_status {
        let keys = result.as_ref().ok().and_then(|(_, k)| k.clone());
        let status = next_status_with_keys(
            ss.status.as_ref(),
            ss.metadata.generation,
            status_outcome
                .as_ref()
                .map(|_| ())
                .map_err(|(c, m)| (*c, m.as_str())),
            Time(k8s_openapi::jiff::Timestamp::now()),
            keys,
        );
        if let Some(status) = status
            && ctx.fence.is_open()
        {
            let api: Api<SealedSecret> = Api::namespaced(ctx.client.clone(), &ns);
            let patch = serde_json::json!({ "status": status });
            if let Err(e) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                let err = Error::Status(e);
                warn!(namespace = %ns, name = %name, category = err.category(), error = %err, "status update failed");
                ctx.metrics.error(err.category(), &ns);
                if result.is_ok() {
                    return Err(err);
                }
            }
        }
    }

    match result {
        Ok(_) => {
            ctx.retries().remove(&r);
            Ok(Action::await_change())
        }
        Err(e) => Err(e),
    }
}

/// Backoff for failures: 1 s, 2 s, 4 s … up to `--max-unseal-retries` attempts, then wait for
/// a change (of the object, its Secret or the keys).
pub fn error_policy(ss: Arc<SealedSecret>, err: &Error, ctx: Arc<Context>) -> Action {
    if matches!(err, Error::Immutable) {
        return Action::await_change();
    }
    let r = ObjectRef::from_obj(ss.as_ref());
    let mut retries = ctx.retries();
    let n = retries.entry(r).or_insert(0);
    *n += 1;
    if *n > ctx.max_retries {
        return Action::await_change();
    }
    Action::requeue(Duration::from_secs(1u64 << (*n - 1).min(8)))
}

async fn publish(ctx: &Context, ss: &SealedSecret, type_: EventType, reason: &str, note: &str) {
    let ev = Note {
        kind: type_,
        reason,
        note,
        action: "Unseal",
    };
    if !ctx.fence.is_open() {
        return;
    }
    if let Err(e) = ctx.recorder.publish(&ev, &ss.object_ref(&())).await {
        warn!(reason, error = %e, "cannot publish event");
    }
}

/// The outcome, and the keys the items needed when they were decrypted.
type Applied = (Outcome, Option<Vec<SealedSecretKeyUsage>>);

async fn apply(ss: &SealedSecret, ctx: &Context) -> Result<Applied, Error> {
    let ns = ss
        .metadata
        .namespace
        .as_deref()
        .ok_or(Error::Invalid("no namespace"))?;
    let name = ss
        .metadata
        .name
        .as_deref()
        .ok_or(Error::Invalid("no name"))?;
    let uid = ss.metadata.uid.clone().ok_or(Error::Invalid("no uid"))?;
    let r = ObjectRef::from_obj(ss);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);

    // Read the Secret first when it probably exists (we synced it before, or the status says
    // it was synced at this generation); otherwise try to create it straight away and read it
    // only if that reports a conflict. A fresh start with N new SealedSecrets then costs one
    // request per Secret instead of two.
    let probe =
        ctx.synced().contains_key(&r) || ss.synced_condition().is_some_and(|c| c.status == "True");
    let mut existing = if probe {
        secrets.get_opt(name).await.map_err(Error::Fetch)?
    } else {
        None
    };
    let target = Target {
        ns,
        name,
        uid,
        r,
        secrets: &secrets,
    };
    let result = apply_with(ss, ctx, &target, existing.as_ref(), probe).await;
    if let Some(e) = existing.as_mut() {
        wipe_secret(e);
    }
    result
}

/// The object being reconciled and where its Secret lives.
struct Target<'a> {
    ns: &'a str,
    name: &'a str,
    uid: String,
    r: ObjectRef<SealedSecret>,
    secrets: &'a Api<Secret>,
}

async fn apply_with(
    ss: &SealedSecret,
    ctx: &Context,
    target: &Target<'_>,
    existing: Option<&Secret>,
    probed: bool,
) -> Result<Applied, Error> {
    let Target {
        ns,
        name,
        uid,
        r,
        secrets,
    } = target;
    let (ns, name, secrets) = (*ns, *name, *secrets);
    let current_rv = existing.and_then(|s| s.metadata.resource_version.clone());
    let record = SyncRecord {
        uid: uid.clone(),
        generation: ss.metadata.generation,
        secret_resource_version: current_rv.clone(),
    };
    if probed && existing.is_some() && ctx.synced().get(r) == Some(&record) {
        return Ok((Outcome::Skipped, None));
    }
    // A Secret that carries a valid MAC for this SealedSecret's current spec already holds
    // what unsealing would write: no RSA operation (restarts, new leaders).
    let digest = syncmac::spec_digest(ss);
    if let Some(e) = existing
        && ctx.may_skip_decrypting(ss)
        && mac_matches(&ctx.keys, e, &digest)
    {
        ctx.metrics.verified_without_decrypting.inc();
        ctx.synced().insert(r.clone(), record);
        return Ok((Outcome::Skipped, None));
    }

    // The cache holds no ciphertexts: read the object again, not older than the cached copy
    // (served from the API server's watch cache, no etcd read). A newer generation is
    // unsealed and recorded as such; its own event then finds it in sync.
    let fetched;
    let (ss, digest) = if ss.spec.is_trimmed() {
        let api: Api<SealedSecret> = Api::namespaced(ctx.client.clone(), ns);
        let at = ss
            .metadata
            .resource_version
            .as_deref()
            .map(GetParams::at)
            .unwrap_or_default();
        fetched = match api.get_with(name, &at).await {
            Ok(full) => Some(full),
            Err(kube::Error::Api(s)) if s.is_not_found() => None,
            Err(e) => return Err(Error::FetchSealed(e)),
        };
        match &fetched {
            Some(full) if full.metadata.uid.as_deref() == Some(uid.as_str()) => {
                (full, syncmac::spec_digest(full))
            }
            _ => return Ok((Outcome::Gone, None)),
        }
    } else {
        (ss, digest)
    };

    // Take the CPU permit before choosing the key order, so that the order reflects the
    // successes of the reconciles that ran while this one waited.
    let permit = CpuPermit::new(
        ctx.cpu.acquire().await.map_err(|_| Error::NoKeys)?,
        &ctx.metrics,
    );
    let mut entries = ctx.keys.trial_order();
    if entries.is_empty() {
        return Err(Error::NoKeys);
    }
    // The hint only changes which key is tried first; what opened each item is still
    // learnt by decrypting.
    keyusage::hint_first(keyusage::hint(ss), &mut entries, |e| e.key.fingerprint());
    let excluded: Vec<Arc<KeyEntry>> = match ctx.min_key {
        Some(m) if !m.warn_only => {
            let (usable, old): (Vec<_>, Vec<_>) =
                entries.into_iter().partition(|e| !ctx.below_minimum(e));
            entries = usable;
            old
        }
        _ => Vec::new(),
    };
    let keys: Vec<PrivateKey> = entries.iter().map(|e| e.key.clone()).collect();
    let owned = Arc::new(ss.clone());
    let opts = ctx.unseal_options;
    ctx.metrics.decryptions.inc();
    let unsealed = tokio::task::spawn_blocking(move || unseal(&owned, &keys, opts))
        .await
        .map_err(|_| Error::Invalid("unseal task failed"))?;
    let unsealed = match unsealed {
        Ok(u) => u,
        Err(e) => {
            let tried: Vec<&str> = entries.iter().map(|e| e.key.fingerprint()).collect();
            debug!(namespace = %ns, name = %name, keys = ?tried, "no key could unseal");
            if e.is_decrypt_only() && !excluded.is_empty() {
                return Err(below_minimum_error(ss, &entries, &excluded, opts)
                    .await
                    .unwrap_or(e.into()));
            }
            return Err(e.into());
        }
    };
    let mut unsealed_key = None;
    for &i in &unsealed.keys_used {
        if let Some(e) = entries.get(i) {
            e.uses.fetch_add(1, Ordering::Relaxed);
            unsealed_key.get_or_insert_with(|| Arc::clone(e));
        }
    }
    drop(permit);
    let needs = keyusage::record(&unsealed.item_keys, |i| {
        entries.get(i).map(|e| e.key.fingerprint().to_string())
    });
    ctx.metrics.record_keys(ns, name, &needs);
    if ctx.min_key.is_some_and(|m| m.warn_only) {
        let below = keyusage::below_minimum(&needs, |fp| {
            entries
                .iter()
                .any(|e| e.key.fingerprint() == fp && ctx.below_minimum(e))
        });
        if !below.is_empty() {
            let msg = below_minimum_message(&below);
            warn!(namespace = %ns, name = %name, category = "key-below-minimum", "{msg} (warn-only: unsealed anyway)");
            publish(
                ctx,
                ss,
                EventType::Warning,
                "KeyBelowMinimum",
                &format!("With --key-min-time enforced this would fail: {msg}"),
            )
            .await;
        }
    }

    let desired = unsealed.take_secret();
    let Some(stamp_with) = unsealed_key.or_else(|| entries.first().cloned()) else {
        return Err(Error::NoKeys);
    };
    let stamp = Stamp {
        fence: &ctx.fence,
        digest: &digest,
        key: &stamp_with,
        keys: &ctx.keys,
    };
    let (outcome, new_rv) =
        write_secret(secrets, name, existing, probed, desired, uid, &stamp).await?;
    let outcome = (outcome, Some(needs));
    ctx.synced().insert(
        r.clone(),
        SyncRecord {
            uid: uid.clone(),
            generation: ss.metadata.generation,
            secret_resource_version: new_rv,
        },
    );
    Ok(outcome)
}

/// `items … need keys older than the minimum …`, naming items and fingerprints only.
fn below_minimum_message(below: &[(String, String)]) -> String {
    let items: Vec<&str> = below.iter().map(|(i, _)| i.as_str()).collect();
    let mut fps: Vec<&str> = below.iter().map(|(_, f)| f.as_str()).collect();
    fps.sort_unstable();
    fps.dedup();
    format!(
        "items ({}) are sealed with keys older than --key-min-time ({}): this SealedSecret must be re-encrypted (kubeseal --re-encrypt)",
        items.join(", "),
        fps.join(", ")
    )
}

/// After unsealing failed with only the keys at or above `--key-min-time`: if every item
/// opens once the older keys are added (checked without rendering anything), the error that
/// says so. Costs RSA operations only for objects that fail.
async fn below_minimum_error(
    ss: &SealedSecret,
    usable: &[Arc<KeyEntry>],
    excluded: &[Arc<KeyEntry>],
    opts: UnsealOptions,
) -> Option<Error> {
    let all: Vec<Arc<KeyEntry>> = usable.iter().chain(excluded).cloned().collect();
    let keys: Vec<PrivateKey> = all.iter().map(|e| e.key.clone()).collect();
    let owned = Arc::new(ss.clone());
    let opened = tokio::task::spawn_blocking(move || {
        sealed_secrets_core::unseal::verify(&owned, &keys, opts)
    })
    .await
    .ok()?
    .ok()?;
    let names: Vec<String> = if ss.spec.data.is_some() {
        vec!["data".to_string()]
    } else {
        ss.spec.encrypted_data.keys().cloned().collect()
    };
    let item_keys: Vec<(String, usize)> = names.into_iter().zip(opened).collect();
    let needs = keyusage::record(&item_keys, |i| {
        all.get(i).map(|e| e.key.fingerprint().to_string())
    });
    let below = keyusage::below_minimum(&needs, |fp| {
        excluded.iter().any(|e| e.key.fingerprint() == fp)
    });
    (!below.is_empty()).then(|| Error::KeyBelowMinimum(below_minimum_message(&below)))
}

#[cfg(test)]
mod tests;
