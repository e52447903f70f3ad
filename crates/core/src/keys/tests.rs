use super::*;

#[test]
fn pem_round_trip_pkcs1_and_pkcs8() {
    let key = test_key_2048();
    let p1 = key.to_pkcs1_pem().unwrap();
    assert!(p1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let p8 = key.to_pkcs8_pem().unwrap();
    assert!(p8.starts_with("-----BEGIN PRIVATE KEY-----"));
    for pem in [p1.as_bytes(), p8.as_bytes()] {
        let k = PrivateKey::from_pem(pem, Backend::AwsLc).unwrap();
        assert_eq!(k.fingerprint(), key.fingerprint());
        assert_eq!(k.backend(), Backend::AwsLc);
    }
}

#[test]
fn refuses_to_generate_keys_below_2048_bits() {
    for bits in [512, 1024, 2047] {
        assert!(
            matches!(PrivateKey::generate(bits, Backend::AwsLc), Err(KeyError::KeySize(b)) if b == bits),
            "{bits}"
        );
    }
    assert_eq!(
        KeyError::KeySize(1024).to_string(),
        "unsupported key size 1024: must be between 2048 and 16384 bits"
    );
}

#[test]
fn rejects_non_rsa_and_garbage() {
    assert_eq!(
        PrivateKey::from_pem(b"hello", Backend::AwsLc).unwrap_err(),
        KeyError::NoPrivateKey
    );
    let ec = pem::encode("EC PRIVATE KEY", &[1, 2, 3]);
    assert_eq!(
        PrivateKey::from_pem(ec.as_bytes(), Backend::AwsLc).unwrap_err(),
        KeyError::NotRsaPrivateKey
    );
    let bad = pem::encode("RSA PRIVATE KEY", &[0x30, 0x03, 1, 2, 3]);
    assert!(matches!(
        PrivateKey::from_pem(bad.as_bytes(), Backend::AwsLc).unwrap_err(),
        KeyError::InvalidPrivateKey(_)
    ));
}

#[test]
fn fingerprint_format() {
    let key = test_key_2048();
    let fp = key.fingerprint();
    assert!(fp.starts_with("SHA256:"));
    assert_eq!(fp.len(), "SHA256:".len() + 43);
}

#[test]
fn certificate_shape() {
    let key = test_key_2048();
    let now = SystemTime::now();
    let cert = self_signed_certificate(&key, None, DEFAULT_KEY_TTL, now).unwrap();
    assert!(cert.matches(&key));
    let parsed = x509_cert::Certificate::from_der(cert.der()).unwrap();
    let tbs = parsed.tbs_certificate();
    // Empty subject and issuer: DER `30 00`.
    assert_eq!(tbs.subject().to_der().unwrap(), vec![0x30, 0x00]);
    assert_eq!(tbs.issuer().to_der().unwrap(), vec![0x30, 0x00]);
    assert_eq!(tbs.version(), x509_cert::certificate::Version::V3);
    let exts = tbs.extensions().unwrap();
    let ku = exts
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.15")
        .unwrap();
    assert!(ku.critical);
    let bc = exts
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.19")
        .unwrap();
    assert!(bc.critical);
    let days = cert
        .not_after()
        .duration_since(cert.not_before())
        .unwrap()
        .as_secs()
        / 86_400;
    assert_eq!(days, 3650);
    let pem = cert.to_pem();
    let again = Certificate::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(again.public_key(), cert.public_key());
    let with_cn = self_signed_certificate(&key, Some("my-cn"), DEFAULT_KEY_TTL, now).unwrap();
    let parsed = x509_cert::Certificate::from_der(with_cn.der()).unwrap();
    assert!(
        parsed
            .tbs_certificate()
            .subject()
            .to_string()
            .contains("my-cn")
    );
}

#[test]
fn expired_certificate_message() {
    let key = test_key_2048();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let cert = self_signed_certificate(&key, None, Duration::from_secs(86_400), start).unwrap();
    let err = cert
        .check_valid_for_sealing(start + Duration::from_secs(2 * 86_400))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to encrypt using an expired certificate on July 15, 2017"
    );
    assert!(cert.check_valid_for_sealing(start).is_ok());
}

#[test]
fn bundle_uses_first_certificate() {
    let a = test_key_2048();
    let b = test_key(Backend::AwsLc);
    let now = SystemTime::now();
    let ca = self_signed_certificate(&a, None, DEFAULT_KEY_TTL, now).unwrap();
    let cb = self_signed_certificate(&b, None, DEFAULT_KEY_TTL, now).unwrap();
    let bundle = format!("{}{}", cb.to_pem(), ca.to_pem());
    let first = Certificate::from_pem(bundle.as_bytes()).unwrap();
    assert!(first.matches(&b));
    assert_eq!(
        Certificate::from_pem(b"nope").unwrap_err(),
        KeyError::NoCertificate
    );
}
