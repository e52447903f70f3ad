//! `kubeseal` CLI: Scopes (`--scope` and the input's annotations), `--name`, and where the namespace comes from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assert_cmd::Command;
use common::*;
use sealed_secrets_core::Scope;
use serde_json::json;

#[test]
fn scope_strict_binds_namespace_and_name() {
    let sb = Sandbox::new();
    for args in [&[][..], &["--scope", "strict"][..]] {
        let ss = seal_value(&sb, args, &secret("app", Some("prod")));
        assert!(ss.metadata.annotations.is_none());
        assert!(template_meta(&ss).annotations.is_none());
        assert_eq!(open(&ss)["pw"], PW);
        for (ns, name) in [("prod", "other"), ("dev", "app")] {
            let err = open_with(&moved(&ss, Some(ns), name), test_key()).unwrap_err();
            assert_eq!(err, "no key could decrypt secret (pw, user)");
        }
    }
}

#[test]
fn scope_namespace_wide_binds_namespace_only() {
    let sb = Sandbox::new();
    let ss = seal_value(
        &sb,
        &["--scope", "namespace-wide"],
        &secret("app", Some("prod")),
    );
    assert_eq!(ann(&ss.metadata.annotations, NAMESPACE_WIDE), Some("true"));
    assert_eq!(ann(&ss.metadata.annotations, CLUSTER_WIDE), None);
    assert_eq!(
        ann(&template_meta(&ss).annotations, NAMESPACE_WIDE),
        Some("true")
    );
    assert_eq!(open(&moved(&ss, Some("prod"), "renamed"))["pw"], PW);
    assert!(open_with(&moved(&ss, Some("dev"), "app"), test_key()).is_err());
}

#[test]
fn scope_cluster_wide_unseals_anywhere_and_may_lack_namespace() {
    let sb = Sandbox::new();
    let ss = seal_value(
        &sb,
        &["--scope", "cluster-wide", "-o", "yaml"],
        &secret("app", None),
    );
    assert_eq!(ss.metadata.namespace, None, "no namespace is invented");
    assert_eq!(template_meta(&ss).namespace, None);
    assert_eq!(ann(&ss.metadata.annotations, CLUSTER_WIDE), Some("true"));
    assert_eq!(
        ann(&template_meta(&ss).annotations, CLUSTER_WIDE),
        Some("true")
    );
    assert_eq!(open(&ss)["pw"], PW);
    assert_eq!(open(&moved(&ss, Some("anywhere"), "renamed"))["user"], USER);
    // An input namespace is kept, but does not bind.
    let ss = seal_value(
        &sb,
        &["--scope", "cluster-wide"],
        &secret("app", Some("prod")),
    );
    assert_eq!(ss.metadata.namespace.as_deref(), Some("prod"));
    assert_eq!(open(&moved(&ss, Some("dev"), "x"))["pw"], PW);
}

#[test]
fn scope_flag_replaces_input_annotations() {
    let sb = Sandbox::new();
    let mut input = secret("app", Some("prod"));
    input["metadata"]["annotations"] = json!({NAMESPACE_WIDE: "true", "keep": "me"});
    let ss = seal_value(&sb, &["--scope", "cluster-wide"], &input);
    let top = ss.metadata.annotations.as_ref().unwrap();
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        [CLUSTER_WIDE],
        "top level holds only the scope annotation"
    );
    let t = &template_meta(&ss).annotations;
    assert_eq!(ann(t, CLUSTER_WIDE), Some("true"));
    assert_eq!(ann(t, NAMESPACE_WIDE), None);
    assert_eq!(ann(t, "keep"), Some("me"));
    assert_eq!(open(&moved(&ss, Some("x"), "y"))["pw"], PW);
}

#[test]
fn input_scope_annotations_honoured_without_flag() {
    let sb = Sandbox::new();
    for (annotation, scope) in [
        (NAMESPACE_WIDE, Scope::NamespaceWide),
        (CLUSTER_WIDE, Scope::ClusterWide),
    ] {
        let mut input = secret("app", Some("prod"));
        input["metadata"]["annotations"] = json!({annotation: "true"});
        // Upstream: --scope strict (the default) cannot remove annotations on the input.
        for args in [&[][..], &["--scope", "strict"][..]] {
            let ss = seal_value(&sb, args, &input);
            assert_eq!(
                Scope::from_annotations(ss.metadata.annotations.as_ref()),
                scope
            );
            assert_eq!(open(&moved(&ss, Some("prod"), "renamed"))["pw"], PW);
            assert_eq!(
                open_with(&moved(&ss, Some("dev"), "app"), test_key()).is_ok(),
                scope == Scope::ClusterWide
            );
        }
    }
    // Only the exact string "true" counts.
    let mut input = secret("app", Some("prod"));
    input["metadata"]["annotations"] = json!({CLUSTER_WIDE: "yes"});
    let ss = seal_value(&sb, &[], &input);
    assert!(ss.metadata.annotations.is_none());
    assert!(open_with(&moved(&ss, Some("prod"), "renamed"), test_key()).is_err());
}

