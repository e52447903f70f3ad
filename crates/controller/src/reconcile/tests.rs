use std::sync::Mutex;

use http::{Method, Request, Response};
use kube::Client;
use kube::client::Body;
use sealed_secrets_core::SealOptions;
use sealed_secrets_core::seal::InputSecret;
use serde_json::{Value, json};

use super::*;
use crate::events::Publisher;
use crate::keys::KeyRegistry;
use crate::metrics::Metrics;

fn context() -> Context {
    // No request is made: the lock is local.
    let (mock, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(mock, "default");
    Context::new(
        client.clone(),
        Arc::new(KeyRegistry::new(Default::default())),
        Arc::new(Metrics::new()),
        Arc::new(Publisher::new(client, "test", None)),
        UnsealOptions::default(),
        true,
        5,
    )
}

/// A second reconcile of the same object waits for the first; another object does not;
/// the entry is forgotten when nobody holds or waits for it.
#[tokio::test]
async fn one_reconcile_per_object() {
    let ctx = context();
    let a = ObjectRef::<SealedSecret>::new("a").within("ns");
    let b = ObjectRef::<SealedSecret>::new("b").within("ns");
    let first = ctx.lock(a.clone()).await;
    let other = tokio::time::timeout(Duration::from_millis(100), ctx.lock(b.clone())).await;
    assert!(other.is_ok(), "another object is not held up");
    drop(other);
    let blocked = tokio::time::timeout(Duration::from_millis(100), ctx.lock(a.clone())).await;
    assert!(
        blocked.is_err(),
        "the same object waits while the first runs"
    );
    drop(first);
    let second = tokio::time::timeout(Duration::from_millis(100), ctx.lock(a.clone())).await;
    assert!(second.is_ok(), "and runs once the first is done");
    drop(second);
    let running = ctx.running.lock().unwrap();
    assert!(
        running.is_empty(),
        "no entry is left behind: {:?}",
        running.keys()
    );
}

// The I/O decisions of a reconcile, against a scripted API server: which requests it makes,
// in which order, with which bodies, and what it returns.

const SECRETS: &str = "/api/v1/namespaces/ns/secrets";
const SECRET: &str = "/api/v1/namespaces/ns/secrets/s";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/ns/events";
const STATUS: &str = "/apis/bitnami.com/v1alpha1/namespaces/ns/sealedsecrets/s/status";
const SEALED: &str = "/apis/bitnami.com/v1alpha1/namespaces/ns/sealedsecrets/s";

/// One request the mock API server received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    body: Value,
}

/// What the mock API server has received so far.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// Method and path of every request, in order.
    /// The requests in order, "METHOD what" joined by ", " (`what`: the short name of a known
    /// path, else the path).
    fn calls(&self) -> String {
        let short = |path: &str| match path {
            SECRETS => "secrets".to_string(),
            SECRET => "secret".to_string(),
            EVENTS => "events".to_string(),
            STATUS => "status".to_string(),
            SEALED => "sealedsecret".to_string(),
            other => other.to_string(),
        };
        let calls: Vec<String> = self
            .all()
            .iter()
            .map(|s| format!("{} {}", s.method, short(&s.path)))
            .collect();
        calls.join(", ")
    }

    /// The body of the one request with this method and path.
    fn body(&self, method: Method, path: &str) -> Value {
        let found: Vec<Seen> = self
            .all()
            .into_iter()
            .filter(|s| s.method == method && s.path == path)
            .collect();
        assert_eq!(found.len(), 1, "one {method} {path}: {:?}", self.calls());
        found[0].body.clone()
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// A context with `key` loaded whose API server accepts Events and status writes of `ss` and
/// answers every other request with `reply` (given the method and path, and the body; it gives
/// the status code and JSON body, or `None`: an unexpected request, answered with an error),
/// and the log of what that API server received.
fn mocked(
    ss: &SealedSecret,
    key: KeyEntry,
    reply: impl Fn((&str, &str), &Value) -> Option<(u16, Value)> + Send + Sync + 'static,
) -> (Arc<Context>, Log) {
    let ss = ss.clone();
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            let request = Seen {
                method: parts.method,
                path: parts.uri.path().to_string(),
                body,
            };
            let (code, value) = common(&ss, &request)
                .or_else(|| reply((request.method.as_str(), &request.path), &request.body))
                .unwrap_or_else(|| api_error(500, "InternalError", "unexpected request"));
            seen.0.lock().unwrap().push(request);
            send.send_response(
                Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&value).unwrap()))
                    .unwrap(),
            );
        }
    });
    (context_with(Client::new(mock, "default"), key), log)
}

