//! What kubeseal writes: files replaced atomically with the right mode, and SealedSecrets
//! cleaned of server-side fields.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Result, anyhow};
use sealed_secrets_core::SealedSecret;

/// Drops what the API server set (uid, resourceVersion, …) and the status.
pub fn clean_for_output(ss: &mut SealedSecret) {
    sealed_secrets_core::seal::strip_server_fields(&mut ss.metadata);
    ss.status = None;
}

/// What a file written by kubeseal holds, which decides its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// Sealed output: a new file follows the umask (0666 & !umask), an existing one keeps its
    /// mode.
    Sealed,
    /// Plaintext (`--recovery-unseal`): always 0600, whatever the umask or the old file's mode.
    Plaintext,
}

/// Writes `path` through a temporary file in the same directory and a rename, so readers
/// never see a partial file and a failed run leaves the old file untouched. The temporary
/// file is created with its final mode (never wider), so plaintext is never readable by
/// others, not even for a moment.
pub fn write_atomically(path: &str, data: &[u8], sensitivity: Sensitivity) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let target = Path::new(path);
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(target)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    // The open mode is filtered by the umask, as for any new file.
    let open_mode = match sensitivity {
        Sensitivity::Plaintext => 0o600,
        Sensitivity::Sealed => existing.unwrap_or(0o666),
    };
    let mut attempt = 0u32;
    let (tmp_path, mut file) = loop {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(".kubeseal-{}-{nanos:09}-{attempt}", std::process::id());
        let candidate = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(open_mode)
            .open(&candidate)
        {
            Ok(f) => break (candidate, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => {
                return Err(anyhow!(
                    "cannot create a temporary file next to {path:?}: {e}"
                ));
            }
        }
    };
    let result = (|| -> Result<()> {
        file.write_all(data)?;
        file.flush()?;
        // An existing sealed file keeps its exact mode (the umask may have narrowed it).
        if let (Sensitivity::Sealed, Some(mode)) = (sensitivity, existing) {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        drop(file);
        std::fs::rename(&tmp_path, target).map_err(|e| anyhow!("cannot write {path:?}: {e}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
}
