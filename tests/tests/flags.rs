//! Controller flags (and their `SEALED_SECRETS_*` variables) against the real control plane,
//! each with the objects it must leave alone: `--label-selector`, `--additional-namespaces`,
//! `--skip-recreate`, `--update-status=false`, `--max-unseal-retries`,
//! `--key-order-priority=SecretCreationTimestamp`, `--log-format=json`; and two behaviours
//! that need no flag: a no-op reconcile writes nothing, a blocking unowned Secret that is
//! deleted makes way at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use e2e::sealed_secrets_core::{Certificate, SealedSecret};
use e2e::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

fn pw_secret(ns: &str, name: &str, pw: &str) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": ns}, "stringData": {"pw": pw}})
}

async fn ss_status_is_none(client: &kube::Client, ns: &str, name: &str) -> bool {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    api.get(name).await.unwrap().status.is_none()
}

/// Waits until our controller reports `Synced=True` for `ns/name` in its metrics (it
/// reconciled the object), whether or not it writes a status.
async fn wait_reconciled_ok(ns: &str, name: &str) {
    wait_until(
        Duration::from_secs(60),
        &format!("{ns}/{name} reconciled"),
        || async { (our_synced_values(ns, name).await == vec![1.0]).then_some(()) },
    )
    .await;
}

/// Asserts that no controller under test touched `ns/name`: no Secret, no status, no Event,
/// no metric series.
async fn assert_ignored(client: &kube::Client, ns: &str, name: &str) {
    assert!(
        get_secret(client, ns, name).await.is_none(),
        "{ns}/{name}: Secret made for an ignored object"
    );
    assert!(
        ss_status_is_none(client, ns, name).await,
        "{ns}/{name}: status written for an ignored object"
    );
    assert!(
        events(client, ns, name).await.is_empty(),
        "{ns}/{name}: Event for an ignored object"
    );
    assert!(
        our_synced_values(ns, name).await.is_empty(),
        "{ns}/{name}: reconciled an ignored object"
    );
}

fn labelled(mut ss: SealedSecret, labels: &[(&str, &str)]) -> SealedSecret {
    ss.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    ss
}

