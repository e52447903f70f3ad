//! `spec.template.data` rendering: the input is a template text, then (after the first NUL
//! byte) the data map, one `key=value` per line — the unsealed items a template sees as dot.
//!
//! Properties: `render` and `check` never panic and stay within the default budget; a template
//! that renders also parses (`check`), and rendering is deterministic for templates without
//! random functions.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let (template, data_text) = text.split_once('\0').unwrap_or((&text, ""));
    let data: BTreeMap<String, String> = data_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    let checked = gotemplate::check("item", template);
    let rendered = gotemplate::render("item", template, &data);
    if rendered.is_ok() {
        assert!(checked.is_ok(), "render succeeded but check failed");
    }
    // Rendering twice gives the same answer unless the template asks for randomness or time.
    let nondeterministic = [
        "rand",
        "uuid",
        "now",
        "date",
        "Date",
        "genPrivateKey",
        "bcrypt",
        "htpasswd",
        "shuffle",
    ]
    .iter()
    .any(|f| template.contains(f));
    if !nondeterministic && let Ok(first) = &rendered {
        let second = gotemplate::render("item", template, &data);
        assert_eq!(
            Some(first),
            second.as_ref().ok(),
            "rendering is not deterministic"
        );
    }
});
