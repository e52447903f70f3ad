//! `kubeseal --re-encrypt` over many files, offline (`--recovery-private-key` + `--cert`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::MetadataExt;

use common::*;
use predicates::prelude::*;
use sealed_secrets_core::Scope;
use sealed_secrets_core::codec::Format;

#[test]
fn tree_is_moved_to_the_current_key_and_summarised() {
    let sb = Sandbox::new();
    let scopes = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];
    let mut files = Vec::new();
    for i in 0..12 {
        let ss = sealed(
            &format!("s{i}"),
            "ns",
            scopes[i % 3],
            &[("a", &format!("a{i}")), ("b", "b")],
            other_key(),
        );
        let (name, text) = if i % 2 == 0 {
            (
                format!("tree/d{}/s{i}.yaml", i % 4),
                render(&ss, Format::Yaml).replace("spec:\n", "# note\nspec:\n"),
            )
        } else {
            (
                format!("tree/d{}/s{i}.json", i % 4),
                render(&ss, Format::Json),
            )
        };
        files.push((sb.write(&name, &text), text));
    }
    // Two documents in one file, one of them already on the current key.
    let mixed = format!(
        "{}{}",
        render(
            &sealed("m1", "ns", Scope::Strict, &[("x", "1")], other_key()),
            Format::Yaml
        ),
        render(
            &sealed("m2", "ns", Scope::Strict, &[("y", "2")], test_key()),
            Format::Yaml
        )
    );
    let mixed_path = sb.write("tree/mixed.yaml", &mixed);
    // Already current: skipped and not rewritten.
    let current = render(
        &sealed("cur", "ns", Scope::Strict, &[("z", "3")], test_key()),
        Format::Yaml,
    );
    let current_path = sb.write("tree/current.yaml", &current);
    let inode = std::fs::metadata(&current_path).unwrap().ino();
    // Not a SealedSecret: skipped. Not YAML/JSON: ignored. Hidden: ignored.
    sb.write("tree/kustomization.yaml", "resources: []\n");
    sb.write("tree/README.md", "SealedSecret docs");
    sb.write("tree/.git/x.yaml", "kind: SealedSecret\nbroken: [\n");

    let keys = format!("{},{}", sb.other_key_file().display(), key_path().display());
    let re_encrypt_tree = || {
        sb.kubeseal()
            .args([
                "--re-encrypt",
                "-R",
                "tree",
                "--recovery-private-key",
                &keys,
                "--cert",
            ])
            .arg(cert_path())
            .assert()
            .success()
    };
    re_encrypt_tree()
        .stderr(predicate::str::contains(
            "15 file(s): 13 re-encrypted, 2 skipped, 0 failed",
        ))
        .stderr(predicate::str::contains(
            "current.yaml (already sealed with the current key)",
        ));

    for (path, before) in &files {
        let after = std::fs::read_to_string(path).unwrap();
        assert_ne!(&after, before);
        assert_eq!(after.lines().count(), before.lines().count(), "layout kept");
        assert_eq!(after.contains("# note"), before.contains("# note"));
        let ss = &read_sealed(path)[0];
        // Only the current key opens it now.
        assert!(
            sealed_secrets_core::unseal(ss, std::slice::from_ref(other_key()), Default::default())
                .is_err()
        );
        assert_eq!(open(ss)["b"], "b");
    }
    let mixed_after = std::fs::read_to_string(&mixed_path).unwrap();
    let m2_start = mixed.rfind("---\n").unwrap();
    assert_eq!(
        &mixed_after[mixed_after.rfind("---\n").unwrap()..],
        &mixed[m2_start..],
        "current document untouched"
    );
    assert_eq!(open(&read_sealed(&mixed_path)[0])["x"], "1");
    assert_eq!(std::fs::read_to_string(&current_path).unwrap(), current);
    assert_eq!(std::fs::metadata(&current_path).unwrap().ino(), inode);

    // A second run changes nothing: every file is already current, byte for byte.
    let snapshot: Vec<String> = files
        .iter()
        .map(|(p, _)| std::fs::read_to_string(p).unwrap())
        .collect();
    re_encrypt_tree().stderr(predicate::str::contains(
        "15 file(s): 0 re-encrypted, 15 skipped, 0 failed",
    ));
    for ((p, _), before) in files.iter().zip(&snapshot) {
        assert_eq!(&std::fs::read_to_string(p).unwrap(), before);
    }
}

#[test]
fn failures_are_reported_and_the_rest_still_done() {
    let sb = Sandbox::new();
    let stranger =
        sealed_secrets_core::PrivateKey::generate(2048, sealed_secrets_core::Backend::AwsLc)
            .unwrap();
    let bad = render(
        &sealed("bad", "ns", Scope::Strict, &[("a", "x")], &stranger),
        Format::Yaml,
    );
    let bad_path = sb.write("bad.yaml", &bad);
    let good_path = sb.write(
        "good.yaml",
        render(
            &sealed("good", "ns", Scope::Strict, &[("a", "y")], other_key()),
            Format::Yaml,
        ),
    );
    let out = sb
        .kubeseal()
        .args([
            "--re-encrypt",
            "-f",
            "bad.yaml",
            "-f",
            "good.yaml",
            "--recovery-private-key",
        ])
        .arg(sb.other_key_file())
        .arg("--cert")
        .arg(cert_path())
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "2 file(s): 1 re-encrypted, 0 skipped, 1 failed",
        ))
        .stderr(predicate::str::contains(
            "failed: bad.yaml: bad: no key could decrypt item(s) a",
        ));
    let _ = out;
    assert_eq!(std::fs::read_to_string(&bad_path).unwrap(), bad);
    assert_eq!(open(&read_sealed(&good_path)[0])["a"], "y");
}

#[test]
fn recursive_needs_re_encrypt() {
    fails_saying(
        Sandbox::new().kubeseal().args(["-R", "."]),
        "requires --re-encrypt",
    );
}
