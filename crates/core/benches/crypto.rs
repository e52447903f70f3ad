//! Seal and unseal of one item with RSA-4096, per RSA backend.
//! `cargo bench -p sealed-secrets-core --bench crypto`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use sealed_secrets_core::{Backend, PrivateKey, hybrid_decrypt, hybrid_encrypt};

fn bench(c: &mut Criterion) {
    let aws = PrivateKey::generate(4096, Backend::AwsLc).unwrap();
    let rust = aws.with_backend(Backend::RustCrypto).unwrap();
    let public = aws.public_key();
    let label = b"namespace/name";
    let value = b"a typical secret value, 40 bytes long..";
    let ct = hybrid_encrypt(&public, label, value).unwrap();

    let mut g = c.benchmark_group("rsa4096_item");
    g.bench_function("seal (rsa crate, public key)", |b| {
        b.iter(|| hybrid_encrypt(&public, label, value).unwrap())
    });
    g.bench_function("unseal (aws-lc-rs)", |b| {
        b.iter(|| hybrid_decrypt(&aws, label, &ct).unwrap())
    });
    g.sample_size(20);
    g.bench_function("unseal (rsa crate)", |b| {
        b.iter(|| hybrid_decrypt(&rust, label, &ct).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
