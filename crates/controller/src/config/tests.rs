use super::*;
use clap::CommandFactory;

#[test]
fn definition_and_defaults() {
    Flags::command().debug_assert();
    let f = Flags::try_parse_from(["c"]).unwrap();
    assert_eq!(f.key_size, 4096);
    assert_eq!(f.key_renew_period, Duration::from_secs(720 * 3600));
    assert_eq!(f.key_ttl, Duration::from_secs(87_600 * 3600));
    assert!(f.accept_deprecated_v1_data && f.all_namespaces && f.update_status);
    assert_eq!(f.max_unseal_retries, 5);
    assert_eq!(f.header_read_timeout, Duration::from_secs(10));
    assert_eq!(f.max_connections, 512);
    assert_eq!(
        (f.max_inflight, f.inflight_wait),
        (0, Duration::from_secs(5))
    );
    assert!(Flags::try_parse_from(["c", "--max-connections=0"]).is_err());
    assert_eq!(f.watched_namespaces("kube-system"), None);
    assert!(f.leader_elect);
    assert_eq!(f.leader_elect_lease_duration, Duration::from_secs(15));
    assert_eq!(f.leader_elect_renew_deadline, Duration::from_secs(10));
    assert_eq!(f.leader_elect_retry_period, Duration::from_secs(2));
    assert_eq!(f.leader_elect_lease_name, "sealed-secrets-controller");
    f.validate().unwrap();
    assert!(!f.allow_non_constant_time_keys);
    assert_eq!(f.template.limits(), gotemplate::Limits::default());
    let f = Flags::try_parse_from([
        "c",
        "--template-max-steps=7",
        "--template-max-alloc-bytes=8",
        "--template-max-output-bytes=9",
        "--template-max-depth=10",
        "--template-timeout=1m30s",
    ])
    .unwrap();
    assert_eq!(
        f.template.limits(),
        gotemplate::Limits {
            steps: 7,
            alloc_bytes: 8,
            output_bytes: 9,
            value_depth: 10,
            time: Duration::from_secs(90),
        }
    );
    for bits in ["1024", "2047"] {
        let f = Flags::try_parse_from(["c", "--key-size", bits]).unwrap();
        assert!(f.validate().unwrap_err().contains("refused"), "{bits}");
        let f = Flags::try_parse_from(["c", "--key-size", bits, "--allow-non-constant-time-keys"])
            .unwrap();
        assert!(
            f.validate().unwrap_err().contains("refused"),
            "{bits} even with the flag"
        );
    }
    let f = Flags::try_parse_from(["c", "--key-size=16384"]).unwrap();
    assert!(
        f.validate()
            .unwrap_err()
            .contains("--allow-non-constant-time-keys")
    );
    let f =
        Flags::try_parse_from(["c", "--key-size=16384", "--allow-non-constant-time-keys"]).unwrap();
    f.validate().unwrap();
    for bits in ["2048", "3072", "8192"] {
        let f = Flags::try_parse_from(["c", "--key-size", bits]).unwrap();
        f.validate().unwrap();
    }
    let bad = Flags::try_parse_from(["c", "--leader-elect-renew-deadline=20s"]).unwrap();
    assert!(bad.validate().is_err());
    let off = Flags::try_parse_from([
        "c",
        "--leader-elect=false",
        "--leader-elect-renew-deadline=20s",
    ])
    .unwrap();
    assert!(off.validate().is_ok());
    let f = Flags::try_parse_from(["c", "--all-namespaces=false", "--rotate-period=1h"]).unwrap();
    assert_eq!(f.watched_namespaces("ks"), Some(vec!["ks".to_string()]));
    assert_eq!(f.key_renew_period, Duration::from_secs(3600));
    let f = Flags::try_parse_from(["c", "--additional-namespaces=a,b"]).unwrap();
    assert_eq!(
        f.watched_namespaces("ks"),
        Some(vec!["ks".to_string(), "a".into(), "b".into()])
    );
}

#[test]
fn durations_and_lists() {
    assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    assert!(parse_duration("10").is_err());
    assert!(parse_duration("5d").is_err());
    let kv = parse_kv_list("a=b, c=d").unwrap();
    assert_eq!(kv["c"], "d");
    assert!(parse_kv_list("nope").is_err());
    assert_eq!(socket_addr(":8080").unwrap().port(), 8080);
}

#[test]
fn bad_prefix() {
    let f = Flags::try_parse_from(["c", "--key-prefix=Bad_Prefix"]).unwrap();
    assert!(f.validate().is_err());
}
