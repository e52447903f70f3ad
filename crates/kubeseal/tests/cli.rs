#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests of the `kubeseal` binary: every offline mode and flag, and bad input.
//!
//! Nothing here touches a cluster or the network: `KUBECONFIG` points at a missing file (or a
//! kubeconfig written by the test), the environment is cleared for every command, and the only
//! socket is a loopback HTTP server inside the test process. Sealed output is always checked by
//! decrypting it with the committed test key.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use predicates::prelude::*;
use sealed_secrets_core::codec::parse_documents;
use sealed_secrets_core::keys::self_signed_certificate;
use sealed_secrets_core::{
    Backend, PrivateKey, Scope, SealedSecret, UnsealOptions, hybrid_decrypt, unseal,
};
use serde_json::{Value, json};
use tempfile::TempDir;

const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// Plaintexts used by the fixtures; none may ever show up in an error message.
const PW: &str = "hunter2-plaintext-pw";
const USER: &str = "admin-plaintext-user";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/vectors")
}

fn cert_path() -> PathBuf {
    vectors().join("test-cert.pem")
}

fn key_path() -> PathBuf {
    vectors().join("test-key.pem")
}

fn key_pkcs8_path() -> PathBuf {
    vectors().join("test-key-pkcs8.pem")
}

/// The committed RSA-4096 test key (its certificate is `test-cert.pem`).
fn test_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::from_pem(&std::fs::read(key_path()).unwrap(), Backend::AwsLc).unwrap()
    })
}

/// A second key, generated once per test process (2048 bits: fast).
fn other_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(2048, Backend::AwsLc).unwrap())
}

fn other_key_pem() -> String {
    other_key().to_pkcs1_pem().unwrap().to_string()
}

/// A valid certificate for [`other_key`].
fn other_cert_pem() -> &'static str {
    static CERT: OnceLock<String> = OnceLock::new();
    CERT.get_or_init(|| {
        self_signed_certificate(
            other_key(),
            None,
            Duration::from_secs(86_400),
            SystemTime::now(),
        )
        .unwrap()
        .to_pem()
    })
}

fn b64(s: impl AsRef<[u8]>) -> String {
    STANDARD.encode(s)
}

/// A Secret with labels, a `data` item and a `stringData` item.
fn secret(name: &str, namespace: Option<&str>) -> Value {
    let mut s = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "type": "Opaque",
        "data": {"user": b64(USER)},
        "stringData": {"pw": PW},
    });
    if let Some(ns) = namespace {
        s["metadata"]["namespace"] = json!(ns);
    }
    s
}

fn secret_yaml(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n    app: demo\ntype: Opaque\ndata:\n  user: {}\nstringData:\n  pw: {PW}\n",
        b64(USER)
    )
}

/// A key Secret as the controller stores it (and as `kubectl get secret -o yaml` backs it up).
fn key_secret(name: &str, key_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": "kube-system",
                     "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "data": {"tls.key": b64(key_pem), "tls.crt": b64(std::fs::read(cert_path()).unwrap())},
    })
}

fn test_key_pem() -> String {
    std::fs::read_to_string(key_path()).unwrap()
}

/// A temporary working directory holding every file a test writes, plus command builders
/// that never see the caller's environment.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `kubeseal` with an empty environment: no `SEALED_SECRETS_*`, no proxies, no in-cluster
    /// variables, `HOME` in the sandbox and `KUBECONFIG` pointing at a missing file.
    fn bare(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kubeseal"));
        c.env_clear()
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.path("no-such-kubeconfig"))
            .timeout(Duration::from_secs(60));
        c
    }

    /// `kubeseal --cert test-cert.pem ARGS`.
    fn seal(&self, args: &[&str]) -> Command {
        let mut c = self.bare();
        c.arg("--cert").arg(cert_path()).args(args);
        c
    }
}

fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

fn sealed_docs(out: &[u8]) -> Vec<SealedSecret> {
    parse_documents(out)
        .unwrap()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect()
}

fn sealed_one(out: &[u8]) -> SealedSecret {
    let mut docs = sealed_docs(out);
    assert_eq!(docs.len(), 1, "expected one SealedSecret");
    docs.remove(0)
}

/// Unseals with one key; the plaintext items as strings, or the error message.
fn open_with(ss: &SealedSecret, key: &PrivateKey) -> Result<BTreeMap<String, String>, String> {
    unseal(ss, std::slice::from_ref(key), UnsealOptions::default())
        .map(|u| {
            u.secret
                .data
                .as_ref()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap()))
                .collect()
        })
        .map_err(|e| e.to_string())
}

fn open(ss: &SealedSecret) -> BTreeMap<String, String> {
    open_with(ss, test_key()).unwrap()
}

fn items(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The same SealedSecret moved to another namespace and/or name (top level only).
fn moved(ss: &SealedSecret, namespace: Option<&str>, name: &str) -> SealedSecret {
    let mut m = ss.clone();
    m.metadata.namespace = namespace.map(str::to_string);
    m.metadata.name = Some(name.to_string());
    m
}

fn template_meta(ss: &SealedSecret) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    ss.spec.template.metadata.as_ref().unwrap()
}

fn ann<'a>(m: &'a Option<BTreeMap<String, String>>, k: &str) -> Option<&'a str> {
    m.as_ref().and_then(|a| a.get(k)).map(String::as_str)
}

/// Decrypts a `--raw` output with the test key and the given label.
fn open_raw(out: &[u8], label: &[u8]) -> Option<Vec<u8>> {
    let ct = STANDARD.decode(out).unwrap();
    hybrid_decrypt(test_key(), label, &ct)
        .ok()
        .map(|p| p.to_vec())
}

/// Runs a command that must fail, twice: once with `-w` naming a file that does not exist
/// (it must not be created) and once with `-w` naming an existing file (it must be left
/// untouched). Checks exit code 1, empty stdout, that stderr holds every `expect` and none of
/// `secrets`, and that no file (temporary or not) appeared in the directory. Returns stderr.
fn assert_fails(
    sb: &Sandbox,
    make: impl Fn() -> Command,
    stdin: Option<&[u8]>,
    expect: &[&str],
    secrets: &[&str],
) -> String {
    let mut stderr = String::new();
    for existing in [false, true] {
        let target = sb.path("target.yaml");
        if existing {
            sb.write("target.yaml", "ORIGINAL CONTENT\n");
        } else {
            let _ = std::fs::remove_file(&target);
        }
        let before = sb.listing();
        let mut cmd = make();
        cmd.arg("-w").arg(&target);
        if let Some(s) = stdin {
            cmd.write_stdin(s);
        }
        let out = cmd
            .assert()
            .failure()
            .code(1)
            .stdout("")
            .get_output()
            .clone();
        stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{stderr}");
        for e in expect {
            assert!(stderr.contains(e), "stderr {stderr:?} lacks {e:?}");
        }
        for s in secrets.iter().chain([PW, USER].iter()) {
            assert!(!stderr.contains(s), "stderr leaks {s:?}: {stderr}");
        }
        if existing {
            assert_eq!(sb.read("target.yaml"), "ORIGINAL CONTENT\n");
        } else {
            assert!(!target.exists(), "failed run created its -w file");
        }
        assert_eq!(sb.listing(), before, "failed run left files behind");
    }
    stderr
}

/// A one-shot HTTP server on loopback: answers the first request with `status` and `body`
/// and returns the request line. Gives up after 30 s so a bug cannot hang the test run.
fn http_once(status: &'static str, body: Vec<u8>) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "no request received");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-pem-file\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        stream.flush().unwrap();
        String::from_utf8_lossy(&req)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    });
    (port, handle)
}

// ---------------------------------------------------------------------------------------------
// Sealing: input, output, formats
// ---------------------------------------------------------------------------------------------

#[test]
fn seal_stdin_to_stdout_json_shape_and_round_trip() {
    let sb = Sandbox::new();
    let out = stdout_of(
        sb.seal(&[])
            .write_stdin(secret("app", Some("prod")).to_string()),
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.starts_with(
            "{\n  \"kind\": \"SealedSecret\",\n  \"apiVersion\": \"bitnami.com/v1alpha1\",\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"), "{text}");
    let (t, e) = (
        text.find("\"template\"").unwrap(),
        text.find("\"encryptedData\"").unwrap(),
    );
    assert!(t < e, "spec.template must come before spec.encryptedData");
    assert!(!text.contains("status"));
    for plain in [PW, USER, &b64(USER), &b64(PW)] {
        assert!(!text.contains(plain), "output contains plaintext {plain}");
    }

    let ss = sealed_one(&out);
    assert_eq!(ss.metadata.name.as_deref(), Some("app"));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("prod"));
    // Top-level metadata has no labels and no annotations (strict scope).
    assert!(ss.metadata.labels.is_none() && ss.metadata.annotations.is_none());
    let tm = template_meta(&ss);
    assert_eq!(tm.labels.as_ref().unwrap()["app"], "demo");
    assert_eq!(ss.spec.template.type_.as_deref(), Some("Opaque"));
    // RSA-4096: every item starts with the 0x0200 length prefix.
    assert!(ss.spec.encrypted_data.values().all(|v| v.starts_with("Ag")));
    assert_eq!(open(&ss), items(&[("pw", PW), ("user", USER)]));
}

#[test]
fn seal_file_to_stdout_yaml() {
    let sb = Sandbox::new();
    sb.write("in.yaml", secret_yaml("app", "prod"));
    let out = stdout_of(&mut sb.seal(&["-f", "in.yaml", "-o", "yaml"]));
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("---\n"), "{text}");
    // Keys sorted alphabetically in YAML.
    let pos = |k: &str| text.find(&format!("\n{k}:")).unwrap();
    assert!(pos("apiVersion") < pos("kind") && pos("kind") < pos("metadata"));
    assert!(pos("metadata") < pos("spec"));
    assert!(text.find("  encryptedData:").unwrap() < text.find("  template:").unwrap());
    assert!(text.contains("\nkind: SealedSecret\n"));
    assert_eq!(
        open(&sealed_one(&out)),
        items(&[("pw", PW), ("user", USER)])
    );
    // Upper-case format names are accepted like upstream.
    let out = stdout_of(&mut sb.seal(&["-f", "in.yaml", "-o", "YAML"]));
    assert!(out.starts_with(b"---\n"));
}

#[test]
fn seal_to_w_file_json_yaml_and_yml() {
    let sb = Sandbox::new();
    sb.write("in.json", secret("app", Some("prod")).to_string());
    // Plain -w: JSON by default, nothing on stdout, no temporary files left behind.
    sb.seal(&["-f", "in.json", "-w", "out.json"])
        .assert()
        .success()
        .stdout("");
    let json_out = sb.read("out.json");
    assert!(json_out.starts_with("{\n  \"kind\": \"SealedSecret\""));
    assert_eq!(open(&sealed_one(json_out.as_bytes()))["pw"], PW);
    // .yaml and .yml force YAML, even over an explicit -o json.
    for name in ["out.yaml", "out.yml"] {
        sb.seal(&["-f", "in.json", "-o", "json", "-w", name])
            .assert()
            .success()
            .stdout("");
        let y = sb.read(name);
        assert!(y.starts_with("---\n"), "{name}: {y}");
        assert_eq!(open(&sealed_one(y.as_bytes()))["user"], USER);
    }
    // An existing -w file is replaced.
    sb.write("old.json", "stale\n");
    sb.seal(&["-f", "in.json", "-w", "old.json"])
        .assert()
        .success();
    assert!(sb.read("old.json").starts_with('{'));
    assert_eq!(
        sb.listing(),
        ["in.json", "old.json", "out.json", "out.yaml", "out.yml"]
    );
}

