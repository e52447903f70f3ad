//! High availability: two controller processes (distinct POD_NAMEs) in one namespace elect a
//! leader on a Lease; only the leader makes keys and reconciles; failover after SIGKILL,
//! hand-over on SIGTERM, and a restart that re-verifies Synced objects without decrypting but
//! repairs a Secret edited while no controller ran.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use e2e::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::{Api, Client};

const LEASE: &str = "sealed-secrets-controller";
/// Short timings keep the test fast; the defaults are 15 s / 10 s / 2 s.
const LEASE_SECS: u64 = 6;
const RETRY_SECS: u64 = 1;
const ARGS: &[&str] = &[
    "--leader-elect-lease-duration=6s",
    "--leader-elect-renew-deadline=4s",
    "--leader-elect-retry-period=1s",
];

async fn holder(client: &Client, ns: &str) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    api.get_opt(LEASE)
        .await
        .ok()??
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

/// Waits until the Lease is held by a process of `pod`; returns the holder identity.
async fn wait_holder(client: &Client, ns: &str, pod: &str, timeout: Duration) -> String {
    wait_until(timeout, &format!("Lease held by {pod}"), || async {
        holder(client, ns)
            .await
            .filter(|h| h.starts_with(&format!("{pod}_")))
    })
    .await
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

async fn leader_gauge(c: &Controller) -> f64 {
    metric(&c.metrics_text().await, "sealed_secrets_controller_leader").unwrap()
}

fn sealed(
    cert: &sealed_secrets_core::Certificate,
    ns: &str,
    i: usize,
) -> sealed_secrets_core::SealedSecret {
    seal_json(
        cert,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("s-{i}"), "namespace": ns},
            "stringData": {"value": format!("secret-{i}")}
        }),
    )
}

