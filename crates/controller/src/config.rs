//! Controller flags, with upstream's names and defaults. Every flag can also be set through
//! `SEALED_SECRETS_<FLAG_IN_UPPER_SNAKE_CASE>`; the command line wins. Boolean flags are Go-style
//! (`--flag`, `--flag=true|false`: `sealed_secrets_core::flags::go_bool`).

use std::time::Duration;

use clap::Parser;
use sealed_secrets_core::duration::{DurationError, parse_go_duration_std};
use sealed_secrets_core::flags::go_bool;

/// Which key is "newest".
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum KeyOrderPriority {
    /// The certificate's NotBefore (upstream default).
    #[default]
    #[value(name = "CertNotBefore")]
    CertNotBefore,
    /// The key Secret's creationTimestamp.
    #[value(name = "SecretCreationTimestamp")]
    SecretCreationTimestamp,
}

/// Key sizes generated (and decrypted) by aws-lc-rs, in constant time.
pub const CONSTANT_TIME_KEY_SIZES: [usize; 4] = [2048, 3072, 4096, 8192];

/// The per-object template budget: what the templates of one SealedSecret may use together.
#[derive(Debug, Clone, clap::Args)]
pub struct TemplateBudgetFlags {
    /// Evaluation steps that all `template.data` entries of one SealedSecret may use together
    /// (bcrypt, hashes and big lists are charged by their cost).
    #[arg(long, env = "SEALED_SECRETS_TEMPLATE_MAX_STEPS", default_value_t = gotemplate::DEFAULT_STEPS)]
    template_max_steps: u64,
    /// Bytes of values the templates of one SealedSecret may build together (charged before
    /// allocating, never refunded).
    #[arg(long, env = "SEALED_SECRETS_TEMPLATE_MAX_ALLOC_BYTES", default_value_t = gotemplate::DEFAULT_ALLOC_BYTES)]
    template_max_alloc_bytes: u64,
    /// Bytes of output the templates of one SealedSecret may render together.
    #[arg(long, env = "SEALED_SECRETS_TEMPLATE_MAX_OUTPUT_BYTES", default_value_t = gotemplate::DEFAULT_OUTPUT_BYTES)]
    template_max_output_bytes: u64,
    /// Deepest nesting of a value (lists, dicts) a template may build.
    #[arg(long, env = "SEALED_SECRETS_TEMPLATE_MAX_DEPTH", default_value_t = gotemplate::DEFAULT_VALUE_DEPTH)]
    template_max_depth: usize,
    /// Wall time the templates of one SealedSecret may take together (Go duration).
    #[arg(long, env = "SEALED_SECRETS_TEMPLATE_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    template_timeout: Duration,
}

