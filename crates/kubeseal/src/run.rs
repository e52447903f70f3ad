//! Decides the mode from the flags, once, and wires input, certificate and output around it.
//! The order of the decision is upstream's: recovery-unseal, validate, re-encrypt, (open the
//! certificate), fetch-cert, merge-into, raw, seal. The modes are in `modes/`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use sealed_secrets_core::Scope;
use sealed_secrets_core::codec::Format;
use zeroize::Zeroizing;

use crate::cert::{CertSource, parse_cert};
use crate::cli::{Cli, Command, EditArgs, SetArgs};
use crate::cluster::{Connection, ControllerRef};
use crate::input::Input;
use crate::modes::{
    edit, key_usage, merge_into, raw, recovery, reencrypt, reencrypt_many, seal, set, validate,
};
use crate::output::{Sensitivity, write_atomically};

/// What kubeseal was asked to do.
#[derive(Debug)]
pub enum Mode {
    Version,
    Completion(clap_complete::Shell),
    Set(SetArgs),
    Edit {
        args: EditArgs,
        /// `--recovery-private-key` files: the current items offline.
        recovery_keys: Vec<String>,
    },
    /// `--re-encrypt` of several files (`-f` repeated, or `-R`), in place.
    ReEncryptFiles(reencrypt_many::Options),
    /// The modes whose result goes to stdout or to `-w`.
    Output(OutputMode),
}

#[derive(Debug)]
pub enum OutputMode {
    KeyUsage(key_usage::Options),
    RecoveryUnseal(recovery::Options),
    Validate,
    ReEncrypt(reencrypt::Options),
    FetchCert,
    /// The modes that seal with the certificate.
    Sealing(SealMode),
}

#[derive(Debug)]
pub enum SealMode {
    MergeInto(merge_into::Options),
    Raw(raw::Options),
    Seal(seal::Options),
}

/// The flags, parsed once: the mode, and what the modes share.
#[derive(Debug)]
pub struct Invocation {
    pub mode: Mode,
    /// `--cert`, else the controller; the controller's connection also gives the namespace.
    pub source: CertSource,
    /// `-f` (the last one); stdin when `None`.
    pub input_file: Option<String>,
    /// `-w`; with `--re-encrypt` of one file and no `-w`, that file.
    pub output_file: Option<String>,
    /// Print the hint that stdin is expected when it is a terminal.
    pub stdin_hint: bool,
    /// `--recovery-private-key` was given to a mode that does not use it.
    pub unused_recovery_keys: bool,
}

