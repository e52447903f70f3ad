//! Packaging checks for deploy/ and charts/sealed-secrets, with the real Helm binary
//! (`scripts/helm.sh` fetches and verifies it; `HELM_BIN` points at it, else the test runs
//! the script). Without Helm these tests fail: they never skip.
//!
//! - the chart's CRD is byte-identical to deploy/crd.yaml;
//! - `helm lint --strict` accepts the chart with its defaults and with every values
//!   combination these tests render;
//! - the chart with default values renders (`helm install --dry-run=client`, which also
//!   gives NOTES.txt) exactly the objects of deploy/controller.yaml (order-insensitive,
//!   apart from three Helm bookkeeping labels), whatever the release name;
//! - every `.Values.…` used by a template exists in values.yaml and values.schema.json, every
//!   value in values.yaml is used, and Helm rejects bad values through the schema;
//! - non-default values render objects whose controller arguments the real flag parser
//!   accepts, with the RBAC that goes with them;
//! - deploy/crd.yaml applies (server-side) and becomes Established; deploy/controller.yaml and
//!   non-default chart renderings pass a server-side dry-run against the real API server;
//! - `helm install`, `helm upgrade` and `helm uninstall` work on the local control plane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use e2e::*;
use sealed_secrets_core::codec::parse_documents;
use serde_json::{Value, json};

// ------------------------------------------------------------------------------------------

