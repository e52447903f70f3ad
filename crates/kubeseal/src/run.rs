//! Mode dispatch, in upstream's order: recovery-unseal, validate, re-encrypt, (open the
//! certificate), fetch-cert, merge-into, raw, seal.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::keyfile::{dedup, private_keys_from_bytes};
use sealed_secrets_core::{
    Backend, Certificate, InputSecret, PrivateKey, Scope, SealOptions, SealedSecret, UnsealOptions,
    reencrypt, seal, seal_raw, unseal,
};
use zeroize::Zeroizing;

use crate::cli::Cli;
use crate::cluster::{Connection, Controller};

/// Runs the CLI. Output goes to `stdout`, or atomically to `-w`'s file on success only.
pub fn run(mut cli: Cli) -> Result<()> {
    if cli.version {
        println!("kubeseal version: {}", sealed_secrets_core::build_version());
        return Ok(());
    }
    match &cli.command {
        Some(crate::cli::Command::Completion { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "kubeseal", &mut std::io::stdout());
            return Ok(());
        }
        Some(crate::cli::Command::Set(args)) => return crate::set::run(&cli, args),
        Some(crate::cli::Command::Edit(args)) => return crate::edit::run(&cli, args),
        None => {}
    }
    if !cli.recursive.is_empty() && !cli.re_encrypt {
        bail!("-R/--recursive requires --re-encrypt");
    }
    if cli.re_encrypt && (!cli.recursive.is_empty() || cli.secret_files.len() > 1) {
        return crate::reencrypt_many::run(&cli);
    }
    if !cli.from_file.is_empty() && !cli.raw {
        bail!("--from-file requires --raw");
    }
    let scope = match cli.scope.as_deref() {
        None => None,
        Some(s) => Some(
            s.parse::<Scope>()
                .map_err(|e| anyhow!("invalid argument {s:?} for \"--scope\" flag: {e}"))?,
        ),
    };

    let mut input = Input::new(cli.secret_file().cloned());
    if cli.secret_file().is_none()
        && !cli.raw
        && !cli.fetch_cert
        && !cli.key_usage
        && cli.merge_into.is_none()
        && std::io::stdin().is_terminal()
    {
        eprintln!("(tty detected: expecting json/yaml k8s resource in stdin)");
    }

    if cli.re_encrypt && cli.sealed_secret_file.is_none() && cli.secret_file().is_some() {
        cli.sealed_secret_file = cli.secret_file().cloned();
    }
    let explicit_format = match cli.format.as_deref() {
        None => None,
        Some(f) => Some(f.parse::<Format>().map_err(|e| anyhow!(e))?),
    };
    let mut format = explicit_format.unwrap_or_default();
    if let Some(out) = &cli.sealed_secret_file
        && matches!(
            Path::new(out).extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml")
        )
    {
        format = Format::Yaml;
    }

    let conn = Connection {
        kubeconfig: cli.kubeconfig.clone(),
        flags: cli.kube.clone(),
    };
    // Holds plaintext with --recovery-unseal: wiped on drop.
    let mut out = Zeroizing::new(Vec::<u8>::new());

    let result = dispatch(
        &cli,
        scope,
        format,
        explicit_format,
        &conn,
        &mut input,
        &mut out,
    );
    result?;
    // Recovered plaintext is written owner-only; sealed output follows the umask.
    let sensitive = if cli.recovery_unseal {
        Sensitivity::Plaintext
    } else {
        Sensitivity::Sealed
    };
    match &cli.sealed_secret_file {
        Some(path) => write_atomically(path, &out, sensitive),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out)?;
            stdout.flush()?;
            Ok(())
        }
    }
}

