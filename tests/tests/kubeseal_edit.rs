//! `kubeseal set`, `kubeseal edit` and `kubeseal --re-encrypt -R` against a real API server
//! and a controller behind the service proxy: the files they write are applied and the
//! controller must unseal them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use e2e::netns::ProxiedController;
use e2e::sealed_secrets_core::codec::{self, Format};
use e2e::sealed_secrets_core::keys::{DEFAULT_KEY_TTL, self_signed_certificate};
use e2e::sealed_secrets_core::{Backend, Certificate, PrivateKey, SealedSecret};
use e2e::*;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

/// The two tests each start a controller in a network namespace; they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn run_kubeseal(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = kubeseal()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    err
}

fn kc() -> String {
    kubeconfig().display().to_string()
}

fn workdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("e2e-kubeseal-edit-{}", random_suffix()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn fetch_cert(common: &[&str]) -> Certificate {
    let out = run_kubeseal(&[common, &["--fetch-cert"]].concat(), b"", &[]);
    ok(&out);
    Certificate::from_pem(&out.stdout).unwrap()
}

fn secret(name: &str, ns: &str, scope: Option<&str>, items: &[(&str, &str)]) -> serde_json::Value {
    let data: serde_json::Map<String, serde_json::Value> = items
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut s = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns}, "stringData": data});
    if let Some(a) = scope {
        s["metadata"]["annotations"] = json!({ a: "true" });
    }
    s
}

fn apply(path: &Path) {
    kubectl(&["apply", "-f", &path.display().to_string()]);
}

async fn wait_item(client: &kube::Client, ns: &str, name: &str, key: &str, want: &str) {
    wait_secret(client, ns, name, |s| item(s, key).as_deref() == Some(want)).await;
}

