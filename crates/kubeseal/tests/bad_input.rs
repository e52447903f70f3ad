//! `kubeseal` CLI: Input that is not a usable Secret: refused with a clear message that never shows plaintext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn not_a_secret() {
    let sb = Sandbox::new();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"},
                    "data": {"k": PW}});
    assert_seal_fails(
        &sb,
        &[],
        cm.to_string().as_bytes(),
        &["not a Secret", "ConfigMap"],
        &[],
    );
    // Also when it is the second document.
    let two = format!("{}\n{}", secret("a", Some("n")), cm);
    assert_seal_fails(&sb, &[], two.as_bytes(), &["ConfigMap"], &[]);
}

#[test]
fn missing_name() {
    let sb = Sandbox::new();
    for input in [
        json!({"kind": "Secret", "metadata": {"namespace": "n"}, "stringData": {"pw": PW}}),
        json!({"kind": "Secret", "metadata": {"name": "", "namespace": "n"}, "stringData": {"pw": PW}}),
        json!({"kind": "Secret", "stringData": {"pw": PW}}),
    ] {
        assert_seal_fails(
            &sb,
            &[],
            input.to_string().as_bytes(),
            &["missing metadata.name in input Secret"],
            &[],
        );
    }
}

#[test]
fn invalid_base64_in_data() {
    let sb = Sandbox::new();
    let bad_value = "s3cr3t!!not-base64";
    let input = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                       "data": {"good": b64("fine"), "password": bad_value}});
    let stderr = assert_seal_fails(
        &sb,
        &[],
        input.to_string().as_bytes(),
        &["invalid base64 in data item \"password\""],
        &[bad_value, "s3cr3t"],
    );
    assert!(!stderr.contains("good"));
    // Unpadded base64 is invalid too (Go requires padding).
    let input = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                       "data": {"pw": "YWJjZA"}});
    assert_seal_fails(
        &sb,
        &[],
        input.to_string().as_bytes(),
        &["invalid base64 in data item \"pw\""],
        &["YWJjZA"],
    );
}

#[test]
fn non_string_values() {
    let sb = Sandbox::new();
    for (input, expect) in [
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"pin": 987654321}}),
            "stringData item \"pin\" is not a string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"pin": [987654321]}}),
            "stringData item \"pin\" is not a string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "data": {"pin": 987654321}}),
            "data item \"pin\" is not a base64 string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": "987654321"}),
            "stringData is not a mapping",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n", "labels": {"l": 987654321}},
                   "stringData": {"a": "b"}}),
            "invalid Secret: invalid type: integer, expected a string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n",
                   "annotations": {"token": {"nested": "987654321"}}}, "stringData": {"a": "b"}}),
            "invalid Secret",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "immutable": "987654321",
                   "stringData": {"a": "b"}}),
            "invalid Secret: invalid type: string, expected a boolean",
        ),
    ] {
        assert_seal_fails(
            &sb,
            &[],
            input.to_string().as_bytes(),
            &[expect],
            &["987654321"],
        );
    }
    // The same in YAML.
    let yaml = "kind: Secret\nmetadata: {name: s, namespace: ns1}\nstringData:\n  pin: 987654321\n";
    assert_seal_fails(
        &sb,
        &[],
        yaml.as_bytes(),
        &["stringData item \"pin\" is not a string"],
        &["987654321"],
    );
}

#[test]
fn yaml_that_is_not_an_object() {
    let sb = Sandbox::new();
    for input in [
        "- kind: Secret\n- b\n",
        "just a scalar\n",
        "42\n",
        "[1, 2]\n",
        "kind: Secret\nmetadata: {name: s, namespace: ns1}\nstringData: {a: b}\n---\n- x\n",
    ] {
        assert_seal_fails(&sb, &[], input.as_bytes(), &["is not an object"], &[]);
    }
}

