use super::*;

/// A fresh 2048-bit key Secret named `name` at resourceVersion `rv`, as the key watch sees it.
pub(crate) fn key_secret(name: &str, rv: &str) -> Secret {
    let (mut s, _) = new_key_secret(
        "ks",
        "sealed-secrets-key",
        2048,
        "",
        Duration::from_secs(3600),
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .unwrap();
    s.metadata.name = Some(name.into());
    s.metadata.resource_version = Some(rv.into());
    s
}

/// Two key Secrets whose certificates' NotBefore (whole seconds) differ: `older` first.
fn two_keys_a_second_apart(older: &str, newer: &str) -> (Secret, Secret) {
    let a = key_secret(older, "1");
    std::thread::sleep(Duration::from_millis(1100));
    (a, key_secret(newer, "1"))
}

/// A 1024-bit key (made once with `openssl req -x509 -newkey rsa:1024`, test use only):
/// aws-lc-rs refuses it, so only the non-constant-time backend could use it.
fn small_key_secret() -> Secret {
    let mut s = key_secret("small", "1");
    let data = s.data.as_mut().unwrap();
    data.insert(
        "tls.key".into(),
        ByteString(include_bytes!("../testdata/rsa1024.key").to_vec()),
    );
    data.insert(
        "tls.crt".into(),
        ByteString(include_bytes!("../testdata/rsa1024.crt").to_vec()),
    );
    s
}

#[test]
fn non_constant_time_keys_only_with_the_flag() {
    let small = small_key_secret();
    let ok = key_secret("ok", "1");
    let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
    let errs = reg.replace_from_secrets(&[small.clone(), ok.clone()]);
    assert_eq!(errs, vec![KeySecretError::NonConstantTime("small".into())]);
    assert_eq!(errs[0].secret_name(), "small");
    let names: Vec<_> = reg
        .snapshot()
        .iter()
        .map(|e| e.secret_name.clone())
        .collect();
    assert_eq!(names, ["ok"]);

    let reg =
        KeyRegistry::new(KeyOrderPriority::CertNotBefore).allowing_non_constant_time_keys(true);
    assert!(reg.replace_from_secrets(&[small, ok]).is_empty());
    assert_eq!(reg.snapshot().len(), 2);
    assert!(
        reg.snapshot()
            .iter()
            .any(|e| e.key.backend() == Backend::RustCrypto)
    );
}

#[test]
fn load_order_dedup_and_errors() {
    let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
    let (a, b) = two_keys_a_second_apart("a", "b");
    let mut broken = a.clone();
    broken.metadata.name = Some("broken".into());
    broken
        .data
        .as_mut()
        .unwrap()
        .insert("tls.key".into(), ByteString(b"garbage".to_vec()));
    let mut dup = a.clone();
    dup.metadata.name = Some("a-copy".into());
    let errs = reg.replace_from_secrets(&[a.clone(), broken, b.clone(), dup]);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].to_string().contains("broken"));
    let snap = reg.snapshot();
    assert_eq!(snap.len(), 2);
    assert_eq!(snap[0].secret_name, "b", "newest first");
    assert_eq!(reg.newest().unwrap().secret_name, "b");
    // Unchanged resourceVersion keeps the same entry.
    let before = Arc::clone(&snap[1]);
    reg.replace_from_secrets(&[a.clone(), b.clone()]);
    assert!(Arc::ptr_eq(&before, &reg.snapshot()[1]));
    // Deleting a key removes it.
    let rx = reg.subscribe();
    reg.replace_from_secrets(&[a]);
    assert_eq!(reg.snapshot().len(), 1);
    assert!(rx.has_changed().unwrap());
}

