//! Reconcile semantics against the real control plane: existing Secrets (`managed`, `patch`,
//! unmanaged), ownership, wrong keys, Secret types, immutability, scopes and templates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use e2e::sealed_secrets_core::annotations::{
    CLUSTER_WIDE, MANAGED, NAMESPACE_WIDE, PATCH, SKIP_SET_OWNER_REFERENCES,
};
use e2e::sealed_secrets_core::reconcile::IMMUTABLE_MESSAGE;
use e2e::sealed_secrets_core::{Certificate, SealedSecret};
use e2e::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::DeleteParams;
use kube::{Api, Client};
use serde_json::json;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn labels(s: &Secret) -> BTreeMap<String, String> {
    s.metadata.labels.clone().unwrap_or_default()
}

/// The Secret's annotations, less the controller's own MAC record
/// (`sealedsecrets.bitnami.com/unsealed-mac`, see the README's HA section), which every Secret
/// the controller writes must carry.
fn annotations(s: &Secret) -> BTreeMap<String, String> {
    let mut a = s.metadata.annotations.clone().unwrap_or_default();
    let mac = a.remove(e2e::sealed_secrets_core::syncmac::ANNOTATION);
    assert!(
        mac.is_some_and(|m| m.starts_with("v1;")),
        "{:?} carries no MAC record",
        s.metadata.name
    );
    a
}

fn data_keys(s: &Secret) -> Vec<String> {
    s.data
        .as_ref()
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

/// The uid of the SealedSecret controlling `s`, if any.
fn controller_uid(s: &Secret) -> Option<String> {
    s.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true) && r.kind == "SealedSecret")
        .map(|r| r.uid.clone())
}

async fn ss_uid(client: &Client, ns: &str, name: &str) -> String {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    api.get(name).await.unwrap().metadata.uid.unwrap()
}

/// Creates a plain Secret (given as JSON without namespace).
async fn pre_existing(client: &Client, ns: &str, secret: serde_json::Value) -> Secret {
    let mut s: Secret = serde_json::from_value(secret).unwrap();
    s.metadata.namespace = Some(ns.to_string());
    create_secret(client, ns, &s).await
}

fn seal_for(cert: &Certificate, ns: &str, secret: serde_json::Value) -> SealedSecret {
    let mut v = secret;
    v["metadata"]["namespace"] = json!(ns);
    seal_json(cert, v)
}

async fn start(prefix: &str) -> (Client, TestNs, Controller, Certificate) {
    let client = client().await;
    let ns = TestNs::new(&client, prefix).await;
    let ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    (client, ns, ctl, cert)
}

