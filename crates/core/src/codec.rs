//! Reading and writing Kubernetes objects as JSON or YAML, like kubectl and upstream kubeseal:
//! multi-document YAML or concatenated JSON in, pretty JSON or sorted-key YAML out.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::types::SealedSecret;

/// Why input could not be read as Kubernetes objects. Messages never quote document content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("invalid JSON input (line {line}, column {column}): {kind}")]
    Json {
        line: usize,
        column: usize,
        kind: &'static str,
    },
    #[error("invalid YAML input: {0}")]
    Yaml(String),
    #[error("document {0} is not an object (expected a YAML mapping or JSON object)")]
    NotAnObject(usize),
    #[error("cannot serialize output: {0}")]
    Serialize(String),
}

/// Output formats of `kubeseal -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Json,
    Yaml,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" | "" => Ok(Format::Json),
            "yaml" => Ok(Format::Yaml),
            other => Err(format!("unsupported output format: {other}")),
        }
    }
}

fn json_error(e: &serde_json::Error) -> CodecError {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "unexpected end of input",
    };
    CodecError::Json {
        line: e.line(),
        column: e.column(),
        kind,
    }
}

/// Splits input into documents. JSON input (first non-blank byte `{` or `[`) may hold several
/// concatenated values; YAML input may hold several `---`-separated documents. Empty (null)
/// documents are skipped; every other document must be an object.
pub fn parse_documents(input: &[u8]) -> Result<Vec<serde_json::Value>, CodecError> {
    let first = input.iter().find(|b| !b.is_ascii_whitespace());
    let docs: Vec<serde_json::Value> = if matches!(first, Some(b'{') | Some(b'[')) {
        serde_json::Deserializer::from_slice(input)
            .into_iter::<serde_json::Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| json_error(&e))?
    } else {
        let text = std::str::from_utf8(input)
            .map_err(|_| CodecError::Yaml("input is not valid UTF-8".into()))?;
        serde_saphyr::from_multiple::<serde_json::Value>(text).map_err(|e| yaml_error(&e))?
    };
    let mut out = Vec::with_capacity(docs.len());
    for (i, doc) in docs.into_iter().enumerate() {
        match doc {
            serde_json::Value::Null => continue,
            serde_json::Value::Object(_) => out.push(doc),
            _ => return Err(CodecError::NotAnObject(i + 1)),
        }
    }
    Ok(out)
}

/// YAML parser errors can quote the offending source line or a key, which may hold a secret
/// value; keep only the position and the description up to the first quote or colon
/// (`line 5 column 3: duplicate mapping key`, never the key itself).
fn yaml_error(e: &serde_saphyr::Error) -> CodecError {
    let msg = e.to_string();
    let first_line = msg.lines().next().unwrap_or_default().trim();
    let rest = first_line.strip_prefix("error: ").unwrap_or(first_line);
    let (location, description) = match rest.split_once(": ") {
        Some((loc, desc)) if loc.starts_with("line ") => (Some(loc), desc),
        _ => (None, rest),
    };
    let description = description
        .split([':', '`', '"', '\''])
        .next()
        .unwrap_or_default()
        .trim();
    let description = if description.is_empty() {
        "syntax error"
    } else {
        description
    };
    CodecError::Yaml(match location {
        Some(loc) => format!("{loc}: {description}"),
        None => description.to_string(),
    })
}

/// Go's `base64.StdEncoding` as used by `encoding/json` for `[]byte` (Secret `data`, key
/// backups): standard alphabet with `=` padding, non-zero trailing bits accepted.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Decodes a base64 value the way upstream (Go) does: like [`GO_STD_BASE64`], and CR and LF
/// anywhere in the input are ignored (so a value wrapped over several lines, e.g. a YAML `|`
/// block, is accepted). The result is wiped on drop; `None` if the value is not valid base64.
pub fn decode_base64_like_go(value: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let is_newline = |b: &u8| matches!(b, b'\r' | b'\n');
    let decoded = if value.iter().any(is_newline) {
        let joined: Zeroizing<Vec<u8>> =
            Zeroizing::new(value.iter().copied().filter(|b| !is_newline(b)).collect());
        GO_STD_BASE64.decode(joined.as_slice())
    } else {
        GO_STD_BASE64.decode(value)
    };
    decoded.ok().map(Zeroizing::new)
}

/// What a manifest's `kind` says, against the kind a reader expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The expected kind.
    Expected,
    /// No `kind` (or `null`); upstream's decoders accept that where the type is known.
    Missing,
    /// Another kind.
    Other(String),
    /// A `kind` that is not a string.
    NotAString,
}

/// The one check of a manifest's `kind`, for every reader of manifests (kubeseal's inputs,
/// sealing, the controller's HTTP API); each decides whether a missing kind will do.
pub fn kind(value: &serde_json::Value, expected: &str) -> Kind {
    match value.get("kind") {
        None | Some(serde_json::Value::Null) => Kind::Missing,
        Some(serde_json::Value::String(k)) if k == expected => Kind::Expected,
        Some(serde_json::Value::String(k)) => Kind::Other(k.clone()),
        Some(_) => Kind::NotAString,
    }
}