#[tokio::test]
async fn set_and_edit_results_are_unsealed_by_the_controller() {
    let _serial = SERIAL.lock().await;
    let client = client().await;
    let ns = TestNs::new(&client, "kedit").await;
    let ctl = ProxiedController::start(&ns.name, "sealed-secrets-controller", &[]).await;
    let common = ["--kubeconfig", &kc(), "--controller-namespace", &ns.name];
    let cert = fetch_cert(&common).await;
    let dir = workdir();

    // One file, three scopes, three documents.
    let docs: Vec<SealedSecret> = [
        ("strict", None),
        ("nswide", Some("sealedsecrets.bitnami.com/namespace-wide")),
        ("cluster", Some("sealedsecrets.bitnami.com/cluster-wide")),
    ]
    .iter()
    .map(|(n, a)| {
        seal_json(
            &cert,
            secret(n, &ns.name, *a, &[("keep", "keep-v"), ("pw", "old")]),
        )
    })
    .collect();
    let text: String = docs
        .iter()
        .map(|d| codec::render_sealed_secret(d, Format::Yaml).unwrap())
        .collect();
    let file = dir.join("all.yaml");
    std::fs::write(&file, &text).unwrap();
    let f = file.display().to_string();
    apply(&file);
    for n in ["strict", "nswide", "cluster"] {
        wait_item(&client, &ns.name, n, "pw", "old").await;
    }

    // set, with the certificate fetched from the controller and the value from stdin.
    for n in ["strict", "nswide", "cluster"] {
        let out = run_kubeseal(
            &[&common[..], &["set", &f, "--name", n, "pw=-"]].concat(),
            format!("new-{n}").as_bytes(),
            &[],
        );
        ok(&out);
    }
    let after = std::fs::read_to_string(&file).unwrap();
    let keep_lines = |t: &str| {
        t.lines()
            .filter(|l| l.contains("keep:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(keep_lines(&after), keep_lines(&text));
    apply(&file);
    for n in ["strict", "nswide", "cluster"] {
        wait_item(&client, &ns.name, n, "pw", &format!("new-{n}")).await;
        wait_item(&client, &ns.name, n, "keep", "keep-v").await;
    }

    // edit through the live Secret (the user's own RBAC): change pw, drop keep, add extra.
    let script = dir.join("editor.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nset -e\ngrep -q '  pw: new-strict' \"$1\"\nsed -i -e 's/^  pw: .*/  pw: edited/' -e '/^  keep: /d' \"$1\"\nprintf '  extra: extra-v\\n' >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let editor = script.display().to_string();
    let out = run_kubeseal(
        &[&common[..], &["edit", &f, "--name", "strict"]].concat(),
        b"",
        &[("EDITOR", &editor)],
    );
    ok(&out);
    apply(&file);
    let s = wait_secret(&client, &ns.name, "strict", |s| {
        item(s, "pw").as_deref() == Some("edited")
    })
    .await;
    assert_eq!(item(&s, "extra").as_deref(), Some("extra-v"));
    assert_eq!(item(&s, "keep"), None);
    // The other documents were not touched by the edit.
    let now = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        &now[now.find("name: nswide").unwrap()..],
        &after[after.find("name: nswide").unwrap()..]
    );
    assert!(!ctl.logs().contains("edited"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn re_encrypt_a_tree_of_200_files_online() {
    let _serial = SERIAL.lock().await;
    let client = client().await;
    let ns = TestNs::new(&client, "kreenc").await;
    // The default rate limit of /v1/rotate (2/s per client, upstream's) would make this take
    // 100 s; the figure with it is in the README.
    let _ctl = ProxiedController::start(
        &ns.name,
        "sealed-secrets-controller",
        &["--rate-limit=1000", "--rate-limit-burst=1000"],
    )
    .await;
    let common = ["--kubeconfig", &kc(), "--controller-namespace", &ns.name];
    let old_cert = fetch_cert(&common).await;
    let dir = workdir();
    let tree = dir.join("tree");
    for i in 0..200 {
        let ss = seal_json(
            &old_cert,
            secret(
                &format!("s{i}"),
                &ns.name,
                None,
                &[("v", &format!("value-{i}"))],
            ),
        );
        let sub = tree.join(format!("app{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        let (name, fmt) = if i % 2 == 0 {
            ("yaml", Format::Yaml)
        } else {
            ("json", Format::Json)
        };
        std::fs::write(
            sub.join(format!("s{i}.{name}")),
            codec::render_sealed_secret(&ss, fmt).unwrap(),
        )
        .unwrap();
    }

    // A newer key appears: it becomes the sealing key.
    let newer = PrivateKey::generate(2048, Backend::AwsLc).unwrap();
    let newer_cert = self_signed_certificate(
        &newer,
        None,
        DEFAULT_KEY_TTL,
        SystemTime::now() + Duration::from_secs(5),
    )
    .unwrap();
    let key_secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "newer-key", "namespace": ns.name,
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "stringData": {"tls.crt": newer_cert.to_pem(), "tls.key": newer.to_pkcs1_pem().unwrap().to_string()}
    }))
    .unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &ns.name);
    secrets
        .create(&PostParams::default(), &key_secret)
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "newest cert served", || async {
        let out = run_kubeseal(&[&common[..], &["--fetch-cert"]].concat(), b"", &[]);
        let c = Certificate::from_pem(&out.stdout).ok()?;
        c.matches(&newer).then_some(())
    })
    .await;

    let t = tree.display().to_string();
    let start = Instant::now();
    let out = run_kubeseal(
        &[&common[..], &["--re-encrypt", "-R", &t]].concat(),
        b"",
        &[],
    );
    let elapsed = start.elapsed();
    let err = ok(&out);
    eprintln!("online --re-encrypt -R over 200 files: {elapsed:?}");
    assert!(
        err.contains("200 file(s): 200 re-encrypted, 0 skipped, 0 failed"),
        "{err}"
    );

    // Every file now opens with the newest key only.
    for i in 0..200 {
        let ext = if i % 2 == 0 { "yaml" } else { "json" };
        let path = tree
            .join(format!("app{}", i % 10))
            .join(format!("s{i}.{ext}"));
        let ss: SealedSecret =
            serde_json::from_value(codec::parse_single(&std::fs::read(&path).unwrap()).unwrap())
                .unwrap();
        let u =
            e2e::sealed_secrets_core::unseal(&ss, std::slice::from_ref(&newer), Default::default())
                .unwrap();
        assert_eq!(
            u.secret.data.as_ref().unwrap()["v"].0,
            format!("value-{i}").as_bytes()
        );
    }
    // And the controller unseals them all.
    kubectl(&["apply", "-R", "-f", &t]);
    for i in 0..200 {
        wait_item(
            &client,
            &ns.name,
            &format!("s{i}"),
            "v",
            &format!("value-{i}"),
        )
        .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
