use super::*;
use crate::annotations::{CLUSTER_WIDE, NAMESPACE_WIDE};
use crate::keys::{Backend, test_key_2048};
use serde_json::json;

fn secret(v: serde_json::Value) -> InputSecret {
    InputSecret::from_value(v).unwrap()
}

fn opts_ns(ns: &str) -> SealOptions {
    SealOptions {
        default_namespace: Some(ns.into()),
        ..Default::default()
    }
}

#[test]
fn shape_like_upstream() {
    let key = test_key_2048().with_backend(Backend::AwsLc).unwrap();
    let input = secret(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns", "uid": "u", "resourceVersion": "1",
            "creationTimestamp": "2020-01-01T00:00:00Z",
            "labels": {"l": "1"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{..secret..}", "a": "b"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "y"}]},
        "type": "kubernetes.io/basic-auth",
        "data": {"username": "YWRtaW4="},
        "stringData": {"password": "hunter2"}
    }));
    let ss = seal(input, &key.public_key(), &SealOptions::default()).unwrap();
    assert_eq!(ss.metadata.name.as_deref(), Some("s"));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("ns"));
    assert!(ss.metadata.annotations.is_none());
    let t = ss.spec.template.metadata.as_ref().unwrap();
    assert_eq!(t.labels.as_ref().unwrap()["l"], "1");
    assert_eq!(t.annotations.as_ref().unwrap().len(), 1);
    assert!(t.uid.is_none() && t.resource_version.is_none() && t.creation_timestamp.is_none());
    assert!(t.owner_references.is_none());
    assert_eq!(
        ss.spec.template.type_.as_deref(),
        Some("kubernetes.io/basic-auth")
    );
    let keys: Vec<_> = ss.spec.encrypted_data.keys().cloned().collect();
    assert_eq!(keys, ["password", "username"]);
    assert!(ss.spec.encrypted_data["password"].starts_with("AQ"));
}

#[test]
fn scope_flag_rewrites_annotations() {
    let key = test_key_2048();
    let input = secret(
        json!({"metadata": {"name": "s", "annotations": {NAMESPACE_WIDE: "true"}}, "data": {"a": "Yg=="}}),
    );
    let opts = SealOptions {
        scope: Some(Scope::ClusterWide),
        ..Default::default()
    };
    let ss = seal(input, &key.public_key(), &opts).unwrap();
    let top = ss.metadata.annotations.unwrap();
    assert_eq!(top.get(CLUSTER_WIDE).map(String::as_str), Some("true"));
    assert!(!top.contains_key(NAMESPACE_WIDE));
    assert!(ss.metadata.namespace.is_none());
}

#[test]
fn errors() {
    let key = test_key_2048().public_key();
    assert_eq!(
        InputSecret::from_value(json!({"kind": "ConfigMap"})).unwrap_err(),
        SealError::NotASecret("ConfigMap".into())
    );
    let e = InputSecret::from_value(json!({"data": {"pw": "not base64!!"}})).unwrap_err();
    assert_eq!(e, SealError::InvalidBase64("pw".into()));
    assert!(!e.to_string().contains("not base64"));
    let e = InputSecret::from_value(json!({"stringData": {"pw": 12345}})).unwrap_err();
    assert!(!e.to_string().contains("12345"));
    assert_eq!(
        seal(
            secret(json!({"metadata": {"name": "x"}})),
            &key,
            &opts_ns("n")
        )
        .unwrap_err(),
        SealError::EmptyData
    );
    assert_eq!(
        seal(secret(json!({"data": {"a": ""}})), &key, &opts_ns("n")).unwrap_err(),
        SealError::MissingName
    );
    assert_eq!(
        seal(
            secret(json!({"metadata": {"name": "x"}, "data": {"a": ""}})),
            &key,
            &SealOptions::default()
        )
        .unwrap_err(),
        SealError::MissingNamespace
    );
    let mismatch = SealOptions {
        default_namespace: Some("other".into()),
        namespace_explicit: true,
        ..Default::default()
    };
    assert_eq!(
        seal(
            secret(json!({"metadata": {"name": "x", "namespace": "ns"}, "data": {"a": ""}})),
            &key,
            &mismatch
        )
        .unwrap_err()
        .to_string(),
        "namespace mismatch: input secret is in namespace \"ns\" but \"other\" was specified"
    );
    // Empty data allowed on request.
    let allow = SealOptions {
        allow_empty_data: true,
        ..opts_ns("n")
    };
    let ss = seal(secret(json!({"metadata": {"name": "x"}})), &key, &allow).unwrap();
    assert!(ss.spec.encrypted_data.is_empty());
    assert_eq!(ss.metadata.namespace.as_deref(), Some("n"));
}

