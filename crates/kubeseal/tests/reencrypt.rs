//! `kubeseal` CLI: Offline `--re-encrypt` (`--rotate`) of one SealedSecret with `--recovery-private-key` and `--cert`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assert_cmd::Command;
use common::*;
use predicates::prelude::*;
use serde_json::{Value, json};

/// `kubeseal --re-encrypt ARGS --recovery-private-key test-key.pem`.
fn re_encrypt(sb: &Sandbox, args: &[&str]) -> Command {
    let mut c = sb.cmd(["--re-encrypt"]);
    c.args(args).arg("--recovery-private-key").arg(key_path());
    c
}

#[test]
fn re_encrypt_offline_to_stdout() {
    let sb = Sandbox::new();
    let before = reencrypt_fixture(&sb, "sealed.json");
    // As fetched from a cluster: server-set fields and a status, all dropped on output.
    let mut from_cluster: Value = serde_json::from_str(&sb.read("sealed.json")).unwrap();
    from_cluster["metadata"]["uid"] = json!("uid-1234");
    from_cluster["metadata"]["resourceVersion"] = json!("4242");
    from_cluster["metadata"]["generation"] = json!(3);
    from_cluster["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
    from_cluster["status"] = json!({"observedGeneration": 3,
        "conditions": [{"type": "Synced", "status": "True"}]});
    sb.write("sealed.json", from_cluster.to_string());
    sb.write("new-cert.pem", other_cert_pem());
    for flag in ["--re-encrypt", "--rotate"] {
        let out = stdout_of(
            sb.cmd([flag, "--cert", "new-cert.pem", "--recovery-private-key"])
                .arg(key_path())
                .write_stdin(sb.read("sealed.json")),
        );
        assert!(out.starts_with(b"{\n  \"kind\": \"SealedSecret\""));
        let text = String::from_utf8(out.clone()).unwrap();
        for gone in ["uid-1234", "4242", "creationTimestamp", "status", "Synced"] {
            assert!(!text.contains(gone), "{gone} kept: {text}");
        }
        let after = sealed_one(&out);
        assert_eq!(after.metadata.name, before.metadata.name);
        assert_eq!(after.metadata.namespace, before.metadata.namespace);
        assert_eq!(after.spec.template, before.spec.template);
        assert_eq!(
            template_meta(&after).labels.as_ref().unwrap()["app"],
            "demo"
        );
        assert_eq!(
            ann(&template_meta(&after).annotations, "note"),
            Some("kept")
        );
        for k in ["pw", "user"] {
            assert_ne!(after.spec.encrypted_data[k], before.spec.encrypted_data[k]);
            // 2048-bit key: prefix 0x0100.
            assert!(after.spec.encrypted_data[k].starts_with("AQ"));
        }
        // Only the new key opens it; template.data is rendered from the new ciphertexts.
        assert_eq!(
            open_with(&after, other_key()).unwrap(),
            items(&[
                ("conn", &format!("user={USER} pw={PW}")),
                ("pw", PW),
                ("user", USER)
            ])
        );
        assert_eq!(
            open_with(&after, test_key()).unwrap_err(),
            "no key could decrypt secret (pw, user)"
        );
        // Still strict: bound to its namespace and name.
        assert!(open_with(&moved(&after, Some("prod"), "x"), other_key()).is_err());
    }
}

#[test]
fn re_encrypt_offline_rewrites_input_file_in_place() {
    let sb = Sandbox::new();
    sb.write("new-cert.pem", other_cert_pem());
    for file in ["sealed.json", "sealed.yaml"] {
        let before = reencrypt_fixture(&sb, file);
        re_encrypt(&sb, &["--cert", "new-cert.pem", "-f", file])
            .assert()
            .success()
            .stdout("");
        let text = sb.read(file);
        assert_eq!(text.starts_with("---\n"), file.ends_with(".yaml"), "{text}");
        let after = sealed_one(text.as_bytes());
        assert_eq!(after.spec.template, before.spec.template);
        assert_eq!(open_with(&after, other_key()).unwrap()["pw"], PW);
        assert!(open_with(&after, test_key()).is_err());
    }
    assert_eq!(sb.listing(), ["new-cert.pem", "sealed.json", "sealed.yaml"]);
    // With -w, the input file is left alone.
    reencrypt_fixture(&sb, "sealed.json");
    let original = sb.read("sealed.json");
    re_encrypt(
        &sb,
        &[
            "--cert",
            "new-cert.pem",
            "-f",
            "sealed.json",
            "-w",
            "new.json",
        ],
    )
    .assert()
    .success();
    assert_eq!(sb.read("sealed.json"), original);
    assert_eq!(
        open_with(&sealed_one(sb.read("new.json").as_bytes()), other_key()).unwrap()["user"],
        USER
    );
}

#[test]
fn re_encrypt_offline_errors() {
    let sb = Sandbox::new();
    reencrypt_fixture(&sb, "sealed.json");
    let original = sb.read("sealed.json");
    sb.write("new-cert.pem", other_cert_pem());
    sb.write("other.pem", other_key_pem());
    // Missing --cert.
    re_encrypt(&sb, &["-f", "sealed.json"])
        .assert()
        .failure()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("needs --cert"));
    // A key that cannot decrypt it.
    fails_saying(
        sb.bare().args([
            "--re-encrypt",
            "--cert",
            "new-cert.pem",
            "--recovery-private-key",
            "other.pem",
            "-f",
            "sealed.json",
        ]),
        "no key could decrypt secret (pw, user)",
    );
    // An expired target certificate.
    sb.write("expired.pem", expired_cert_pem());
    fails_saying(
        &mut re_encrypt(&sb, &["--cert", "expired.pem", "-f", "sealed.json"]),
        "failed to encrypt using an expired certificate",
    );
    // A plain Secret is not re-encrypted.
    sb.write("plain.json", secret("app", Some("prod")).to_string());
    fails_saying(
        &mut re_encrypt(&sb, &["--cert", "new-cert.pem", "-f", "plain.json"]),
        "is not a SealedSecret (kind \"Secret\")",
    )
    .stderr(predicate::str::contains(PW).not());
    std::fs::remove_file(sb.path("plain.json")).unwrap();
    // In-place target untouched after every failure, and nothing left behind.
    assert_eq!(sb.read("sealed.json"), original);
    assert_eq!(
        sb.listing(),
        ["expired.pem", "new-cert.pem", "other.pem", "sealed.json"]
    );
}
