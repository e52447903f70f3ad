//! `kubeseal` CLI: `--raw`: one value sealed on its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

/// `kubeseal --cert test-cert.pem ARGS` with `stdin`: its output.
fn sealed_stdin(sb: &Sandbox, args: &[&str], stdin: impl Into<Vec<u8>>) -> Vec<u8> {
    stdout_of(sb.seal(args).write_stdin(stdin))
}

#[test]
fn raw_from_stdin() {
    let sb = Sandbox::new();
    let out = sealed_stdin(&sb, &["--raw", "--name", "app", "-n", "prod"], PW);
    assert!(!out.ends_with(b"\n"), "no trailing newline");
    assert!(!String::from_utf8_lossy(&out).contains(PW));
    assert_eq!(open_raw(&out, b"prod/app").unwrap(), PW.as_bytes());
    assert!(open_raw(&out, b"prod/other").is_none());
    assert!(open_raw(&out, b"prod").is_none());
    // Without -n: the default namespace.
    let out = sealed_stdin(&sb, &["--raw", "--name", "app"], PW);
    assert_eq!(open_raw(&out, b"default/app").unwrap(), PW.as_bytes());
    // Binary input survives unchanged.
    let bin = [0u8, 10, 13, 255, 128];
    let out = sealed_stdin(&sb, &["--raw", "--name", "app", "-n", "prod"], &bin[..]);
    assert_eq!(open_raw(&out, b"prod/app").unwrap(), bin);
}

#[test]
fn raw_scopes_and_labels() {
    let sb = Sandbox::new();
    let out = sealed_stdin(
        &sb,
        &["--raw", "--scope", "namespace-wide", "-n", "prod"],
        PW,
    );
    assert_eq!(open_raw(&out, b"prod").unwrap(), PW.as_bytes());
    assert!(open_raw(&out, b"prod/app").is_none());
    let out = sealed_stdin(&sb, &["--raw", "--scope", "cluster-wide"], PW);
    assert_eq!(open_raw(&out, b"").unwrap(), PW.as_bytes());
    assert!(open_raw(&out, b"default").is_none());
}

#[test]
fn raw_from_file_and_key_equals_path() {
    let sb = Sandbox::new();
    sb.write("value.txt", format!("{PW}\n"));
    for spec in ["value.txt", "ignored-key=value.txt"] {
        let from_file = format!("--from-file={spec}");
        let out = stdout_of(&mut sb.seal(&["--raw", &from_file, "--name", "app", "-n", "prod"]));
        assert!(!out.ends_with(b"\n"));
        // The file's bytes, trailing newline included.
        assert_eq!(
            open_raw(&out, b"prod/app").unwrap(),
            format!("{PW}\n").as_bytes()
        );
    }
    // Written to -w: same content, still no trailing newline.
    sb.seal(&[
        "--raw",
        "--from-file",
        "value.txt",
        "--name",
        "app",
        "-n",
        "prod",
        "-w",
        "raw.txt",
    ])
    .assert()
    .success()
    .stdout("");
    let raw = std::fs::read(sb.path("raw.txt")).unwrap();
    assert!(!raw.ends_with(b"\n"));
    assert!(open_raw(&raw, b"prod/app").is_some());
}

#[test]
fn raw_errors() {
    let sb = Sandbox::new();
    sb.write("value.txt", PW);
    assert_fails(
        &sb,
        || sb.seal(&["--from-file", "value.txt", "--name", "app"]),
        None,
        &["--from-file requires --raw"],
        &[],
    );
    assert_fails(
        &sb,
        || {
            sb.seal(&[
                "--raw",
                "--from-file",
                "value.txt",
                "--from-file",
                "value.txt",
                "--name",
                "app",
            ])
        },
        None,
        &["must provide only one --from-file"],
        &[],
    );
    assert_fails(
        &sb,
        || sb.seal(&["--raw", "--from-file=value.txt,value.txt", "--name", "app"]),
        None,
        &["must provide only one --from-file"],
        &[],
    );
    for args in [
        &["--raw"][..],
        &["--raw", "--scope", "strict", "-n", "prod"][..],
    ] {
        assert_seal_fails(
            &sb,
            args,
            PW.as_bytes(),
            &["must provide the --name flag with --raw and --scope strict"],
            &[],
        );
    }
    assert_fails(
        &sb,
        || sb.seal(&["--raw", "--from-file", "missing.txt", "--name", "a"]),
        None,
        &["missing.txt"],
        &[],
    );
}
