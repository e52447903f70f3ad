//! Hardening of the controller's HTTP servers, on a real controller process: no plaintext
//! oracle through template.data in `/v1/verify` or `/v1/rotate`, no crash on a template bomb,
//! slow headers cut off, a fixed set of metric series however many made-up methods arrive,
//! unknown paths that do not spend the rate-limit bucket, and a cap on open connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::sealed_secrets_core::SealedSecret;
use e2e::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn body(ss: &SealedSecret) -> Vec<u8> {
    serde_json::to_vec(ss).unwrap()
}

async fn post(ctl: &Controller, path: &str, ss: &SealedSecret) -> HttpResponse {
    http_request(ctl.api, "POST", path, "application/json", &body(ss))
        .await
        .unwrap()
}

/// `ss` with one template.data entry `probe` = `tpl`.
fn with_template(ss: &SealedSecret, tpl: &str) -> SealedSecret {
    let mut ss = ss.clone();
    ss.spec.template.data = Some(BTreeMap::from([("probe".to_string(), tpl.to_string())]));
    ss
}

/// Reads until the peer closes (EOF or reset), or `limit` passes; returns what was read and
/// when the close came (`None`: still open at `limit`).
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Instant>) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return (out, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(Instant::now())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The template.data of a verify/rotate request is never rendered, so it cannot tell
/// anything about the plaintext: a probe whose template fails only when the password starts
/// with "h" gets the same answer as one testing "z".
#[tokio::test]
async fn template_data_is_no_plaintext_oracle() {
    let client = client().await;
    let ns = TestNs::new(&client, "httporacle").await;
    let ctl = Controller::start(
        &ns.name,
        &[],
        &["--rate-limit=1000", "--rate-limit-burst=1000"],
    );
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    // Strict scope (the default): bound to this namespace and name.
    let victim = seal_json(
        &cert,
        json!({"metadata": {"name": "victim", "namespace": ns.name},
               "stringData": {"password": "hunter2-oracle"}}),
    );
    let probe = |c: &str| {
        with_template(
            &victim,
            &format!("{{{{ if hasPrefix \"{c}\" .password }}}}{{{{ fail \"x\" }}}}{{{{ end }}}}"),
        )
    };
    let (hit, miss) = (probe("h"), probe("z"));

    let a = post(&ctl, "/v1/verify", &hit).await;
    let b = post(&ctl, "/v1/verify", &miss).await;
    assert_eq!((a.code, b.code), (200, 200), "verify answers differ");
    assert_eq!(a.body, b.body);

    for (what, sent) in [("h", &hit), ("z", &miss)] {
        let r = post(&ctl, "/v1/rotate", sent).await;
        assert_eq!(r.code, 200, "rotate with the {what} probe");
        let rotated: SealedSecret = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            rotated.spec.template, sent.spec.template,
            "template returned unchanged"
        );
        assert_eq!(
            rotated.spec.encrypted_data.keys().collect::<Vec<_>>(),
            ["password"]
        );
    }
    ctl.assert_log_clean(&["hunter2-oracle"]);
}

