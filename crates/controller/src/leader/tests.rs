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
    let (take, renew, wait) = (
        Decision::Take { renew: false },
        Decision::Take { renew: true },
        Decision::Wait,
    );
    // The Lease's holder and duration (None: no Lease), our identity, our POD_NAME, how long
    // the Lease has been unchanged (seconds), and what to do.
    let cases = [
        // Missing or released Lease: take it.
        (None, "me_1", None, 0, take),
        (Some(("", 1)), "me_1", None, 0, take),
        // Ours: renew.
        (Some(("me_1", 15)), "me_1", None, 0, renew),
        // Someone else's, fresh: wait, even if its renewTime is far in the past by our clock.
        (Some(("other_2", 15)), "me_1", None, 14, wait),
        // Unchanged for a whole lease duration: expired.
        (Some(("other_2", 15)), "me_1", None, 15, take),
        // Our own Pod's previous process: take at once; another Pod's: wait.
        (Some(("pod-a_1", 15)), "pod-a_2", Some("pod-a"), 0, take),
        (Some(("pod-b_1", 15)), "pod-a_2", Some("pod-a"), 0, wait),
        // Without POD_NAME (host name identities), never.
        (Some(("host_1", 15)), "host_2", None, 0, wait),
    ];
    for (i, (lease, me, pod, unchanged, want)) in cases.into_iter().enumerate() {
        let lease = lease.map(|(holder, secs)| spec(Some(holder), secs));
        let got = decide(lease.as_ref(), me, pod, Duration::from_secs(unchanged), d);
        assert_eq!(got, want, "case {i}");
    }
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
