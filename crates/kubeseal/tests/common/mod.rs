//! Fixtures shared by the `kubeseal` CLI tests: the committed test key and a second key,
//! Secrets and sealed files built in the test, a sandbox directory with `kubeseal` commands
//! that never see the caller's environment, and the checks every failing run must pass.
//!
//! Nothing here touches a cluster or the network: `KUBECONFIG` points at a missing file (or a
//! kubeconfig written by the test) and the environment is cleared for every command. Sealed
//! output is always checked by decrypting it with the committed test key.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sealed_secrets_core::codec::{self, Format, parse_documents};
use sealed_secrets_core::keys::self_signed_certificate;
use sealed_secrets_core::{
    Backend, InputSecret, PrivateKey, Scope, SealOptions, SealedSecret, UnsealOptions,
    hybrid_decrypt, seal, unseal,
};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
pub const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";

/// Plaintexts used by the fixtures; none may ever show up in an error message.
pub const PW: &str = "hunter2-plaintext-pw";
pub const USER: &str = "admin-plaintext-user";

pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/vectors")
}

pub fn cert_path() -> PathBuf {
    vectors().join("test-cert.pem")
}

pub fn key_path() -> PathBuf {
    vectors().join("test-key.pem")
}

pub fn key_pkcs8_path() -> PathBuf {
    vectors().join("test-key-pkcs8.pem")
}

/// The committed RSA-4096 test key (its certificate is `test-cert.pem`).
pub fn test_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::from_pem(&std::fs::read(key_path()).unwrap(), Backend::AwsLc).unwrap()
    })
}

/// A second key, generated once per test process (2048 bits: fast).
pub fn other_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(2048, Backend::AwsLc).unwrap())
}

pub fn other_key_pem() -> String {
    other_key().to_pkcs1_pem().unwrap().to_string()
}

/// A valid certificate for [`other_key`].
pub fn other_cert_pem() -> &'static str {
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

pub fn b64(s: impl AsRef<[u8]>) -> String {
    STANDARD.encode(s)
}

/// A Secret with labels, a `data` item and a `stringData` item.
pub fn secret(name: &str, namespace: Option<&str>) -> Value {
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

pub fn secret_yaml(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n    app: demo\ntype: Opaque\ndata:\n  user: {}\nstringData:\n  pw: {PW}\n",
        b64(USER)
    )
}

/// A key Secret as the controller stores it (and as `kubectl get secret -o yaml` backs it up).
pub fn key_secret(name: &str, key_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": "kube-system",
                     "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "data": {"tls.key": b64(key_pem), "tls.crt": b64(std::fs::read(cert_path()).unwrap())},
    })
}

pub fn test_key_pem() -> String {
    std::fs::read_to_string(key_path()).unwrap()
}

/// A temporary working directory holding every file a test writes, plus command builders
/// that never see the caller's environment.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    pub fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `kubeseal` with an empty environment: no `SEALED_SECRETS_*`, no proxies, no in-cluster
    /// variables, `HOME` in the sandbox and `KUBECONFIG` pointing at a missing file.
    pub fn bare(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kubeseal"));
        c.env_clear()
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.path("no-such-kubeconfig"))
            .timeout(Duration::from_secs(60));
        c
    }

    /// `kubeseal ARGS`, from [`Sandbox::bare`].
    pub fn cmd<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut c = self.bare();
        c.args(args);
        c
    }

    /// `kubeseal --cert test-cert.pem ARGS`.
    pub fn seal(&self, args: &[&str]) -> Command {
        let mut c = self.bare();
        c.arg("--cert").arg(cert_path()).args(args);
        c
    }

    /// [`Sandbox::bare`] with `PATH` (for editors) and a `TMPDIR` of its own, for the
    /// subcommands that edit files in place.
    pub fn kubeseal(&self) -> Command {
        let mut c = self.bare();
        c.env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TMPDIR", self.tmpdir());
        c
    }

    /// The TMPDIR [`Sandbox::kubeseal`] runs with (to check that nothing is left in it).
    pub fn tmpdir(&self) -> PathBuf {
        let p = self.path("tmp");
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// PEM of [`other_key`], for `--recovery-private-key`.
    pub fn other_key_file(&self) -> PathBuf {
        self.write("other-key.pem", other_key_pem())
    }
}

/// Runs `cmd`: it must fail, and its stderr hold `text`. The assertion, for more checks.
pub fn fails_saying(cmd: &mut Command, text: &str) -> Assert {
    cmd.assert()
        .failure()
        .stderr(predicates::str::contains(text))
}

pub fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

pub fn sealed_docs(out: &[u8]) -> Vec<SealedSecret> {
    parse_documents(out)
        .unwrap()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect()
}

pub fn sealed_one(out: &[u8]) -> SealedSecret {
    let mut docs = sealed_docs(out);
    assert_eq!(docs.len(), 1, "expected one SealedSecret");
    docs.remove(0)
}

/// `input` sealed by `kubeseal --cert test-cert.pem ARGS` from stdin, into one SealedSecret.
pub fn seal_value(sb: &Sandbox, args: &[&str], input: &Value) -> SealedSecret {
    sealed_one(&stdout_of(sb.seal(args).write_stdin(input.to_string())))
}

