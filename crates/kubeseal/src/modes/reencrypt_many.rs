//! `kubeseal --re-encrypt -R DIR` / `-f A -f B …`: re-encrypts every sealed file in place,
//! through the controller (`/v1/rotate`: plaintext never leaves the cluster) or offline with
//! `--recovery-private-key` and `--cert`.
//!
//! Offline, items that the certificate's own private key already opens are left as they are
//! (so a file already sealed with the current key is skipped and not rewritten); online the
//! controller does not say which key sealed an item, so every item is re-encrypted. Only the
//! ciphertexts change in each file (`sealed_secrets_core::splice`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt as _;
use sealed_secrets_core::splice::ItemChanges;
use sealed_secrets_core::{PrivateKey, PublicKey, SealedSecret, hybrid_decrypt_any};

use crate::cert::CertSource;
use crate::cluster::{Controller, runtime};
use crate::input::read_private_keys;
use crate::sealed_file::{SealedFile, seal_item};

/// Concurrent requests to the controller.
const ONLINE_CONCURRENCY: usize = 8;
/// Tries per request when the proxy fails in transit or the controller's rate limit answers.
const ROTATE_ATTEMPTS: u64 = 5;

/// A proxy or connection failure (5xx from the API server, or no answer) or the controller's
/// rate limit (429), not a final answer from the controller.
fn is_transient(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<kube::Error>() {
        Some(kube::Error::Api(status)) => status.code >= 500 || status.code == 429,
        Some(_) => true,
        None => false,
    }
}

#[derive(Debug)]
enum Outcome {
    Changed,
    Skipped(&'static str),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Every `-f`.
    pub files: Vec<String>,
    /// Every `-R`.
    pub dirs: Vec<String>,
    /// `--recovery-private-key` files: offline when given.
    pub recovery_keys: Vec<String>,
}

pub fn run(opts: &Options, source: &CertSource) -> Result<()> {
    let mut files: Vec<PathBuf> = opts.files.iter().map(PathBuf::from).collect();
    for dir in &opts.dirs {
        walk(Path::new(dir), &mut files).with_context(|| format!("cannot list {dir:?}"))?;
    }
    files.dedup();
    if files.is_empty() {
        bail!("no files to re-encrypt");
    }
    let outcomes = if opts.recovery_keys.is_empty() {
        online(source, &files)?
    } else {
        offline(source, &opts.recovery_keys, &files)?
    };
    let (mut changed, mut skipped, mut failed) = (0, 0, 0);
    for (path, outcome) in files.iter().zip(&outcomes) {
        match outcome {
            Outcome::Changed => {
                changed += 1;
                eprintln!("re-encrypted: {}", path.display());
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                eprintln!("skipped: {} ({why})", path.display());
            }
            Outcome::Failed(e) => {
                failed += 1;
                eprintln!("failed: {}: {e}", path.display());
            }
        }
    }
    eprintln!(
        "{} file(s): {changed} re-encrypted, {skipped} skipped, {failed} failed",
        files.len()
    );
    if failed > 0 {
        bail!(
            "{failed} of {} file(s) could not be re-encrypted",
            files.len()
        );
    }
    Ok(())
}

/// Every `*.yaml`, `*.yml` and `*.json` under `dir`, sorted; hidden entries (`.git`) skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&path, out)?;
        } else if t.is_file()
            && matches!(
                path.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "json")
            )
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads a file, or says why it is not one to re-encrypt.
fn load(path: &Path) -> Result<SealedFile, Outcome> {
    let p = path.to_string_lossy();
    let text =
        std::fs::read_to_string(path).map_err(|e| Outcome::Failed(format!("cannot read: {e}")))?;
    if !text.contains("SealedSecret") {
        return Err(Outcome::Skipped("no SealedSecret"));
    }
    let file = SealedFile::parse(&p, text).map_err(|e| Outcome::Failed(format!("{e:#}")))?;
    if file.docs.iter().all(|d| d.sealed.is_none()) {
        return Err(Outcome::Skipped("no SealedSecret"));
    }
    if file
        .docs
        .iter()
        .filter_map(|d| d.sealed.as_ref())
        .any(|ss| ss.spec.data.is_some())
    {
        return Err(Outcome::Failed(
            "legacy spec.data is not supported here; re-encrypt this file on its own".into(),
        ));
    }
    Ok(file)
}

/// The SealedSecrets of a file, with the index of their document.
fn sealed_docs(file: &SealedFile) -> impl Iterator<Item = (usize, &SealedSecret)> {
    file.docs
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.sealed.as_ref().map(|ss| (i, ss)))
}

/// The file fails at `ss`.
fn failed_at(ss: &SealedSecret, e: &anyhow::Error) -> Outcome {
    let name = ss.metadata.name.as_deref().unwrap_or("<unnamed>");
    Outcome::Failed(format!("{name}: {e:#}"))
}

