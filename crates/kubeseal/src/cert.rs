//! Where the sealing certificate comes from: `--cert` (a file, or an `http(s)://` or `file://`
//! URL) or the controller's `/v1/cert.pem` through the API server; and the checks a
//! certificate must pass before anything is sealed with it.

use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use sealed_secrets_core::Certificate;

use crate::cluster::{ControllerRef, runtime};

/// `--cert`, else the controller.
#[derive(Debug, Clone, Default)]
pub struct CertSource {
    pub cert: Option<String>,
    pub controller: ControllerRef,
}

impl CertSource {
    /// The `--cert` flag unless it is empty.
    fn flag(&self) -> Option<&str> {
        self.cert.as_deref().filter(|c| !c.is_empty())
    }

    /// The certificate's bytes, unparsed (`--fetch-cert` prints them as they are).
    pub fn open(&self) -> Result<Vec<u8>> {
        match self.flag() {
            Some(src) => read_cert_source(src),
            None => runtime()?.block_on(async { self.controller.connect().await?.cert().await }),
        }
    }

    /// The certificate to re-encrypt for offline: `--cert` only, never the controller.
    pub fn offline(&self) -> Result<Certificate> {
        let Some(src) = self.flag() else {
            bail!(
                "offline --re-encrypt (with --recovery-private-key) needs --cert: the certificate to re-encrypt for"
            );
        };
        parse_cert(&read_cert_source(src)?)
    }
}

fn is_url(s: &str) -> bool {
    match s.split_once("://") {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// `--cert`: a file path or an http(s)/file URL.
fn read_cert_source(src: &str) -> Result<Vec<u8>> {
    if is_url(src) {
        fetch_url(src)
    } else {
        std::fs::read(src).with_context(|| format!("cannot read certificate {src:?}"))
    }
}

/// The CAs an `https` certificate URL is checked against: the certificates in the file named
/// by `SSL_CERT_FILE` if it is set (as Go programs like upstream's kubeseal do), else the
/// Mozilla roots built in.
fn url_roots() -> Result<ureq::tls::RootCerts> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return Ok(ureq::tls::RootCerts::WebPki);
    };
    let pem =
        std::fs::read(&path).with_context(|| format!("cannot read SSL_CERT_FILE {path:?}"))?;
    let certs: Vec<ureq::tls::Certificate<'static>> = sealed_secrets_core::pem::blocks(&pem)
        .with_context(|| format!("SSL_CERT_FILE {path:?}"))?
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| ureq::tls::Certificate::from_der(&b.der).to_owned())
        .collect();
    if certs.is_empty() {
        bail!("SSL_CERT_FILE {path:?} holds no certificate");
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

fn fetch_url(url: &str) -> Result<Vec<u8>> {
    if let Some(rest) = url.strip_prefix("file://") {
        return std::fs::read(file_url_path(rest)?)
            .with_context(|| format!("cannot fetch {url:?}"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("cannot fetch {url:?}: unsupported URL scheme");
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(url_roots()?)
        .unversioned_rustls_crypto_provider(provider)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(ureq::Proxy::try_from_env())
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| anyhow!("cannot fetch {url:?}: {e}"))?;
    if resp.status() != 200 {
        bail!("cannot fetch {url:?}: {}", resp.status());
    }
    resp.body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| anyhow!("cannot fetch {url:?}: {e}"))
}

/// The local path of a `file://` URL (what follows the scheme): like Go's file transport,
/// the host part is ignored, the query and fragment are dropped and `%XX` escapes are
/// decoded.
fn file_url_path(rest: &str) -> Result<std::path::PathBuf> {
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if path.is_empty() {
        bail!("invalid file URL {:?}: no path", format!("file://{rest}"));
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(decoded) = hex else {
                bail!(
                    "invalid file URL {:?}: bad %-escape",
                    format!("file://{rest}")
                );
            };
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Ok(std::ffi::OsString::from_vec(out).into())
    }
    #[cfg(not(unix))]
    {
        Ok(String::from_utf8(out)
            .map_err(|_| anyhow!("invalid file URL: path is not UTF-8"))?
            .into())
    }
}

/// Parses a PEM certificate and checks that it may be sealed with now.
pub fn parse_cert(bytes: &[u8]) -> Result<Certificate> {
    let cert = Certificate::from_pem(bytes)?;
    cert.check_valid_for_sealing(SystemTime::now())?;
    Ok(cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls() {
        let p = |s: &str| file_url_path(s).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(p("/tmp/a.pem").unwrap(), "/tmp/a.pem");
        assert_eq!(p("localhost/tmp/a%20b.pem").unwrap(), "/tmp/a b.pem");
        assert_eq!(p("/tmp/c.pem?x=1#y").unwrap(), "/tmp/c.pem");
        assert!(p("").is_err());
        assert!(p("/tmp/%zz").is_err());
    }
}
