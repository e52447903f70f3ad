//! Which keys each SealedSecret needs (issue 14): exact per-key counts of SealedSecrets and
//! items, `status.keys`, counts that survive a restart without decrypting, the
//! `kubeseal --key-usage` retirement report, the `--key-min-time` cutoff (warn-only reports
//! exactly what enforcing fails), and the legacy `sealed-secrets-key` Secret picked up at run
//! time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

use e2e::netns::ProxiedController;
use e2e::sealed_secrets_core::keys::self_signed_certificate;
use e2e::sealed_secrets_core::{
    Backend, Certificate, PrivateKey, SealedSecret, SealedSecretKeyUsage, SealedSecretSpec,
};
use e2e::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::json;

/// A 2048-bit key whose certificate's NotBefore is `age` ago.
fn key_aged(age: Duration) -> (PrivateKey, Certificate) {
    let key = PrivateKey::generate(2048, Backend::AwsLc).unwrap();
    let cert = self_signed_certificate(
        &key,
        None,
        Duration::from_secs(86_400),
        SystemTime::now() - age,
    )
    .unwrap();
    (key, cert)
}

/// The spec of `ns/name` with each item sealed by the certificate given for it.
fn spec_of(ns: &str, name: &str, items: &[(&str, &Certificate)]) -> SealedSecretSpec {
    let mut spec: Option<SealedSecretSpec> = None;
    for (item, cert) in items {
        let mut data = serde_json::Map::new();
        data.insert(item.to_string(), json!(format!("{name}-{item}-value")));
        let one = seal_json(
            cert,
            json!({"metadata": {"name": name, "namespace": ns}, "stringData": data}),
        );
        match spec.as_mut() {
            None => spec = Some(one.spec),
            Some(s) => s.encrypted_data.extend(one.spec.encrypted_data),
        }
    }
    spec.unwrap()
}

async fn get_ss(client: &kube::Client, ns: &str, name: &str) -> SealedSecret {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    api.get(name).await.unwrap()
}

fn usage(fp: &str, items: &[&str]) -> SealedSecretKeyUsage {
    SealedSecretKeyUsage {
        fingerprint: fp.into(),
        items: items.iter().map(|s| s.to_string()).collect(),
    }
}

/// Waits until `status.keys` of `ns/name` is `want` (order-independent across keys).
async fn wait_status_keys(
    client: &kube::Client,
    ns: &str,
    name: &str,
    want: &[SealedSecretKeyUsage],
) {
    let mut want = want.to_vec();
    want.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    let want = &want;
    wait_until(
        Duration::from_secs(60),
        &format!("status.keys of {ns}/{name} = {want:?}"),
        || async move {
            let ss = get_ss(client, ns, name).await;
            let got = ss.status.as_ref()?.keys.clone()?;
            (&got == want).then_some(())
        },
    )
    .await;
}

fn count_line(metric: &str, fp: &str, secret: &str) -> String {
    format!("sealed_secrets_controller_{metric}{{fingerprint=\"{fp}\",secret=\"{secret}\"}} ")
}

/// Waits until the four per-key gauges have the given values.
async fn wait_counts(ctl: &Controller, a: (&str, &str, f64, f64), b: (&str, &str, f64, f64)) {
    for (fp, secret, objects, items) in [a, b] {
        wait_metric_eq(ctl, &count_line("key_sealedsecrets", fp, secret), objects).await;
        wait_metric_eq(
            ctl,
            &count_line("key_sealedsecret_items", fp, secret),
            items,
        )
        .await;
    }
}