impl TemplateBudgetFlags {
    /// The budget these flags describe.
    pub fn limits(&self) -> gotemplate::Limits {
        gotemplate::Limits {
            steps: self.template_max_steps,
            alloc_bytes: self.template_max_alloc_bytes,
            output_bytes: self.template_max_output_bytes,
            value_depth: self.template_max_depth,
            time: self.template_timeout,
        }
    }
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "sealed-secrets-controller",
    version,
    about = "Unseals SealedSecrets into Secrets",
    disable_version_flag = true,
    args_override_self = true,
    mut_args = go_bool
)]
pub struct Flags {
    /// Prefix used to name keys (generateName of key Secrets; also the legacy key's name).
    #[arg(
        long,
        env = "SEALED_SECRETS_KEY_PREFIX",
        default_value = "sealed-secrets-key"
    )]
    pub key_prefix: String,

    /// Size of encryption key.
    #[arg(long, env = "SEALED_SECRETS_KEY_SIZE", default_value_t = 4096)]
    pub key_size: usize,

    /// Load (and generate) keys that aws-lc-rs cannot use (below 2048 or above 8192 bits, or
    /// unusual sizes). Their decryption then falls back to the `rsa` crate, which is not
    /// constant-time: a timing side channel for anyone who can submit ciphertexts.
    #[arg(long, env = "SEALED_SECRETS_ALLOW_NON_CONSTANT_TIME_KEYS")]
    pub allow_non_constant_time_keys: bool,

    /// Duration that certificate is valid for.
    #[arg(long, env = "SEALED_SECRETS_KEY_TTL", default_value = "87600h", value_parser = parse_duration)]
    pub key_ttl: Duration,

    /// Common name to be used for the certificate.
    #[arg(long, env = "SEALED_SECRETS_MY_CN", default_value = "")]
    pub my_cn: String,

    /// New key generation period (automatic rotation disabled if 0).
    #[arg(long, visible_alias = "rotate-period", env = "SEALED_SECRETS_KEY_RENEW_PERIOD",
          default_value = "720h", value_parser = parse_duration)]
    pub key_renew_period: Duration,

    /// Ordering of keys: CertNotBefore or SecretCreationTimestamp.
    #[arg(
        long,
        env = "SEALED_SECRETS_KEY_ORDER_PRIORITY",
        value_enum,
        default_value = "CertNotBefore"
    )]
    pub key_order_priority: KeyOrderPriority,

    /// Create a new key if the latest one is older than this cutoff time (RFC1123Z, `date -R`).
    #[arg(long, env = "SEALED_SECRETS_KEY_CUTOFF_TIME", default_value = "")]
    pub key_cutoff_time: String,

    /// Minimum key: keys older than this time (RFC1123Z, `date -R`; by the
    /// `--key-order-priority` time) are not used to unseal; SealedSecrets that need one get
    /// Synced=False and must be re-encrypted. Empty: no minimum.
    #[arg(long, env = "SEALED_SECRETS_KEY_MIN_TIME", default_value = "")]
    pub key_min_time: String,

    /// With `--key-min-time`: keep unsealing with older keys, but report (Warning Event
    /// `KeyBelowMinimum`, log line) every SealedSecret that enforcing would fail.
    #[arg(long, env = "SEALED_SECRETS_KEY_MIN_TIME_WARN_ONLY")]
    pub key_min_time_warn_only: bool,

    /// Accept deprecated v1 data field.
    #[arg(
        long,
        env = "SEALED_SECRETS_ACCEPT_DEPRECATED_V1_DATA",
        default_value = "true"
    )]
    pub accept_deprecated_v1_data: bool,

    /// The per-object template budget (`--template-*`).
    #[command(flatten)]
    pub template: TemplateBudgetFlags,

    /// Scan all namespaces or only the current namespace.
    #[arg(long, env = "SEALED_SECRETS_ALL_NAMESPACES", default_value = "true")]
    pub all_namespaces: bool,

    /// Comma-separated list of additional namespaces to be scanned.
    #[arg(long, env = "SEALED_SECRETS_ADDITIONAL_NAMESPACES", default_value = "")]
    pub additional_namespaces: String,

    /// Label selector which can be used to filter sealed secrets.
    #[arg(long, env = "SEALED_SECRETS_LABEL_SELECTOR", default_value = "")]
    pub label_selector: String,

    /// Number of allowed sustained request per second for verify and rotate endpoints, per client.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT", default_value_t = 2)]
    pub rate_limit: u32,

    /// Number of requests allowed to exceed the rate limit per second, per client.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT_BURST", default_value_t = 2)]
    pub rate_limit_burst: u32,

    /// Comma-separated k=v annotations added to new key Secrets.
    #[arg(
        long,
        env = "SEALED_SECRETS_PRIVATEKEY_ANNOTATIONS",
        default_value = ""
    )]
    pub privatekey_annotations: String,

    /// Comma-separated k=v labels added to new key Secrets.
    #[arg(long, env = "SEALED_SECRETS_PRIVATEKEY_LABELS", default_value = "")]
    pub privatekey_labels: String,

    /// Delete the Secret when its SealedSecret is deleted, instead of relying on garbage
    /// collection through the ownerReference.
    #[arg(long, env = "SEALED_SECRETS_OLD_GC_BEHAVIOR")]
    pub old_gc_behavior: bool,

    /// Write the status of SealedSecrets.
    #[arg(long, env = "SEALED_SECRETS_UPDATE_STATUS", default_value = "true")]
    pub update_status: bool,

    /// Watch key Secrets for additions, updates and deletions. Always on here; the flag is
    /// accepted for compatibility.
    #[arg(long, env = "SEALED_SECRETS_WATCH_FOR_SECRETS", default_value = "true")]
    pub watch_for_secrets: bool,

    /// Do not watch Secrets (no recreation of deleted Secrets, no drift repair).
    #[arg(long, env = "SEALED_SECRETS_SKIP_RECREATE")]
    pub skip_recreate: bool,

    /// Max number of retries of a failing SealedSecret before waiting for a change.
    #[arg(long, env = "SEALED_SECRETS_MAX_UNSEAL_RETRIES", default_value_t = 5)]
    pub max_unseal_retries: u32,

    /// Client QPS towards the API server (negative or 0: no client-side limit).
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_QPS", default_value_t = -1.0, allow_negative_numbers = true)]
    pub kubeclient_qps: f64,

    /// Client burst towards the API server.
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_BURST", default_value_t = 10)]
    pub kubeclient_burst: u32,

    /// Elect a leader on a Lease: only the leader reconciles and manages keys; every replica
    /// serves the HTTP API.
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT", default_value = "true")]
    pub leader_elect: bool,

    /// How long a Lease holds without renewal before another replica may take it.
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub leader_elect_lease_duration: Duration,

    /// The leader stops writing if it could not renew for this long (less than the lease
    /// duration).
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub leader_elect_renew_deadline: Duration,

    /// Time between attempts to acquire or renew the Lease.
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub leader_elect_retry_period: Duration,

    /// Name of the Lease (in the controller's namespace).
    #[arg(
        long,
        env = "SEALED_SECRETS_LEADER_ELECT_LEASE_NAME",
        default_value = "sealed-secrets-controller"
    )]
    pub leader_elect_lease_name: String,

    /// Number of SealedSecrets reconciled concurrently.
    #[arg(long, env = "SEALED_SECRETS_WORKERS", default_value_t = 32)]
    pub workers: u16,

    /// Send INFO logs to stdout (WARN and ERROR go to stderr).
    #[arg(long, env = "SEALED_SECRETS_LOG_INFO_STDOUT", default_value = "true")]
    pub log_info_stdout: bool,

    /// Log level: DEBUG, INFO, WARN, ERROR.
    #[arg(long, env = "SEALED_SECRETS_LOG_LEVEL", default_value = "INFO")]
    pub log_level: String,

    /// Log format: text or json.
    #[arg(long, env = "SEALED_SECRETS_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// HTTP listen address.
    #[arg(long, env = "SEALED_SECRETS_LISTEN_ADDR", default_value = ":8080")]
    pub listen_addr: String,

    /// Metrics listen address.
    #[arg(
        long,
        env = "SEALED_SECRETS_LISTEN_METRICS_ADDR",
        default_value = ":8081"
    )]
    pub listen_metrics_addr: String,

    /// Validating admission webhook listen address (HTTPS); empty disables the webhook.
    #[arg(
        long,
        env = "SEALED_SECRETS_WEBHOOK_LISTEN_ADDR",
        default_value = ":9443"
    )]
    pub webhook_listen_addr: String,

    /// The ValidatingWebhookConfiguration whose `caBundle` the controller keeps up to date.
    #[arg(
        long,
        env = "SEALED_SECRETS_WEBHOOK_CONFIGURATION_NAME",
        default_value = "sealed-secrets-controller"
    )]
    pub webhook_configuration_name: String,

    /// The Secret (in the controller's namespace) holding the webhook's CA and serving
    /// certificate.
    #[arg(
        long,
        env = "SEALED_SECRETS_WEBHOOK_TLS_SECRET",
        default_value = "sealed-secrets-webhook-tls"
    )]
    pub webhook_tls_secret: String,

    /// The Service through which the API server reaches the webhook (DNS names of the
    /// serving certificate).
    #[arg(
        long,
        env = "SEALED_SECRETS_WEBHOOK_SERVICE_NAME",
        default_value = "sealed-secrets-controller"
    )]
    pub webhook_service_name: String,

    /// Admission checks per second allowed per requesting user; over it, objects are admitted
    /// unchecked (with a warning). 0 disables the limit.
    #[arg(long, env = "SEALED_SECRETS_WEBHOOK_RATE_LIMIT", default_value_t = 20)]
    pub webhook_rate_limit: u32,

    /// Burst of admission checks per requesting user.
    #[arg(
        long,
        env = "SEALED_SECRETS_WEBHOOK_RATE_LIMIT_BURST",
        default_value_t = 100
    )]
    pub webhook_rate_limit_burst: u32,

    /// HTTP read timeout.
    #[arg(long, env = "SEALED_SECRETS_READ_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub read_timeout: Duration,

    /// HTTP write timeout.
    #[arg(long, env = "SEALED_SECRETS_WRITE_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub write_timeout: Duration,

    /// Path to a kubeconfig (out of cluster). Defaults to KUBECONFIG, ~/.kube/config, then
    /// the in-cluster configuration.
    #[arg(long, env = "SEALED_SECRETS_KUBECONFIG")]
    pub kubeconfig: Option<String>,

    /// Namespace of the controller (keys live here). Defaults to POD_NAMESPACE, the service
    /// account's namespace, then `default`.
    #[arg(long, env = "SEALED_SECRETS_NAMESPACE")]
    pub namespace: Option<String>,

    /// Print version information and exit.
    #[arg(long, env = "SEALED_SECRETS_VERSION")]
    pub version: bool,

    /// A request header must arrive complete within this time after the server starts waiting
    /// for it (also how long an idle keep-alive connection is kept). 0 disables.
    #[arg(long, env = "SEALED_SECRETS_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// Connections served at once, per server (API and metrics each). Further connections
    /// wait in the listen queue until one closes.
    #[arg(long, env = "SEALED_SECRETS_MAX_CONNECTIONS", default_value_t = 512,
          value_parser = parse_max_connections)]
    pub max_connections: usize,

    /// verify/rotate requests doing decryption work at once (0: the number of CPUs).
    #[arg(long, env = "SEALED_SECRETS_MAX_INFLIGHT", default_value_t = 0)]
    pub max_inflight: usize,

    /// How long a verify/rotate request waits for a free slot before it is answered 503.
    #[arg(long, env = "SEALED_SECRETS_INFLIGHT_WAIT", default_value = "5s", value_parser = parse_duration)]
    pub inflight_wait: Duration,
}

