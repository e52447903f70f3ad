//! The controller's errors. Each has one stable category that feeds the log field, the Event,
//! the `unseal_errors_total{reason}` metric label and the status condition's `reason`.
//! Messages never contain plaintext: unseal errors only name items.

use sealed_secrets_core::UnsealError;
use sealed_secrets_core::reconcile::{IMMUTABLE_MESSAGE, Unmanaged};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SealedSecret could not be unsealed (keys, scope, base64, template…).
    #[error("{0}")]
    Unseal(#[from] UnsealError),
    /// Reading the current Secret failed.
    #[error("cannot read Secret: {0}")]
    Fetch(#[source] kube::Error),
    /// Reading the SealedSecret again (the cache holds no ciphertexts) failed.
    #[error("cannot read SealedSecret: {0}")]
    FetchSealed(#[source] kube::Error),
    /// Writing the Secret failed.
    #[error("cannot write Secret: {0}")]
    Update(#[source] kube::Error),
    /// The Secret exists and belongs to someone else.
    #[error(transparent)]
    Unmanaged(#[from] Unmanaged),
    /// The Secret is immutable and its data would change.
    #[error("{IMMUTABLE_MESSAGE}")]
    Immutable,
    /// The SealedSecret has no UID/namespace (not from the API server).
    #[error("invalid SealedSecret: {0}")]
    Invalid(&'static str),
    /// No sealing key is loaded yet.
    #[error("no sealing keys are loaded")]
    NoKeys,
    /// Leadership was lost (or may have expired): nothing is written.
    #[error("not the leader")]
    NotLeader(#[from] crate::leader::NotLeader),
    /// Writing the status failed.
    #[error("cannot write status: {0}")]
    Status(#[source] kube::Error),
    /// Items open only with keys older than `--key-min-time` (the message names the items
    /// and the keys' fingerprints).
    #[error("{0}")]
    KeyBelowMinimum(String),
}

impl Error {
    /// Stable, lowercase category (upstream's metric reasons plus `immutable`, `invalid`, `keys`).
    pub fn category(&self) -> &'static str {
        match self {
            Error::Unseal(_) => "unseal",
            Error::Fetch(_) | Error::FetchSealed(_) => "fetch",
            Error::Update(_) => "update",
            Error::Unmanaged(_) => "unmanaged",
            Error::Immutable => "immutable",
            Error::Invalid(_) => "invalid",
            Error::NoKeys => "keys",
            Error::Status(_) => "status",
            Error::NotLeader(_) => "leader",
            Error::KeyBelowMinimum(_) => "key-below-minimum",
        }
    }

    /// The Event reason, as upstream: unsealing failures vs. everything about the Secret.
    pub fn event_reason(&self) -> &'static str {
        match self {
            Error::Unseal(_) | Error::NoKeys | Error::Invalid(_) | Error::KeyBelowMinimum(_) => {
                "ErrUnsealFailed"
            }
            _ => "ErrUpdateFailed",
        }
    }

    /// The Event note, as upstream (`Failed to unseal: …`).
    pub fn event_message(&self) -> String {
        match self {
            Error::Unseal(_) | Error::NoKeys | Error::Invalid(_) | Error::KeyBelowMinimum(_) => {
                format!("Failed to unseal: {self}")
            }
            _ => self.to_string(),
        }
    }
}
