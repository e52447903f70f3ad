//! Writing the Secret: create, replace or leave it as the plan says, fenced (only the leader
//! writes) and stamped with the MAC of its content; every plaintext copy is wiped.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use sealed_secrets_core::reconcile::{IMMUTABLE_SUFFIX, SecretAction, plan_secret};
use sealed_secrets_core::syncmac;
use sealed_secrets_core::unseal::wipe_secret;
use tracing::debug;

use super::Outcome;
use crate::error::Error;
use crate::keys::{KeyEntry, KeyRegistry};

/// How a written Secret is fenced and stamped with its MAC.
pub(super) struct Stamp<'a> {
    pub(super) fence: &'a crate::leader::Fence,
    pub(super) digest: &'a [u8; 32],
    pub(super) key: &'a KeyEntry,
    pub(super) keys: &'a KeyRegistry,
}

impl Stamp<'_> {
    /// Stamps `s` and checks the fence; wipes `s` if the write must not happen.
    fn prepare(&self, s: &mut Secret) -> Result<(), Error> {
        syncmac::stamp(s, self.digest, &self.key.mac);
        if let Err(e) = self.fence.check() {
            wipe_secret(s);
            return Err(e.into());
        }
        Ok(())
    }
}

/// True if `secret` carries a valid MAC for `digest` under a loaded key.
pub fn mac_matches(keys: &KeyRegistry, secret: &Secret, digest: &[u8; 32]) -> bool {
    let Some(entry) = syncmac::stamped_key(secret).and_then(|fp| keys.mac_key(fp)) else {
        return false;
    };
    syncmac::verify(secret, digest, |id| {
        (id == entry.key.fingerprint()).then_some(&entry.mac)
    })
}

/// Replaces the Secret with `s`, then wipes `s` and the API server's echo of it; the new
/// resourceVersion.
async fn replace_and_wipe(
    secrets: &Api<Secret>,
    name: &str,
    mut s: Secret,
) -> Result<Option<String>, kube::Error> {
    let res = secrets.replace(name, &PostParams::default(), &s).await;
    wipe_secret(&mut s);
    res.map(|mut updated| {
        wipe_secret(&mut updated);
        updated.metadata.resource_version.take()
    })
}

/// Creates or updates the Secret according to the plan. When the Secret was not read first
/// and creation reports that it exists, reads it and plans again. Every written Secret carries
/// the MAC of its content; a Secret whose content is right but whose MAC is missing or stale is
/// stamped once.
pub(super) async fn write_secret(
    secrets: &Api<Secret>,
    name: &str,
    existing: Option<&Secret>,
    probed: bool,
    desired: Secret,
    uid: &str,
    stamp: &Stamp<'_>,
) -> Result<(Outcome, Option<String>), Error> {
    match plan_secret(existing, desired, uid)? {
        SecretAction::Unchanged => {
            let current_rv = existing.and_then(|s| s.metadata.resource_version.clone());
            let Some(e) = existing else {
                return Ok((Outcome::Unchanged, current_rv));
            };
            if mac_matches(stamp.keys, e, stamp.digest) {
                return Ok((Outcome::Unchanged, current_rv));
            }
            let mut s = e.clone();
            stamp.prepare(&mut s)?;
            match replace_and_wipe(secrets, name, s).await {
                Ok(rv) => Ok((Outcome::Unchanged, rv)),
                Err(e) => {
                    // Only the record is missing; the Secret itself is right.
                    debug!(name, error = %e, "cannot record the MAC on the Secret");
                    Ok((Outcome::Unchanged, current_rv))
                }
            }
        }
        SecretAction::Create(mut s) => {
            stamp.prepare(&mut s)?;
            match secrets.create(&PostParams::default(), &s).await {
                Ok(mut created) => {
                    wipe_secret(&mut s);
                    // The API server echoes the data back.
                    wipe_secret(&mut created);
                    Ok((Outcome::Created, created.metadata.resource_version.take()))
                }
                Err(kube::Error::Api(status)) if status.code == 409 && !probed => {
                    let mut current = secrets.get_opt(name).await.map_err(Error::Fetch)?;
                    let res = Box::pin(write_secret(
                        secrets,
                        name,
                        current.as_ref(),
                        true,
                        s,
                        uid,
                        stamp,
                    ))
                    .await;
                    if let Some(c) = current.as_mut() {
                        wipe_secret(c);
                    }
                    res
                }
                Err(e) => {
                    wipe_secret(&mut s);
                    Err(Error::Update(e))
                }
            }
        }
        SecretAction::Update(mut s) => {
            stamp.prepare(&mut s)?;
            match replace_and_wipe(secrets, name, s).await {
                Ok(rv) => Ok((Outcome::Updated, rv)),
                Err(kube::Error::Api(status)) if status.message.ends_with(IMMUTABLE_SUFFIX) => {
                    Err(Error::Immutable)
                }
                Err(e) => Err(Error::Update(e)),
            }
        }
    }
}
