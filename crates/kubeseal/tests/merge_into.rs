//! `kubeseal` CLI: `--merge-into`: items added to an existing sealed file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sealed_secrets_core::Scope;
use serde_json::{Value, json};

fn update_secret() -> Value {
    json!({
        "kind": "Secret",
        "metadata": {"name": "ignored", "labels": {"tier": "db"}, "annotations": {"note": "added"}},
        "stringData": {"token": "tok-plaintext", "pw": "pw-updated"},
    })
}

/// `kubeseal --cert test-cert.pem --merge-into FILE ARGS` with `input` on stdin: it must
/// succeed, printing nothing. Returns the merged file.
fn merge(sb: &Sandbox, file: &str, args: &[&str], input: &Value) -> String {
    let mut full = vec!["--merge-into", file];
    full.extend_from_slice(args);
    sb.seal(&full)
        .write_stdin(input.to_string())
        .assert()
        .success()
        .stdout("");
    sb.read(file)
}

/// Merges `input` (with `args`) into a namespace-wide sealed `nw.json`: the merged item opens
/// under another name in the same namespace.
fn merge_into_namespace_wide(sb: &Sandbox, args: &[&str], input: &Value) {
    sealed_file(
        sb,
        "nw.json",
        &["--scope", "namespace-wide"],
        &secret("app", Some("prod")),
    );
    let merged = sealed_one(merge(sb, "nw.json", args, input).as_bytes());
    assert_eq!(merged.metadata.namespace.as_deref(), Some("prod"));
    assert_eq!(
        open(&moved(&merged, Some("prod"), "renamed"))["token"],
        "tok-plaintext"
    );
}

#[test]
fn merge_into_json_file() {
    let sb = Sandbox::new();
    let original = sealed_file(&sb, "sealed.json", &[], &secret("app", Some("prod")));
    let before_user = original.spec.encrypted_data["user"].clone();
    let text = merge(&sb, "sealed.json", &[], &update_secret());
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
    let text = merge(&sb, "sealed.yaml", &[], &update_secret());
    assert!(text.starts_with("---\n"), "{text}");
    assert_eq!(open(&sealed_one(text.as_bytes()))["token"], "tok-plaintext");
    // -o json converts it.
    let text = merge(
        &sb,
        "sealed.yaml",
        &["-o", "json"],
        &json!({"kind": "Secret", "metadata": {"name": "x"}, "stringData": {"more": "m"}}),
    );
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
    let merged = sealed_one(merge(&sb, "cw.json", &[], &update).as_bytes());
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
    merge_into_namespace_wide(&sb, &["--scope", "namespace-wide"], &update);
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
    let mut nw = update_secret();
    nw["metadata"]["annotations"] = json!({NAMESPACE_WIDE: "true"});
    merge_into_namespace_wide(&sb, &[], &nw);
}

#[test]
fn merge_into_errors() {
    let sb = Sandbox::new();
    fails_saying(
        sb.seal(&["--merge-into", "missing.json"])
            .write_stdin(update_secret().to_string()),
        "missing.json",
    );
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
    fails_saying(
        sb.seal(&["--merge-into", "sealed.json"]).write_stdin(
            json!({"kind": "Secret", "metadata": {"name": "x"}, "data": {"k": "%%%"}}).to_string(),
        ),
        "invalid base64 in data item \"k\"",
    );
    assert_eq!(sb.read("sealed.json"), original);
}
