//! Command-line flags, compatible with upstream kubeseal. Every flag can also be set through
//! `SEALED_SECRETS_<FLAG_IN_UPPER_SNAKE_CASE>`; a flag on the command line wins. Boolean flags
//! are Go-style (`--flag`, `--flag=true|false`: `sealed_secrets_core::flags::go_bool`).

use clap::{ArgAction, Parser, Subcommand};
use sealed_secrets_core::flags::go_bool;

#[derive(Debug, Parser)]
#[command(
    name = "kubeseal",
    version,
    about = "Seal Kubernetes Secrets so that only the Sealed Secrets controller can decrypt them",
    long_about = None,
    disable_version_flag = true,
    args_override_self = true,
    mut_args = go_bool
)]
pub struct Cli {
    /// Certificate / public key file/URL to use for encryption. Overrides --controller-*
    #[arg(
        long,
        env = "SEALED_SECRETS_CERT",
        value_name = "FILE|URL",
        global = true
    )]
    pub cert: Option<String>,

    /// Namespace of sealed-secrets controller.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "kube-system",
        global = true
    )]
    pub controller_namespace: String,

    /// Name of sealed-secrets controller.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAME",
        default_value = "sealed-secrets-controller",
        global = true
    )]
    pub controller_name: String,

    /// Output format for sealed secret. Either json or yaml [default: json]
    #[arg(short = 'o', long = "format", env = "SEALED_SECRETS_FORMAT")]
    pub format: Option<String>,

    /// Sealed-secret (output) file
    #[arg(short = 'w', long, env = "SEALED_SECRETS_SEALED_SECRET_FILE")]
    pub sealed_secret_file: Option<String>,

    /// Secret (input) file. With --re-encrypt it can be repeated: every file is re-encrypted
    /// in place.
    #[arg(short = 'f', long = "secret-file", env = "SEALED_SECRETS_SECRET_FILE", action = ArgAction::Append)]
    pub secret_files: Vec<String>,

    /// (only with --re-encrypt) Re-encrypt every sealed file (*.yaml, *.yml, *.json) under
    /// this directory, in place. Can be repeated.
    #[arg(short = 'R', long = "recursive", value_name = "DIR", action = ArgAction::Append)]
    pub recursive: Vec<String>,

    /// Write certificate to stdout. Useful for later use with --cert
    #[arg(long, env = "SEALED_SECRETS_FETCH_CERT")]
    pub fetch_cert: bool,

    /// Allow empty data in the secret object
    #[arg(long, env = "SEALED_SECRETS_ALLOW_EMPTY_DATA")]
    pub allow_empty_data: bool,

    /// Validate that the sealed secret can be decrypted
    #[arg(long, env = "SEALED_SECRETS_VALIDATE")]
    pub validate: bool,

    /// Merge items from secret into an existing sealed secret file, updating the file in-place
    /// instead of writing to stdout.
    #[arg(long, env = "SEALED_SECRETS_MERGE_INTO")]
    pub merge_into: Option<String>,

    /// Encrypt a raw value passed via the --from-* flags instead of the whole secret object
    #[arg(long, env = "SEALED_SECRETS_RAW")]
    pub raw: bool,

    /// Name of the sealed secret (required with --raw and default (strict) scope)
    #[arg(long, env = "SEALED_SECRETS_NAME")]
    pub name: Option<String>,

    /// (only with --raw) Secret items can be sourced from files. Pro-tip: you can use
    /// /dev/stdin to read pipe input. This flag tries to follow the same syntax as in kubectl
    #[arg(long, env = "SEALED_SECRETS_FROM_FILE", value_delimiter = ',', action = ArgAction::Append)]
    pub from_file: Vec<String>,

    /// Set the scope of the sealed secret: strict, namespace-wide, cluster-wide (defaults to
    /// strict). Mandatory for --raw, otherwise the 'sealedsecrets.bitnami.com/cluster-wide' and
    /// 'sealedsecrets.bitnami.com/namespace-wide' annotations on the input secret can be used to
    /// select the scope.
    #[arg(long, env = "SEALED_SECRETS_SCOPE")]
    pub scope: Option<String>,

    /// Re-encrypt the given sealed secret to use the latest cluster key. Offline with
    /// --recovery-private-key and --cert.
    #[arg(
        long = "re-encrypt",
        visible_alias = "rotate",
        env = "SEALED_SECRETS_RE_ENCRYPT"
    )]
    pub re_encrypt: bool,

    /// Decrypt a sealed secrets file obtained from stdin, using the private key passed with
    /// --recovery-private-key. Intended to be used in disaster recovery mode.
    #[arg(long, env = "SEALED_SECRETS_RECOVERY_UNSEAL")]
    pub recovery_unseal: bool,

    /// Private key filename used by the --recovery-unseal command. Multiple files accepted
    /// either via comma separated list or by repetition of the flag. Either PEM encoded private
    /// keys or a backup of a json/yaml encoded k8s sealed-secret controller secret (and v1.List)
    /// are accepted.
    #[arg(long, env = "SEALED_SECRETS_RECOVERY_PRIVATE_KEY", value_delimiter = ',', action = ArgAction::Append, global = true)]
    pub recovery_private_key: Vec<String>,

    /// Report, for each key the controller has loaded, which SealedSecrets still need it (from
    /// their status, listed with your own permissions; all namespaces unless -n is given) and
    /// whether it is safe to retire. With --key, exits non-zero unless every named key is safe.
    #[arg(long, env = "SEALED_SECRETS_KEY_USAGE")]
    pub key_usage: bool,

    /// With --key-usage: the fingerprint of a key to check (repeatable, or comma separated).
    #[arg(long = "key", env = "SEALED_SECRETS_KEY", value_delimiter = ',', action = ArgAction::Append,
          value_name = "FINGERPRINT")]
    pub key: Vec<String>,

    /// When sealing: record the sealing key's fingerprint in the annotation
    /// `sealedsecrets.bitnami.com/key-hint`, so the controller tries that key first.
    #[arg(long, env = "SEALED_SECRETS_KEY_HINT")]
    pub key_hint: bool,

    /// Path to a kube config. Only required if out-of-cluster
    #[arg(long, env = "SEALED_SECRETS_KUBECONFIG", global = true)]
    pub kubeconfig: Option<String>,

    #[command(flatten)]
    pub kube: KubeFlags,

    /// Print version information and exit
    #[arg(long, env = "SEALED_SECRETS_VERSION")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The input file of the single-file modes: the last `-f` (a repeated flag overrides, as
    /// with upstream's pflag).
    pub fn secret_file(&self) -> Option<&String> {
        self.secret_files.last()
    }
}