#[test]
fn malformed_yaml_and_json_do_not_echo_input() {
    let sb = Sandbox::new();
    let secret_value = "Sup3rS3cretLeakCanary";
    let inputs = [
        format!(
            "kind: Secret\nmetadata:\n  name: s\nstringData:\n  pw: \"{secret_value}\n  b: [\n"
        ),
        format!("kind: Secret\nstringData:\n  pw: {secret_value}: x: [\n"),
        format!("kind: Secret\nstringData:\n\tpw: {secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: '{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: [{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: {{{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: *{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: !!int {secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: !!binary {secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: {secret_value}\n bad: x\n"),
        format!("kind: Secret\nstringData:\n  {secret_value}: a\n  {secret_value}: b\n"),
        format!("kind: Secret\nstringData:\n  pw: |\n  {secret_value}\n x\n"),
        format!("kind: Secret\nstringData:\n  ? {secret_value}\n  : [\n"),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}\" \"x\"}}}}"),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": {secret_value}}}}}"),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}\\q\"}}}}"),
        format!(
            "{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}\"}}}} {secret_value}"
        ),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}"),
    ];
    for input in &inputs {
        let stderr = assert_seal_fails(
            &sb,
            &[],
            input.as_bytes(),
            &[],
            &[secret_value, "Sup3r", "Canary"],
        );
        assert!(
            stderr.contains("invalid YAML input") || stderr.contains("invalid JSON input"),
            "{input:?}: {stderr}"
        );
        assert!(stderr.contains("line"), "the position is kept: {stderr}");
    }
    // Invalid UTF-8.
    assert_seal_fails(
        &sb,
        &[],
        b"kind: Secret\nstringData:\n  pw: \xff\xfe\n",
        &["UTF-8"],
        &[],
    );
}

#[test]
fn empty_input() {
    let sb = Sandbox::new();
    for input in ["", "\n\n", "---\n", "---\n---\n# nothing\n", "   "] {
        assert_seal_fails(&sb, &[], input.as_bytes(), &["no secrets found"], &[]);
    }
    sb.write("empty.yaml", "");
    assert_fails(
        &sb,
        || sb.seal(&["-f", "empty.yaml"]),
        None,
        &["no secrets found"],
        &[],
    );
}

#[test]
fn failures_never_leak_plaintext() {
    // A sweep over failing runs whose input holds plaintext: none may print it.
    let sb = Sandbox::new();
    sb.write("expired.pem", expired_cert_pem());
    sb.write("garbage.pem", "junk");
    let with_leaky = |extra: Value| {
        let mut s = secret("app", Some("a"));
        if let Value::Object(m) = extra {
            for (k, v) in m {
                s[k] = v;
            }
        }
        s.to_string()
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["-n", "b"], with_leaky(json!({}))),
        (vec!["--cert", "expired.pem"], with_leaky(json!({}))),
        (vec!["--cert", "garbage.pem"], with_leaky(json!({}))),
        (vec!["-o", "toml"], with_leaky(json!({}))),
        (vec!["--scope", "nope"], with_leaky(json!({}))),
        (vec![], with_leaky(json!({"kind": "ConfigMap"}))),
        (vec![], with_leaky(json!({"metadata": {"namespace": "a"}}))),
        (vec![], with_leaky(json!({"type": [PW]}))),
        (vec![], with_leaky(json!({"immutable": PW}))),
        (
            vec![],
            with_leaky(json!({"metadata": {"name": "x", "labels": {"l": [PW]}}})),
        ),
        (
            vec![],
            with_leaky(json!({"metadata": {"name": "x", "annotations": {"l": {"k": PW}}}})),
        ),
        (vec!["--merge-into", "missing.json"], with_leaky(json!({}))),
    ];
    for (args, input) in cases {
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                if !args.contains(&"--cert") {
                    c.arg("--cert").arg(cert_path());
                }
                c.args(&args);
                c
            },
            Some(input.as_bytes()),
            &[],
            &[],
        );
        assert!(!stderr.trim().is_empty());
    }
}
