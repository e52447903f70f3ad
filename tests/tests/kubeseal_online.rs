//! kubeseal's online modes against the real API server: the certificate, `--validate` and
//! `--re-encrypt` all go through the service proxy to a controller in a network namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::SystemTime;

use e2e::netns::ProxiedController;
use e2e::sealed_secrets_core::keys::{DEFAULT_KEY_TTL, self_signed_certificate};
use e2e::sealed_secrets_core::{Backend, Certificate, PrivateKey, SealedSecret};
use e2e::*;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

fn run_kubeseal(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = kubeseal()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn kc() -> String {
    kubeconfig().display().to_string()
}

#[tokio::test]
async fn fetch_cert_seal_validate_and_reencrypt_through_the_service_proxy() {
    let client = client().await;
    let ns = TestNs::new(&client, "online").await;
    let ctl = ProxiedController::start(&ns.name, "sealed-secrets-controller", &[]).await;
    let common = ["--kubeconfig", &kc(), "--controller-namespace", &ns.name];

    // --fetch-cert prints the controller's certificate.
    let out = run_kubeseal(&[&common[..], &["--fetch-cert"]].concat(), b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fetched = Certificate::from_pem(&out.stdout).unwrap();
    let keys = kubectl(&[
        "-n",
        &ns.name,
        "get",
        "secret",
        "-l",
        "sealedsecrets.bitnami.com/sealed-secrets-key=active",
        "-o",
        "json",
    ]);
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let crt_b64 = keys["items"][0]["data"]["tls.crt"].as_str().unwrap();
    let crt = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, crt_b64).unwrap();
    assert_eq!(fetched.der(), Certificate::from_pem(&crt).unwrap().der());

    // Sealing with the certificate from the cluster (no --cert), then applying.
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "web", "namespace": ns.name}, "stringData": {"token": "online-plain"}});
    let out = run_kubeseal(&common, secret.to_string().as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sealed = out.stdout.clone();
    let ss: SealedSecret = serde_json::from_slice(&sealed).unwrap();
    create_ss(&client, &ns.name, &ss).await;
    let s = wait_secret(&client, &ns.name, "web", |_| true).await;
    assert_eq!(item(&s, "token").as_deref(), Some("online-plain"));

    // --validate: good.
    let out = run_kubeseal(&[&common[..], &["--validate"]].concat(), &sealed);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // --validate: sealed for another key.
    let other = PrivateKey::generate(2048, Backend::AwsLc).unwrap();
    let other_cert =
        self_signed_certificate(&other, None, DEFAULT_KEY_TTL, SystemTime::now()).unwrap();
    let foreign = seal_json(
        &other_cert,
        json!({"metadata": {"name": "web", "namespace": ns.name},
        "stringData": {"token": "x"}}),
    );
    let out = run_kubeseal(
        &[&common[..], &["--validate"]].concat(),
        serde_json::to_string(&foreign).unwrap().as_bytes(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unable to decrypt sealed secret: web"),
        "{err}"
    );

    // A newer key appears (restored by hand, Bitnami-shaped): --re-encrypt moves to it.
    let newer = PrivateKey::generate(2048, Backend::AwsLc).unwrap();
    let newer_cert = self_signed_certificate(
        &newer,
        None,
        DEFAULT_KEY_TTL,
        SystemTime::now() + std::time::Duration::from_secs(5),
    )
    .unwrap();
    let key_secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "newer-key", "namespace": ns.name,
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "stringData": {"tls.crt": newer_cert.to_pem(), "tls.key": newer.to_pkcs1_pem().unwrap().to_string()}
    })).unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &ns.name);
    secrets
        .create(&PostParams::default(), &key_secret)
        .await
        .unwrap();
    wait_until(
        std::time::Duration::from_secs(30),
        "newest cert served",
        || async {
            let out = run_kubeseal(&[&common[..], &["--fetch-cert"]].concat(), b"");
            let c = Certificate::from_pem(&out.stdout).ok()?;
            c.matches(&newer).then_some(())
        },
    )
    .await;
    let mut with_labels: SealedSecret = ss.clone();
    with_labels.spec.template.metadata.as_mut().unwrap().labels =
        Some([("team".to_string(), "blue".to_string())].into());
    let out = run_kubeseal(
        &[&common[..], &["--re-encrypt", "-o", "yaml"]].concat(),
        serde_json::to_string(&with_labels).unwrap().as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.starts_with("---\n"));
    let reenc: SealedSecret = serde_json::from_value(
        e2e::sealed_secrets_core::codec::parse_single(text.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        reenc
            .spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap()["team"],
        "blue",
        "template labels are kept (upstream drops them)"
    );
    let opts = e2e::sealed_secrets_core::UnsealOptions::default();
    let u = e2e::sealed_secrets_core::unseal(&reenc, std::slice::from_ref(&newer), opts).unwrap();
    assert_eq!(u.secret.data.as_ref().unwrap()["token"].0, b"online-plain");

    // A wrong controller name gives upstream's hint.
    let out = run_kubeseal(
        &[
            "--kubeconfig",
            &kc(),
            "--controller-namespace",
            &ns.name,
            "--controller-name",
            "nope",
            "--fetch-cert",
        ],
        b"",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--controller-name") && err.contains("--controller-namespace"),
        "{err}"
    );
    ctl.assert_log_clean(&["online-plain"]);
}

