//! Test harness for the e2e suite: a real local control plane (`scripts/control-plane.sh`),
//! one random namespace per test, and a real controller process per test, scoped to that
//! namespace (its keys live there too), so tests run in parallel without seeing each other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use sealed_secrets_core::{
    Certificate, InputSecret, SealOptions, SealedSecret, SealedSecretCondition, seal,
};

pub use sealed_secrets_core;

pub mod netns;

mod cluster;
mod controller;
mod http_client;
mod objects;

pub use cluster::*;
pub use controller::*;
pub use http_client::*;
pub use objects::*;