#[tokio::test]
async fn label_selector_and_additional_namespaces_bound_what_is_watched() {
    let client = client().await;
    let home = TestNs::new(&client, "flags-home").await;
    let extra = TestNs::new(&client, "flags-extra").await;
    let outside = TestNs::new(&client, "flags-out").await;
    let ctl = Controller::start(
        &home.name,
        &[&extra.name],
        &["--label-selector=e2e-pick=yes"],
    );
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    let pick = [("e2e-pick", "yes")];
    let nss = [
        home.name.as_str(),
        extra.name.as_str(),
        outside.name.as_str(),
    ];
    // The objects to ignore first, so that the watched ones are seen after them.
    for ns in nss {
        let no_label = seal_json(&cert, pw_secret(ns, "unpicked", "sel-unpicked"));
        create_ss(&client, ns, &labelled(no_label, &[("e2e-pick", "no")])).await;
    }
    let outside_ss = seal_json(&cert, pw_secret(nss[2], "picked", "sel-outside"));
    create_ss(&client, nss[2], &labelled(outside_ss, &pick)).await;
    for ns in &nss[..2] {
        let ss = seal_json(&cert, pw_secret(ns, "picked", "sel-picked"));
        create_ss(&client, ns, &labelled(ss, &pick)).await;
    }
    for ns in &nss[..2] {
        wait_synced_true(&client, ns, "picked").await;
        let s = wait_secret(&client, ns, "picked", |_| true).await;
        assert_eq!(item(&s, "pw").as_deref(), Some("sel-picked"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for ns in nss {
        assert_ignored(&client, ns, "unpicked").await;
    }
    assert_ignored(&client, nss[2], "picked").await;
    ctl.assert_log_clean(&["sel-unpicked", "sel-outside", "sel-picked"]);
}

#[tokio::test]
async fn skip_recreate_and_no_status_updates() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-quiet").await;
    let ctl = Controller::start(
        &ns.name,
        &[],
        &["--skip-recreate=true", "--update-status=false"],
    );
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let cert = ctl.cert().await;
    create_ss(
        &client,
        ns,
        &seal_json(&cert, pw_secret(ns, "q", "quiet-pw")),
    )
    .await;
    let s = wait_secret(&client, ns, "q", |_| true).await;
    assert_eq!(item(&s, "pw").as_deref(), Some("quiet-pw"));
    wait_reconciled_ok(ns, "q").await;
    // `--skip-recreate`: a deleted Secret stays deleted (without the flag it is back within
    // a second, see basics.rs).
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets.delete("q", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        get_secret(&client, ns, "q").await.is_none(),
        "Secret recreated despite --skip-recreate"
    );
    // `--update-status=false`: unsealed, but no status.
    assert!(ss_status_is_none(&client, ns, "q").await, "status written");
    ctl.assert_log_clean(&["quiet-pw"]);
}

#[tokio::test]
async fn environment_variables_and_json_logs() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-env").await;
    let ctl = Controller::start_with_env(
        &ns.name,
        &[],
        &[],
        kubeconfig(),
        &[
            ("SEALED_SECRETS_UPDATE_STATUS", "false"),
            ("SEALED_SECRETS_KEY_PREFIX", "env-prefixed-key"),
            ("SEALED_SECRETS_LOG_FORMAT", "json"),
        ],
    );
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let keys = key_secrets(&client, ns).await;
    assert_eq!(keys.len(), 1);
    let key_name = keys[0].metadata.name.clone().unwrap();
    assert!(key_name.starts_with("env-prefixed-key"), "{key_name}");
    let cert = ctl.cert().await;
    create_ss(&client, ns, &seal_json(&cert, pw_secret(ns, "e", "env-pw"))).await;
    wait_secret(&client, ns, "e", |s| {
        item(s, "pw").as_deref() == Some("env-pw")
    })
    .await;
    wait_reconciled_ok(ns, "e").await;

    // Every line of the log is one JSON object with a level and a message; DEBUG included.
    ctl.assert_log_clean(&["env-pw"]);
    let logs = ctl.logs();
    let mut levels = std::collections::BTreeSet::new();
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        let level = v["level"].as_str().unwrap_or_else(|| panic!("{line}"));
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(v["fields"]["message"].is_string(), "{line}");
        levels.insert(level.to_string());
    }
    assert!(
        levels.contains("INFO") && levels.contains("DEBUG"),
        "{levels:?}"
    );
    assert!(ss_status_is_none(&client, ns, "e").await, "status written");
}

#[tokio::test]
async fn a_no_op_reconcile_writes_nothing() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-noop").await;
    let ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let cert = ctl.cert().await;
    create_ss(
        &client,
        ns,
        &seal_json(&cert, pw_secret(ns, "n", "noop-pw")),
    )
    .await;
    wait_synced_true(&client, ns, "n").await;
    let secret = wait_secret(&client, ns, "n", |_| true).await;
    // Let the writes of the first reconcile (and the one the Secret's creation triggers) settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ss_api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    let rv_ss = ss_api.get("n").await.unwrap().metadata.resource_version;
    let rv_secret = get_secret(&client, ns, "n")
        .await
        .unwrap()
        .metadata
        .resource_version;
    assert_eq!(
        secret.metadata.uid,
        get_secret(&client, ns, "n").await.unwrap().metadata.uid
    );
    let reconciles = |text: &str| {
        ["skipped", "success", "error"]
            .iter()
            .filter_map(|r| {
                metric_value(
                    text,
                    &format!("sealed_secrets_controller_reconcile_duration_seconds_count{{result=\"{r}\"}} "),
                )
            })
            .sum::<f64>()
    };
    let before = reconciles(&ctl.metrics_text().await);
    // A key change reconciles every object again.
    let (key, kcert) = new_key_pair();
    create_secret(&client, ns, &key_secret("extra-key", &key, &kcert, false)).await;
    wait_metric_eq(&ctl, "sealed_secrets_controller_keys_loaded ", 2.0).await;
    wait_until(
        Duration::from_secs(30),
        "a reconcile after the key change",
        || async { (reconciles(&ctl.metrics_text().await) > before).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        ss_api.get("n").await.unwrap().metadata.resource_version,
        rv_ss,
        "status written on a no-op reconcile"
    );
    assert_eq!(
        get_secret(&client, ns, "n")
            .await
            .unwrap()
            .metadata
            .resource_version,
        rv_secret,
        "Secret written on a no-op reconcile"
    );
}