fn chart_dir() -> PathBuf {
    repo_root().join("charts/sealed-secrets")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml_docs(p: &Path) -> Vec<Value> {
    parse_documents(read(p).as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml_one(p: &Path) -> Value {
    let mut d = yaml_docs(p);
    assert_eq!(d.len(), 1, "{}", p.display());
    d.remove(0)
}

/// The Helm binary: `HELM_BIN` (scripts/test.sh sets it), else what `scripts/helm.sh`
/// installs and verifies. No Helm is a failure, not a skip.
fn helm_bin() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        if let Some(p) = std::env::var_os("HELM_BIN") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "HELM_BIN={} does not exist", p.display());
            return p;
        }
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/helm.sh"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/helm.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// Runs helm with the control plane's kubeconfig and a throw-away Helm home (no user
/// repositories or plugins leak in).
fn helm_output(args: &[&str]) -> Output {
    let home = std::env::temp_dir().join("e2e-deploy-helm-home");
    Command::new(helm_bin())
        .args(args)
        .env("KUBECONFIG", kubeconfig())
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("HELM_NAMESPACE")
        .env_remove("HELM_KUBECONTEXT")
        .output()
        .unwrap()
}

/// helm, which must succeed; its stdout.
fn helm(args: &[&str]) -> String {
    let out = helm_output(args);
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// User values as a file for `helm -f` (JSON is YAML).
fn values_file(overrides: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("e2e-deploy-values-{}.json", random_suffix()));
    std::fs::write(&path, serde_json::to_vec(overrides).unwrap()).unwrap();
    path
}

fn schema() -> Value {
    serde_json::from_str(&read(&chart_dir().join("values.schema.json"))).unwrap()
}

fn default_values() -> Value {
    yaml_one(&chart_dir().join("values.yaml"))
}

/// `helm lint --strict` of the chart with these values.
fn lint(overrides: &Value) {
    let file = values_file(overrides);
    let out = helm_output(&[
        "lint",
        "--strict",
        chart_dir().to_str().unwrap(),
        "-f",
        file.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("0 chart(s) failed"),
        "helm lint --strict with {overrides}:\n{text}"
    );
}

/// The chart rendered by Helm (`helm install --dry-run=client`: the values coalesced over
/// values.yaml and validated against the schema, the templates rendered), every values
/// combination linted too. Returns the objects of the templates (not crds/) and NOTES.txt.
fn render_chart(overrides: &Value, release: &str, namespace: &str) -> (Vec<Value>, String) {
    lint(overrides);
    let file = values_file(overrides);
    let out = helm(&[
        "install",
        release,
        chart_dir().to_str().unwrap(),
        "--dry-run=client",
        "--namespace",
        namespace,
        "-f",
        file.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let _ = std::fs::remove_file(&file);
    let rel: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let manifest = rel["manifest"].as_str().unwrap();
    // E2E_CHART_OUT=<dir>: keep the rendered manifest, to read it.
    if let Some(dir) = std::env::var_os("E2E_CHART_OUT") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("{release}.yaml")), manifest).unwrap();
    }
    let docs = parse_documents(manifest.as_bytes())
        .unwrap_or_else(|e| panic!("helm renders invalid YAML ({e}):\n{manifest}"));
    assert!(!docs.is_empty(), "nothing rendered");
    let notes = rel["info"]["notes"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (docs, notes)
}

/// Helm refuses these values, naming the schema.
fn assert_rejected(bad: &Value, why: &str) {
    let file = values_file(bad);
    let out = helm_output(&[
        "template",
        "x",
        chart_dir().to_str().unwrap(),
        "-f",
        file.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&file);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("schema"),
        "helm accepts {bad} ({why}):\n{err}"
    );
}

fn object_key(o: &Value) -> String {
    format!(
        "{}/{} {}/{}",
        o["apiVersion"].as_str().unwrap_or_default(),
        o["kind"].as_str().unwrap_or_default(),
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default()
    )
}

fn by_key(docs: Vec<Value>) -> std::collections::BTreeMap<String, Value> {
    let mut m = std::collections::BTreeMap::new();
    for d in docs {
        let k = object_key(&d);
        assert!(m.insert(k.clone(), d).is_none(), "duplicate object {k}");
    }
    m
}

/// Where two JSON values differ, as `path: left != right` lines.
fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => diff(l, r, &p, out),
                    (l, r) => out.push(format!("{p}: {l:?} != {r:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff(l, r, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

const HELM_LABELS: [&str; 3] = [
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
];

/// Removes (after checking them) the Helm bookkeeping labels that the static manifests do
/// not carry.
fn strip_helm_labels(o: &mut Value, release: &str) {
    let key = object_key(o);
    let labels = o["metadata"]["labels"]
        .as_object_mut()
        .unwrap_or_else(|| panic!("{key} has no labels"));
    let expected = [release, "Helm", "sealed-secrets-0.1.0"];
    for (l, want) in HELM_LABELS.iter().zip(expected) {
        assert_eq!(
            labels.remove(*l).as_ref().and_then(Value::as_str),
            Some(want),
            "{key}: label {l}"
        );
    }
}

fn objects(docs: &[Value], kind: &str) -> Vec<Value> {
    docs.iter().filter(|d| d["kind"] == kind).cloned().collect()
}

fn the(docs: &[Value], kind: &str, name: &str) -> Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
        .clone()
}

/// The controller arguments of a rendered Deployment.
struct Args(Vec<String>);

impl Args {
    /// `--flag value` or `--flag=value`.
    fn value(&self, flag: &str) -> Option<&str> {
        let eq = format!("{flag}=");
        self.0.iter().enumerate().find_map(|(i, a)| {
            if a == flag {
                self.0
                    .get(i + 1)
                    .map(String::as_str)
                    .filter(|v| !v.starts_with("--"))
            } else {
                a.strip_prefix(&eq)
            }
        })
    }

    /// A boolean flag: `--flag` is true, `--flag=false` false, absent None.
    fn bool(&self, flag: &str) -> Option<bool> {
        let eq = format!("{flag}=");
        self.0.iter().find_map(|a| {
            if a == flag {
                Some(true)
            } else {
                a.strip_prefix(&eq).map(|v| v == "true")
            }
        })
    }
}

/// The container's command must be the image's `controller`, and the controller's own flag
/// parser and validation must accept the arguments. The e2e crate cannot name clap's trait,
/// so this runs the real controller program with the arguments and an unreadable kubeconfig:
/// it parses and validates every flag (exit 2 / "invalid …" otherwise) and then stops at
/// "cannot read kubeconfig", before binding any port or calling any API.
fn controller_args(deployment: &Value) -> Args {
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], json!(["controller"]));
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_string())
        .collect();
    let mut cmd = Command::new(bin("e2e-sealed-secrets-controller"));
    cmd.args(&args)
        .arg("--kubeconfig=/nonexistent/e2e-deploy/kubeconfig")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("SEALED_SECRETS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.code() == Some(1) && text.contains("cannot read kubeconfig"),
        "the controller rejects {args:?}:\n{text}"
    );
    Args(args)
}

