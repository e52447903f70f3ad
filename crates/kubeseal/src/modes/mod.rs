//! One file a mode. Each takes its own options, made once from the flags by
//! `run::Invocation::from_cli`; the modes that print write into a buffer that `run` sends to
//! stdout or `-w`. `set`, `edit` and `reencrypt_many` change sealed files in place
//! (`crate::sealed_file`).

pub mod edit;
pub mod key_usage;
pub mod merge_into;
pub mod raw;
pub mod recovery;
pub mod reencrypt;
pub mod reencrypt_many;
pub mod seal;
pub mod set;
pub mod validate;