#[test]
fn w_target_untouched_when_sealing_fails() {
    let sb = Sandbox::new();
    // Same input as a successful run, but an unusable certificate: nothing is written.
    sb.write("bad-cert.pem", "not a certificate\n");
    let input = secret("app", Some("prod")).to_string();
    assert_fails(
        &sb,
        || {
            let mut c = sb.bare();
            c.args(["--cert", "bad-cert.pem"]);
            c
        },
        Some(input.as_bytes()),
        &["failed to read any certificates"],
        &[],
    );
    // Failure after the first of two documents: still nothing written.
    let two = format!(
        "{}\n{}",
        secret("a", Some("prod")),
        json!({"kind": "Secret", "metadata": {"namespace": "prod"}, "stringData": {"x": PW}})
    );
    assert_fails(
        &sb,
        || sb.seal(&[]),
        Some(two.as_bytes()),
        &["missing metadata.name"],
        &[],
    );
    // -w in a directory that does not exist: a clear error.
    sb.seal(&["-w", "no/such/dir/out.json"])
        .write_stdin(input)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no/such/dir/out.json"));
}

#[test]
fn invalid_output_format() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    assert_fails(
        &sb,
        || sb.seal(&["-o", "xml"]),
        Some(input.as_bytes()),
        &["unsupported output format: xml"],
        &[],
    );
}

#[test]
fn input_file_errors() {
    let sb = Sandbox::new();
    assert_fails(
        &sb,
        || sb.seal(&["-f", "missing.yaml"]),
        None,
        &[
            "could not read file specified with --secret-file",
            "missing.yaml",
        ],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// --cert sources
// ---------------------------------------------------------------------------------------------

#[test]
fn cert_as_file_url() {
    let sb = Sandbox::new();
    let url = format!("file://{}", cert_path().canonicalize().unwrap().display());
    let out = stdout_of(
        sb.bare()
            .args(["--cert", &url])
            .write_stdin(secret("app", Some("prod")).to_string()),
    );
    assert_eq!(open(&sealed_one(&out))["pw"], PW);

    // Percent-escapes are decoded and the host part is ignored, like Go's file transport.
    let dir = sb.path("with space");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(cert_path(), dir.join("cert.pem")).unwrap();
    let escaped = dir
        .join("cert.pem")
        .display()
        .to_string()
        .replace('%', "%25")
        .replace(' ', "%20");
    for url in [
        format!("file://{escaped}"),
        format!("file://localhost{escaped}"),
    ] {
        let out = stdout_of(
            sb.bare()
                .args(["--cert", &url])
                .write_stdin(secret("app", Some("prod")).to_string()),
        );
        assert_eq!(open(&sealed_one(&out))["user"], USER, "{url}");
    }

    // A missing file names the URL.
    let missing = format!("file://{}/nope.pem", sb.dir.path().display());
    let input = secret("app", Some("prod")).to_string();
    assert_fails(
        &sb,
        || {
            let mut c = sb.bare();
            c.args(["--cert", &missing]);
            c
        },
        Some(input.as_bytes()),
        &[&missing],
        &[],
    );
}

#[test]
fn cert_as_http_url() {
    let sb = Sandbox::new();
    let (port, server) = http_once("200 OK", std::fs::read(cert_path()).unwrap());
    let url = format!("http://127.0.0.1:{port}/v1/cert.pem");
    let out = stdout_of(
        sb.bare()
            .args(["--cert", &url])
            .write_stdin(secret("app", Some("prod")).to_string()),
    );
    assert_eq!(server.join().unwrap(), "GET /v1/cert.pem HTTP/1.1");
    assert_eq!(open(&sealed_one(&out))["pw"], PW);

    // --fetch-cert with a URL prints the body unchanged.
    let (port, server) = http_once("200 OK", b"any bytes at all\n".to_vec());
    let url = format!("http://127.0.0.1:{port}/cert.pem");
    sb.bare()
        .args(["--fetch-cert", "--cert", &url])
        .assert()
        .success()
        .stdout("any bytes at all\n");
    server.join().unwrap();
}

/// Runs openssl with `args`; its absence is a failure, never a silent skip.
fn openssl(args: &[&std::ffi::OsStr]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("openssl failed: {s}"),
        Err(e) => panic!("openssl is required by this test (apt-get install openssl): {e}"),
    }
}

/// Makes, with openssl, a CA (`ca.crt`) and a serving certificate it signed for IP
/// `127.0.0.1` (`srv.crt`, P-256 PKCS#8 key `srv.key`) in the sandbox.
fn loopback_tls_cert(sb: &Sandbox) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| sb.path(n).into_os_string();
    let s = |v: &str| std::ffi::OsString::from(v);
    let ec = [
        s("-newkey"),
        s("ec"),
        s("-pkeyopt"),
        s("ec_paramgen_curve:P-256"),
        s("-nodes"),
    ];
    let mut ca = vec![s("req"), s("-x509")];
    ca.extend(ec.iter().cloned());
    ca.extend([s("-subj"), s("/CN=e2e-test-ca"), s("-days"), s("1")]);
    ca.extend([s("-keyout"), p("ca.key"), s("-out"), p("ca.crt")]);
    openssl(&ca.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let mut csr = vec![s("req"), s("-new")];
    csr.extend(ec.iter().cloned());
    csr.extend([s("-subj"), s("/CN=127.0.0.1")]);
    csr.extend([s("-keyout"), p("srv.key"), s("-out"), p("srv.csr")]);
    openssl(&csr.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    sb.write(
        "srv.ext",
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    );
    let sign = [
        s("x509"),
        s("-req"),
        s("-in"),
        p("srv.csr"),
        s("-CA"),
        p("ca.crt"),
        s("-CAkey"),
        p("ca.key"),
        s("-CAcreateserial"),
        s("-days"),
        s("1"),
        s("-extfile"),
        p("srv.ext"),
        s("-out"),
        p("srv.crt"),
    ];
    openssl(&sign.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    (sb.path("ca.crt"), sb.path("srv.crt"), sb.path("srv.key"))
}

/// A TLS server on loopback (rustls, certificate `crt`) answering one GET with `body`.
/// The thread returns the request line, or `None` if the client gave up in the handshake.
fn https_once(
    crt: &Path,
    key: &Path,
    body: Vec<u8>,
) -> (u16, std::thread::JoinHandle<Option<String>>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let der = |p: &Path, label: &str| {
        sealed_secrets_core::pem::blocks(&std::fs::read(p).unwrap())
            .unwrap()
            .into_iter()
            .find(|b| b.label == label)
            .unwrap()
            .der
            .to_vec()
    };
    let chain = vec![CertificateDer::from(der(crt, "CERTIFICATE"))];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der(key, "PRIVATE KEY")));
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, stream);
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => req.extend_from_slice(&buf[..n]),
                // The client refused the certificate.
                Err(_) if req.is_empty() => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes()).unwrap();
        tls.write_all(&body).unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        String::from_utf8_lossy(&req)
            .lines()
            .next()
            .map(str::to_string)
    });
    (port, handle)
}

/// `--cert https://…`: the server's certificate is checked (an unknown CA is an error naming
/// the URL); `SSL_CERT_FILE` names the CAs to trust instead of the built-in roots, as for Go
/// programs.
#[test]
fn cert_as_https_url() {
    let sb = Sandbox::new();
    let (ca, crt, key) = loopback_tls_cert(&sb);
    let served = std::fs::read(cert_path()).unwrap();
    let input = secret("app", Some("prod")).to_string();

    let (port, server) = https_once(&crt, &key, served.clone());
    let url = format!("https://127.0.0.1:{port}/v1/cert.pem");
    let out = stdout_of(
        sb.bare()
            .env("SSL_CERT_FILE", &ca)
            .args(["--cert", &url])
            .write_stdin(input.clone()),
    );
    assert_eq!(
        server.join().unwrap().as_deref(),
        Some("GET /v1/cert.pem HTTP/1.1")
    );
    assert_eq!(open(&sealed_one(&out))["pw"], PW);

    // Not trusted: the built-in roots, or an SSL_CERT_FILE without the server's CA.
    for trust in [None, Some(cert_path())] {
        let (port, server) = https_once(&crt, &key, served.clone());
        let url = format!("https://127.0.0.1:{port}/v1/cert.pem");
        let mut cmd = sb.bare();
        if let Some(t) = &trust {
            cmd.env("SSL_CERT_FILE", t);
        }
        let out = cmd
            .args(["--cert", &url])
            .write_stdin(input.clone())
            .assert()
            .failure()
            .stdout("")
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot fetch \"{url}\"")),
            "{stderr}"
        );
        assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
        assert_eq!(server.join().unwrap(), None, "trust {trust:?}");
    }
}

#[test]
fn cert_http_error_status_names_the_url() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    for (status, shown) in [
        ("404 Not Found", "404"),
        ("500 Internal Server Error", "500"),
    ] {
        // assert_fails runs the command twice.
        let servers: Vec<_> = (0..2)
            .map(|_| http_once(status, b"nope".to_vec()))
            .collect();
        let urls: Vec<String> = servers
            .iter()
            .map(|(port, _)| format!("http://127.0.0.1:{port}/cert.pem"))
            .collect();
        let next = std::cell::Cell::new(0);
        let stderr = assert_fails(
            &sb,
            || {
                let url = &urls[next.get()];
                next.set(next.get() + 1);
                let mut c = sb.bare();
                c.args(["--cert", url]);
                c
            },
            Some(input.as_bytes()),
            &["cannot fetch", shown],
            &[],
        );
        assert!(stderr.contains(&urls[1]), "{stderr}");
        for (_, h) in servers {
            h.join().unwrap();
        }
    }
}

#[test]
fn fetch_cert_with_cert_file_prints_it_unchanged() {
    let sb = Sandbox::new();
    let pem = std::fs::read(cert_path()).unwrap();
    sb.seal(&["--fetch-cert"])
        .assert()
        .success()
        .stdout(predicate::eq(pem.as_slice()));
    // Not parsed: arbitrary bytes come back as they are.
    sb.write("blob.bin", [0u8, 1, 2, 255, b'\n']);
    sb.bare()
        .args(["--fetch-cert", "--cert", "blob.bin"])
        .assert()
        .success()
        .stdout(predicate::eq(&[0u8, 1, 2, 255, b'\n'][..]));
    // And to a -w file.
    sb.seal(&["--fetch-cert", "-w", "fetched.pem"])
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read(sb.path("fetched.pem")).unwrap(), pem);
}

// ---------------------------------------------------------------------------------------------
// Several documents
// ---------------------------------------------------------------------------------------------

#[test]
fn multi_document_yaml_gives_several_sealed_secrets() {
    let sb = Sandbox::new();
    let input = format!(
        "---\n{}---\n# comment only\n---\n{}",
        secret_yaml("one", "ns1"),
        secret_yaml("two", "ns2")
    );
    for format in ["json", "yaml"] {
        let out = stdout_of(sb.seal(&["-o", format]).write_stdin(input.clone()));
        if format == "yaml" {
            assert!(out.starts_with(b"---\n"));
            let text = String::from_utf8(out.clone()).unwrap();
            assert_eq!(text.matches("---\n").count(), 2, "{text}");
        }
        let docs = sealed_docs(&out);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].metadata.name.as_deref(), Some("one"));
        assert_eq!(docs[1].metadata.namespace.as_deref(), Some("ns2"));
        for d in &docs {
            assert_eq!(open(d), items(&[("pw", PW), ("user", USER)]));
        }
    }
}

