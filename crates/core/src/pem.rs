//! A minimal, strict PEM block reader (RFC 7468 "textual encoding").
//!
//! We need "the first block with one of these labels, anywhere in a bundle", which the
//! single-document decoders of the RustCrypto crates do not offer.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// One decoded PEM block.
pub struct Block {
    pub label: String,
    /// DER contents; wiped on drop because private keys pass through here.
    pub der: Zeroizing<Vec<u8>>,
}

/// Why a PEM input could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("no PEM block found")]
    NoBlock,
    #[error("PEM block {0:?} has no END line")]
    Unterminated(String),
    #[error("PEM block {0:?} is encrypted; decrypt it first")]
    Encrypted(String),
    #[error("PEM block {0:?} is not valid base64")]
    Base64(String),
}

/// Returns every PEM block in `input`, in order. Text outside blocks is ignored.
pub fn blocks(input: &[u8]) -> Result<Vec<Block>, PemError> {
    let text = String::from_utf8_lossy(input);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::new());
        let mut terminated = false;
        for inner in lines.by_ref() {
            let inner = inner.trim();
            if inner == end {
                terminated = true;
                break;
            }
            if inner.contains(':') {
                // RFC 1421 headers such as "Proc-Type: 4,ENCRYPTED".
                if inner.contains("ENCRYPTED") {
                    return Err(PemError::Encrypted(label.to_string()));
                }
                continue;
            }
            body.push_str(inner);
        }
        if !terminated {
            return Err(PemError::Unterminated(label.to_string()));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::Base64(label.to_string()))?;
        out.push(Block {
            label: label.to_string(),
            der: Zeroizing::new(der),
        });
    }
    Ok(out)
}

/// Encodes DER as a PEM block with 64-column lines and a trailing newline.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bundle() {
        let a = encode("CERTIFICATE", &[1, 2, 3]);
        let b = encode("RSA PRIVATE KEY", &[9; 100]);
        let bundle = format!("junk\n{a}text between\n{b}");
        let got = blocks(bundle.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].label, "CERTIFICATE");
        assert_eq!(&*got[0].der, &[1, 2, 3]);
        assert_eq!(got[1].label, "RSA PRIVATE KEY");
        assert_eq!(got[1].der.len(), 100);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            blocks(b"-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated(_))
        ));
        assert!(matches!(
            blocks(b"-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::Base64(_))
        ));
        assert!(matches!(
            blocks(b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
            Err(PemError::Encrypted(_))
        ));
        assert!(blocks(b"nothing").unwrap().is_empty());
    }
}
