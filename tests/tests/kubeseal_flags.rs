//! kubeseal's kubectl connection flags against the real API server: `--as`, `--as-group`,
//! `--token`, `--client-certificate`/`--client-key`, `--server`, `--certificate-authority`,
//! `--insecure-skip-tls-verify`. Each is checked by who the API server says made the request
//! (or by the TLS or connection error), so a flag that is ignored fails its test.
//!
//! No controller is needed: `--fetch-cert` first GETs the controller's Service (a plain API
//! request), then asks for `/v1/cert.pem` through the service proxy. The test namespace has
//! that Service without endpoints, so a client allowed to read Services gets as far as the
//! proxy ("cannot fetch certificate"), and one that is not stops at the Service ("cannot get
//! sealed secret service").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use e2e::*;
use serde_json::{Value, json};

const SERVICE: &str = "sealed-secrets-controller";

/// Where a `--fetch-cert` got to.
#[derive(Debug, PartialEq)]
enum Reached {
    /// Not allowed to read the Service (or no answer from the API server at all).
    NotTheService,
    /// Read the Service; the proxy request failed (there is no controller behind it).
    TheProxy,
}

struct Run {
    reached: Reached,
    stderr: String,
}

/// `kubeseal --kubeconfig KC --fetch-cert` for the Service in `ns`, plus `args`.
fn fetch_cert(kc: &Path, ns: &str, args: &[&str]) -> Run {
    let out = kubeseal()
        .arg("--kubeconfig")
        .arg(kc)
        .args(["--controller-namespace", ns, "--controller-name", SERVICE])
        .args(["--fetch-cert", "--request-timeout=20s"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "no controller, yet: {stderr}");
    let reached = if stderr.contains("cannot fetch certificate") {
        Reached::TheProxy
    } else {
        Reached::NotTheService
    };
    Run { reached, stderr }
}

fn apply(v: &Value) {
    let path = write_kubeconfig_file(v, "obj");
    kubectl(&["apply", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
}

/// Writes JSON to a fresh 0600 temporary file (kubeconfigs hold credentials).
fn write_kubeconfig_file(v: &Value, what: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("e2e-kubeseal-flags-{what}-{}", random_suffix()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    f.write_all(v.to_string().as_bytes()).unwrap();
    path
}

/// The admin kubeconfig as JSON (one cluster, one user, one context).
fn admin_kubeconfig() -> Value {
    serde_json::from_str(&kubectl(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "--flatten",
        "-o",
        "json",
    ]))
    .unwrap()
}

/// The control plane's PKI directory (next to its kubeconfig).
fn pki(file: &str) -> String {
    kubeconfig()
        .parent()
        .unwrap()
        .join("pki")
        .join(file)
        .display()
        .to_string()
}

/// A namespace holding a Service named like the controller's, with no endpoints, and a Role
/// that may read it (bound to nobody yet).
async fn setup(prefix: &str) -> TestNs {
    let client = client().await;
    let ns = TestNs::new(&client, prefix).await;
    apply(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": ns.name},
        "spec": {"ports": [{"name": "http", "port": 8080}]}
    }));
    apply(&json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "read-services", "namespace": ns.name},
        "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}]
    }));
    ns
}

fn bind(ns: &str, subject: Value) {
    apply(&json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": format!("read-services-{}", random_suffix()), "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-services"},
        "subjects": [subject]
    }));
}

