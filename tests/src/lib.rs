//! Test harness for the e2e suite: a real local control plane (`scripts/control-plane.sh`),
//! one random namespace per test, and a real controller process per test, scoped to that
//! namespace (its keys live there too), so tests run in parallel without seeing each other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use sealed_secrets_core::{
    Certificate, InputSecret, SealOptions, SealedSecret, SealedSecretCondition, seal,
};

pub use sealed_secrets_core;

pub mod netns;

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
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// The controllers this test process started (its "controllers under test"): their
/// `POD_NAME` (the Event reporting instance) and, while running, their metrics address.
/// Waits for a status or an Event accept only what one of these wrote, so a leftover
/// controller (e.g. an all-namespaces one from scripts/demo.sh) cannot satisfy them.
struct Registered {
    pod: String,
    metrics: Option<SocketAddr>,
}

fn registry() -> std::sync::MutexGuard<'static, HashMap<u64, Registered>> {
    static R: OnceLock<Mutex<HashMap<u64, Registered>>> = OnceLock::new();
    R.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// True if `instance` (an Event's reporting instance) is one of our controllers.
pub fn is_our_instance(instance: Option<&str>) -> bool {
    instance.is_some_and(|i| registry().values().any(|r| r.pod == i))
}

/// What the running controllers under test say about the `Synced` condition of `ns/name`
/// (their `sealed_secrets_controller_condition_info` gauge: 1 true, -1 false), one entry per
/// controller that has a series for it.
pub async fn our_synced_values(ns: &str, name: &str) -> Vec<f64> {
    let addrs: Vec<SocketAddr> = registry().values().filter_map(|r| r.metrics).collect();
    let prefix = format!(
        "sealed_secrets_controller_condition_info{{namespace=\"{ns}\",name=\"{name}\",condition=\"Synced\""
    );
    let mut out = Vec::new();
    for a in addrs {
        if let Ok((200, body)) = http(a, "GET", "/metrics", b"").await
            && let Some(v) = metric_value(&String::from_utf8_lossy(&body), &prefix)
        {
            out.push(v);
        }
    }
    out
}

/// True if one of our running controllers reports `Synced` = `status` ("True"/"False") for
/// `ns/name`: the status seen in the API was (also) decided by a controller under test.
async fn ours_agree(ns: &str, name: &str, status: &str) -> bool {
    let want = if status == "True" { 1.0 } else { -1.0 };
    our_synced_values(ns, name).await.contains(&want)
}

/// A controller process.
pub struct Controller {
    id: u64,
    child: Option<Child>,
    pub api: SocketAddr,
    pub metrics: SocketAddr,
    pub log: PathBuf,
    pub key_namespace: String,
    args: Vec<String>,
    /// Extra environment variables of the process.
    env: Vec<(String, String)>,
    /// CPUs the process may run on (`taskset -c`), if restricted.
    cpus: Option<String>,
}

impl Controller {
    /// Starts a controller whose keys live in `key_ns` and which watches `key_ns` plus
    /// `extra_ns`. Uses 2048-bit keys unless `args` says otherwise.
    pub fn start(key_ns: &str, extra_ns: &[&str], args: &[&str]) -> Self {
        Self::start_with_kubeconfig(key_ns, extra_ns, args, kubeconfig())
    }

    /// Like [`Controller::start`], but the controller reaches the API server with the
    /// credentials of `kubeconfig` (e.g. one from [`service_account_kubeconfig`]) instead of
    /// the admin's.
    pub fn start_with_kubeconfig(
        key_ns: &str,
        extra_ns: &[&str],
        args: &[&str],
        kubeconfig: &Path,
    ) -> Self {
        Self::start_with_env(key_ns, extra_ns, args, kubeconfig, &[])
    }

    /// Like [`Controller::start_with_kubeconfig`], with extra environment variables (e.g.
    /// `POD_NAME`, which the controller reports as its Event reporting instance).
    pub fn start_with_env(
        key_ns: &str,
        extra_ns: &[&str],
        args: &[&str],
        kubeconfig: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let mut c = Self::unstarted(key_ns, extra_ns, args, kubeconfig, env);
        c.spawn();
        c
    }

