//! `kubeseal edit FILE`: shows the decrypted items of a sealed file in `$EDITOR` (then
//! `$VISUAL`, then `vi`) and seals back only what changed.
//!
//! The plaintext comes from the live Secret (read with the user's own credentials) or, with
//! `--recovery-private-key`, from decrypting the file. It is written to a 0600 file inside a
//! private 0700 directory that is wiped (overwritten with zeros) and removed on every way out:
//! success, errors, the editor failing, and SIGINT/SIGTERM/SIGHUP while the editor runs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use sealed_secrets_core::splice::ItemChanges;
use sealed_secrets_core::{SealedSecret, codec};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::cert::{CertSource, parse_cert};
use crate::cli::EditArgs;
use crate::cluster::{Connection, runtime};
use crate::input::read_private_keys;
use crate::sealed_file::{SealedFile, check_item_name, seal_item};

/// Item plaintexts, wiped on drop.
type Items = BTreeMap<String, Zeroizing<Vec<u8>>>;

/// Runs `kubeseal edit`: the current items come from the Secret in the cluster, or offline
/// from `recovery_keys` (`--recovery-private-key` files) when given.
pub fn run(args: &EditArgs, source: &CertSource, recovery_keys: &[String]) -> Result<()> {
    let mut file = SealedFile::load(&args.file)?;
    let doc = file.select(args.name.as_deref())?;
    let ss = file.sealed(doc)?.clone();
    let current = if recovery_keys.is_empty() {
        live_items(&source.controller.conn, &ss)?
    } else {
        offline_items(recovery_keys, &ss)?
    };
    // Fetch the certificate before the user spends time in the editor.
    let cert = parse_cert(&source.open()?)?;

    let buffer = render_buffer(&ss, &current)?;
    let Some(edited) = edit_in_editor(&buffer)? else {
        eprintln!("edit cancelled: {:?} not changed", args.file);
        return Ok(());
    };
    if edited.as_bytes() == buffer.as_bytes() {
        eprintln!("no changes: {:?} not changed", args.file);
        return Ok(());
    }
    let Some(new) = parse_buffer(&edited)? else {
        eprintln!("edit cancelled (empty buffer): {:?} not changed", args.file);
        return Ok(());
    };
    let mut changes = ItemChanges::default();
    for key in current.keys() {
        if !new.contains_key(key) {
            changes.remove.insert(key.clone());
        }
    }
    for (key, plain) in &new {
        if current.get(key).map(|p| p.as_slice()) != Some(plain.as_slice()) {
            let ct = seal_item(&ss, cert.public_key(), key, plain)
                .map_err(|e| anyhow!("{:?}: {e:#}", args.file))?;
            changes.set.insert(key.clone(), ct);
        }
    }
    if changes.is_empty() {
        eprintln!("no changes: {:?} not changed", args.file);
        return Ok(());
    }
    file.apply(doc, &changes)?;
    file.write()?;
    eprintln!(
        "{:?}: {} item(s) sealed, {} removed",
        args.file,
        changes.set.len(),
        changes.remove.len()
    );
    Ok(())
}

/// The items' plaintexts from the Secret the controller made from this SealedSecret.
fn live_items(conn: &Connection, ss: &SealedSecret) -> Result<Items> {
    let name = ss
        .metadata
        .name
        .clone()
        .ok_or_else(|| anyhow!("the SealedSecret has no metadata.name"))?;
    let ns = ss
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| conn.namespace().0);
    let (secret, live_ss) = runtime()?.block_on(async {
        let client = conn.client().await?;
        let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), &ns);
        let secret = secrets.get(&name).await.map_err(|e| {
            anyhow!(
                "cannot read Secret {ns}/{name} (use --recovery-private-key to edit offline): {e}"
            )
        })?;
        let sealed: kube::Api<SealedSecret> = kube::Api::namespaced(client, &ns);
        let live_ss = sealed.get_opt(&name).await.ok().flatten();
        anyhow::Ok((secret, live_ss))
    })?;
    let mut data = secret.data.unwrap_or_default();
    let mut items = Items::new();
    for (key, value) in &ss.spec.encrypted_data {
        // The live Secret shows what the cluster's SealedSecret holds; if the file's item is
        // different, the Secret cannot show its value.
        if let Some(live) = &live_ss
            && live.spec.encrypted_data.get(key) != Some(value)
        {
            bail!(
                "item {key:?} in the file differs from SealedSecret {ns}/{name} in the cluster, so the live Secret does not show its value; apply the file first or use --recovery-private-key"
            );
        }
        let Some(v) = data.remove(key) else {
            bail!(
                "Secret {ns}/{name} has no item {key:?} (not applied yet?); use --recovery-private-key to edit offline"
            );
        };
        items.insert(key.clone(), Zeroizing::new(v.0));
    }
    for (_, mut v) in data {
        zeroize::Zeroize::zeroize(&mut v.0);
    }
    Ok(items)
}

