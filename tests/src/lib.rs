//! Test harness for the e2e suite: a real local control plane (`scripts/control-plane.sh`),
//! one random namespace per test, and a real controller process per test, scoped to that
//! namespace (its keys live there too), so tests run in parallel without seeing each other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
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

/// A controller process.
pub struct Controller {
    child: Option<Child>,
    pub api: SocketAddr,
    pub metrics: SocketAddr,
    pub log: PathBuf,
    pub key_namespace: String,
    args: Vec<String>,
}

impl Controller {
    /// Starts a controller whose keys live in `key_ns` and which watches `key_ns` plus
    /// `extra_ns`. Uses 2048-bit keys unless `args` says otherwise.
    pub fn start(key_ns: &str, extra_ns: &[&str], args: &[&str]) -> Self {
        let log =
            std::env::temp_dir().join(format!("e2e-controller-{key_ns}-{}.log", random_suffix()));
        let mut all: Vec<String> = vec![
            format!("--namespace={key_ns}"),
            "--all-namespaces=false".into(),
            format!("--kubeconfig={}", kubeconfig().display()),
        ];
        if !extra_ns.is_empty() {
            all.push(format!("--additional-namespaces={}", extra_ns.join(",")));
        }
        if !args.iter().any(|a| a.starts_with("--key-size")) {
            all.push("--key-size=2048".into());
        }
        all.extend(args.iter().map(|s| s.to_string()));
        let mut c = Self {
            child: None,
            api: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            key_namespace: key_ns.to_string(),
            args: all,
        };
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
        let child = Command::new(bin("e2e-sealed-secrets-controller"))
            .args(&self.args)
            .arg(format!("--listen-addr={}", self.api))
            .arg(format!("--listen-metrics-addr={}", self.metrics))
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info,kube=warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
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

    /// Everything the controller logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
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
    let method = method.to_string();
    let path = path.to_string();
    let body = body.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        s.write_all(&body)?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)?;
        let head_end = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no header end"))?;
        let head = String::from_utf8_lossy(&resp[..head_end]).to_string();
        let code: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other("bad status line"))?;
        let mut payload = resp[head_end + 4..].to_vec();
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            payload = dechunk(&payload);
        }
        Ok((code, payload))
    })
    .await
    .map_err(std::io::Error::other)?
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
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

/// Waits until the SealedSecret has a `Synced` condition for its current generation.
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
                ss.synced_condition().cloned()
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
                    && ss.synced_condition()?.status == "True";
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

/// (reason, message) of the Events about an object.
pub async fn events(client: &Client, ns: &str, name: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    api.list(&lp)
        .await
        .map(|l| {
            l.items
                .into_iter()
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
