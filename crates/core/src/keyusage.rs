//! Which sealing keys a SealedSecret needs: the record kept in `status.keys`, per-key tallies,
//! the key hint annotation, the minimum-key cutoff, and the retirement report of
//! `kubeseal --key-usage`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::annotations::KEY_HINT;
use crate::types::{SealedSecret, SealedSecretKeyUsage};

/// The `status.keys` record of one unseal: for each key fingerprint, the items it opened
/// (sorted by fingerprint, items sorted). `item_keys` pairs each item with the index of the
/// key that opened it ([`crate::Unsealed::item_keys`]); `fingerprint` maps that index to the
/// key's fingerprint (indices it cannot map are left out).
pub fn record(
    item_keys: &[(String, usize)],
    fingerprint: impl Fn(usize) -> Option<String>,
) -> Vec<SealedSecretKeyUsage> {
    let mut by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (item, idx) in item_keys {
        if let Some(fp) = fingerprint(*idx) {
            by_key.entry(fp).or_default().insert(item.clone());
        }
    }
    by_key
        .into_iter()
        .map(|(fingerprint, items)| SealedSecretKeyUsage {
            fingerprint,
            items: items.into_iter().collect(),
        })
        .collect()
}

/// The key record in the object's status, if any.
pub fn recorded(ss: &SealedSecret) -> Option<&[SealedSecretKeyUsage]> {
    ss.status.as_ref()?.keys.as_deref()
}

/// True if the status says the object was unsealed successfully at its current generation
/// and carries a key record: the record then says exactly which keys its items need.
pub fn is_current(ss: &SealedSecret) -> bool {
    let Some(status) = ss.status.as_ref() else {
        return false;
    };
    status.keys.is_some()
        && status.observed_generation == ss.metadata.generation
        && ss.synced_condition().is_some_and(|c| c.status == "True")
}

/// Per key fingerprint: how many SealedSecrets need it and how many of their items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub sealed_secrets: u64,
    pub items: u64,
}

/// Adds up records (one per SealedSecret). A key listed twice in one record counts that
/// SealedSecret once.
pub fn tally<'a>(
    records: impl IntoIterator<Item = &'a [SealedSecretKeyUsage]>,
) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for record in records {
        let mut seen = BTreeSet::new();
        for usage in record {
            let t = out.entry(usage.fingerprint.clone()).or_default();
            if seen.insert(usage.fingerprint.as_str()) {
                t.sealed_secrets += 1;
            }
            t.items += usage.items.len() as u64;
        }
    }
    out
}

/// The key hint annotation's value (a fingerprint), if present and non-empty.
pub fn hint(ss: &SealedSecret) -> Option<&str> {
    ss.metadata
        .annotations
        .as_ref()?
        .get(KEY_HINT)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
}

/// Moves the entry whose fingerprint equals `hint` to the front, keeping the order of the
/// others. The hint only changes the order keys are tried in: an entry that does not exist
/// or does not open an item costs one failed attempt, nothing else.
pub fn hint_first<T>(hint: Option<&str>, entries: &mut Vec<T>, fingerprint: impl Fn(&T) -> &str) {
    let Some(h) = hint else { return };
    if let Some(pos) = entries.iter().position(|e| fingerprint(e) == h)
        && pos != 0
    {
        let e = entries.remove(pos);
        entries.insert(0, e);
    }
}

/// A loaded key as the controller's `/v1/keys` describes it (public data only).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ActiveKey {
    pub fingerprint: String,
    /// The key Secret's name.
    pub secret: String,
    /// The key Secret's creationTimestamp (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_unix: Option<i64>,
    /// The certificate's NotBefore (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_unix: Option<i64>,
    /// True for the key new SealedSecrets are sealed with.
    pub sealing: bool,
    /// True if the key is older than the minimum-key cutoff (`--key-min-time`).
    #[serde(default)]
    pub below_minimum: bool,
}

/// One SealedSecret that needs a key, and how many of its items.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Needer {
    pub namespace: String,
    pub name: String,
    pub items: usize,
}

/// The report line of one active key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyLine {
    #[serde(flatten)]
    pub key: ActiveKey,
    pub needed_by: Vec<Needer>,
    pub safe_to_retire: bool,
    /// Why not, when not safe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What `kubeseal --key-usage` prints.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub keys: Vec<KeyLine>,
    /// SealedSecrets (`namespace/name`) whose key needs are not known: no key record, or not
    /// unsealed successfully at their current generation. While any exist, no key is safe.
    pub unknown: Vec<String>,
    /// Fingerprints named in key records that belong to no active key, with who needs them
    /// (keys already removed: restore them from a backup).
    pub missing: BTreeMap<String, Vec<String>>,
}

