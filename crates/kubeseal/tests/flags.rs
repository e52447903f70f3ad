//! `kubeseal` CLI: `SEALED_SECRETS_*` variables, version, help, completion, and the online modes without a cluster.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn env_vars_set_flags() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    // SEALED_SECRETS_CERT + SEALED_SECRETS_FORMAT.
    let out = stdout_of(
        sb.bare()
            .env("SEALED_SECRETS_CERT", cert_path())
            .env("SEALED_SECRETS_FORMAT", "yaml")
            .write_stdin(input.clone()),
    );
    assert!(out.starts_with(b"---\n"));
    assert_eq!(open(&sealed_one(&out))["pw"], PW);
    // SEALED_SECRETS_SCOPE.
    let ss = sealed_one(&stdout_of(
        sb.seal(&[])
            .env("SEALED_SECRETS_SCOPE", "cluster-wide")
            .write_stdin(input.clone()),
    ));
    assert_eq!(ann(&ss.metadata.annotations, CLUSTER_WIDE), Some("true"));
    // SEALED_SECRETS_ALLOW_EMPTY_DATA.
    let empty = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"}}).to_string();
    let ss = sealed_one(&stdout_of(
        sb.seal(&[])
            .env("SEALED_SECRETS_ALLOW_EMPTY_DATA", "true")
            .write_stdin(empty.clone()),
    ));
    assert!(ss.spec.encrypted_data.is_empty());
    // SEALED_SECRETS_RAW + NAME + NAMESPACE.
    let out = stdout_of(
        sb.seal(&[])
            .env("SEALED_SECRETS_RAW", "true")
            .env("SEALED_SECRETS_NAME", "app")
            .env("SEALED_SECRETS_NAMESPACE", "prod")
            .write_stdin(PW),
    );
    assert_eq!(open_raw(&out, b"prod/app").unwrap(), PW.as_bytes());
    // SEALED_SECRETS_SECRET_FILE + SEALED_SECRETS_SEALED_SECRET_FILE.
    sb.write("in.json", &input);
    sb.seal(&[])
        .env("SEALED_SECRETS_SECRET_FILE", "in.json")
        .env("SEALED_SECRETS_SEALED_SECRET_FILE", "out.yaml")
        .assert()
        .success()
        .stdout("");
    assert_eq!(
        open(&sealed_one(sb.read("out.yaml").as_bytes()))["user"],
        USER
    );
    // SEALED_SECRETS_RECOVERY_UNSEAL + SEALED_SECRETS_RECOVERY_PRIVATE_KEY (a comma list).
    sb.write("other.pem", other_key_pem());
    let out = stdout_of(
        sb.bare()
            .env("SEALED_SECRETS_RECOVERY_UNSEAL", "true")
            .env(
                "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
                format!("other.pem,{}", key_path().display()),
            )
            .env("SEALED_SECRETS_SECRET_FILE", "out.yaml"),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["pw"], b64(PW));
}

#[test]
fn command_line_beats_env_vars() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    sb.write("garbage.pem", "not a cert");
    // --cert beats SEALED_SECRETS_CERT; -o beats SEALED_SECRETS_FORMAT.
    let out = stdout_of(
        sb.seal(&["-o", "json"])
            .env("SEALED_SECRETS_CERT", "garbage.pem")
            .env("SEALED_SECRETS_FORMAT", "yaml")
            .write_stdin(input.clone()),
    );
    assert!(out.starts_with(b"{"));
    assert_eq!(open(&sealed_one(&out))["pw"], PW);
    // --scope beats SEALED_SECRETS_SCOPE.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--scope", "strict"])
            .env("SEALED_SECRETS_SCOPE", "cluster-wide")
            .write_stdin(input.clone()),
    ));
    assert!(ss.metadata.annotations.is_none());
    // --raw=false beats SEALED_SECRETS_RAW; --allow-empty-data=false beats its variable.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--raw=false"])
            .env("SEALED_SECRETS_RAW", "true")
            .write_stdin(input.clone()),
    ));
    assert_eq!(open(&ss)["pw"], PW);
    let empty = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"}}).to_string();
    fails_saying(
        sb.seal(&["--allow-empty-data=false"])
            .env("SEALED_SECRETS_ALLOW_EMPTY_DATA", "true")
            .write_stdin(empty),
        "secret.data is empty",
    );
    // -n beats SEALED_SECRETS_NAMESPACE.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["-n", "flag-ns"])
            .env("SEALED_SECRETS_NAMESPACE", "env-ns")
            .write_stdin(secret("app", None).to_string()),
    ));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("flag-ns"));
    // --recovery-private-key beats SEALED_SECRETS_RECOVERY_PRIVATE_KEY.
    sb.write("sealed.json", serde_json::to_string(&ss).unwrap());
    sb.bare()
        .args([
            "--recovery-unseal",
            "-f",
            "sealed.json",
            "--recovery-private-key",
        ])
        .arg(key_path())
        .env("SEALED_SECRETS_RECOVERY_PRIVATE_KEY", "garbage.pem")
        .assert()
        .success();
}