fn dispatch(
    cli: &Cli,
    scope: Option<Scope>,
    format: Format,
    explicit_format: Option<Format>,
    conn: &Connection,
    input: &mut Input,
    out: &mut Vec<u8>,
) -> Result<()> {
    if cli.key_usage {
        return crate::key_usage::run(cli, conn, explicit_format, out);
    }
    if !cli.key.is_empty() {
        bail!("--key requires --key-usage");
    }
    if cli.recovery_unseal {
        return recovery_unseal(cli, format, input, out);
    }
    let offline_reencrypt = cli.re_encrypt && !cli.recovery_private_key.is_empty();
    if !cli.recovery_private_key.is_empty() && !offline_reencrypt && std::io::stderr().is_terminal()
    {
        eprintln!(
            "warning: ignoring --recovery-private-key because unseal command not chosen with --recovery-unseal"
        );
    }
    if cli.validate {
        return validate(cli, conn, input);
    }
    if cli.re_encrypt {
        return if offline_reencrypt {
            offline_re_encrypt(cli, format, input, out)
        } else {
            online_re_encrypt(cli, conn, format, input, out)
        };
    }

    let cert_bytes = open_cert(cli, conn)?;
    if cli.fetch_cert {
        out.extend_from_slice(&cert_bytes);
        return Ok(());
    }
    let cert = parse_cert(&cert_bytes)?;
    let key = cert.public_key();

    if let Some(target) = &cli.merge_into {
        return merge_into(cli, scope, explicit_format, conn, input, target, key);
    }

    if cli.raw {
        let scope = scope.unwrap_or_default();
        let mut ns = String::new();
        if scope < Scope::ClusterWide {
            ns = conn.namespace().0;
            if ns.is_empty() {
                bail!("must provide the --namespace flag with --raw and --scope {scope}");
            }
            if cli.name.as_deref().unwrap_or_default().is_empty() && scope < Scope::NamespaceWide {
                bail!("must provide the --name flag with --raw and --scope {scope}");
            }
        }
        let data = zeroize::Zeroizing::new(if let Some(spec) = cli.from_file.first() {
            if cli.from_file.len() > 1 {
                bail!("must provide only one --from-file when encrypting a single item with --raw");
            }
            let path = spec.split_once('=').map_or(spec.as_str(), |(_, p)| p);
            std::fs::read(path).with_context(|| format!("cannot read --from-file {path:?}"))?
        } else {
            if std::io::stdin().is_terminal() {
                eprintln!("(tty detected: expecting a secret to encrypt in stdin)");
            }
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            buf
        });
        let sealed = seal_raw(
            key,
            scope,
            &ns,
            cli.name.as_deref().unwrap_or_default(),
            &data,
        )?;
        out.extend_from_slice(sealed.as_bytes());
        return Ok(());
    }

    let docs = codec::parse_documents(input.bytes()?)?;
    if docs.is_empty() {
        bail!("no secrets found. Ensure the input is valid and UTF-8 encoded");
    }
    let (namespace, explicit) = conn.namespace();
    let opts = SealOptions {
        scope,
        allow_empty_data: cli.allow_empty_data,
        name: cli.name.clone(),
        force_namespace: None,
        default_namespace: Some(namespace),
        namespace_explicit: explicit,
    };
    for doc in docs {
        let secret = InputSecret::from_value(doc)?;
        let mut sealed = seal(secret, key, &opts)?;
        if cli.key_hint {
            sealed.metadata.annotations.get_or_insert_default().insert(
                sealed_secrets_core::annotations::KEY_HINT.to_string(),
                key.fingerprint().to_string(),
            );
        }
        out.extend_from_slice(codec::render_sealed_secret(&sealed, format)?.as_bytes());
    }
    Ok(())
}

/// Lazily read input (`-f` or stdin).
struct Input {
    file: Option<String>,
    /// The input may be a plain Secret: wiped on drop.
    data: Option<Zeroizing<Vec<u8>>>,
}

impl Input {
    fn new(file: Option<String>) -> Self {
        Self { file, data: None }
    }

    fn bytes(&mut self) -> Result<&[u8]> {
        if self.data.is_none() {
            let data = match &self.file {
                Some(f) => std::fs::read(f).map_err(|e| {
                    anyhow!("could not read file specified with --secret-file ({f}): {e}")
                })?,
                None => {
                    let mut buf = Vec::new();
                    std::io::stdin().read_to_end(&mut buf)?;
                    buf
                }
            };
            self.data = Some(Zeroizing::new(data));
        }
        Ok(self.data.as_deref().map(Vec::as_slice).unwrap_or_default())
    }

    fn sealed_secrets(&mut self) -> Result<Vec<SealedSecret>> {
        let docs = codec::parse_documents(self.bytes()?)?;
        docs.into_iter()
            .enumerate()
            .map(|(i, d)| sealed_secret_from_value(d, &format!("document {}", i + 1)))
            .collect()
    }
}

/// Reads a SealedSecret, refusing objects of another kind (like upstream's typed decoder) so
/// that a plain Secret or anything else is reported as such. A missing `kind` is accepted.
pub(crate) fn sealed_secret_from_value(doc: serde_json::Value, what: &str) -> Result<SealedSecret> {
    match doc.get("kind") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(k)) if k == "SealedSecret" => {}
        Some(serde_json::Value::String(k)) => bail!("{what} is not a SealedSecret (kind {k:?})"),
        Some(_) => bail!("{what} is not a SealedSecret (kind is not a string)"),
    }
    serde_json::from_value::<SealedSecret>(doc)
        .map_err(|e| anyhow!("{what} is not a valid SealedSecret: {e}"))
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
pub(crate) fn read_cert_source(src: &str) -> Result<Vec<u8>> {
    if is_url(src) {
        fetch_url(src)
    } else {
        std::fs::read(src).with_context(|| format!("cannot read certificate {src:?}"))
    }
}