#[test]
fn concatenated_json_gives_several_sealed_secrets() {
    let sb = Sandbox::new();
    let input = format!(
        "{}\n{}{}",
        secret("one", Some("ns1")),
        secret("two", Some("ns2")),
        serde_json::to_string_pretty(&secret("three", Some("ns3"))).unwrap()
    );
    let out = stdout_of(sb.seal(&[]).write_stdin(input));
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.matches("\"kind\": \"SealedSecret\"").count(), 3);
    let docs = sealed_docs(&out);
    let names: Vec<_> = docs
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["one", "two", "three"]);
    for d in &docs {
        assert_eq!(open(d)["pw"], PW);
    }
}

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

#[test]
fn scope_strict_binds_namespace_and_name() {
    let sb = Sandbox::new();
    for args in [&[][..], &["--scope", "strict"][..]] {
        let ss = sealed_one(&stdout_of(
            sb.seal(args)
                .write_stdin(secret("app", Some("prod")).to_string()),
        ));
        assert!(ss.metadata.annotations.is_none());
        assert!(template_meta(&ss).annotations.is_none());
        assert_eq!(open(&ss)["pw"], PW);
        for (ns, name) in [("prod", "other"), ("dev", "app")] {
            let err = open_with(&moved(&ss, Some(ns), name), test_key()).unwrap_err();
            assert_eq!(err, "no key could decrypt secret (pw, user)");
        }
    }
}

#[test]
fn scope_namespace_wide_binds_namespace_only() {
    let sb = Sandbox::new();
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--scope", "namespace-wide"])
            .write_stdin(secret("app", Some("prod")).to_string()),
    ));
    assert_eq!(ann(&ss.metadata.annotations, NAMESPACE_WIDE), Some("true"));
    assert_eq!(ann(&ss.metadata.annotations, CLUSTER_WIDE), None);
    assert_eq!(
        ann(&template_meta(&ss).annotations, NAMESPACE_WIDE),
        Some("true")
    );
    assert_eq!(open(&moved(&ss, Some("prod"), "renamed"))["pw"], PW);
    assert!(open_with(&moved(&ss, Some("dev"), "app"), test_key()).is_err());
}

#[test]
fn scope_cluster_wide_unseals_anywhere_and_may_lack_namespace() {
    let sb = Sandbox::new();
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--scope", "cluster-wide", "-o", "yaml"])
            .write_stdin(secret("app", None).to_string()),
    ));
    assert_eq!(ss.metadata.namespace, None, "no namespace is invented");
    assert_eq!(template_meta(&ss).namespace, None);
    assert_eq!(ann(&ss.metadata.annotations, CLUSTER_WIDE), Some("true"));
    assert_eq!(
        ann(&template_meta(&ss).annotations, CLUSTER_WIDE),
        Some("true")
    );
    assert_eq!(open(&ss)["pw"], PW);
    assert_eq!(open(&moved(&ss, Some("anywhere"), "renamed"))["user"], USER);
    // An input namespace is kept, but does not bind.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--scope", "cluster-wide"])
            .write_stdin(secret("app", Some("prod")).to_string()),
    ));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("prod"));
    assert_eq!(open(&moved(&ss, Some("dev"), "x"))["pw"], PW);
}

#[test]
fn scope_flag_replaces_input_annotations() {
    let sb = Sandbox::new();
    let mut input = secret("app", Some("prod"));
    input["metadata"]["annotations"] = json!({NAMESPACE_WIDE: "true", "keep": "me"});
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--scope", "cluster-wide"])
            .write_stdin(input.to_string()),
    ));
    let top = ss.metadata.annotations.as_ref().unwrap();
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        [CLUSTER_WIDE],
        "top level holds only the scope annotation"
    );
    let t = &template_meta(&ss).annotations;
    assert_eq!(ann(t, CLUSTER_WIDE), Some("true"));
    assert_eq!(ann(t, NAMESPACE_WIDE), None);
    assert_eq!(ann(t, "keep"), Some("me"));
    assert_eq!(open(&moved(&ss, Some("x"), "y"))["pw"], PW);
}

#[test]
fn input_scope_annotations_honoured_without_flag() {
    let sb = Sandbox::new();
    for (annotation, scope) in [
        (NAMESPACE_WIDE, Scope::NamespaceWide),
        (CLUSTER_WIDE, Scope::ClusterWide),
    ] {
        let mut input = secret("app", Some("prod"));
        input["metadata"]["annotations"] = json!({annotation: "true"});
        // Upstream: --scope strict (the default) cannot remove annotations on the input.
        for args in [&[][..], &["--scope", "strict"][..]] {
            let ss = sealed_one(&stdout_of(sb.seal(args).write_stdin(input.to_string())));
            assert_eq!(
                Scope::from_annotations(ss.metadata.annotations.as_ref()),
                scope
            );
            assert_eq!(open(&moved(&ss, Some("prod"), "renamed"))["pw"], PW);
            assert_eq!(
                open_with(&moved(&ss, Some("dev"), "app"), test_key()).is_ok(),
                scope == Scope::ClusterWide
            );
        }
    }
    // Only the exact string "true" counts.
    let mut input = secret("app", Some("prod"));
    input["metadata"]["annotations"] = json!({CLUSTER_WIDE: "yes"});
    let ss = sealed_one(&stdout_of(sb.seal(&[]).write_stdin(input.to_string())));
    assert!(ss.metadata.annotations.is_none());
    assert!(open_with(&moved(&ss, Some("prod"), "renamed"), test_key()).is_err());
}

#[test]
fn invalid_scope_value() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    assert_fails(
        &sb,
        || sb.seal(&["--scope", "global"]),
        Some(input.as_bytes()),
        &[
            "\"global\"",
            "--scope",
            "must be one of: strict, namespace-wide, cluster-wide",
        ],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// Name and namespace
// ---------------------------------------------------------------------------------------------

#[test]
fn name_override() {
    let sb = Sandbox::new();
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--name", "renamed"])
            .write_stdin(secret("app", Some("prod")).to_string()),
    ));
    assert_eq!(ss.metadata.name.as_deref(), Some("renamed"));
    assert_eq!(template_meta(&ss).name.as_deref(), Some("renamed"));
    // Strict scope: sealed for the new name.
    assert_eq!(open(&ss)["pw"], PW);
    assert!(open_with(&moved(&ss, Some("prod"), "app"), test_key()).is_err());
    // --name also fills in a missing name.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--name", "given"]).write_stdin(
            json!({"kind": "Secret", "metadata": {"namespace": "n"}, "stringData": {"a": PW}})
                .to_string(),
        ),
    ));
    assert_eq!(ss.metadata.name.as_deref(), Some("given"));
    assert_eq!(open(&ss)["a"], PW);
}

#[test]
fn namespace_mismatch_is_an_error() {
    let sb = Sandbox::new();
    let input = secret("app", Some("a")).to_string();
    for flag in ["-n", "--namespace"] {
        let stderr = assert_fails(
            &sb,
            || sb.seal(&[flag, "b"]),
            Some(input.as_bytes()),
            &[],
            &[],
        );
        assert_eq!(
            stderr,
            "error: namespace mismatch: input secret is in namespace \"a\" but \"b\" was specified\n"
        );
    }
    // The same namespace is fine, and so is -n with a cluster-wide secret.
    let ss = sealed_one(&stdout_of(sb.seal(&["-n", "a"]).write_stdin(input.clone())));
    assert_eq!(open(&ss)["pw"], PW);
    let ss = sealed_one(&stdout_of(
        sb.seal(&["-n", "b", "--scope", "cluster-wide"])
            .write_stdin(input),
    ));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("a"));
}

const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
current-context: main
contexts:
- name: main
  context: {cluster: k, user: u, namespace: from-context}
- name: other
  context: {cluster: k, user: u, namespace: other-context-ns}
- name: nons
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster: {server: "https://127.0.0.1:9"}
users:
- name: u
  user: {token: not-a-real-token}
"#;

#[test]
fn namespace_defaulting() {
    let sb = Sandbox::new();
    let kubeconfig = sb.write("kubeconfig.yaml", KUBECONFIG);
    let input = secret("app", None).to_string();
    let ns_of = |cmd: &mut Command| {
        let ss = sealed_one(&stdout_of(cmd.write_stdin(input.clone())));
        assert_eq!(open(&ss)["pw"], PW);
        assert_eq!(template_meta(&ss).namespace, ss.metadata.namespace);
        ss.metadata.namespace.unwrap()
    };
    // No kubeconfig: "default".
    assert_eq!(ns_of(&mut sb.seal(&[])), "default");
    // -n.
    assert_eq!(ns_of(&mut sb.seal(&["-n", "flag-ns"])), "flag-ns");
    // The kubeconfig context's namespace, from $KUBECONFIG or --kubeconfig.
    assert_eq!(
        ns_of(sb.seal(&[]).env("KUBECONFIG", &kubeconfig)),
        "from-context"
    );
    assert_eq!(
        ns_of(&mut sb.seal(&["--kubeconfig", "kubeconfig.yaml"])),
        "from-context"
    );
    // --context selects another context; a context without namespace means "default".
    assert_eq!(
        ns_of(
            sb.seal(&["--context", "other"])
                .env("KUBECONFIG", &kubeconfig)
        ),
        "other-context-ns"
    );
    assert_eq!(
        ns_of(
            sb.seal(&["--context", "nons"])
                .env("KUBECONFIG", &kubeconfig)
        ),
        "default"
    );
    // -n beats the context, and is not a mismatch when the input has no namespace.
    assert_eq!(
        ns_of(sb.seal(&["-n", "flag-ns"]).env("KUBECONFIG", &kubeconfig)),
        "flag-ns"
    );
    // The context namespace is a default only: an input namespace wins without error.
    let ss = sealed_one(&stdout_of(
        sb.seal(&[])
            .env("KUBECONFIG", &kubeconfig)
            .write_stdin(secret("app", Some("mine")).to_string()),
    ));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("mine"));
}

// ---------------------------------------------------------------------------------------------
// Content handling
// ---------------------------------------------------------------------------------------------

#[test]
fn allow_empty_data() {
    let sb = Sandbox::new();
    let empty = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"}}).to_string();
    let empty_maps = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"},
                            "data": {}, "stringData": {}})
    .to_string();
    for input in [&empty, &empty_maps] {
        assert_fails(
            &sb,
            || sb.seal(&[]),
            Some(input.as_bytes()),
            &["secret.data is empty in input Secret", "--allow-empty-data"],
            &[],
        );
        let out = stdout_of(sb.seal(&["--allow-empty-data"]).write_stdin(input.as_str()));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("\"encryptedData\": {}"), "{text}");
        let ss = sealed_one(&out);
        assert!(ss.spec.encrypted_data.is_empty());
        assert!(open(&ss).is_empty());
    }
}