fn rule_verbs(rules: &Value, group: &str, resource: &str) -> Vec<String> {
    rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["apiGroups"] == json!([group])
                && r["resources"] == json!([resource])
                && r.get("resourceNames").is_none()
        })
        .flat_map(|r| r["verbs"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

// ------------------------------------------------------------------------------------------

#[test]
fn chart_crd_is_deploy_crd() {
    let chart_crd = chart_dir().join("crds/bitnami.com_sealedsecrets.yaml");
    assert!(
        read(&chart_crd) == read(&repo_root().join("deploy/crd.yaml")),
        "charts/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml differs from deploy/crd.yaml: \
         cp deploy/crd.yaml charts/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"
    );
    let crds: Vec<_> = std::fs::read_dir(chart_dir().join("crds"))
        .unwrap()
        .collect();
    assert_eq!(crds.len(), 1, "only the SealedSecret CRD in crds/");
}

#[test]
fn chart_defaults_render_deploy_controller_yaml() {
    let expected = by_key(yaml_docs(&repo_root().join("deploy/controller.yaml")));
    // Two release names: the object names must not depend on it (upstream #571).
    for release in ["sealed-secrets", "my-release"] {
        let (docs, notes) = render_chart(&json!({}), release, "kube-system");
        let mut rendered = by_key(docs);
        for o in rendered.values_mut() {
            strip_helm_labels(o, release);
        }
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !rendered.contains_key(*k))
            .collect();
        let extra: Vec<_> = rendered
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "release {release}: objects only in deploy/controller.yaml: {missing:?}; only in the chart: {extra:?}"
        );
        for (k, want) in &expected {
            let mut diffs = Vec::new();
            diff(want, &rendered[k], "", &mut diffs);
            assert!(
                diffs.is_empty(),
                "release {release}: {k} differs (deploy/controller.yaml vs chart):\n{}",
                diffs.join("\n")
            );
        }
        assert!(notes.contains("sealed-secrets-controller in namespace kube-system"));
        assert!(
            !notes.contains("--controller-name"),
            "defaults need no kubeseal flags"
        );
    }
    // The chart's namespace is the release namespace.
    let (docs, notes) = render_chart(&json!({}), "x", "security");
    for d in docs.iter().filter(|d| {
        !matches!(
            d["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding" | "ValidatingWebhookConfiguration")
        )
    }) {
        assert_eq!(d["metadata"]["namespace"], "security", "{}", object_key(d));
    }
    assert_eq!(
        the(&docs, "ClusterRoleBinding", "sealed-secrets-controller")["subjects"][0]["namespace"],
        "security"
    );
    assert!(notes.contains("--controller-namespace security"), "{notes}");
}

#[test]
fn deploy_controller_yaml_is_consistent() {
    let docs = yaml_docs(&repo_root().join("deploy/controller.yaml"));
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert!(
        !kinds.contains("CustomResourceDefinition"),
        "the CRD lives in deploy/crd.yaml only"
    );
    for d in &docs {
        if !matches!(
            d["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding" | "ValidatingWebhookConfiguration")
        ) {
            assert_eq!(
                d["metadata"]["namespace"],
                "kube-system",
                "{}",
                object_key(d)
            );
        }
    }
    // kubeseal's defaults: Service sealed-secrets-controller in kube-system, first port `http`.
    let svc = the(&docs, "Service", "sealed-secrets-controller");
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    let metrics = the(&docs, "Service", "sealed-secrets-controller-metrics");
    assert_eq!(metrics["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(metrics["spec"]["ports"][0]["port"], 8081);

    let dep = the(&docs, "Deployment", "sealed-secrets-controller");
    let pod = &dep["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["name"],
        "sealed-secrets-controller"
    );
    for s in [&svc, &metrics] {
        assert_eq!(
            s["spec"]["selector"],
            json!({"name": "sealed-secrets-controller"})
        );
    }
    assert_eq!(
        dep["spec"]["selector"]["matchLabels"],
        json!({"name": "sealed-secrets-controller"})
    );
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        "sealed-secrets-controller"
    );
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        "ghcr.io/example/sealed-secrets-controller:0.1.0"
    );

    // The arguments are accepted by the controller's own flag parser, and agree with the ports.
    let a = controller_args(&dep);
    assert_eq!(a.value("--key-prefix"), Some("sealed-secrets-key"));
    assert_eq!(a.bool("--update-status"), Some(true));
    for absent in ["--all-namespaces", "--old-gc-behavior", "--skip-recreate"] {
        assert_eq!(a.bool(absent), None, "{absent}: the default");
    }
    assert_eq!(a.value("--listen-addr"), Some(":8080"));
    assert_eq!(a.value("--listen-metrics-addr"), Some(":8081"));
    assert_eq!(
        c["ports"],
        json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"},
               {"name": "metrics", "containerPort": 8081, "protocol": "TCP"},
               {"name": "webhook", "containerPort": 9443, "protocol": "TCP"}])
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "http"})
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "http"})
    );
    let env: Vec<&Value> = c["env"].as_array().unwrap().iter().collect();
    assert_eq!(env[0]["name"], "POD_NAMESPACE");
    assert_eq!(
        env[0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(env[1]["name"], "POD_NAME");
    assert_eq!(
        env[1]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );

    // Hardening.
    let psc = &pod["spec"]["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert_eq!(psc["runAsUser"], 1001);
    assert_eq!(psc["fsGroup"], 65534);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    let csc = &c["securityContext"];
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["capabilities"]["drop"], json!(["ALL"]));
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "tmp", "mountPath": "/tmp"}])
    );

    // RBAC: the unsealer rules (tests/tests/rbac.rs proves they are enough).
    let cr = the(&docs, "ClusterRole", "secrets-unsealer");
    assert_eq!(
        rule_verbs(&cr["rules"], "", "secrets"),
        ["get", "list", "watch", "create", "update"]
    );
    assert_eq!(
        rule_verbs(&cr["rules"], "bitnami.com", "sealedsecrets"),
        ["get", "list", "watch"]
    );
    assert_eq!(
        rule_verbs(&cr["rules"], "bitnami.com", "sealedsecrets/status"),
        ["patch"]
    );
    assert_eq!(
        rule_verbs(&cr["rules"], "events.k8s.io", "events"),
        ["create", "patch"]
    );
    assert_eq!(cr["rules"].as_array().unwrap().len(), 4, "no other rules");
    let proxier = the(&docs, "Role", "sealed-secrets-service-proxier");
    assert_eq!(
        proxier["rules"][1]["resourceNames"],
        json!([
            "http:sealed-secrets-controller:",
            "http:sealed-secrets-controller:http",
            "sealed-secrets-controller"
        ])
    );
    let rb = the(&docs, "RoleBinding", "sealed-secrets-service-proxier");
    assert_eq!(rb["subjects"][0]["name"], "system:authenticated");

    // High availability: two replicas electing a leader, rolled one at a time, spread over
    // nodes, with a PodDisruptionBudget; the Lease rules name the one Lease where RBAC can.
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        dep["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    );
    let anti = &pod["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        [0];
    assert_eq!(
        anti["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(
        anti["podAffinityTerm"]["labelSelector"]["matchLabels"],
        json!({"name": "sealed-secrets-controller"})
    );
    assert_eq!(
        a.bool("--leader-elect"),
        None,
        "leader election: the default (on)"
    );
    assert_eq!(a.value("--kubeclient-qps"), Some("50"));
    assert_eq!(a.value("--kubeclient-burst"), Some("100"));
    let pdb = the(&docs, "PodDisruptionBudget", "sealed-secrets-controller");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        json!({"name": "sealed-secrets-controller"})
    );
    let key_admin = the(&docs, "Role", "sealed-secrets-key-admin");
    let lease_rules: Vec<&Value> = key_admin["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["apiGroups"] == json!(["coordination.k8s.io"]))
        .collect();
    assert_eq!(lease_rules.len(), 2);
    assert_eq!(lease_rules[0]["resources"], json!(["leases"]));
    assert_eq!(lease_rules[0]["verbs"], json!(["create"]));
    assert!(lease_rules[0].get("resourceNames").is_none());
    assert_eq!(
        lease_rules[1]["resourceNames"],
        json!(["sealed-secrets-controller"])
    );
    assert_eq!(lease_rules[1]["verbs"], json!(["get", "update", "watch"]));

    // The image the Deployment runs: the Dockerfile installs the controller as `controller`.
    let dockerfile = read(&repo_root().join("Dockerfile"));
    assert!(dockerfile.contains("/usr/local/bin/controller"));
    assert!(dockerfile.contains("USER 1001"));
    assert!(dockerfile.contains("EXPOSE 8080 8081"));
}

/// The template files of the chart: (file name, source).
fn template_sources() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(chart_dir().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                read(&p),
            )
        })
        .collect();
    out.sort();
    out
}