#[test]
fn notifies_exactly_when_the_key_set_changes() {
    let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
    let (a, b, c) = (
        key_secret("a", "1"),
        key_secret("b", "1"),
        key_secret("c", "1"),
    );
    let names = || {
        let mut n: Vec<String> = reg
            .snapshot()
            .iter()
            .map(|e| e.secret_name.clone())
            .collect();
        n.sort();
        n
    };
    let mut rx = reg.subscribe();
    reg.replace_from_secrets(&[a.clone(), b.clone()]);
    assert!(rx.has_changed().unwrap(), "keys loaded");
    // The value counts the changes.
    assert_eq!(*rx.borrow_and_update(), 1);
    // The same Secrets again (same resourceVersions): the same entries, no notification,
    // so nothing failed is retried for nothing.
    reg.replace_from_secrets(&[a.clone(), b.clone()]);
    assert!(!rx.has_changed().unwrap(), "nothing changed");
    // As many keys as before, one of them another: a change.
    reg.replace_from_secrets(&[a.clone(), c.clone()]);
    assert!(rx.has_changed().unwrap(), "b replaced by c");
    assert_eq!(*rx.borrow_and_update(), 2);
    // One key fewer: a change.
    reg.replace_from_secrets(std::slice::from_ref(&a));
    assert!(rx.has_changed().unwrap(), "c removed");
    assert_eq!(*rx.borrow_and_update(), 3);

    // insert() adds a key beside the others…
    reg.insert(parse_key_secret(&b).unwrap());
    assert_eq!(names(), ["a", "b"]);
    assert!(rx.has_changed().unwrap(), "b inserted");
    // …and replaces the entry of the same Secret name.
    let b2 = key_secret("b", "2");
    let b2_fingerprint = parse_key_secret(&b2).unwrap().key.fingerprint().to_string();
    reg.insert(parse_key_secret(&b2).unwrap());
    assert_eq!(names(), ["a", "b"]);
    let b_now = reg
        .snapshot()
        .iter()
        .find(|e| e.secret_name == "b")
        .cloned()
        .unwrap();
    assert_eq!(b_now.key.fingerprint(), b2_fingerprint);
}

#[test]
fn trial_order_prefers_used_keys() {
    let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
    reg.replace_from_secrets(&[key_secret("a", "1"), key_secret("b", "1")]);
    let order = reg.trial_order();
    order[1].uses.fetch_add(3, Ordering::Relaxed);
    let again = reg.trial_order();
    assert_eq!(again[0].secret_name, order[1].secret_name);
}

#[test]
fn a_new_key_waits_for_the_next_second() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    assert_eq!(wait_for_next_second(None, t), Duration::ZERO);
    // Same second as the newest key: wait until the next one.
    assert_eq!(
        wait_for_next_second(Some(t), t + Duration::from_millis(300)),
        Duration::from_millis(700)
    );
    assert_eq!(wait_for_next_second(Some(t), t), Duration::from_secs(1));
    // A newest time with sub-second precision counts from its whole second.
    assert_eq!(
        wait_for_next_second(
            Some(t + Duration::from_millis(900)),
            t + Duration::from_millis(950)
        ),
        Duration::from_millis(50)
    );
    // Already a later second, or a key from the future: no wait.
    assert_eq!(
        wait_for_next_second(Some(t), t + Duration::from_secs(1)),
        Duration::ZERO
    );
    assert_eq!(
        wait_for_next_second(Some(t + Duration::from_secs(60)), t),
        Duration::ZERO
    );
}

#[test]
fn cutoff_and_renewal() {
    assert_eq!(parse_cutoff("").unwrap(), None);
    let t = parse_cutoff("Mon, 02 Jan 2006 15:04:05 -0700")
        .unwrap()
        .unwrap();
    assert_eq!(
        t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
        1_136_239_445
    );
    assert!(parse_cutoff("yesterday").is_err());
    let now = SystemTime::now();
    assert_eq!(next_renewal(Some(now), Duration::ZERO, now), None);
    let old = now - Duration::from_secs(100);
    assert_eq!(
        next_renewal(Some(old), Duration::from_secs(10), now),
        Some(now)
    );
    assert_eq!(
        next_renewal(Some(now), Duration::from_secs(10), now),
        Some(now + Duration::from_secs(10))
    );
}

