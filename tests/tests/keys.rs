//! The key lifecycle against the real control plane: renewal, keys restored by hand (PKCS#1
//! and PKCS#8) picked up without a restart, deleted and compromised keys, corrupt key Secrets,
//! `--key-cutoff-time`, and a restart that converges.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e::sealed_secrets_core::Certificate;
use e2e::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

fn tls_crt(s: &Secret) -> Certificate {
    Certificate::from_pem(&s.data.as_ref().unwrap()["tls.crt"].0).unwrap()
}

fn pw_secret(ns: &str, name: &str, pw: &str) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": ns}, "stringData": {"pw": pw}})
}

async fn wait_keys_loaded(ctl: &Controller, n: usize) {
    wait_metric_eq(ctl, "sealed_secrets_controller_keys_loaded ", n as f64).await;
}

#[tokio::test]
async fn renewal_adds_keys_and_old_keys_keep_unsealing() {
    let client = client().await;
    let ns = TestNs::new(&client, "renew").await;
    let ctl = Controller::start(&ns.name, &[], &["--key-renew-period=4s"]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let first = ctl.cert().await;

    // One key per period, no more and no fewer: wait for the fourth key (≈ 12 s), then every
    // gap between consecutive key Secrets (creation timestamps, 1 s resolution) is the period.
    wait_until(Duration::from_secs(40), "four keys", || async {
        (key_secrets(&client, ns).await.len() >= 4).then_some(())
    })
    .await;
    let mut created: Vec<i64> = key_secrets(&client, ns)
        .await
        .iter()
        .map(|s| {
            s.metadata
                .creation_timestamp
                .as_ref()
                .unwrap()
                .0
                .as_second()
        })
        .collect();
    created.sort_unstable();
    assert_eq!(created.len(), 4, "one key per period: {created:?}");
    for w in created.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (3..=7).contains(&gap),
            "renewal gap {gap} s, want 4 s (+ key generation): {created:?}"
        );
    }
    let newer = wait_until(Duration::from_secs(10), "the newest key served", || async {
        let c = ctl.cert().await;
        (c.der() != first.der()).then_some(c)
    })
    .await;
    let listed: Vec<Vec<u8>> = key_secrets(&client, ns)
        .await
        .iter()
        .map(|s| tls_crt(s).der().to_vec())
        .collect();
    assert!(listed.iter().any(|d| d == newer.der()));
    assert!(listed.iter().any(|d| d == first.der()), "old key kept");
    assert!(newer.not_before() > first.not_before());

    // Sealed after the renewal with the old certificate: still unseals.
    create_ss(
        &client,
        ns,
        &seal_json(&first, pw_secret(ns, "old-cert", "renew-old-pw")),
    )
    .await;
    create_ss(
        &client,
        ns,
        &seal_json(&newer, pw_secret(ns, "new-cert", "renew-new-pw")),
    )
    .await;
    for (name, pw) in [("old-cert", "renew-old-pw"), ("new-cert", "renew-new-pw")] {
        wait_synced_true(&client, ns, name).await;
        let s = wait_secret(&client, ns, name, |_| true).await;
        assert_eq!(item(&s, "pw").as_deref(), Some(pw));
    }
}

#[tokio::test]
async fn key_secrets_made_by_hand_are_picked_up_without_restart() {
    let client = client().await;
    let ns = TestNs::new(&client, "byok").await;
    // No error retries at all: after its first failure an object is only tried again on a
    // change (of itself, its Secret or the keys), so the key change alone must unseal it.
    let ctl = Controller::start(&ns.name, &[], &["--max-unseal-retries=0"]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();

    for (secret_name, ss_name, pkcs8) in [
        ("my-restored-key", "restored", false),
        ("my-pkcs8-key", "restored-pkcs8", true),
    ] {
        let (key, cert) = new_key_pair();
        // Sealed for a key the controller does not have yet: fails…
        create_ss(
            &client,
            ns,
            &seal_json(&cert, pw_secret(ns, ss_name, "byok-pw")),
        )
        .await;
        assert_eq!(
            wait_synced_false(&client, ns, ss_name).await,
            "no key could decrypt secret (pw)"
        );
        // Not retried by a backoff timer…
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            event_count(&client, ns, ss_name, "ErrUnsealFailed").await,
            1,
            "retried without a change"
        );
        // …but as soon as the key Secret appears (the key change retries failed objects).
        create_secret(&client, ns, &key_secret(secret_name, &key, &cert, pkcs8)).await;
        wait_synced_true(&client, ns, ss_name).await;
        let s = wait_secret(&client, ns, ss_name, |_| true).await;
        assert_eq!(item(&s, "pw").as_deref(), Some("byok-pw"));
        // The newest key (by NotBefore; ties by name) is now the sealing key.
        wait_until(Duration::from_secs(10), "served cert", || async {
            (ctl.cert().await.der() == cert.der()).then_some(())
        })
        .await;
    }
    wait_keys_loaded(&ctl, 3).await;
    ctl.assert_log_clean(&["byok-pw"]);
}