    /// The controller [`Controller::start_with_env`] starts, not started yet.
    fn unstarted(
        key_ns: &str,
        extra_ns: &[&str],
        args: &[&str],
        kubeconfig: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let log =
            std::env::temp_dir().join(format!("e2e-controller-{key_ns}-{}.log", random_suffix()));
        let mut all: Vec<String> = vec![
            format!("--namespace={key_ns}"),
            "--all-namespaces=false".into(),
            format!("--kubeconfig={}", kubeconfig.display()),
        ];
        if !extra_ns.is_empty() {
            all.push(format!("--additional-namespaces={}", extra_ns.join(",")));
        }
        if !args.iter().any(|a| a.starts_with("--key-size")) {
            all.push("--key-size=2048".into());
        }
        if !args.iter().any(|a| a.starts_with("--log-level")) {
            all.push("--log-level=DEBUG".into());
        }
        all.extend(args.iter().map(|s| s.to_string()));
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Like a Pod: a stable POD_NAME across restarts of this controller, so that a restarted
        // process takes over its own Lease at once (leader election is on by default).
        if !env.iter().any(|(k, _)| k == "POD_NAME") {
            env.push((
                "POD_NAME".into(),
                format!("e2e-controller-{}", random_suffix()),
            ));
        }
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            id,
            child: None,
            api: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            key_namespace: key_ns.to_string(),
            args: all,
            env,
            cpus: None,
        }
    }

    /// Like [`Controller::start`], but the process may only run on the CPUs in `cpus` (a
    /// `taskset -c` list, e.g. `"0"`), so that it sees that many cores.
    pub fn start_on_cpus(cpus: &str, key_ns: &str, args: &[&str]) -> Self {
        let mut c = Self::unstarted(key_ns, &[], args, kubeconfig(), &[]);
        c.cpus = Some(cpus.to_string());
        c.spawn();
        c
    }

    fn spawn(&mut self) {
        self.api = SocketAddr::from(([127, 0, 0, 1], free_port()));
        self.metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = match &self.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus])
                    .arg(bin("e2e-sealed-secrets-controller"));
                c
            }
            None => Command::new(bin("e2e-sealed-secrets-controller")),
        };
        let child = cmd
            .args(&self.args)
            .arg(format!("--listen-addr={}", self.api))
            .arg(format!("--listen-metrics-addr={}", self.metrics))
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            // The most verbose level the controller has (`--log-level=DEBUG`, set in
            // `start_with_env`), so that log-leak checks also see DEBUG output.
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        registry().insert(
            self.id,
            Registered {
                pod: self.pod_name().to_string(),
                metrics: Some(self.metrics),
            },
        );
    }

    fn unregister_metrics(&mut self) {
        if let Some(r) = registry().get_mut(&self.id) {
            r.metrics = None;
        }
    }

    /// Waits for `/readyz` (keys loaded, caches synced).
    pub async fn wait_ready(&self) {
        let addr = self.api;
        wait_until(Duration::from_secs(60), "controller ready", || async move {
            let (code, _) = http(addr, "GET", "/readyz", b"").await.ok()?;
            (code == 200).then_some(())
        })
        .await;
    }

    /// The sealing certificate served by the controller.
    pub async fn cert(&self) -> Certificate {
        let (code, body) = http(self.api, "GET", "/v1/cert.pem", b"").await.unwrap();
        assert_eq!(code, 200);
        Certificate::from_pem(&body).unwrap()
    }

    /// Asserts that the log holds DEBUG lines (so it was written at the most verbose level)
    /// and none of `secrets`.
    pub fn assert_log_clean(&self, secrets: &[&str]) {
        let logs = self.logs();
        assert!(
            logs.lines().any(|l| l.contains("DEBUG")),
            "log-leak check needs a DEBUG log:\n{logs}"
        );
        for s in secrets {
            assert!(!logs.contains(s), "{s:?} in the controller log");
        }
    }

    /// Everything the controller logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The Prometheus text served on the metrics address.
    pub async fn metrics_text(&self) -> String {
        let (code, body) = http(self.metrics, "GET", "/metrics", b"").await.unwrap();
        assert_eq!(code, 200);
        String::from_utf8(body).unwrap()
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        self.unregister_metrics();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The `POD_NAME` the process runs with.
    pub fn pod_name(&self) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == "POD_NAME")
            .map_or("", |(_, v)| v.as_str())
    }

    /// Sends SIGTERM and waits (at most 30 s) for the process to exit.
    pub fn terminate(&mut self) {
        self.unregister_metrics();
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while matches!(c.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts again (new ports), keeping the log.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "--- controller log ({}) ---\n{}",
                self.log.display(),
                self.logs()
            );
        }
    }
}