/// Builds the report: for each active key, which of `objects` need it (from their status),
/// and whether it is safe to retire. A key is safe only if it is not the sealing key, no
/// record names it, and every object's needs are known. A record stays counted even when the
/// object is not current (it fails, or was changed since): retirement errs on keeping keys.
pub fn report(keys: &[ActiveKey], objects: &[SealedSecret]) -> Report {
    let mut needers: BTreeMap<&str, Vec<Needer>> = BTreeMap::new();
    let mut unknown = Vec::new();
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let active: BTreeSet<&str> = keys.iter().map(|k| k.fingerprint.as_str()).collect();
    for ss in objects {
        let ns = ss.metadata.namespace.clone().unwrap_or_default();
        let name = ss.metadata.name.clone().unwrap_or_default();
        if !is_current(ss) {
            unknown.push(format!("{ns}/{name}"));
        }
        for usage in recorded(ss).unwrap_or_default() {
            match active.get(usage.fingerprint.as_str()) {
                Some(fp) => needers.entry(fp).or_default().push(Needer {
                    namespace: ns.clone(),
                    name: name.clone(),
                    items: usage.items.len(),
                }),
                None => missing
                    .entry(usage.fingerprint.clone())
                    .or_default()
                    .push(format!("{ns}/{name}")),
            }
        }
    }
    unknown.sort();
    let lines = keys
        .iter()
        .map(|k| {
            let mut needed_by = needers.remove(k.fingerprint.as_str()).unwrap_or_default();
            needed_by.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            let reason = if k.sealing {
                Some("it is the sealing key".to_string())
            } else if !needed_by.is_empty() {
                Some(format!("needed by {} SealedSecret(s)", needed_by.len()))
            } else if !unknown.is_empty() {
                Some(format!(
                    "the key needs of {} SealedSecret(s) are not known",
                    unknown.len()
                ))
            } else {
                None
            };
            KeyLine {
                key: k.clone(),
                needed_by,
                safe_to_retire: reason.is_none(),
                reason,
            }
        })
        .collect();
    Report {
        keys: lines,
        unknown,
        missing,
    }
}