#[test]
fn a_new_key_secret_is_what_the_key_watch_loads() {
    let labels = BTreeMap::from([("team".to_string(), "a".to_string())]);
    let annotations = BTreeMap::from([("note".to_string(), "b".to_string())]);
    let (secret, entry) = new_key_secret(
        "ks",
        "sealed-secrets-key",
        2048,
        "cn",
        Duration::from_secs(3600),
        &labels,
        &annotations,
    )
    .unwrap();
    let meta = &secret.metadata;
    assert_eq!(meta.generate_name.as_deref(), Some("sealed-secrets-key"));
    assert_eq!(meta.namespace.as_deref(), Some("ks"));
    let l = meta.labels.as_ref().unwrap();
    assert_eq!(l.get(SEALING_KEY_LABEL).map(String::as_str), Some("active"));
    assert_eq!(l.get("team").map(String::as_str), Some("a"));
    assert_eq!(meta.annotations.as_ref(), Some(&annotations));
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = secret.data.as_ref().unwrap();
    assert_eq!(
        data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["tls.crt", "tls.key"]
    );
    // Read back as the key watch reads it: the same key.
    let mut named = secret.clone();
    named.metadata.name = Some("sealed-secrets-keyabcde".into());
    let loaded = parse_key_secret(&named).unwrap();
    assert_eq!(loaded.key.fingerprint(), entry.key.fingerprint());
    assert_eq!(loaded.secret_name, "sealed-secrets-keyabcde");
    // No annotations asked for: none written.
    assert_eq!(key_secret("plain", "1").metadata.annotations, None);
}

#[test]
fn describe_lists_keys_newest_first_and_marks_the_minimum() {
    let reg = KeyRegistry::new(KeyOrderPriority::CertNotBefore);
    let (older, newer) = two_keys_a_second_apart("older", "newer");
    reg.replace_from_secrets(&[older, newer]);
    let snap = reg.snapshot();
    let unix = |t: SystemTime| {
        i64::try_from(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()).unwrap()
    };

    let keys = reg.describe(None);
    let names: Vec<&str> = keys.iter().map(|k| k.secret.as_str()).collect();
    assert_eq!(names, ["newer", "older"]);
    assert_eq!(
        keys.iter().map(|k| k.sealing).collect::<Vec<_>>(),
        [true, false],
        "only the newest seals"
    );
    for (k, e) in keys.iter().zip(snap.iter()) {
        assert_eq!(k.fingerprint, e.key.fingerprint());
        assert_eq!(k.not_before_unix, Some(unix(e.cert.not_before())));
        assert!(!k.below_minimum);
    }
    // A minimum at the newer key's time: the older one is below it, the newer one (exactly
    // at the minimum) is not.
    let min = snap[0].cert.not_before();
    let below: Vec<bool> = reg
        .describe(Some(min))
        .iter()
        .map(|k| k.below_minimum)
        .collect();
    assert_eq!(below, [false, true]);
}

#[test]
fn selector_order_emptiness_usage_and_debug() {
    assert_eq!(
        active_selector(),
        "sealedsecrets.bitnami.com/sealed-secrets-key=active"
    );
    let reg = KeyRegistry::new(KeyOrderPriority::SecretCreationTimestamp);
    assert_eq!(reg.order(), KeyOrderPriority::SecretCreationTimestamp);
    assert!(reg.is_empty());
    reg.replace_from_secrets(&[key_secret("a", "1")]);
    assert!(!reg.is_empty());
    let entry = reg.newest().unwrap();
    let fingerprint = entry.key.fingerprint().to_string();
    entry.uses.fetch_add(3, Ordering::Relaxed);
    assert_eq!(
        reg.usage(),
        BTreeMap::from([(fingerprint.clone(), ("a".to_string(), 3))])
    );
    // Debug names the Secret and the fingerprint, nothing of the key itself.
    let shown = format!("{entry:?}");
    assert!(
        shown.contains("\"a\"") && shown.contains(&fingerprint),
        "{shown}"
    );
    assert!(!shown.contains("PRIVATE"), "{shown}");
}
