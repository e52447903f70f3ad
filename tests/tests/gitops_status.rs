//! The status contract GitOps tools read (README, "Status contract"): exactly one `Synced`
//! condition, a `Ready` condition mirroring it, `observedGeneration` following every
//! reconcile, `lastTransitionTime` moving only on change; and what Argo CD's and kstatus's
//! (Flux's) health rules make of the live object in each state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e::sealed_secrets_core::{Certificate, SealedSecret};
use e2e::*;
use kube::{Api, Client};
use serde_json::{Value, json};

fn sealed(cert: &Certificate, ns: &str, name: &str, password: &str) -> SealedSecret {
    seal_json(
        cert,
        json!({
            "metadata": {"name": name, "namespace": ns},
            "stringData": {"password": password}
        }),
    )
}

async fn live(client: &Client, ns: &str, name: &str) -> Value {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

fn conditions<'a>(obj: &'a Value, type_: &str) -> Vec<&'a Value> {
    obj["status"]["conditions"]
        .as_array()
        .map(|c| c.iter().filter(|c| c["type"] == type_).collect())
        .unwrap_or_default()
}

/// Argo CD's built-in health check for `bitnami.com/SealedSecret`: the first `Synced`
/// condition decides.
fn argo_health(obj: &Value) -> &'static str {
    match conditions(obj, "Synced").first().map(|c| &c["status"]) {
        Some(s) if s == "True" => "Healthy",
        Some(s) if s == "False" => "Degraded",
        _ => "Progressing",
    }
}

/// The proposed Argo CD variant: Progressing until the status is about this generation.
fn argo_health_with_generation(obj: &Value) -> &'static str {
    if obj["status"]["observedGeneration"] != obj["metadata"]["generation"] {
        return "Progressing";
    }
    argo_health(obj)
}

/// kstatus (Flux's health checks), as the issue states the rules.
fn kstatus(obj: &Value) -> &'static str {
    let observed = &obj["status"]["observedGeneration"];
    if !observed.is_null() && *observed != obj["metadata"]["generation"] {
        return "InProgress";
    }
    let is_true = |t: &str| conditions(obj, t).iter().any(|c| c["status"] == "True");
    if is_true("Reconciling") {
        return "InProgress";
    }
    if is_true("Stalled") {
        return "Failed";
    }
    match conditions(obj, "Ready").first().map(|c| &c["status"]) {
        Some(s) if s == "True" => "Current",
        Some(s) if s == "False" => "Failed",
        Some(_) => "InProgress",
        None => "Current",
    }
}

/// The contract itself, checked on every state that has a status.
fn assert_contract(obj: &Value) {
    let synced = conditions(obj, "Synced");
    let ready = conditions(obj, "Ready");
    assert_eq!(synced.len(), 1, "exactly one Synced: {obj}");
    assert_eq!(ready.len(), 1, "exactly one Ready: {obj}");
    assert_eq!(
        obj["status"]["conditions"][0]["type"], "Synced",
        "Synced first (printer columns)"
    );
    assert_eq!(
        synced[0]["status"], ready[0]["status"],
        "Ready mirrors Synced"
    );
    assert!(
        synced[0]["status"] == "True" || synced[0]["status"] == "False",
        "{obj}"
    );
    if synced[0]["status"] == "False" {
        assert!(
            !synced[0]["message"].as_str().unwrap_or_default().is_empty(),
            "a failure says why: {obj}"
        );
    }
}

/// Waits until the status is about the current generation with `Synced` = `want`.
async fn wait_status(client: &Client, ns: &str, name: &str, want: &str) -> Value {
    wait_until(
        Duration::from_secs(60),
        &format!("{ns}/{name} Synced={want} at its generation"),
        || async {
            let obj = live(client, ns, name).await;
            let current = obj["status"]["observedGeneration"] == obj["metadata"]["generation"];
            let ready_too = conditions(&obj, "Ready")
                .first()
                .is_some_and(|c| c["status"] == want);
            (current
                && ready_too
                && conditions(&obj, "Synced")
                    .first()
                    .is_some_and(|c| c["status"] == want))
            .then_some(obj)
        },
    )
    .await
}

