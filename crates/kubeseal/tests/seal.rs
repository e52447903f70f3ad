//! `kubeseal` CLI: Sealing Secrets: input, output, formats, several documents, content handling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sealed_secrets_core::{UnsealOptions, unseal};
use serde_json::json;

#[test]
fn seal_stdin_to_stdout_json_shape_and_round_trip() {
    let sb = Sandbox::new();
    let out = stdout_of(
        sb.seal(&[])
            .write_stdin(secret("app", Some("prod")).to_string()),
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.starts_with(
            "{\n  \"kind\": \"SealedSecret\",\n  \"apiVersion\": \"bitnami.com/v1alpha1\",\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"), "{text}");
    let (t, e) = (
        text.find("\"template\"").unwrap(),
        text.find("\"encryptedData\"").unwrap(),
    );
    assert!(t < e, "spec.template must come before spec.encryptedData");
    assert!(!text.contains("status"));
    for plain in [PW, USER, &b64(USER), &b64(PW)] {
        assert!(!text.contains(plain), "output contains plaintext {plain}");
    }

    let ss = sealed_one(&out);
    assert_eq!(ss.metadata.name.as_deref(), Some("app"));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("prod"));
    // Top-level metadata has no labels and no annotations (strict scope).
    assert!(ss.metadata.labels.is_none() && ss.metadata.annotations.is_none());
    let tm = template_meta(&ss);
    assert_eq!(tm.labels.as_ref().unwrap()["app"], "demo");
    assert_eq!(ss.spec.template.type_.as_deref(), Some("Opaque"));
    // RSA-4096: every item starts with the 0x0200 length prefix.
    assert!(ss.spec.encrypted_data.values().all(|v| v.starts_with("Ag")));
    assert_eq!(open(&ss), items(&[("pw", PW), ("user", USER)]));
}

#[test]
fn seal_file_to_stdout_yaml() {
    let sb = Sandbox::new();
    sb.write("in.yaml", secret_yaml("app", "prod"));
    let out = stdout_of(&mut sb.seal(&["-f", "in.yaml", "-o", "yaml"]));
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("---\n"), "{text}");
    // Keys sorted alphabetically in YAML.
    let pos = |k: &str| text.find(&format!("\n{k}:")).unwrap();
    assert!(pos("apiVersion") < pos("kind") && pos("kind") < pos("metadata"));
    assert!(pos("metadata") < pos("spec"));
    assert!(text.find("  encryptedData:").unwrap() < text.find("  template:").unwrap());
    assert!(text.contains("\nkind: SealedSecret\n"));
    assert_eq!(
        open(&sealed_one(&out)),
        items(&[("pw", PW), ("user", USER)])
    );
    // Upper-case format names are accepted like upstream.
    let out = stdout_of(&mut sb.seal(&["-f", "in.yaml", "-o", "YAML"]));
    assert!(out.starts_with(b"---\n"));
}

#[test]
fn seal_to_w_file_json_yaml_and_yml() {
    let sb = Sandbox::new();
    sb.write("in.json", secret("app", Some("prod")).to_string());
    // Plain -w: JSON by default, nothing on stdout, no temporary files left behind.
    sb.seal(&["-f", "in.json", "-w", "out.json"])
        .assert()
        .success()
        .stdout("");
    let json_out = sb.read("out.json");
    assert!(json_out.starts_with("{\n  \"kind\": \"SealedSecret\""));
    assert_eq!(open(&sealed_one(json_out.as_bytes()))["pw"], PW);
    // .yaml and .yml force YAML, even over an explicit -o json.
    for name in ["out.yaml", "out.yml"] {
        sb.seal(&["-f", "in.json", "-o", "json", "-w", name])
            .assert()
            .success()
            .stdout("");
        let y = sb.read(name);
        assert!(y.starts_with("---\n"), "{name}: {y}");
        assert_eq!(open(&sealed_one(y.as_bytes()))["user"], USER);
    }
    // An existing -w file is replaced.
    sb.write("old.json", "stale\n");
    sb.seal(&["-f", "in.json", "-w", "old.json"])
        .assert()
        .success();
    assert!(sb.read("old.json").starts_with('{'));
    assert_eq!(
        sb.listing(),
        ["in.json", "old.json", "out.json", "out.yaml", "out.yml"]
    );
}