#[tokio::test]
async fn as_and_as_group_impersonate() {
    let ns = setup("ks-as").await;
    let ns = ns.name.as_str();
    let kc = kubeconfig();
    let group = format!("e2e-readers-{}", random_suffix());
    bind(
        ns,
        json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group}),
    );

    // The admin reads the Service.
    let admin = fetch_cert(kc, ns, &[]);
    assert_eq!(admin.reached, Reached::TheProxy, "{}", admin.stderr);

    // --as a user without RBAC: forbidden, naming that user.
    let nobody = format!("e2e-nobody-{}", random_suffix());
    let run = fetch_cert(kc, ns, &["--as", &nobody]);
    assert_eq!(run.reached, Reached::NotTheService, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot get sealed secret service"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("forbidden"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("User \"{nobody}\"")),
        "{}",
        run.stderr
    );

    // --as-group a group that may read Services: past the Service, and the proxy request is
    // still made as that user (forbidden: the group may not use the proxy).
    let member = format!("e2e-member-{}", random_suffix());
    let run = fetch_cert(kc, ns, &["--as", &member, "--as-group", &group]);
    assert_eq!(run.reached, Reached::TheProxy, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("User \"{member}\"")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("services/proxy"), "{}", run.stderr);
    // The same user without the group stops at the Service.
    let run = fetch_cert(kc, ns, &["--as", &member]);
    assert_eq!(run.reached, Reached::NotTheService, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("User \"{member}\"")),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn token_and_client_certificate_authenticate() {
    let ns = setup("ks-token").await;
    let ns = ns.name.as_str();
    kubectl(&["-n", ns, "create", "serviceaccount", "reader"]);
    bind(
        ns,
        json!({"kind": "ServiceAccount", "name": "reader", "namespace": ns}),
    );
    let token = kubectl(&["-n", ns, "create", "token", "reader", "--duration=1h"]);
    let token = token.trim();

    // A kubeconfig with the cluster and its CA but no credentials: anonymous.
    let mut anon = admin_kubeconfig();
    anon["users"][0]["user"] = json!({});
    let anon = write_kubeconfig_file(&anon, "anon");
    let run = fetch_cert(&anon, ns, &[]);
    assert_eq!(run.reached, Reached::NotTheService, "{}", run.stderr);
    assert!(run.stderr.contains("system:anonymous"), "{}", run.stderr);

    // --token of the ServiceAccount: it reads the Service, and the proxy request is its own.
    let run = fetch_cert(&anon, ns, &["--token", token]);
    assert_eq!(run.reached, Reached::TheProxy, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("system:serviceaccount:{ns}:reader")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(token), "token in the error");
    // A token the API server does not know.
    let run = fetch_cert(&anon, ns, &["--token", "not-a-valid-token"]);
    assert_eq!(run.reached, Reached::NotTheService, "{}", run.stderr);
    assert!(run.stderr.contains("Unauthorized"), "{}", run.stderr);

    // --client-certificate/--client-key of the admin: past the Service, not forbidden.
    let run = fetch_cert(
        &anon,
        ns,
        &[
            "--client-certificate",
            &pki("admin.crt"),
            "--client-key",
            &pki("admin.key"),
        ],
    );
    assert_eq!(run.reached, Reached::TheProxy, "{}", run.stderr);
    assert!(!run.stderr.contains("forbidden"), "{}", run.stderr);
    let _ = std::fs::remove_file(&anon);
}

#[tokio::test]
async fn server_and_tls_flags_are_used() {
    let ns = setup("ks-tls").await;
    let ns = ns.name.as_str();
    let admin = admin_kubeconfig();
    let server = admin["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string();

    // --server replaces the kubeconfig's address (here one where nothing listens).
    let mut dead = admin.clone();
    dead["clusters"][0]["cluster"]["server"] = json!(format!("https://127.0.0.1:{}", free_port()));
    let dead = write_kubeconfig_file(&dead, "dead");
    let run = fetch_cert(&dead, ns, &[]);
    assert_eq!(run.reached, Reached::NotTheService, "{}", run.stderr);
    assert!(!run.stderr.contains("forbidden"), "{}", run.stderr);
    let run = fetch_cert(&dead, ns, &["--server", &server]);
    assert_eq!(run.reached, Reached::TheProxy, "{}", run.stderr);

    // A CA that did not sign the API server's certificate.
    let (_, stranger) = new_key_pair();
    let wrong_ca = std::env::temp_dir().join(format!("e2e-wrong-ca-{}.pem", random_suffix()));
    std::fs::write(&wrong_ca, stranger.to_pem()).unwrap();
    let wrong = wrong_ca.display().to_string();
    // The TLS handshake fails: kube reports a connection error (the same address answers
    // with the right CA, below).
    let tls_refused = |run: &Run| {
        run.reached == Reached::NotTheService
            && run.stderr.contains("(Connect)")
            && !run.stderr.contains("forbidden")
    };

    // --certificate-authority replaces the kubeconfig's CA: wrong → TLS error.
    let kc = kubeconfig();
    let run = fetch_cert(kc, ns, &["--certificate-authority", &wrong]);
    assert!(tls_refused(&run), "{}", run.stderr);
    // --insecure-skip-tls-verify: the same wrong CA no longer matters.
    let run = fetch_cert(
        kc,
        ns,
        &[
            "--certificate-authority",
            &wrong,
            "--insecure-skip-tls-verify",
        ],
    );
    assert_eq!(run.reached, Reached::TheProxy, "{}", run.stderr);

    // A kubeconfig with the wrong CA: refused, unless --certificate-authority gives the right
    // one or --insecure-skip-tls-verify is set.
    let mut bad = admin.clone();
    bad["clusters"][0]["cluster"]["certificate-authority-data"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        stranger.to_pem()
    ));
    let bad = write_kubeconfig_file(&bad, "wrong-ca");
    let run = fetch_cert(&bad, ns, &[]);
    assert!(tls_refused(&run), "{}", run.stderr);
    let run = fetch_cert(&bad, ns, &["--certificate-authority", &pki("ca.crt")]);
    assert_eq!(run.reached, Reached::TheProxy, "{}", run.stderr);
    let run = fetch_cert(&bad, ns, &["--insecure-skip-tls-verify"]);
    assert_eq!(run.reached, Reached::TheProxy, "{}", run.stderr);

    for f in [dead, bad, wrong_ca] {
        let _ = std::fs::remove_file(f);
    }
}
