use super::*;

fn spec(holder: Option<&str>, secs: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: holder.map(String::from),
        lease_duration_seconds: Some(secs),
        ..Default::default()
    }
}

#[test]
fn decisions() {
    let d = Duration::from_secs(15);
    // Missing or released Lease: take it.
    assert_eq!(
        decide(None, "me_1", None, Duration::ZERO, d),
        Decision::Take { renew: false }
    );
    assert_eq!(
        decide(Some(&spec(Some(""), 1)), "me_1", None, Duration::ZERO, d),
        Decision::Take { renew: false }
    );
    // Ours: renew.
    assert_eq!(
        decide(
            Some(&spec(Some("me_1"), 15)),
            "me_1",
            None,
            Duration::ZERO,
            d
        ),
        Decision::Take { renew: true }
    );
    // Someone else's, fresh: wait, even if its renewTime is far in the past by our clock.
    let other = spec(Some("other_2"), 15);
    assert_eq!(
        decide(Some(&other), "me_1", None, Duration::from_secs(14), d),
        Decision::Wait
    );
    // Unchanged for a whole lease duration: expired.
    assert_eq!(
        decide(Some(&other), "me_1", None, Duration::from_secs(15), d),
        Decision::Take { renew: false }
    );
    // Our own Pod's previous process: take at once; another Pod's: wait.
    assert_eq!(
        decide(
            Some(&spec(Some("pod-a_1"), 15)),
            "pod-a_2",
            Some("pod-a"),
            Duration::ZERO,
            d
        ),
        Decision::Take { renew: false }
    );
    assert_eq!(
        decide(
            Some(&spec(Some("pod-b_1"), 15)),
            "pod-a_2",
            Some("pod-a"),
            Duration::ZERO,
            d
        ),
        Decision::Wait
    );
    // Without POD_NAME (host name identities), never.
    assert_eq!(
        decide(
            Some(&spec(Some("host_1"), 15)),
            "host_2",
            None,
            Duration::ZERO,
            d
        ),
        Decision::Wait
    );
}

#[test]
fn identity_contains_pod_name_and_is_unique() {
    let a = identity(Some("sealed-secrets-controller-abc"));
    std::thread::sleep(Duration::from_millis(2));
    let b = identity(Some("sealed-secrets-controller-abc"));
    assert!(a.starts_with("sealed-secrets-controller-abc_"));
    assert_eq!(pod_of(&a), "sealed-secrets-controller-abc");
    assert_ne!(a, b);
    assert!(!identity(None).is_empty());
}

#[test]
fn fence() {
    let f = Fence::open();
    assert!(f.check().is_ok());
    let f = Fence::closed();
    assert_eq!(f.check(), Err(NotLeader));
    f.extend(Instant::now() + Duration::from_secs(60));
    assert!(f.is_open());
    // Never shortened by a late extension.
    f.extend(Instant::now());
    assert!(f.is_open());
    f.close();
    assert!(!f.is_open());
    f.extend(Instant::now() - Duration::from_millis(1));
    assert!(!f.is_open(), "a deadline in the past keeps it closed");
}
