//! The validating admission webhook, called by the real API server: a SealedSecret that this
//! controller cannot unseal is refused by `kubectl apply`, a good one is admitted, a broken
//! template is refused by its syntax only (no plaintext oracle), and with the controller down
//! `failurePolicy: Ignore` admits everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use e2e::sealed_secrets_core::{Certificate, SealedSecret};
use e2e::*;
use serde_json::json;

/// `kubectl` that may fail: (success, stdout, stderr).
fn kubectl_try(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_json(v: &serde_json::Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("e2e-webhook-{}.json", random_suffix()));
    std::fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path
}

/// `kubectl apply -f -` of a SealedSecret into `ns` (optionally `--dry-run=server`). From
/// stdin, so that two answers about the same object compare equal byte for byte.
fn apply(ns: &str, ss: &SealedSecret, dry_run: bool) -> (bool, String, String) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut v = serde_json::to_value(ss).unwrap();
    v["metadata"]["namespace"] = json!(ns);
    let mut args = vec!["apply", "-f", "-"];
    if dry_run {
        args.push("--dry-run=server");
    }
    let mut child = Command::new("kubectl")
        .args(&args)
        .env("KUBECONFIG", kubeconfig())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&v).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A ValidatingWebhookConfiguration (deleted on drop) sending the SealedSecrets of one
/// namespace to `https://127.0.0.1:PORT`, like `deploy/` does through the Service.
struct Vwc {
    name: String,
}

impl Vwc {
    fn install(ns: &str, port: u16) -> Self {
        let name = format!("e2e-webhook-{ns}");
        let v = json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{
                "name": "validate.sealedsecrets.bitnami.com",
                "clientConfig": {"url": format!("https://127.0.0.1:{port}/v1/validate")},
                "rules": [{
                    "apiGroups": ["bitnami.com"], "apiVersions": ["v1alpha1"],
                    "operations": ["CREATE", "UPDATE"], "resources": ["sealedsecrets"],
                    "scope": "Namespaced"
                }],
                // (`kubernetes.io/metadata.name` only exists from Kubernetes 1.21 on.)
                "namespaceSelector": {"matchLabels": {"e2e-webhook": ns}},
                "failurePolicy": "Ignore",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5
            }]
        });
        let path = write_json(&v);
        kubectl(&["apply", "-f", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        Self { name }
    }

    fn ca_bundle(&self) -> String {
        let (_, out, _) = kubectl_try(&[
            "get",
            "validatingwebhookconfiguration",
            &self.name,
            "-o",
            "jsonpath={.webhooks[0].clientConfig.caBundle}",
        ]);
        out
    }
}

impl Drop for Vwc {
    fn drop(&mut self) {
        let _ = kubectl_try(&["delete", "validatingwebhookconfiguration", &self.name]);
    }
}

/// A controller serving the webhook on a free port, its configuration, and its namespace.
struct Setup {
    ns: TestNs,
    vwc: Vwc,
    ctl: Controller,
    cert: Certificate,
}

async fn setup(prefix: &str) -> Setup {
    let client = client().await;
    let ns = TestNs::new(&client, prefix).await;
    kubectl(&[
        "label",
        "namespace",
        &ns.name,
        &format!("e2e-webhook={}", ns.name),
    ]);
    let port = free_port();
    let vwc = Vwc::install(&ns.name, port);
    let ctl = Controller::start(
        &ns.name,
        &[],
        &[
            &format!("--webhook-listen-addr=127.0.0.1:{port}"),
            &format!("--webhook-configuration-name={}", vwc.name),
        ],
    );
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    // The controller made its CA and put it into the configuration.
    let vwc_ref = &vwc;
    wait_until(Duration::from_secs(30), "caBundle patched", || async move {
        (!vwc_ref.ca_bundle().is_empty()).then_some(())
    })
    .await;
    Setup { ns, vwc, ctl, cert }
}

fn sealed(cert: &Certificate, ns: &str, name: &str) -> SealedSecret {
    seal_json(
        cert,
        json!({
            "metadata": {"name": name, "namespace": ns},
            "stringData": {"password": "hunter2", "username": "admin"}
        }),
    )
}

/// Waits until the API server calls the webhook (its configuration is picked up by an
/// informer): a server-side dry run of `ss` is refused.
async fn wait_rejected(ns: &str, ss: &SealedSecret) -> String {
    wait_until(Duration::from_secs(30), "the webhook rejects", || async {
        let (ok, _, err) = apply(ns, ss, true);
        (!ok).then_some(err)
    })
    .await
}