#[tokio::test]
async fn managed_secret_is_taken_over_and_recreated_unmanaged_is_left_alone() {
    let (client, ns, ctl, cert) = start("managed").await;
    let ns = ns.name.as_str();

    // `managed: "true"`: data, labels and annotations replaced, ownership taken.
    pre_existing(
        &client,
        ns,
        json!({"metadata": {"name": "taken", "annotations": {MANAGED: "true"},
                            "labels": {"old": "label"}},
               "stringData": {"pw": "old-managed-pw", "stale": "stale-value"}}),
    )
    .await;
    let ss = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "taken", "labels": {"mylabel": "myvalue"}},
               "stringData": {"pw": "managed-new-pw"}}),
    );
    create_ss(&client, ns, &ss).await;
    wait_synced_true(&client, ns, "taken").await;
    let uid = ss_uid(&client, ns, "taken").await;
    let s = wait_secret(&client, ns, "taken", |s| {
        controller_uid(s).as_deref() == Some(uid.as_str())
    })
    .await;
    assert_eq!(data_keys(&s), ["pw"], "data replaced, not merged");
    assert_eq!(item(&s, "pw").as_deref(), Some("managed-new-pw"));
    assert_eq!(labels(&s), map(&[("mylabel", "myvalue")]));
    assert!(
        annotations(&s).is_empty(),
        "annotations replaced by the template's (none): {:?}",
        annotations(&s)
    );
    wait_event(
        &client,
        ns,
        "taken",
        "Unsealed",
        "SealedSecret unsealed successfully",
    )
    .await;

    // A taken-over Secret that is deleted comes back, owned.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets
        .delete("taken", &DeleteParams::default())
        .await
        .unwrap();
    let again = wait_secret(&client, ns, "taken", |x| x.metadata.uid != s.metadata.uid).await;
    assert_eq!(item(&again, "pw").as_deref(), Some("managed-new-pw"));
    assert_eq!(controller_uid(&again).as_deref(), Some(uid.as_str()));

    // No `managed`/`patch`: the Secret is not touched and the SealedSecret says why.
    let foreign = pre_existing(
        &client,
        ns,
        json!({"metadata": {"name": "foreign", "labels": {"owner": "someone-else"}},
               "stringData": {"pw": "foreign-pw"}}),
    )
    .await;
    let ss = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "foreign"}, "stringData": {"pw": "sealed-foreign-pw"}}),
    );
    create_ss(&client, ns, &ss).await;
    let cond = wait_synced(&client, ns, "foreign").await;
    assert_eq!(cond.status, "False");
    assert_eq!(
        cond.message.as_deref(),
        Some("Resource \"foreign\" already exists and is not managed by SealedSecret")
    );
    assert_eq!(cond.reason.as_deref(), Some("unmanaged"));
    wait_event(
        &client,
        ns,
        "foreign",
        "ErrUpdateFailed",
        "Resource \"foreign\" already exists and is not managed by SealedSecret",
    )
    .await;
    let now = get_secret(&client, ns, "foreign").await.unwrap();
    assert_eq!(
        now.metadata.resource_version, foreign.metadata.resource_version,
        "unmanaged Secret modified"
    );
    assert_eq!(item(&now, "pw").as_deref(), Some("foreign-pw"));
    assert!(now.metadata.owner_references.is_none());

    // Annotating it `managed` later is enough: the change to the Secret triggers a retry
    // (upstream only notices on its next backoff retry or a restart).
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let patch = json!({"metadata": {"annotations": {MANAGED: "true"}}});
    secrets
        .patch(
            "foreign",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let uid = ss_uid(&client, ns, "foreign").await;
    let s = wait_secret(&client, ns, "foreign", |s| {
        controller_uid(s).as_deref() == Some(uid.as_str())
    })
    .await;
    assert_eq!(item(&s, "pw").as_deref(), Some("sealed-foreign-pw"));
    assert!(labels(&s).is_empty(), "labels replaced: {:?}", labels(&s));
    wait_synced_true(&client, ns, "foreign").await;
    ctl.assert_log_clean(&[]);
    let logs = ctl.logs();
    for p in [
        "sealed-foreign-pw",
        "foreign-pw",
        "managed-new-pw",
        "old-managed-pw",
    ] {
        assert!(!logs.contains(p), "plaintext {p} in the log");
    }
}