/// The usual kubectl connection flags.
#[derive(Debug, clap::Args, Default, Clone)]
pub struct KubeFlags {
    /// If present, the namespace scope for this CLI request
    #[arg(short = 'n', long, env = "SEALED_SECRETS_NAMESPACE", global = true)]
    pub namespace: Option<String>,
    /// The name of the kubeconfig context to use
    #[arg(long, env = "SEALED_SECRETS_CONTEXT", global = true)]
    pub context: Option<String>,
    /// The name of the kubeconfig cluster to use
    #[arg(long, env = "SEALED_SECRETS_CLUSTER", global = true)]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use
    #[arg(long, env = "SEALED_SECRETS_USER", global = true)]
    pub user: Option<String>,
    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, env = "SEALED_SECRETS_SERVER", global = true)]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server
    #[arg(
        long,
        env = "SEALED_SECRETS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Username to impersonate for the operation
    #[arg(long = "as", env = "SEALED_SECRETS_AS", global = true)]
    pub as_user: Option<String>,
    /// Group to impersonate for the operation, this flag can be repeated
    #[arg(long = "as-group", env = "SEALED_SECRETS_AS_GROUP", global = true, action = ArgAction::Append)]
    pub as_group: Vec<String>,
    /// Path to a cert file for the certificate authority
    #[arg(long, env = "SEALED_SECRETS_CERTIFICATE_AUTHORITY", global = true)]
    pub certificate_authority: Option<String>,
    /// Path to a client certificate file for TLS
    #[arg(long, env = "SEALED_SECRETS_CLIENT_CERTIFICATE", global = true)]
    pub client_certificate: Option<String>,
    /// Path to a client key file for TLS
    #[arg(long, env = "SEALED_SECRETS_CLIENT_KEY", global = true)]
    pub client_key: Option<String>,
    /// If true, the server's certificate will not be checked for validity
    #[arg(long, env = "SEALED_SECRETS_INSECURE_SKIP_TLS_VERIFY", global = true)]
    pub insecure_skip_tls_verify: bool,
    /// Server name to use for server certificate validation
    #[arg(long, env = "SEALED_SECRETS_TLS_SERVER_NAME", global = true)]
    pub tls_server_name: Option<String>,
    /// The length of time to wait before giving up on a single server request (e.g. 1s, 2m, 3h;
    /// 0 means no timeout)
    #[arg(
        long,
        env = "SEALED_SECRETS_REQUEST_TIMEOUT",
        global = true,
        default_value = "0"
    )]
    pub request_timeout: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Change items of an existing sealed file in place; other items keep their ciphertext
    Set(SetArgs),
    /// Edit the decrypted items of a sealed file in $EDITOR and seal back what changed
    Edit(EditArgs),
}