#[tokio::test]
async fn webhook_rejects_what_cannot_be_unsealed_and_admits_the_rest() {
    let mut s = setup("webhook").await;
    let ns = s.ns.name.clone();
    let client = client().await;

    // Sealed for another cluster's key: refused by `kubectl apply`, naming the items.
    let (_, other_cert) = new_key_pair();
    let foreign = sealed(&other_cert, &ns, "foreign");
    wait_rejected(&ns, &foreign).await;
    let (ok, _, err) = apply(&ns, &foreign, false);
    assert!(!ok, "a foreign SealedSecret must be refused");
    assert!(err.contains("denied the request"), "{err}");
    assert!(
        err.contains(&format!(
            "SealedSecret {ns}/foreign cannot be unsealed by this cluster's sealed-secrets controller"
        )),
        "{err}"
    );
    assert!(
        err.contains("no key could decrypt secret (password, username)"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("admin\n"),
        "{err}"
    );
    let api: kube::Api<SealedSecret> = kube::Api::namespaced(client.clone(), &ns);
    assert!(api.get_opt("foreign").await.unwrap().is_none());

    // Sealed for another name (same key): the label does not match, refused too.
    let mut renamed = sealed(&s.cert, &ns, "good");
    renamed.metadata.name = Some("renamed".into());
    let (ok, _, err) = apply(&ns, &renamed, false);
    assert!(!ok && err.contains("renamed cannot be unsealed"), "{err}");

    // A good one is admitted and unsealed.
    let good = sealed(&s.cert, &ns, "good");
    let (ok, out, err) = apply(&ns, &good, false);
    assert!(ok, "{out}{err}");
    wait_synced_true(&client, &ns, "good").await;

    // A template that does not parse is refused by its syntax (the items open).
    let mut bad_template = sealed(&s.cert, &ns, "tpl");
    bad_template.spec.template.data =
        Some([("config".to_string(), "user={{ .username ".to_string())].into());
    let (ok, _, err) = apply(&ns, &bad_template, false);
    assert!(!ok, "a template that does not parse must be refused");
    assert!(
        err.contains("template.data[\"config\"] does not parse"),
        "{err}"
    );
    assert!(!err.contains("no key could decrypt"), "{err}");

    // A metadata-only update of an admitted object is never re-checked (it stays possible to
    // relabel or delete an object whose key is gone).
    kubectl(&["label", "-n", &ns, "sealedsecret", "good", "team=a"]);

    // Every review is logged, never with content.
    let logs = s.ctl.logs();
    assert!(logs.contains("admission review"), "{logs}");
    assert!(logs.contains("rejected"), "{logs}");
    assert!(!logs.contains("hunter2"));

    // Controller down: `failurePolicy: Ignore` admits even the foreign one.
    s.ctl.stop();
    let (ok, out, err) = apply(&ns, &foreign, false);
    assert!(ok, "failurePolicy Ignore must admit: {out}{err}");
    assert!(api.get_opt("foreign").await.unwrap().is_some());
    drop(s.vwc);
}

#[tokio::test]
async fn webhook_is_no_plaintext_oracle() {
    let s = setup("webhook-oracle").await;
    let ns = s.ns.name.clone();
    let client = client().await;
    let (_, other_cert) = new_key_pair();
    wait_rejected(&ns, &sealed(&other_cert, &ns, "warmup")).await;

    // Two probes that differ only in a predicate over the plaintext. Executing the template
    // would fail for exactly one of them; the webhook must answer both alike.
    let probe = |cert: &Certificate, prefix: &str| {
        let mut p = sealed(cert, &ns, "probe");
        p.spec.template.data = Some(
            [(
                "x".to_string(),
                format!("{{{{ if hasPrefix \"{prefix}\" .password }}}}{{{{ fail \"hit\" }}}}{{{{ end }}}}"),
            )]
            .into(),
        );
        p
    };
    for cert in [&s.cert, &other_cert] {
        let hit = apply(&ns, &probe(cert, "h"), true);
        let miss = apply(&ns, &probe(cert, "z"), true);
        assert_eq!(
            hit, miss,
            "the answers differ: the webhook leaks the plaintext"
        );
    }
    assert!(
        apply(&ns, &probe(&s.cert, "h"), true).0,
        "both are admitted"
    );
    assert!(
        !apply(&ns, &probe(&other_cert, "h"), true).0,
        "both are refused"
    );

    // The probe is a real one: the reconcile (which executes templates) tells them apart,
    // and says so only in the status of an object the user could create anyway.
    let (ok, _, err) = apply(&ns, &probe(&s.cert, "h"), false);
    assert!(ok, "{err}");
    let msg = wait_synced_false(&client, &ns, "probe").await;
    assert!(msg.contains("hit"), "{msg}");
}