#[tokio::test]
async fn patch_merges_and_managed_patch_also_takes_ownership() {
    let (client, ns, ctl, cert) = start("patch").await;
    let ns = ns.name.as_str();
    for (name, extra) in [
        ("patched", vec![(PATCH, "true")]),
        ("both", vec![(PATCH, "true"), (MANAGED, "true")]),
    ] {
        let mut ann = map(&extra);
        ann.insert("keep-ann".into(), "a".into());
        pre_existing(
            &client,
            ns,
            json!({"metadata": {"name": name, "annotations": ann,
                                "labels": {"keep-label": "l", "shared": "old"}},
                   "stringData": {"keep": "kept-value", "pw": "old-patch-pw"}}),
        )
        .await;
        let ss = seal_for(
            &cert,
            ns,
            json!({"metadata": {"name": name, "labels": {"shared": "new", "mylabel": "v"},
                                "annotations": {"new-ann": "b"}},
                   "stringData": {"pw": "new-patch-pw", "extra": "extra-value"}}),
        );
        create_ss(&client, ns, &ss).await;
    }
    for name in ["patched", "both"] {
        wait_synced_true(&client, ns, name).await;
        let s = wait_secret(&client, ns, name, |s| {
            item(s, "pw").as_deref() == Some("new-patch-pw")
        })
        .await;
        assert_eq!(item(&s, "keep").as_deref(), Some("kept-value"), "{name}");
        assert_eq!(item(&s, "extra").as_deref(), Some("extra-value"), "{name}");
        assert_eq!(
            labels(&s),
            map(&[("keep-label", "l"), ("shared", "new"), ("mylabel", "v")]),
            "{name}: labels merged, sealed ones win"
        );
        let ann = annotations(&s);
        assert_eq!(ann.get("keep-ann").map(String::as_str), Some("a"), "{name}");
        assert_eq!(ann.get("new-ann").map(String::as_str), Some("b"), "{name}");
        assert_eq!(ann.get(PATCH).map(String::as_str), Some("true"), "{name}");
        let uid = ss_uid(&client, ns, name).await;
        if name == "patched" {
            assert!(
                s.metadata.owner_references.is_none(),
                "patch alone takes no ownership"
            );
        } else {
            assert_eq!(controller_uid(&s).as_deref(), Some(uid.as_str()));
            assert_eq!(ann.get(MANAGED).map(String::as_str), Some("true"));
        }
    }
    ctl.assert_log_clean(&[]);
    let logs = ctl.logs();
    for p in ["kept-value", "new-patch-pw", "old-patch-pw", "extra-value"] {
        assert!(!logs.contains(p), "plaintext {p} in the log");
    }
}

