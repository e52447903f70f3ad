//! The controller's HTTP API (`/healthz`, `/readyz`, `/v1/cert.pem`, `/v1/verify`,
//! `/v1/rotate`), its rate limit, and the metrics endpoint, on a real controller process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use e2e::sealed_secrets_core::{
    Certificate, PrivateKey, SealedSecret, UnsealOptions, codec, unseal,
};
use e2e::*;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

fn pw_secret(ns: &str, name: &str, pw: &str) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": ns}, "stringData": {"pw": pw}})
}

fn body(ss: &SealedSecret) -> Vec<u8> {
    serde_json::to_vec(ss).unwrap()
}

async fn post(ctl: &Controller, path: &str, content_type: &str, body: &[u8]) -> HttpResponse {
    http_request(ctl.api, "POST", path, content_type, body)
        .await
        .unwrap()
}

fn tls(s: &Secret, key: &str) -> Vec<u8> {
    s.data.as_ref().unwrap()[key].0.clone()
}

#[tokio::test]
async fn health_cert_and_verify_answers() {
    let client = client().await;
    let ns = TestNs::new(&client, "httpverify").await;
    let ctl = Controller::start(
        &ns.name,
        &[],
        &["--rate-limit=1000", "--rate-limit-burst=1000"],
    );
    ctl.wait_ready().await;
    let ns = ns.name.as_str();

    let (code, b) = http(ctl.api, "GET", "/healthz", b"").await.unwrap();
    assert_eq!((code, b.as_slice()), (200, b"ok\n".as_slice()));
    let (code, _) = http(ctl.api, "GET", "/readyz", b"").await.unwrap();
    assert_eq!(code, 200);

    let r = http_request(ctl.api, "GET", "/v1/cert.pem", "text/plain", b"")
        .await
        .unwrap();
    assert_eq!(r.code, 200);
    assert_eq!(r.header("content-type"), Some("application/x-pem-file"));
    let served = Certificate::from_pem(&r.body).unwrap();
    let keys = key_secrets(&client, ns).await;
    assert_eq!(keys.len(), 1);
    let stored = Certificate::from_pem(&tls(&keys[0], "tls.crt")).unwrap();
    assert_eq!(served.der(), stored.der());
    assert!(String::from_utf8_lossy(&r.body).starts_with("-----BEGIN CERTIFICATE-----"));

    let good = seal_json(&served, pw_secret(ns, "verified", "verify-pw"));
    let r = post(&ctl, "/v1/verify", "application/json", &body(&good)).await;
    assert_eq!(r.code, 200, "JSON body");
    let yaml = codec::to_yaml(&good).unwrap();
    let r = post(&ctl, "/v1/verify", "application/yaml", yaml.as_bytes()).await;
    assert_eq!(r.code, 200, "YAML body");

    // Every unsealing failure gets the same answer: 409, empty body.
    let (_, other) = new_key_pair();
    let wrong_key = seal_json(&other, pw_secret(ns, "verified", "verify-pw"));
    let mut truncated = good.clone();
    let v = truncated.spec.encrypted_data.get_mut("pw").unwrap();
    let raw = STANDARD.decode(v.as_bytes()).unwrap();
    *v = STANDARD.encode(&raw[..raw.len() / 2]);
    let mut renamed = good.clone();
    renamed.metadata.name = Some("renamed".into());
    for (what, ss) in [
        ("wrong key", &wrong_key),
        ("truncated", &truncated),
        ("renamed", &renamed),
    ] {
        let r = post(&ctl, "/v1/verify", "application/json", &body(ss)).await;
        assert_eq!(r.code, 409, "{what}");
        assert!(r.body.is_empty(), "{what}: {:?}", r.body);
    }

    // Not a SealedSecret: 400 (upstream answers 500 to decode errors).
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}});
    for b in [
        serde_json::to_vec(&secret).unwrap(),
        b"{not json".to_vec(),
        format!("{yaml}\n---\n{yaml}").into_bytes(),
    ] {
        let r = post(&ctl, "/v1/verify", "application/json", &b).await;
        assert_eq!(r.code, 400, "{}", String::from_utf8_lossy(&b));
    }

    // Over 2 MiB: 413, for both endpoints.
    let mut huge = good.clone();
    huge.spec
        .encrypted_data
        .insert("padding".into(), "A".repeat(2 * 1024 * 1024 + 16));
    let huge = body(&huge);
    for path in ["/v1/verify", "/v1/rotate"] {
        let r = post(&ctl, path, "application/json", &huge).await;
        assert_eq!(r.code, 413, "{path}");
    }

    // Unknown routes and wrong methods.
    let (code, _) = http(ctl.api, "GET", "/v1/verify", b"").await.unwrap();
    assert_eq!(code, 405);
    let (code, _) = http(ctl.api, "GET", "/nope", b"").await.unwrap();
    assert_eq!(code, 404);
    ctl.assert_log_clean(&["verify-pw"]);
}

