//! Create, update, recreation and garbage collection against the real control plane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use e2e::*;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn create_update_rename_append_recreate_and_gc() {
    let client = client().await;
    let ns = TestNs::new(&client, "basics").await;
    let ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;

    let ss = seal_json(
        &cert,
        json!({"metadata": {"name": "app", "namespace": ns.name}, "stringData": {"user": "admin", "pw": "s3cret-one"}}),
    );
    create_ss(&client, &ns.name, &ss).await;
    let secret = wait_secret(&client, &ns.name, "app", |_| true).await;
    assert_eq!(item(&secret, "pw").as_deref(), Some("s3cret-one"));
    assert_eq!(item(&secret, "user").as_deref(), Some("admin"));
    let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.kind, "SealedSecret");
    assert_eq!(owner.controller, Some(true));
    let cond = wait_synced(&client, &ns.name, "app").await;
    assert_eq!(cond.status, "True");
    wait_event(
        &client,
        &ns.name,
        "app",
        "Unsealed",
        "SealedSecret unsealed successfully",
    )
    .await;

    // Update: a renamed item (user -> username) and an appended one.
    let api: Api<sealed_secrets_core::SealedSecret> = Api::namespaced(client.clone(), &ns.name);
    let mut current = api.get("app").await.unwrap();
    let updated = seal_json(
        &cert,
        json!({"metadata": {"name": "app", "namespace": ns.name},
               "stringData": {"username": "admin", "pw": "s3cret-two", "extra": "x"}}),
    );
    current.spec = updated.spec;
    api.replace("app", &Default::default(), &current)
        .await
        .unwrap();
    let secret = wait_secret(&client, &ns.name, "app", |s| {
        item(s, "pw").as_deref() == Some("s3cret-two")
    })
    .await;
    assert_eq!(item(&secret, "username").as_deref(), Some("admin"));
    assert_eq!(item(&secret, "extra").as_deref(), Some("x"));
    assert!(item(&secret, "user").is_none(), "renamed item removed");
    wait_synced_true(&client, &ns.name, "app").await;

    // Recreation of the owned Secret.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &ns.name);
    let old_uid = secret.metadata.uid.clone();
    secrets
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let again = wait_secret(&client, &ns.name, "app", |s| s.metadata.uid != old_uid).await;
    assert_eq!(item(&again, "pw").as_deref(), Some("s3cret-two"));

    // Drift repair: someone edits the Secret; the controller puts it back.
    let mut edited = again.clone();
    edited
        .data
        .as_mut()
        .unwrap()
        .insert("pw".into(), k8s_openapi::ByteString(b"tampered".to_vec()));
    secrets
        .replace("app", &Default::default(), &edited)
        .await
        .unwrap();
    wait_secret(&client, &ns.name, "app", |s| {
        item(s, "pw").as_deref() == Some("s3cret-two")
    })
    .await;

    // Garbage collection (kube-controller-manager) when the SealedSecret goes.
    api.delete("app", &DeleteParams::default()).await.unwrap();
    wait_until(
        Duration::from_secs(60),
        "Secret garbage-collected",
        || async {
            get_secret(&client, &ns.name, "app")
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;

    // The plaintext never reached the log.
    ctl.assert_log_clean(&[]);
    let logs = ctl.logs();
    for p in ["s3cret-one", "s3cret-two", "tampered"] {
        assert!(!logs.contains(p), "plaintext {p} in the controller log");
    }
}