/// Paths `a.b.c` of `.Values.a.b.c` in the template sources.
fn template_value_paths() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, src) in template_sources() {
        let mut rest = src.as_str();
        while let Some(i) = rest.find(".Values.") {
            rest = &rest[i + ".Values.".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            out.insert(rest[..end].trim_end_matches('.').to_string());
        }
    }
    out
}

/// Leaf paths of values.yaml (maps whose schema is closed are descended into).
fn value_paths(v: &Value, schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    match v.as_object() {
        Some(m) if closed && !m.is_empty() => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                value_paths(child, &schema["properties"][k], &p, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

#[test]
fn chart_values_are_declared_validated_and_used() {
    // values.yaml satisfies values.schema.json: helm lint --strict validates the defaults.
    lint(&json!({}));
    let values = default_values();
    let schema = schema();

    let used = template_value_paths();
    assert!(used.len() > 40, "found {} .Values paths", used.len());
    for p in &used {
        let mut v = &values;
        let mut s = &schema;
        for part in p.split('.') {
            v = v
                .get(part)
                .unwrap_or_else(|| panic!(".Values.{p} is not in values.yaml"));
            if let Some(props) = s.get("properties") {
                s = props
                    .get(part)
                    .unwrap_or_else(|| panic!(".Values.{p} is not in values.schema.json"));
            } else {
                assert!(
                    s["type"] == "object",
                    ".Values.{p}: not an open map in values.schema.json"
                );
            }
        }
    }
    let mut declared = BTreeSet::new();
    value_paths(&values, &schema, "", &mut declared);
    for d in &declared {
        assert!(
            used.iter().any(|u| u == d
                || d.starts_with(&format!("{u}."))
                || u.starts_with(&format!("{d}."))),
            "values.yaml declares {d}, which no template uses"
        );
    }
    // Every schema property (but `global`) has a default in values.yaml.
    for k in schema["properties"].as_object().unwrap().keys() {
        assert!(
            k == "global" || values.get(k).is_some(),
            "schema-only value {k}"
        );
    }

    // The schema rejects what it should.
    for (bad, why) in [
        (json!({"replicaCount": -1}), "negative replicas"),
        (
            json!({"leaderElection": {"enable": false}}),
            "typo in leaderElection",
        ),
        (
            json!({"keyRenewPeriod": "1h"}),
            "unknown key (it is keyrenewperiod)",
        ),
        (json!({"logFormat": "xml"}), "enum"),
        (json!({"service": {"port": "http"}}), "type"),
        (
            json!({"privateKeyLabels": {"a": 1}}),
            "label values are strings",
        ),
        (
            json!({"rbac": {"serviceProxier": {"subjets": []}}}),
            "typo in a closed map",
        ),
    ] {
        assert_rejected(&bad, why);
    }
}

#[test]
fn chart_options_render_the_matching_flags_and_rbac() {
    // Non-default values: the arguments must parse, and the RBAC must follow them.
    let overrides = json!({
        "fullnameOverride": "sealed",
        "skipRecreate": true,
        "oldGcBehavior": true,
        "updateStatus": false,
        "keyrenewperiod": "0",
        "keyttl": "8760h",
        "rateLimit": 5,
        "logLevel": "DEBUG",
        "logFormat": "json",
        "maxRetries": "3",
        "kubeClientQPS": 20,
        "containerPorts": {"http": 9090},
        "additionalNamespaces": ["default", "kube-public", "kube-system"],
        "privateKeyLabels": {"team": "sec", "env": "prod"},
        "privateKeyAnnotations": {"note": "a b"},
        "commonLabels": {"org": "example"},
        "commonAnnotations": {"owner": "sec"},
        "service": {"annotations": {"owner": "svc", "x": "y"}},
        "rbac": {
            "clusterRole": false,
            "namespacedRoles": true,
            "serviceProxier": {
                "subjects": "- apiGroup: rbac.authorization.k8s.io\n  kind: Group\n  name: sealers\n"
            }
        },
        "resources": {"limits": {"cpu": "1", "memory": null}, "requests": null},
        "livenessProbe": {"enabled": false},
        "replicaCount": 1,
        "updateStrategy": {"type": "Recreate"},
        "leaderElection": {"enabled": false},
        "pdb": {"create": false},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]}}},
    });
    let (docs, notes) = render_chart(&overrides, "rel", "kube-system");
    let dep = the(&docs, "Deployment", "sealed");
    let a = controller_args(&dep);
    assert_eq!(a.bool("--skip-recreate"), Some(true));
    assert_eq!(a.bool("--old-gc-behavior"), Some(true));
    assert_eq!(a.bool("--update-status"), Some(false));
    assert_eq!(a.bool("--all-namespaces"), Some(false));
    assert_eq!(a.value("--key-renew-period"), Some("0"));
    assert_eq!(a.value("--key-ttl"), Some("8760h"));
    assert_eq!(a.value("--rate-limit"), Some("5"));
    assert_eq!(a.value("--max-unseal-retries"), Some("3"));
    assert_eq!(a.value("--kubeclient-qps"), Some("20"));
    assert_eq!(a.value("--log-level"), Some("DEBUG"));
    assert_eq!(a.value("--log-format"), Some("json"));
    assert_eq!(a.value("--listen-addr"), Some(":9090"));
    assert_eq!(
        a.value("--additional-namespaces"),
        Some("default,kube-public,kube-system")
    );
    assert_eq!(a.value("--privatekey-labels"), Some("env=prod,team=sec"));
    assert_eq!(a.value("--privatekey-annotations"), Some("note=a b"));
    // Single replica without leader election: Recreate, no PDB, no Lease rules.
    assert_eq!(a.bool("--leader-elect"), Some(false));
    assert_eq!(dep["spec"]["replicas"], 1);
    assert_eq!(dep["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        dep["spec"]["template"]["spec"]["affinity"],
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]}}})
    );
    assert!(objects(&docs, "PodDisruptionBudget").is_empty());
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["ports"][0]["containerPort"], 9090);
    assert!(c.get("livenessProbe").is_none());
    assert_eq!(c["resources"], json!({"limits": {"cpu": "1"}}));
    assert!(notes.contains("--controller-name sealed"), "{notes}");

    // Namespaced unsealer Roles in the controller's namespace and each additional one (once).
    assert!(objects(&docs, "ClusterRole").is_empty());
    assert!(objects(&docs, "ClusterRoleBinding").is_empty());
    let roles: BTreeSet<String> = objects(&docs, "Role")
        .iter()
        .filter(|r| r["metadata"]["name"] == "secrets-unsealer")
        .map(|r| r["metadata"]["namespace"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        roles,
        BTreeSet::from(["default".into(), "kube-public".into(), "kube-system".into()])
    );
    let unsealer = the(&docs, "Role", "secrets-unsealer");
    // skipRecreate: no Secret watch; oldGcBehavior: delete.
    assert_eq!(
        rule_verbs(&unsealer["rules"], "", "secrets"),
        ["get", "create", "update", "delete"]
    );
    for rb in objects(&docs, "RoleBinding")
        .iter()
        .filter(|r| r["metadata"]["name"] == "secrets-unsealer")
    {
        assert_eq!(rb["subjects"][0]["name"], "sealed");
        assert_eq!(rb["subjects"][0]["namespace"], "kube-system");
    }
    // The key Role still lists and watches the keys.
    let keys = the(&docs, "Role", "sealed-secrets-key-admin");
    assert_eq!(
        rule_verbs(&keys["rules"], "", "secrets"),
        ["create", "list", "watch"]
    );
    assert!(rule_verbs(&keys["rules"], "coordination.k8s.io", "leases").is_empty());
    // Names derived from fullnameOverride; upstream-style string subjects.
    let proxier = the(&docs, "Role", "sealed-secrets-service-proxier");
    assert_eq!(proxier["rules"][0]["resourceNames"], json!(["sealed"]));
    assert_eq!(
        proxier["rules"][1]["resourceNames"],
        json!(["http:sealed:", "http:sealed:http", "sealed"])
    );
    assert_eq!(
        the(&docs, "RoleBinding", "sealed-secrets-service-proxier")["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "sealers"}])
    );
    // Labels and annotations.
    for d in &docs {
        assert_eq!(
            d["metadata"]["labels"]["org"],
            "example",
            "{}",
            object_key(d)
        );
        assert_eq!(
            d["metadata"]["annotations"]["owner"],
            if d["kind"] == "Service" && d["metadata"]["name"] == "sealed" {
                "svc"
            } else {
                "sec"
            },
            "{}",
            object_key(d)
        );
    }
    assert_eq!(
        the(&docs, "Service", "sealed")["metadata"]["annotations"]["x"],
        "y"
    );

    // The API server accepts these objects (dry run; the namespaces exist).
    server_dry_run(&docs);

    // Without RBAC: no RBAC objects and no ServiceAccount if told so.
    let (docs, _) = render_chart(
        &json!({"rbac": {"create": false}, "serviceAccount": {"create": false}}),
        "norbac",
        "kube-system",
    );
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ValidatingWebhookConfiguration"
        ])
    );
    assert_eq!(
        the(&docs, "Deployment", "sealed-secrets-controller")["spec"]["template"]["spec"]["serviceAccountName"],
        "default"
    );
}