#[tokio::test]
async fn max_unseal_retries_bounds_the_retries() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-retries").await;
    let ctl = Controller::start(&ns.name, &[], &["--max-unseal-retries=2"]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let (_, stranger) = new_key_pair();
    create_ss(
        &client,
        ns,
        &seal_json(&stranger, pw_secret(ns, "r", "retry-pw")),
    )
    .await;
    // The first attempt and two retries (after 1 s and 2 s)…
    wait_until(Duration::from_secs(30), "three failures", || async {
        (event_count(&client, ns, "r", "ErrUnsealFailed").await >= 3).then_some(())
    })
    .await;
    // …then nothing (a third retry would come 4 s later).
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(event_count(&client, ns, "r", "ErrUnsealFailed").await, 3);
    let text = ctl.metrics_text().await;
    assert_eq!(
        metric_value(
            &text,
            &format!(
                "sealed_secrets_controller_unseal_errors_total{{reason=\"unseal\",namespace=\"{ns}\"}} "
            )
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        wait_synced_false(&client, ns, "r").await,
        "no key could decrypt secret (pw)"
    );
}

fn backdated_key_pair(days: u64) -> (sealed_secrets_core::PrivateKey, Certificate) {
    let key = sealed_secrets_core::PrivateKey::generate(2048, sealed_secrets_core::Backend::AwsLc)
        .unwrap();
    let cert = sealed_secrets_core::keys::self_signed_certificate(
        &key,
        None,
        Duration::from_secs(3650 * 86400),
        SystemTime::now() - Duration::from_secs(days * 86400),
    )
    .unwrap();
    (key, cert)
}

#[tokio::test]
async fn key_order_by_secret_creation_and_key_secret_updated_in_place() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-order").await;
    // Renewal off: it follows the sealing key's certificate, and the backdated keys below are
    // old enough to make it generate a fresh key (newest by creation) in the middle of the test.
    let ctl = Controller::start(
        &ns.name,
        &[],
        &[
            "--key-order-priority=SecretCreationTimestamp",
            "--key-renew-period=0",
        ],
    );
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let own = ctl.cert().await;
    // Creation timestamps have a 1 s resolution.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // A key whose certificate is 30 days older than the controller's, in a newer Secret: by
    // Secret creation it is the newest, so it becomes the sealing key (by certificate
    // NotBefore, the default, it would not).
    let (old_key, old_cert) = backdated_key_pair(30);
    assert!(old_cert.not_before() < own.not_before());
    create_secret(
        &client,
        ns,
        &key_secret("restored", &old_key, &old_cert, false),
    )
    .await;
    wait_metric_eq(&ctl, "sealed_secrets_controller_keys_loaded ", 2.0).await;
    wait_until(
        // A bound on a watch event, generous because the other tests of this file load both
        // cores (the workers test alone keeps one busy with RSA work).
        Duration::from_secs(30),
        "the newest Secret's key served",
        || async { (ctl.cert().await.der() == old_cert.der()).then_some(()) },
    )
    .await;

    // The key Secret is updated in place with another key: the controller drops the old one
    // and loads the new one (same Secret, same creation time, so still the sealing key).
    let (new_key, new_cert) = backdated_key_pair(20);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut current = secrets.get("restored").await.unwrap();
    current.data = key_secret("restored", &new_key, &new_cert, true).data;
    secrets
        .replace("restored", &PostParams::default(), &current)
        .await
        .unwrap();
    wait_until(
        // A bound on a watch event, generous because the other tests of this file load both
        // cores (the workers test alone keeps one busy with RSA work).
        Duration::from_secs(30),
        "the updated key served",
        || async { (ctl.cert().await.der() == new_cert.der()).then_some(()) },
    )
    .await;
    wait_metric_eq(&ctl, "sealed_secrets_controller_keys_loaded ", 2.0).await;
    create_ss(
        &client,
        ns,
        &seal_json(&new_cert, pw_secret(ns, "with-new", "order-new-pw")),
    )
    .await;
    create_ss(
        &client,
        ns,
        &seal_json(&old_cert, pw_secret(ns, "with-old", "order-old-pw")),
    )
    .await;
    wait_synced_true(&client, ns, "with-new").await;
    assert_eq!(
        wait_synced_false(&client, ns, "with-old").await,
        "no key could decrypt secret (pw)"
    );
    ctl.assert_log_clean(&["order-new-pw", "order-old-pw"]);
}

