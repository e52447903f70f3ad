//! Scale benchmark (not a test): N SealedSecrets with one item each, spread over 10
//! namespaces, exist before the controller starts; measures the seconds until all are
//! `Synced=True` and the controller's peak RSS, next to the physical floor measured in the
//! same run (N × one RSA-4096 private-key operation from `openssl speed`, divided by the cores).
//!
//! Usage: scale-bench CONTROLLER_BINARY [N] [KEYS…]   (e.g. `1000 1 12`)
//! Run through `scripts/bench-scale.sh`, which builds the release controller first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use e2e::sealed_secrets_core::keys::{DEFAULT_KEY_TTL, self_signed_certificate};
use e2e::sealed_secrets_core::{Backend, Certificate, PrivateKey, SealedSecret};
use e2e::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

/// CPU seconds (user + system) used so far by the process with this pid.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start after ')'.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn pid_of(exe_suffix: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe"))
            && exe.to_string_lossy().ends_with(exe_suffix)
        {
            return Some(pid);
        }
    }
    None
}

struct Run {
    cpu: Vec<(String, f64)>,
    /// After all were Synced: SIGTERM, a new process, one new SealedSecret applied right away.
    restart: Restart,
    n: usize,
    keys: usize,
    seconds: f64,
    peak_rss_mb: f64,
    floor_seconds: f64,
}

struct Restart {
    /// From applying a new SealedSecret (right after the new process started) to Synced.
    new_object_seconds: f64,
    /// The same for one applied 0.5 s later, while the initial list is being read.
    during_list_seconds: f64,
    /// From the new process's start until every object was verified or reconciled.
    settle_seconds: f64,
    /// The new process's CPU seconds until then.
    cpu_seconds: f64,
    /// Objects it decrypted, and objects it verified by MAC without decrypting.
    decrypted: f64,
    verified: f64,
    /// The new process's peak RSS once every object was verified (the cache and bookkeeping
    /// of N steady objects, without the first sync's burst of decryptions and writes).
    peak_rss_mb: f64,
}

/// VmHWM of a process, in kB (left unchanged if unreadable).
fn read_peak_of(pid: u32, peak: &mut u64) {
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("VmHWM:") {
                *peak = v
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse()
                    .unwrap_or(*peak);
            }
        }
    }
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn openssl_rsa4096_sign_seconds() -> f64 {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa4096"])
        .stderr(Stdio::null())
        .output()
        .expect("openssl speed");
    let text = String::from_utf8_lossy(&out.stdout);
    // "rsa 4096 bits 0.004512s 0.000071s  221.6  14066.0"
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 5 && f[0] == "rsa" && f[1] == "4096" && f[2] == "bits" {
            return f[3].trim_end_matches('s').parse().unwrap();
        }
    }
    panic!("cannot parse openssl speed output:\n{text}");
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