/// An API error as the API server sends it.
fn api_error(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "reason": reason, "message": message, "code": code}),
    )
}

/// `body` as the API server returns it after a write: with a resourceVersion.
fn echo(body: &Value, rv: &str) -> Value {
    let mut v = body.clone();
    v["metadata"]["resourceVersion"] = json!(rv);
    v
}

/// The answers every reconcile needs besides the Secret's: Events and the status are
/// accepted (the status write answers with `ss`).
fn common(ss: &SealedSecret, req: &Seen) -> Option<(u16, Value)> {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", EVENTS) => Some((201, echo(&req.body, "1"))),
        ("PATCH", p) if p.starts_with(EVENTS) => Some((200, json!({}))),
        ("PATCH", STATUS) => Some((200, serde_json::to_value(ss).unwrap())),
        _ => None,
    }
}

/// A key Secret as the key watch loads it.
fn key_secret() -> Secret {
    crate::keys::tests::key_secret("sealed-secrets-key", "1")
}

fn key() -> KeyEntry {
    crate::keys::parse_key_secret(&key_secret()).unwrap()
}

/// `ns/s` with one item `password: hunter2`, sealed for `key`, as the API server would
/// hand it over (uid, generation 1).
fn sealed(key: &KeyEntry) -> SealedSecret {
    let input = InputSecret::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "stringData": {"password": "hunter2"}
    }))
    .unwrap();
    let mut ss =
        sealed_secrets_core::seal(input, &key.key.public_key(), &SealOptions::default()).unwrap();
    ss.metadata.uid = Some("uid-1".into());
    ss.metadata.generation = Some(1);
    ss
}

/// A context with `key` loaded, writing status, at most 3 retries.
fn context_with(client: Client, key: KeyEntry) -> Arc<Context> {
    let keys = KeyRegistry::new(Default::default());
    keys.insert(key);
    Arc::new(Context::new(
        client.clone(),
        Arc::new(keys),
        Arc::new(Metrics::new()),
        Arc::new(Publisher::new(client, "test", None)),
        UnsealOptions::default(),
        true,
        3,
    ))
}

/// The existing Secret `ns/s` holding `password: old`, owned by `owner` if given.
fn existing_secret(owner: Option<&str>, immutable: bool) -> Value {
    let mut s = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns", "resourceVersion": "7"},
        "type": "Opaque",
        "data": {"password": "b2xk"}
    });
    if let Some(uid) = owner {
        s["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "name": "s", "uid": uid, "controller": true
        }]);
    }
    if immutable {
        s["immutable"] = json!(true);
    }
    s
}

/// Checks that a failure was reported as one: a Warning Event `ErrUpdateFailed`, and
/// `Synced=False` with `category` as its reason; returns the Event's note.
fn failure_reported(log: &Log, category: &str) -> String {
    let event = log.body(Method::POST, EVENTS);
    assert_eq!(
        (&event["type"], &event["reason"]),
        (&json!("Warning"), &json!("ErrUpdateFailed")),
        "{event}"
    );
    let status = log.body(Method::PATCH, STATUS);
    assert_eq!(
        synced_of(&status),
        ("False".to_string(), Some(category.to_string()))
    );
    event["note"].as_str().unwrap_or_default().to_string()
}