#[tokio::test]
async fn deleting_an_unowned_blocking_secret_makes_way_at_once() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-blocker").await;
    // No error retries: only the deletion of the blocking Secret can trigger the unseal.
    let ctl = Controller::start(&ns.name, &[], &["--max-unseal-retries=0"]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let cert = ctl.cert().await;
    let blocker: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "b"}, "stringData": {"pw": "blocker-pw"}
    }))
    .unwrap();
    create_secret(&client, ns, &blocker).await;
    create_ss(
        &client,
        ns,
        &seal_json(&cert, pw_secret(ns, "b", "unblocked-pw")),
    )
    .await;
    let msg = wait_synced_false(&client, ns, "b").await;
    assert!(msg.contains("not managed by SealedSecret"), "{msg}");
    // The blocker's own watch event may reconcile "b" once more when it reaches the
    // controller after the SealedSecret's (the two watches race), so one or two failures are
    // fine; a retry would come at 1 s and 3 s and make the count grow between the two reads.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let early = event_count(&client, ns, "b", "ErrUpdateFailed").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let late = event_count(&client, ns, "b", "ErrUpdateFailed").await;
    assert!(
        (1..=2).contains(&early),
        "{early} failures before any retry could run"
    );
    assert_eq!(late, early, "the failure was retried");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets.delete("b", &DeleteParams::default()).await.unwrap();
    let s = wait_secret(&client, ns, "b", |s| {
        item(s, "pw").as_deref() == Some("unblocked-pw")
    })
    .await;
    assert!(
        s.metadata
            .owner_references
            .as_ref()
            .is_some_and(|o| o.iter().any(|r| r.kind == "SealedSecret")),
        "not owned: {:?}",
        s.metadata.owner_references
    );
    wait_synced_true(&client, ns, "b").await;
    ctl.assert_log_clean(&["unblocked-pw", "blocker-pw"]);
}