#[tokio::test]
async fn rotate_reseals_for_the_newest_key_and_keeps_the_template() {
    let client = client().await;
    let ns = TestNs::new(&client, "httprotate").await;
    let ctl = Controller::start(
        &ns.name,
        &[],
        &[
            "--key-renew-period=0",
            "--rate-limit=100",
            "--rate-limit-burst=100",
        ],
    );
    ctl.wait_ready().await;
    let ns = ns.name.as_str();
    let first = ctl.cert().await;
    let original = seal_json(
        &first,
        json!({"metadata": {"name": "rot", "namespace": ns,
                            "labels": {"team": "a"}, "annotations": {"note": "kept"}},
               "type": "kubernetes.io/basic-auth",
               "stringData": {"username": "rot-user", "password": "rot-pw"}}),
    );

    // Renewal now (SIGUSR1 works even with the period at 0).
    let pid = ctl.pid().unwrap().to_string();
    let st = std::process::Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .unwrap();
    assert!(st.success());
    let newest = wait_until(Duration::from_secs(30), "renewed key served", || async {
        let c = ctl.cert().await;
        (c.der() != first.der()).then_some(c)
    })
    .await;
    let keys = key_secrets(&client, ns).await;
    assert_eq!(keys.len(), 2);
    let private = |cert: &Certificate| -> PrivateKey {
        let s = keys
            .iter()
            .find(|s| Certificate::from_pem(&tls(s, "tls.crt")).unwrap().der() == cert.der())
            .unwrap();
        PrivateKey::from_pem(&tls(s, "tls.key"), e2e::sealed_secrets_core::Backend::AwsLc).unwrap()
    };
    let (old_key, new_key) = (private(&first), private(&newest));

    let r = post(&ctl, "/v1/rotate", "application/json", &body(&original)).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let rotated: SealedSecret = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        rotated.spec.template, original.spec.template,
        "template kept"
    );
    assert_eq!(rotated.metadata.name.as_deref(), Some("rot"));
    for k in ["username", "password"] {
        assert_ne!(
            rotated.spec.encrypted_data[k],
            original.spec.encrypted_data[k]
        );
    }
    let opts = UnsealOptions::default();
    assert!(unseal(&rotated, std::slice::from_ref(&old_key), opts).is_err());
    let u = unseal(&rotated, std::slice::from_ref(&new_key), opts).unwrap();
    let s = &u.secret;
    assert_eq!(s.data.as_ref().unwrap()["password"].0, b"rot-pw");
    assert_eq!(s.metadata.labels.as_ref().unwrap()["team"], "a");
    assert_eq!(s.metadata.annotations.as_ref().unwrap()["note"], "kept");
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    // YAML in works too; a SealedSecret no key opens is 409 like verify (upstream: 500).
    let yaml = codec::to_yaml(&original).unwrap();
    let r = post(&ctl, "/v1/rotate", "application/yaml", yaml.as_bytes()).await;
    assert_eq!(r.code, 200);
    let (_, other) = new_key_pair();
    let foreign = seal_json(&other, pw_secret(ns, "rot", "rot-pw"));
    let r = post(&ctl, "/v1/rotate", "application/json", &body(&foreign)).await;
    assert_eq!((r.code, r.body.len()), (409, 0));

    // The rotated object works in the cluster.
    create_ss(&client, ns, &rotated).await;
    wait_synced_true(&client, ns, "rot").await;
    let s = wait_secret(&client, ns, "rot", |_| true).await;
    assert_eq!(item(&s, "username").as_deref(), Some("rot-user"));
    ctl.assert_log_clean(&["rot-pw"]);
}

