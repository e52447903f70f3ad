//! `kubeseal` CLI: `--merge-into`: items added to an existing sealed file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use predicates::prelude::*;
use sealed_secrets_core::Scope;
use serde_json::{Value, json};

fn update_secret() -> Value {
    json!({
        "kind": "Secret",
        "metadata": {"name": "ignored", "labels": {"tier": "db"}, "annotations": {"note": "added"}},
        "stringData": {"token": "tok-plaintext", "pw": "pw-updated"},
    })
}

#[test]
fn merge_into_json_file() {
    let sb = Sandbox::new();
    let original = sealed_file(&sb, "sealed.json", &[], &secret("app", Some("prod")));
    let before_user = original.spec.encrypted_data["user"].clone();
    sb.seal(&["--merge-into", "sealed.json"])
        .write_stdin(update_secret().to_string())
        .assert()
        .success()
        .stdout("");
    let text = sb.read("sealed.json");
    assert!(
        text.starts_with("{\n  \"kind\": \"SealedSecret\""),
        "{text}"
    );
    let merged = sealed_one(text.as_bytes());
    assert_eq!(merged.metadata.name.as_deref(), Some("app"));
    assert_eq!(merged.metadata.namespace.as_deref(), Some("prod"));
    // Untouched items keep their ciphertext; new and updated items are added.
    assert_eq!(merged.spec.encrypted_data["user"], before_user);
    assert_eq!(
        open(&merged),
        items(&[
            ("pw", "pw-updated"),
            ("token", "tok-plaintext"),
            ("user", USER)
        ])
    );
    let tm = template_meta(&merged);
    assert_eq!(
        tm.labels.as_ref().unwrap(),
        &items(&[("app", "demo"), ("tier", "db")])
    );
    assert_eq!(ann(&tm.annotations, "note"), Some("added"));
    assert_eq!(tm.name.as_deref(), Some("app"), "template keeps its name");
    assert_eq!(sb.listing(), ["sealed.json"]);
}

#[test]
fn merge_into_yaml_file_stays_yaml_unless_format_given() {
    let sb = Sandbox::new();
    sealed_file(&sb, "sealed.yaml", &[], &secret("app", Some("prod")));
    assert!(sb.read("sealed.yaml").starts_with("---\n"));
    sb.seal(&["--merge-into", "sealed.yaml"])
        .write_stdin(update_secret().to_string())
        .assert()
        .success()
        .stdout("");
    let text = sb.read("sealed.yaml");
    assert!(text.starts_with("---\n"), "{text}");
    assert_eq!(open(&sealed_one(text.as_bytes()))["token"], "tok-plaintext");
    // -o json converts it.
    sb.seal(&["--merge-into", "sealed.yaml", "-o", "json"])
        .write_stdin(
            json!({"kind": "Secret", "metadata": {"name": "x"}, "stringData": {"more": "m"}})
                .to_string(),
        )
        .assert()
        .success();
    let text = sb.read("sealed.yaml");
    assert!(text.starts_with('{'), "{text}");
    assert_eq!(
        open(&sealed_one(text.as_bytes())),
        items(&[
            ("more", "m"),
            ("pw", "pw-updated"),
            ("token", "tok-plaintext"),
            ("user", USER)
        ])
    );
}

