//! `kubeseal` CLI: `--recovery-unseal` with `--recovery-private-key`: keys in every accepted form, file modes, errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::ffi::OsStr;

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use sealed_secrets_core::codec::parse_documents;
use serde_json::{Value, json};

/// `kubeseal --recovery-unseal ARGS` with one `--recovery-private-key` flag for each of `keys`.
fn recover<K: AsRef<OsStr>>(sb: &Sandbox, keys: &[K], args: &[&str]) -> Command {
    let mut c = sb.cmd(["--recovery-unseal"]);
    for k in keys {
        c.arg("--recovery-private-key").arg(k);
    }
    c.args(args);
    c
}

/// `kubeseal --recovery-unseal -f sealed.json` with `keys`: the unsealed Secret must be the
/// fixture's.
fn check_recovers_fixture<K: AsRef<OsStr>>(sb: &Sandbox, keys: &[K]) {
    check_unsealed_json(&stdout_of(&mut recover(sb, keys, &["-f", "sealed.json"])));
}

fn check_unsealed_json(out: &[u8]) {
    let v: Value = serde_json::from_slice(out).unwrap();
    assert_eq!(v["kind"], "Secret");
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["metadata"]["name"], "app");
    assert_eq!(v["metadata"]["namespace"], "prod");
    assert_eq!(v["metadata"]["labels"]["app"], "demo");
    assert_eq!(v["type"], "Opaque");
    assert_eq!(v["data"]["pw"], b64(PW));
    assert_eq!(v["data"]["user"], b64(USER));
    assert!(out.ends_with(b"}\n"));
}

#[test]
fn recovery_unseal_with_pem_keys() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    for key in [key_path(), key_pkcs8_path()] {
        check_recovers_fixture(&sb, &[key]);
    }
    // From stdin, as YAML.
    let out = stdout_of(
        sb.bare()
            .arg("--recovery-unseal")
            .arg(format!("--recovery-private-key={}", key_path().display()))
            .args(["-o", "yaml"])
            .write_stdin(sb.read("sealed.json")),
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("---\n"), "{text}");
    let v = parse_documents(&out).unwrap().remove(0);
    assert_eq!(v["kind"], "Secret");
    assert_eq!(v["data"]["pw"], b64(PW));
    // To a -w file.
    recover(
        &sb,
        &[key_path()],
        &["-f", "sealed.json", "-w", "plain.json"],
    )
    .assert()
    .success()
    .stdout("");
    check_unsealed_json(sb.read("plain.json").as_bytes());
}

/// `kubeseal ARGS` run by `sh` under `umask`, in the sandbox.
fn under_umask(sb: &Sandbox, umask: &str, args: &[&str]) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_kubeseal"))
        .args(args)
        .env_clear()
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", sb.path("no-such-kubeconfig"))
        .current_dir(sb.dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "kubeseal {args:?} under umask {umask}");
}

