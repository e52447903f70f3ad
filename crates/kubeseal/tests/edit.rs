//! `kubeseal edit` (offline, with `--recovery-private-key`): `$EDITOR` is a script. The
//! scratch file must be 0600 in a 0700 directory while the editor runs and gone afterwards,
//! whatever happens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::*;
use sealed_secrets_core::Scope;
use sealed_secrets_core::codec::Format;

/// Writes an editor script that records the path it was given and the modes of the file and
/// its directory, then runs `body`.
fn editor(sb: &Sandbox, body: &str) -> PathBuf {
    let record = sb.path("record");
    let script = sb.write(
        "editor.sh",
        format!(
            "#!/bin/sh\nset -e\nf=\"$1\"\necho \"$f\" > {rec}\nstat -c '%a' \"$f\" \"$(dirname \"$f\")\" >> {rec}\n{body}\n",
            rec = record.display()
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// What the editor saw: the scratch path and the modes of the file and its directory.
fn recorded(sb: &Sandbox) -> (PathBuf, String, String) {
    let text = std::fs::read_to_string(sb.path("record")).unwrap();
    let mut l = text.lines();
    (
        PathBuf::from(l.next().unwrap()),
        l.next().unwrap().to_string(),
        l.next().unwrap().to_string(),
    )
}

fn assert_scratch_gone(sb: &Sandbox) {
    let (path, file_mode, dir_mode) = recorded(sb);
    assert_eq!((file_mode.as_str(), dir_mode.as_str()), ("600", "700"));
    assert!(path.starts_with(sb.tmpdir()), "{}", path.display());
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
    assert_eq!(std::fs::read_dir(sb.tmpdir()).unwrap().count(), 0);
}

fn setup() -> (Sandbox, String, PathBuf) {
    let sb = Sandbox::new();
    let ss = sealed(
        "web",
        "prod",
        Scope::Strict,
        &[("keep", "keep-value"), ("pw", "old-pw"), ("user", "admin")],
        test_key(),
    );
    let text = render(&ss, Format::Yaml)
        .replace("  encryptedData:\n", "  # comment kept\n  encryptedData:\n");
    let file = sb.write("web.yaml", &text);
    (sb, text, file)
}

fn edit(sb: &Sandbox, script: &Path, env: &str) -> assert_cmd::assert::Assert {
    sb.kubeseal()
        .env(env, script)
        .args(["edit", "web.yaml", "--recovery-private-key"])
        .arg(key_path())
        .arg("--cert")
        .arg(cert_path())
        .assert()
}

#[test]
fn edit_changes_deletes_and_adds_and_keeps_the_rest() {
    let (sb, original, file) = setup();
    let script = editor(
        &sb,
        "sed -i -e 's/^  pw: .*/  pw: new-pw/' -e '/^  user: /d' \"$f\"\nprintf '  added: added-value\\n' >> \"$f\"",
    );
    edit(&sb, &script, "EDITOR").success();
    assert_scratch_gone(&sb);
    let text = std::fs::read_to_string(&file).unwrap();
    let keep = |t: &str| t.lines().find(|l| l.contains("keep:")).unwrap().to_string();
    assert_eq!(
        keep(&text),
        keep(&original),
        "unchanged item keeps its ciphertext"
    );
    assert_eq!(
        other_lines(&text, &["pw", "user", "added"]),
        other_lines(&original, &["pw", "user", "added"])
    );
    let items = open(&read_sealed(&file)[0]);
    assert_eq!(items["pw"], "new-pw");
    assert_eq!(items["added"], "added-value");
    assert_eq!(items["keep"], "keep-value");
    assert!(!items.contains_key("user"));
}

#[test]
fn visual_is_used_when_editor_is_unset() {
    let (sb, _, file) = setup();
    let script = editor(&sb, "sed -i 's/^  pw: .*/  pw: via-visual/' \"$f\"");
    edit(&sb, &script, "VISUAL").success();
    assert_eq!(open(&read_sealed(&file)[0])["pw"], "via-visual");
    assert_scratch_gone(&sb);
}

#[test]
fn unchanged_buffer_writes_nothing() {
    let (sb, original, file) = setup();
    let inode = std::fs::metadata(&file).unwrap().ino();
    let script = editor(&sb, "true");
    edit(&sb, &script, "EDITOR")
        .success()
        .stderr(predicate::str::contains("no changes"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
    assert_eq!(
        std::fs::metadata(&file).unwrap().ino(),
        inode,
        "not rewritten"
    );
    assert_scratch_gone(&sb);
}

#[test]
fn failing_editor_writes_nothing_and_cleans_up() {
    let (sb, original, file) = setup();
    let script = editor(&sb, "sed -i 's/^  pw: .*/  pw: never/' \"$f\"\nexit 3");
    edit(&sb, &script, "EDITOR").failure().stderr(
        predicate::str::contains("failed").and(predicate::str::contains("nothing was written")),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
    assert_scratch_gone(&sb);
}

#[test]
fn signals_end_the_edit_and_clean_up() {
    for sig in ["INT", "TERM"] {
        let (sb, original, file) = setup();
        // The editor's parent is kubeseal itself.
        let script = editor(&sb, &format!("kill -{sig} $PPID\nexec sleep 30"));
        let start = std::time::Instant::now();
        edit(&sb, &script, "EDITOR")
            .failure()
            .stderr(predicate::str::contains("interrupted"));
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "editor was ended"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
        assert_scratch_gone(&sb);
    }
}

#[test]
fn invalid_edit_writes_nothing_and_does_not_echo_values() {
    let (sb, original, file) = setup();
    let script = editor(&sb, "printf 'bogus: [\\n' >> \"$f\"");
    let out = edit(&sb, &script, "EDITOR").failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("nothing was written"), "{err}");
    assert!(
        !err.contains("old-pw") && !err.contains("keep-value"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
    assert_scratch_gone(&sb);
}