fn run_kubeseal(args: &[&str]) -> Output {
    kubeseal()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// `kubeseal --key-usage -o json` for one key: (exit ok, names needing it, safe to retire).
fn report_for(ns: &str, fp: &str) -> (bool, Vec<String>, bool, String) {
    let kc = kubeconfig().display().to_string();
    let out = run_kubeseal(&[
        "--kubeconfig",
        &kc,
        "--controller-namespace",
        ns,
        "-n",
        ns,
        "--key-usage",
        "--key",
        fp,
        "-o",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {stderr}"));
    let line = &rep["keys"][0];
    assert_eq!(line["fingerprint"], fp, "{rep}");
    let names = line["neededBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{}/{}",
                n["namespace"].as_str().unwrap(),
                n["name"].as_str().unwrap()
            )
        })
        .collect();
    (
        out.status.success(),
        names,
        line["safeToRetire"].as_bool().unwrap(),
        stderr,
    )
}

#[tokio::test]
async fn per_key_counts_status_restart_and_retirement_report() {
    let client = client().await;
    let tns = TestNs::new(&client, "keyuse").await;
    let ns = tns.name.as_str();
    // A is older: B is the sealing key.
    let (ka, ca) = key_aged(Duration::from_secs(3600));
    let (kb, cb) = key_aged(Duration::ZERO);
    let (fa, fb) = (ka.fingerprint().to_string(), kb.fingerprint().to_string());
    create_secret(&client, ns, &key_secret("key-a", &ka, &ca, false)).await;
    create_secret(&client, ns, &key_secret("key-b", &kb, &cb, false)).await;
    let mut ctl = Controller::start(ns, &[], &[]);
    ctl.wait_ready().await;

    let objects = [
        ("a-only", spec_of(ns, "a-only", &[("p", &ca), ("q", &ca)])),
        (
            "mixed",
            spec_of(ns, "mixed", &[("x", &ca), ("y", &cb), ("z", &cb)]),
        ),
        ("b-only", spec_of(ns, "b-only", &[("u", &cb), ("v", &cb)])),
    ];
    for (name, spec) in &objects {
        create_ss(&client, ns, &ss_with_spec(name, spec, &[])).await;
    }
    for (name, _) in &objects {
        wait_synced_true(&client, ns, name).await;
    }
    let s = wait_secret(&client, ns, "mixed", |_| true).await;
    assert_eq!(item(&s, "x").as_deref(), Some("mixed-x-value"));

    // Every item counted: A opens p, q, x (2 objects, 3 items); B opens y, z, u, v (2, 4).
    wait_counts(&ctl, (&fa, "key-a", 2.0, 3.0), (&fb, "key-b", 2.0, 4.0)).await;
    wait_status_keys(
        &client,
        ns,
        "mixed",
        &[usage(&fa, &["x"]), usage(&fb, &["y", "z"])],
    )
    .await;
    wait_status_keys(&client, ns, "a-only", &[usage(&fa, &["p", "q"])]).await;
    wait_status_keys(&client, ns, "b-only", &[usage(&fb, &["u", "v"])]).await;

    // After a restart the counts come back from the status alone: nothing is decrypted.
    ctl.restart();
    ctl.wait_ready().await;
    wait_counts(&ctl, (&fa, "key-a", 2.0, 3.0), (&fb, "key-b", 2.0, 4.0)).await;
    let text = ctl.metrics_text().await;
    assert_eq!(
        metric_value(&text, "sealed_secrets_controller_unseal_decryptions_total "),
        Some(0.0),
        "{text}"
    );
    drop(ctl);

    // The report, through the service proxy like a real user.
    let proxied =
        ProxiedController::start(ns, "sealed-secrets-controller", &["--leader-elect=false"]).await;
    let (ok, names, safe, stderr) = report_for(ns, &fa);
    assert!(!ok, "A is still needed: exit must be non-zero");
    assert!(!safe);
    assert_eq!(names, [format!("{ns}/a-only"), format!("{ns}/mixed")]);
    assert!(stderr.contains("not safe to retire"), "{stderr}");
    // The text report names them too.
    let kc = kubeconfig().display().to_string();
    let out = run_kubeseal(&[
        "--kubeconfig",
        &kc,
        "--controller-namespace",
        ns,
        "-n",
        ns,
        "--key-usage",
    ]);
    assert!(out.status.success(), "no --key: exit 0");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("needed by {ns}/a-only (2 items)")),
        "{text}"
    );
    assert!(
        text.contains(&format!("needed by {ns}/mixed (1 item)")),
        "{text}"
    );

    // Re-encrypt the two with B: A becomes safe.
    for (name, items) in [("a-only", &["p", "q"][..]), ("mixed", &["x", "y", "z"][..])] {
        let with_b: Vec<(&str, &Certificate)> = items.iter().map(|i| (*i, &cb)).collect();
        replace_ss_spec(&client, ns, name, spec_of(ns, name, &with_b)).await;
        wait_status_keys(&client, ns, name, &[usage(&fb, items)]).await;
    }
    let (ok, names, safe, stderr) = report_for(ns, &fa);
    assert!(ok && safe && names.is_empty(), "{names:?} {stderr}");
    // B seals: never safe.
    let (ok, _, safe, _) = report_for(ns, &fb);
    assert!(!ok && !safe);
    drop(proxied);
}

/// `date -R`-style time `ago` in the past.
fn rfc1123z_ago(ago: Duration) -> String {
    use k8s_openapi::jiff;
    let t = jiff::Timestamp::try_from(SystemTime::now() - ago).unwrap();
    jiff::fmt::rfc2822::to_string(&t.to_zoned(jiff::tz::TimeZone::UTC)).unwrap()
}

