//! `kubeseal set`: items are sealed into an existing file in place; every other byte stays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use predicates::prelude::*;
use sealed_secrets_core::Scope;
use sealed_secrets_core::codec::Format;

const OLD_PW: &str = "old-plaintext-pw";
const NEW_PW: &str = "new-plaintext-pw-from-stdin";

/// A YAML file with comments around the items, as a person would keep it in git.
fn commented_yaml(scope: Scope) -> String {
    let ss = sealed(
        "web",
        "prod",
        scope,
        &[("api", "api-value"), ("pw", OLD_PW), ("user", "admin")],
        test_key(),
    );
    render(&ss, Format::Yaml)
        .replace(
            "  encryptedData:\n",
            "  # managed by kubeseal set\n  encryptedData:\n",
        )
        .replace("\n    user:", "\n    # the login\n    user:")
}

#[test]
fn set_yaml_in_each_scope_changes_only_the_named_items() {
    for scope in [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide] {
        let sb = Sandbox::new();
        let original = commented_yaml(scope);
        let file = sb.write("web.yaml", &original);
        sb.write("token.txt", "token-from-file");
        sb.kubeseal()
            .args(["set", "web.yaml", "pw=-", "--from-file", "token=token.txt"])
            .args(["--unset", "user", "--cert"])
            .arg(cert_path())
            .write_stdin(NEW_PW)
            .assert()
            .success();
        let text = std::fs::read_to_string(&file).unwrap();
        // Everything but the lines of pw, token and user is byte-identical (comments too).
        assert_eq!(
            other_lines(&text, &["pw", "token", "user"]),
            other_lines(&original, &["pw", "token", "user"]),
            "{scope}:\n{text}"
        );
        let api_line = |t: &str| t.lines().find(|l| l.contains("api:")).unwrap().to_string();
        assert_eq!(api_line(&text), api_line(&original));
        // The new item goes in sorted position (after pw; user was removed, its comment stays).
        let at = |needle: &str| text.find(needle).unwrap();
        assert!(at("\n    pw:") < at("\n    token:"), "{text}");
        assert!(at("\n    token:") < at("# the login"), "{text}");
        let ss = &read_sealed(&file)[0];
        let items = open(ss);
        assert_eq!(items["pw"], NEW_PW, "{scope}");
        assert_eq!(items["token"], "token-from-file");
        assert_eq!(items["api"], "api-value");
        assert!(!items.contains_key("user"));
        // The secret never reached the output.
        assert!(!text.contains(NEW_PW));

        // The result unseals with --recovery-unseal as well.
        sb.kubeseal()
            .args(["--recovery-unseal", "-o", "yaml", "--recovery-private-key"])
            .arg(key_path())
            .arg("-f")
            .arg(&file)
            .assert()
            .success()
            .stdout(predicate::str::contains("pw: bmV3"));
    }
}

#[test]
fn set_json_multi_document_touches_only_the_chosen_document() {
    let sb = Sandbox::new();
    let strict =
        |name: &str, items: &[(&str, &str)]| sealed(name, "ns", Scope::Strict, items, test_key());
    let a = strict("a", &[("x", "1"), ("y", "2")]);
    let b = strict("b", &[("x", "3"), ("y", "4")]);
    let first = render(&a, Format::Json);
    let second = render(&b, Format::Json);
    let file = sb.write("both.json", format!("{first}{second}"));

    // Several SealedSecrets: --name is required.
    sb.kubeseal()
        .args(["set", "both.json", "x=9", "--cert"])
        .arg(cert_path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("choose one with --name"));

    sb.kubeseal()
        .args(["set", "both.json", "--name", "b", "x=9", "--cert"])
        .arg(cert_path())
        .assert()
        .success();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(&first), "the first document is untouched");
    let y_line = |t: &str| {
        t.lines()
            .filter(|l| l.contains("\"y\""))
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(y_line(&text), y_line(&format!("{first}{second}")));
    let docs = read_sealed(&file);
    assert_eq!(open(&docs[1])["x"], "9");
    assert_eq!(open(&docs[1])["y"], "4");
    assert_eq!(docs[0].spec.encrypted_data, a.spec.encrypted_data);
}

#[test]
fn bad_arguments_fail_without_writing_or_leaking() {
    let sb = Sandbox::new();
    let original = commented_yaml(Scope::Strict);
    let file = sb.write("web.yaml", &original);
    let cases: &[(&[&str], &str)] = &[
        (&["s3cr3t-no-equals"], "is not KEY=VALUE"),
        (&["bad key=s3cr3t-value"], "invalid item name"),
        (&["--unset", "missing"], "has no item \"missing\""),
        (&["pw=s3cr3t-value", "--unset", "pw"], "both set and unset"),
        (&[], "nothing to do"),
    ];
    for (args, want) in cases {
        let out = sb
            .kubeseal()
            .args(["set", "web.yaml"])
            .args(*args)
            .arg("--cert")
            .arg(cert_path())
            .assert()
            .failure();
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("s3cr3t"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
}

#[test]
fn flag_style_cli_is_unchanged() {
    // Upstream's flag-only invocation still seals from stdin.
    let sb = Sandbox::new();
    sb.kubeseal()
        .args(["--cert"])
        .arg(cert_path())
        .args(["-n", "ns", "-o", "yaml"])
        .write_stdin("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: b\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("kind: SealedSecret"));
}