/// Polls `f` until it returns `Some`, or panics naming `what` after `timeout`.
pub async fn wait_until<F, Fut, T>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A minimal HTTP/1.1 request over loopback: returns (status, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let r = http_request(addr, method, path, "application/json", body).await?;
    Ok((r.code, r.body))
}

/// An HTTP response: status, headers (names lowercased) and the (de-chunked) body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub code: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Like [`http`], with a chosen `Content-Type` and the response headers (hyper's HTTP/1.1
/// client, one connection per request). A server that answers before reading the whole body
/// (413) is fine: the response counts even if sending the rest of the body then fails.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    use http_body_util::BodyExt as _;
    let stream = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(std::io::Error::other)??;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
    // The connection's own task: when the server closes early, its write error is not ours.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .header(http::header::CONTENT_TYPE, content_type)
        .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
            body,
        )))
        .map_err(std::io::Error::other)?;
    let exchange = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(std::io::Error::other)?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        Ok::<_, std::io::Error>((parts, body))
    };
    let (parts, body) = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(std::io::Error::other)??;
    Ok(HttpResponse {
        code: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    })
}

/// Seals a Secret given as JSON (name, namespace, data or stringData) with `cert`.
pub fn seal_json(cert: &Certificate, secret: serde_json::Value) -> SealedSecret {
    let input = InputSecret::from_value(secret).unwrap();
    seal(input, cert.public_key(), &SealOptions::default()).unwrap()
}

/// Creates a SealedSecret in `ns`.
pub async fn create_ss(client: &Client, ns: &str, ss: &SealedSecret) -> SealedSecret {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    let mut ss = ss.clone();
    ss.metadata.namespace = Some(ns.to_string());
    api.create(&PostParams::default(), &ss).await.unwrap()
}

/// Waits until the SealedSecret has a `Synced` condition for its current generation, and a
/// controller under test reports the same condition in its metrics (a status written by any
/// other controller is not accepted).
pub async fn wait_synced(client: &Client, ns: &str, name: &str) -> SealedSecretCondition {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    wait_until(
        Duration::from_secs(60),
        &format!("{ns}/{name} Synced"),
        || {
            let api = api.clone();
            async move {
                let ss = api.get_opt(name).await.ok()??;
                let status = ss.status.as_ref()?;
                if status.observed_generation != ss.metadata.generation {
                    return None;
                }
                let cond = ss.synced_condition().cloned()?;
                ours_agree(ns, name, &cond.status).await.then_some(cond)
            }
        },
    )
    .await
}

/// Waits until the condition is `True`.
pub async fn wait_synced_true(client: &Client, ns: &str, name: &str) {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    wait_until(
        Duration::from_secs(60),
        &format!("{ns}/{name} Synced=True"),
        || {
            let api = api.clone();
            async move {
                let ss = api.get_opt(name).await.ok()??;
                let ok = ss.status.as_ref()?.observed_generation == ss.metadata.generation
                    && ss.synced_condition()?.status == "True"
                    && ours_agree(ns, name, "True").await;
                ok.then_some(())
            }
        },
    )
    .await
}

/// The Secret, if it exists.
pub async fn get_secret(client: &Client, ns: &str, name: &str) -> Option<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.get_opt(name).await.unwrap()
}

/// Waits until the Secret exists and `pred` holds; returns it.
pub async fn wait_secret<P>(client: &Client, ns: &str, name: &str, pred: P) -> Secret
where
    P: Fn(&Secret) -> bool,
{
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let pred = &pred;
    wait_until(
        Duration::from_secs(60),
        &format!("Secret {ns}/{name}"),
        || {
            let api = api.clone();
            async move {
                let s = api.get_opt(name).await.ok()??;
                pred(&s).then_some(s)
            }
        },
    )
    .await
}

/// The decoded value of one item of a Secret.
pub fn item(secret: &Secret, key: &str) -> Option<String> {
    secret
        .data
        .as_ref()?
        .get(key)
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
}

/// (reason, message) of the Events about an object reported by a controller under test
/// (reporting instance = the `POD_NAME` of a [`Controller`] this process started).
pub async fn events(client: &Client, ns: &str, name: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    api.list(&lp)
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|e| is_our_instance(e.reporting_instance.as_deref()))
                .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits for an Event with `reason` whose message contains `needle`.