async fn synced_status(client: &kube::Client, ns: &str, name: &str) -> Option<(String, String)> {
    let ss = get_ss(client, ns, name).await;
    let c = ss.synced_condition()?;
    Some((c.status.clone(), c.message.clone().unwrap_or_default()))
}

#[tokio::test]
async fn min_key_time_warn_only_reports_exactly_what_enforcing_fails() {
    let client = client().await;
    let tns = TestNs::new(&client, "minkey").await;
    let ns = tns.name.as_str();
    let (ka, ca) = key_aged(Duration::from_secs(7200));
    let (kb, cb) = key_aged(Duration::ZERO);
    create_secret(&client, ns, &key_secret("key-old", &ka, &ca, false)).await;
    create_secret(&client, ns, &key_secret("key-new", &kb, &cb, false)).await;
    let cutoff = format!("--key-min-time={}", rfc1123z_ago(Duration::from_secs(3600)));
    let names = ["old-only", "old-mixed", "new-only"];
    let specs = [
        spec_of(ns, "old-only", &[("a", &ca)]),
        spec_of(ns, "old-mixed", &[("a", &ca), ("b", &cb)]),
        spec_of(ns, "new-only", &[("b", &cb)]),
    ];
    for (name, spec) in names.iter().zip(&specs) {
        create_ss(&client, ns, &ss_with_spec(name, spec, &[])).await;
    }

    // Warn-only: everything unseals; the objects that need the old key are reported.
    let mut ctl = Controller::start(
        ns,
        &[],
        &[&cutoff, "--key-min-time-warn-only", "--leader-elect=false"],
    );
    ctl.wait_ready().await;
    for name in names {
        wait_synced_true(&client, ns, name).await;
    }
    let mut warned = BTreeSet::new();
    for name in names {
        if event_count(&client, ns, name, "KeyBelowMinimum").await > 0 {
            warned.insert(name);
        }
    }
    let msg = wait_event(&client, ns, "old-mixed", "KeyBelowMinimum", "(a)").await;
    assert!(msg.contains(ka.fingerprint()), "{msg}");
    ctl.stop();

    // Enforcing: exactly those fail, saying they must be re-encrypted; the rest stays synced.
    let ctl = Controller::start(ns, &[], &[&cutoff, "--leader-elect=false"]);
    ctl.wait_ready().await;
    for name in ["old-only", "old-mixed"] {
        let msg = wait_until(
            Duration::from_secs(60),
            &format!("{name} Synced=False"),
            || async {
                let (status, msg) = synced_status(&client, ns, name).await?;
                (status == "False").then_some(msg)
            },
        )
        .await;
        assert!(msg.contains("must be re-encrypted"), "{msg}");
        assert!(
            msg.contains("(a)") && msg.contains(ka.fingerprint()),
            "{msg}"
        );
    }
    let mut failed = BTreeSet::new();
    for name in names {
        if synced_status(&client, ns, name).await.unwrap().0 == "False" {
            failed.insert(name);
        }
    }
    assert_eq!(warned, failed);
    assert_eq!(failed, BTreeSet::from(["old-only", "old-mixed"]));
    drop(ctl);
}

#[tokio::test]
async fn legacy_key_secret_is_picked_up_and_dropped_at_run_time() {
    let client = client().await;
    let tns = TestNs::new(&client, "legacy").await;
    let ns = tns.name.as_str();
    let ctl = Controller::start(ns, &[], &[]);
    ctl.wait_ready().await;
    wait_metric_eq(&ctl, "sealed_secrets_controller_keys_loaded ", 1.0).await;

    let (kl, cl) = key_aged(Duration::ZERO);
    let spec = spec_of(ns, "by-legacy", &[("pw", &cl)]);
    create_ss(&client, ns, &ss_with_spec("by-legacy", &spec, &[])).await;
    let msg = wait_synced_false(&client, ns, "by-legacy").await;
    assert!(msg.contains("no key could decrypt"), "{msg}");

    // The pre-0.9 Secret: named exactly like the prefix, no label.
    let mut legacy: Secret = key_secret("sealed-secrets-key", &kl, &cl, false);
    legacy.metadata.labels = None;
    create_secret(&client, ns, &legacy).await;
    wait_synced_true(&client, ns, "by-legacy").await;
    let s = wait_secret(&client, ns, "by-legacy", |_| true).await;
    assert_eq!(item(&s, "pw").as_deref(), Some("by-legacy-pw-value"));
    wait_metric_eq(&ctl, "sealed_secrets_controller_keys_loaded ", 2.0).await;

    // Deleted at run time: dropped.
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.delete("sealed-secrets-key", &DeleteParams::default())
        .await
        .unwrap();
    wait_metric_eq(&ctl, "sealed_secrets_controller_keys_loaded ", 1.0).await;
}