fn finish(mut file: SealedFile, changes: Vec<(usize, ItemChanges)>) -> Outcome {
    if changes.iter().all(|(_, c)| c.is_empty()) {
        return Outcome::Skipped("already sealed with the current key");
    }
    for (doc, c) in &changes {
        if let Err(e) = file.apply(*doc, c) {
            return Outcome::Failed(format!("{e:#}"));
        }
    }
    match file.write() {
        Ok(()) => Outcome::Changed,
        Err(e) => Outcome::Failed(format!("{e:#}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Offline
// ---------------------------------------------------------------------------------------------

fn offline(
    source: &CertSource,
    recovery_keys: &[String],
    files: &[PathBuf],
) -> Result<Vec<Outcome>> {
    let cert = source.offline()?;
    let keys = read_private_keys(recovery_keys)?;
    // The current key's own private key, if given, tells which items need nothing.
    let current: Vec<PrivateKey> = keys.iter().filter(|k| cert.matches(k)).cloned().collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Outcome>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let outcome = offline_file(path, &keys, &current, cert.public_key());
                    if let Some(slot) = results.get(i)
                        && let Ok(mut g) = slot.lock()
                    {
                        *g = Some(outcome);
                    }
                }
            });
        }
    });
    Ok(results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Outcome::Failed("internal error".into()))
        })
        .collect())
}

fn offline_file(
    path: &Path,
    keys: &[PrivateKey],
    current: &[PrivateKey],
    new_key: &PublicKey,
) -> Outcome {
    let file = match load(path) {
        Ok(f) => f,
        Err(o) => return o,
    };
    // The first SealedSecret that fails fails the file.
    let changes: Result<Vec<_>, Outcome> = sealed_docs(&file)
        .map(|(i, ss)| {
            offline_changes(ss, keys, current, new_key)
                .map(|c| (i, c))
                .map_err(|e| failed_at(ss, &e))
        })
        .collect();
    match changes {
        Ok(changes) => finish(file, changes),
        Err(o) => o,
    }
}

fn offline_changes(
    ss: &SealedSecret,
    keys: &[PrivateKey],
    current: &[PrivateKey],
    new_key: &PublicKey,
) -> Result<ItemChanges> {
    let label = sealed_secrets_core::unseal::label_for(ss);
    let mut changes = ItemChanges::default();
    let mut failed = Vec::new();
    for (item, value) in &ss.spec.encrypted_data {
        let Some(raw) = sealed_secrets_core::codec::decode_base64_like_go(value.as_bytes()) else {
            failed.push(item.as_str());
            continue;
        };
        if !current.is_empty() && hybrid_decrypt_any(current.iter(), &label, &raw).is_ok() {
            continue;
        }
        match hybrid_decrypt_any(keys.iter(), &label, &raw) {
            Ok((plain, _)) => {
                changes
                    .set
                    .insert(item.clone(), seal_item(ss, new_key, item, &plain)?);
            }
            Err(_) => failed.push(item.as_str()),
        }
    }
    if !failed.is_empty() {
        bail!("no key could decrypt item(s) {}", failed.join(", "));
    }
    Ok(changes)
}

// ---------------------------------------------------------------------------------------------
// Online
// ---------------------------------------------------------------------------------------------

fn online(source: &CertSource, files: &[PathBuf]) -> Result<Vec<Outcome>> {
    runtime()?.block_on(async {
        let ctl = Arc::new(source.controller.connect().await?);
        let outcomes: Vec<Outcome> = futures::stream::iter(files.iter())
            .map(|path| {
                let ctl = Arc::clone(&ctl);
                async move { online_file(&ctl, path).await }
            })
            .buffered(ONLINE_CONCURRENCY)
            .collect()
            .await;
        anyhow::Ok(outcomes)
    })
}

async fn online_file(ctl: &Controller, path: &Path) -> Outcome {
    let file = match load(path) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let mut all = Vec::new();
    for (i, ss) in sealed_docs(&file) {
        match rotate(ctl, ss).await {
            Ok(c) => all.push((i, c)),
            Err(e) => return failed_at(ss, &e),
        }
    }
    finish(file, all)
}

async fn rotate(ctl: &Controller, ss: &SealedSecret) -> Result<ItemChanges> {
    let body = serde_json::to_vec(ss)?;
    // The API server's proxy sometimes fails a request on a connection the controller has
    // just closed ("server closed idle connection"), and the controller rate-limits /v1/rotate
    // per client (2/s by default); the endpoint has no side effects, so such failures are
    // retried with a growing pause.
    let mut attempt = 0;
    let answer = loop {
        attempt += 1;
        match ctl.rotate(body.clone()).await {
            Err(e) if attempt < ROTATE_ATTEMPTS && is_transient(&e) => {
                tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
            }
            other => break other,
        }
    };
    let text = answer
        .map_err(|e| anyhow!("cannot re-encrypt: {e}"))?
        .ok_or_else(|| anyhow!("the controller cannot decrypt it"))?;
    let new: SealedSecret =
        serde_json::from_str(&text).context("the controller returned an invalid SealedSecret")?;
    let mut changes = ItemChanges::default();
    for item in ss.spec.encrypted_data.keys() {
        let value = new
            .spec
            .encrypted_data
            .get(item)
            .ok_or_else(|| anyhow!("the controller's answer lacks item {item:?}"))?;
        // Never trust the answer blindly: it must be base64.
        if STANDARD.decode(value).is_err() {
            bail!("the controller's answer for item {item:?} is not base64");
        }
        changes.set.insert(item.clone(), value.clone());
    }
    Ok(changes)
}