#[test]
fn data_base64_like_go_and_no_values_in_messages() {
    let s = secret(json!({"metadata": {"name": "x"}, "data": {"a": "YWJj\nZGVm\n"}}));
    assert_eq!(s.items["a"].as_slice(), b"abcdef");
    for bad in [
        json!({"metadata": {"name": "x", "labels": {"l": 12345}}}),
        json!({"metadata": {"name": "x"}, "immutable": "hunter2"}),
        json!({"metadata": {"name": "x", "annotations": {"a": 1.5}}}),
        json!({"metadata": {"name": "x", "annotations": {"a": true}}}),
    ] {
        let msg = InputSecret::from_value(bad).unwrap_err().to_string();
        for v in ["12345", "hunter2", "1.5", "true"] {
            assert!(!msg.contains(v), "{msg}");
        }
        assert!(msg.starts_with("invalid Secret: invalid type: "), "{msg}");
    }
    assert_eq!(
        redact_scalars(r#"invalid type: string "a\"b", expected x; missing field `uid`"#),
        "invalid type: string, expected x; missing field `uid`"
    );
}

#[test]
fn name_override() {
    let key = test_key_2048().public_key();
    let opts = SealOptions {
        name: Some("new".into()),
        ..opts_ns("n")
    };
    let ss = seal(
        secret(json!({"metadata": {"name": "old"}, "data": {"a": ""}})),
        &key,
        &opts,
    )
    .unwrap();
    assert_eq!(ss.metadata.name.as_deref(), Some("new"));
    assert_eq!(
        ss.spec.template.metadata.unwrap().name.as_deref(),
        Some("new")
    );
}

#[test]
fn debug_names_the_secret_and_its_items_but_no_value() {
    let input = secret(json!({
        "metadata": {"name": "db", "namespace": "prod"},
        "data": {"password": "aHVudGVyMg=="},
    }));
    let shown = format!("{input:?}");
    for want in ["db", "prod", "password"] {
        assert!(shown.contains(want), "{want:?} missing from {shown}");
    }
    assert!(
        !shown.contains("hunter2") && !shown.contains("aHVudGVyMg"),
        "{shown}"
    );
}

#[test]
fn null_data_or_string_data_counts_as_none() {
    let a = secret(json!({"metadata": {"name": "a"}, "data": null, "stringData": {"x": "1"}}));
    assert_eq!(a.items.keys().collect::<Vec<_>>(), ["x"]);
    let b = secret(json!({"metadata": {"name": "b"}, "data": {"y": "Mg=="}, "stringData": null}));
    assert_eq!(b.items.keys().collect::<Vec<_>>(), ["y"]);
    assert_eq!(b.items["y"].as_slice(), b"2");
}

#[test]
fn force_namespace_wins_unless_empty() {
    let key = test_key_2048().public_key();
    let input =
        || secret(json!({"metadata": {"name": "s", "namespace": "own"}, "data": {"a": ""}}));
    let forced = SealOptions {
        force_namespace: Some("forced".into()),
        ..opts_ns("default")
    };
    let ss = seal(input(), &key, &forced).unwrap();
    assert_eq!(ss.metadata.namespace.as_deref(), Some("forced"));
    let empty = SealOptions {
        force_namespace: Some(String::new()),
        ..opts_ns("default")
    };
    let ss = seal(input(), &key, &empty).unwrap();
    assert_eq!(ss.metadata.namespace.as_deref(), Some("own"));
}

#[test]
fn seal_raw_opens_with_the_label_of_its_scope_only() {
    let private = test_key_2048();
    let public = private.public_key();
    let sealed = seal_raw(&public, Scope::Strict, "ns", "name", b"raw value").unwrap();
    assert!(!sealed.contains('\n'));
    let ct = STANDARD.decode(&sealed).unwrap();
    let opened = crate::crypto::hybrid_decrypt(&private, b"ns/name", &ct).unwrap();
    assert_eq!(opened.as_slice(), b"raw value");
    assert!(crate::crypto::hybrid_decrypt(&private, b"ns/other", &ct).is_err());
    let wide = seal_raw(&public, Scope::NamespaceWide, "ns", "name", b"v").unwrap();
    let ct = STANDARD.decode(&wide).unwrap();
    assert_eq!(
        crate::crypto::hybrid_decrypt(&private, b"ns", &ct)
            .unwrap()
            .as_slice(),
        b"v"
    );
}

#[test]
fn merge_into_adds_items_labels_annotations_and_template_data() {
    let ss = |v: serde_json::Value| -> SealedSecret { serde_json::from_value(v).unwrap() };
    let mut original = ss(json!({
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {
            "encryptedData": {"a": "old-a", "keep": "k"},
            "template": {"metadata": {"labels": {"l1": "1"}}, "data": {"t1": "x"}},
        },
    }));
    let update = ss(json!({
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {
            "encryptedData": {"a": "new-a", "b": "new-b"},
            "template": {
                "metadata": {"labels": {"l2": "2"}, "annotations": {"an": "v"}},
                "data": {"t2": "y"},
            },
        },
    }));
    merge_into(&mut original, update);
    let items: Vec<(&str, &str)> = original
        .spec
        .encrypted_data
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(items, [("a", "new-a"), ("b", "new-b"), ("keep", "k")]);
    let meta = original.spec.template.metadata.unwrap();
    let labels = meta.labels.unwrap();
    assert_eq!(labels.get("l1").map(String::as_str), Some("1"));
    assert_eq!(labels.get("l2").map(String::as_str), Some("2"));
    assert_eq!(
        meta.annotations.unwrap().get("an").map(String::as_str),
        Some("v")
    );
    let data = original.spec.template.data.unwrap();
    assert_eq!(
        data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["t1", "t2"]
    );
}