#[tokio::test]
async fn skip_set_owner_references_leaves_the_secret_behind() {
    let (client, ns, _ctl, cert) = start("skipowner").await;
    let ns = ns.name.as_str();
    let kept = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "kept", "annotations": {SKIP_SET_OWNER_REFERENCES: "true"}},
               "stringData": {"pw": "kept-pw"}}),
    );
    let control = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "control"}, "stringData": {"pw": "control-pw"}}),
    );
    create_ss(&client, ns, &kept).await;
    create_ss(&client, ns, &control).await;
    wait_synced_true(&client, ns, "kept").await;
    wait_synced_true(&client, ns, "control").await;
    let s = wait_secret(&client, ns, "kept", |_| true).await;
    assert!(
        s.metadata.owner_references.is_none(),
        "no ownerReference: {:?}",
        s.metadata.owner_references
    );
    assert_eq!(item(&s, "pw").as_deref(), Some("kept-pw"));
    wait_secret(&client, ns, "control", |s| {
        s.metadata.owner_references.is_some()
    })
    .await;

    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    api.delete("kept", &DeleteParams::default()).await.unwrap();
    api.delete("control", &DeleteParams::default())
        .await
        .unwrap();
    // Once the garbage collector has removed the owned one, it has seen the other too.
    wait_until(
        Duration::from_secs(60),
        "owned Secret garbage-collected",
        || async {
            get_secret(&client, ns, "control")
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;
    let still = get_secret(&client, ns, "kept").await;
    assert_eq!(
        still.as_ref().and_then(|s| item(s, "pw")).as_deref(),
        Some("kept-pw"),
        "Secret without ownerReference survives its SealedSecret"
    );
}

#[tokio::test]
async fn sealed_for_another_key_fails_with_upstream_message() {
    let (client, ns, ctl, _cert) = start("wrongkey").await;
    let ns = ns.name.as_str();
    let (_other_key, other_cert) = new_key_pair();
    let ss = seal_for(
        &other_cert,
        ns,
        json!({"metadata": {"name": "wrongkey"}, "stringData": {"b": "wrong-b", "a": "wrong-a"}}),
    );
    create_ss(&client, ns, &ss).await;
    let cond = wait_synced(&client, ns, "wrongkey").await;
    assert_eq!(cond.status, "False");
    assert_eq!(
        cond.message.as_deref(),
        Some("no key could decrypt secret (a, b)")
    );
    assert_eq!(cond.reason.as_deref(), Some("unseal"));
    wait_event(
        &client,
        ns,
        "wrongkey",
        "ErrUnsealFailed",
        "Failed to unseal: no key could decrypt secret (a, b)",
    )
    .await;
    assert!(get_secret(&client, ns, "wrongkey").await.is_none());
    let text = ctl.metrics_text().await;
    assert!(
        text.contains(&format!(
            "sealed_secrets_controller_unseal_errors_total{{reason=\"unseal\",namespace=\"{ns}\"}}"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn custom_types_and_template_metadata_are_copied() {
    let (client, ns, _ctl, cert) = start("types").await;
    let ns = ns.name.as_str();
    let docker = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"c3R...zE2"}}}"#;
    let ss = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "docker", "labels": {"app": "web"},
                            "annotations": {"note": "kept"}},
               "type": "kubernetes.io/dockerconfigjson",
               "stringData": {".dockerconfigjson": docker}}),
    );
    create_ss(&client, ns, &ss).await;
    let ss = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "basic", "labels": {"tier": "db"}},
               "type": "kubernetes.io/basic-auth",
               "stringData": {"username": "dbuser", "password": "db-pass"}}),
    );
    create_ss(&client, ns, &ss).await;

    wait_synced_true(&client, ns, "docker").await;
    let s = wait_secret(&client, ns, "docker", |_| true).await;
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/dockerconfigjson"));
    assert_eq!(item(&s, ".dockerconfigjson").as_deref(), Some(docker));
    assert_eq!(labels(&s), map(&[("app", "web")]));
    assert_eq!(annotations(&s), map(&[("note", "kept")]));

    wait_synced_true(&client, ns, "basic").await;
    let s = wait_secret(&client, ns, "basic", |_| true).await;
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(item(&s, "username").as_deref(), Some("dbuser"));
    assert_eq!(item(&s, "password").as_deref(), Some("db-pass"));
    assert_eq!(labels(&s), map(&[("tier", "db")]));
}

#[tokio::test]
async fn immutable_secret_update_is_explained_once_and_recreated_after_delete() {
    let (client, ns, ctl, cert) = start("immutable").await;
    let ns = ns.name.as_str();
    let v1 = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "imm"}, "immutable": true, "stringData": {"pw": "imm-v1"}}),
    );
    create_ss(&client, ns, &v1).await;
    wait_synced_true(&client, ns, "imm").await;
    let s = wait_secret(&client, ns, "imm", |_| true).await;
    assert_eq!(s.immutable, Some(true));
    assert_eq!(item(&s, "pw").as_deref(), Some("imm-v1"));

    let v2 = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "imm"}, "immutable": true, "stringData": {"pw": "imm-v2"}}),
    );
    replace_ss_spec(&client, ns, "imm", v2.spec).await;
    let cond = wait_synced(&client, ns, "imm").await;
    assert_eq!(cond.status, "False");
    assert_eq!(cond.message.as_deref(), Some(IMMUTABLE_MESSAGE));
    assert_eq!(cond.reason.as_deref(), Some("immutable"));
    wait_event(&client, ns, "imm", "ErrUpdateFailed", "immutable").await;
    // No retry storm: exponential backoff would have retried 3 times by now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let n = event_count(&client, ns, "imm", "ErrUpdateFailed").await;
    assert!((1..=2).contains(&n), "{n} ErrUpdateFailed events");
    let errors = metric_value(
        &ctl.metrics_text().await,
        "sealed_secrets_controller_unseal_errors_total{reason=\"immutable\"",
    )
    .unwrap_or(0.0);
    assert!((1.0..=2.0).contains(&errors), "{errors} immutable errors");
    let s = get_secret(&client, ns, "imm").await.unwrap();
    assert_eq!(item(&s, "pw").as_deref(), Some("imm-v1"));
    // Its new generation is pending (an older generation having synced does not count).
    wait_metric_eq(
        &ctl,
        "sealed_secrets_controller_pending_sealedsecrets ",
        1.0,
    )
    .await;

    // Deleting the Secret lets the controller recreate it with the new data.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets
        .delete("imm", &DeleteParams::default())
        .await
        .unwrap();
    let s = wait_secret(&client, ns, "imm", |s| {
        item(s, "pw").as_deref() == Some("imm-v2")
    })
    .await;
    assert_eq!(s.immutable, Some(true));
    wait_synced_true(&client, ns, "imm").await;
    wait_metric_eq(
        &ctl,
        "sealed_secrets_controller_pending_sealedsecrets ",
        0.0,
    )
    .await;
}