#[tokio::test]
async fn verify_is_rate_limited_with_retry_after() {
    let client = client().await;
    let ns = TestNs::new(&client, "httplimit").await;
    let ctl = Controller::start(&ns.name, &[], &["--rate-limit=1", "--rate-limit-burst=2"]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    let ss = seal_json(&cert, pw_secret(&ns.name, "limited", "limit-pw"));
    let b = body(&ss);
    let mut codes = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let r = post(&ctl, "/v1/verify", "application/json", &b).await;
        if r.code == 429 {
            retry_after = r.header("retry-after").map(str::to_string);
        }
        codes.push(r.code);
    }
    assert!(codes.contains(&429), "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    assert_eq!(codes[0], 200);
    let secs: u64 = retry_after.expect("Retry-After on 429").parse().unwrap();
    assert!((1..=2).contains(&secs), "Retry-After {secs}");
    // /v1/cert.pem is not limited.
    for _ in 0..5 {
        let (code, _) = http(ctl.api, "GET", "/v1/cert.pem", b"").await.unwrap();
        assert_eq!(code, 200);
    }
    // The bucket refills.
    wait_until(Duration::from_secs(10), "verify allowed again", || async {
        let r = post(&ctl, "/v1/verify", "application/json", &b).await;
        (r.code == 200).then_some(())
    })
    .await;
    // /v1/rotate is limited too.
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(post(&ctl, "/v1/rotate", "application/json", &b).await.code);
    }
    assert!(codes.contains(&429), "rotate not limited: {codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    assert!(
        codes.iter().filter(|c| **c == 200).count() <= 2,
        "more than the burst: {codes:?}"
    );
}

/// `/readyz` is 503 while the first key is being generated. Made deterministic with a key
/// size whose generation takes far longer than the checks (16384 bits go through the pure
/// Rust generator): the controller is killed long before it finishes.
#[tokio::test]
async fn readyz_is_503_until_a_key_exists() {
    let client = client().await;
    let ns = TestNs::new(&client, "httpready").await;
    let mut ctl = Controller::start(
        &ns.name,
        &[],
        &["--key-size=16384", "--allow-non-constant-time-keys"],
    );
    let api = ctl.api;
    wait_until(Duration::from_secs(30), "HTTP up", || async move {
        let (code, _) = http(api, "GET", "/healthz", b"").await.ok()?;
        (code == 200).then_some(())
    })
    .await;
    let (code, b) = http(ctl.api, "GET", "/readyz", b"").await.unwrap();
    assert_eq!(code, 503, "{}", String::from_utf8_lossy(&b));
    let (code, b) = http(ctl.api, "GET", "/v1/cert.pem", b"").await.unwrap();
    assert_eq!(
        (code, String::from_utf8_lossy(&b).trim()),
        (500, "cannot get certificate")
    );
    assert!(key_secrets(&client, &ns.name).await.is_empty());
    let (code, _) = http(ctl.api, "GET", "/readyz", b"").await.unwrap();
    assert_eq!(code, 503);
    ctl.stop();
}