/// The harness's waits accept only what a controller under test wrote: a controller this
/// process did not start through [`Controller`] (like a leftover one from scripts/demo.sh)
/// writes `Synced=False` and an Event, and neither satisfies `wait_synced` or `events`.
#[tokio::test]
async fn a_foreign_controller_cannot_satisfy_the_waits() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-foreign").await;
    let ns = ns.name.as_str();
    let log = std::env::temp_dir().join(format!("e2e-foreign-{ns}.log"));
    let mut foreign = std::process::Command::new(bin("e2e-sealed-secrets-controller"))
        .args([
            &format!("--namespace={ns}"),
            "--all-namespaces=false",
            &format!("--kubeconfig={}", kubeconfig().display()),
            "--key-size=2048",
            "--max-unseal-retries=0",
            &format!("--listen-addr=127.0.0.1:{}", free_port()),
            &format!("--listen-metrics-addr=127.0.0.1:{}", free_port()),
        ])
        .env_remove("KUBECONFIG")
        .env("POD_NAME", format!("foreign-{}", random_suffix()))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (_, stranger) = new_key_pair();
    create_ss(
        &client,
        ns,
        &seal_json(&stranger, pw_secret(ns, "f", "foreign-pw")),
    )
    .await;
    // The foreign controller wrote its status and Event…
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    let raw_events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    wait_until(
        Duration::from_secs(60),
        "the foreign status and Event",
        || async {
            let ss = api.get("f").await.ok()?;
            let failed = ss.synced_condition()?.status == "False";
            let evs = raw_events.list(&Default::default()).await.ok()?;
            let event = evs
                .items
                .iter()
                .any(|e| e.reason.as_deref() == Some("ErrUnsealFailed"));
            (failed && event).then_some(())
        },
    )
    .await;
    // …which the harness does not take for ours.
    assert!(events(&client, ns, "f").await.is_empty());
    assert_eq!(event_count(&client, ns, "f", "ErrUnsealFailed").await, 0);
    assert!(
        tokio::time::timeout(Duration::from_secs(3), wait_synced(&client, ns, "f"))
            .await
            .is_err(),
        "wait_synced accepted a foreign controller's status"
    );
    let _ = foreign.kill();
    let _ = foreign.wait();
    let _ = std::fs::remove_file(&log);

    // A controller under test reaches the same verdict: now the waits see it.
    let ctl = Controller::start(ns, &[], &["--max-unseal-retries=0"]);
    ctl.wait_ready().await;
    create_ss(
        &client,
        ns,
        &seal_json(&stranger, pw_secret(ns, "g", "foreign-pw")),
    )
    .await;
    assert_eq!(
        wait_synced_false(&client, ns, "g").await,
        "no key could decrypt secret (pw)"
    );
    wait_event(&client, ns, "g", "ErrUnsealFailed", "no key could decrypt").await;
}

/// `--old-gc-behavior`: the controller itself deletes the Secret it controls when the
/// SealedSecret goes; without it, only Kubernetes garbage collection does. To tell the two
/// apart, one Secret's owner reference keeps the SealedSecret's uid (what the controller
/// checks) but names a kind no API serves, so the garbage collector cannot resolve it and
/// never deletes that Secret. A Secret with an ordinary owner reference shows garbage
/// collection at work in the same run, and a Secret the controller does not own (it refused
/// to take it over) is left alone in both.
async fn deleting_sealed_secrets(old_gc: bool) {
    let client = client().await;
    let ns = TestNs::new(&client, if old_gc { "flags-oldgc" } else { "flags-gc" }).await;
    // No Secret watch: nothing repairs the owner reference the test rewrites.
    let mut args = vec!["--skip-recreate=true"];
    if old_gc {
        args.push("--old-gc-behavior");
    }
    let ctl = Controller::start(&ns.name, &[], &args);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let cert = ctl.cert().await;
    let foreign: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "foreign"}, "stringData": {"pw": "gc-foreign-pw"}
    }))
    .unwrap();
    create_secret(&client, ns, &foreign).await;
    let mut uids = std::collections::HashMap::new();
    for name in ["hidden", "plain", "foreign"] {
        let ss = create_ss(
            &client,
            ns,
            &seal_json(&cert, pw_secret(ns, name, &format!("gc-{name}-pw"))),
        )
        .await;
        uids.insert(name, ss.metadata.uid.unwrap());
    }
    for name in ["hidden", "plain"] {
        wait_synced_true(&client, ns, name).await;
    }
    let msg = wait_synced_false(&client, ns, "foreign").await;
    assert!(msg.contains("not managed by SealedSecret"), "{msg}");

    // "hidden": same uid, controller=true, but an owner kind garbage collection cannot map.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let patch = json!({"metadata": {"ownerReferences": [{
        "apiVersion": "e2e.invalid/v1", "kind": "Nowhere", "name": "hidden",
        "uid": uids["hidden"], "controller": true,
    }]}});
    secrets
        .patch(
            "hidden",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();

    let ss_api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    for name in ["hidden", "plain", "foreign"] {
        ss_api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    // Garbage collection removes the ordinarily owned Secret in both cases.
    wait_secret_gone(&client, ns, "plain", 60, "plain Secret collected").await;
    if old_gc {
        wait_secret_gone(
            &client,
            ns,
            "hidden",
            30,
            "the controller deleting the Secret it controls",
        )
        .await;
    } else {
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            get_secret(&client, ns, "hidden").await.is_some(),
            "Secret deleted without --old-gc-behavior"
        );
    }
    let left = get_secret(&client, ns, "foreign").await;
    assert_eq!(
        left.as_ref().and_then(|s| item(s, "pw")).as_deref(),
        Some("gc-foreign-pw"),
        "a Secret the controller does not own was deleted"
    );
    ctl.assert_log_clean(&["gc-hidden-pw", "gc-plain-pw", "gc-foreign-pw"]);
}