#[test]
fn chart_network_policy_is_deploy_networkpolicy_yaml_and_admits_only_its_peers() {
    // Off by default (chart_defaults_render_deploy_controller_yaml checks every object).
    let (docs, _) = render_chart(&json!({}), "sealed-secrets", "kube-system");
    assert!(objects(&docs, "NetworkPolicy").is_empty());

    // deploy/optional/networkpolicy.yaml is the chart's policy with the placeholder API server address.
    let expected = yaml_docs(&repo_root().join("deploy/optional/networkpolicy.yaml"));
    assert_eq!(expected.len(), 1);
    let overlay = json!({"networkPolicy": {"enabled": true, "apiServerCIDRs": ["192.0.2.1/32"]}});
    let (docs, _) = render_chart(&overlay, "sealed-secrets", "kube-system");
    let mut nps = objects(&docs, "NetworkPolicy");
    assert_eq!(nps.len(), 1);
    strip_helm_labels(&mut nps[0], "sealed-secrets");
    let mut diffs = Vec::new();
    diff(&expected[0], &nps[0], "", &mut diffs);
    assert!(
        diffs.is_empty(),
        "deploy/optional/networkpolicy.yaml vs chart:\n{}",
        diffs.join("\n")
    );
    // It selects the controller pods (the Deployment's selector) and restricts ingress only.
    let dep = the(&docs, "Deployment", "sealed-secrets-controller");
    assert_eq!(
        nps[0]["spec"]["podSelector"], dep["spec"]["selector"],
        "the policy must select the controller pods"
    );
    assert_eq!(nps[0]["spec"]["policyTypes"], json!(["Ingress"]));

    // Every peer option, ports following containerPorts.
    let (docs, _) = render_chart(
        &json!({
            "fullnameOverride": "sealed",
            "containerPorts": {"http": 9090, "metrics": 9091},
            "networkPolicy": {
                "enabled": true,
                "apiServerCIDRs": ["10.0.0.10/32", "10.0.1.0/24"],
                "apiServerNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "apiServerPodSelector": {"matchLabels": {"k8s-app": "konnectivity-agent"}},
                "metrics": {
                    // Helm merges maps: the default matchLabels must be dropped explicitly.
                    "namespaceSelector": {"matchLabels": null, "matchExpressions": [
                        {"key": "team", "operator": "In", "values": ["obs"]}
                    ]},
                    "podSelector": null
                }
            }
        }),
        "rel",
        "kube-system",
    );
    let np = the(&docs, "NetworkPolicy", "sealed");
    assert_eq!(
        np["spec"]["ingress"],
        json!([
            {"ports": [{"protocol": "TCP", "port": 9090}, {"protocol": "TCP", "port": 9443}], "from": [
                {"ipBlock": {"cidr": "10.0.0.10/32"}},
                {"ipBlock": {"cidr": "10.0.1.0/24"}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "konnectivity-agent"}}}
            ]},
            {"ports": [{"protocol": "TCP", "port": 9091}], "from": [
                {"namespaceSelector": {"matchExpressions": [
                    {"key": "team", "operator": "In", "values": ["obs"]}
                ]}}
            ]}
        ])
    );
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"],
        json!({"name": "sealed"})
    );
    server_dry_run(&docs);

    // Without the webhook its port is not opened.
    let (docs, _) = render_chart(
        &json!({"webhook": {"enabled": false},
                "networkPolicy": {"enabled": true, "apiServerCIDRs": ["10.0.0.10/32"]}}),
        "nowebhook",
        "kube-system",
    );
    let np = the(&docs, "NetworkPolicy", "sealed-secrets-controller");
    assert_eq!(
        np["spec"]["ingress"][0]["ports"],
        json!([{"protocol": "TCP", "port": 8080}])
    );

    // No peers at all: an empty ingress list, i.e. all ingress denied (never "allow all").
    let (docs, _) = render_chart(
        &json!({"networkPolicy": {"enabled": true,
                                  "metrics": {"namespaceSelector": null, "podSelector": null}}}),
        "closed",
        "kube-system",
    );
    let np = the(&docs, "NetworkPolicy", "sealed-secrets-controller");
    assert_eq!(np["spec"]["ingress"], json!([]));
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));

    // The schema rejects a typo and a bad selector operator.
    for bad in [
        json!({"networkPolicy": {"apiServerCIDR": ["10.0.0.0/8"]}}),
        json!({"networkPolicy": {"metrics": {"podSelector": {"matchExpressions": [
            {"key": "a", "operator": "Equals"}
        ]}}}}),
    ] {
        assert_rejected(&bad, "networkPolicy");
    }
}

