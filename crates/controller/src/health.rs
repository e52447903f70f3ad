//! Watch health: which watches fail (readiness) and which permission a 403 says is missing.

use std::sync::atomic::Ordering;

use kube::runtime::watcher;
use tracing::{error, info, warn};

use crate::api::Readiness;

/// The watches that currently fail. Readiness's `caches_synced` is true only when none does.
#[derive(Default)]
pub(crate) struct WatchHealth {
    failing: std::sync::Mutex<std::collections::BTreeSet<String>>,
    any: std::sync::atomic::AtomicBool,
}

impl WatchHealth {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The watch `name` delivered an event.
    pub(crate) fn ok(&self, ready: &Readiness, name: &str) {
        if self.any.load(Ordering::Acquire) {
            let mut f = self.lock();
            if f.remove(name) {
                info!(watch = name, "watch works again");
            }
            self.any.store(!f.is_empty(), Ordering::Release);
        }
        if !self.any.load(Ordering::Acquire) {
            // (Readiness also needs `keys_loaded`, set once the key watch has synced.)
            ready.caches_synced.store(true, Ordering::Release);
        }
    }

    /// The watch `name` (of `resource` in `namespace`, or all namespaces) failed.
    pub(crate) fn failed(
        &self,
        ready: &Readiness,
        name: &str,
        resource: &str,
        namespace: Option<&str>,
        e: &watcher::Error,
    ) {
        let new = self.lock().insert(name.to_string());
        self.any.store(true, Ordering::Release);
        ready.caches_synced.store(false, Ordering::Release);
        let scope = namespace.map_or("all namespaces".to_string(), |n| format!("namespace {n}"));
        match missing_permission(e) {
            Some(perm) if new => error!(watch = name, error = %e,
                "{name} watch forbidden: the controller needs `{perm}` on {resource} in {scope}; not ready"),
            Some(_) => {}
            None => warn!(watch = name, error = %e, "watch failed; retrying"),
        }
    }

    /// Forgets the watches of a term that ended.
    pub(crate) fn forget_prefix(&self, ready: &Readiness, prefix: &str) {
        let mut f = self.lock();
        f.retain(|n| !n.starts_with(prefix));
        self.any.store(!f.is_empty(), Ordering::Release);
        if f.is_empty() {
            ready.caches_synced.store(true, Ordering::Release);
        }
    }
}

/// The permission a watch error says is missing (`list`/`watch`), if it is a 403.
pub(crate) fn missing_permission(e: &watcher::Error) -> Option<&'static str> {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s)) if s.code == 403 => Some("list"),
        watcher::Error::WatchStartFailed(kube::Error::Api(s)) if s.code == 403 => Some("watch"),
        watcher::Error::WatchFailed(kube::Error::Api(s)) if s.code == 403 => Some("watch"),
        watcher::Error::WatchError(s) if s.code == 403 => Some("watch"),
        _ => None,
    }
}
