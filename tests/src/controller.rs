//! The controllers under test: one process per test, scoped to its namespace, and the
//! registry that ties every wait to them.

use super::*;

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
pub(crate) async fn ours_agree(ns: &str, name: &str, status: &str) -> bool {
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