#[tokio::test]
async fn observed_generation_moves_when_the_outcome_does_not() {
    let client = client().await;
    let ns = TestNs::new(&client, "status-gen").await;
    let ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    create_ss(&client, &ns.name, &sealed(&cert, &ns.name, "s", "pw")).await;
    let first = wait_status(&client, &ns.name, "s", "True").await;
    assert_contract(&first);
    assert_eq!(first["metadata"]["generation"], 1);
    // Sealed again with the same value: a new spec (new generation) whose outcome, and
    // whose Secret, stay the same (upstream's #1355 kept the old observedGeneration).
    let again = sealed(&cert, &ns.name, "s", "pw");
    // Timestamps have a resolution of one second: a moved lastTransitionTime would show.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    replace_ss_spec(&client, &ns.name, "s", again.spec).await;
    let second = wait_status(&client, &ns.name, "s", "True").await;
    assert_eq!(second["metadata"]["generation"], 2);
    assert_eq!(second["status"]["observedGeneration"], 2);
    assert_contract(&second);
    for t in ["Synced", "Ready"] {
        assert_eq!(
            conditions(&second, t)[0]["lastTransitionTime"],
            conditions(&first, t)[0]["lastTransitionTime"],
            "{t}: no transition, so lastTransitionTime stays"
        );
    }
    let secret = get_secret(&client, &ns.name, "s").await.unwrap();
    assert_eq!(item(&secret, "password").as_deref(), Some("pw"));
}

#[tokio::test]
async fn a_failure_fixed_by_a_new_spec_ends_synced_and_ready() {
    let client = client().await;
    let ns = TestNs::new(&client, "status-fix").await;
    let ctl = Controller::start(&ns.name, &[], &["--max-unseal-retries=1"]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    let (_, other) = new_key_pair();
    create_ss(&client, &ns.name, &sealed(&other, &ns.name, "s", "pw")).await;
    let failed = wait_status(&client, &ns.name, "s", "False").await;
    assert_contract(&failed);
    let msg = conditions(&failed, "Ready")[0]["message"].as_str().unwrap();
    assert!(msg.contains("(password)"), "{msg}");
    // Timestamps have a resolution of one second: make a transition visible.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    replace_ss_spec(
        &client,
        &ns.name,
        "s",
        sealed(&cert, &ns.name, "s", "pw").spec,
    )
    .await;
    let fixed = wait_status(&client, &ns.name, "s", "True").await;
    assert_contract(&fixed);
    for t in ["Synced", "Ready"] {
        let c = conditions(&fixed, t)[0];
        assert!(
            c.get("message").is_none_or(Value::is_null),
            "stale message: {c}"
        );
        assert_ne!(
            c["lastTransitionTime"],
            conditions(&failed, t)[0]["lastTransitionTime"],
            "{t} transitioned"
        );
    }
    assert!(get_secret(&client, &ns.name, "s").await.is_some());
}

#[tokio::test]
async fn argo_cd_and_kstatus_read_each_state_right() {
    let client = client().await;
    let ns = TestNs::new(&client, "status-tools").await;
    let mut ctl = Controller::start(&ns.name, &[], &["--max-unseal-retries=1"]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    let (_, other) = new_key_pair();

    // (state, object, Argo CD today, Argo CD with the generation rule, kstatus)
    let mut rows: Vec<(&str, Value, &str, &str, &str)> = Vec::new();

    create_ss(&client, &ns.name, &sealed(&cert, &ns.name, "ok", "pw")).await;
    let ok = wait_status(&client, &ns.name, "ok", "True").await;
    rows.push(("synced", ok, "Healthy", "Healthy", "Current"));

    create_ss(&client, &ns.name, &sealed(&other, &ns.name, "bad", "pw")).await;
    let bad = wait_status(&client, &ns.name, "bad", "False").await;
    rows.push(("cannot unseal", bad, "Degraded", "Degraded", "Failed"));

    // A new spec the controller has not seen yet (it is down): the status is about the
    // previous generation.
    ctl.stop();
    replace_ss_spec(
        &client,
        &ns.name,
        "ok",
        sealed(&cert, &ns.name, "ok", "pw2").spec,
    )
    .await;
    let pending = live(&client, &ns.name, "ok").await;
    assert_eq!(pending["metadata"]["generation"], 2);
    rows.push((
        "new spec, not yet seen",
        pending,
        "Healthy",
        "Progressing",
        "InProgress",
    ));

    ctl.restart();
    ctl.wait_ready().await;
    let caught_up = wait_status(&client, &ns.name, "ok", "True").await;
    rows.push((
        "new spec, synced",
        caught_up,
        "Healthy",
        "Healthy",
        "Current",
    ));

    // The failing one fixed by a new spec.
    replace_ss_spec(
        &client,
        &ns.name,
        "bad",
        sealed(&cert, &ns.name, "bad", "pw").spec,
    )
    .await;
    let fixed = wait_status(&client, &ns.name, "bad", "True").await;
    rows.push(("failure fixed", fixed, "Healthy", "Healthy", "Current"));

    for (state, obj, argo, argo_gen, ks) in &rows {
        assert_eq!(argo_health(obj), *argo, "Argo CD, {state}: {obj}");
        assert_eq!(
            argo_health_with_generation(obj),
            *argo_gen,
            "Argo CD (generation rule), {state}: {obj}"
        );
        assert_eq!(kstatus(obj), *ks, "kstatus, {state}: {obj}");
        assert_contract(obj);
    }
}
