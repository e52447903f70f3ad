//! SealedSecret parsing, as `/v1/verify` and `/v1/rotate` read their bodies (one document,
//! `kind: SealedSecret`) and as `kubeseal` reads `--re-encrypt` / `--validate` / `--merge-into`
//! input (several documents).
//!
//! Properties: no panic; whatever parses survives kubeseal's output formats unchanged: written
//! as JSON or YAML (`codec::render_sealed_secret`) and read back, the object is the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::codec::{self, Format};
use sealed_secrets_core::{Scope, SealedSecret};

/// The HTTP API's body parser (crates/controller/src/api.rs `parse_body`).
fn http_body(input: &[u8]) -> Option<SealedSecret> {
    let value = codec::parse_single(input).ok()?;
    if value.get("kind").and_then(|k| k.as_str()) != Some("SealedSecret") {
        return None;
    }
    serde_json::from_value(value).ok()
}

fn round_trip(ss: &SealedSecret) {
    let expected = ss;
    for format in [Format::Json, Format::Yaml] {
        let text = match codec::render_sealed_secret(ss, format) {
            Ok(t) => t,
            Err(e) => panic!("cannot write a parsed SealedSecret as {format:?}: {e}"),
        };
        let back = match codec::parse_single(text.as_bytes()) {
            Ok(v) => v,
            Err(e) => panic!("cannot read back our own {format:?}: {e}\n{text}"),
        };
        let back: SealedSecret = match serde_json::from_value(back) {
            Ok(s) => s,
            Err(e) => panic!("our own {format:?} is not a SealedSecret: {e}\n{text}"),
        };
        assert!(
            expected.metadata == back.metadata && expected.spec == back.spec,
            "{format:?} round trip changed the object:\n{text}"
        );
    }
}

fuzz_target!(|input: &[u8]| {
    if let Some(ss) = http_body(input) {
        let _ = Scope::from_annotations(ss.metadata.annotations.as_ref());
        let _ = sealed_secrets_core::unseal::label_for(&ss);
        let _ = ss.synced_condition();
        round_trip(&ss);
    }
    if let Ok(docs) = codec::parse_documents(input) {
        for doc in docs {
            if let Ok(ss) = serde_json::from_value::<SealedSecret>(doc) {
                round_trip(&ss);
            }
        }
    }
});