#[test]
fn invalid_scope_value() {
    assert_seal_args_fail(
        &["--scope", "global"],
        &[
            "\"global\"",
            "--scope",
            "must be one of: strict, namespace-wide, cluster-wide",
        ],
    );
}

#[test]
fn name_override() {
    let sb = Sandbox::new();
    let ss = seal_value(&sb, &["--name", "renamed"], &secret("app", Some("prod")));
    assert_eq!(ss.metadata.name.as_deref(), Some("renamed"));
    assert_eq!(template_meta(&ss).name.as_deref(), Some("renamed"));
    // Strict scope: sealed for the new name.
    assert_eq!(open(&ss)["pw"], PW);
    assert!(open_with(&moved(&ss, Some("prod"), "app"), test_key()).is_err());
    // --name also fills in a missing name.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--name", "given"]).write_stdin(
            json!({"kind": "Secret", "metadata": {"namespace": "n"}, "stringData": {"a": PW}})
                .to_string(),
        ),
    ));
    assert_eq!(ss.metadata.name.as_deref(), Some("given"));
    assert_eq!(open(&ss)["a"], PW);
}

#[test]
fn namespace_mismatch_is_an_error() {
    let sb = Sandbox::new();
    let input = secret("app", Some("a")).to_string();
    for flag in ["-n", "--namespace"] {
        let stderr = assert_seal_fails(&sb, &[flag, "b"], input.as_bytes(), &[], &[]);
        assert_eq!(
            stderr,
            "error: namespace mismatch: input secret is in namespace \"a\" but \"b\" was specified\n"
        );
    }
    // The same namespace is fine, and so is -n with a cluster-wide secret.
    let ss = sealed_one(&stdout_of(sb.seal(&["-n", "a"]).write_stdin(input.clone())));
    assert_eq!(open(&ss)["pw"], PW);
    let ss = sealed_one(&stdout_of(
        sb.seal(&["-n", "b", "--scope", "cluster-wide"])
            .write_stdin(input),
    ));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("a"));
}

const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
current-context: main
contexts:
- name: main
  context: {cluster: k, user: u, namespace: from-context}
- name: other
  context: {cluster: k, user: u, namespace: other-context-ns}
- name: nons
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster: {server: "https://127.0.0.1:9"}
users:
- name: u
  user: {token: not-a-real-token}
"#;

#[test]
fn namespace_defaulting() {
    let sb = Sandbox::new();
    let kubeconfig = sb.write("kubeconfig.yaml", KUBECONFIG);
    let input = secret("app", None).to_string();
    let ns_of = |cmd: &mut Command| {
        let ss = sealed_one(&stdout_of(cmd.write_stdin(input.clone())));
        assert_eq!(open(&ss)["pw"], PW);
        assert_eq!(template_meta(&ss).namespace, ss.metadata.namespace);
        ss.metadata.namespace.unwrap()
    };
    // No kubeconfig: "default".
    assert_eq!(ns_of(&mut sb.seal(&[])), "default");
    // -n.
    assert_eq!(ns_of(&mut sb.seal(&["-n", "flag-ns"])), "flag-ns");
    // The kubeconfig context's namespace, from $KUBECONFIG or --kubeconfig.
    assert_eq!(
        ns_of(sb.seal(&[]).env("KUBECONFIG", &kubeconfig)),
        "from-context"
    );
    assert_eq!(
        ns_of(&mut sb.seal(&["--kubeconfig", "kubeconfig.yaml"])),
        "from-context"
    );
    // --context selects another context; a context without namespace means "default".
    assert_eq!(
        ns_of(
            sb.seal(&["--context", "other"])
                .env("KUBECONFIG", &kubeconfig)
        ),
        "other-context-ns"
    );
    assert_eq!(
        ns_of(
            sb.seal(&["--context", "nons"])
                .env("KUBECONFIG", &kubeconfig)
        ),
        "default"
    );
    // -n beats the context, and is not a mismatch when the input has no namespace.
    assert_eq!(
        ns_of(sb.seal(&["-n", "flag-ns"]).env("KUBECONFIG", &kubeconfig)),
        "flag-ns"
    );
    // The context namespace is a default only: an input namespace wins without error.
    let ss = sealed_one(&stdout_of(
        sb.seal(&[])
            .env("KUBECONFIG", &kubeconfig)
            .write_stdin(secret("app", Some("mine")).to_string()),
    ));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("mine"));
}