pub(crate) fn open_cert(cli: &Cli, conn: &Connection) -> Result<Vec<u8>> {
    match cli.cert.as_deref().filter(|c| !c.is_empty()) {
        Some(src) => read_cert_source(src),
        None => runtime()?.block_on(async {
            let ctl =
                Controller::connect(conn, &cli.controller_namespace, &cli.controller_name).await?;
            ctl.cert().await
        }),
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

pub(crate) fn parse_cert(bytes: &[u8]) -> Result<Certificate> {
    let cert = Certificate::from_pem(bytes)?;
    cert.check_valid_for_sealing(SystemTime::now())?;
    Ok(cert)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start async runtime")
}

pub(crate) fn read_private_keys(files: &[String]) -> Result<Vec<PrivateKey>> {
    let mut keys = Vec::new();
    for f in files.iter().filter(|f| !f.is_empty()) {
        let data = zeroize::Zeroizing::new(
            std::fs::read(f).with_context(|| format!("cannot read private key file {f:?}"))?,
        );
        keys.extend(
            private_keys_from_bytes(&data, Backend::AwsLc)
                .with_context(|| format!("invalid private key file {f:?}"))?,
        );
    }
    dedup(&mut keys);
    Ok(keys)
}

fn recovery_unseal(cli: &Cli, format: Format, input: &mut Input, out: &mut Vec<u8>) -> Result<()> {
    if cli.recovery_private_key.is_empty() {
        bail!("--recovery-unseal requires --recovery-private-key");
    }
    let keys = read_private_keys(&cli.recovery_private_key)?;
    let docs = input.sealed_secrets()?;
    let [ss] = docs.as_slice() else {
        bail!(
            "--recovery-unseal expects exactly one SealedSecret, found {}",
            docs.len()
        );
    };
    let unsealed = unseal(ss, &keys, UnsealOptions::default())?;
    // k8s-openapi writes `apiVersion` and `kind` itself.
    let rendered = Zeroizing::new(codec::render(&unsealed.secret, format)?);
    // Reserve first so that no reallocation leaves an unwiped copy behind.
    out.reserve(rendered.len());
    out.extend_from_slice(rendered.as_bytes());
    Ok(())
}

fn validate(cli: &Cli, conn: &Connection, input: &mut Input) -> Result<()> {
    let docs = input.sealed_secrets()?;
    runtime()?.block_on(async {
        let ctl =
            Controller::connect(conn, &cli.controller_namespace, &cli.controller_name).await?;
        for ss in docs {
            let body = serde_json::to_vec(&ss)?;
            if !ctl
                .verify(body)
                .await
                .map_err(|e| anyhow!("cannot validate sealed secret: {e}"))?
            {
                bail!(
                    "unable to decrypt sealed secret: {}",
                    ss.metadata.name.as_deref().unwrap_or_default()
                );
            }
        }
        Ok(())
    })
}

pub(crate) fn clean_for_output(ss: &mut SealedSecret) {
    sealed_secrets_core::seal::strip_server_fields(&mut ss.metadata);
    ss.status = None;
}

fn online_re_encrypt(
    cli: &Cli,
    conn: &Connection,
    format: Format,
    input: &mut Input,
    out: &mut Vec<u8>,
) -> Result<()> {
    let docs = input.sealed_secrets()?;
    runtime()?.block_on(async {
        let ctl =
            Controller::connect(conn, &cli.controller_namespace, &cli.controller_name).await?;
        for ss in docs {
            let body = serde_json::to_vec(&ss)?;
            let Some(text) = ctl
                .rotate(body)
                .await
                .map_err(|e| anyhow!("cannot re-encrypt secret: {e}"))?
            else {
                bail!("unable to rotate secret");
            };
            let mut new: SealedSecret = serde_json::from_str(&text)
                .context("the controller returned an invalid SealedSecret")?;
            clean_for_output(&mut new);
            out.extend_from_slice(codec::render_sealed_secret(&new, format)?.as_bytes());
        }
        Ok(())
    })
}

fn offline_re_encrypt(
    cli: &Cli,
    format: Format,
    input: &mut Input,
    out: &mut Vec<u8>,
) -> Result<()> {
    let Some(cert_src) = cli.cert.as_deref().filter(|c| !c.is_empty()) else {
        bail!(
            "offline --re-encrypt (with --recovery-private-key) needs --cert: the certificate to re-encrypt for"
        );
    };
    let cert = parse_cert(&read_cert_source(cert_src)?)?;
    let keys = read_private_keys(&cli.recovery_private_key)?;
    for ss in input.sealed_secrets()? {
        let mut new = reencrypt(&ss, &keys, cert.public_key()).map_err(|e| {
            anyhow!(
                "cannot re-encrypt {}: {e}",
                ss.metadata.name.as_deref().unwrap_or("<unnamed>")
            )
        })?;
        clean_for_output(&mut new);
        out.extend_from_slice(codec::render_sealed_secret(&new, format)?.as_bytes());
    }
    Ok(())
}

fn merge_into(
    cli: &Cli,
    scope: Option<Scope>,
    explicit_format: Option<Format>,
    conn: &Connection,
    input: &mut Input,
    target: &str,
    key: &sealed_secrets_core::PublicKey,
) -> Result<()> {
    let original_bytes = std::fs::read(target)
        .with_context(|| format!("cannot read --merge-into file {target:?}"))?;
    let mut original = sealed_secret_from_value(
        codec::parse_single(&original_bytes)
            .with_context(|| format!("cannot read --merge-into file {target:?}"))?,
        &format!("{target:?}"),
    )?;
    let original_scope = Scope::from_annotations(original.metadata.annotations.as_ref());
    if let Some(s) = scope.filter(|s| *s != original_scope) {
        bail!(
            "scope mismatch: {target:?} is sealed with scope {original_scope}, but --scope {s} was given"
        );
    }
    let (namespace, explicit) = conn.namespace();
    let opts = SealOptions {
        scope: Some(original_scope),
        allow_empty_data: cli.allow_empty_data,
        name: original.metadata.name.clone(),
        force_namespace: original.metadata.namespace.clone(),
        default_namespace: Some(namespace),
        namespace_explicit: explicit,
    };
    let docs = codec::parse_documents(input.bytes()?)?;
    if docs.is_empty() {
        bail!("no secrets found. Ensure the input is valid and UTF-8 encoded");
    }
    for doc in docs {
        let secret = InputSecret::from_value(doc)?;
        // The input's own scope annotations win over a strict (or no) --scope and would
        // produce items that cannot be decrypted under the original's scope.
        let declared = Scope::from_annotations(secret.metadata.annotations.as_ref());
        if scope.filter(|s| *s != Scope::Strict).is_none()
            && declared != Scope::Strict
            && declared != original_scope
        {
            bail!(
                "scope mismatch: {target:?} is sealed with scope {original_scope}, but the input secret is annotated with scope {declared}"
            );
        }
        let update = seal(secret, key, &opts)?;
        sealed_secrets_core::seal::merge_into(&mut original, update);
    }
    // Keep the file's own format unless -o says otherwise (upstream always wrote JSON).
    let format = explicit_format.unwrap_or_else(|| {
        match original_bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Json,
            _ => Format::Yaml,
        }
    });
    let rendered = codec::render_sealed_secret(&original, format)?;
    write_atomically(target, rendered.as_bytes(), Sensitivity::Sealed)
}

/// What a file written by kubeseal holds, which decides its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sensitivity {
    /// Sealed output: a new file follows the umask (0666 & !umask), an existing one keeps its
    /// mode.
    Sealed,
    /// Plaintext (`--recovery-unseal`): always 0600, whatever the umask or the old file's mode.
    Plaintext,
}

