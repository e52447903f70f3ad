//! `--validate`: asks the controller (`/v1/verify`) whether it can decrypt each SealedSecret
//! in the input; nothing is printed on success.

use anyhow::{Result, anyhow, bail};

use crate::cluster::{ControllerRef, runtime};
use crate::input::Input;

pub fn run(controller: &ControllerRef, input: &mut Input) -> Result<()> {
    let docs = input.sealed_secrets()?;
    runtime()?.block_on(async {
        let ctl = controller.connect().await?;
        for ss in docs {
            let body = serde_json::to_vec(&ss)?;
            if !ctl
                .verify(body)
                .await
                .map_err(|e| anyhow!("cannot validate sealed secret: {e}"))?
            {
                bail!(
                    "unable to decrypt sealed secret: {}",
                    ss.metadata.name.as_deref().unwrap_or_default()
                );
            }
        }
        Ok(())
    })
}