/// Go-style durations (`720h`, `1h30m`, `90s`, `250ms`, `0`), read by
/// `sealed_secrets_core::duration`; empty means zero, negative is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    parse_go_duration_std(s).map_err(|e| match e {
        DurationError::MissingUnit(_) => format!("invalid duration {s:?}: missing unit"),
        DurationError::UnknownUnit { unit, .. } => {
            format!("invalid duration {s:?}: unknown unit {unit:?}")
        }
        DurationError::Invalid(_) | DurationError::Negative(_) => {
            format!("invalid duration {s:?}")
        }
    })
}

/// `--max-connections`: 1 to 1048576.
fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1_048_576).contains(&n) => Ok(n),
        _ => Err(format!("invalid --max-connections {s:?}: 1 to 1048576")),
    }
}

/// Parses `k=v,k2=v2`.
pub fn parse_kv_list(s: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("invalid key=value pair {part:?}"))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Turns Go-style `:8080` into `0.0.0.0:8080`.
pub fn socket_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    full.parse()
        .map_err(|_| format!("invalid listen address {s:?}"))
}

impl Flags {
    /// Namespaces to watch: `None` = all namespaces.
    pub fn watched_namespaces(&self, own: &str) -> Option<Vec<String>> {
        let extra: Vec<String> = self
            .additional_namespaces
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if self.all_namespaces && extra.is_empty() {
            return None;
        }
        let mut v = vec![own.to_string()];
        for n in extra {
            if !v.contains(&n) {
                v.push(n);
            }
        }
        Some(v)
    }