/// The `Synced` condition of a status write: (status, reason).
fn synced_of(status_patch: &Value) -> (String, Option<String>) {
    let c = &status_patch["status"]["conditions"][0];
    assert_eq!(c["type"], "Synced", "{status_patch}");
    (
        c["status"].as_str().unwrap().to_string(),
        c["reason"].as_str().map(str::to_string),
    )
}

/// Checks that the Secret was created with the unsealed item, and the status says `Synced`.
fn created_and_synced(log: &Log) {
    let created = log.body(Method::POST, SECRETS);
    assert_eq!(created["data"]["password"], "aHVudGVyMg==", "{created}");
    let status = log.body(Method::PATCH, STATUS);
    assert_eq!(synced_of(&status), ("True".to_string(), None));
}

/// Reconciles `ss` once, expecting success and no requeue, and checks the requests it made
/// (see [`Log::calls`]).
async fn reconciled(ss: &SealedSecret, ctx: &Arc<Context>, log: &Log, calls: &str) {
    let action = reconcile(Arc::new(ss.clone()), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    assert_eq!(log.calls(), calls);
}

/// Creating the Secret reports a conflict; the controller reads the Secret it did not know
/// about and, as it is its own, replaces it (keeping its resourceVersion) with the unsealed
/// data; then the Event and the status.
#[tokio::test]
async fn conflict_on_create_then_owned_secret_is_updated() {
    let key = key();
    let fingerprint = key.key.fingerprint().to_string();
    let ss = sealed(&key);
    let (ctx, log) = mocked(&ss, key, move |route, body| {
        Some(match route {
            ("POST", SECRETS) => api_error(409, "AlreadyExists", "secrets \"s\" already exists"),
            ("GET", SECRET) => (200, existing_secret(Some("uid-1"), false)),
            ("PUT", SECRET) => (200, echo(body, "8")),
            _ => return None,
        })
    });
    reconciled(
        &ss,
        &ctx,
        &log,
        "POST secrets, GET secret, PUT secret, POST events, PATCH status",
    )
    .await;
    created_and_synced(&log);
    let put = log.body(Method::PUT, SECRET);
    assert_eq!(put["metadata"]["resourceVersion"], "7", "{put}");
    assert_eq!(put["data"]["password"], "aHVudGVyMg==");
    assert_eq!(put["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert!(
        put["metadata"]["annotations"][syncmac::ANNOTATION].is_string(),
        "{put}"
    );
    let event = log.body(Method::POST, EVENTS);
    assert_eq!(
        (&event["type"], &event["reason"]),
        (&json!("Normal"), &json!("Unsealed"))
    );
    let status = log.body(Method::PATCH, STATUS);
    assert_eq!(status["status"]["observedGeneration"], 1);
    assert_eq!(
        status["status"]["keys"][0]["fingerprint"],
        json!(fingerprint)
    );
    let r = ObjectRef::from_obj(&ss);
    assert!(ctx.is_known_secret_version(&r, Some("8")));
}

/// The cache holds trimmed copies (no ciphertexts): the reconcile reads the object again
/// before decrypting, unseals what it read (here a newer generation than the cached copy) and
/// records that generation; the status write is the cached copy's.
#[tokio::test]
async fn a_trimmed_copy_is_read_again_before_decrypting() {
    let key = key();
    let ss = sealed(&key);
    let mut newer = ss.clone();
    newer.metadata.generation = Some(2);
    let mut cached = ss.clone();
    sealed_secrets_core::reconcile::trim_for_cache(&mut cached);
    assert!(cached.spec.encrypted_data.is_empty());
    let full = serde_json::to_value(&newer).unwrap();
    let (ctx, log) = mocked(&ss, key, move |route, body| {
        Some(match route {
            ("GET", SEALED) => (200, full.clone()),
            ("POST", SECRETS) => (201, echo(body, "8")),
            _ => return None,
        })
    });
    reconciled(
        &cached,
        &ctx,
        &log,
        "GET sealedsecret, POST secrets, POST events, PATCH status",
    )
    .await;
    created_and_synced(&log);
    let r = ObjectRef::from_obj(&cached);
    assert_eq!(
        ctx.synced().get(&r).map(|rec| rec.generation),
        Some(Some(2))
    );
}

/// Read again before decrypting, the object is gone (404) or is another object of the same
/// name (another uid): nothing is written, no Event, no status, no retry.
#[tokio::test]
async fn a_trimmed_copy_of_a_gone_object_writes_nothing() {
    let ss = sealed(&key());
    let mut cached = ss.clone();
    sealed_secrets_core::reconcile::trim_for_cache(&mut cached);
    let mut replaced = ss.clone();
    replaced.metadata.uid = Some("uid-2".into());
    let replaced = serde_json::to_value(&replaced).unwrap();
    for answer in [
        api_error(404, "NotFound", "sealedsecrets \"s\" not found"),
        (200, replaced),
    ] {
        let (ctx, log) = mocked(&ss, key(), move |route, _| {
            (route == ("GET", SEALED)).then(|| answer.clone())
        });
        reconciled(&cached, &ctx, &log, "GET sealedsecret").await;
        assert!(ctx.synced().is_empty());
    }
}

/// Creating the Secret reports a conflict and the existing Secret belongs to someone else:
/// nothing is written to it; the error is `unmanaged`, in the Event and the status; it is
/// retried with backoff.
#[tokio::test]
async fn conflict_on_create_then_unowned_secret_is_left_alone() {
    let key = key();
    let ss = sealed(&key);
    let (ctx, log) = mocked(&ss, key, move |route, _| {
        Some(match route {
            ("POST", SECRETS) => api_error(409, "AlreadyExists", "secrets \"s\" already exists"),
            ("GET", SECRET) => (200, existing_secret(None, false)),
            _ => return None,
        })
    });
    let ss = Arc::new(ss);
    let err = reconcile(ss.clone(), ctx.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Unmanaged(_)), "{err:?}");
    assert_eq!(
        log.calls(),
        "POST secrets, GET secret, POST events, PATCH status"
    );
    let note = failure_reported(&log, "unmanaged");
    assert!(
        note.contains("already exists and is not managed by SealedSecret"),
        "{note}"
    );
    assert_eq!(
        error_policy(ss, &err, ctx),
        Action::requeue(Duration::from_secs(1))
    );
}

/// A Secret already synced once (the status says so, so it is read first) that is immutable
/// and would get new data: the replace is refused by the API server; the error is
/// `immutable` with its explanation, and it is not retried until something changes.
#[tokio::test]
async fn immutable_secret_with_new_data_is_not_retried() {
    let key = key();
    let mut ss = sealed(&key);
    ss.status = Some(sealed_secrets_core::SealedSecretStatus {
        observed_generation: Some(1),
        conditions: Some(vec![sealed_secrets_core::SealedSecretCondition {
            type_: "Synced".into(),
            status: "True".into(),
            ..Default::default()
        }]),
        keys: None,
    });
    let (ctx, log) = mocked(&ss, key, move |route, _| {
        Some(match route {
            ("GET", SECRET) => (200, existing_secret(Some("uid-1"), true)),
            ("PUT", SECRET) => api_error(
                422,
                "Invalid",
                "Secret \"s\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
            ),
            _ => return None,
        })
    });
    let ss = Arc::new(ss);
    let err = reconcile(ss.clone(), ctx.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Immutable), "{err:?}");
    assert_eq!(
        log.calls(),
        "GET secret, PUT secret, POST events, PATCH status"
    );
    let put = log.body(Method::PUT, SECRET);
    assert_eq!(put["immutable"], true, "immutable is never changed: {put}");
    assert_eq!(put["data"]["password"], "aHVudGVyMg==");
    assert_eq!(
        failure_reported(&log, "immutable"),
        sealed_secrets_core::reconcile::IMMUTABLE_MESSAGE
    );
    assert_eq!(error_policy(ss, &err, ctx), Action::await_change());
}

