//! A controller reachable through the API server's service proxy: it runs inside a network
//! namespace (scripts/netns.sh), registered as the Endpoints of a selector-less Service, so
//! `kubeseal`'s online modes take exactly the path they take in a real cluster.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{bin, kubeconfig, kubectl, random_suffix, repo_root, wait_until};

/// A controller in its own network namespace, fronted by Service `service` in `namespace`.
pub struct ProxiedController {
    pub netns: String,
    pub namespace: String,
    pub service: String,
    pub log: PathBuf,
    child: Option<Child>,
}

fn netns_sh(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(repo_root().join("scripts/netns.sh"))
        .args(args)
        .env("KUBECONFIG", kubeconfig())
        .output()
        .expect("scripts/netns.sh runs")
}

impl ProxiedController {
    /// Starts a controller whose keys live in `namespace` (and which watches it), behind
    /// Service `service` (first port named `http`).
    pub async fn start(namespace: &str, service: &str, args: &[&str]) -> Self {
        let netns = format!("e2e{}", random_suffix());
        let out = netns_sh(&["create", &netns]);
        assert!(
            out.status.success(),
            "netns create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::env::temp_dir().join(format!("e2e-proxied-{netns}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let kc = kubeconfig().display().to_string();
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("scripts/netns.sh"))
            .args(["exec", &netns])
            .arg(bin("e2e-sealed-secrets-controller"))
            .arg(format!("--kubeconfig={kc}"))
            .arg(format!("--namespace={namespace}"))
            .arg("--all-namespaces=false")
            .arg("--key-size=2048")
            .arg("--listen-addr=:8080")
            .arg("--listen-metrics-addr=:8081")
            .arg("--log-level=DEBUG")
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = cmd.spawn().unwrap();
        let svc = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": service, "namespace": namespace},
            "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}
        });
        let path = std::env::temp_dir().join(format!("e2e-svc-{netns}.json"));
        std::fs::write(&path, svc.to_string()).unwrap();
        kubectl(&["apply", "-f", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        let out = netns_sh(&["endpoint", &netns, namespace, service, "8080", "http"]);
        assert!(
            out.status.success(),
            "netns endpoint: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let me = Self {
            netns,
            namespace: namespace.to_string(),
            service: service.to_string(),
            log,
            child: Some(child),
        };
        let readyz =
            format!("/api/v1/namespaces/{namespace}/services/http:{service}:http/proxy/readyz");
        wait_until(
            Duration::from_secs(60),
            "controller ready through the service proxy",
            || {
                let readyz = readyz.clone();
                async move {
                    let out = Command::new("kubectl")
                        .args(["get", "--raw", &readyz])
                        .env("KUBECONFIG", kubeconfig())
                        .stderr(Stdio::null())
                        .output()
                        .ok()?;
                    (String::from_utf8_lossy(&out.stdout).trim() == "ok").then_some(())
                }
            },
        )
        .await;
        me
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that the log holds DEBUG lines (the most verbose level) and none of `secrets`.
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
}

impl Drop for ProxiedController {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = netns_sh(&["delete", &self.netns]);
        if std::thread::panicking() {
            eprintln!(
                "--- controller log ({}) ---\n{}",
                self.log.display(),
                self.logs()
            );
        }
    }
}