pub async fn wait_event(
    client: &Client,
    ns: &str,
    name: &str,
    reason: &str,
    needle: &str,
) -> String {
    wait_until(
        Duration::from_secs(60),
        &format!("event {reason} containing {needle:?} on {ns}/{name}"),
        || async {
            events(client, ns, name)
                .await
                .into_iter()
                .find(|(r, m)| r == reason && m.contains(needle))
                .map(|(_, m)| m)
        },
    )
    .await
}

/// The kubeseal program.
pub fn kubeseal() -> Command {
    let mut c = Command::new(bin("e2e-kubeseal"));
    c.env_remove("KUBECONFIG");
    c
}

/// How many times a controller under test recorded an Event with `reason` about an object
/// (Events aggregated into a series count once per occurrence).
pub async fn event_count(client: &Client, ns: &str, name: &str, reason: &str) -> i32 {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    api.list(&lp)
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|e| is_our_instance(e.reporting_instance.as_deref()))
                .filter(|e| e.reason.as_deref() == Some(reason))
                .map(|e| {
                    e.series
                        .as_ref()
                        .map(|s| s.count.unwrap_or(1))
                        .or(e.count)
                        .unwrap_or(1)
                        .max(1)
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The active key Secrets in `ns` (label `sealedsecrets.bitnami.com/sealed-secrets-key=active`).
pub async fn key_secrets(client: &Client, ns: &str) -> Vec<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels("sealedsecrets.bitnami.com/sealed-secrets-key=active");
    api.list(&lp).await.unwrap().items
}

/// A fresh 2048-bit key and its self-signed certificate (like the controller's).
pub fn new_key_pair() -> (sealed_secrets_core::PrivateKey, Certificate) {
    let key = sealed_secrets_core::PrivateKey::generate(2048, sealed_secrets_core::Backend::AwsLc)
        .unwrap();
    let cert = sealed_secrets_core::keys::self_signed_certificate(
        &key,
        None,
        Duration::from_secs(3600),
        std::time::SystemTime::now(),
    )
    .unwrap();
    (key, cert)
}

/// A Bitnami-shaped key Secret (`kubernetes.io/tls`, PEM `tls.crt` and `tls.key`, labelled
/// `active`), with `tls.key` as PKCS#1 or PKCS#8.
pub fn key_secret(
    name: &str,
    key: &sealed_secrets_core::PrivateKey,
    cert: &Certificate,
    pkcs8: bool,
) -> Secret {
    use base64::Engine as _;
    let pem = if pkcs8 {
        key.to_pkcs8_pem().unwrap()
    } else {
        key.to_pkcs1_pem().unwrap()
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(cert.to_pem().as_bytes()), "tls.key": b64(pem.as_bytes())}
    }))
    .unwrap()
}

/// Creates a Secret in `ns`.
pub async fn create_secret(client: &Client, ns: &str, secret: &Secret) -> Secret {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), secret).await.unwrap()
}

/// A SealedSecret called `name` carrying `spec` (ciphertexts copied from another sealing) and
/// the given top-level annotations (the scope).
pub fn ss_with_spec(
    name: &str,
    spec: &sealed_secrets_core::SealedSecretSpec,
    annotations: &[(&str, &str)],
) -> SealedSecret {
    let mut ss = SealedSecret::new(name, spec.clone());
    if !annotations.is_empty() {
        ss.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }
    ss
}

/// Replaces the spec of an existing SealedSecret.
pub async fn replace_ss_spec(
    client: &Client,
    ns: &str,
    name: &str,
    spec: sealed_secrets_core::SealedSecretSpec,
) -> SealedSecret {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    let mut current = api.get(name).await.unwrap();
    current.spec = spec;
    api.replace(name, &PostParams::default(), &current)
        .await
        .unwrap()
}

/// Waits for the `Synced` condition of the current generation to be `False`; returns its
/// message.
pub async fn wait_synced_false(client: &Client, ns: &str, name: &str) -> String {
    let cond = wait_synced(client, ns, name).await;
    assert_eq!(
        cond.status, "False",
        "{ns}/{name} expected Synced=False, got {cond:?}"
    );
    cond.message.unwrap_or_default()
}

/// The value of the first sample line starting with `prefix`.
pub fn metric_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits until the sample line starting with `prefix` has the value `want`.
pub async fn wait_metric_eq(ctl: &Controller, prefix: &str, want: f64) {
    wait_until(
        Duration::from_secs(30),
        &format!("metric {prefix} = {want}"),
        || async move {
            let v = metric_value(&ctl.metrics_text().await, prefix)?;
            (v == want).then_some(())
        },
    )
    .await;
}
