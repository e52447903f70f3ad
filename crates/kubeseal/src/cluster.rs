//! Talking to the controller through the API server's service proxy, with kubectl-style
//! connection settings.

use anyhow::{Context, Result, anyhow};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use k8s_openapi::api::core::v1::Service;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use sealed_secrets_core::duration::parse_go_duration_std;

use crate::cli::KubeFlags;

/// Where the connection settings come from.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub kubeconfig: Option<String>,
    pub flags: KubeFlags,
}

impl Connection {
    fn options(&self) -> KubeConfigOptions {
        KubeConfigOptions {
            context: self.flags.context.clone(),
            cluster: self.flags.cluster.clone(),
            user: self.flags.user.clone(),
        }
    }

    fn read_kubeconfig(&self) -> Result<Option<Kubeconfig>> {
        if let Some(path) = self.kubeconfig.as_deref().filter(|p| !p.is_empty()) {
            return Kubeconfig::read_from(path)
                .map(Some)
                .with_context(|| format!("cannot read kubeconfig {path:?}"));
        }
        if let Ok(Some(k)) = Kubeconfig::from_env() {
            return Ok(Some(k));
        }
        Ok(Kubeconfig::read().ok())
    }

    /// The namespace for sealing, and whether it was given explicitly with `-n`
    /// (like client-go's `ClientConfig.Namespace()`): `-n`, else the kubeconfig context's
    /// namespace, else `default`. Reading the kubeconfig never contacts the cluster.
    pub fn namespace(&self) -> (String, bool) {
        if let Some(ns) = self.flags.namespace.as_ref().filter(|n| !n.is_empty()) {
            return (ns.clone(), true);
        }
        let from_config = self.read_kubeconfig().ok().flatten().and_then(|k| {
            let ctx_name = self
                .flags
                .context
                .clone()
                .or_else(|| k.current_context.clone())?;
            k.contexts
                .iter()
                .find(|c| c.name == ctx_name)
                .and_then(|c| c.context.as_ref())
                .and_then(|c| c.namespace.clone())
        });
        (
            from_config
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".to_string()),
            false,
        )
    }

    /// A client for the cluster.
    pub async fn client(&self) -> Result<Client> {
        let mut config = match self.read_kubeconfig()? {
            Some(k) => Config::from_custom_kubeconfig(k, &self.options())
                .await
                .context("invalid kubeconfig")?,
            None => match &self.flags.server {
                Some(server) => Config::new(server.parse().context("invalid --server")?),
                None => Config::incluster().map_err(|e| {
                    anyhow!(
                        "no kubeconfig found (set --kubeconfig or KUBECONFIG) and not running in a cluster: {e}"
                    )
                })?,
            },
        };
        let f = &self.flags;
        if let Some(server) = &f.server {
            config.cluster_url = server.parse().context("invalid --server")?;
        }
        if let Some(token) = &f.token {
            config.auth_info.token = None;
            config.auth_info.token_file = None;
            config.headers.push((
                AUTHORIZATION,
                format!("Bearer {token}")
                    .parse()
                    .context("invalid --token")?,
            ));
        }
        if let Some(u) = &f.as_user {
            config.auth_info.impersonate = Some(u.clone());
        }
        if !f.as_group.is_empty() {
            config.auth_info.impersonate_groups = Some(f.as_group.clone());
        }
        if let Some(ca) = &f.certificate_authority {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {ca:?}"))?;
            let ders: Vec<Vec<u8>> = sealed_secrets_core::pem::blocks(&pem)?
                .into_iter()
                .filter(|b| b.label == "CERTIFICATE")
                .map(|b| b.der.to_vec())
                .collect();
            config.root_cert = Some(ders);
        }
        if let Some(c) = &f.client_certificate {
            config.auth_info.client_certificate = Some(c.clone());
            config.auth_info.client_certificate_data = None;
        }
        if let Some(k) = &f.client_key {
            config.auth_info.client_key = Some(k.clone());
            config.auth_info.client_key_data = None;
        }
        if f.insecure_skip_tls_verify {
            config.accept_invalid_certs = true;
        }
        if let Some(n) = &f.tls_server_name {
            config.tls_server_name = Some(n.clone());
        }
        if let Some(t) = parse_timeout(&f.request_timeout)? {
            config.read_timeout = Some(t);
        }
        Client::try_from(config).context("cannot build Kubernetes client")
    }
}

