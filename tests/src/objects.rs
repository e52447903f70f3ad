//! SealedSecrets, Secrets, Events and metrics: creating them and waiting for what the
//! controller under test does to them.

use super::*;

/// Polls `f` until it returns `Some`, or panics naming `what` after `timeout`.
pub async fn wait_until<F, Fut, T>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Seals a Secret given as JSON (name, namespace, data or stringData) with `cert`.
pub fn seal_json(cert: &Certificate, secret: serde_json::Value) -> SealedSecret {
    let input = InputSecret::from_value(secret).unwrap();
    seal(input, cert.public_key(), &SealOptions::default()).unwrap()
}

/// Creates a SealedSecret in `ns`.
pub async fn create_ss(client: &Client, ns: &str, ss: &SealedSecret) -> SealedSecret {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    let mut ss = ss.clone();
    ss.metadata.namespace = Some(ns.to_string());
    api.create(&PostParams::default(), &ss).await.unwrap()
}

/// Waits until the SealedSecret has a `Synced` condition for its current generation, and a
/// controller under test reports the same condition in its metrics (a status written by any
/// other controller is not accepted).
pub async fn wait_synced(client: &Client, ns: &str, name: &str) -> SealedSecretCondition {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    wait_until(
        Duration::from_secs(60),
        &format!("{ns}/{name} Synced"),
        || {
            let api = api.clone();
            async move {
                let ss = api.get_opt(name).await.ok()??;
                let status = ss.status.as_ref()?;
                if status.observed_generation != ss.metadata.generation {
                    return None;
                }
                let cond = ss.synced_condition().cloned()?;
                ours_agree(ns, name, &cond.status).await.then_some(cond)
            }
        },
    )
    .await
}

/// Waits until the condition is `True`.
pub async fn wait_synced_true(client: &Client, ns: &str, name: &str) {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    wait_until(
        Duration::from_secs(60),
        &format!("{ns}/{name} Synced=True"),
        || {
            let api = api.clone();
            async move {
                let ss = api.get_opt(name).await.ok()??;
                let ok = ss.status.as_ref()?.observed_generation == ss.metadata.generation
                    && ss.synced_condition()?.status == "True"
                    && ours_agree(ns, name, "True").await;
                ok.then_some(())
            }
        },
    )
    .await
}

/// The Secret, if it exists.
pub async fn get_secret(client: &Client, ns: &str, name: &str) -> Option<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.get_opt(name).await.unwrap()
}

/// Waits until the Secret exists and `pred` holds; returns it.
pub async fn wait_secret<P>(client: &Client, ns: &str, name: &str, pred: P) -> Secret
where
    P: Fn(&Secret) -> bool,
{
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let pred = &pred;
    wait_until(
        Duration::from_secs(60),
        &format!("Secret {ns}/{name}"),
        || {
            let api = api.clone();
            async move {
                let s = api.get_opt(name).await.ok()??;
                pred(&s).then_some(s)
            }
        },
    )
    .await
}

/// The decoded value of one item of a Secret.
pub fn item(secret: &Secret, key: &str) -> Option<String> {
    secret
        .data
        .as_ref()?
        .get(key)
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
}

/// (reason, message) of the Events about an object reported by a controller under test
/// (reporting instance = the `POD_NAME` of a [`Controller`] this process started).
pub async fn events(client: &Client, ns: &str, name: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    api.list(&lp)
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|e| is_our_instance(e.reporting_instance.as_deref()))
                .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits for an Event with `reason` whose message contains `needle`.
pub async fn wait_event(
    client: &Client,
    ns: &str,
    name: &str,
    reason: &str,
    needle: &str,
) -> String {
    wait_until(
        Duration::from_secs(60),
        &format!("event {reason} containing {needle:?} on {ns}/{name}"),
        || async {
            events(client, ns, name)
                .await
                .into_iter()
                .find(|(r, m)| r == reason && m.contains(needle))
                .map(|(_, m)| m)
        },
    )
    .await
}

/// The kubeseal program.
pub fn kubeseal() -> Command {
    let mut c = Command::new(bin("e2e-kubeseal"));
    c.env_remove("KUBECONFIG");
    c
}