/// Unseals with one key; the plaintext items as strings, or the error message.
pub fn open_with(ss: &SealedSecret, key: &PrivateKey) -> Result<BTreeMap<String, String>, String> {
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

pub fn open(ss: &SealedSecret) -> BTreeMap<String, String> {
    open_with(ss, test_key()).unwrap()
}

pub fn items(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The same SealedSecret moved to another namespace and/or name (top level only).
pub fn moved(ss: &SealedSecret, namespace: Option<&str>, name: &str) -> SealedSecret {
    let mut m = ss.clone();
    m.metadata.namespace = namespace.map(str::to_string);
    m.metadata.name = Some(name.to_string());
    m
}

pub fn template_meta(ss: &SealedSecret) -> &ObjectMeta {
    ss.spec.template.metadata.as_ref().unwrap()
}

pub fn ann<'a>(m: &'a Option<BTreeMap<String, String>>, k: &str) -> Option<&'a str> {
    m.as_ref().and_then(|a| a.get(k)).map(String::as_str)
}

/// Decrypts a `--raw` output with the test key and the given label.
pub fn open_raw(out: &[u8], label: &[u8]) -> Option<Vec<u8>> {
    let ct = STANDARD.decode(out).unwrap();
    hybrid_decrypt(test_key(), label, &ct)
        .ok()
        .map(|p| p.to_vec())
}

/// Runs a command that must fail, twice: once with `-w` naming a file that does not exist
/// (it must not be created) and once with `-w` naming an existing file (it must be left
/// untouched). Checks exit code 1, empty stdout, that stderr holds every `expect` and none of
/// `secrets`, and that no file (temporary or not) appeared in the directory. Returns stderr.
pub fn assert_fails(
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

/// [`assert_fails`] for `kubeseal --cert test-cert.pem ARGS` reading `stdin`.
pub fn assert_seal_fails(
    sb: &Sandbox,
    args: &[&str],
    stdin: &[u8],
    expect: &[&str],
    secrets: &[&str],
) -> String {
    assert_fails(sb, || sb.seal(args), Some(stdin), expect, secrets)
}

/// [`assert_fails`] for a command sealing the usual input, `secret("app", Some("prod"))`:
/// stderr holds every `expect` and none of its plaintexts.
pub fn assert_fails_sealing(sb: &Sandbox, make: impl Fn() -> Command, expect: &[&str]) -> String {
    let input = secret("app", Some("prod")).to_string();
    assert_fails(sb, make, Some(input.as_bytes()), expect, &[])
}

/// [`assert_fails_sealing`] of `kubeseal <args>` (with the test certificate) in a new sandbox.
pub fn assert_seal_args_fail(args: &[&str], expect: &[&str]) -> String {
    let sb = Sandbox::new();
    assert_fails_sealing(&sb, || sb.seal(args), expect)
}

/// Seals `secret("app", "prod")` with `args` into `name`.
pub fn sealed_file(sb: &Sandbox, name: &str, args: &[&str], input: &Value) -> SealedSecret {
    let mut full = vec!["-w", name];
    full.extend_from_slice(args);
    sb.seal(&full)
        .write_stdin(input.to_string())
        .assert()
        .success();
    sealed_one(sb.read(name).as_bytes())
}

/// A sealed copy of `secret("app", "prod")` in the sandbox as `sealed.json`.
pub fn sealed_fixture(sb: &Sandbox) -> SealedSecret {
    sealed_file(sb, "sealed.json", &[], &secret("app", Some("prod")))
}

/// A SealedSecret with template metadata and `template.data`, sealed for the test key.
pub fn reencrypt_fixture(sb: &Sandbox, file: &str) -> SealedSecret {
    let mut input = secret("app", Some("prod"));
    input["metadata"]["annotations"] = json!({"note": "kept"});
    let mut ss = sealed_one(&stdout_of(sb.seal(&[]).write_stdin(input.to_string())));
    ss.spec.template.data = Some(items(&[("conn", "user={{ .user }} pw={{ .pw }}")]));
    let text = if file.ends_with(".yaml") {
        render(&ss, Format::Yaml)
    } else {
        serde_json::to_string_pretty(&ss).unwrap()
    };
    sb.write(file, text);
    ss
}

/// The committed test key's certificate, but valid for one day in July 2017.
pub fn expired_cert_pem() -> String {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000); // 2017-07-14
    self_signed_certificate(test_key(), None, Duration::from_secs(86_400), start)
        .unwrap()
        .to_pem()
}

/// A SealedSecret with `items` sealed for `key` under `scope`, built without the CLI.
pub fn sealed(
    name: &str,
    ns: &str,
    scope: Scope,
    items: &[(&str, &str)],
    key: &PrivateKey,
) -> SealedSecret {
    let data: serde_json::Map<String, Value> = items
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let input = InputSecret::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "stringData": data,
    }))
    .unwrap();
    let opts = SealOptions {
        scope: Some(scope),
        ..SealOptions::default()
    };
    seal(input, &key.public_key(), &opts).unwrap()
}

pub fn render(ss: &SealedSecret, format: Format) -> String {
    codec::render_sealed_secret(ss, format).unwrap()
}

/// Every document of a file that is a SealedSecret.
pub fn read_sealed(path: &Path) -> Vec<SealedSecret> {
    parse_documents(&std::fs::read(path).unwrap())
        .unwrap()
        .into_iter()
        .filter(|d| d["kind"] == "SealedSecret")
        .map(|d| serde_json::from_value(d).unwrap())
        .collect()
}

/// The lines of `text` that do not mention any of `items` as a key.
pub fn other_lines(text: &str, items: &[&str]) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let t = l.trim_start().trim_start_matches('"');
            !items
                .iter()
                .any(|i| t.starts_with(&format!("{i}:")) || t.starts_with(&format!("{i}\":")))
        })
        .map(str::to_string)
        .collect()
}
