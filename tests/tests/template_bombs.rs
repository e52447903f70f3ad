//! Hostile `template.data` in one namespace must neither crash the controller nor starve
//! another namespace: each hostile object fails alone with `Synced=False` and a message naming
//! the exhausted limit (never a value), the process stays the same (no abort, no OOM), its peak
//! RSS stays bounded, and 20 ordinary SealedSecrets in a neighbouring namespace sync.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use e2e::*;
use serde_json::json;

/// The controller's peak resident set size (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test]
async fn hostile_templates_fail_alone_and_the_controller_survives() {
    let client = client().await;
    let hostile = TestNs::new(&client, "bombs").await;
    let good = TestNs::new(&client, "bombs-good").await;
    let mut ctl = Controller::start(&hostile.name, &[&good.name], &[]);
    ctl.wait_ready().await;
    let pid = ctl.pid().unwrap();
    let cert = ctl.cert().await;

    let bomb = |name: &str, entries: Vec<(String, String)>| {
        let mut ss = seal_json(
            &cert,
            json!({"metadata": {"name": name, "namespace": hostile.name},
                   "stringData": {"password": "bomb-plaintext-42"}}),
        );
        ss.spec.template.data = Some(entries.into_iter().collect());
        ss
    };
    let one = |t: &str| vec![("out".to_string(), t.to_string())];
    let bombs = [
        // A 99,999-deep value: its drop used to overflow the stack (abort).
        (
            "deep",
            one(
                "{{ $x := list }}{{ range until 99999 }}{{ $x = list $x }}{{ end }}{{ .password }}",
            ),
        ),
        // 300 entries of 1 MiB each: fine per entry, 300 MiB per object.
        (
            "repeat",
            (0..300)
                .map(|i| (format!("r{i}"), "{{ repeat 1048576 \"a\" }}".to_string()))
                .collect(),
        ),
        // 200 entries of 20 bcrypt calls: minutes of CPU.
        (
            "bcrypt",
            (0..200)
                .map(|i| {
                    (
                        format!("b{i}"),
                        "{{ range until 20 }}{{ bcrypt $.password }}{{ end }}".to_string(),
                    )
                })
                .collect(),
        ),
        // A huge list, built before anything is printed.
        ("until", one("{{ len (until 100000000) }}")),
        // A map that contains itself, printed and JSON-encoded.
        (
            "cycle",
            one("{{ $m := dict }}{{ $_ := set $m \"self\" $m }}{{ $m }}{{ toJson $m }}"),
        ),
    ];
    let started = Instant::now();
    for (name, entries) in &bombs {
        create_ss(&client, &hostile.name, &bomb(name, entries.clone())).await;
    }
    let good_names: Vec<String> = (0..20).map(|i| format!("good-{i}")).collect();
    for name in &good_names {
        let ss = seal_json(
            &cert,
            json!({"metadata": {"name": name, "namespace": good.name},
                   "stringData": {"pw": format!("good-plaintext-{name}")}}),
        );
        create_ss(&client, &good.name, &ss).await;
    }
    for name in &good_names {
        wait_synced_true(&client, &good.name, name).await;
        let s = get_secret(&client, &good.name, name).await.unwrap();
        assert_eq!(
            item(&s, "pw").as_deref(),
            Some(format!("good-plaintext-{name}").as_str())
        );
    }
    eprintln!(
        "20 good SealedSecrets synced {:.2} s after the hostile ones were created",
        started.elapsed().as_secs_f64()
    );
    for (name, _) in &bombs {
        let msg = wait_synced_false(&client, &hostile.name, name).await;
        assert!(
            msg.contains("exceeded the limit of"),
            "{name}: the message names the limit: {msg}"
        );
        assert!(!msg.contains("bomb-plaintext-42"), "{name}: {msg}");
        assert!(
            get_secret(&client, &hostile.name, name).await.is_none(),
            "{name}: no Secret is written"
        );
    }
    // Let the failed objects be retried a few times, then check the process is the same one.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(ctl.is_running(), "the controller is still running");
    assert_eq!(ctl.pid(), Some(pid), "same process");
    let rss = peak_rss(pid);
    eprintln!("controller peak RSS: {:.1} MB", rss as f64 / 1e6);
    assert!(
        rss < 150 * 1024 * 1024,
        "peak RSS {rss} bytes is over 150 MiB"
    );
    let (code, _) = http(ctl.api, "GET", "/healthz", b"").await.unwrap();
    assert_eq!(code, 200);
    ctl.assert_log_clean(&[]);
    let logs = ctl.logs();
    assert!(!logs.contains("bomb-plaintext-42"));
    assert!(!logs.contains("good-plaintext-"));
}