/// True if the API server serves `policy/v1` (Kubernetes ≥ 1.21). The local control plane
/// may be older; there the PodDisruptionBudget is dry-run as `policy/v1beta1` (same fields).
fn serves_policy_v1() -> bool {
    kubectl(&["api-versions"])
        .lines()
        .any(|l| l.trim() == "policy/v1")
}

/// The manifest text as this API server accepts it (see [`serves_policy_v1`]).
fn for_this_server(text: &str) -> String {
    if serves_policy_v1() {
        text.to_string()
    } else {
        text.replace("apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n")
    }
}

/// `kubectl apply --server-side --dry-run=server` of objects (nothing is persisted).
fn server_dry_run(docs: &[Value]) {
    let old = !serves_policy_v1();
    let docs: Vec<Value> = docs
        .iter()
        .cloned()
        .map(|mut d| {
            if old && d["apiVersion"] == "policy/v1" {
                d["apiVersion"] = json!("policy/v1beta1");
            }
            d
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": docs});
    let path = std::env::temp_dir().join(format!("e2e-deploy-{}.json", random_suffix()));
    std::fs::write(&path, serde_json::to_vec(&list).unwrap()).unwrap();
    let out = kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=e2e-deploy",
        "--dry-run=server",
        "-f",
        path.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.lines().count(), docs.len(), "{out}");
}

#[test]
fn deploy_manifests_apply_to_the_api_server() {
    let root = repo_root();
    // The CRD for real (the harness applies it too; server-side apply is idempotent).
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        root.join("deploy/crd.yaml").to_str().unwrap(),
    ]);
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/sealedsecrets.bitnami.com",
    ]);
    let established = kubectl(&[
        "get",
        "crd",
        "sealedsecrets.bitnami.com",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
    ]);
    assert_eq!(established.trim(), "True");

    // controller.yaml as a server-side dry run: validated and admitted by the real API server
    // (schemas, RBAC escalation checks), but nothing is created, so other tests may own the
    // real sealed-secrets-controller objects in kube-system.
    let tmp = std::env::temp_dir().join(format!("e2e-deploy-dir-{}", random_suffix()));
    std::fs::create_dir_all(&tmp).unwrap();
    for f in ["crd.yaml", "controller.yaml"] {
        std::fs::write(
            tmp.join(f),
            for_this_server(&read(&root.join("deploy").join(f))),
        )
        .unwrap();
    }
    let out = kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=e2e-deploy",
        "--dry-run=server",
        "-f",
        tmp.join("controller.yaml").to_str().unwrap(),
    ]);
    let docs = yaml_docs(&root.join("deploy/controller.yaml"));
    assert_eq!(out.lines().count(), docs.len(), "{out}");
    for d in &docs {
        let kind = d["kind"].as_str().unwrap().to_lowercase();
        let name = d["metadata"]["name"].as_str().unwrap();
        assert!(
            out.lines().any(|l| l
                .contains(&format!("/{name} serverside-applied (server dry run)"))
                && l.to_lowercase().starts_with(&kind)),
            "{kind}/{name} not applied:\n{out}"
        );
    }

    // `kubectl apply -f deploy/` (both files, in directory order) is also valid.
    let dir = Command::new("kubectl")
        .args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=e2e-deploy",
            "--dry-run=server",
            "-f",
        ])
        .arg(&tmp)
        .env("KUBECONFIG", kubeconfig())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        dir.status.success(),
        "{}",
        String::from_utf8_lossy(&dir.stderr)
    );
}