#[test]
fn string_data_sealed_as_bytes_and_wins_over_data() {
    let sb = Sandbox::new();
    let input = json!({
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "data": {"both": b64("from-data"), "bin": b64([0u8, 159, 146, 150, 255])},
        "stringData": {"both": "from-stringData", "utf8": "héllo ✓", "empty": ""},
    });
    let ss = sealed_one(&stdout_of(sb.seal(&[]).write_stdin(input.to_string())));
    let u = unseal(
        &ss,
        std::slice::from_ref(test_key()),
        UnsealOptions::default(),
    )
    .unwrap();
    let data = u.secret.data.as_ref().unwrap();
    assert_eq!(data["both"].0, b"from-stringData");
    assert_eq!(data["utf8"].0, "héllo ✓".as_bytes());
    assert_eq!(data["empty"].0, b"");
    assert_eq!(data["bin"].0, [0u8, 159, 146, 150, 255]);
    assert_eq!(data.len(), 4);
}

#[test]
fn data_base64_wrapped_over_lines_is_accepted_like_go() {
    // Go's base64 decoder (used by upstream for Secret data) ignores CR and LF.
    let sb = Sandbox::new();
    let wrapped = b64(PW)
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let yaml = format!(
        "kind: Secret\nmetadata: {{name: s, namespace: ns1}}\ndata:\n  pw: |\n    {}\n",
        wrapped.replace('\n', "\n    ")
    );
    let ss = sealed_one(&stdout_of(sb.seal(&[]).write_stdin(yaml)));
    assert_eq!(open(&ss)["pw"], PW);
}

#[test]
fn last_applied_and_server_fields_stripped() {
    let sb = Sandbox::new();
    let mut input = secret("app", Some("prod"));
    let last_applied = format!("{{\"stringData\":{{\"pw\":\"{PW}\"}}}}");
    input["metadata"] = json!({
        "name": "app", "namespace": "prod",
        "labels": {"app": "demo"},
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": last_applied,
            "kubecfg.ksonnet.io/last-applied-configuration": last_applied,
            "team": "blue",
        },
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "owner-uid"}],
        "uid": "1234-uid", "resourceVersion": "999", "generation": 7,
        "creationTimestamp": "2020-01-01T00:00:00Z", "selfLink": "/api/v1/x",
        "deletionGracePeriodSeconds": 30,
        "finalizers": ["keep/this"],
    });
    input["immutable"] = json!(true);
    input["type"] = json!("kubernetes.io/basic-auth");
    for format in ["json", "yaml"] {
        let out = stdout_of(sb.seal(&["-o", format]).write_stdin(input.to_string()));
        let text = String::from_utf8(out.clone()).unwrap();
        for gone in [
            "last-applied-configuration",
            PW,
            "ownerReferences",
            "owner-uid",
            "1234-uid",
            "resourceVersion",
            "999",
            "creationTimestamp",
            "selfLink",
            "generation",
            "deletionGracePeriodSeconds",
        ] {
            assert!(
                !text.contains(gone),
                "{format} output contains {gone}: {text}"
            );
        }
        let ss = sealed_one(&out);
        let tm = template_meta(&ss);
        assert_eq!(
            tm.annotations.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["team"]
        );
        assert_eq!(
            tm.finalizers.as_deref(),
            Some(&["keep/this".to_string()][..])
        );
        assert_eq!(
            ss.spec.template.type_.as_deref(),
            Some("kubernetes.io/basic-auth")
        );
        assert_eq!(ss.spec.template.immutable, Some(true));
        assert_eq!(open(&ss)["pw"], PW);
    }
}

// ---------------------------------------------------------------------------------------------
// --raw
// ---------------------------------------------------------------------------------------------

#[test]
fn raw_from_stdin() {
    let sb = Sandbox::new();
    let out = stdout_of(
        sb.seal(&["--raw", "--name", "app", "-n", "prod"])
            .write_stdin(PW),
    );
    assert!(!out.ends_with(b"\n"), "no trailing newline");
    assert!(!String::from_utf8_lossy(&out).contains(PW));
    assert_eq!(open_raw(&out, b"prod/app").unwrap(), PW.as_bytes());
    assert!(open_raw(&out, b"prod/other").is_none());
    assert!(open_raw(&out, b"prod").is_none());
    // Without -n: the default namespace.
    let out = stdout_of(sb.seal(&["--raw", "--name", "app"]).write_stdin(PW));
    assert_eq!(open_raw(&out, b"default/app").unwrap(), PW.as_bytes());
    // Binary input survives unchanged.
    let bin = [0u8, 10, 13, 255, 128];
    let out = stdout_of(
        sb.seal(&["--raw", "--name", "app", "-n", "prod"])
            .write_stdin(&bin[..]),
    );
    assert_eq!(open_raw(&out, b"prod/app").unwrap(), bin);
}

#[test]
fn raw_scopes_and_labels() {
    let sb = Sandbox::new();
    let out = stdout_of(
        sb.seal(&["--raw", "--scope", "namespace-wide", "-n", "prod"])
            .write_stdin(PW),
    );
    assert_eq!(open_raw(&out, b"prod").unwrap(), PW.as_bytes());
    assert!(open_raw(&out, b"prod/app").is_none());
    let out = stdout_of(
        sb.seal(&["--raw", "--scope", "cluster-wide"])
            .write_stdin(PW),
    );
    assert_eq!(open_raw(&out, b"").unwrap(), PW.as_bytes());
    assert!(open_raw(&out, b"default").is_none());
}

#[test]
fn raw_from_file_and_key_equals_path() {
    let sb = Sandbox::new();
    sb.write("value.txt", format!("{PW}\n"));
    for spec in ["value.txt", "ignored-key=value.txt"] {
        let from_file = format!("--from-file={spec}");
        let out = stdout_of(&mut sb.seal(&["--raw", &from_file, "--name", "app", "-n", "prod"]));
        assert!(!out.ends_with(b"\n"));
        // The file's bytes, trailing newline included.
        assert_eq!(
            open_raw(&out, b"prod/app").unwrap(),
            format!("{PW}\n").as_bytes()
        );
    }
    // Written to -w: same content, still no trailing newline.
    sb.seal(&[
        "--raw",
        "--from-file",
        "value.txt",
        "--name",
        "app",
        "-n",
        "prod",
        "-w",
        "raw.txt",
    ])
    .assert()
    .success()
    .stdout("");
    let raw = std::fs::read(sb.path("raw.txt")).unwrap();
    assert!(!raw.ends_with(b"\n"));
    assert!(open_raw(&raw, b"prod/app").is_some());
}

#[test]
fn raw_errors() {
    let sb = Sandbox::new();
    sb.write("value.txt", PW);
    assert_fails(
        &sb,
        || sb.seal(&["--from-file", "value.txt", "--name", "app"]),
        None,
        &["--from-file requires --raw"],
        &[],
    );
    assert_fails(
        &sb,
        || {
            sb.seal(&[
                "--raw",
                "--from-file",
                "value.txt",
                "--from-file",
                "value.txt",
                "--name",
                "app",
            ])
        },
        None,
        &["must provide only one --from-file"],
        &[],
    );
    assert_fails(
        &sb,
        || sb.seal(&["--raw", "--from-file=value.txt,value.txt", "--name", "app"]),
        None,
        &["must provide only one --from-file"],
        &[],
    );
    for args in [
        &["--raw"][..],
        &["--raw", "--scope", "strict", "-n", "prod"][..],
    ] {
        assert_fails(
            &sb,
            || sb.seal(args),
            Some(PW.as_bytes()),
            &["must provide the --name flag with --raw and --scope strict"],
            &[],
        );
    }
    assert_fails(
        &sb,
        || sb.seal(&["--raw", "--from-file", "missing.txt", "--name", "a"]),
        None,
        &["missing.txt"],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// --merge-into
// ---------------------------------------------------------------------------------------------

/// Seals `secret("app", "prod")` with `args` into `name`.
fn sealed_file(sb: &Sandbox, name: &str, args: &[&str], input: &Value) -> SealedSecret {
    let mut full = vec!["-w", name];
    full.extend_from_slice(args);
    sb.seal(&full)
        .write_stdin(input.to_string())
        .assert()
        .success();
    sealed_one(sb.read(name).as_bytes())
}

fn update_secret() -> Value {
    json!({
        "kind": "Secret",
        "metadata": {"name": "ignored", "labels": {"tier": "db"}, "annotations": {"note": "added"}},
        "stringData": {"token": "tok-plaintext", "pw": "pw-updated"},
    })
}

#[test]
fn merge_into_json_file() {
    let sb = Sandbox::new();
    let original = sealed_file(&sb, "sealed.json", &[], &secret("app", Some("prod")));
    let before_user = original.spec.encrypted_data["user"].clone();
    sb.seal(&["--merge-into", "sealed.json"])
        .write_stdin(update_secret().to_string())
        .assert()
        .success()
        .stdout("");
    let text = sb.read("sealed.json");
    assert!(
        text.starts_with("{\n  \"kind\": \"SealedSecret\""),
        "{text}"
    );
    let merged = sealed_one(text.as_bytes());
    assert_eq!(merged.metadata.name.as_deref(), Some("app"));
    assert_eq!(merged.metadata.namespace.as_deref(), Some("prod"));
    // Untouched items keep their ciphertext; new and updated items are added.
    assert_eq!(merged.spec.encrypted_data["user"], before_user);
    assert_eq!(
        open(&merged),
        items(&[
            ("pw", "pw-updated"),
            ("token", "tok-plaintext"),
            ("user", USER)
        ])
    );
    let tm = template_meta(&merged);
    assert_eq!(
        tm.labels.as_ref().unwrap(),
        &items(&[("app", "demo"), ("tier", "db")])
    );
    assert_eq!(ann(&tm.annotations, "note"), Some("added"));
    assert_eq!(tm.name.as_deref(), Some("app"), "template keeps its name");
    assert_eq!(sb.listing(), ["sealed.json"]);
}

#[test]
fn merge_into_yaml_file_stays_yaml_unless_format_given() {
    let sb = Sandbox::new();
    sealed_file(&sb, "sealed.yaml", &[], &secret("app", Some("prod")));
    assert!(sb.read("sealed.yaml").starts_with("---\n"));
    sb.seal(&["--merge-into", "sealed.yaml"])
        .write_stdin(update_secret().to_string())
        .assert()
        .success()
        .stdout("");
    let text = sb.read("sealed.yaml");
    assert!(text.starts_with("---\n"), "{text}");
    assert_eq!(open(&sealed_one(text.as_bytes()))["token"], "tok-plaintext");
    // -o json converts it.
    sb.seal(&["--merge-into", "sealed.yaml", "-o", "json"])
        .write_stdin(
            json!({"kind": "Secret", "metadata": {"name": "x"}, "stringData": {"more": "m"}})
                .to_string(),
        )
        .assert()
        .success();
    let text = sb.read("sealed.yaml");
    assert!(text.starts_with('{'), "{text}");
    assert_eq!(
        open(&sealed_one(text.as_bytes())),
        items(&[
            ("more", "m"),
            ("pw", "pw-updated"),
            ("token", "tok-plaintext"),
            ("user", USER)
        ])
    );
}

#[test]
fn merge_into_takes_scope_from_original() {
    let sb = Sandbox::new();
    let original = sealed_file(
        &sb,
        "cw.json",
        &["--scope", "cluster-wide"],
        &secret("app", None),
    );
    assert_eq!(original.metadata.namespace, None);
    // The update says nothing about scope and has its own namespace.
    let update = json!({"kind": "Secret", "metadata": {"name": "x", "namespace": "elsewhere"},
                        "stringData": {"token": "tok-plaintext"}});
    sb.seal(&["--merge-into", "cw.json"])
        .write_stdin(update.to_string())
        .assert()
        .success();
    let merged = sealed_one(sb.read("cw.json").as_bytes());
    assert_eq!(
        Scope::from_annotations(merged.metadata.annotations.as_ref()),
        Scope::ClusterWide
    );
    assert_eq!(merged.metadata.namespace, None);
    assert_eq!(
        open(&moved(&merged, Some("any"), "where"))["token"],
        "tok-plaintext"
    );
    // Namespace-wide original, with a matching --scope given explicitly.
    sealed_file(
        &sb,
        "nw.json",
        &["--scope", "namespace-wide"],
        &secret("app", Some("prod")),
    );
    sb.seal(&["--merge-into", "nw.json", "--scope", "namespace-wide"])
        .write_stdin(update.to_string())
        .assert()
        .success();
    let merged = sealed_one(sb.read("nw.json").as_bytes());
    assert_eq!(merged.metadata.namespace.as_deref(), Some("prod"));
    assert_eq!(
        open(&moved(&merged, Some("prod"), "renamed"))["token"],
        "tok-plaintext"
    );
}

#[test]
fn merge_into_scope_mismatch() {
    let sb = Sandbox::new();
    sealed_file(&sb, "sealed.json", &[], &secret("app", Some("prod")));
    let original = sb.read("sealed.json");
    let check = |args: &[&str], input: Value| {
        let mut full = vec!["--merge-into", "sealed.json"];
        full.extend_from_slice(args);
        let out = sb
            .seal(&full)
            .write_stdin(input.to_string())
            .assert()
            .failure()
            .code(1)
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("scope mismatch"), "{stderr}");
        assert!(!stderr.contains("tok-plaintext"), "{stderr}");
        assert_eq!(sb.read("sealed.json"), original, "file must be untouched");
        assert_eq!(sb.listing(), ["sealed.json"]);
    };
    // --scope differs from the original's.
    check(&["--scope", "cluster-wide"], update_secret());
    check(&["--scope", "namespace-wide"], update_secret());
    // The input's own annotation differs from the original's.
    let mut annotated = update_secret();
    annotated["metadata"]["annotations"] = json!({CLUSTER_WIDE: "true"});
    check(&[], annotated.clone());
    // --scope strict does not remove the input's annotations (upstream), so still a mismatch.
    check(&["--scope", "strict"], annotated.clone());
    // A matching annotation is fine.
    sealed_file(
        &sb,
        "nw.json",
        &["--scope", "namespace-wide"],
        &secret("app", Some("prod")),
    );
    let mut nw = update_secret();
    nw["metadata"]["annotations"] = json!({NAMESPACE_WIDE: "true"});
    sb.seal(&["--merge-into", "nw.json"])
        .write_stdin(nw.to_string())
        .assert()
        .success();
    let merged = sealed_one(sb.read("nw.json").as_bytes());
    assert_eq!(
        open(&moved(&merged, Some("prod"), "renamed"))["token"],
        "tok-plaintext"
    );
}

#[test]
fn merge_into_errors() {
    let sb = Sandbox::new();
    sb.seal(&["--merge-into", "missing.json"])
        .write_stdin(update_secret().to_string())
        .assert()
        .failure()
        .stderr(predicate::str::contains("missing.json"));
    sb.write("notsealed.json", "{\"kind\": \"Secret\"}");
    sb.seal(&["--merge-into", "notsealed.json"])
        .write_stdin(update_secret().to_string())
        .assert()
        .failure()
        .stderr("error: \"notsealed.json\" is not a SealedSecret (kind \"Secret\")\n");
    assert_eq!(sb.read("notsealed.json"), "{\"kind\": \"Secret\"}");
    // Bad input leaves the original untouched.
    sealed_file(&sb, "sealed.json", &[], &secret("app", Some("prod")));
    let original = sb.read("sealed.json");
    sb.seal(&["--merge-into", "sealed.json"])
        .write_stdin(
            json!({"kind": "Secret", "metadata": {"name": "x"}, "data": {"k": "%%%"}}).to_string(),
        )
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "invalid base64 in data item \"k\"",
        ));
    assert_eq!(sb.read("sealed.json"), original);
}