/// kubectl's `--request-timeout`: `0` (no timeout), a bare number of seconds, or a Go
/// duration like `1m30s` (`sealed_secrets_core::duration`).
fn parse_timeout(s: &str) -> Result<Option<std::time::Duration>> {
    let s = s.trim();
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Some(std::time::Duration::from_secs(secs)));
    }
    parse_go_duration_std(s)
        .map(Some)
        .map_err(|_| anyhow!("invalid --request-timeout {s:?}"))
}

/// Where the controller is: the connection settings and its Service
/// (`--controller-namespace`, `--controller-name`).
#[derive(Debug, Clone, Default)]
pub struct ControllerRef {
    pub conn: Connection,
    pub namespace: String,
    pub name: String,
}

impl ControllerRef {
    pub async fn connect(&self) -> Result<Controller> {
        Controller::connect(&self.conn, &self.namespace, &self.name).await
    }
}

/// The single-threaded runtime the online modes block on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start async runtime")
}

/// The controller's HTTP API through the service proxy.
pub struct Controller {
    client: Client,
    namespace: String,
    name: String,
    port: String,
}

impl Controller {
    /// Finds the Service and the name of its first port (upstream's behaviour).
    pub async fn connect(conn: &Connection, namespace: &str, name: &str) -> Result<Self> {
        let client = conn.client().await?;
        let services: Api<Service> = Api::namespaced(client.clone(), namespace);
        let svc = services.get(name).await.map_err(|e| {
            anyhow!(
                "cannot get sealed secret service: {e}.\nPlease, use the flag --controller-name and --controller-namespace to set up the name and namespace of the sealed secrets controller"
            )
        })?;
        let port = svc
            .spec
            .and_then(|s| s.ports)
            .and_then(|p| p.into_iter().next())
            .map(|p| p.name.unwrap_or_default())
            .ok_or_else(|| anyhow!("sealed secret service {namespace}/{name} has no ports"))?;
        Ok(Self {
            client,
            namespace: namespace.to_string(),
            name: name.to_string(),
            port,
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/http:{}:{}/proxy{}",
            self.namespace, self.name, self.port, path
        )
    }

    /// `GET /v1/cert.pem`.
    pub async fn cert(&self) -> Result<Vec<u8>> {
        let req = http::Request::get(self.url("/v1/cert.pem"))
            .header(ACCEPT, "application/x-pem-file, */*")
            .body(Vec::new())?;
        self.client
            .request_text(req)
            .await
            .map(String::into_bytes)
            .map_err(|e| anyhow!("cannot fetch certificate: {e}"))
    }

    /// `GET /v1/keys`: the keys the controller has loaded (public facts only).
    pub async fn keys(&self) -> Result<Vec<sealed_secrets_core::keyusage::ActiveKey>> {
        let req = http::Request::get(self.url("/v1/keys"))
            .header(ACCEPT, "application/json")
            .body(Vec::new())?;
        let text = self
            .client
            .request_text(req)
            .await
            .map_err(|e| anyhow!("cannot fetch the controller's keys: {e}"))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow!("the controller's /v1/keys answer is not understood: {e}"))
    }

    /// POSTs a SealedSecret; returns `Ok(Some(body))` on 2xx, `Ok(None)` on 409.
    async fn post(&self, path: &str, body: Vec<u8>) -> Result<Option<String>> {
        let req = http::Request::post(self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body)?;
        match self.client.request_text(req).await {
            Ok(text) => Ok(Some(text)),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v1/verify`: true if the controller can unseal it.
    pub async fn verify(&self, body: Vec<u8>) -> Result<bool> {
        Ok(self.post("/v1/verify", body).await?.is_some())
    }

    /// `POST /v1/rotate`: the SealedSecret re-encrypted with the newest key, or `None`.
    pub async fn rotate(&self, body: Vec<u8>) -> Result<Option<String>> {
        self.post("/v1/rotate", body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("0").unwrap(), None);
        assert_eq!(parse_timeout("5").unwrap().unwrap().as_secs(), 5);
        assert_eq!(parse_timeout("1m30s").unwrap().unwrap().as_secs(), 90);
        assert_eq!(parse_timeout("250ms").unwrap().unwrap().as_millis(), 250);
        assert!(parse_timeout("5x").is_err());
        assert_eq!(parse_timeout("1.5s").unwrap().unwrap().as_millis(), 1500);
        assert_eq!(parse_timeout("10us").unwrap().unwrap().as_micros(), 10);
        assert!(parse_timeout("-1s").is_err());
        assert!(parse_timeout("1h30").is_err());
    }
}
