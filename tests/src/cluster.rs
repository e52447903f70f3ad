//! The local control plane: kubeconfig, clients, kubectl, one random namespace per test, the
//! built binaries and free loopback ports.

use super::*;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Brings the control plane up once per test process (idempotent and quick when it already
/// runs), installs the CRD, and returns the kubeconfig path.
pub fn kubeconfig() -> &'static Path {
    static KC: OnceLock<PathBuf> = OnceLock::new();
    KC.get_or_init(|| {
        let root = repo_root();
        let out = run(Command::new("bash")
            .arg(root.join("scripts/control-plane.sh"))
            .arg("up")
            .stderr(Stdio::inherit()));
        let path = out
            .lines()
            .find_map(|l| l.strip_prefix("export KUBECONFIG="))
            .expect("control-plane.sh up prints the kubeconfig")
            .trim()
            .to_string();
        let kc = PathBuf::from(path);
        let existed = Command::new("kubectl")
            .args(["get", "crd", "sealedsecrets.bitnami.com"])
            .env("KUBECONFIG", &kc)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        run(Command::new("kubectl")
            .args(["apply", "--server-side", "--force-conflicts", "-f"])
            .arg(root.join("deploy/crd.yaml"))
            .env("KUBECONFIG", &kc));
        run(Command::new("kubectl")
            .args([
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/sealedsecrets.bitnami.com",
            ])
            .env("KUBECONFIG", &kc));
        if !existed {
            // The garbage collector only discovers new kinds every 30 s.
            run(Command::new("bash")
                .arg(root.join("scripts/control-plane.sh"))
                .arg("restart-controller-manager")
                .stderr(Stdio::inherit()));
        }
        kc
    })
}

/// A client for the control plane (one per test: clients belong to a runtime).
pub async fn client() -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// `kubectl` against the control plane.
pub fn kubectl(args: &[&str]) -> String {
    run(Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig()))
}

/// A random DNS-1123 suffix.
pub fn random_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// A namespace that is deleted when dropped.
pub struct TestNs {
    pub name: String,
}

impl TestNs {
    pub async fn new(client: &Client, prefix: &str) -> Self {
        let name = format!("e2e-{prefix}-{}", random_suffix());
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"e2e": "true"}}
        }))
        .unwrap();
        api.create(&PostParams::default(), &ns).await.unwrap();
        Self { name }
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        if std::env::var_os("E2E_KEEP_NAMESPACES").is_some() {
            return;
        }
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .env("KUBECONFIG", kubeconfig())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A binary of this package (`e2e-…`): `CARGO_BIN_EXE_<name>` when cargo sets it, else next
/// to the test executable's `deps/` directory.
pub fn bin(name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(format!("CARGO_BIN_EXE_{name}")) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built (cargo test -p e2e builds it)",
        p.display()
    );
    p
}

/// A free port on loopback.
///
/// Taken below the kernel's ephemeral range (`ip_local_port_range`, 32768 and up by
/// default): a port from that range (what binding port 0 gives) can be handed out again as
/// the source port of one of the many connections to the API server before the controller
/// binds it, and the controller then fails with "Address already in use" (seen once in a
/// full run). Ports are handed out in turn from a random start, each checked free by binding.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000; // 20000..32000
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        rand::random::<u32>() % SPAN,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    for _ in 0..SPAN {
        let port = u16::try_from(LOW + NEXT.fetch_add(1, Ordering::AcqRel) % SPAN).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOW}..{}", LOW + SPAN);
}

/// A kubeconfig (written to a temporary file, mode 0600) holding only a fresh token of the
/// ServiceAccount `ns/sa` (TokenRequest, `kubectl create token`, valid 1 h) and the control
/// plane's address and CA: no admin client certificate. The context's namespace is `ns`.
pub fn service_account_kubeconfig(ns: &str, sa: &str) -> PathBuf {
    let token = kubectl(&["-n", ns, "create", "token", sa, "--duration=1h"]);
    let admin: serde_json::Value = serde_json::from_str(&kubectl(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "--flatten",
        "-o",
        "json",
    ]))
    .unwrap();
    let cluster = &admin["clusters"][0]["cluster"];
    let kc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "control-plane", "cluster": {
            "server": cluster["server"],
            "certificate-authority-data": cluster["certificate-authority-data"],
        }}],
        "users": [{"name": format!("{ns}-{sa}"), "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {
            "cluster": "control-plane", "user": format!("{ns}-{sa}"), "namespace": ns,
        }}],
        "current-context": "sa",
    });
    assert!(kc["clusters"][0]["cluster"]["server"].is_string());
    let path = std::env::temp_dir().join(format!("e2e-kubeconfig-{ns}-{sa}-{}", random_suffix()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    f.write_all(serde_json::to_string_pretty(&kc).unwrap().as_bytes())
        .unwrap();
    path
}