/// `kubeseal set FILE [KEY=VALUE]… [--from-file KEY=PATH]… [--unset KEY]…`
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The sealed file (YAML or JSON, one or several documents), changed in place
    pub file: String,
    /// Items to set. `KEY=-` reads the value from stdin (avoids secrets in shell history)
    #[arg(value_name = "KEY=VALUE")]
    pub items: Vec<String>,
    /// Set KEY to the content of the file PATH (a bare PATH uses the file name as KEY)
    #[arg(long = "from-file", value_name = "KEY=PATH", action = ArgAction::Append)]
    pub from_file: Vec<String>,
    /// Remove an item
    #[arg(long = "unset", value_name = "KEY", action = ArgAction::Append)]
    pub unset: Vec<String>,
    /// The SealedSecret to change when the file holds several (by metadata.name)
    #[arg(long = "name")]
    pub name: Option<String>,
}

/// `kubeseal edit FILE`
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// The sealed file (YAML or JSON, one or several documents), changed in place
    pub file: String,
    /// The SealedSecret to edit when the file holds several (by metadata.name)
    #[arg(long = "name")]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_take_global_flags_after_the_word() {
        let c = Cli::try_parse_from([
            "kubeseal",
            "set",
            "f.yaml",
            "a=-",
            "--from-file",
            "b=p",
            "--unset",
            "c",
            "--cert",
            "c.pem",
            "-n",
            "ns",
        ])
        .unwrap();
        assert_eq!(c.cert.as_deref(), Some("c.pem"));
        assert_eq!(c.kube.namespace.as_deref(), Some("ns"));
        let Some(Command::Set(s)) = c.command else {
            panic!("not set")
        };
        assert_eq!(
            (s.file.as_str(), s.items.as_slice()),
            ("f.yaml", &["a=-".to_string()][..])
        );
        assert_eq!(
            (s.from_file, s.unset),
            (vec!["b=p".to_string()], vec!["c".to_string()])
        );
        let c = Cli::try_parse_from(["kubeseal", "--re-encrypt", "-f", "a", "-f", "b", "-R", "d"])
            .unwrap();
        assert_eq!(c.secret_files, ["a", "b"]);
        assert_eq!(c.recursive, ["d"]);
    }

    #[test]
    fn pflag_style_booleans_and_lists() {
        let c = Cli::try_parse_from([
            "kubeseal",
            "--raw=false",
            "--allow-empty-data",
            "--from-file=a,b",
            "--from-file",
            "c",
            "--recovery-private-key=k1,k2",
        ])
        .unwrap();
        assert!(!c.raw);
        assert!(c.allow_empty_data);
        assert_eq!(c.from_file, ["a", "b", "c"]);
        assert_eq!(c.recovery_private_key, ["k1", "k2"]);
        let c = Cli::try_parse_from(["kubeseal", "--rotate"]).unwrap();
        assert!(c.re_encrypt);
    }
}
