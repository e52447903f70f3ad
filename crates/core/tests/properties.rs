//! Property tests: sealing round-trips any bytes under any scope, and any tampering or any
//! mismatch of the scope's label fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use proptest::prelude::*;
use sealed_secrets_core::{Backend, PrivateKey, Scope, hybrid_decrypt, hybrid_encrypt};

fn key() -> &'static PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    K.get_or_init(|| PrivateKey::generate(2048, Backend::AwsLc).unwrap())
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Strict),
        Just(Scope::NamespaceWide),
        Just(Scope::ClusterWide)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096), s in scope(),
                  ns in "[a-z0-9-]{1,20}", name in "[a-z0-9.-]{1,30}") {
        let label = s.label(&ns, &name);
        let ct = hybrid_encrypt(&key().public_key(), &label, &data).unwrap();
        prop_assert_eq!(ct.len(), 2 + 256 + data.len() + 16);
        let pt = hybrid_decrypt(key(), &label, &ct).unwrap();
        prop_assert_eq!(&*pt, &data);
    }

    #[test]
    fn any_flipped_byte_fails(data in proptest::collection::vec(any::<u8>(), 0..256),
                              pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let ct = hybrid_encrypt(&key().public_key(), b"ns/name", &data).unwrap();
        let mut bad = ct.clone();
        let i = pos.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(hybrid_decrypt(key(), b"ns/name", &bad).is_err());
    }

    #[test]
    fn truncation_fails(data in proptest::collection::vec(any::<u8>(), 0..64), cut in any::<prop::sample::Index>()) {
        let ct = hybrid_encrypt(&key().public_key(), b"", &data).unwrap();
        let n = cut.index(ct.len());
        prop_assert!(hybrid_decrypt(key(), b"", &ct[..n]).is_err());
    }

    #[test]
    fn wrong_namespace_or_name_fails(s in scope(), ns in "[a-z]{1,8}", name in "[a-z]{1,8}",
                                     other in "[a-z]{1,8}") {
        prop_assume!(other != ns && other != name);
        let ct = hybrid_encrypt(&key().public_key(), &s.label(&ns, &name), b"v").unwrap();
        let moved_ns = hybrid_decrypt(key(), &s.label(&other, &name), &ct);
        let renamed = hybrid_decrypt(key(), &s.label(&ns, &other), &ct);
        match s {
            Scope::Strict => { prop_assert!(moved_ns.is_err()); prop_assert!(renamed.is_err()); }
            Scope::NamespaceWide => { prop_assert!(moved_ns.is_err()); prop_assert!(renamed.is_ok()); }
            Scope::ClusterWide => { prop_assert!(moved_ns.is_ok()); prop_assert!(renamed.is_ok()); }
        }
        // A label of another scope never works, except where the labels coincide.
        for t in [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide] {
            if t != s {
                prop_assert!(hybrid_decrypt(key(), &t.label(&ns, &name), &ct).is_err());
            }
        }
    }
}