#[tokio::test]
async fn namespace_and_context_flags_like_kubectl() {
    let client = client().await;
    let ns = TestNs::new(&client, "ctx").await;
    let _ctl = ProxiedController::start(&ns.name, "ss", &[]).await;
    // A kubeconfig with a second context whose namespace is ns.
    let original = std::fs::read_to_string(kubeconfig()).unwrap();
    let mut kcv: serde_json::Value = serde_json::from_value(
        e2e::sealed_secrets_core::codec::parse_single(original.as_bytes()).unwrap(),
    )
    .unwrap();
    let mut ctx = kcv["contexts"][0].clone();
    ctx["name"] = json!("other");
    ctx["context"]["namespace"] = json!(ns.name);
    kcv["contexts"].as_array_mut().unwrap().push(ctx);
    let path = std::env::temp_dir().join(format!("e2e-kc-{}.yaml", random_suffix()));
    std::fs::write(&path, kcv.to_string()).unwrap();
    let p = path.display().to_string();
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "n1"},
        "stringData": {"a": "b"}});
    // --context picks the namespace from that context.
    let out = run_kubeseal(
        &[
            "--kubeconfig",
            &p,
            "--context",
            "other",
            "--controller-namespace",
            &ns.name,
            "--controller-name",
            "ss",
        ],
        secret.to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ss: SealedSecret = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ss.metadata.namespace.as_deref(), Some(ns.name.as_str()));
    // -n wins over the context.
    let out = run_kubeseal(
        &[
            "--kubeconfig",
            &p,
            "--context",
            "other",
            "-n",
            "elsewhere",
            "--controller-namespace",
            &ns.name,
            "--controller-name",
            "ss",
        ],
        secret.to_string().as_bytes(),
    );
    assert!(out.status.success());
    let ss: SealedSecret = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ss.metadata.namespace.as_deref(), Some("elsewhere"));
    // SEALED_SECRETS_* variables work for the connection flags too.
    let out = kubeseal()
        .args(["--fetch-cert"])
        .env("SEALED_SECRETS_KUBECONFIG", &p)
        .env("SEALED_SECRETS_CONTROLLER_NAMESPACE", &ns.name)
        .env("SEALED_SECRETS_CONTROLLER_NAME", "ss")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-----BEGIN CERTIFICATE-----"));
    let _ = std::fs::remove_file(&path);
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), &ns.name);
    let _ = api;
}