#[tokio::test]
async fn deleted_and_compromised_keys_are_dropped() {
    let client = client().await;
    let ns = TestNs::new(&client, "keydrop").await;
    let ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let own = ctl.cert().await;
    wait_keys_loaded(&ctl, 1).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);

    for (key_name, how) in [("doomed-key", "delete"), ("leaked-key", "compromised")] {
        let (key, cert) = new_key_pair();
        create_secret(&client, ns, &key_secret(key_name, &key, &cert, false)).await;
        wait_keys_loaded(&ctl, 2).await;
        let before = format!("{how}-before");
        create_ss(
            &client,
            ns,
            &seal_json(&cert, pw_secret(ns, &before, "drop-pw")),
        )
        .await;
        wait_synced_true(&client, ns, &before).await;
        let unsealed = wait_secret(&client, ns, &before, |_| true).await;

        if how == "delete" {
            secrets
                .delete(key_name, &DeleteParams::default())
                .await
                .unwrap();
        } else {
            let patch = json!({"metadata": {"labels": {
                "sealedsecrets.bitnami.com/sealed-secrets-key": "compromised"}}});
            secrets
                .patch(key_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
        }
        wait_keys_loaded(&ctl, 1).await;
        assert_eq!(ctl.cert().await.der(), own.der(), "back to the own key");

        let after = format!("{how}-after");
        create_ss(
            &client,
            ns,
            &seal_json(&cert, pw_secret(ns, &after, "drop-pw")),
        )
        .await;
        assert_eq!(
            wait_synced_false(&client, ns, &after).await,
            "no key could decrypt secret (pw)",
            "{how}"
        );
        assert!(get_secret(&client, ns, &after).await.is_none());
        // What was unsealed before stays (and stays Synced).
        let still = get_secret(&client, ns, &before).await.unwrap();
        assert_eq!(still.metadata.uid, unsealed.metadata.uid);
        assert_eq!(item(&still, "pw").as_deref(), Some("drop-pw"));
        let cond = wait_synced(&client, ns, &before).await;
        assert_eq!(cond.status, "True", "{how}");
    }
}

#[tokio::test]
async fn corrupt_key_secrets_are_skipped_and_reported() {
    let client = client().await;
    let ns = TestNs::new(&client, "badkey").await;
    let mut ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let cert = ctl.cert().await;

    // Garbage tls.key next to a valid certificate.
    let (_, some_cert) = new_key_pair();
    let mut garbage = key_secret("broken-key", &new_key_pair().0, &some_cert, false);
    garbage.data.as_mut().unwrap().insert(
        "tls.key".into(),
        k8s_openapi::ByteString(b"GARBAGE-KEY-MATERIAL".to_vec()),
    );
    create_secret(&client, ns, &garbage).await;
    // A valid key with the certificate of another key.
    let (other_key, _) = new_key_pair();
    let mismatched = key_secret("mismatched-key", &other_key, &some_cert, true);
    create_secret(&client, ns, &mismatched).await;

    let msg = wait_event(&client, ns, "broken-key", "ErrKeyInvalid", "broken-key").await;
    assert!(msg.contains("invalid tls.key"), "{msg}");
    let msg = wait_event(&client, ns, "mismatched-key", "ErrKeyInvalid", "mismatched").await;
    assert!(msg.contains("does not belong"), "{msg}");
    assert!(ctl.logs().contains("skipping invalid key Secret"));

    // Still serving: a new object unseals, only the good key is loaded, no crash.
    create_ss(
        &client,
        ns,
        &seal_json(&cert, pw_secret(ns, "after-bad-key", "badkey-pw")),
    )
    .await;
    wait_synced_true(&client, ns, "after-bad-key").await;
    wait_keys_loaded(&ctl, 1).await;
    let text = ctl.metrics_text().await;
    assert!(
        metric_value(&text, "sealed_secrets_controller_key_load_errors_total ").unwrap_or(0.0)
            >= 2.0,
        "{text}"
    );
    let (code, body) = http(ctl.api, "GET", "/healthz", b"").await.unwrap();
    assert_eq!((code, body.as_slice()), (200, b"ok\n".as_slice()));
    assert!(ctl.is_running());
    assert_eq!(ctl.cert().await.der(), cert.der());

    // Key material never reaches the log.
    let logs = ctl.logs();
    assert!(!logs.contains("GARBAGE-KEY-MATERIAL"));
    let pem = other_key.to_pkcs8_pem().unwrap();
    let body_line = pem.lines().nth(2).unwrap();
    assert!(!logs.contains(body_line), "private key in the log");
    assert!(!logs.contains("badkey-pw"));
}