// ---------------------------------------------------------------------------------------------
// --recovery-unseal
// ---------------------------------------------------------------------------------------------

/// A sealed copy of `secret("app", "prod")` in the sandbox as `sealed.json`.
fn sealed_fixture(sb: &Sandbox) -> SealedSecret {
    sealed_file(sb, "sealed.json", &[], &secret("app", Some("prod")))
}

fn check_unsealed_json(out: &[u8]) {
    let v: Value = serde_json::from_slice(out).unwrap();
    assert_eq!(v["kind"], "Secret");
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["metadata"]["name"], "app");
    assert_eq!(v["metadata"]["namespace"], "prod");
    assert_eq!(v["metadata"]["labels"]["app"], "demo");
    assert_eq!(v["type"], "Opaque");
    assert_eq!(v["data"]["pw"], b64(PW));
    assert_eq!(v["data"]["user"], b64(USER));
    assert!(out.ends_with(b"}\n"));
}

#[test]
fn recovery_unseal_with_pem_keys() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    for key in [key_path(), key_pkcs8_path()] {
        let out = stdout_of(
            sb.bare()
                .arg("--recovery-unseal")
                .arg("--recovery-private-key")
                .arg(&key)
                .args(["-f", "sealed.json"]),
        );
        check_unsealed_json(&out);
    }
    // From stdin, as YAML.
    let out = stdout_of(
        sb.bare()
            .arg("--recovery-unseal")
            .arg(format!("--recovery-private-key={}", key_path().display()))
            .args(["-o", "yaml"])
            .write_stdin(sb.read("sealed.json")),
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("---\n"), "{text}");
    let v = parse_documents(&out).unwrap().remove(0);
    assert_eq!(v["kind"], "Secret");
    assert_eq!(v["data"]["pw"], b64(PW));
    // To a -w file.
    sb.bare()
        .arg("--recovery-unseal")
        .arg("--recovery-private-key")
        .arg(key_path())
        .args(["-f", "sealed.json", "-w", "plain.json"])
        .assert()
        .success()
        .stdout("");
    check_unsealed_json(sb.read("plain.json").as_bytes());
}

/// `kubeseal ARGS` run by `sh` under `umask`, in the sandbox.
fn under_umask(sb: &Sandbox, umask: &str, args: &[&str]) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_kubeseal"))
        .args(args)
        .env_clear()
        .env("HOME", sb.dir.path())
        .env("KUBECONFIG", sb.path("no-such-kubeconfig"))
        .current_dir(sb.dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "kubeseal {args:?} under umask {umask}");
}

fn mode_of(sb: &Sandbox, name: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(sb.path(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn recovered_plaintext_is_0600_and_sealed_output_follows_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write("in.json", secret("app", Some("prod")).to_string());
    let key = key_path();
    let key = key.to_str().unwrap();
    let cert = cert_path();
    let cert = cert.to_str().unwrap();
    for (umask, sealed_mode) in [("022", 0o644), ("002", 0o664), ("077", 0o600)] {
        let plain = format!("plain-{umask}.json");
        under_umask(
            &sb,
            umask,
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                key,
                "-f",
                "sealed.json",
                "-w",
                &plain,
            ],
        );
        assert_eq!(
            mode_of(&sb, &plain),
            0o600,
            "recovered plaintext under umask {umask}"
        );
        check_unsealed_json(sb.read(&plain).as_bytes());
        let out = format!("sealed-{umask}.json");
        under_umask(&sb, umask, &["--cert", cert, "-f", "in.json", "-w", &out]);
        assert_eq!(
            mode_of(&sb, &out),
            sealed_mode,
            "sealed output under umask {umask}"
        );
    }
    // Overwriting a world-readable file with plaintext narrows it to 0600; overwriting a sealed
    // file keeps that file's own mode.
    sb.write("wide.json", "old\n");
    std::fs::set_permissions(sb.path("wide.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    under_umask(
        &sb,
        "022",
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            key,
            "-f",
            "sealed.json",
            "-w",
            "wide.json",
        ],
    );
    assert_eq!(mode_of(&sb, "wide.json"), 0o600);
    sb.write("kept.json", "old\n");
    std::fs::set_permissions(sb.path("kept.json"), std::fs::Permissions::from_mode(0o640)).unwrap();
    under_umask(
        &sb,
        "022",
        &["--cert", cert, "-f", "in.json", "-w", "kept.json"],
    );
    assert_eq!(mode_of(&sb, "kept.json"), 0o640);
    // No temporary file is left behind.
    assert!(
        sb.listing().iter().all(|n| !n.starts_with(".kubeseal-")),
        "{:?}",
        sb.listing()
    );
}

#[test]
fn recovery_unseal_with_key_secrets_and_lists() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    let own = key_secret("sealed-secrets-keyaaaaa", &test_key_pem());
    let other = key_secret("sealed-secrets-keybbbbb", &other_key_pem());
    sb.write(
        "key-secret.json",
        serde_json::to_string_pretty(&own).unwrap(),
    );
    sb.write(
        "key-secret.yaml",
        sealed_secrets_core::codec::to_yaml(&own).unwrap(),
    );
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [other, own]});
    sb.write("keys-list.json", list.to_string());
    sb.write(
        "keys-list.yaml",
        sealed_secrets_core::codec::to_yaml(&list).unwrap(),
    );
    sb.write(
        "two-docs.yaml",
        format!(
            "---\n{}---\n{}",
            sealed_secrets_core::codec::to_yaml(&other).unwrap(),
            sealed_secrets_core::codec::to_yaml(&own).unwrap()
        ),
    );
    for file in [
        "key-secret.json",
        "key-secret.yaml",
        "keys-list.json",
        "keys-list.yaml",
        "two-docs.yaml",
    ] {
        let out = stdout_of(sb.bare().args([
            "--recovery-unseal",
            "--recovery-private-key",
            file,
            "-f",
            "sealed.json",
        ]));
        check_unsealed_json(&out);
    }
}

#[test]
fn recovery_unseal_right_key_among_wrong_ones() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write("other.pem", other_key_pem());
    sb.write("own.pem", test_key_pem());
    // Repeated flags, in either order.
    for (a, b) in [("other.pem", "own.pem"), ("own.pem", "other.pem")] {
        let out = stdout_of(sb.bare().args([
            "--recovery-unseal",
            "--recovery-private-key",
            a,
            "--recovery-private-key",
            b,
            "-f",
            "sealed.json",
        ]));
        check_unsealed_json(&out);
    }
    // A comma list.
    let out = stdout_of(sb.bare().args([
        "--recovery-unseal",
        "--recovery-private-key",
        "other.pem,own.pem",
        "-f",
        "sealed.json",
    ]));
    check_unsealed_json(&out);
}