/// Every SealedSecret `s-0..n` is Synced=True at its generation and its Secret holds the
/// right value.
async fn all_synced(client: &Client, ns: &str, n: usize) -> bool {
    let ss_api: Api<sealed_secrets_core::SealedSecret> = Api::namespaced(client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let Ok(list) = ss_api.list(&Default::default()).await else {
        return false;
    };
    let synced = list
        .items
        .iter()
        .filter(|ss| {
            ss.status
                .as_ref()
                .is_some_and(|s| s.observed_generation == ss.metadata.generation)
                && ss.synced_condition().is_some_and(|c| c.status == "True")
        })
        .count();
    if synced < n {
        return false;
    }
    let Ok(all) = secrets.list(&Default::default()).await else {
        return false;
    };
    (0..n).all(|i| {
        let name = format!("s-{i}");
        let matching: Vec<&Secret> = all
            .items
            .iter()
            .filter(|s| s.metadata.name.as_deref() == Some(name.as_str()))
            .collect();
        matching.len() == 1 && item(matching[0], "value").as_deref() == Some(&format!("secret-{i}"))
    })
}

#[tokio::test]
async fn two_replicas_elect_one_leader_fail_over_and_restart_without_decrypting() {
    let client = client().await;
    let ns = TestNs::new(&client, "ha").await;
    let ns = ns.name.as_str();
    let pod_a = format!("ha-a-{}", random_suffix());
    let pod_b = format!("ha-b-{}", random_suffix());

    // Started together on an empty namespace: one Lease holder, exactly one key.
    let a = Controller::start_with_env(ns, &[], ARGS, kubeconfig(), &[("POD_NAME", &pod_a)]);
    let b = Controller::start_with_env(ns, &[], ARGS, kubeconfig(), &[("POD_NAME", &pod_b)]);
    a.wait_ready().await;
    b.wait_ready().await;
    let first = wait_until(Duration::from_secs(10), "a Lease holder", || {
        holder(&client, ns)
    })
    .await;
    assert!(
        first.starts_with(&format!("{pod_a}_")) || first.starts_with(&format!("{pod_b}_")),
        "{first}"
    );
    // Give a (buggy) follower time to make a key of its own.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        key_secrets(&client, ns).await.len(),
        1,
        "exactly one sealing key"
    );
    let cert = a.cert().await;
    assert_eq!(
        cert.der(),
        b.cert().await.der(),
        "both replicas serve the same certificate"
    );
    let (mut leader, mut follower, follower_pod) = if first.starts_with(&format!("{pod_a}_")) {
        (a, b, pod_b.clone())
    } else {
        (b, a, pod_a.clone())
    };
    assert_eq!(leader_gauge(&leader).await, 1.0);
    assert_eq!(leader_gauge(&follower).await, 0.0);

    // SIGKILL the leader and create 300 SealedSecrets meanwhile.
    let killed = Instant::now();
    leader.stop();
    let n = 300;
    let mut tasks = Vec::new();
    for chunk in 0..10 {
        let client = client.clone();
        let cert = cert.clone();
        let ns = ns.to_string();
        tasks.push(tokio::spawn(async move {
            for i in (chunk * 30)..(chunk * 30 + 30) {
                create_ss(&client, &ns, &sealed(&cert, &ns, i)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The other replica takes the Lease within lease duration + retry period (plus the
    // request round trips).
    wait_holder(
        &client,
        ns,
        &follower_pod,
        Duration::from_secs(LEASE_SECS + RETRY_SECS + 2).saturating_sub(killed.elapsed()),
    )
    .await;
    // One more after the kill: Synced within 30 s.
    let late = Instant::now();
    create_ss(&client, ns, &sealed(&cert, ns, n)).await;
    let api: Api<sealed_secrets_core::SealedSecret> = Api::namespaced(client.clone(), ns);
    wait_until(
        Duration::from_secs(30),
        "the late SealedSecret Synced",
        || async {
            let ss = api.get_opt(&format!("s-{n}")).await.ok()??;
            (ss.synced_condition()?.status == "True").then_some(())
        },
    )
    .await;
    assert!(late.elapsed() < Duration::from_secs(30));
    wait_until(
        Duration::from_secs(60),
        "all SealedSecrets Synced",
        || async { all_synced(&client, ns, n + 1).await.then_some(()) },
    )
    .await;
    assert_eq!(leader_gauge(&follower).await, 1.0);
    assert_eq!(
        key_secrets(&client, ns).await.len(),
        1,
        "still exactly one key"
    );

    // SIGTERM of the leader hands over to a waiting replica within 5 s.
    std::mem::swap(&mut leader, &mut follower);
    let leader_pod = leader.pod_name().to_string();
    follower.restart(); // the killed one comes back, as a follower
    follower.wait_ready().await;
    let standby_pod = follower.pod_name().to_string();
    assert_ne!(standby_pod, leader_pod);
    assert!(
        holder(&client, ns)
            .await
            .unwrap()
            .starts_with(&format!("{leader_pod}_"))
    );
    let term = Instant::now();
    leader.terminate();
    wait_holder(&client, ns, &standby_pod, Duration::from_secs(5)).await;
    let handover = term.elapsed();
    eprintln!("hand-over after SIGTERM: {handover:?}");
    assert!(handover < Duration::from_secs(5), "{handover:?}");

    // Both stopped; meanwhile a Secret is edited and another deleted. The next start repairs
    // both and re-verifies every other object without decrypting it.
    follower.terminate();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut edited = secrets.get("s-7").await.unwrap();
    edited.data.as_mut().unwrap().insert(
        "value".into(),
        k8s_openapi::ByteString(b"tampered".to_vec()),
    );
    secrets
        .replace("s-7", &PostParams::default(), &edited)
        .await
        .unwrap();
    secrets.delete("s-8", &Default::default()).await.unwrap();
    follower.restart();
    wait_secret(&client, ns, "s-7", |s| {
        item(s, "value").as_deref() == Some("secret-7")
    })
    .await;
    wait_secret(&client, ns, "s-8", |s| {
        item(s, "value").as_deref() == Some("secret-8")
    })
    .await;
    let total = n + 1;
    let m = wait_until(
        Duration::from_secs(60),
        "every object re-verified",
        || async {
            let text = follower.metrics_text().await;
            let verified = metric(
                &text,
                "sealed_secrets_controller_unseal_verified_without_decryption_total",
            )?;
            (verified >= (total - 2) as f64).then_some(text)
        },
    )
    .await;
    let decrypted = metric(&m, "sealed_secrets_controller_unseal_decryptions_total").unwrap();
    assert_eq!(
        decrypted, 2.0,
        "only the edited and the deleted Secret were decrypted"
    );
    assert!(all_synced(&client, ns, total).await);
}