#[test]
fn w_target_untouched_when_sealing_fails() {
    let sb = Sandbox::new();
    // Same input as a successful run, but an unusable certificate: nothing is written.
    sb.write("bad-cert.pem", "not a certificate\n");
    assert_fails_sealing(
        &sb,
        || sb.cmd(["--cert", "bad-cert.pem"]),
        &["failed to read any certificates"],
    );
    // Failure after the first of two documents: still nothing written.
    let two = format!(
        "{}\n{}",
        secret("a", Some("prod")),
        json!({"kind": "Secret", "metadata": {"namespace": "prod"}, "stringData": {"x": PW}})
    );
    assert_seal_fails(&sb, &[], two.as_bytes(), &["missing metadata.name"], &[]);
    // -w in a directory that does not exist: a clear error.
    fails_saying(
        sb.seal(&["-w", "no/such/dir/out.json"])
            .write_stdin(secret("app", Some("prod")).to_string()),
        "no/such/dir/out.json",
    );
}

#[test]
fn invalid_output_format() {
    assert_seal_args_fail(&["-o", "xml"], &["unsupported output format: xml"]);
}

#[test]
fn input_file_errors() {
    let sb = Sandbox::new();
    assert_fails(
        &sb,
        || sb.seal(&["-f", "missing.yaml"]),
        None,
        &[
            "could not read file specified with --secret-file",
            "missing.yaml",
        ],
        &[],
    );
}

#[test]
fn multi_document_yaml_gives_several_sealed_secrets() {
    let sb = Sandbox::new();
    let input = format!(
        "---\n{}---\n# comment only\n---\n{}",
        secret_yaml("one", "ns1"),
        secret_yaml("two", "ns2")
    );
    for format in ["json", "yaml"] {
        let out = stdout_of(sb.seal(&["-o", format]).write_stdin(input.clone()));
        if format == "yaml" {
            assert!(out.starts_with(b"---\n"));
            let text = String::from_utf8(out.clone()).unwrap();
            assert_eq!(text.matches("---\n").count(), 2, "{text}");
        }
        let docs = sealed_docs(&out);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].metadata.name.as_deref(), Some("one"));
        assert_eq!(docs[1].metadata.namespace.as_deref(), Some("ns2"));
        for d in &docs {
            assert_eq!(open(d), items(&[("pw", PW), ("user", USER)]));
        }
    }
}

#[test]
fn concatenated_json_gives_several_sealed_secrets() {
    let sb = Sandbox::new();
    let input = format!(
        "{}\n{}{}",
        secret("one", Some("ns1")),
        secret("two", Some("ns2")),
        serde_json::to_string_pretty(&secret("three", Some("ns3"))).unwrap()
    );
    let out = stdout_of(sb.seal(&[]).write_stdin(input));
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.matches("\"kind\": \"SealedSecret\"").count(), 3);
    let docs = sealed_docs(&out);
    let names: Vec<_> = docs
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["one", "two", "three"]);
    for d in &docs {
        assert_eq!(open(d)["pw"], PW);
    }
}

#[test]
fn allow_empty_data() {
    let sb = Sandbox::new();
    let empty = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"}}).to_string();
    let empty_maps = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"},
                            "data": {}, "stringData": {}})
    .to_string();
    for input in [&empty, &empty_maps] {
        assert_seal_fails(
            &sb,
            &[],
            input.as_bytes(),
            &["secret.data is empty in input Secret", "--allow-empty-data"],
            &[],
        );
        let out = stdout_of(sb.seal(&["--allow-empty-data"]).write_stdin(input.as_str()));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("\"encryptedData\": {}"), "{text}");
        let ss = sealed_one(&out);
        assert!(ss.spec.encrypted_data.is_empty());
        assert!(open(&ss).is_empty());
    }
}