#[test]
fn recovery_unseal_wrong_key() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write("other.pem", other_key_pem());
    let stderr = assert_fails(
        &sb,
        || {
            let mut c = sb.bare();
            c.args([
                "--recovery-unseal",
                "--recovery-private-key",
                "other.pem",
                "-f",
                "sealed.json",
            ]);
            c
        },
        None,
        &[],
        &[],
    );
    assert_eq!(stderr, "error: no key could decrypt secret (pw, user)\n");
    // The same key, but the object was moved: its label no longer matches.
    let moved_ss = moved(
        &sealed_one(sb.read("sealed.json").as_bytes()),
        Some("dev"),
        "app",
    );
    sb.write("moved.json", serde_json::to_string(&moved_ss).unwrap());
    sb.bare()
        .arg("--recovery-unseal")
        .arg("--recovery-private-key")
        .arg(key_path())
        .args(["-f", "moved.json"])
        .assert()
        .failure()
        .stderr("error: no key could decrypt secret (pw, user)\n");
}

#[test]
fn recovery_unseal_bad_key_files_are_named() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    sb.write(
        "corrupt.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n",
    );
    sb.write("garbage.txt", "this is not a key at all\n");
    sb.write(
        "no-tls-key.json",
        json!({"kind": "Secret", "metadata": {"name": "keyless"}, "data": {"other": b64("x")}})
            .to_string(),
    );
    sb.write(
        "bad-b64.json",
        json!({"kind": "Secret", "metadata": {"name": "badb64"}, "data": {"tls.key": "%%%"}})
            .to_string(),
    );
    let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\n";
    sb.write("ec.pem", ec);
    for (file, what) in [
        ("corrupt.pem", "invalid RSA private key"),
        ("garbage.txt", "not a PEM private key"),
        ("no-tls-key.json", "keyless"),
        ("bad-b64.json", "badb64"),
        ("ec.pem", "only RSA keys are supported"),
        ("missing.pem", "cannot read private key file"),
    ] {
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                c.args(["--recovery-unseal", "-f", "sealed.json"])
                    .arg(format!("--recovery-private-key={file}"));
                c
            },
            None,
            &[&format!("{file:?}"), what],
            &[
                "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
                "MHcCAQEEIBkg",
            ],
        );
        assert!(stderr.lines().count() == 1, "{stderr}");
    }
    // The right key does not make up for a broken one.
    sb.bare()
        .arg("--recovery-unseal")
        .arg("--recovery-private-key")
        .arg(key_path())
        .args(["--recovery-private-key", "garbage.txt", "-f", "sealed.json"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("garbage.txt"));
    // No key at all.
    sb.bare()
        .args(["--recovery-unseal", "-f", "sealed.json"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--recovery-private-key"));
}

#[test]
fn recovery_unseal_truncated_tampered_and_bad_ciphertext() {
    let sb = Sandbox::new();
    let ss = sealed_fixture(&sb);
    let raw = STANDARD.decode(&ss.spec.encrypted_data["pw"]).unwrap();
    let mut variants: Vec<(&str, String, &str)> = Vec::new();
    let mut tampered = raw.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 0x01; // in the GCM part
    variants.push((
        "tampered-gcm",
        b64(&tampered),
        "no key could decrypt secret (pw)",
    ));
    let mut tampered_rsa = raw.clone();
    tampered_rsa[40] ^= 0x80; // in the RSA part
    variants.push((
        "tampered-rsa",
        b64(&tampered_rsa),
        "no key could decrypt secret (pw)",
    ));
    variants.push((
        "truncated",
        b64(&raw[..100]),
        "no key could decrypt secret (pw)",
    ));
    variants.push((
        "truncated-tag",
        b64(&raw[..raw.len() - 4]),
        "no key could decrypt secret (pw)",
    ));
    variants.push((
        "one-byte",
        b64(&raw[..1]),
        "no key could decrypt secret (pw)",
    ));
    variants.push(("empty", String::new(), "no key could decrypt secret (pw)"));
    variants.push((
        "not-base64",
        "%%%not base64%%%".into(),
        "illegal base64 data (pw)",
    ));
    for (name, value, expected) in variants {
        let mut bad = ss.clone();
        bad.spec.encrypted_data.insert("pw".into(), value);
        let file = format!("{name}.json");
        sb.write(&file, serde_json::to_string(&bad).unwrap());
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                c.arg("--recovery-unseal")
                    .arg("--recovery-private-key")
                    .arg(key_path())
                    .args(["-f", &file]);
                c
            },
            None,
            &[expected],
            &[],
        );
        // The intact item is not reported, and its plaintext is not shown.
        assert!(!stderr.contains("user"), "{name}: {stderr}");
    }
}

#[test]
fn recovery_unseal_renders_template_data() {
    let sb = Sandbox::new();
    reencrypt_fixture(&sb, "tmpl.yaml");
    let out = stdout_of(
        sb.bare()
            .args([
                "--recovery-unseal",
                "-f",
                "tmpl.yaml",
                "--recovery-private-key",
            ])
            .arg(key_path()),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["conn"], b64(format!("user={USER} pw={PW}")));
    assert_eq!(v["data"]["pw"], b64(PW));
    assert_eq!(v["metadata"]["annotations"]["note"], "kept");
}

#[test]
fn recovery_unseal_input_errors() {
    let sb = Sandbox::new();
    let ss = sealed_fixture(&sb);
    sb.write(
        "two.json",
        format!(
            "{}\n{}",
            serde_json::to_string(&ss).unwrap(),
            serde_json::to_string(&ss).unwrap()
        ),
    );
    // A plain Secret (holding plaintext) or another kind is refused as such.
    let plain = secret("app", Some("prod")).to_string();
    let mut other_kind = serde_json::to_value(&ss).unwrap();
    other_kind["kind"] = json!("ConfigMap");
    let other_kind = other_kind.to_string();
    for (stdin, expect) in [
        ("", "found 0"),
        ("[1, 2]", "not an object"),
        ("{\"spec\": ", "invalid JSON input"),
        (
            plain.as_str(),
            "document 1 is not a SealedSecret (kind \"Secret\")",
        ),
        (
            other_kind.as_str(),
            "document 1 is not a SealedSecret (kind \"ConfigMap\")",
        ),
    ] {
        assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                c.arg("--recovery-unseal")
                    .arg("--recovery-private-key")
                    .arg(key_path());
                c
            },
            Some(stdin.as_bytes()),
            &[expect],
            &[],
        );
    }
    assert_fails(
        &sb,
        || {
            let mut c = sb.bare();
            c.arg("--recovery-unseal")
                .arg("--recovery-private-key")
                .arg(key_path())
                .args(["-f", "two.json"]);
            c
        },
        None,
        &["exactly one SealedSecret, found 2"],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// Offline --re-encrypt
// ---------------------------------------------------------------------------------------------

/// A SealedSecret with template metadata and `template.data`, sealed for the test key.
fn reencrypt_fixture(sb: &Sandbox, file: &str) -> SealedSecret {
    let mut input = secret("app", Some("prod"));
    input["metadata"]["annotations"] = json!({"note": "kept"});
    let mut ss = sealed_one(&stdout_of(sb.seal(&[]).write_stdin(input.to_string())));
    ss.spec.template.data = Some(items(&[("conn", "user={{ .user }} pw={{ .pw }}")]));
    let text = if file.ends_with(".yaml") {
        sealed_secrets_core::codec::render_sealed_secret(
            &ss,
            sealed_secrets_core::codec::Format::Yaml,
        )
        .unwrap()
    } else {
        serde_json::to_string_pretty(&ss).unwrap()
    };
    sb.write(file, text);
    ss
}

#[test]
fn re_encrypt_offline_to_stdout() {
    let sb = Sandbox::new();
    let before = reencrypt_fixture(&sb, "sealed.json");
    // As fetched from a cluster: server-set fields and a status, all dropped on output.
    let mut from_cluster: Value = serde_json::from_str(&sb.read("sealed.json")).unwrap();
    from_cluster["metadata"]["uid"] = json!("uid-1234");
    from_cluster["metadata"]["resourceVersion"] = json!("4242");
    from_cluster["metadata"]["generation"] = json!(3);
    from_cluster["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
    from_cluster["status"] = json!({"observedGeneration": 3,
        "conditions": [{"type": "Synced", "status": "True"}]});
    sb.write("sealed.json", from_cluster.to_string());
    sb.write("new-cert.pem", other_cert_pem());
    for flag in ["--re-encrypt", "--rotate"] {
        let out = stdout_of(
            sb.bare()
                .args([flag, "--cert", "new-cert.pem", "--recovery-private-key"])
                .arg(key_path())
                .write_stdin(sb.read("sealed.json")),
        );
        assert!(out.starts_with(b"{\n  \"kind\": \"SealedSecret\""));
        let text = String::from_utf8(out.clone()).unwrap();
        for gone in ["uid-1234", "4242", "creationTimestamp", "status", "Synced"] {
            assert!(!text.contains(gone), "{gone} kept: {text}");
        }
        let after = sealed_one(&out);
        assert_eq!(after.metadata.name, before.metadata.name);
        assert_eq!(after.metadata.namespace, before.metadata.namespace);
        assert_eq!(after.spec.template, before.spec.template);
        assert_eq!(
            template_meta(&after).labels.as_ref().unwrap()["app"],
            "demo"
        );
        assert_eq!(
            ann(&template_meta(&after).annotations, "note"),
            Some("kept")
        );
        for k in ["pw", "user"] {
            assert_ne!(after.spec.encrypted_data[k], before.spec.encrypted_data[k]);
            // 2048-bit key: prefix 0x0100.
            assert!(after.spec.encrypted_data[k].starts_with("AQ"));
        }
        // Only the new key opens it; template.data is rendered from the new ciphertexts.
        assert_eq!(
            open_with(&after, other_key()).unwrap(),
            items(&[
                ("conn", &format!("user={USER} pw={PW}")),
                ("pw", PW),
                ("user", USER)
            ])
        );
        assert_eq!(
            open_with(&after, test_key()).unwrap_err(),
            "no key could decrypt secret (pw, user)"
        );
        // Still strict: bound to its namespace and name.
        assert!(open_with(&moved(&after, Some("prod"), "x"), other_key()).is_err());
    }
}

#[test]
fn re_encrypt_offline_rewrites_input_file_in_place() {
    let sb = Sandbox::new();
    sb.write("new-cert.pem", other_cert_pem());
    for file in ["sealed.json", "sealed.yaml"] {
        let before = reencrypt_fixture(&sb, file);
        sb.bare()
            .args(["--re-encrypt", "--cert", "new-cert.pem", "-f", file])
            .arg("--recovery-private-key")
            .arg(key_path())
            .assert()
            .success()
            .stdout("");
        let text = sb.read(file);
        assert_eq!(text.starts_with("---\n"), file.ends_with(".yaml"), "{text}");
        let after = sealed_one(text.as_bytes());
        assert_eq!(after.spec.template, before.spec.template);
        assert_eq!(open_with(&after, other_key()).unwrap()["pw"], PW);
        assert!(open_with(&after, test_key()).is_err());
    }
    assert_eq!(sb.listing(), ["new-cert.pem", "sealed.json", "sealed.yaml"]);
    // With -w, the input file is left alone.
    reencrypt_fixture(&sb, "sealed.json");
    let original = sb.read("sealed.json");
    sb.bare()
        .args([
            "--re-encrypt",
            "--cert",
            "new-cert.pem",
            "-f",
            "sealed.json",
            "-w",
            "new.json",
        ])
        .arg("--recovery-private-key")
        .arg(key_path())
        .assert()
        .success();
    assert_eq!(sb.read("sealed.json"), original);
    assert_eq!(
        open_with(&sealed_one(sb.read("new.json").as_bytes()), other_key()).unwrap()["user"],
        USER
    );
}

#[test]
fn re_encrypt_offline_errors() {
    let sb = Sandbox::new();
    reencrypt_fixture(&sb, "sealed.json");
    let original = sb.read("sealed.json");
    sb.write("new-cert.pem", other_cert_pem());
    sb.write("other.pem", other_key_pem());
    // Missing --cert.
    sb.bare()
        .args(["--re-encrypt", "-f", "sealed.json"])
        .arg("--recovery-private-key")
        .arg(key_path())
        .assert()
        .failure()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("needs --cert"));
    // A key that cannot decrypt it.
    sb.bare()
        .args([
            "--re-encrypt",
            "--cert",
            "new-cert.pem",
            "--recovery-private-key",
            "other.pem",
            "-f",
            "sealed.json",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "no key could decrypt secret (pw, user)",
        ));
    // An expired target certificate.
    sb.write("expired.pem", expired_cert_pem());
    sb.bare()
        .args(["--re-encrypt", "--cert", "expired.pem", "-f", "sealed.json"])
        .arg("--recovery-private-key")
        .arg(key_path())
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "failed to encrypt using an expired certificate",
        ));
    // A plain Secret is not re-encrypted.
    sb.write("plain.json", secret("app", Some("prod")).to_string());
    sb.bare()
        .args(["--re-encrypt", "--cert", "new-cert.pem", "-f", "plain.json"])
        .arg("--recovery-private-key")
        .arg(key_path())
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "is not a SealedSecret (kind \"Secret\")",
        ))
        .stderr(predicate::str::contains(PW).not());
    std::fs::remove_file(sb.path("plain.json")).unwrap();
    // In-place target untouched after every failure, and nothing left behind.
    assert_eq!(sb.read("sealed.json"), original);
    assert_eq!(
        sb.listing(),
        ["expired.pem", "new-cert.pem", "other.pem", "sealed.json"]
    );
}

