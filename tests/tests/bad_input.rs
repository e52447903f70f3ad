//! Broken SealedSecrets next to a good one: each fails on its own, naming the item, and never
//! stops the good one from syncing or leaks a plaintext into the log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use e2e::sealed_secrets_core::SealedSecret;
use e2e::sealed_secrets_core::annotations::CLUSTER_WIDE;
use e2e::*;
use serde_json::json;

fn mangle(ss: &mut SealedSecret, item: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let value = ss.spec.encrypted_data.get_mut(item).unwrap();
    let mut raw = STANDARD.decode(value.as_bytes()).unwrap();
    f(&mut raw);
    *value = STANDARD.encode(raw);
}

#[tokio::test]
async fn broken_objects_fail_alone_and_name_their_items() {
    let client = client().await;
    let ns = TestNs::new(&client, "badinput").await;
    let ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    let ns = ns.name.as_str();
    let sealed = |name: &str, items: serde_json::Value| {
        seal_json(
            &cert,
            json!({"metadata": {"name": name, "namespace": ns}, "stringData": items}),
        )
    };

    // Not base64 at all (the API accepts any string).
    let mut bad_b64 = sealed("bad-b64", json!({"x": "plain-b64-secret"}));
    bad_b64
        .spec
        .encrypted_data
        .insert("x".into(), "not base64 at all!!".into());
    // Truncated ciphertext.
    let mut truncated = sealed("truncated", json!({"t": "plain-truncated-secret"}));
    mangle(&mut truncated, "t", |raw| raw.truncate(raw.len() / 2));
    // One byte flipped in the symmetric part.
    let mut flipped = sealed("flipped", json!({"f": "plain-flipped-secret"}));
    mangle(&mut flipped, "f", |raw| {
        let i = raw.len() - 20;
        raw[i] ^= 0x01;
    });
    // Sealed strict, annotated cluster-wide afterwards (a widening attempt).
    let mut wrong_scope = sealed("wrong-scope", json!({"w": "plain-scope-secret"}));
    wrong_scope.metadata.annotations =
        Some([(CLUSTER_WIDE.to_string(), "true".to_string())].into());
    // One good item and one bad one: nothing is written, only the bad item is named.
    let mut partial = sealed(
        "partial",
        json!({"ok": "plain-partial-ok", "broken": "plain-partial-broken"}),
    );
    mangle(&mut partial, "broken", |raw| raw.truncate(10));
    let good = sealed("good", json!({"pw": "plain-good-secret"}));

    for ss in [
        &bad_b64,
        &truncated,
        &flipped,
        &wrong_scope,
        &partial,
        &good,
    ] {
        create_ss(&client, ns, ss).await;
    }

    let expected = [
        ("bad-b64", "illegal base64 data (x)"),
        ("truncated", "no key could decrypt secret (t)"),
        ("flipped", "no key could decrypt secret (f)"),
        ("wrong-scope", "no key could decrypt secret (w)"),
        ("partial", "no key could decrypt secret (broken)"),
    ];
    wait_synced_true(&client, ns, "good").await;
    let s = wait_secret(&client, ns, "good", |_| true).await;
    assert_eq!(item(&s, "pw").as_deref(), Some("plain-good-secret"));
    for (name, message) in expected {
        let got = wait_synced_false(&client, ns, name).await;
        assert_eq!(got, message, "{name}");
        wait_event(
            &client,
            ns,
            name,
            "ErrUnsealFailed",
            &format!("Failed to unseal: {message}"),
        )
        .await;
        assert!(
            get_secret(&client, ns, name).await.is_none(),
            "{name}: no Secret"
        );
    }

    // The metrics agree: the good one is synced.
    let text = ctl.metrics_text().await;
    assert!(
        text.contains(&format!(
            "sealed_secrets_controller_condition_info{{namespace=\"{ns}\",name=\"good\",condition=\"Synced\",ss_app_kubernetes_io_instance=\"\"}} 1"
        )),
        "{text}"
    );
    ctl.assert_log_clean(&[]);
    let logs = ctl.logs();
    for p in [
        "plain-b64-secret",
        "plain-truncated-secret",
        "plain-flipped-secret",
        "plain-scope-secret",
        "plain-partial-ok",
        "plain-partial-broken",
        "plain-good-secret",
    ] {
        assert!(!logs.contains(p), "plaintext {p} in the controller log");
    }
}