#[tokio::test]
async fn cutoff_time_in_the_future_forces_a_new_key() {
    let client = client().await;
    let ns = TestNs::new(&client, "cutoff").await;
    let ns = ns.name.as_str();
    let first = {
        let ctl = Controller::start(ns, &[], &[]);
        ctl.wait_ready().await;
        ctl.cert().await
    };
    assert_eq!(key_secrets(&client, ns).await.len(), 1);

    let future = "--key-cutoff-time=Fri, 01 Jan 2100 00:00:00 +0000";
    let second = {
        let ctl = Controller::start(ns, &[], &[future]);
        ctl.wait_ready().await;
        // Ready means the existing keys are served; the leader then adds the new key.
        let c = wait_until(
            Duration::from_secs(30),
            "a new key despite an existing one",
            || {
                let ctl = &ctl;
                let first = &first;
                async move {
                    let c = ctl.cert().await;
                    (c.der() != first.der()).then_some(c)
                }
            },
        )
        .await;
        assert_eq!(key_secrets(&client, ns).await.len(), 2);
        // The old key is kept for unsealing.
        create_ss(
            &client,
            ns,
            &seal_json(&first, pw_secret(ns, "old", "cutoff-pw")),
        )
        .await;
        wait_synced_true(&client, ns, "old").await;
        c
    };

    // A cutoff in the past changes nothing.
    let ctl = Controller::start(
        ns,
        &[],
        &["--key-cutoff-time=Sat, 01 Jan 2000 00:00:00 +0000"],
    );
    ctl.wait_ready().await;
    assert_eq!(ctl.cert().await.der(), second.der());
    assert_eq!(key_secrets(&client, ns).await.len(), 2);
}

#[tokio::test]
async fn restart_converges_on_changes_made_while_down() {
    let client = client().await;
    let ns = TestNs::new(&client, "restart").await;
    let mut ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let cert = ctl.cert().await;
    for (name, pw) in [("a", "restart-a1"), ("b", "restart-b1")] {
        create_ss(&client, ns, &seal_json(&cert, pw_secret(ns, name, pw))).await;
    }
    for name in ["a", "b"] {
        wait_synced_true(&client, ns, name).await;
    }
    let b_before = wait_secret(&client, ns, "b", |_| true).await;

    ctl.stop();
    replace_ss_spec(
        &client,
        ns,
        "a",
        seal_json(&cert, pw_secret(ns, "a", "restart-a2")).spec,
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets.delete("b", &DeleteParams::default()).await.unwrap();
    create_ss(
        &client,
        ns,
        &seal_json(&cert, pw_secret(ns, "c", "restart-c1")),
    )
    .await;

    ctl.restart();
    ctl.wait_ready().await;
    for (name, pw) in [
        ("a", "restart-a2"),
        ("b", "restart-b1"),
        ("c", "restart-c1"),
    ] {
        wait_synced_true(&client, ns, name).await;
        let s = wait_secret(&client, ns, name, |s| item(s, "pw").as_deref() == Some(pw)).await;
        if name == "b" {
            assert_ne!(s.metadata.uid, b_before.metadata.uid, "recreated");
        }
    }
    assert_eq!(
        key_secrets(&client, ns).await.len(),
        1,
        "no new key on restart"
    );
    assert_eq!(ctl.cert().await.der(), cert.der());
}
