//! `kubeseal --key-usage [--key FINGERPRINT]…`: for each key the controller has loaded, its
//! fingerprint and age, which SealedSecrets still need it (from their `status.keys`, listed
//! with the user's own permissions) and whether it is safe to retire. The decision is
//! `sealed_secrets_core::keyusage::report`; this is the I/O and the rendering.

use std::fmt::Write as _;
use std::time::SystemTime;

use anyhow::{Result, anyhow, bail};
use kube::Api;
use kube::api::ListParams;
use sealed_secrets_core::SealedSecret;
use sealed_secrets_core::codec::Format;
use sealed_secrets_core::keyusage::{KeyLine, Report, report};

use crate::cluster::{ControllerRef, runtime};

#[derive(Debug, Clone)]
pub struct Options {
    /// `--key`: the fingerprints to check.
    pub keys: Vec<String>,
    /// `-o`; without it, text.
    pub format: Option<Format>,
}

/// Runs the mode: writes the report to `out`; fails (non-zero exit) when a key named with
/// `--key` is unknown or not safe to retire.
pub fn run(opts: &Options, controller: &ControllerRef, out: &mut Vec<u8>) -> Result<()> {
    let conn = &controller.conn;
    let (namespace, explicit) = conn.namespace();
    let only = explicit.then_some(namespace);
    let rt = runtime()?;
    let (keys, objects) = rt.block_on(async {
        let ctl = controller.connect().await?;
        let keys = ctl.keys().await?;
        let client = conn.client().await?;
        let api: Api<SealedSecret> = match &only {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        };
        let where_ = only
            .as_deref()
            .map_or("in all namespaces".to_string(), |ns| format!("in namespace {ns}"));
        let list = api.list(&ListParams::default()).await.map_err(|e| {
            anyhow!(
                "cannot list SealedSecrets {where_} (the report needs every SealedSecret; use -n NAMESPACE for one namespace): {e}"
            )
        })?;
        Ok::<_, anyhow::Error>((keys, list.items))
    })?;
    let mut rep = report(&keys, &objects);
    for fp in &opts.keys {
        if !rep.keys.iter().any(|k| &k.key.fingerprint == fp) {
            bail!("key {fp} is not loaded by the controller");
        }
    }
    if !opts.keys.is_empty() {
        rep.keys.retain(|k| opts.keys.contains(&k.key.fingerprint));
    }
    match opts.format {
        Some(Format::Json) => {
            out.extend_from_slice(serde_json::to_string_pretty(&rep)?.as_bytes());
            out.push(b'\n');
        }
        Some(Format::Yaml) => {
            let value = serde_json::to_value(&rep)?;
            out.extend_from_slice(sealed_secrets_core::codec::to_yaml(&value)?.as_bytes());
        }
        None => {
            out.extend_from_slice(render_text(&rep, only.as_deref(), SystemTime::now()).as_bytes())
        }
    }
    let unsafe_named: Vec<&KeyLine> = rep.keys.iter().filter(|k| !k.safe_to_retire).collect();
    if let Some(first) = unsafe_named.first()
        && !opts.keys.is_empty()
    {
        // The report is printed first (stdout), then the error (stderr, exit code 1).
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out)?;
        stdout.flush()?;
        out.clear();
        bail!(
            "key {} is not safe to retire: {}",
            first.key.fingerprint,
            first.reason.as_deref().unwrap_or("needed")
        );
    }
    Ok(())
}

/// `3d4h`, `5h12m`, `42s`: like kubectl's ages.
fn age(since_unix: Option<i64>, now: SystemTime) -> String {
    let Some(since) = since_unix else {
        return "unknown".to_string();
    };
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let s = (now - since).max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{}s", s % 60)
    } else {
        format!("{s}s")
    }
}

/// The human-readable report.
pub fn render_text(rep: &Report, only: Option<&str>, now: SystemTime) -> String {
    let mut t = String::new();
    let scope = only.map_or("all namespaces".to_string(), |ns| {
        format!("namespace {ns} only")
    });
    let _ = writeln!(t, "Key usage ({scope}):");
    for k in &rep.keys {
        let mut tags = Vec::new();
        if k.key.sealing {
            tags.push("sealing key");
        }
        if k.key.below_minimum {
            tags.push("below --key-min-time");
        }
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", tags.join(", "))
        };
        let _ = writeln!(
            t,
            "\n{}  secret {}  age {}{tags}",
            k.key.fingerprint,
            k.key.secret,
            age(k.key.created_unix.or(k.key.not_before_unix), now)
        );
        match &k.reason {
            None => {
                let _ = writeln!(t, "  safe to retire: yes");
            }
            Some(r) => {
                let _ = writeln!(t, "  safe to retire: no ({r})");
            }
        }
        for n in &k.needed_by {
            let plural = if n.items == 1 { "" } else { "s" };
            let _ = writeln!(
                t,
                "  needed by {}/{} ({} item{plural})",
                n.namespace, n.name, n.items
            );
        }
    }
    if !rep.unknown.is_empty() {
        let _ = writeln!(
            t,
            "\nSealedSecrets whose key needs are not known (no status.keys, or not synced at their current generation):"
        );
        for u in &rep.unknown {
            let _ = writeln!(t, "  {u}");
        }
    }
    if !rep.missing.is_empty() {
        let _ = writeln!(t, "\nKeys needed but not loaded by the controller:");
        for (fp, who) in &rep.missing {
            let _ = writeln!(t, "  {fp}: {}", who.join(", "));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealed_secrets_core::keyusage::{ActiveKey, Needer};
    use std::time::Duration;

    #[test]
    fn ages() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(age(Some(1_000_000 - 42), now), "42s");
        assert_eq!(age(Some(1_000_000 - 3 * 86_400 - 4 * 3600), now), "3d4h");
        assert_eq!(age(None, now), "unknown");
    }

    #[test]
    fn text_names_needers_and_verdicts() {
        let rep = Report {
            keys: vec![KeyLine {
                key: ActiveKey {
                    fingerprint: "SHA256:a".into(),
                    secret: "k".into(),
                    created_unix: Some(0),
                    not_before_unix: None,
                    sealing: false,
                    below_minimum: true,
                },
                needed_by: vec![Needer {
                    namespace: "ns".into(),
                    name: "mixed".into(),
                    items: 1,
                }],
                safe_to_retire: false,
                reason: Some("needed by 1 SealedSecret(s)".into()),
            }],
            unknown: vec!["ns/new".into()],
            missing: Default::default(),
        };
        let t = render_text(&rep, Some("ns"), SystemTime::UNIX_EPOCH);
        assert!(t.contains("namespace ns only"), "{t}");
        assert!(
            t.contains("SHA256:a  secret k  age 0s (below --key-min-time)"),
            "{t}"
        );
        assert!(
            t.contains("safe to retire: no (needed by 1 SealedSecret(s))"),
            "{t}"
        );
        assert!(t.contains("needed by ns/mixed (1 item)"), "{t}");
        assert!(t.contains("  ns/new"), "{t}");
    }
}