// ---------------------------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------------------------

#[test]
fn env_vars_set_flags() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    // SEALED_SECRETS_CERT + SEALED_SECRETS_FORMAT.
    let out = stdout_of(
        sb.bare()
            .env("SEALED_SECRETS_CERT", cert_path())
            .env("SEALED_SECRETS_FORMAT", "yaml")
            .write_stdin(input.clone()),
    );
    assert!(out.starts_with(b"---\n"));
    assert_eq!(open(&sealed_one(&out))["pw"], PW);
    // SEALED_SECRETS_SCOPE.
    let ss = sealed_one(&stdout_of(
        sb.seal(&[])
            .env("SEALED_SECRETS_SCOPE", "cluster-wide")
            .write_stdin(input.clone()),
    ));
    assert_eq!(ann(&ss.metadata.annotations, CLUSTER_WIDE), Some("true"));
    // SEALED_SECRETS_ALLOW_EMPTY_DATA.
    let empty = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"}}).to_string();
    let ss = sealed_one(&stdout_of(
        sb.seal(&[])
            .env("SEALED_SECRETS_ALLOW_EMPTY_DATA", "true")
            .write_stdin(empty.clone()),
    ));
    assert!(ss.spec.encrypted_data.is_empty());
    // SEALED_SECRETS_RAW + NAME + NAMESPACE.
    let out = stdout_of(
        sb.seal(&[])
            .env("SEALED_SECRETS_RAW", "true")
            .env("SEALED_SECRETS_NAME", "app")
            .env("SEALED_SECRETS_NAMESPACE", "prod")
            .write_stdin(PW),
    );
    assert_eq!(open_raw(&out, b"prod/app").unwrap(), PW.as_bytes());
    // SEALED_SECRETS_SECRET_FILE + SEALED_SECRETS_SEALED_SECRET_FILE.
    sb.write("in.json", &input);
    sb.seal(&[])
        .env("SEALED_SECRETS_SECRET_FILE", "in.json")
        .env("SEALED_SECRETS_SEALED_SECRET_FILE", "out.yaml")
        .assert()
        .success()
        .stdout("");
    assert_eq!(
        open(&sealed_one(sb.read("out.yaml").as_bytes()))["user"],
        USER
    );
    // SEALED_SECRETS_RECOVERY_UNSEAL + SEALED_SECRETS_RECOVERY_PRIVATE_KEY (a comma list).
    sb.write("other.pem", other_key_pem());
    let out = stdout_of(
        sb.bare()
            .env("SEALED_SECRETS_RECOVERY_UNSEAL", "true")
            .env(
                "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
                format!("other.pem,{}", key_path().display()),
            )
            .env("SEALED_SECRETS_SECRET_FILE", "out.yaml"),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"]["pw"], b64(PW));
}

#[test]
fn command_line_beats_env_vars() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    sb.write("garbage.pem", "not a cert");
    // --cert beats SEALED_SECRETS_CERT; -o beats SEALED_SECRETS_FORMAT.
    let out = stdout_of(
        sb.seal(&["-o", "json"])
            .env("SEALED_SECRETS_CERT", "garbage.pem")
            .env("SEALED_SECRETS_FORMAT", "yaml")
            .write_stdin(input.clone()),
    );
    assert!(out.starts_with(b"{"));
    assert_eq!(open(&sealed_one(&out))["pw"], PW);
    // --scope beats SEALED_SECRETS_SCOPE.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--scope", "strict"])
            .env("SEALED_SECRETS_SCOPE", "cluster-wide")
            .write_stdin(input.clone()),
    ));
    assert!(ss.metadata.annotations.is_none());
    // --raw=false beats SEALED_SECRETS_RAW; --allow-empty-data=false beats its variable.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["--raw=false"])
            .env("SEALED_SECRETS_RAW", "true")
            .write_stdin(input.clone()),
    ));
    assert_eq!(open(&ss)["pw"], PW);
    let empty = json!({"kind": "Secret", "metadata": {"name": "e", "namespace": "n"}}).to_string();
    sb.seal(&["--allow-empty-data=false"])
        .env("SEALED_SECRETS_ALLOW_EMPTY_DATA", "true")
        .write_stdin(empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains("secret.data is empty"));
    // -n beats SEALED_SECRETS_NAMESPACE.
    let ss = sealed_one(&stdout_of(
        sb.seal(&["-n", "flag-ns"])
            .env("SEALED_SECRETS_NAMESPACE", "env-ns")
            .write_stdin(secret("app", None).to_string()),
    ));
    assert_eq!(ss.metadata.namespace.as_deref(), Some("flag-ns"));
    // --recovery-private-key beats SEALED_SECRETS_RECOVERY_PRIVATE_KEY.
    sb.write("sealed.json", serde_json::to_string(&ss).unwrap());
    sb.bare()
        .args([
            "--recovery-unseal",
            "-f",
            "sealed.json",
            "--recovery-private-key",
        ])
        .arg(key_path())
        .env("SEALED_SECRETS_RECOVERY_PRIVATE_KEY", "garbage.pem")
        .assert()
        .success();
}

#[test]
fn invalid_env_var_values_are_errors() {
    let sb = Sandbox::new();
    let input = secret("app", Some("prod")).to_string();
    sb.seal(&[])
        .env("SEALED_SECRETS_SCOPE", "everywhere")
        .write_stdin(input.clone())
        .assert()
        .failure()
        .stderr(predicate::str::contains("must be one of"));
    sb.seal(&[])
        .env("SEALED_SECRETS_RAW", "maybe")
        .write_stdin(input)
        .assert()
        .failure()
        .code(2)
        .stderr(predicate::str::contains("maybe"));
}

// ---------------------------------------------------------------------------------------------
// Version, help, completion
// ---------------------------------------------------------------------------------------------

#[test]
fn version_help_and_completion() {
    let sb = Sandbox::new();
    sb.bare()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("kubeseal version: {}\n", env!("CARGO_PKG_VERSION")));
    let help = stdout_of(sb.bare().arg("--help"));
    let help = String::from_utf8(help).unwrap();
    for flag in [
        "--cert",
        "--controller-namespace",
        "--format",
        "--sealed-secret-file",
        "--secret-file",
        "--fetch-cert",
        "--allow-empty-data",
        "--validate",
        "--merge-into",
        "--raw",
        "--name",
        "--from-file",
        "--scope",
        "--re-encrypt",
        "--recovery-unseal",
        "--recovery-private-key",
        "--kubeconfig",
        "--namespace",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = String::from_utf8(stdout_of(sb.bare().args(["completion", shell]))).unwrap();
        assert!(script.contains("kubeseal"), "{shell}");
        assert!(script.contains("recovery-unseal"), "{shell}");
    }
    let bash = String::from_utf8(stdout_of(sb.bare().args(["completion", "bash"]))).unwrap();
    assert!(bash.contains("_kubeseal()") && bash.contains("complete -F _kubeseal"));
    sb.bare()
        .args(["completion", "tcsh"])
        .assert()
        .failure()
        .code(2);
    sb.bare()
        .arg("--no-such-flag")
        .assert()
        .failure()
        .code(2)
        .stderr(predicate::str::contains("--no-such-flag"));
}

// ---------------------------------------------------------------------------------------------
// Online-only modes without a cluster
// ---------------------------------------------------------------------------------------------

#[test]
fn online_modes_fail_clearly_without_a_cluster() {
    let sb = Sandbox::new();
    sealed_fixture(&sb);
    let sealed = sb.read("sealed.json");
    let input = secret("app", Some("prod")).to_string();
    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["--fetch-cert"], None),
        (vec![], Some(input.as_str())), // seal without --cert
        (vec!["--validate"], Some(sealed.as_str())),
        (vec!["--re-encrypt"], Some(sealed.as_str())),
        (
            vec!["--rotate", "--controller-namespace", "x"],
            Some(sealed.as_str()),
        ),
    ];
    for (args, stdin) in cases {
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                c.args(&args);
                c
            },
            stdin.map(str::as_bytes),
            &["kubeconfig"],
            &[],
        );
        assert!(
            stderr.contains("not running in a cluster"),
            "{args:?}: {stderr}"
        );
    }
    // An explicit --kubeconfig that does not exist is named.
    assert_fails(
        &sb,
        || {
            let mut c = sb.bare();
            c.args([
                "--validate",
                "--kubeconfig",
                "missing-config",
                "-f",
                "sealed.json",
            ]);
            c
        },
        None,
        &["missing-config"],
        &[],
    );
    // Online re-encrypt of a file in place: the file survives the failure.
    sb.bare()
        .args(["--re-encrypt", "-f", "sealed.json"])
        .assert()
        .failure()
        .code(1);
    assert_eq!(sb.read("sealed.json"), sealed);
    assert_eq!(sb.listing(), ["sealed.json", "target.yaml"]);
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn not_a_secret() {
    let sb = Sandbox::new();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"},
                    "data": {"k": PW}});
    assert_fails(
        &sb,
        || sb.seal(&[]),
        Some(cm.to_string().as_bytes()),
        &["not a Secret", "ConfigMap"],
        &[],
    );
    // Also when it is the second document.
    let two = format!("{}\n{}", secret("a", Some("n")), cm);
    assert_fails(
        &sb,
        || sb.seal(&[]),
        Some(two.as_bytes()),
        &["ConfigMap"],
        &[],
    );
}