/// Once the Secret and the status are current, a reconcile reads the Secret and writes
/// nothing: no Secret write, no Event, no status write; both with the record of the last
/// write (same process) and with only the Secret's MAC and the status (after a restart).
#[tokio::test]
async fn reconcile_in_sync_writes_nothing() {
    let secret = key_secret();
    let key = crate::keys::parse_key_secret(&secret).unwrap();
    let key_again = crate::keys::parse_key_secret(&secret).unwrap();
    let ss = sealed(&key);
    let stored: Arc<Mutex<Option<Value>>> = Arc::default();
    let store = stored.clone();
    let (ctx, log) = mocked(&ss, key, move |route, body| {
        Some(match route {
            ("POST", SECRETS) => {
                let created = echo(body, "5");
                *store.lock().unwrap() = Some(created.clone());
                (201, created)
            }
            ("GET", SECRET) => match store.lock().unwrap().clone() {
                Some(s) => (200, s),
                None => api_error(404, "NotFound", "secrets \"s\" not found"),
            },
            _ => return None,
        })
    });
    // The first sync creates the Secret and writes the status.
    reconcile(Arc::new(ss.clone()), ctx.clone()).await.unwrap();
    let status = log.body(Method::PATCH, STATUS);
    let mut synced = ss.clone();
    synced.status = Some(serde_json::from_value(status["status"].clone()).unwrap());
    // As the cache holds it: no ciphertexts, the spec's digest.
    sealed_secrets_core::reconcile::trim_for_cache(&mut synced);

    // The watch brings the object back with that status: nothing to write.
    log.clear();
    reconciled(&synced, &ctx, &log, "GET secret").await;
    let decryptions = ctx.metrics.decryptions.get();

    // A new process (restart, new leader): the MAC on the Secret stands for its content.
    log.clear();
    let fresh = context_with(ctx.client.clone(), key_again);
    reconciled(&synced, &fresh, &log, "GET secret").await;
    assert_eq!(fresh.metrics.decryptions.get(), 0, "no RSA operation");
    assert_eq!(decryptions, 1, "only the first sync decrypted");
}