/// The items' plaintexts decrypted with `--recovery-private-key`.
fn offline_items(recovery_keys: &[String], ss: &SealedSecret) -> Result<Items> {
    let keys = read_private_keys(recovery_keys)?;
    let label = sealed_secrets_core::unseal::label_for(ss);
    let mut errors = Vec::new();
    let mut items = Items::new();
    sealed_secrets_core::unseal::open_items(ss, &keys, &label, &mut errors, |item, plain, _| {
        items.insert(item.to_string(), plain);
    });
    if !errors.is_empty() {
        let names: Vec<&str> = errors.iter().map(|(n, _)| n.as_str()).collect();
        bail!("cannot decrypt item(s) {}", names.join(", "));
    }
    Ok(items)
}

const HEADER: &str = "\
# Items of SealedSecret {what}.
# Change, add or remove items; `stringData` holds text, `data` holds base64 (binary values).
# Save and quit to seal back only the items that changed; an empty file cancels.
";

/// Text values go under `stringData`, others (not UTF-8, control characters, or anything that
/// does not read back identically) under `data` as base64.
fn render_buffer(ss: &SealedSecret, items: &Items) -> Result<Zeroizing<String>> {
    let mut string_data = serde_json::Map::new();
    let mut data = serde_json::Map::new();
    for (key, value) in items {
        let text = std::str::from_utf8(value)
            .ok()
            .filter(|t| !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        match text {
            Some(t) => string_data.insert(key.clone(), Value::String(t.to_string())),
            None => data.insert(
                key.clone(),
                Value::String(STANDARD.encode(value.as_slice())),
            ),
        };
    }
    let what = format!(
        "{}/{}",
        ss.metadata.namespace.as_deref().unwrap_or_default(),
        ss.metadata.name.as_deref().unwrap_or_default()
    );
    let render = |string_data: &serde_json::Map<String, Value>,
                  data: &serde_json::Map<String, Value>|
     -> Result<Zeroizing<String>> {
        let body = Zeroizing::new(
            codec::to_yaml(&serde_json::json!({"stringData": string_data, "data": data}))
                .map_err(|e| anyhow!("cannot render the items: {e}"))?,
        );
        Ok(Zeroizing::new(format!(
            "{}{}",
            HEADER.replace("{what}", &what),
            body.as_str()
        )))
    };
    let mut out = render(&string_data, &data)?;
    // Any text value that would not read back byte for byte goes to `data` instead.
    if let Some(back) = parse_buffer(&out)? {
        let mut moved = false;
        for (key, value) in items {
            if back.get(key).map(|v| v.as_slice()) != Some(value.as_slice())
                && string_data.remove(key).is_some()
            {
                data.insert(
                    key.clone(),
                    Value::String(STANDARD.encode(value.as_slice())),
                );
                moved = true;
            }
        }
        if moved {
            out = render(&string_data, &data)?;
        }
    }
    wipe_map(string_data);
    Ok(out)
}

fn wipe_map(map: serde_json::Map<String, Value>) {
    for (_, v) in map {
        if let Value::String(mut s) = v {
            zeroize::Zeroize::zeroize(&mut s);
        }
    }
}

/// The items of an edited buffer; `None` if it holds nothing but comments.
fn parse_buffer(text: &str) -> Result<Option<Items>> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(None);
    }
    let value = codec::parse_single(text.as_bytes())
        .map_err(|e| anyhow!("the edited file is not valid YAML ({e}); nothing was written"))?;
    let Value::Object(top) = value else {
        bail!("the edited file is not a mapping; nothing was written");
    };
    let mut items = Items::new();
    for (section, body) in top {
        let base64 = match section.as_str() {
            "stringData" => false,
            "data" => true,
            _ => bail!(
                "unexpected key {section:?} in the edited file (only stringData and data); nothing was written"
            ),
        };
        let map = match body {
            Value::Null => continue,
            Value::Object(m) => m,
            _ => bail!("{section} is not a mapping; nothing was written"),
        };
        for (key, v) in map {
            check_item_name(&key)?;
            let text = match v {
                Value::String(s) => Zeroizing::new(s),
                Value::Number(n) => Zeroizing::new(n.to_string()),
                Value::Bool(b) => Zeroizing::new(b.to_string()),
                _ => bail!("item {key:?} is not a string; nothing was written"),
            };
            let bytes = if base64 {
                codec::decode_base64_like_go(text.as_bytes()).ok_or_else(|| {
                    anyhow!("data item {key:?} is not valid base64; nothing was written")
                })?
            } else {
                Zeroizing::new(text.as_bytes().to_vec())
            };
            if items.insert(key.clone(), bytes).is_some() {
                bail!("item {key:?} is in both stringData and data; nothing was written");
            }
        }
    }
    Ok(Some(items))
}