fn mode_of(sb: &Sandbox, name: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(sb.path(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn recovered_plaintext_is_0600_and_sealed_output_follows_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write("in.json", secret("app", Some("prod")).to_string());
    let key = key_path();
    let key = key.to_str().unwrap();
    let cert = cert_path();
    let cert = cert.to_str().unwrap();
    let recover_to = |umask: &str, target: &str| {
        under_umask(
            &sb,
            umask,
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                key,
                "-f",
                "sealed.json",
                "-w",
                target,
            ],
        );
    };
    for (umask, sealed_mode) in [("022", 0o644), ("002", 0o664), ("077", 0o600)] {
        let plain = format!("plain-{umask}.json");
        recover_to(umask, &plain);
        assert_eq!(
            mode_of(&sb, &plain),
            0o600,
            "recovered plaintext under umask {umask}"
        );
        check_unsealed_json(sb.read(&plain).as_bytes());
        let out = format!("sealed-{umask}.json");
        under_umask(&sb, umask, &["--cert", cert, "-f", "in.json", "-w", &out]);
        assert_eq!(
            mode_of(&sb, &out),
            sealed_mode,
            "sealed output under umask {umask}"
        );
    }
    // Overwriting a world-readable file with plaintext narrows it to 0600; overwriting a sealed
    // file keeps that file's own mode.
    sb.write("wide.json", "old\n");
    std::fs::set_permissions(sb.path("wide.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    recover_to("022", "wide.json");
    assert_eq!(mode_of(&sb, "wide.json"), 0o600);
    sb.write("kept.json", "old\n");
    std::fs::set_permissions(sb.path("kept.json"), std::fs::Permissions::from_mode(0o640)).unwrap();
    under_umask(
        &sb,
        "022",
        &["--cert", cert, "-f", "in.json", "-w", "kept.json"],
    );
    assert_eq!(mode_of(&sb, "kept.json"), 0o640);
    // No temporary file is left behind.
    assert!(
        sb.listing().iter().all(|n| !n.starts_with(".kubeseal-")),
        "{:?}",
        sb.listing()
    );
}

#[test]
fn recovery_unseal_with_key_secrets_and_lists() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    let own = key_secret("sealed-secrets-keyaaaaa", &test_key_pem());
    let other = key_secret("sealed-secrets-keybbbbb", &other_key_pem());
    sb.write(
        "key-secret.json",
        serde_json::to_string_pretty(&own).unwrap(),
    );
    sb.write(
        "key-secret.yaml",
        sealed_secrets_core::codec::to_yaml(&own).unwrap(),
    );
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [other, own]});
    sb.write("keys-list.json", list.to_string());
    sb.write(
        "keys-list.yaml",
        sealed_secrets_core::codec::to_yaml(&list).unwrap(),
    );
    sb.write(
        "two-docs.yaml",
        format!(
            "---\n{}---\n{}",
            sealed_secrets_core::codec::to_yaml(&other).unwrap(),
            sealed_secrets_core::codec::to_yaml(&own).unwrap()
        ),
    );
    for file in [
        "key-secret.json",
        "key-secret.yaml",
        "keys-list.json",
        "keys-list.yaml",
        "two-docs.yaml",
    ] {
        check_recovers_fixture(&sb, &[file]);
    }
}

#[test]
fn recovery_unseal_right_key_among_wrong_ones() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write("other.pem", other_key_pem());
    sb.write("own.pem", test_key_pem());
    // Repeated flags, in either order.
    for (a, b) in [("other.pem", "own.pem"), ("own.pem", "other.pem")] {
        check_recovers_fixture(&sb, &[a, b]);
    }
    // A comma list.
    check_recovers_fixture(&sb, &["other.pem,own.pem"]);
}

#[test]
fn recovery_unseal_wrong_key() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write("other.pem", other_key_pem());
    let stderr = assert_fails(
        &sb,
        || recover(&sb, &["other.pem"], &["-f", "sealed.json"]),
        None,
        &[],
        &[],
    );
    assert_eq!(stderr, "error: no key could decrypt secret (pw, user)\n");
    // The same key, but the object was moved: its label no longer matches.
    let moved_ss = moved(
        &sealed_one(sb.read("sealed.json").as_bytes()),
        Some("dev"),
        "app",
    );
    sb.write("moved.json", serde_json::to_string(&moved_ss).unwrap());
    recover(&sb, &[key_path()], &["-f", "moved.json"])
        .assert()
        .failure()
        .stderr("error: no key could decrypt secret (pw, user)\n");
}

#[test]
fn recovery_unseal_bad_key_files_are_named() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write(
        "corrupt.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n",
    );
    sb.write("garbage.txt", "this is not a key at all\n");
    sb.write(
        "no-tls-key.json",
        json!({"kind": "Secret", "metadata": {"name": "keyless"}, "data": {"other": b64("x")}})
            .to_string(),
    );
    sb.write(
        "bad-b64.json",
        json!({"kind": "Secret", "metadata": {"name": "badb64"}, "data": {"tls.key": "%%%"}})
            .to_string(),
    );
    let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\n";
    sb.write("ec.pem", ec);
    for (file, what) in [
        ("corrupt.pem", "invalid RSA private key"),
        ("garbage.txt", "not a PEM private key"),
        ("no-tls-key.json", "keyless"),
        ("bad-b64.json", "badb64"),
        ("ec.pem", "only RSA keys are supported"),
        ("missing.pem", "cannot read private key file"),
    ] {
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.cmd(["--recovery-unseal", "-f", "sealed.json"]);
                c.arg(format!("--recovery-private-key={file}"));
                c
            },
            None,
            &[&format!("{file:?}"), what],
            &[
                "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
                "MHcCAQEEIBkg",
            ],
        );
        assert!(stderr.lines().count() == 1, "{stderr}");
    }
    // The right key does not make up for a broken one.
    fails_saying(
        &mut recover(
            &sb,
            &[key_path(), "garbage.txt".into()],
            &["-f", "sealed.json"],
        ),
        "garbage.txt",
    );
    // No key at all.
    fails_saying(
        &mut sb.cmd(["--recovery-unseal", "-f", "sealed.json"]),
        "--recovery-private-key",
    );
}