#[tokio::test]
async fn metrics_are_exported() {
    let client = client().await;
    let home = TestNs::new(&client, "metrics-a").await;
    let away = TestNs::new(&client, "metrics-b").await;
    // No error retries: the failing object fails exactly once, so counts are exact.
    let ctl = Controller::start(&home.name, &[&away.name], &["--max-unseal-retries=0"]);
    ctl.wait_ready().await;
    let (a, b) = (home.name.as_str(), away.name.as_str());
    let cert = ctl.cert().await;
    let (_, other) = new_key_pair();
    let mut good_a = seal_json(&cert, pw_secret(a, "good", "metrics-pw"));
    good_a.metadata.labels = Some([("app.kubernetes.io/instance".into(), "inst".into())].into());
    create_ss(&client, a, &good_a).await;
    create_ss(
        &client,
        b,
        &seal_json(&cert, pw_secret(b, "good", "metrics-pw")),
    )
    .await;
    create_ss(
        &client,
        b,
        &seal_json(&other, pw_secret(b, "bad", "metrics-pw")),
    )
    .await;
    wait_synced_true(&client, a, "good").await;
    wait_synced_true(&client, b, "good").await;
    wait_synced_false(&client, b, "bad").await;
    let (code, _) = http(ctl.api, "GET", "/v1/cert.pem", b"").await.unwrap();
    assert_eq!(code, 200);

    let p = "sealed_secrets_controller_";
    // One of the three is not synced; counted once across both watched namespaces.
    wait_metric_eq(&ctl, &format!("{p}pending_sealedsecrets "), 1.0).await;
    let text = ctl.metrics_text().await;
    let has = |s: &str| assert!(text.contains(s), "missing {s:?} in\n{text}");
    // scripts/test.sh builds the whole run with the tree's git revision (as the images).
    let revision = option_env!("SEALED_SECRETS_BUILD_REVISION")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| format!("+{r}"))
        .unwrap_or_default();
    has(&format!(
        "{p}build_info{{revision=\"{}{revision}\"}} 1",
        env!("CARGO_PKG_VERSION")
    ));
    assert!(metric_value(&text, &format!("{p}unseal_requests_total ")).unwrap() >= 3.0);
    let value = |prefix: String| {
        metric_value(&text, &prefix).unwrap_or_else(|| panic!("missing {prefix:?} in\n{text}"))
    };
    assert_eq!(
        value(format!(
            "{p}unseal_errors_total{{reason=\"unseal\",namespace=\"{b}\"}} "
        )),
        1.0
    );
    has(&format!(
        "{p}condition_info{{namespace=\"{a}\",name=\"good\",condition=\"Synced\",ss_app_kubernetes_io_instance=\"inst\"}} 1"
    ));
    has(&format!(
        "{p}condition_info{{namespace=\"{b}\",name=\"bad\",condition=\"Synced\",ss_app_kubernetes_io_instance=\"\"}} -1"
    ));
    // Two GETs of the certificate: `ctl.cert()` and the one above.
    assert_eq!(
        value(format!(
            "{p}http_requests_total{{path=\"/v1/cert.pem\",code=\"200\",method=\"GET\"}} "
        )),
        2.0
    );
    has(&format!(
        "{p}http_request_duration_seconds_bucket{{le=\"0.005\",path=\"/v1/cert.pem\",method=\"GET\"}}"
    ));
    assert_eq!(
        value(format!(
            "{p}http_request_duration_seconds_count{{path=\"/v1/cert.pem\",method=\"GET\"}} "
        )),
        2.0
    );
    assert!(
        value(format!(
            "{p}reconcile_duration_seconds_count{{result=\"success\"}} "
        )) >= 2.0
    );
    assert_eq!(
        value(format!(
            "{p}reconcile_duration_seconds_count{{result=\"error\"}} "
        )),
        1.0
    );
    has(&format!("{p}keys_loaded 1"));
    let fp = ctl_fingerprint(&cert);
    let secret = key_secrets(&client, a).await[0]
        .metadata
        .name
        .clone()
        .unwrap();
    let labels = format!("{{fingerprint=\"{fp}\",secret=\"{secret}\"}}");
    assert_eq!(
        metric_value(&text, &format!("{p}key_unsealed_items{labels}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, &format!("{p}key_sealedsecrets{labels}")),
        Some(2.0),
        "{text}"
    );

    // Deleting a SealedSecret drops its condition series.
    let api: kube::Api<SealedSecret> = kube::Api::namespaced(client.clone(), b);
    api.delete("bad", &Default::default()).await.unwrap();
    wait_until(
        Duration::from_secs(20),
        "condition series dropped",
        || async {
            let t = ctl.metrics_text().await;
            let gone = !t.contains(&format!("namespace=\"{b}\",name=\"bad\""));
            let pending = metric_value(&t, &format!("{p}pending_sealedsecrets ")) == Some(0.0);
            (gone && pending).then_some(())
        },
    )
    .await;
}

/// The key's fingerprint computed independently of the code under test: Python's
/// `cryptography` (installed by scripts/test.sh) gives the OpenSSH public key, whose wire
/// encoding is hashed like `ssh-keygen -l` does (`SHA256:` + unpadded base64).
fn ctl_fingerprint(cert: &Certificate) -> String {
    use std::io::Write as _;
    let script = r#"
import sys, base64, hashlib
from cryptography import x509
from cryptography.hazmat.primitives import serialization
key = x509.load_pem_x509_certificate(sys.stdin.buffer.read()).public_key()
line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
blob = base64.b64decode(line.split()[1])
print("SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with `cryptography` is required (scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cert.to_pem().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 cryptography fingerprint failed"
    );
    let fp = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(fp.starts_with("SHA256:") && fp.len() == 50, "{fp}");
    fp
}