/// Items of an unseal record that were opened by keys the cutoff excludes, as
/// `(item, fingerprint)`; `too_old` says whether a fingerprint is below the minimum.
pub fn below_minimum(
    record: &[SealedSecretKeyUsage],
    too_old: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for usage in record {
        if too_old(&usage.fingerprint) {
            for item in &usage.items {
                out.push((item.clone(), usage.fingerprint.clone()));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{SealedSecretCondition, SealedSecretSpec, SealedSecretStatus};

    fn usage(fp: &str, items: &[&str]) -> SealedSecretKeyUsage {
        SealedSecretKeyUsage {
            fingerprint: fp.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn object(
        ns: &str,
        name: &str,
        keys: Option<Vec<SealedSecretKeyUsage>>,
        ok: bool,
    ) -> SealedSecret {
        let mut ss = SealedSecret::new(name, SealedSecretSpec::default());
        ss.metadata.namespace = Some(ns.into());
        ss.metadata.generation = Some(2);
        ss.status = Some(SealedSecretStatus {
            observed_generation: Some(2),
            conditions: Some(vec![SealedSecretCondition {
                type_: "Synced".into(),
                status: if ok { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            keys,
        });
        ss
    }

    fn key(fp: &str, sealing: bool) -> ActiveKey {
        ActiveKey {
            fingerprint: fp.into(),
            secret: format!("s-{fp}"),
            created_unix: Some(1),
            not_before_unix: None,
            sealing,
            below_minimum: false,
        }
    }

    #[test]
    fn record_groups_every_item_by_key() {
        let fps = ["A", "B"];
        let items = vec![
            ("z".to_string(), 1),
            ("x".to_string(), 0),
            ("y".to_string(), 1),
            ("lost".to_string(), 7),
        ];
        let r = record(&items, |i| fps.get(i).map(|s| s.to_string()));
        assert_eq!(r, vec![usage("A", &["x"]), usage("B", &["y", "z"])]);
        assert!(record(&[], |_| None).is_empty());
    }

    #[test]
    fn tally_counts_objects_and_every_item() {
        let a_only = vec![usage("A", &["p", "q"])];
        let mixed = vec![usage("A", &["x"]), usage("B", &["y", "z"])];
        let b_only = vec![usage("B", &["u", "v"])];
        let t = tally([a_only.as_slice(), mixed.as_slice(), b_only.as_slice()]);
        assert_eq!(
            t["A"],
            Tally {
                sealed_secrets: 2,
                items: 3
            }
        );
        assert_eq!(
            t["B"],
            Tally {
                sealed_secrets: 2,
                items: 4
            }
        );
        // A record naming a key twice still counts the object once.
        let dup = vec![usage("C", &["a"]), usage("C", &["b"])];
        assert_eq!(
            tally([dup.as_slice()])["C"],
            Tally {
                sealed_secrets: 1,
                items: 2
            }
        );
    }

    #[test]
    fn current_needs_synced_record_at_generation() {
        assert!(is_current(&object("n", "a", Some(vec![]), true)));
        assert!(!is_current(&object("n", "a", None, true)));
        assert!(!is_current(&object("n", "a", Some(vec![]), false)));
        let mut stale = object("n", "a", Some(vec![]), true);
        stale.metadata.generation = Some(3);
        assert!(!is_current(&stale));
        assert!(!is_current(&SealedSecret::new(
            "x",
            SealedSecretSpec::default()
        )));
    }

    #[test]
    fn hint_only_reorders() {
        let mut ss = SealedSecret::new("x", SealedSecretSpec::default());
        assert_eq!(hint(&ss), None);
        ss.metadata.annotations = Some([(KEY_HINT.to_string(), " C ".to_string())].into());
        assert_eq!(hint(&ss), Some("C"));
        let mut v = vec!["A", "B", "C", "D"];
        hint_first(hint(&ss), &mut v, |s| s);
        assert_eq!(v, ["C", "A", "B", "D"]);
        let mut v = vec!["A", "B"];
        hint_first(Some("nope"), &mut v, |s| s);
        assert_eq!(v, ["A", "B"]);
        hint_first(None, &mut v, |s| s);
        assert_eq!(v, ["A", "B"]);
    }

    #[test]
    fn report_says_who_needs_each_key_and_what_is_safe() {
        let keys = [key("A", false), key("B", true), key("C", false)];
        let objects = [
            object("ns", "a-only", Some(vec![usage("A", &["p", "q"])]), true),
            object(
                "ns",
                "mixed",
                Some(vec![usage("A", &["x"]), usage("B", &["y"])]),
                true,
            ),
            object("ns", "b-only", Some(vec![usage("B", &["u"])]), true),
            object("old", "gone", Some(vec![usage("Z", &["k"])]), true),
        ];
        let r = report(&keys, &objects);
        let a = &r.keys[0];
        assert_eq!(
            a.needed_by
                .iter()
                .map(|n| format!("{}/{}:{}", n.namespace, n.name, n.items))
                .collect::<Vec<_>>(),
            ["ns/a-only:2", "ns/mixed:1"]
        );
        assert!(!a.safe_to_retire);
        assert!(!r.keys[1].safe_to_retire, "the sealing key is never safe");
        assert!(r.keys[2].safe_to_retire, "{:?}", r.keys[2]);
        assert_eq!(r.missing["Z"], ["old/gone"]);
        assert!(r.unknown.is_empty());

        // An object without a record (or failing) makes every key unsafe, and a failing
        // object's old record still counts.
        let mut more = objects.to_vec();
        more.push(object("ns", "new", None, true));
        more.push(object("ns", "bad", Some(vec![usage("C", &["k"])]), false));
        let r = report(&keys, &more);
        assert_eq!(r.unknown, ["ns/bad", "ns/new"]);
        assert!(r.keys.iter().all(|k| !k.safe_to_retire));
        assert_eq!(r.keys[2].needed_by.len(), 1);
    }

    #[test]
    fn below_minimum_lists_items_of_old_keys() {
        let rec = vec![usage("A", &["x", "w"]), usage("B", &["y"])];
        assert_eq!(
            below_minimum(&rec, |fp| fp == "A"),
            vec![
                ("w".to_string(), "A".to_string()),
                ("x".to_string(), "A".to_string())
            ]
        );
        assert!(below_minimum(&rec, |_| false).is_empty());
    }
}
