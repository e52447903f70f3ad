//! The RBAC of deploy/controller.yaml is enough, and no more than intended: the controller
//! runs with nothing but a token of its ServiceAccount, bound to exactly those rules.
//!
//! The ServiceAccount, ClusterRole, ClusterRoleBinding, Roles and RoleBindings are taken from
//! deploy/controller.yaml and changed only in where they live: the namespace kube-system
//! becomes a fresh test namespace (the controller's namespace, where its keys live) and the
//! two cluster-scoped objects get that namespace as a name suffix, so parallel tests never
//! share them. Their rules are not touched (checked below).
//!
//! The controller then runs as in the Deployment's default configuration, watching ALL
//! namespaces (cluster-wide SealedSecret informer and metadata-only Secret watch), but with a
//! `--label-selector` so that it only ever acts on this test's SealedSecrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::*;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use sealed_secrets_core::codec::parse_documents;
use serde_json::{Value, json};

const SA: &str = "sealed-secrets-controller";

/// Deletes the test's cluster-scoped RBAC objects.
struct ClusterScoped(Vec<String>);

impl Drop for ClusterScoped {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", "--ignore-not-found", "--wait=false"])
            .args(&self.0)
            .env("KUBECONFIG", kubeconfig())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The RBAC objects of deploy/controller.yaml, moved from kube-system to `ns` (the
/// cluster-scoped ones renamed `<name>-<ns>`), rules untouched.
fn rbac_objects(ns: &str) -> (Vec<Value>, ClusterScoped) {
    let text = std::fs::read_to_string(repo_root().join("deploy/controller.yaml")).unwrap();
    let docs = parse_documents(text.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut cluster = Vec::new();
    for d in docs {
        let kind = d["kind"].as_str().unwrap().to_string();
        if !matches!(
            kind.as_str(),
            "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding"
        ) {
            continue;
        }
        let mut o = d.clone();
        if o["metadata"]["namespace"] == "kube-system" {
            o["metadata"]["namespace"] = json!(ns);
        }
        if kind.starts_with("Cluster") {
            let name = format!("{}-{ns}", o["metadata"]["name"].as_str().unwrap());
            cluster.push(format!("{}/{name}", kind.to_lowercase()));
            o["metadata"]["name"] = json!(name);
        }
        if kind == "ClusterRoleBinding" {
            let role = format!("{}-{ns}", o["roleRef"]["name"].as_str().unwrap());
            o["roleRef"]["name"] = json!(role);
        }
        if let Some(subjects) = o.get_mut("subjects").and_then(Value::as_array_mut) {
            for s in subjects {
                if s["namespace"] == "kube-system" {
                    s["namespace"] = json!(ns);
                }
            }
        }
        assert_eq!(o.get("rules"), d.get("rules"), "rules are used as written");
        out.push(o);
    }
    let count = |k: &str| out.iter().filter(|o| o["kind"] == k).count();
    assert_eq!(
        [
            count("ServiceAccount"),
            count("ClusterRole"),
            count("ClusterRoleBinding"),
            count("Role"),
            count("RoleBinding")
        ],
        // ClusterRoles: the unsealer's and the webhook's (its one configuration's caBundle).
        [1, 2, 2, 2, 2]
    );
    (out, ClusterScoped(cluster))
}

/// `kubectl auth can-i …` with the given kubeconfig (or the admin's plus `extra` flags).
fn can_i(kubeconfig: &Path, args: &[&str]) -> bool {
    let out = Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(["auth", "can-i"])
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" => true,
        "no" => false,
        other => panic!(
            "kubectl auth can-i {args:?}: {other:?} {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Records whether the SealedSecret `ns/name` was ever seen with `Synced=True` for its current
/// generation. A watch sees every write, so a status written by our controller is seen even
/// if something else overwrites it right after (another controller watching all namespaces,
/// such as the one scripts/demo.sh leaves running, writes `Synced=False` on every
/// SealedSecret it cannot decrypt). Start it before creating the object.
fn watch_synced_true(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> tokio::sync::watch::Receiver<bool> {
    use futures::StreamExt as _;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let api: Api<sealed_secrets_core::SealedSecret> = Api::namespaced(client.clone(), ns);
    let wc = kube::runtime::watcher::Config::default().fields(&format!("metadata.name={name}"));
    tokio::spawn(async move {
        let stream = kube::runtime::watcher(api, wc);
        futures::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            let obj = match ev {
                Ok(kube::runtime::watcher::Event::Apply(o))
                | Ok(kube::runtime::watcher::Event::InitApply(o)) => o,
                _ => continue,
            };
            let ok = obj
                .status
                .as_ref()
                .is_some_and(|s| s.observed_generation == obj.metadata.generation)
                && obj.synced_condition().is_some_and(|c| c.status == "True");
            if ok {
                let _ = tx.send(true);
                return;
            }
        }
    });
    rx
}

async fn wait_seen(rx: &mut tokio::sync::watch::Receiver<bool>, what: &str) {
    tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|v| *v))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap();
}

#[tokio::test]
async fn controller_works_with_only_its_rbac() {
    let client = client().await;
    let ctl_ns = TestNs::new(&client, "rbac").await;
    let app_ns = TestNs::new(&client, "rbac-app").await;
    let ns = ctl_ns.name.as_str();
    let app = app_ns.name.as_str();
    let selector = format!("e2e-rbac={ns}");

    // 1. The ServiceAccount and its RBAC, from deploy/controller.yaml.
    let (objects, _cleanup) = rbac_objects(ns);
    let file = std::env::temp_dir().join(format!("e2e-rbac-{ns}.json"));
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "List", "items": objects})).unwrap(),
    )
    .unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);

    // 2. A kubeconfig with only a token of that ServiceAccount.
    let kc = service_account_kubeconfig(ns, SA);
    let kc_text = std::fs::read_to_string(&kc).unwrap();
    assert!(kc_text.contains("\"token\""));
    for admin_secret in ["client-certificate", "client-key", "username", "password"] {
        assert!(
            !kc_text.contains(admin_secret),
            "{admin_secret} in {kc_text}"
        );
    }
    let sa_user = format!("system:serviceaccount:{ns}:{SA}");
    // It really is the ServiceAccount (and not an administrator).
    assert!(!can_i(&kc, &["get", "configmaps", "-n", ns]));
    assert!(!can_i(
        kubeconfig(),
        &["get", "configmaps", "-n", ns, "--as", &sa_user]
    ));

    // 3. The controller, as deployed by default (all namespaces), with that kubeconfig.
    // `--all-namespaces=true` overrides the harness's `--all-namespaces=false` (last wins).
    // POD_NAME (the Deployment sets it from the downward API) names the Event reporter.
    let pod = format!("controller-{ns}");
    let mut ctl = Controller::start_with_env(
        ns,
        &[],
        &[
            "--all-namespaces=true",
            &format!("--label-selector={selector}"),
        ],
        &kc,
        &[("POD_NAME", &pod)],
    );
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    // It generated its key (create with generateName, after list + watch of the key Secrets).
    let secrets_ns: Api<Secret> = Api::namespaced(client.clone(), ns);
    let keys = secrets_ns
        .list(&ListParams::default().labels("sealedsecrets.bitnami.com/sealed-secrets-key=active"))
        .await
        .unwrap();
    assert_eq!(keys.items.len(), 1, "one generated key");

    // It leads, on the Lease named by the Deployment's default, as `<POD_NAME>_<suffix>`.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), ns);
    let holder = leases
        .get("sealed-secrets-controller")
        .await
        .unwrap()
        .spec
        .unwrap()
        .holder_identity
        .unwrap();
    assert!(holder.starts_with(&format!("{pod}_")), "{holder}");

    // 4. Unseal into another namespace: GET + create of the Secret, status patch, Event.
    let mut ss = seal_json(
        &cert,
        json!({"metadata": {"name": "app", "namespace": app}, "stringData": {"pw": "rbac-one"}}),
    );
    ss.metadata.labels = Some([("e2e-rbac".to_string(), ns.to_string())].into());
    // The same, without the label: the selector excludes it (created first, so by the time
    // the labelled one is unsealed, it has been listed/watched as well).
    let unlabelled = seal_json(
        &cert,
        json!({"metadata": {"name": "unlabelled", "namespace": app}, "stringData": {"pw": "rbac-unlabelled"}}),
    );
    create_ss(&client, app, &unlabelled).await;
    let mut synced = watch_synced_true(&client, app, "app");
    create_ss(&client, app, &ss).await;
    let secret = wait_secret(&client, app, "app", |_| true).await;
    assert_eq!(item(&secret, "pw").as_deref(), Some("rbac-one"));
    wait_seen(&mut synced, "app Synced=True").await;
    wait_event(
        &client,
        app,
        "app",
        "Unsealed",
        "SealedSecret unsealed successfully",
    )
    .await;

    // `--label-selector`: the unlabelled object was never touched by this controller (no
    // Secret — only our key can decrypt it —, no Event or metric series of ours).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(get_secret(&client, app, "unlabelled").await.is_none());
    assert!(events(&client, app, "unlabelled").await.is_empty());
    assert!(our_synced_values(app, "unlabelled").await.is_empty());
    assert_eq!(our_synced_values(app, "app").await, vec![1.0]);

    // 5. Drift repair (metadata watch + PUT), then recreation (metadata watch + create).
    let secrets_app: Api<Secret> = Api::namespaced(client.clone(), app);
    let mut edited = secret.clone();
    edited
        .data
        .as_mut()
        .unwrap()
        .insert("pw".into(), k8s_openapi::ByteString(b"tampered".to_vec()));
    secrets_app
        .replace("app", &PostParams::default(), &edited)
        .await
        .unwrap();
    let repaired = wait_secret(&client, app, "app", |s| {
        item(s, "pw").as_deref() == Some("rbac-one")
    })
    .await;
    secrets_app
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    wait_secret(&client, app, "app", |s| {
        s.metadata.uid != repaired.metadata.uid && item(s, "pw").as_deref() == Some("rbac-one")
    })
    .await;
    // 6. The legacy key (GET by name, allowed by resourceNames) is loaded after a restart.
    let (mut legacy, entry) = sealed_secrets_controller::keys::new_key_secret(
        ns,
        "unused",
        2048,
        "",
        Duration::from_secs(3600),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    legacy.metadata.generate_name = None;
    legacy.metadata.name = Some("sealed-secrets-key".into());
    legacy.metadata.labels = None;
    secrets_ns
        .create(&PostParams::default(), &legacy)
        .await
        .unwrap();
    ctl.restart();
    ctl.wait_ready().await;
    let mut ss2 = seal_json(
        &entry.cert,
        json!({"metadata": {"name": "legacy", "namespace": app}, "stringData": {"pw": "rbac-two"}}),
    );
    ss2.metadata.labels = Some([("e2e-rbac".to_string(), ns.to_string())].into());
    let mut synced = watch_synced_true(&client, app, "legacy");
    create_ss(&client, app, &ss2).await;
    let s2 = wait_secret(&client, app, "legacy", |_| true).await;
    assert_eq!(item(&s2, "pw").as_deref(), Some("rbac-two"));
    wait_seen(&mut synced, "legacy Synced=True").await;

    // 7. Event series (events.k8s.io `patch`): a SealedSecret no key can decrypt fails on
    // every retry (1 s, 2 s, 4 s …) with the same Warning about the same object revision,
    // which the Recorder PATCHes into a series. Status writes are switched off for this part,
    // because each one would make a new object revision (and so a new event) — our own, or
    // those of another controller watching all namespaces.
    ctl.stop();
    let ctl2 = Controller::start_with_env(
        ns,
        &[],
        &[
            "--all-namespaces=true",
            &format!("--label-selector={selector}"),
            "--update-status=false",
        ],
        &kc,
        &[("POD_NAME", &pod)],
    );
    ctl2.wait_ready().await;
    let (_, stranger) = sealed_secrets_controller::keys::new_key_secret(
        ns,
        "unused",
        2048,
        "",
        Duration::from_secs(3600),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    let mut bad = seal_json(
        &stranger.cert,
        json!({"metadata": {"name": "undecryptable", "namespace": app}, "stringData": {"pw": "x"}}),
    );
    bad.metadata.labels = Some([("e2e-rbac".to_string(), ns.to_string())].into());
    create_ss(&client, app, &bad).await;
    // `--update-status=false`: a labelled object is unsealed, but its status is never written.
    let mut quiet = seal_json(
        &ctl2.cert().await,
        json!({"metadata": {"name": "quiet", "namespace": app}, "stringData": {"pw": "rbac-quiet"}}),
    );
    quiet.metadata.labels = Some([("e2e-rbac".to_string(), ns.to_string())].into());
    create_ss(&client, app, &quiet).await;
    let s3 = wait_secret(&client, app, "quiet", |_| true).await;
    assert_eq!(item(&s3, "pw").as_deref(), Some("rbac-quiet"));
    wait_until(Duration::from_secs(10), "quiet reconciled", || async {
        (our_synced_values(app, "quiet").await == vec![1.0]).then_some(())
    })
    .await;
    let ss_api: Api<sealed_secrets_core::SealedSecret> = Api::namespaced(client.clone(), app);
    assert!(
        ss_api.get("quiet").await.unwrap().status.is_none(),
        "status written with --update-status=false"
    );
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), app);
    wait_until(
        Duration::from_secs(60),
        "an ErrUnsealFailed event series",
        || {
            let events = events.clone();
            let pod = pod.clone();
            async move {
                let list = events.list(&ListParams::default()).await.ok()?;
                list.items
                    .iter()
                    .any(|e| {
                        e.reason.as_deref() == Some("ErrUnsealFailed")
                            && e.reporting_controller.as_deref() == Some("sealed-secrets")
                            && e.reporting_instance.as_deref() == Some(pod.as_str())
                            && e.regarding.as_ref().and_then(|r| r.name.as_deref())
                                == Some("undecryptable")
                            && e.series.as_ref().is_some_and(|s| s.count >= 2)
                    })
                    .then_some(())
            }
        },
    )
    .await;

    // 8. What the ServiceAccount may do, and what it may not.
    let yes: &[&[&str]] = &[
        &["list", "secrets", "--all-namespaces"],
        &["watch", "secrets", "--all-namespaces"],
        &["get", "secrets", "-n", app],
        &["create", "secrets", "-n", app],
        &["update", "secrets", "-n", app],
        &["list", "sealedsecrets.bitnami.com", "--all-namespaces"],
        &["watch", "sealedsecrets.bitnami.com", "--all-namespaces"],
        // A new leader reads new or changed SealedSecrets before its list is complete.
        &["get", "sealedsecrets.bitnami.com", "-n", app],
        &[
            "patch",
            "sealedsecrets.bitnami.com",
            "--subresource=status",
            "-n",
            app,
        ],
        &["create", "events.events.k8s.io", "-n", app],
        &["patch", "events.events.k8s.io", "-n", app],
        &["get", "secrets/sealed-secrets-key", "-n", ns],
        // Leader election on the one Lease.
        &["create", "leases.coordination.k8s.io", "-n", ns],
        &[
            "get",
            "leases.coordination.k8s.io/sealed-secrets-controller",
            "-n",
            ns,
        ],
        &[
            "update",
            "leases.coordination.k8s.io/sealed-secrets-controller",
            "-n",
            ns,
        ],
        &[
            "watch",
            "leases.coordination.k8s.io/sealed-secrets-controller",
            "-n",
            ns,
        ],
    ];
    for args in yes {
        assert!(can_i(&kc, args), "the controller needs: {args:?}");
    }
    let no: &[&[&str]] = &[
        &["delete", "secrets", "--all-namespaces"],
        &["delete", "secrets", "-n", ns],
        &["deletecollection", "secrets", "-n", app],
        &["patch", "secrets", "-n", app],
        &["get", "configmaps", "-n", ns],
        &["list", "pods", "--all-namespaces"],
        &["get", "namespaces"],
        &["update", "sealedsecrets.bitnami.com", "-n", app],
        &["patch", "sealedsecrets.bitnami.com", "-n", app],
        &["delete", "sealedsecrets.bitnami.com", "-n", app],
        &[
            "update",
            "sealedsecrets.bitnami.com",
            "--subresource=status",
            "-n",
            app,
        ],
        &["create", "events", "-n", app],
        &["create", "serviceaccounts", "--subresource=token", "-n", ns],
        &["create", "clusterrolebindings"],
        &["create", "rolebindings", "-n", ns],
        &["impersonate", "serviceaccounts", "-n", ns],
        &["create", "customresourcedefinitions.apiextensions.k8s.io"],
        // Only that Lease, only in the controller's namespace, never deleted or patched.
        &["get", "leases.coordination.k8s.io/other", "-n", ns],
        &["update", "leases.coordination.k8s.io/other", "-n", ns],
        &["list", "leases.coordination.k8s.io", "-n", ns],
        &[
            "delete",
            "leases.coordination.k8s.io/sealed-secrets-controller",
            "-n",
            ns,
        ],
        &[
            "patch",
            "leases.coordination.k8s.io/sealed-secrets-controller",
            "-n",
            ns,
        ],
        &["create", "leases.coordination.k8s.io", "-n", app],
        &[
            "update",
            "leases.coordination.k8s.io/sealed-secrets-controller",
            "-n",
            app,
        ],
    ];
    for args in no {
        assert!(
            !can_i(&kc, args),
            "the controller must not be allowed: {args:?}"
        );
    }

    // The service proxier Role: any authenticated user may reach the controller's Service
    // through the API server proxy (kubeseal), and nothing else.
    let user = |extra: &[&str]| -> bool {
        let mut a = extra.to_vec();
        a.extend([
            "-n",
            ns,
            "--as",
            "someone",
            "--as-group",
            "system:authenticated",
        ]);
        can_i(kubeconfig(), &a)
    };
    assert!(user(&["get", "services/sealed-secrets-controller"]));
    assert!(user(&[
        "get",
        "services/http:sealed-secrets-controller:http",
        "--subresource=proxy"
    ]));
    assert!(user(&[
        "create",
        "services/http:sealed-secrets-controller:",
        "--subresource=proxy"
    ]));
    assert!(!user(&["get", "services/other"]));
    assert!(!user(&["list", "services"]));
    assert!(!user(&[
        "get",
        "services/http:other:http",
        "--subresource=proxy"
    ]));
    assert!(!user(&["get", "secrets"]));

    // The failing object's status was never written either.
    assert!(
        ss_api.get("undecryptable").await.unwrap().status.is_none(),
        "status written with --update-status=false"
    );

    // Nothing was refused along the way.
    let logs = format!("{}{}", ctl.logs(), ctl2.logs());
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "a request was forbidden:\n{logs}"
    );
    let _ = std::fs::remove_file(&kc);
}