/// How many times a controller under test recorded an Event with `reason` about an object
/// (Events aggregated into a series count once per occurrence).
pub async fn event_count(client: &Client, ns: &str, name: &str, reason: &str) -> i32 {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    api.list(&lp)
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|e| is_our_instance(e.reporting_instance.as_deref()))
                .filter(|e| e.reason.as_deref() == Some(reason))
                .map(|e| {
                    e.series
                        .as_ref()
                        .map(|s| s.count.unwrap_or(1))
                        .or(e.count)
                        .unwrap_or(1)
                        .max(1)
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The active key Secrets in `ns` (label `sealedsecrets.bitnami.com/sealed-secrets-key=active`).
pub async fn key_secrets(client: &Client, ns: &str) -> Vec<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels("sealedsecrets.bitnami.com/sealed-secrets-key=active");
    api.list(&lp).await.unwrap().items
}

/// A fresh 2048-bit key and its self-signed certificate (like the controller's).
pub fn new_key_pair() -> (sealed_secrets_core::PrivateKey, Certificate) {
    let key = sealed_secrets_core::PrivateKey::generate(2048, sealed_secrets_core::Backend::AwsLc)
        .unwrap();
    let cert = sealed_secrets_core::keys::self_signed_certificate(
        &key,
        None,
        Duration::from_secs(3600),
        std::time::SystemTime::now(),
    )
    .unwrap();
    (key, cert)
}

/// A Bitnami-shaped key Secret (`kubernetes.io/tls`, PEM `tls.crt` and `tls.key`, labelled
/// `active`), with `tls.key` as PKCS#1 or PKCS#8.
pub fn key_secret(
    name: &str,
    key: &sealed_secrets_core::PrivateKey,
    cert: &Certificate,
    pkcs8: bool,
) -> Secret {
    use base64::Engine as _;
    let pem = if pkcs8 {
        key.to_pkcs8_pem().unwrap()
    } else {
        key.to_pkcs1_pem().unwrap()
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(cert.to_pem().as_bytes()), "tls.key": b64(pem.as_bytes())}
    }))
    .unwrap()
}

/// Creates a Secret in `ns`.
pub async fn create_secret(client: &Client, ns: &str, secret: &Secret) -> Secret {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), secret).await.unwrap()
}

/// A SealedSecret called `name` carrying `spec` (ciphertexts copied from another sealing) and
/// the given top-level annotations (the scope).
pub fn ss_with_spec(
    name: &str,
    spec: &sealed_secrets_core::SealedSecretSpec,
    annotations: &[(&str, &str)],
) -> SealedSecret {
    let mut ss = SealedSecret::new(name, spec.clone());
    if !annotations.is_empty() {
        ss.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }
    ss
}

/// Replaces the spec of an existing SealedSecret.
pub async fn replace_ss_spec(
    client: &Client,
    ns: &str,
    name: &str,
    spec: sealed_secrets_core::SealedSecretSpec,
) -> SealedSecret {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), ns);
    let mut current = api.get(name).await.unwrap();
    current.spec = spec;
    api.replace(name, &PostParams::default(), &current)
        .await
        .unwrap()
}

/// Waits for the `Synced` condition of the current generation to be `False`; returns its
/// message.
pub async fn wait_synced_false(client: &Client, ns: &str, name: &str) -> String {
    let cond = wait_synced(client, ns, name).await;
    assert_eq!(
        cond.status, "False",
        "{ns}/{name} expected Synced=False, got {cond:?}"
    );
    cond.message.unwrap_or_default()
}

/// The value of the first sample line starting with `prefix`.
pub fn metric_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits until the sample line starting with `prefix` has the value `want`.
pub async fn wait_metric_eq(ctl: &Controller, prefix: &str, want: f64) {
    wait_until(
        Duration::from_secs(30),
        &format!("metric {prefix} = {want}"),
        || async move {
            let v = metric_value(&ctl.metrics_text().await, prefix)?;
            (v == want).then_some(())
        },
    )
    .await;
}
