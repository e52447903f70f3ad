//! Readiness follows the health of the watches: a controller whose Secret watch is forbidden
//! in one of its namespaces answers `/readyz` with 503 and logs which permission it lacks; once
//! the permission is granted, the watch recovers and the controller becomes ready, without a
//! restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e::*;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;

async fn role(client: &Client, ns: &str, name: &str, rules: serde_json::Value) {
    let api: Api<Role> = Api::namespaced(client.clone(), ns);
    let role: Role = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name, "namespace": ns},
        "rules": rules,
    }))
    .unwrap();
    api.create(&PostParams::default(), &role).await.unwrap();
}

async fn bind(client: &Client, ns: &str, name: &str, sa_ns: &str, sa: &str) {
    let api: Api<RoleBinding> = Api::namespaced(client.clone(), ns);
    let rb: RoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}],
    }))
    .unwrap();
    api.create(&PostParams::default(), &rb).await.unwrap();
}

async fn readyz(c: &Controller) -> Option<u16> {
    http(c.api, "GET", "/readyz", b"")
        .await
        .ok()
        .map(|(code, _)| code)
}

#[tokio::test]
async fn forbidden_secret_watch_makes_the_replica_unready_until_granted() {
    let client = client().await;
    let home = TestNs::new(&client, "ready-home").await;
    let other = TestNs::new(&client, "ready-other").await;
    let sa = "controller";
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &home.name);
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": sa}})).unwrap(),
    )
    .await
    .unwrap();
    // Everything in its own namespace (keys, Lease, Events, its SealedSecrets and Secrets).
    role(
        &client,
        &home.name,
        "all",
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    )
    .await;
    bind(&client, &home.name, "all", &home.name, sa).await;
    // In the other namespace: SealedSecrets and Events, but no Secrets at all.
    role(
        &client,
        &other.name,
        "sealedsecrets",
        json!([
            {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets", "sealedsecrets/status"],
             "verbs": ["get", "list", "watch", "update", "patch"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"],
             "verbs": ["create", "patch", "update"]},
        ]),
    )
    .await;
    bind(&client, &other.name, "sealedsecrets", &home.name, sa).await;

    let kc = service_account_kubeconfig(&home.name, sa);
    let ctl = Controller::start_with_kubeconfig(&home.name, &[&other.name], &[], &kc);

    // The key is made and served (the HTTP API works), yet the replica is not ready.
    wait_until(Duration::from_secs(60), "certificate served", || async {
        let (code, _) = http(ctl.api, "GET", "/v1/cert.pem", b"").await.ok()?;
        (code == 200).then_some(())
    })
    .await;
    wait_until(
        Duration::from_secs(30),
        "log line naming the missing permission",
        || async {
            let logs = ctl.logs();
            logs.lines()
                .find(|l| {
                    l.contains("watch forbidden")
                        && l.contains("on secrets")
                        && l.contains(&format!("namespace {}", other.name))
                        && (l.contains("`list`") || l.contains("`watch`"))
                })
                .map(str::to_string)
        },
    )
    .await;
    // Still unready a while later (not a start-up blip): sample it several times.
    for _ in 0..5 {
        assert_eq!(
            readyz(&ctl).await,
            Some(503),
            "ready although the Secret watch in {} is forbidden:\n{}",
            other.name,
            ctl.logs()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    // Grant the Secrets permissions: the watch recovers and the replica becomes ready.
    role(
        &client,
        &other.name,
        "secrets",
        json!([{"apiGroups": [""], "resources": ["secrets"],
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]),
    )
    .await;
    bind(&client, &other.name, "secrets", &home.name, sa).await;
    wait_until(Duration::from_secs(90), "ready after the grant", || async {
        (readyz(&ctl).await == Some(200)).then_some(())
    })
    .await;
    let _ = std::fs::remove_file(&kc);
}