#[test]
fn invalid_env_var_values_are_errors() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    fails_saying(
        sb.seal(&[])
            .env("SEALED_SECRETS_SCOPE", "everywhere")
            .write_stdin(input.clone()),
        "must be one of",
    );
    fails_saying(
        sb.seal(&[])
            .env("SEALED_SECRETS_RAW", "maybe")
            .write_stdin(input),
        "maybe",
    )
    .code(2);
}

#[test]
fn version_help_and_completion() {
    let sb = Sandbox::new();
    sb.bare()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!(
            "kubeseal version: {}{}\n",
            env!("CARGO_PKG_VERSION"),
            // scripts/test.sh builds everything with the tree's git revision (as the images).
            option_env!("SEALED_SECRETS_BUILD_REVISION")
                .filter(|r| !r.trim().is_empty())
                .map(|r| format!("+{}", r.trim()))
                .unwrap_or_default()
        ));
    let help = stdout_of(sb.bare().arg("--help"));
    let help = String::from_utf8(help).unwrap();
    for flag in [
        "--cert",
        "--controller-namespace",
        "--format",
        "--sealed-secret-file",
        "--secret-file",
        "--fetch-cert",
        "--allow-empty-data",
        "--validate",
        "--merge-into",
        "--raw",
        "--name",
        "--from-file",
        "--scope",
        "--re-encrypt",
        "--recovery-unseal",
        "--recovery-private-key",
        "--kubeconfig",
        "--namespace",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = String::from_utf8(stdout_of(sb.bare().args(["completion", shell]))).unwrap();
        assert!(script.contains("kubeseal"), "{shell}");
        assert!(script.contains("recovery-unseal"), "{shell}");
    }
    let bash = String::from_utf8(stdout_of(sb.bare().args(["completion", "bash"]))).unwrap();
    assert!(bash.contains("_kubeseal()") && bash.contains("complete -F _kubeseal"));
    sb.bare()
        .args(["completion", "tcsh"])
        .assert()
        .failure()
        .code(2);
    fails_saying(sb.bare().arg("--no-such-flag"), "--no-such-flag").code(2);
}

#[test]
fn online_modes_fail_clearly_without_a_cluster() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    let sealed = sb.read("sealed.json");
    let input = secret("app", Some("prod")).to_string();
    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["--fetch-cert"], None),
        (vec![], Some(input.as_str())), // seal without --cert
        (vec!["--validate"], Some(sealed.as_str())),
        (vec!["--re-encrypt"], Some(sealed.as_str())),
        (
            vec!["--rotate", "--controller-namespace", "x"],
            Some(sealed.as_str()),
        ),
    ];
    for (args, stdin) in cases {
        let stderr = assert_fails(
            &sb,
            || sb.cmd(&args),
            stdin.map(str::as_bytes),
            &["kubeconfig"],
            &[],
        );
        assert!(
            stderr.contains("not running in a cluster"),
            "{args:?}: {stderr}"
        );
    }
    // An explicit --kubeconfig that does not exist is named.
    assert_fails(
        &sb,
        || {
            sb.cmd([
                "--validate",
                "--kubeconfig",
                "missing-config",
                "-f",
                "sealed.json",
            ])
        },
        None,
        &["missing-config"],
        &[],
    );
    // Online re-encrypt of a file in place: the file survives the failure.
    sb.bare()
        .args(["--re-encrypt", "-f", "sealed.json"])
        .assert()
        .failure()
        .code(1);
    assert_eq!(sb.read("sealed.json"), sealed);
    assert_eq!(sb.listing(), ["sealed.json", "target.yaml"]);
}
