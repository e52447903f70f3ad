//! Fixtures shared by the `set`, `edit` and multi-file `--re-encrypt` tests: the committed
//! test key, sealed files built in the test, and a sandboxed `kubeseal` command.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::keys::self_signed_certificate;
use sealed_secrets_core::{
    Backend, InputSecret, PrivateKey, Scope, SealOptions, SealedSecret, UnsealOptions, seal, unseal,
};
use serde_json::json;

pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/vectors")
}

pub fn cert_path() -> PathBuf {
    vectors().join("test-cert.pem")
}

pub fn key_path() -> PathBuf {
    vectors().join("test-key.pem")
}

/// The committed test key (its certificate is `test-cert.pem`): the "current" key.
pub fn test_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::from_pem(&std::fs::read(key_path()).unwrap(), Backend::AwsLc).unwrap()
    })
}

/// An "old" key, generated once per test process.
pub fn old_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(2048, Backend::AwsLc).unwrap())
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
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

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// PEM of the old key, for `--recovery-private-key`.
    pub fn old_key_file(&self) -> PathBuf {
        self.write("old-key.pem", old_key().to_pkcs1_pem().unwrap().as_bytes())
    }

    /// The certificate of the old key.
    pub fn old_cert_file(&self) -> PathBuf {
        let cert = self_signed_certificate(
            old_key(),
            None,
            Duration::from_secs(86_400),
            SystemTime::now(),
        )
        .unwrap();
        self.write("old-cert.pem", cert.to_pem())
    }

    /// `kubeseal` with an empty environment and no reachable cluster.
    pub fn kubeseal(&self) -> Command {
        let mut c = Command::cargo_bin("kubeseal").unwrap();
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", self.path("no-kubeconfig"))
            .env("TMPDIR", self.tmpdir())
            .current_dir(self.dir.path());
        c
    }

    /// The TMPDIR kubeseal runs with (to check that nothing is left in it).
    pub fn tmpdir(&self) -> PathBuf {
        let p = self.path("tmp");
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

/// A SealedSecret with `items` sealed for `key` under `scope`.
pub fn sealed(
    name: &str,
    ns: &str,
    scope: Scope,
    items: &[(&str, &str)],
    key: &PrivateKey,
) -> SealedSecret {
    let data: serde_json::Map<String, serde_json::Value> = items
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
    codec::parse_documents(&std::fs::read(path).unwrap())
        .unwrap()
        .into_iter()
        .filter(|d| d["kind"] == "SealedSecret")
        .map(|d| serde_json::from_value(d).unwrap())
        .collect()
}

/// The plaintext items of `ss`, decrypted with `key` only.
pub fn open(ss: &SealedSecret, key: &PrivateKey) -> std::collections::BTreeMap<String, String> {
    let u = unseal(ss, std::slice::from_ref(key), UnsealOptions::default()).unwrap();
    u.secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
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
