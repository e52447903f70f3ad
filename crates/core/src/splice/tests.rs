use super::*;
use proptest::prelude::*;

fn set(items: &[(&str, &str)]) -> ItemChanges {
    ItemChanges {
        set: items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        remove: BTreeSet::new(),
    }
}

fn remove(items: &[&str]) -> ItemChanges {
    ItemChanges {
        set: BTreeMap::new(),
        remove: items.iter().map(|k| k.to_string()).collect(),
    }
}

const YAML: &str = "# leading comment\n---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n    name: s   # the name\n    namespace: ns\nspec:\n    # items\n    encryptedData:\n        a: AAAA   # first\n        \"b.c\": 'BBBB'\n        d: >-\n            DDDD\n            DDDD\n        f: FFFF\n    template:\n        metadata: {}\n---\nkind: Other\n";

const JSON: &str = "{\n  \"kind\": \"SealedSecret\",\n  \"spec\": {\n    \"encryptedData\": {\n      \"a\": \"AAAA\",\n      \"c\": \"CCCC\"\n    },\n    \"template\": {}\n  }\n}\n{\"kind\":\"SealedSecret\",\"spec\":{\"encryptedData\":{\"x\":\"XXXX\"}}}\n";

/// Each change, spliced into the first document of a text, gives that text with just one
/// replacement (what it replaces, by what): comments, quoting, layout and the other documents
/// are kept, in YAML and in JSON.
#[test]
fn a_splice_changes_only_its_items() {
    let cases = [
        (YAML, set(&[("a", "NEW1")]), "a: AAAA", "a: NEW1"),
        (YAML, set(&[("b.c", "NEW2")]), "'BBBB'", "'NEW2'"),
        (
            YAML,
            set(&[("d", "NEW3")]),
            "d: >-\n            DDDD\n            DDDD\n",
            "d: NEW3\n",
        ),
        (
            YAML,
            remove(&["d"]),
            "        d: >-\n            DDDD\n            DDDD\n",
            "",
        ),
        (
            YAML,
            set(&[("e", "EEEE")]),
            "        f: FFFF\n",
            "        e: EEEE\n        f: FFFF\n",
        ),
        (JSON, set(&[("c", "NEW1")]), "CCCC", "NEW1"),
        (
            JSON,
            set(&[("b", "BBBB")]),
            "\"AAAA\",\n      \"c\"",
            "\"AAAA\",\n      \"b\": \"BBBB\",\n      \"c\"",
        ),
        (
            JSON,
            set(&[("d", "DDDD")]),
            "\"CCCC\"\n",
            "\"CCCC\",\n      \"d\": \"DDDD\"\n",
        ),
        (JSON, remove(&["a"]), "\"a\": \"AAAA\",\n      ", ""),
        (JSON, remove(&["c"]), ",\n      \"c\": \"CCCC\"", ""),
    ];
    for (text, changes, from, to) in cases {
        assert_eq!(
            splice(text, 0, &changes).unwrap(),
            text.replace(from, to),
            "{changes:?}"
        );
    }
}

#[test]
fn yaml_new_items_go_in_order_at_the_end() {
    let out = splice(YAML, 0, &set(&[("zz", "ZZZZ"), ("true", "TTTT")])).unwrap();
    assert!(
        out.contains("        f: FFFF\n        \"true\": TTTT\n        zz: ZZZZ\n    template:"),
        "{out}"
    );
}

#[test]
fn yaml_empty_data_and_second_document() {
    let y = "kind: SealedSecret\nspec:\n  encryptedData:\n  template: {}\n---\nkind: SealedSecret\nspec:\n  encryptedData:\n    x: XXXX\n";
    let out = splice(y, 0, &set(&[("a", "AAAA")])).unwrap();
    assert!(
        out.starts_with(
            "kind: SealedSecret\nspec:\n  encryptedData:\n    a: AAAA\n  template: {}\n---\n"
        ),
        "{out}"
    );
    let out = splice(y, 1, &remove(&["x"])).unwrap();
    assert_eq!(out, y.replace("    x: XXXX\n", ""));
    assert_eq!(
        splice(y, 2, &remove(&["x"])).unwrap_err(),
        SpliceError::NoSuchDocument(3)
    );
}

#[test]
fn yaml_flow_mapping_is_refused() {
    let y = "kind: SealedSecret\nspec:\n  encryptedData: {a: AAAA}\n";
    assert!(matches!(
        splice(y, 0, &set(&[("a", "BBBB")])).unwrap_err(),
        SpliceError::Layout { .. }
    ));
}

#[test]
fn json_second_document() {
    let out = splice(JSON, 1, &remove(&["x"])).unwrap();
    assert!(out.ends_with("{\"encryptedData\":{}}}\n"), "{out}");
    let out = splice(&out, 1, &set(&[("y", "YYYY")])).unwrap();
    assert!(
        out.ends_with("{\"encryptedData\":{\"y\": \"YYYY\"}}}\n"),
        "{out}"
    );
}

fn items() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map("[a-z][a-z0-9._-]{0,8}", "[A-Za-z0-9+/]{4,40}={0,2}", 0..6)
}

fn render(items: &BTreeMap<String, String>, json: bool, comments: bool) -> String {
    let v = serde_json::json!({
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"encryptedData": items, "template": {"metadata": {"name": "s"}}}
    });
    let mut text = if json {
        codec::to_json(&v).unwrap()
    } else {
        codec::render(&v, codec::Format::Yaml).unwrap()
    };
    if comments && !json {
        text = text.replace(
            "encryptedData:\n",
            "encryptedData: # the items\n    # inside\n",
        );
    }
    // Two documents: the first must never change.
    format!("{text}{text}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Setting items and removing others changes only those items; setting the old values
    /// back restores the file byte for byte.
    #[test]
    fn only_named_items_change(
        orig in items(), new in items(), drop in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
        json in any::<bool>(), comments in any::<bool>(),
    ) {
        let text = render(&orig, json, comments);
        let names: Vec<&String> = orig.keys().collect();
        let mut changes = ItemChanges { set: new.clone(), remove: BTreeSet::new() };
        if !names.is_empty() {
            for d in &drop {
                let k = names[d.index(names.len())];
                if !new.contains_key(k) {
                    changes.remove.insert(k.clone());
                }
            }
        }
        let out = splice(&text, 1, &changes).unwrap();
        let docs = documents(&out).unwrap();
        prop_assert_eq!(&out[docs[0].clone()], &text[documents(&text).unwrap()[0].clone()]);
        let parsed = codec::parse_documents(out.as_bytes()).unwrap();
        let mut want = orig.clone();
        for k in &changes.remove { want.remove(k); }
        want.extend(new.clone());
        let got: BTreeMap<String, String> = serde_json::from_value(
            parsed[1]["spec"]["encryptedData"].clone()).unwrap_or_default();
        prop_assert_eq!(got, want);
        prop_assert_eq!(&parsed[0], &codec::parse_documents(text.as_bytes()).unwrap()[0]);
        // Untouched items keep their exact text.
        for (k, v) in &orig {
            if !changes.set.contains_key(k) && !changes.remove.contains(k) {
                prop_assert!(out.contains(v.as_str()));
            }
        }
        // Replacing values with the old ones restores the file.
        let back = ItemChanges {
            set: new.keys().filter_map(|k| orig.get(k).map(|v| (k.clone(), v.clone()))).collect(),
            remove: BTreeSet::new(),
        };
        let restored = splice(&out, 1, &back).unwrap();
        if changes.remove.is_empty() && new.keys().all(|k| orig.contains_key(k)) {
            prop_assert_eq!(restored, text);
        }
    }
}