async fn bench(controller: &str, n: usize, key_count: usize, rsa_sign: f64) -> Run {
    let client = client().await;
    let run = random_suffix();
    let key_ns = format!("bench-{run}-keys");
    let namespaces: Vec<String> = (0..10).map(|i| format!("bench-{run}-{i}")).collect();
    let ns_api: Api<Namespace> = Api::all(client.clone());
    // Let earlier runs' namespaces finish terminating: their clean-up would load the API
    // server during this run.
    let start_wait = Instant::now();
    loop {
        let lp = kube::api::ListParams::default().labels("bench=true");
        let left = ns_api
            .list_metadata(&lp)
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        if left == 0 || start_wait.elapsed() > Duration::from_secs(300) {
            break;
        }
        eprintln!("bench: waiting for {left} namespace(s) of earlier runs to terminate…");
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    for name in std::iter::once(&key_ns).chain(&namespaces) {
        let ns: Namespace = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": {"bench": "true"}}}),
        )
        .unwrap();
        ns_api.create(&PostParams::default(), &ns).await.unwrap();
    }

    // Keys, oldest first (NotBefore one minute apart), stored like Bitnami's.
    eprintln!("bench: generating {key_count} RSA-4096 key(s)…");
    let now = SystemTime::now();
    let mut certs: Vec<Certificate> = Vec::new();
    let secrets_api: Api<Secret> = Api::namespaced(client.clone(), &key_ns);
    for i in 0..key_count {
        let key = PrivateKey::generate(4096, Backend::AwsLc).unwrap();
        let not_before = now - Duration::from_secs(60 * (key_count - i) as u64);
        let cert = self_signed_certificate(&key, None, DEFAULT_KEY_TTL, not_before).unwrap();
        let s: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("sealed-secrets-key{i:02}"), "namespace": key_ns,
                "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": cert.to_pem(), "tls.key": key.to_pkcs1_pem().unwrap().to_string()}
        }))
        .unwrap();
        secrets_api
            .create(&PostParams::default(), &s)
            .await
            .unwrap();
        certs.push(cert);
    }
    // Everything sealed with the OLDEST key (the worst case for trial decryption).
    let oldest = &certs[0];
    eprintln!("bench: creating {n} SealedSecrets in 10 namespaces…");
    let label = format!("bench={run}");
    let items: Vec<(String, SealedSecret)> = (0..n)
        .map(|i| {
            let ns = namespaces[i % 10].clone();
            let mut ss = seal_json(
                oldest,
                json!({"metadata": {"name": format!("s{i}"), "namespace": ns},
                       "stringData": {"value": format!("v{i}")}}),
            );
            ss.metadata.labels = Some([("bench".to_string(), run.clone())].into());
            (ns, ss)
        })
        .collect();
    futures::stream::iter(items)
        .for_each_concurrent(16, |(ns, ss)| {
            let client = client.clone();
            async move {
                let api: Api<SealedSecret> = Api::namespaced(client, &ns);
                api.create(&PostParams::default(), &ss).await.unwrap();
            }
        })
        .await;

    let others: Vec<(String, Option<u32>)> = ["kube-apiserver", "etcd"]
        .iter()
        .map(|n| (n.to_string(), pid_of(&format!("/{n}"))))
        .collect();
    let others_before: Vec<f64> = others
        .iter()
        .map(|(_, p)| p.map_or(0.0, cpu_seconds))
        .collect();
    let log = std::env::temp_dir().join(format!("bench-controller-{run}.log"));
    let pod = format!("bench-{run}");
    let spawn = |metrics_port: u16| {
        Command::new(controller)
            .arg(format!("--kubeconfig={}", kubeconfig().display()))
            .arg(format!("--namespace={key_ns}"))
            .arg(format!("--label-selector={label}"))
            .arg(format!("--listen-addr=127.0.0.1:{}", free_port()))
            .arg(format!("--listen-metrics-addr=127.0.0.1:{metrics_port}"))
            .arg("--log-level=WARN")
            // The bench's controllers need no admission webhook (and must not collide with
            // another controller's default :9443).
            .arg("--webhook-listen-addr=")
            .env("POD_NAME", &pod)
            // As the manifests and the chart set it.
            .env("MALLOC_ARENA_MAX", "2")
            .stdout(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let start = Instant::now();
    let mut child = spawn(free_port());
    let pid = child.id();
    // Count Synced=True through a watch (cheap for the API server, unlike repeated lists).
    let ss_api: Api<SealedSecret> = Api::all(client.clone());
    let wc = kube::runtime::watcher::Config::default().labels(&label);
    let mut synced: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut stream = Box::pin(kube::runtime::watcher(ss_api, wc));
    let mut peak_kb = 0u64;
    let seconds = loop {
        let next = tokio::time::timeout(Duration::from_secs(600), stream.next()).await;
        let Ok(Some(ev)) = next else {
            panic!("only {}/{n} synced after 600 s", synced.len());
        };
        let objs: Vec<SealedSecret> = match ev {
            Ok(kube::runtime::watcher::Event::Apply(o))
            | Ok(kube::runtime::watcher::Event::InitApply(o)) => vec![o],
            _ => vec![],
        };
        for s in objs {
            let key = format!(
                "{}/{}",
                s.metadata.namespace.clone().unwrap_or_default(),
                s.metadata.name.clone().unwrap_or_default()
            );
            let ok = s.status.as_ref().and_then(|st| st.observed_generation)
                == s.metadata.generation
                && s.synced_condition().is_some_and(|c| c.status == "True");
            if ok {
                synced.insert(key);
            } else {
                synced.remove(&key);
            }
        }
        read_peak_of(pid, &mut peak_kb);
        if synced.len() == n {
            break start.elapsed().as_secs_f64();
        }
    };
    let mut cpu = vec![("controller".to_string(), cpu_seconds(pid))];
    for ((name, p), before) in others.iter().zip(&others_before) {
        cpu.push((name.clone(), p.map_or(0.0, cpu_seconds) - before));
    }
    // The controller may still be settling; sample its peak once more a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    read_peak_of(pid, &mut peak_kb);

    // Restart: SIGTERM (as in an upgrade or a drain: the Lease is released), a new process,
    // and one new SealedSecret applied right after it started.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let metrics_port = free_port();
    let restarted = Instant::now();
    let mut child = spawn(metrics_port);
    let pid = child.id();
    // Two new SealedSecrets, both last in the API server's list order (namespace, then name):
    // the worst place for an object that has to wait for the initial list. The first is
    // applied right after the new process started, the second 0.5 s later (while the new
    // process is still reading its initial list).
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), &namespaces[9]);
    let apply_late = |name: &'static str| {
        let mut late = seal_json(
            oldest,
            json!({"metadata": {"name": name, "namespace": namespaces[9]},
                   "stringData": {"value": "late"}}),
        );
        late.metadata.labels = Some([("bench".to_string(), run.clone())].into());
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &late).await.unwrap();
            Instant::now()
        }
    };
    let first_applied = apply_late("zz-late").await;
    let second_at = tokio::time::Instant::from_std(first_applied + Duration::from_millis(500));
    let mut second_applied: Option<Instant> = None;
    let (mut first_seconds, mut second_seconds) = (None, None);
    while first_seconds.is_none() || second_seconds.is_none() {
        tokio::select! {
            () = tokio::time::sleep_until(second_at), if second_applied.is_none() => {
                second_applied = Some(apply_late("zz-later").await);
            }
            next = tokio::time::timeout(Duration::from_secs(600), stream.next()) => {
                let Ok(Some(ev)) = next else {
                    panic!("the new SealedSecrets were not synced after 600 s");
                };
                if let Ok(kube::runtime::watcher::Event::Apply(s)) = ev {
                    let ok = s.status.as_ref().and_then(|st| st.observed_generation)
                        == s.metadata.generation
                        && s.synced_condition().is_some_and(|c| c.status == "True");
                    let name = s.metadata.name.clone().unwrap_or_default();
                    if ok && name == "zz-late" {
                        first_seconds.get_or_insert(first_applied.elapsed().as_secs_f64());
                    }
                    if let (true, "zz-later", Some(t)) = (ok, name.as_str(), second_applied) {
                        second_seconds.get_or_insert(t.elapsed().as_secs_f64());
                    }
                }
            }
        }
    }
    let (new_object_seconds, during_list_seconds) =
        (first_seconds.unwrap(), second_seconds.unwrap());
    let metrics_addr = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    let (decrypted, verified) = wait_until(
        Duration::from_secs(600),
        "every object verified after the restart",
        || async {
            let (code, body) = http(metrics_addr, "GET", "/metrics", b"").await.ok()?;
            if code != 200 {
                return None;
            }
            let text = String::from_utf8_lossy(&body).into_owned();
            let d = metric(&text, "sealed_secrets_controller_unseal_decryptions_total")?;
            let v = metric(
                &text,
                "sealed_secrets_controller_unseal_verified_without_decryption_total",
            )?;
            (d + v >= (n + 2) as f64).then_some((d, v))
        },
    )
    .await;
    let restart = Restart {
        new_object_seconds,
        during_list_seconds,
        settle_seconds: restarted.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds(pid),
        decrypted,
        verified,
        peak_rss_mb: {
            let mut kb = 0u64;
            read_peak_of(pid, &mut kb);
            kb as f64 / 1024.0
        },
    };
    let _ = child.kill();
    let _ = child.wait();
    // Clean up (namespace deletion is asynchronous).
    for name in std::iter::once(&key_ns).chain(&namespaces) {
        let _ = ns_api.delete(name, &DeleteParams::default()).await;
    }
    Run {
        cpu,
        restart,
        n,
        keys: key_count,
        seconds,
        peak_rss_mb: peak_kb as f64 / 1024.0,
        floor_seconds: n as f64 * rsa_sign / cores() as f64,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let controller = args
        .get(1)
        .expect("usage: scale-bench CONTROLLER [N] [KEYS…]")
        .clone();
    let n: usize = args.get(2).map_or(1000, |s| s.parse().unwrap());
    let key_counts: Vec<usize> = if args.len() > 3 {
        args[3..].iter().map(|s| s.parse().unwrap()).collect()
    } else {
        vec![1, 12]
    };
    let rsa = openssl_rsa4096_sign_seconds();
    eprintln!(
        "bench: openssl speed rsa4096: {:.3} ms per private-key operation; {} core(s)",
        rsa * 1000.0,
        cores()
    );
    let mut runs = Vec::new();
    for k in key_counts {
        let r = bench(&controller, n, k, rsa).await;
        eprintln!(
            "bench: N={} keys={} -> {:.2} s, peak RSS {:.1} MB, CPU seconds {:?}",
            r.n, r.keys, r.seconds, r.peak_rss_mb, r.cpu
        );
        eprintln!(
            "bench: restart: new SealedSecret Synced after {:.2} s (one applied 0.5 s later: {:.2} s); \
             all {} settled after {:.2} s using {:.2} CPU-s ({} decrypted, {} verified by MAC) \
             = {:.3} × N RSA-4096 operations ({:.2} s); peak RSS after the restart {:.1} MB",
            r.restart.new_object_seconds,
            r.restart.during_list_seconds,
            r.n + 2,
            r.restart.settle_seconds,
            r.restart.cpu_seconds,
            r.restart.decrypted,
            r.restart.verified,
            r.restart.cpu_seconds / (r.n as f64 * rsa),
            r.n as f64 * rsa,
            r.restart.peak_rss_mb
        );
        runs.push(r);
    }
    println!(
        "| N | active keys (sealed with the oldest) | seconds to all Synced=True | peak RSS (MB) | physical floor N×RSA-4096/cores (s) |"
    );
    println!("|---|---|---|---|---|");
    for r in &runs {
        println!(
            "| {} | {} | {:.2} | {:.1} | {:.2} |",
            r.n, r.keys, r.seconds, r.peak_rss_mb, r.floor_seconds
        );
    }
    println!(
        "\n| N | restart: new SealedSecret Synced (s) | applied 0.5 s later (s) | restart CPU (s) | N × one RSA-4096 op (s) | ratio | decrypted / verified by MAC |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &runs {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} | {} / {} |",
            r.n,
            r.restart.new_object_seconds,
            r.restart.during_list_seconds,
            r.restart.cpu_seconds,
            r.n as f64 * rsa,
            r.restart.cpu_seconds / (r.n as f64 * rsa),
            r.restart.decrypted,
            r.restart.verified
        );
    }
    println!(
        "\nopenssl speed rsa4096 on this machine: {:.3} ms per private-key operation, {} core(s)",
        rsa * 1000.0,
        cores()
    );
}
