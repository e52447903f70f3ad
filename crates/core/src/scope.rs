//! Sealing scopes and the OAEP label each one implies.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::annotations::{CLUSTER_WIDE, NAMESPACE_WIDE};

/// How far a sealed value may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Scope {
    /// Bound to one namespace and one name (label `namespace/name`). The default.
    #[default]
    Strict,
    /// Bound to one namespace (label `namespace`).
    NamespaceWide,
    /// Anywhere (empty label).
    ClusterWide,
}

impl Scope {
    /// The scope annotated on an object: `cluster-wide: "true"` wins over
    /// `namespace-wide: "true"`; any other value counts as absent.
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Self {
        let is_true =
            |k: &str| annotations.and_then(|a| a.get(k)).map(String::as_str) == Some("true");
        if is_true(CLUSTER_WIDE) {
            Scope::ClusterWide
        } else if is_true(NAMESPACE_WIDE) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// The OAEP label for an object called `name` in `namespace`.
    pub fn label(self, namespace: &str, name: &str) -> Vec<u8> {
        match self {
            Scope::Strict => format!("{namespace}/{name}").into_bytes(),
            Scope::NamespaceWide => namespace.as_bytes().to_vec(),
            Scope::ClusterWide => Vec::new(),
        }
    }

    /// Rewrites the scope annotations in `annotations` to express `self`
    /// (upstream's `UpdateScopeAnnotations`).
    pub fn apply_to(self, annotations: &mut BTreeMap<String, String>) {
        annotations.remove(NAMESPACE_WIDE);
        annotations.remove(CLUSTER_WIDE);
        match self {
            Scope::Strict => {}
            Scope::NamespaceWide => {
                annotations.insert(NAMESPACE_WIDE.into(), "true".into());
            }
            Scope::ClusterWide => {
                annotations.insert(CLUSTER_WIDE.into(), "true".into());
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error text of upstream's flag parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: strict, namespace-wide, cluster-wide")]
pub struct ScopeParseError;

impl FromStr for Scope {
    type Err = ScopeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "strict" => Ok(Scope::Strict),
            "namespace-wide" => Ok(Scope::NamespaceWide),
            "cluster-wide" => Ok(Scope::ClusterWide),
            _ => Err(ScopeParseError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels() {
        assert_eq!(Scope::Strict.label("ns", "n"), b"ns/n");
        assert_eq!(Scope::NamespaceWide.label("ns", "n"), b"ns");
        assert_eq!(Scope::ClusterWide.label("ns", "n"), b"");
    }

    #[test]
    fn annotations_precedence_and_exact_true() {
        assert_eq!(Scope::from_annotations(None), Scope::Strict);
        let both = ann(&[(CLUSTER_WIDE, "true"), (NAMESPACE_WIDE, "true")]);
        assert_eq!(Scope::from_annotations(Some(&both)), Scope::ClusterWide);
        let ns = ann(&[(NAMESPACE_WIDE, "true"), (CLUSTER_WIDE, "True")]);
        assert_eq!(Scope::from_annotations(Some(&ns)), Scope::NamespaceWide);
        let yes = ann(&[(CLUSTER_WIDE, "yes")]);
        assert_eq!(Scope::from_annotations(Some(&yes)), Scope::Strict);
    }

    #[test]
    fn apply_and_parse() {
        let mut a = ann(&[(CLUSTER_WIDE, "true"), ("x", "y")]);
        Scope::NamespaceWide.apply_to(&mut a);
        assert_eq!(a, ann(&[(NAMESPACE_WIDE, "true"), ("x", "y")]));
        Scope::Strict.apply_to(&mut a);
        assert_eq!(a, ann(&[("x", "y")]));
        for s in [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide] {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), s);
        }
        assert!("global".parse::<Scope>().is_err());
    }

    #[test]
    fn cluster_wide_annotation_empty_flag_and_display() {
        let mut a = ann(&[(NAMESPACE_WIDE, "true")]);
        Scope::ClusterWide.apply_to(&mut a);
        assert_eq!(a, ann(&[(CLUSTER_WIDE, "true")]));
        assert_eq!("".parse::<Scope>().unwrap(), Scope::Strict);
        assert_eq!(Scope::NamespaceWide.to_string(), "namespace-wide");
        assert_eq!(
            format!("{}/{}", Scope::ClusterWide, Scope::Strict),
            "cluster-wide/strict"
        );
    }
}