#[tokio::test]
async fn scopes_allow_exactly_their_moves() {
    let client = client().await;
    let home = TestNs::new(&client, "scope-a").await;
    let away = TestNs::new(&client, "scope-b").await;
    let ctl = Controller::start(&home.name, &[&away.name], &[]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    let (a, b) = (home.name.as_str(), away.name.as_str());

    let strict = seal_for(
        &cert,
        a,
        json!({"metadata": {"name": "strict"}, "stringData": {"pw": "strict-pw"}}),
    );
    let nw = seal_for(
        &cert,
        a,
        json!({"metadata": {"name": "nw", "annotations": {NAMESPACE_WIDE: "true"}},
               "stringData": {"pw": "nw-pw"}}),
    );
    let cw = seal_for(
        &cert,
        a,
        json!({"metadata": {"name": "cw", "annotations": {CLUSTER_WIDE: "true"}},
               "stringData": {"pw": "cw-pw"}}),
    );
    let nw_ann = [(NAMESPACE_WIDE, "true")];
    let cw_ann = [(CLUSTER_WIDE, "true")];
    // (namespace, name, object, expected to unseal, plaintext)
    let cases: Vec<(&str, &str, SealedSecret, bool, &str)> = vec![
        (a, "strict", strict.clone(), true, "strict-pw"),
        (
            a,
            "strict-renamed",
            ss_with_spec("strict-renamed", &strict.spec, &[]),
            false,
            "",
        ),
        (
            b,
            "strict",
            ss_with_spec("strict", &strict.spec, &[]),
            false,
            "",
        ),
        (
            a,
            "nw-renamed",
            ss_with_spec("nw-renamed", &nw.spec, &nw_ann),
            true,
            "nw-pw",
        ),
        (b, "nw", ss_with_spec("nw", &nw.spec, &nw_ann), false, ""),
        (
            a,
            "cw-renamed",
            ss_with_spec("cw-renamed", &cw.spec, &cw_ann),
            true,
            "cw-pw",
        ),
        (
            b,
            "cw-moved",
            ss_with_spec("cw-moved", &cw.spec, &cw_ann),
            true,
            "cw-pw",
        ),
    ];
    for (ns, _, ss, _, _) in &cases {
        create_ss(&client, ns, ss).await;
    }
    for (ns, name, _, ok, plain) in &cases {
        let cond = wait_synced(&client, ns, name).await;
        if *ok {
            assert_eq!(cond.status, "True", "{ns}/{name}: {cond:?}");
            let s = wait_secret(&client, ns, name, |_| true).await;
            assert_eq!(item(&s, "pw").as_deref(), Some(*plain), "{ns}/{name}");
        } else {
            assert_eq!(cond.status, "False", "{ns}/{name} must not unseal");
            assert_eq!(
                cond.message.as_deref(),
                Some("no key could decrypt secret (pw)"),
                "{ns}/{name}"
            );
            assert!(get_secret(&client, ns, name).await.is_none(), "{ns}/{name}");
        }
    }
}

#[tokio::test]
async fn templates_render_override_items_and_report_errors() {
    let (client, ns, ctl, cert) = start("templates").await;
    let ns = ns.name.as_str();
    let mut ss = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "tmpl"},
               "stringData": {"user": "admin", "pw": "tmpl-p@ss", "a.b": "dotted-secret"}}),
    );
    ss.spec.template.data = Some(map(&[
        ("auth", "{{ .user }}:{{ .pw | b64enc }}"),
        ("dotted", "{{ index . \"a.b\" }}"),
        ("user", "override-{{ .user }}"),
    ]));
    create_ss(&client, ns, &ss).await;

    let mut bad = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "tmpl-bad"}, "stringData": {"x": "tmpl-bad-x"}}),
    );
    bad.spec.template.data = Some(map(&[("home", "{{ env \"HOME\" }}")]));
    create_ss(&client, ns, &bad).await;

    wait_synced_true(&client, ns, "tmpl").await;
    let s = wait_secret(&client, ns, "tmpl", |_| true).await;
    let b64 = base64::engine::general_purpose::STANDARD.encode("tmpl-p@ss");
    assert_eq!(item(&s, "auth"), Some(format!("admin:{b64}")));
    assert_eq!(item(&s, "dotted").as_deref(), Some("dotted-secret"));
    assert_eq!(
        item(&s, "user").as_deref(),
        Some("override-admin"),
        "a template overrides the decrypted item of the same name"
    );
    assert_eq!(item(&s, "pw").as_deref(), Some("tmpl-p@ss"));
    assert_eq!(item(&s, "a.b").as_deref(), Some("dotted-secret"));

    let cond = wait_synced(&client, ns, "tmpl-bad").await;
    assert_eq!(cond.status, "False");
    let msg = cond.message.unwrap_or_default();
    assert!(
        msg.contains("function \"env\" not defined") && msg.contains("home"),
        "{msg}"
    );
    wait_event(
        &client,
        ns,
        "tmpl-bad",
        "ErrUnsealFailed",
        "function \"env\" not defined",
    )
    .await;
    assert!(get_secret(&client, ns, "tmpl-bad").await.is_none());
    ctl.assert_log_clean(&[]);
    let logs = ctl.logs();
    for p in ["tmpl-p@ss", "dotted-secret", "tmpl-bad-x", &b64] {
        assert!(!logs.contains(p), "plaintext {p} in the log");
    }
}

#[tokio::test]
async fn sealedsecret_recreated_under_the_same_name_converges() {
    let (client, ns, _ctl, cert) = start("ssrecreate").await;
    let ns = ns.name.as_str();
    let v1 = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "again"}, "stringData": {"pw": "again-v1"}}),
    );
    create_ss(&client, ns, &v1).await;
    wait_synced_true(&client, ns, "again").await;
    let old_uid = ss_uid(&client, ns, "again").await;

    // Delete and recreate at once: the old Secret (owned by the old uid) may still be there
    // until the garbage collector removes it; the new object must end up owning a new Secret.
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    api.delete("again", &DeleteParams::default()).await.unwrap();
    let v2 = seal_for(
        &cert,
        ns,
        json!({"metadata": {"name": "again"}, "stringData": {"pw": "again-v2"}}),
    );
    create_ss(&client, ns, &v2).await;
    let new_uid = ss_uid(&client, ns, "again").await;
    assert_ne!(new_uid, old_uid);
    let s = wait_secret(&client, ns, "again", |s| {
        controller_uid(s).as_deref() == Some(new_uid.as_str())
    })
    .await;
    assert_eq!(item(&s, "pw").as_deref(), Some("again-v2"));
    wait_synced_true(&client, ns, "again").await;
}