/// A failing write is retried after 1 s, 2 s, 4 s, then not until something changes; a
/// success starts the count again.
#[tokio::test]
async fn failed_writes_back_off_then_wait_for_a_change() {
    let key = key();
    let ss = sealed(&key);
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let fail = failing.clone();
    let (ctx, log) = mocked(&ss, key, move |route, body| {
        Some(match route {
            ("POST", SECRETS) if fail.load(Ordering::SeqCst) => {
                api_error(500, "InternalError", "etcd is down")
            }
            ("POST", SECRETS) => (201, echo(body, "3")),
            ("GET", SECRET) => api_error(404, "NotFound", "secrets \"s\" not found"),
            _ => return None,
        })
    });
    let ss = Arc::new(ss);
    let mut actions = Vec::new();
    for attempt in 0..4 {
        log.clear();
        let err = reconcile(ss.clone(), ctx.clone()).await.unwrap_err();
        assert!(matches!(err, Error::Update(_)), "{err:?}");
        if attempt == 0 {
            assert_eq!(log.calls(), "POST secrets, POST events, PATCH status");
            failure_reported(&log, "update");
        }
        actions.push(error_policy(ss.clone(), &err, ctx.clone()));
    }
    assert_eq!(
        actions,
        [
            Action::requeue(Duration::from_secs(1)),
            Action::requeue(Duration::from_secs(2)),
            Action::requeue(Duration::from_secs(4)),
            Action::await_change(),
        ]
    );

    failing.store(false, Ordering::SeqCst);
    assert_eq!(
        reconcile(ss.clone(), ctx.clone()).await.unwrap(),
        Action::await_change()
    );
    // The Secret is known now, so the next attempt reads it first; it is gone, and creating
    // it fails again.
    failing.store(true, Ordering::SeqCst);
    let err = reconcile(ss.clone(), ctx.clone()).await.unwrap_err();
    assert_eq!(
        error_policy(ss, &err, ctx),
        Action::requeue(Duration::from_secs(1))
    );
}