#[test]
fn recovery_unseal_truncated_tampered_and_bad_ciphertext() {
    let sb = Sandbox::new();
    let ss = sealed_fixture(&sb);
    let raw = STANDARD.decode(&ss.spec.encrypted_data["pw"]).unwrap();
    let mut variants: Vec<(&str, String, &str)> = Vec::new();
    let mut tampered = raw.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 0x01; // in the GCM part
    variants.push((
        "tampered-gcm",
        b64(&tampered),
        "no key could decrypt secret (pw)",
    ));
    let mut tampered_rsa = raw.clone();
    tampered_rsa[40] ^= 0x80; // in the RSA part
    variants.push((
        "tampered-rsa",
        b64(&tampered_rsa),
        "no key could decrypt secret (pw)",
    ));
    variants.push((
        "truncated",
        b64(&raw[..100]),
        "no key could decrypt secret (pw)",
    ));
    variants.push((
        "truncated-tag",
        b64(&raw[..raw.len() - 4]),
        "no key could decrypt secret (pw)",
    ));
    variants.push((
        "one-byte",
        b64(&raw[..1]),
        "no key could decrypt secret (pw)",
    ));
    variants.push(("empty", String::new(), "no key could decrypt secret (pw)"));
    variants.push((
        "not-base64",
        "%%%not base64%%%".into(),
        "illegal base64 data (pw)",
    ));
    for (name, value, expected) in variants {
        let mut bad = ss.clone();
        bad.spec.encrypted_data.insert("pw".into(), value);
        let file = format!("{name}.json");
        sb.write(&file, serde_json::to_string(&bad).unwrap());
        let stderr = assert_fails(
            &sb,
            || recover(&sb, &[key_path()], &["-f", &file]),
            None,
            &[expected],
            &[],
        );
        // The intact item is not reported, and its plaintext is not shown.
        assert!(!stderr.contains("user"), "{name}: {stderr}");
    }
}

#[test]
fn recovery_unseal_renders_template_data() {
    let sb = Sandbox::new();
    reencrypt_fixture(&sb, "tmpl.yaml");
    let out = stdout_of(&mut recover(&sb, &[key_path()], &["-f", "tmpl.yaml"]));
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["conn"], b64(format!("user={USER} pw={PW}")));
    assert_eq!(v["data"]["pw"], b64(PW));
    assert_eq!(v["metadata"]["annotations"]["note"], "kept");
}

#[test]
fn recovery_unseal_input_errors() {
    let sb = Sandbox::new();
    let ss = sealed_fixture(&sb);
    sb.write(
        "two.json",
        format!(
            "{}\n{}",
            serde_json::to_string(&ss).unwrap(),
            serde_json::to_string(&ss).unwrap()
        ),
    );
    // A plain Secret (holding plaintext) or another kind is refused as such.
    let plain = secret("app", Some("prod")).to_string();
    let mut other_kind = serde_json::to_value(&ss).unwrap();
    other_kind["kind"] = json!("ConfigMap");
    let other_kind = other_kind.to_string();
    for (stdin, expect) in [
        ("", "found 0"),
        ("[1, 2]", "not an object"),
        ("{\"spec\": ", "invalid JSON input"),
        (
            plain.as_str(),
            "document 1 is not a SealedSecret (kind \"Secret\")",
        ),
        (
            other_kind.as_str(),
            "document 1 is not a SealedSecret (kind \"ConfigMap\")",
        ),
    ] {
        assert_fails(
            &sb,
            || recover(&sb, &[key_path()], &[]),
            Some(stdin.as_bytes()),
            &[expect],
            &[],
        );
    }
    assert_fails(
        &sb,
        || recover(&sb, &[key_path()], &["-f", "two.json"]),
        None,
        &["exactly one SealedSecret, found 2"],
        &[],
    );
}