#[test]
fn string_data_sealed_as_bytes_and_wins_over_data() {
    let sb = Sandbox::new();
    let input = json!({
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "data": {"both": b64("from-data"), "bin": b64([0u8, 159, 146, 150, 255])},
        "stringData": {"both": "from-stringData", "utf8": "héllo ✓", "empty": ""},
    });
    let ss = seal_value(&sb, &[], &input);
    let u = unseal(
        &ss,
        std::slice::from_ref(test_key()),
        UnsealOptions::default(),
    )
    .unwrap();
    let data = u.secret.data.as_ref().unwrap();
    assert_eq!(data["both"].0, b"from-stringData");
    assert_eq!(data["utf8"].0, "héllo ✓".as_bytes());
    assert_eq!(data["empty"].0, b"");
    assert_eq!(data["bin"].0, [0u8, 159, 146, 150, 255]);
    assert_eq!(data.len(), 4);
}

#[test]
fn data_base64_wrapped_over_lines_is_accepted_like_go() {
    // Go's base64 decoder (used by upstream for Secret data) ignores CR and LF.
    let sb = Sandbox::new();
    let wrapped = b64(PW)
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let yaml = format!(
        "kind: Secret\nmetadata: {{name: s, namespace: ns1}}\ndata:\n  pw: |\n    {}\n",
        wrapped.replace('\n', "\n    ")
    );
    let ss = sealed_one(&stdout_of(sb.seal(&[]).write_stdin(yaml)));
    assert_eq!(open(&ss)["pw"], PW);
}

#[test]
fn last_applied_and_server_fields_stripped() {
    let sb = Sandbox::new();
    let mut input = secret("app", Some("prod"));
    let last_applied = format!("{{\"stringData\":{{\"pw\":\"{PW}\"}}}}");
    input["metadata"] = json!({
        "name": "app", "namespace": "prod",
        "labels": {"app": "demo"},
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": last_applied,
            "kubecfg.ksonnet.io/last-applied-configuration": last_applied,
            "team": "blue",
        },
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "owner-uid"}],
        "uid": "1234-uid", "resourceVersion": "999", "generation": 7,
        "creationTimestamp": "2020-01-01T00:00:00Z", "selfLink": "/api/v1/x",
        "deletionGracePeriodSeconds": 30,
        "finalizers": ["keep/this"],
    });
    input["immutable"] = json!(true);
    input["type"] = json!("kubernetes.io/basic-auth");
    for format in ["json", "yaml"] {
        let out = stdout_of(sb.seal(&["-o", format]).write_stdin(input.to_string()));
        let text = String::from_utf8(out.clone()).unwrap();
        for gone in [
            "last-applied-configuration",
            PW,
            "ownerReferences",
            "owner-uid",
            "1234-uid",
            "resourceVersion",
            "999",
            "creationTimestamp",
            "selfLink",
            "generation",
            "deletionGracePeriodSeconds",
        ] {
            assert!(
                !text.contains(gone),
                "{format} output contains {gone}: {text}"
            );
        }
        let ss = sealed_one(&out);
        let tm = template_meta(&ss);
        assert_eq!(
            tm.annotations.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["team"]
        );
        assert_eq!(
            tm.finalizers.as_deref(),
            Some(&["keep/this".to_string()][..])
        );
        assert_eq!(
            ss.spec.template.type_.as_deref(),
            Some("kubernetes.io/basic-auth")
        );
        assert_eq!(ss.spec.template.immutable, Some(true));
        assert_eq!(open(&ss)["pw"], PW);
    }
}

#[test]
fn key_hint_annotation_only_when_asked() {
    let sb = Sandbox::new();
    let plain = seal_value(&sb, &[], &secret("app", Some("prod")));
    let hint = "sealedsecrets.bitnami.com/key-hint";
    assert!(
        plain
            .metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(hint)),
        "off by default"
    );
    let hinted = seal_value(&sb, &["--key-hint"], &secret("app", Some("prod")));
    assert_eq!(
        hinted.metadata.annotations.as_ref().unwrap()[hint],
        test_key().fingerprint()
    );
    // The hint is not part of the OAEP label: the items still open.
    assert_eq!(open(&hinted), open(&plain));
}

#[test]
fn key_requires_key_usage() {
    let sb = Sandbox::new();
    sb.seal(&["--key", "SHA256:x"])
        .write_stdin(secret("app", Some("prod")).to_string())
        .assert()
        .failure()
        .stderr(predicates::str::contains("--key requires --key-usage"));
}