/// A private directory holding the plaintext buffer; wiped and removed on drop.
struct Scratch {
    dir: tempfile::TempDir,
    file: PathBuf,
}

impl Scratch {
    fn new(content: &[u8]) -> Result<Self> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = tempfile::Builder::new()
            .prefix("kubeseal-edit-")
            .tempdir()
            .context("cannot create a private temporary directory")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        let file = dir.path().join("secret.yaml");
        let scratch = Self { dir, file };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&scratch.file)
            .context("cannot create the temporary file")?;
        f.write_all(content)?;
        f.sync_all()?;
        Ok(scratch)
    }

    fn read(&self) -> Result<Zeroizing<String>> {
        let bytes =
            Zeroizing::new(std::fs::read(&self.file).context("cannot read the edited file")?);
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| anyhow!("the edited file is not UTF-8; nothing was written"))?;
        Ok(Zeroizing::new(text.to_string()))
    }
}

/// Overwrites every regular file under `dir` (editors leave swap and backup files) with zeros.
fn wipe_dir(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => wipe_dir(&path),
            Ok(t) if t.is_file() => {
                if let Ok(len) = entry.metadata().map(|m| m.len())
                    && let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path)
                {
                    let zeros = vec![0u8; 64 * 1024];
                    let mut left = len;
                    while left > 0 {
                        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(0);
                        if n == 0 || f.write_all(zeros.get(..n).unwrap_or_default()).is_err() {
                            break;
                        }
                        left -= n as u64;
                    }
                    let _ = f.sync_all();
                }
            }
            _ => {}
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        wipe_dir(self.dir.path());
        // TempDir's own drop removes the directory and everything in it.
    }
}

/// The editor command: `$EDITOR`, then `$VISUAL`, then `vi`, split on whitespace (so
/// `EDITOR="code --wait"` works).
fn editor_command() -> Vec<String> {
    ["EDITOR", "VISUAL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|w| !w.is_empty())
        .unwrap_or_else(|| vec!["vi".to_string()])
}

/// Runs the editor on a scratch copy of `buffer`; returns the edited text, or `None` when the
/// file was left empty. Signals that would end kubeseal end the editor instead, and the
/// scratch directory is wiped and removed on the way out.
fn edit_in_editor(buffer: &str) -> Result<Option<Zeroizing<String>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let scratch = Scratch::new(buffer.as_bytes())?;
    let argv = editor_command();
    let (program, args) = argv.split_first().ok_or_else(|| anyhow!("no editor"))?;
    runtime()?.block_on(async {
        // Registered before the editor starts: from here on these signals no longer kill
        // kubeseal before it has cleaned up.
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut child = std::process::Command::new(program)
            .args(args)
            .arg(&scratch.file)
            .spawn()
            .with_context(|| format!("cannot start the editor {program:?}"))?;
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    bail!("the editor {program:?} failed ({status}); nothing was written");
                }
                return Ok(());
            }
            let signalled = tokio::select! {
                _ = int.recv() => Some("SIGINT"),
                _ = term.recv() => Some("SIGTERM"),
                _ = hup.recv() => Some("SIGHUP"),
                _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => None,
            };
            if let Some(sig) = signalled {
                let _ = child.kill();
                let _ = child.wait();
                bail!("interrupted by {sig}; nothing was written");
            }
        }
    })?;
    let text = scratch.read()?;
    drop(scratch);
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ss() -> SealedSecret {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s", "namespace": "ns"}, "spec": {"encryptedData": {}}
        }))
        .unwrap()
    }

    #[test]
    fn buffer_round_trips_text_and_binary() {
        let mut items = Items::new();
        for (k, v) in [
            ("text", b"hello".to_vec()),
            ("multi", b"line 1\nline 2\n".to_vec()),
            ("spaces", b"  lead and trail  ".to_vec()),
            ("bin", vec![0, 159, 146, 150, 255]),
            ("num", b"0123".to_vec()),
            ("yes", b"yes".to_vec()),
            ("empty", Vec::new()),
        ] {
            items.insert(k.to_string(), Zeroizing::new(v));
        }
        let buf = render_buffer(&ss(), &items).unwrap();
        let back = parse_buffer(&buf).unwrap().unwrap();
        assert_eq!(back.len(), items.len());
        for (k, v) in &items {
            assert_eq!(back[k].as_slice(), v.as_slice(), "{k}\n{}", buf.as_str());
        }
        assert!(buf.contains("text: hello"), "{}", buf.as_str());
    }

    #[test]
    fn bad_buffers_are_refused_without_quoting_values() {
        assert!(parse_buffer("# only\n\n").unwrap().is_none());
        let e = parse_buffer("stringData:\n  a: hunter2\nother: 1\n").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
        let e = parse_buffer("stringData:\n  a: x\ndata:\n  a: eA==\n").unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        assert!(parse_buffer("data:\n  a: '!!!'\n").is_err());
    }
}