    /// `--key-prefix` must be a valid generateName prefix.
    pub fn validate(&self) -> Result<(), String> {
        if self.key_prefix.is_empty()
            || self.key_prefix.len() > 245
            || !self
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "invalid --key-prefix {:?}: only [a-z0-9-], at most 245 characters",
                self.key_prefix
            ));
        }
        if self.key_size < sealed_secrets_core::keys::MIN_KEY_BITS {
            return Err(format!(
                "invalid --key-size {}: keys below {} bits are refused",
                self.key_size,
                sealed_secrets_core::keys::MIN_KEY_BITS
            ));
        }
        if !CONSTANT_TIME_KEY_SIZES.contains(&self.key_size) && !self.allow_non_constant_time_keys {
            return Err(format!(
                "invalid --key-size {}: only {CONSTANT_TIME_KEY_SIZES:?} bits are decrypted in \
                 constant time; pass --allow-non-constant-time-keys to use it anyway",
                self.key_size
            ));
        }
        parse_kv_list(&self.privatekey_annotations)?;
        parse_kv_list(&self.privatekey_labels)?;
        socket_addr(&self.listen_addr)?;
        socket_addr(&self.listen_metrics_addr)?;
        if !self.webhook_listen_addr.is_empty() {
            socket_addr(&self.webhook_listen_addr)?;
        }
        if self.leader_elect {
            let (d, r, p) = (
                self.leader_elect_lease_duration,
                self.leader_elect_renew_deadline,
                self.leader_elect_retry_period,
            );
            if p.is_zero() || r <= p || d <= r {
                return Err(format!(
                    "invalid leader election timing: need lease duration ({d:?}) > renew deadline ({r:?}) > retry period ({p:?}) > 0"
                ));
            }
            if self.leader_elect_lease_name.is_empty() {
                return Err("--leader-elect-lease-name must not be empty".into());
            }
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            return Err(format!(
                "invalid --log-format {:?}: text or json",
                self.log_format
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