#[test]
fn missing_name() {
    let sb = Sandbox::new();
    for input in [
        json!({"kind": "Secret", "metadata": {"namespace": "n"}, "stringData": {"pw": PW}}),
        json!({"kind": "Secret", "metadata": {"name": "", "namespace": "n"}, "stringData": {"pw": PW}}),
        json!({"kind": "Secret", "stringData": {"pw": PW}}),
    ] {
        assert_fails(
            &sb,
            || sb.seal(&[]),
            Some(input.to_string().as_bytes()),
            &["missing metadata.name in input Secret"],
            &[],
        );
    }
}

#[test]
fn invalid_base64_in_data() {
    let sb = Sandbox::new();
    let bad_value = "s3cr3t!!not-base64";
    let input = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                       "data": {"good": b64("fine"), "password": bad_value}});
    let stderr = assert_fails(
        &sb,
        || sb.seal(&[]),
        Some(input.to_string().as_bytes()),
        &["invalid base64 in data item \"password\""],
        &[bad_value, "s3cr3t"],
    );
    assert!(!stderr.contains("good"));
    // Unpadded base64 is invalid too (Go requires padding).
    let input = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                       "data": {"pw": "YWJjZA"}});
    assert_fails(
        &sb,
        || sb.seal(&[]),
        Some(input.to_string().as_bytes()),
        &["invalid base64 in data item \"pw\""],
        &["YWJjZA"],
    );
}

#[test]
fn non_string_values() {
    let sb = Sandbox::new();
    for (input, expect) in [
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"pin": 987654321}}),
            "stringData item \"pin\" is not a string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"pin": [987654321]}}),
            "stringData item \"pin\" is not a string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "data": {"pin": 987654321}}),
            "data item \"pin\" is not a base64 string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": "987654321"}),
            "stringData is not a mapping",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n", "labels": {"l": 987654321}},
                   "stringData": {"a": "b"}}),
            "invalid Secret: invalid type: integer, expected a string",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n",
                   "annotations": {"token": {"nested": "987654321"}}}, "stringData": {"a": "b"}}),
            "invalid Secret",
        ),
        (
            json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "immutable": "987654321",
                   "stringData": {"a": "b"}}),
            "invalid Secret: invalid type: string, expected a boolean",
        ),
    ] {
        assert_fails(
            &sb,
            || sb.seal(&[]),
            Some(input.to_string().as_bytes()),
            &[expect],
            &["987654321"],
        );
    }
    // The same in YAML.
    let yaml = "kind: Secret\nmetadata: {name: s, namespace: ns1}\nstringData:\n  pin: 987654321\n";
    assert_fails(
        &sb,
        || sb.seal(&[]),
        Some(yaml.as_bytes()),
        &["stringData item \"pin\" is not a string"],
        &["987654321"],
    );
}

#[test]
fn yaml_that_is_not_an_object() {
    let sb = Sandbox::new();
    for input in [
        "- kind: Secret\n- b\n",
        "just a scalar\n",
        "42\n",
        "[1, 2]\n",
        "kind: Secret\nmetadata: {name: s, namespace: ns1}\nstringData: {a: b}\n---\n- x\n",
    ] {
        assert_fails(
            &sb,
            || sb.seal(&[]),
            Some(input.as_bytes()),
            &["is not an object"],
            &[],
        );
    }
}

#[test]
fn malformed_yaml_and_json_do_not_echo_input() {
    let sb = Sandbox::new();
    let secret_value = "Sup3rS3cretLeakCanary";
    let inputs = [
        format!(
            "kind: Secret\nmetadata:\n  name: s\nstringData:\n  pw: \"{secret_value}\n  b: [\n"
        ),
        format!("kind: Secret\nstringData:\n  pw: {secret_value}: x: [\n"),
        format!("kind: Secret\nstringData:\n\tpw: {secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: '{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: [{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: {{{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: *{secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: !!int {secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: !!binary {secret_value}\n"),
        format!("kind: Secret\nstringData:\n  pw: {secret_value}\n bad: x\n"),
        format!("kind: Secret\nstringData:\n  {secret_value}: a\n  {secret_value}: b\n"),
        format!("kind: Secret\nstringData:\n  pw: |\n  {secret_value}\n x\n"),
        format!("kind: Secret\nstringData:\n  ? {secret_value}\n  : [\n"),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}\" \"x\"}}}}"),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": {secret_value}}}}}"),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}\\q\"}}}}"),
        format!(
            "{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}\"}}}} {secret_value}"
        ),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"pw\": \"{secret_value}"),
    ];
    for input in &inputs {
        let stderr = assert_fails(
            &sb,
            || sb.seal(&[]),
            Some(input.as_bytes()),
            &[],
            &[secret_value, "Sup3r", "Canary"],
        );
        assert!(
            stderr.contains("invalid YAML input") || stderr.contains("invalid JSON input"),
            "{input:?}: {stderr}"
        );
        assert!(stderr.contains("line"), "the position is kept: {stderr}");
    }
    // Invalid UTF-8.
    assert_fails(
        &sb,
        || sb.seal(&[]),
        Some(b"kind: Secret\nstringData:\n  pw: \xff\xfe\n"),
        &["UTF-8"],
        &[],
    );
}

#[test]
fn empty_input() {
    let sb = Sandbox::new();
    for input in ["", "\n\n", "---\n", "---\n---\n# nothing\n", "   "] {
        assert_fails(
            &sb,
            || sb.seal(&[]),
            Some(input.as_bytes()),
            &["no secrets found"],
            &[],
        );
    }
    sb.write("empty.yaml", "");
    assert_fails(
        &sb,
        || sb.seal(&["-f", "empty.yaml"]),
        None,
        &["no secrets found"],
        &[],
    );
}

/// The committed test key's certificate, but valid for one day in July 2017.
fn expired_cert_pem() -> String {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000); // 2017-07-14
    self_signed_certificate(test_key(), None, Duration::from_secs(86_400), start)
        .unwrap()
        .to_pem()
}

#[test]
fn expired_certificate() {
    let sb = Sandbox::new();
    sb.write("expired.pem", expired_cert_pem());
    let input = secret("app", Some("prod")).to_string();
    for args in [
        &["--cert", "expired.pem"][..],
        &["--cert", "expired.pem", "--raw", "--name", "x"][..],
        &["--cert", "expired.pem", "--merge-into", "nowhere.json"][..],
    ] {
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                c.args(args);
                c
            },
            Some(input.as_bytes()),
            &[],
            &[],
        );
        assert_eq!(
            stderr,
            "error: failed to encrypt using an expired certificate on July 15, 2017\n"
        );
    }
    // --fetch-cert does not check validity.
    sb.bare()
        .args(["--fetch-cert", "--cert", "expired.pem"])
        .assert()
        .success()
        .stdout(sb.read("expired.pem"));
}

#[test]
fn non_rsa_certificate() {
    let sb = Sandbox::new();
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=x",
            "-days",
            "1",
            "-keyout",
        ])
        .arg(sb.path("ec.key"))
        .arg("-out")
        .arg(sb.path("ec.pem"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    // openssl is a test dependency (scripts/build-control-plane.sh, run by scripts/test.sh,
    // installs it): its absence is a failure, never a silent skip.
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("openssl failed: {s}"),
        Err(e) => panic!("openssl is required by this test (apt-get install openssl): {e}"),
    }
    let input = secret("app", Some("prod")).to_string();
    assert_fails(
        &sb,
        || {
            let mut c = sb.bare();
            c.args(["--cert", "ec.pem"]);
            c
        },
        Some(input.as_bytes()),
        &["expected RSA public key"],
        &[],
    );
}

#[test]
fn garbage_certificates() {
    let sb = Sandbox::new();
    sb.write("garbage.pem", "this is not a certificate\n");
    sb.write(
        "bad-der.pem",
        "-----BEGIN CERTIFICATE-----\nMIIBADCB\n-----END CERTIFICATE-----\n",
    );
    sb.write("key-only.pem", test_key_pem());
    sb.write("binary.der", [0x30u8, 0x82, 0x01, 0x00, 0xff]);
    let input = secret("app", Some("prod")).to_string();
    for (file, expect) in [
        ("garbage.pem", "failed to read any certificates"),
        ("bad-der.pem", "invalid certificate"),
        ("key-only.pem", "failed to read any certificates"),
        ("binary.der", "certificate"),
        ("missing.pem", "missing.pem"),
    ] {
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                c.args(["--cert", file]);
                c
            },
            Some(input.as_bytes()),
            &[expect],
            &[],
        );
        // A private key given by mistake is never echoed.
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
}

#[test]
fn failures_never_leak_plaintext() {
    // A sweep over failing runs whose input holds plaintext: none may print it.
    let sb = Sandbox::new();
    sb.write("expired.pem", expired_cert_pem());
    sb.write("garbage.pem", "junk");
    let with_leaky = |extra: Value| {
        let mut s = secret("app", Some("a"));
        if let Value::Object(m) = extra {
            for (k, v) in m {
                s[k] = v;
            }
        }
        s.to_string()
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["-n", "b"], with_leaky(json!({}))),
        (vec!["--cert", "expired.pem"], with_leaky(json!({}))),
        (vec!["--cert", "garbage.pem"], with_leaky(json!({}))),
        (vec!["-o", "toml"], with_leaky(json!({}))),
        (vec!["--scope", "nope"], with_leaky(json!({}))),
        (vec![], with_leaky(json!({"kind": "ConfigMap"}))),
        (vec![], with_leaky(json!({"metadata": {"namespace": "a"}}))),
        (vec![], with_leaky(json!({"type": [PW]}))),
        (vec![], with_leaky(json!({"immutable": PW}))),
        (
            vec![],
            with_leaky(json!({"metadata": {"name": "x", "labels": {"l": [PW]}}})),
        ),
        (
            vec![],
            with_leaky(json!({"metadata": {"name": "x", "annotations": {"l": {"k": PW}}}})),
        ),
        (vec!["--merge-into", "missing.json"], with_leaky(json!({}))),
    ];
    for (args, input) in cases {
        let stderr = assert_fails(
            &sb,
            || {
                let mut c = sb.bare();
                if !args.contains(&"--cert") {
                    c.arg("--cert").arg(cert_path());
                }
                c.args(&args);
                c
            },
            Some(input.as_bytes()),
            &[],
            &[],
        );
        assert!(!stderr.trim().is_empty());
    }
}

#[test]
fn key_hint_annotation_only_when_asked() {
    let sb = Sandbox::new();
    let plain = sealed_one(&stdout_of(
        sb.seal(&[])
            .write_stdin(secret("app", Some("prod")).to_string()),
    ));
    let hint = "sealedsecrets.bitnami.com/key-hint";
    assert!(
        plain
            .metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(hint)),
        "off by default"
    );
    let hinted = sealed_one(&stdout_of(
        sb.seal(&["--key-hint"])
            .write_stdin(secret("app", Some("prod")).to_string()),
    ));
    assert_eq!(
        hinted.metadata.annotations.as_ref().unwrap()[hint],
        test_key().fingerprint()
    );
    // The hint is not part of the OAEP label: the items still open.
    assert_eq!(open(&hinted), open(&plain));
}

#[test]
fn key_requires_key_usage() {
    let sb = Sandbox::new();
    sb.seal(&["--key", "SHA256:x"])
        .write_stdin(secret("app", Some("prod")).to_string())
        .assert()
        .failure()
        .stderr(predicates::str::contains("--key requires --key-usage"));
}