#[tokio::test]
async fn old_gc_behavior_deletes_the_controlled_secret() {
    deleting_sealed_secrets(true).await;
}

#[tokio::test]
async fn without_old_gc_behavior_only_garbage_collection_deletes() {
    deleting_sealed_secrets(false).await;
}

/// `--workers` bounds the reconciles in flight, and the CPU limit (the cores the process
/// may use: one here, through `taskset`) bounds the unseals running, whatever the number of
/// workers. Eight objects that each take a while to fail (300 items, each tried with four
/// keys) keep the queue full; the metrics are sampled until all have been reconciled.
#[tokio::test]
async fn workers_and_the_cpu_limit_bound_concurrency() {
    let client = client().await;
    let ns = TestNs::new(&client, "flags-workers").await;
    let ctl = Controller::start_on_cpus("0", &ns.name, &["--workers=3", "--max-unseal-retries=0"]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    for i in 0..3 {
        let (key, cert) = new_key_pair();
        create_secret(
            &client,
            ns,
            &key_secret(&format!("extra-{i}"), &key, &cert, false),
        )
        .await;
    }
    wait_metric_eq(&ctl, "sealed_secrets_controller_keys_loaded ", 4.0).await;
    let (_, stranger) = new_key_pair();
    let items: serde_json::Map<String, serde_json::Value> = (0..300)
        .map(|i| (format!("k{i}"), json!(format!("workers-pw-{i}"))))
        .collect();
    let objects: Vec<SealedSecret> = (0..8)
        .map(|i| {
            let s = json!({"metadata": {"name": format!("w{i}"), "namespace": ns},
                "stringData": items});
            seal_json(&stranger, s)
        })
        .collect();
    for ss in &objects {
        create_ss(&client, ns, ss).await;
    }
    let gauge = |text: &str, name: &str| {
        metric_value(text, &format!("sealed_secrets_controller_{name} ")).unwrap_or(-1.0)
    };
    let errors = |text: &str| {
        metric_value(
            text,
            "sealed_secrets_controller_reconcile_duration_seconds_count{result=\"error\"} ",
        )
        .unwrap_or(0.0)
    };
    let (mut max_in_flight, mut max_running) = (0.0f64, 0.0f64);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let text = ctl.metrics_text().await;
        max_in_flight = max_in_flight.max(gauge(&text, "reconciles_in_flight"));
        max_running = max_running.max(gauge(&text, "unseals_running"));
        if errors(&text) >= 8.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all reconciled: {text}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(max_in_flight, 3.0, "reconciles in flight with --workers=3");
    assert_eq!(max_running, 1.0, "unseals running on one CPU");
    let msg = wait_synced_false(&client, ns, "w0").await;
    assert!(
        msg.starts_with("no key could decrypt secret (k0, k1, k10,"),
        "{msg}"
    );
    ctl.assert_log_clean(&["workers-pw-"]);
}

/// Waits until the Secret `name` is gone.
async fn wait_secret_gone(client: &kube::Client, ns: &str, name: &str, seconds: u64, what: &str) {
    wait_until(Duration::from_secs(seconds), what, || async {
        get_secret(client, ns, name).await.is_none().then_some(())
    })
    .await;
}