#[test]
fn merge_into_takes_scope_from_original() {
    let sb = Sandbox::new();
    let original = sealed_file(
        &sb,
        "cw.json",
        &["--scope", "cluster-wide"],
        &secret("app", None),
    );
    assert_eq!(original.metadata.namespace, None);
    // The update says nothing about scope and has its own namespace.
    let update = json!({"kind": "Secret", "metadata": {"name": "x", "namespace": "elsewhere"},
                        "stringData": {"token": "tok-plaintext"}});
    sb.seal(&["--merge-into", "cw.json"])
        .write_stdin(update.to_string())
        .assert()
        .success();
    let merged = sealed_one(sb.read("cw.json").as_bytes());
    assert_eq!(
        Scope::from_annotations(merged.metadata.annotations.as_ref()),
        Scope::ClusterWide
    );
    assert_eq!(merged.metadata.namespace, None);
    assert_eq!(
        open(&moved(&merged, Some("any"), "where"))["token"],
        "tok-plaintext"
    );
    // Namespace-wide original, with a matching --scope given explicitly.
    sealed_file(
        &sb,
        "nw.json",
        &["--scope", "namespace-wide"],
        &secret("app", Some("prod")),
    );
    sb.seal(&["--merge-into", "nw.json", "--scope", "namespace-wide"])
        .write_stdin(update.to_string())
        .assert()
        .success();
    let merged = sealed_one(sb.read("nw.json").as_bytes());
    assert_eq!(merged.metadata.namespace.as_deref(), Some("prod"));
    assert_eq!(
        open(&moved(&merged, Some("prod"), "renamed"))["token"],
        "tok-plaintext"
    );
}

#[test]
fn merge_into_scope_mismatch() {
    let sb = Sandbox::new();
    sealed_file(&sb, "sealed.json", &[], &secret("app", Some("prod")));
    let original = sb.read("sealed.json");
    let check = |args: &[&str], input: Value| {
        let mut full = vec!["--merge-into", "sealed.json"];
        full.extend_from_slice(args);
        let out = sb
            .seal(&full)
            .write_stdin(input.to_string())
            .assert()
            .failure()
            .code(1)
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("scope mismatch"), "{stderr}");
        assert!(!stderr.contains("tok-plaintext"), "{stderr}");
        assert_eq!(sb.read("sealed.json"), original, "file must be untouched");
        assert_eq!(sb.listing(), ["sealed.json"]);
    };
    // --scope differs from the original's.
    check(&["--scope", "cluster-wide"], update_secret());
    check(&["--scope", "namespace-wide"], update_secret());
    // The input's own annotation differs from the original's.
    let mut annotated = update_secret();
    annotated["metadata"]["annotations"] = json!({CLUSTER_WIDE: "true"});
    check(&[], annotated.clone());
    // --scope strict does not remove the input's annotations (upstream), so still a mismatch.
    check(&["--scope", "strict"], annotated.clone());
    // A matching annotation is fine.
    sealed_file(
        &sb,
        "nw.json",
        &["--scope", "namespace-wide"],
        &secret("app", Some("prod")),
    );
    let mut nw = update_secret();
    nw["metadata"]["annotations"] = json!({NAMESPACE_WIDE: "true"});
    sb.seal(&["--merge-into", "nw.json"])
        .write_stdin(nw.to_string())
        .assert()
        .success();
    let merged = sealed_one(sb.read("nw.json").as_bytes());
    assert_eq!(
        open(&moved(&merged, Some("prod"), "renamed"))["token"],
        "tok-plaintext"
    );
}

#[test]
fn merge_into_errors() {
    let sb = Sandbox::new();
    sb.seal(&["--merge-into", "missing.json"])
        .write_stdin(update_secret().to_string())
        .assert()
        .failure()
        .stderr(predicate::str::contains("missing.json"));
    sb.write("notsealed.json", "{\"kind\": \"Secret\"}");
    sb.seal(&["--merge-into", "notsealed.json"])
        .write_stdin(update_secret().to_string())
        .assert()
        .failure()
        .stderr("error: \"notsealed.json\" is not a SealedSecret (kind \"Secret\")\n");
    assert_eq!(sb.read("notsealed.json"), "{\"kind\": \"Secret\"}");
    // Bad input leaves the original untouched.
    sealed_file(&sb, "sealed.json", &[], &secret("app", Some("prod")));
    let original = sb.read("sealed.json");
    sb.seal(&["--merge-into", "sealed.json"])
        .write_stdin(
            json!({"kind": "Secret", "metadata": {"name": "x"}, "data": {"k": "%%%"}}).to_string(),
        )
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "invalid base64 in data item \"k\"",
        ));
    assert_eq!(sb.read("sealed.json"), original);
}