/// Writes `path` through a temporary file in the same directory and a rename, so readers
/// never see a partial file and a failed run leaves the old file untouched. The temporary
/// file is created with its final mode (never wider), so plaintext is never readable by
/// others, not even for a moment.
pub(crate) fn write_atomically(path: &str, data: &[u8], sensitivity: Sensitivity) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let target = Path::new(path);
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(target)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    // The open mode is filtered by the umask, as for any new file.
    let open_mode = match sensitivity {
        Sensitivity::Plaintext => 0o600,
        Sensitivity::Sealed => existing.unwrap_or(0o666),
    };
    let mut attempt = 0u32;
    let (tmp_path, mut file) = loop {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(".kubeseal-{}-{nanos:09}-{attempt}", std::process::id());
        let candidate = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(open_mode)
            .open(&candidate)
        {
            Ok(f) => break (candidate, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => {
                return Err(anyhow!(
                    "cannot create a temporary file next to {path:?}: {e}"
                ));
            }
        }
    };
    let result = (|| -> Result<()> {
        file.write_all(data)?;
        file.flush()?;
        // An existing sealed file keeps its exact mode (the umask may have narrowed it).
        if let (Sensitivity::Sealed, Some(mode)) = (sensitivity, existing) {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        drop(file);
        std::fs::rename(&tmp_path, target).map_err(|e| anyhow!("cannot write {path:?}: {e}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
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