/// Parses exactly one object (used for `--merge-into`, `--recovery-unseal`, HTTP bodies).
pub fn parse_single(input: &[u8]) -> Result<serde_json::Value, CodecError> {
    let mut docs = parse_documents(input)?;
    match docs.len() {
        0 => Err(CodecError::NotAnObject(1)),
        1 => Ok(docs.remove(0)),
        _ => Err(CodecError::Yaml(
            "expected a single document, found several".into(),
        )),
    }
}

/// Pretty JSON with a trailing newline, as kubeseal prints it.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, CodecError> {
    let mut s =
        serde_json::to_string_pretty(value).map_err(|e| CodecError::Serialize(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// YAML with keys sorted alphabetically (through a `serde_json::Value`), without a leading
/// `---`.
pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, serde_saphyr::ser::Error> {
    let v =
        serde_json::to_value(value).map_err(|e| serde_saphyr::ser::Error::from(e.to_string()))?;
    // Long single-line strings (ciphertexts) stay plain scalars instead of folded blocks;
    // multi-line strings (templates) still use literal blocks.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    let mut s = serde_saphyr::to_string_with_options(&v, options)?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// The generated CustomResourceDefinition as YAML (what `deploy/crd.yaml` holds).
pub fn crd_yaml() -> Result<String, serde_saphyr::ser::Error> {
    use kube::CustomResourceExt;
    let crd = SealedSecret::crd();
    let value = serde_json::to_value(&crd).unwrap_or_default();
    to_yaml(&value)
}

/// One object in the given output format: JSON pretty-printed, YAML preceded by `---`.
pub fn render<T: Serialize>(value: &T, format: Format) -> Result<String, CodecError> {
    match format {
        Format::Json => to_json(value),
        Format::Yaml => to_yaml(value)
            .map(|y| format!("---\n{y}"))
            .map_err(|e| CodecError::Serialize(e.to_string())),
    }
}

/// A SealedSecret as kubeseal writes it: in JSON `kind` and `apiVersion` first; no status.
pub fn render_sealed_secret(ss: &SealedSecret, format: Format) -> Result<String, CodecError> {
    #[derive(Serialize)]
    struct Out<'a> {
        kind: &'a str,
        #[serde(rename = "apiVersion")]
        api_version: &'a str,
        metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        spec: &'a crate::types::SealedSecretSpec,
    }
    let out = Out {
        kind: "SealedSecret",
        api_version: "bitnami.com/v1alpha1",
        metadata: &ss.metadata,
        spec: &ss.spec,
    };
    render(&out, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_is_told_apart() {
        use serde_json::json;
        let k = |v: serde_json::Value| kind(&v, "Secret");
        assert_eq!(k(json!({"kind": "Secret"})), Kind::Expected);
        assert_eq!(k(json!({})), Kind::Missing);
        assert_eq!(k(json!({"kind": null})), Kind::Missing);
        assert_eq!(k(json!("not an object")), Kind::Missing);
        assert_eq!(k(json!({"kind": "secret"})), Kind::Other("secret".into()));
        assert_eq!(k(json!({"kind": 7})), Kind::NotAString);
    }

    #[test]
    fn json_stream_and_yaml_multi_doc() {
        let json = br#"{"a":1} {"b":2}
        {"c":3}"#;
        assert_eq!(parse_documents(json).unwrap().len(), 3);
        let yaml = b"---\na: 1\n---\n---\nb: x\n";
        let docs = parse_documents(yaml).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["b"], "x");
    }

    #[test]
    fn non_objects_rejected() {
        assert_eq!(
            parse_documents(b"- a\n- b\n").unwrap_err(),
            CodecError::NotAnObject(1)
        );
        assert_eq!(
            parse_documents(b"a: 1\n---\njust a string\n").unwrap_err(),
            CodecError::NotAnObject(2)
        );
        assert!(matches!(
            parse_documents(b"{\"a\": ").unwrap_err(),
            CodecError::Json { .. }
        ));
    }

    #[test]
    fn yaml_errors_do_not_quote_input() {
        let err = parse_documents(b"a: 1\nsecret: \"hunter2\n  b: [").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse_documents(b"a:\n  hunter2: 1\n  hunter2: 2\n").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(
            msg.contains("line 3 column 3: duplicate mapping key"),
            "{msg}"
        );
    }

    #[test]
    fn base64_like_go() {
        let d = |s: &str| decode_base64_like_go(s.as_bytes()).map(|v| v.to_vec());
        assert_eq!(d("YWJj").unwrap(), b"abc");
        assert_eq!(d("YWJjZGVm\nZ2hp\r\n").unwrap(), b"abcdefghi");
        assert_eq!(d("YR==").unwrap(), b"a");
        assert_eq!(d("").unwrap(), b"");
        assert!(d("YQ").is_none());
        assert!(d("YW Jj").is_none());
        assert!(d("not base64!").is_none());
    }

    #[test]
    fn yaml_output_sorted_and_parseable() {
        let long = "A".repeat(700);
        let v = serde_json::json!({"z": 1, "a": {"y": "Ag==", "b": "x: y", "c": "l1\nl2\n", "d": long}});
        let y = to_yaml(&v).unwrap();
        assert!(y.contains(&format!("d: {long}\n")), "{y}");
        assert!(y.contains("c: |"), "{y}");
        assert!(y.find("a:").unwrap() < y.find("z:").unwrap());
        let back = parse_single(y.as_bytes()).unwrap();
        assert_eq!(back, v);
    }
}