impl Invocation {
    /// Checks the flags (in upstream's order, so the same error wins) and picks the mode.
    pub fn from_cli(cli: Cli) -> Result<Self> {
        let source = CertSource {
            cert: cli.cert.clone(),
            controller: ControllerRef {
                conn: Connection {
                    kubeconfig: cli.kubeconfig.clone(),
                    flags: cli.kube.clone(),
                },
                namespace: cli.controller_namespace.clone(),
                name: cli.controller_name.clone(),
            },
        };
        let input_file = cli.secret_file().cloned();
        let mut inv = Invocation {
            mode: Mode::Version,
            source,
            input_file,
            output_file: cli.sealed_secret_file.clone(),
            stdin_hint: false,
            unused_recovery_keys: false,
        };
        if cli.version {
            return Ok(inv);
        }
        match cli.command {
            Some(Command::Completion { shell }) => {
                inv.mode = Mode::Completion(shell);
                return Ok(inv);
            }
            Some(Command::Set(args)) => {
                inv.mode = Mode::Set(args);
                return Ok(inv);
            }
            Some(Command::Edit(args)) => {
                inv.mode = Mode::Edit {
                    args,
                    recovery_keys: cli.recovery_private_key,
                };
                return Ok(inv);
            }
            None => {}
        }
        if !cli.recursive.is_empty() && !cli.re_encrypt {
            bail!("-R/--recursive requires --re-encrypt");
        }
        if cli.re_encrypt && (!cli.recursive.is_empty() || cli.secret_files.len() > 1) {
            inv.mode = Mode::ReEncryptFiles(reencrypt_many::Options {
                files: cli.secret_files,
                dirs: cli.recursive,
                recovery_keys: cli.recovery_private_key,
            });
            return Ok(inv);
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
        inv.stdin_hint = inv.input_file.is_none()
            && !cli.raw
            && !cli.fetch_cert
            && !cli.key_usage
            && cli.merge_into.is_none();
        if cli.re_encrypt && inv.output_file.is_none() && inv.input_file.is_some() {
            inv.output_file = inv.input_file.clone();
        }
        let explicit_format = match cli.format.as_deref() {
            None => None,
            Some(f) => Some(f.parse::<Format>().map_err(|e| anyhow!(e))?),
        };
        let mut format = explicit_format.unwrap_or_default();
        if let Some(out) = &inv.output_file
            && matches!(
                Path::new(out).extension().and_then(|e| e.to_str()),
                Some("yaml") | Some("yml")
            )
        {
            format = Format::Yaml;
        }

        if cli.key_usage {
            inv.mode = Mode::Output(OutputMode::KeyUsage(key_usage::Options {
                keys: cli.key,
                format: explicit_format,
            }));
            return Ok(inv);
        }
        if !cli.key.is_empty() {
            bail!("--key requires --key-usage");
        }
        let recovery_keys = cli.recovery_private_key;
        if cli.recovery_unseal {
            inv.mode = Mode::Output(OutputMode::RecoveryUnseal(recovery::Options {
                keys: recovery_keys,
                format,
            }));
            return Ok(inv);
        }
        let offline_reencrypt = cli.re_encrypt && !recovery_keys.is_empty();
        inv.unused_recovery_keys = !recovery_keys.is_empty() && !offline_reencrypt;
        let mode = if cli.validate {
            OutputMode::Validate
        } else if cli.re_encrypt {
            OutputMode::ReEncrypt(reencrypt::Options {
                recovery_keys,
                format,
            })
        } else if cli.fetch_cert {
            OutputMode::FetchCert
        } else if let Some(target) = cli.merge_into {
            OutputMode::Sealing(SealMode::MergeInto(merge_into::Options {
                target,
                scope,
                allow_empty_data: cli.allow_empty_data,
                format: explicit_format,
            }))
        } else if cli.raw {
            OutputMode::Sealing(SealMode::Raw(raw::Options {
                scope,
                name: cli.name,
                from_file: cli.from_file,
            }))
        } else {
            OutputMode::Sealing(SealMode::Seal(seal::Options {
                scope,
                allow_empty_data: cli.allow_empty_data,
                name: cli.name,
                key_hint: cli.key_hint,
                format,
            }))
        };
        inv.mode = Mode::Output(mode);
        Ok(inv)
    }
}

/// Runs the CLI. Output goes to `stdout`, or atomically to `-w`'s file on success only.
pub fn run(cli: Cli) -> Result<()> {
    let inv = Invocation::from_cli(cli)?;
    let source = &inv.source;
    let mode = match inv.mode {
        Mode::Version => {
            println!("kubeseal version: {}", sealed_secrets_core::build_version());
            return Ok(());
        }
        Mode::Completion(shell) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kubeseal", &mut std::io::stdout());
            return Ok(());
        }
        Mode::Set(args) => return set::run(&args, source),
        Mode::Edit {
            args,
            recovery_keys,
        } => return edit::run(&args, source, &recovery_keys),
        Mode::ReEncryptFiles(opts) => return reencrypt_many::run(&opts, source),
        Mode::Output(mode) => mode,
    };
    if inv.stdin_hint && std::io::stdin().is_terminal() {
        eprintln!("(tty detected: expecting json/yaml k8s resource in stdin)");
    }
    if inv.unused_recovery_keys && std::io::stderr().is_terminal() {
        eprintln!(
            "warning: ignoring --recovery-private-key because unseal command not chosen with --recovery-unseal"
        );
    }
    let mut input = Input::new(inv.input_file.clone());
    // Holds plaintext with --recovery-unseal: wiped on drop.
    let mut out = Zeroizing::new(Vec::<u8>::new());
    run_output_mode(&mode, source, &mut input, &mut out)?;
    // Recovered plaintext is written owner-only; sealed output follows the umask.
    let sensitive = match mode {
        OutputMode::RecoveryUnseal(_) => Sensitivity::Plaintext,
        _ => Sensitivity::Sealed,
    };
    match &inv.output_file {
        Some(path) => write_atomically(path, &out, sensitive),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out)?;
            stdout.flush()?;
            Ok(())
        }
    }
}

fn run_output_mode(
    mode: &OutputMode,
    source: &CertSource,
    input: &mut Input,
    out: &mut Vec<u8>,
) -> Result<()> {
    match mode {
        OutputMode::KeyUsage(opts) => key_usage::run(opts, &source.controller, out),
        OutputMode::RecoveryUnseal(opts) => recovery::run(opts, input, out),
        OutputMode::Validate => validate::run(&source.controller, input),
        OutputMode::ReEncrypt(opts) => reencrypt::run(opts, source, input, out),
        OutputMode::FetchCert => {
            out.extend_from_slice(&source.open()?);
            Ok(())
        }
        OutputMode::Sealing(mode) => {
            let cert = parse_cert(&source.open()?)?;
            let key = cert.public_key();
            let conn = &source.controller.conn;
            match mode {
                SealMode::MergeInto(opts) => merge_into::run(opts, key, conn, input),
                SealMode::Raw(opts) => raw::run(opts, key, conn, out),
                SealMode::Seal(opts) => seal::run(opts, key, conn, input, out),
            }
        }
    }
}