/// `helm install`, `helm upgrade` and `helm uninstall` for real, in a namespace of its own.
/// Cluster-scoped names are avoided (namespaced unsealer Roles, no ClusterRole) so that
/// parallel tests do not collide; the PodDisruptionBudget is left out on API servers that
/// do not serve policy/v1 (the local control plane may be Kubernetes 1.20).
#[test]
fn chart_installs_upgrades_and_uninstalls_with_helm() {
    let ns = format!("e2e-helm-{}", random_suffix());
    kubectl(&["create", "namespace", &ns]);
    let release = "roundtrip";
    let base = json!({
        "fullnameOverride": format!("sealed-{ns}"),
        "rbac": {"clusterRole": false, "namespacedRoles": true},
        "pdb": {"create": serves_policy_v1()},
    });
    let file = values_file(&base);
    let chart = chart_dir();
    let common = |verb: &str| -> Vec<String> {
        vec![
            verb.to_string(),
            release.to_string(),
            chart.to_str().unwrap().to_string(),
            "--namespace".into(),
            ns.clone(),
            "-f".into(),
            file.to_str().unwrap().to_string(),
        ]
    };
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    // Install: the objects exist; NOTES.txt, as Helm prints it, names this controller.
    let install = common("install");
    let out = helm(&strs(&install));
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert!(
        out.contains(&format!(
            "kubeseal --controller-name sealed-{ns} --controller-namespace {ns}"
        )),
        "NOTES.txt:\n{out}"
    );
    let deployment = |ns: &str| -> Value {
        serde_json::from_str(&kubectl(&[
            "get",
            "deployment",
            "-n",
            ns,
            &format!("sealed-{ns}"),
            "-o",
            "json",
        ]))
        .unwrap()
    };
    let dep = deployment(&ns);
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        dep["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
    let roles = kubectl(&["get", "role", "-n", &ns, "-o", "name"]);
    for r in [
        "secrets-unsealer",
        "sealed-secrets-key-admin",
        "sealed-secrets-service-proxier",
    ] {
        assert!(
            roles.contains(&format!("role.rbac.authorization.k8s.io/{r}")),
            "{roles}"
        );
    }

    // Upgrade: a changed value reaches the live Deployment; revision 2.
    let mut upgrade = common("upgrade");
    upgrade.extend([
        "--set".into(),
        "replicaCount=1".into(),
        "--set".into(),
        "logLevel=DEBUG".into(),
    ]);
    let out = helm(&strs(&upgrade));
    assert!(out.contains("REVISION: 2"), "{out}");
    let dep = deployment(&ns);
    assert_eq!(dep["spec"]["replicas"], 1);
    let live_args = dep["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(
        live_args.contains("\"--log-level\",\"DEBUG\""),
        "{live_args}"
    );
    let status = helm(&["status", release, "--namespace", &ns, "-o", "json"]);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["version"], 2);
    assert_eq!(status["info"]["status"], "deployed");

    // Uninstall: every object of the release is gone (the CRD stays, as Helm does with crds/).
    let out = helm(&["uninstall", release, "--namespace", &ns, "--wait"]);
    assert!(out.contains("uninstalled"), "{out}");
    let left = kubectl(&[
        "get",
        "deployment,service,serviceaccount,role,rolebinding",
        "-n",
        &ns,
        "-l",
        &format!("app.kubernetes.io/instance={release}"),
        "-o",
        "name",
    ]);
    assert!(left.trim().is_empty(), "left behind: {left}");
    kubectl(&["get", "crd", "sealedsecrets.bitnami.com"]);
    let _ = std::fs::remove_file(&file);
    kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
