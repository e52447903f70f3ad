use super::*;

#[test]
fn responses() {
    let deny = response(
        "admission.k8s.io/v1",
        "u1",
        &Decision::Deny {
            message: "no".into(),
        },
    );
    assert_eq!(deny["response"]["allowed"], false);
    assert_eq!(deny["response"]["uid"], "u1");
    assert_eq!(deny["response"]["status"]["message"], "no");
    let warn = response(
        "admission.k8s.io/v1",
        "u2",
        &Decision::Allow {
            warnings: vec!["w".into()],
        },
    );
    assert_eq!(warn["response"]["allowed"], true);
    assert_eq!(warn["response"]["warnings"][0], "w");
}

#[test]
fn metadata_only_updates_are_not_rechecked() {
    let mut a = SealedSecret::new("s", Default::default());
    a.metadata.namespace = Some("ns".into());
    let mut b = a.clone();
    b.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    assert!(same_sealing(&a, &b));
    b.metadata.annotations = Some(
        [(
            sealed_secrets_core::annotations::CLUSTER_WIDE.to_string(),
            "true".to_string(),
        )]
        .into(),
    );
    assert!(!same_sealing(&a, &b), "a scope change is rechecked");
    let mut c = a.clone();
    c.spec.encrypted_data.insert("k".into(), "v".into());
    assert!(!same_sealing(&a, &c));
}