/// A template that builds a 99999-deep value is never executed by verify or rotate: the
/// process survives (same pid) and keeps answering.
#[tokio::test]
async fn deep_value_template_bomb_does_not_kill_the_controller() {
    let client = client().await;
    let ns = TestNs::new(&client, "httpbomb").await;
    let mut ctl = Controller::start(
        &ns.name,
        &[],
        &["--rate-limit=1000", "--rate-limit-burst=1000"],
    );
    ctl.wait_ready().await;
    let pid = ctl.pid().unwrap();
    let cert = ctl.cert().await;
    let ss = seal_json(
        &cert,
        json!({"metadata": {"name": "bomb", "namespace": ns.name},
               "stringData": {"password": "bomb-pw"}}),
    );
    let bomb = with_template(
        &ss,
        "{{ $x := list }}{{ range until 99999 }}{{ $x = list $x }}{{ end }}",
    );
    for path in ["/v1/verify", "/v1/rotate"] {
        // The answer does not matter (the connection may even break); the process does.
        let _ = http_request(ctl.api, "POST", path, "application/json", &body(&bomb)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(ctl.is_running(), "controller died");
    assert_eq!(ctl.pid(), Some(pid));
    let (code, b) = http(ctl.api, "GET", "/healthz", b"").await.unwrap();
    assert_eq!((code, b.as_slice()), (200, b"ok\n".as_slice()));
    let r = post(&ctl, "/v1/verify", &bomb).await;
    assert_eq!(r.code, 200);
}

/// Half a request header: the server closes the connection once the header-read timeout
/// (2 s here) has passed.
#[tokio::test]
async fn half_a_header_is_cut_off() {
    let client = client().await;
    let ns = TestNs::new(&client, "httpslow").await;
    let ctl = Controller::start(&ns.name, &[], &["--header-read-timeout=2s"]);
    ctl.wait_ready().await;
    for addr in [ctl.api, ctl.metrics] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let start = Instant::now();
        let (got, closed) = read_until_closed(&mut s, Duration::from_secs(20)).await;
        let closed = closed.unwrap_or_else(|| panic!("{addr}: still open after 20 s"));
        let took = closed - start;
        assert!(
            took >= Duration::from_millis(1500) && took <= Duration::from_secs(8),
            "{addr}: closed after {took:?}"
        );
        // Whatever was sent back is not a served /healthz.
        assert!(
            !String::from_utf8_lossy(&got).contains("ok\n"),
            "{}",
            String::from_utf8_lossy(&got)
        );
    }
    // A full request is still served.
    let (code, _) = http(ctl.api, "GET", "/healthz", b"").await.unwrap();
    assert_eq!(code, 200);
}

fn random_method() -> String {
    (0..10)
        .map(|_| char::from(b'A' + rand::random::<u8>() % 26))
        .collect()
}

/// Made-up HTTP methods all count under `method="other"`: 300 of them do not grow
/// `/metrics` beyond a few changed counter digits.
#[tokio::test]
async fn made_up_methods_add_no_metric_series() {
    let client = client().await;
    let ns = TestNs::new(&client, "httpmethods").await;
    let ctl = Controller::start(&ns.name, &[], &[]);
    ctl.wait_ready().await;
    let paths = ["/v1/cert.pem", "/nope"];
    // One of each first, so the series that should exist do exist before measuring.
    for p in paths {
        let (code, _) = http(ctl.api, &random_method(), p, b"").await.unwrap();
        assert!(code == 404 || code == 405, "{code}");
    }
    let before = ctl.metrics_text().await;
    for i in 0..300 {
        let (code, _) = http(ctl.api, &random_method(), paths[i % 2], b"")
            .await
            .unwrap();
        assert!(code == 404 || code == 405, "{code}");
    }
    let after = ctl.metrics_text().await;
    assert!(
        after.len() <= before.len() + 1024,
        "/metrics grew from {} to {} bytes:\n{after}",
        before.len(),
        after.len()
    );
    let series = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(series(&before), series(&after), "{after}");
    let p = "sealed_secrets_controller_http_requests_total";
    assert_eq!(
        metric_value(
            &after,
            &format!("{p}{{path=\"unmatched\",code=\"404\",method=\"other\"}}")
        ),
        Some(151.0),
        "{after}"
    );
}

/// 404s and 405s do not spend the verify/rotate bucket; the bucket itself still works.
#[tokio::test]
async fn unknown_paths_do_not_spend_the_rate_limit() {
    let client = client().await;
    let ns = TestNs::new(&client, "httpbucket").await;
    let ctl = Controller::start(&ns.name, &[], &["--rate-limit=1", "--rate-limit-burst=2"]);
    ctl.wait_ready().await;
    let cert = ctl.cert().await;
    let ss = seal_json(
        &cert,
        json!({"metadata": {"name": "bucket", "namespace": ns.name},
               "stringData": {"password": "bucket-pw"}}),
    );
    for _ in 0..20 {
        let (code, _) = http(ctl.api, "GET", "/nope", b"").await.unwrap();
        assert_eq!(code, 404);
        let (code, _) = http(ctl.api, "POST", "/nope", b"").await.unwrap();
        assert_eq!(code, 404);
        let (code, _) = http(ctl.api, "GET", "/v1/verify", b"").await.unwrap();
        assert_eq!(code, 405);
    }
    let codes = [
        post(&ctl, "/v1/verify", &ss).await.code,
        post(&ctl, "/v1/verify", &ss).await.code,
        post(&ctl, "/v1/verify", &ss).await.code,
    ];
    assert_eq!(codes, [200, 200, 429]);
    let logs = ctl.logs();
    assert!(logs.contains("result=\"rate limited\""), "{logs}");
    // One INFO line per call: peer, object, result; never the content.
    let line = logs
        .lines()
        .find(|l| l.contains("name=\"bucket\"") && l.contains("result=\"ok\""))
        .unwrap_or_else(|| panic!("no verify log line in\n{logs}"));
    assert!(
        line.contains(&format!("namespace=\"{}\"", ns.name)),
        "{line}"
    );
    assert!(
        line.contains("peer=127.0.0.1:") && line.contains("duration_ms="),
        "{line}"
    );
    assert!(!logs.contains("bucket-pw"));
}

async fn raw_get(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    s
}

/// With `--max-connections 4`, four idle connections take every slot: a fifth connection
/// waits in the listen queue and is served as soon as one of the four closes.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let client = client().await;
    let ns = TestNs::new(&client, "httpconns").await;
    let ctl = Controller::start(
        &ns.name,
        &[],
        &["--max-connections=4", "--header-read-timeout=60s"],
    );
    ctl.wait_ready().await;
    // Let the readiness probes' connections finish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(ctl.api).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fifth = raw_get(ctl.api).await;
    let (got, closed) = read_until_closed(&mut fifth, Duration::from_secs(3)).await;
    assert!(
        got.is_empty() && closed.is_none(),
        "served beyond the cap: {}",
        String::from_utf8_lossy(&got)
    );
    drop(idle.pop());
    let (got, closed) = read_until_closed(&mut fifth, Duration::from_secs(15)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        closed.is_some() && text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(text.ends_with("ok\n"), "{text}");
    drop(idle);
    let (code, _) = http(ctl.api, "GET", "/healthz", b"").await.unwrap();
    assert_eq!(code, 200);
}
