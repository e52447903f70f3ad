//! `kubeseal` CLI: `--cert` sources (file, file://, http://, https://), `--fetch-cert`, and unusable certificates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use predicates::prelude::*;

/// A one-shot HTTP server on loopback: answers the first request with `status` and `body`
/// and returns the request line. Gives up after 30 s so a bug cannot hang the test run.
fn http_once(status: &'static str, body: Vec<u8>) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "no request received");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-pem-file\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        stream.flush().unwrap();
        String::from_utf8_lossy(&req)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    });
    (port, handle)
}

/// Runs openssl with `args` in the sandbox (file names are relative to it); its absence is a
/// failure, never a silent skip (scripts/build-control-plane.sh, run by scripts/test.sh,
/// installs it).
fn openssl(sb: &Sandbox, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(sb.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("openssl failed: {s}"),
        Err(e) => panic!("openssl is required by this test (apt-get install openssl): {e}"),
    }
}

/// `openssl req` with a new P-256 key, unencrypted, and `args`.
fn openssl_req_ec(sb: &Sandbox, args: &[&str]) {
    let mut all = vec![
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    all.extend_from_slice(args);
    openssl(sb, &all);
}

/// Makes, with openssl, a CA (`ca.crt`) and a serving certificate it signed for IP
/// `127.0.0.1` (`srv.crt`, P-256 PKCS#8 key `srv.key`) in the sandbox.
fn loopback_tls_cert(sb: &Sandbox) -> (PathBuf, PathBuf, PathBuf) {
    openssl_req_ec(
        sb,
        &[
            "-x509",
            "-subj",
            "/CN=e2e-test-ca",
            "-days",
            "1",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    openssl_req_ec(
        sb,
        &[
            "-new",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
        ],
    );
    sb.write(
        "srv.ext",
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    );
    openssl(
        sb,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "srv.ext",
            "-out",
            "srv.crt",
        ],
    );
    (sb.path("ca.crt"), sb.path("srv.crt"), sb.path("srv.key"))
}

/// A TLS server on loopback (rustls, certificate `crt`) answering one GET with `body`.
/// The thread returns the request line, or `None` if the client gave up in the handshake.
fn https_once(
    crt: &Path,
    key: &Path,
    body: Vec<u8>,
) -> (u16, std::thread::JoinHandle<Option<String>>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let der = |p: &Path, label: &str| {
        sealed_secrets_core::pem::blocks(&std::fs::read(p).unwrap())
            .unwrap()
            .into_iter()
            .find(|b| b.label == label)
            .unwrap()
            .der
            .to_vec()
    };
    let chain = vec![CertificateDer::from(der(crt, "CERTIFICATE"))];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der(key, "PRIVATE KEY")));
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, stream);
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => req.extend_from_slice(&buf[..n]),
                // The client refused the certificate.
                Err(_) if req.is_empty() => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes()).unwrap();
        tls.write_all(&body).unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        String::from_utf8_lossy(&req)
            .lines()
            .next()
            .map(str::to_string)
    });
    (port, handle)
}

#[test]
fn cert_as_file_url() {
    let sb = Sandbox::new();
    let url = format!("file://{}", cert_path().canonicalize().unwrap().display());
    let out = stdout_of(
        sb.bare()
            .args(["--cert", &url])
            .write_stdin(secret("app", Some("prod")).to_string()),
    );
    assert_eq!(open(&sealed_one(&out))["pw"], PW);

    // Percent-escapes are decoded and the host part is ignored, like Go's file transport.
    let dir = sb.path("with space");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(cert_path(), dir.join("cert.pem")).unwrap();
    let escaped = dir
        .join("cert.pem")
        .display()
        .to_string()
        .replace('%', "%25")
        .replace(' ', "%20");
    for url in [
        format!("file://{escaped}"),
        format!("file://localhost{escaped}"),
    ] {
        let out = stdout_of(
            sb.bare()
                .args(["--cert", &url])
                .write_stdin(secret("app", Some("prod")).to_string()),
        );
        assert_eq!(open(&sealed_one(&out))["user"], USER, "{url}");
    }

    // A missing file names the URL.
    let missing = format!("file://{}/nope.pem", sb.dir.path().display());
    assert_fails_sealing(&sb, || sb.cmd(["--cert", &missing]), &[&missing]);
}

#[test]
fn cert_as_http_url() {
    let sb = Sandbox::new();
    let (port, server) = http_once("200 OK", std::fs::read(cert_path()).unwrap());
    let url = format!("http://127.0.0.1:{port}/v1/cert.pem");
    let out = stdout_of(
        sb.bare()
            .args(["--cert", &url])
            .write_stdin(secret("app", Some("prod")).to_string()),
    );
    assert_eq!(server.join().unwrap(), "GET /v1/cert.pem HTTP/1.1");
    assert_eq!(open(&sealed_one(&out))["pw"], PW);

    // --fetch-cert with a URL prints the body unchanged.
    let (port, server) = http_once("200 OK", b"any bytes at all\n".to_vec());
    let url = format!("http://127.0.0.1:{port}/cert.pem");
    sb.bare()
        .args(["--fetch-cert", "--cert", &url])
        .assert()
        .success()
        .stdout("any bytes at all\n");
    server.join().unwrap();
}

/// `--cert https://…`: the server's certificate is checked (an unknown CA is an error naming
/// the URL); `SSL_CERT_FILE` names the CAs to trust instead of the built-in roots, as for Go
/// programs.
#[test]
fn cert_as_https_url() {
    let sb = Sandbox::new();
    let (ca, crt, key) = loopback_tls_cert(&sb);
    let served = std::fs::read(cert_path()).unwrap();
    let input = secret("app", Some("prod")).to_string();

    let (port, server) = https_once(&crt, &key, served.clone());
    let url = format!("https://127.0.0.1:{port}/v1/cert.pem");
    let out = stdout_of(
        sb.bare()
            .env("SSL_CERT_FILE", &ca)
            .args(["--cert", &url])
            .write_stdin(input.clone()),
    );
    assert_eq!(
        server.join().unwrap().as_deref(),
        Some("GET /v1/cert.pem HTTP/1.1")
    );
    assert_eq!(open(&sealed_one(&out))["pw"], PW);

    // Not trusted: the built-in roots, or an SSL_CERT_FILE without the server's CA.
    for trust in [None, Some(cert_path())] {
        let (port, server) = https_once(&crt, &key, served.clone());
        let url = format!("https://127.0.0.1:{port}/v1/cert.pem");
        let mut cmd = sb.bare();
        if let Some(t) = &trust {
            cmd.env("SSL_CERT_FILE", t);
        }
        let out = cmd
            .args(["--cert", &url])
            .write_stdin(input.clone())
            .assert()
            .failure()
            .stdout("")
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot fetch \"{url}\"")),
            "{stderr}"
        );
        assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
        assert_eq!(server.join().unwrap(), None, "trust {trust:?}");
    }
}

#[test]
fn cert_http_error_status_names_the_url() {
    let sb = Sandbox::new();
    for (status, shown) in [
        ("404 Not Found", "404"),
        ("500 Internal Server Error", "500"),
    ] {
        // assert_fails runs the command twice.
        let servers: Vec<_> = (0..2)
            .map(|_| http_once(status, b"nope".to_vec()))
            .collect();
        let urls: Vec<String> = servers
            .iter()
            .map(|(port, _)| format!("http://127.0.0.1:{port}/cert.pem"))
            .collect();
        let next = std::cell::Cell::new(0);
        let stderr = assert_fails_sealing(
            &sb,
            || {
                let url = &urls[next.get()];
                next.set(next.get() + 1);
                let mut c = sb.bare();
                c.args(["--cert", url]);
                c
            },
            &["cannot fetch", shown],
        );
        assert!(stderr.contains(&urls[1]), "{stderr}");
        for (_, h) in servers {
            h.join().unwrap();
        }
    }
}

#[test]
fn fetch_cert_with_cert_file_prints_it_unchanged() {
    let sb = Sandbox::new();
    let pem = std::fs::read(cert_path()).unwrap();
    sb.seal(&["--fetch-cert"])
        .assert()
        .success()
        .stdout(predicate::eq(pem.as_slice()));
    // Not parsed: arbitrary bytes come back as they are.
    sb.write("blob.bin", [0u8, 1, 2, 255, b'\n']);
    sb.bare()
        .args(["--fetch-cert", "--cert", "blob.bin"])
        .assert()
        .success()
        .stdout(predicate::eq(&[0u8, 1, 2, 255, b'\n'][..]));
    // And to a -w file.
    sb.seal(&["--fetch-cert", "-w", "fetched.pem"])
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read(sb.path("fetched.pem")).unwrap(), pem);
}

#[test]
fn expired_certificate() {
    let sb = Sandbox::new();
    sb.write("expired.pem", expired_cert_pem());
    for args in [
        &["--cert", "expired.pem"][..],
        &["--cert", "expired.pem", "--raw", "--name", "x"][..],
        &["--cert", "expired.pem", "--merge-into", "nowhere.json"][..],
    ] {
        let stderr = assert_fails_sealing(&sb, || sb.cmd(args), &[]);
        assert_eq!(
            stderr,
            "error: failed to encrypt using an expired certificate on July 15, 2017\n"
        );
    }
    // --fetch-cert does not check validity.
    sb.bare()
        .args(["--fetch-cert", "--cert", "expired.pem"])
        .assert()
        .success()
        .stdout(sb.read("expired.pem"));
}

#[test]
fn non_rsa_certificate() {
    let sb = Sandbox::new();
    openssl_req_ec(
        &sb,
        &[
            "-x509", "-subj", "/CN=x", "-days", "1", "-keyout", "ec.key", "-out", "ec.pem",
        ],
    );
    assert_fails_sealing(
        &sb,
        || sb.cmd(["--cert", "ec.pem"]),
        &["expected RSA public key"],
    );
}

#[test]
fn garbage_certificates() {
    let sb = Sandbox::new();
    sb.write("garbage.pem", "this is not a certificate\n");
    sb.write(
        "bad-der.pem",
        "-----BEGIN CERTIFICATE-----\nMIIBADCB\n-----END CERTIFICATE-----\n",
    );
    sb.write("key-only.pem", test_key_pem());
    sb.write("binary.der", [0x30u8, 0x82, 0x01, 0x00, 0xff]);
    for (file, expect) in [
        ("garbage.pem", "failed to read any certificates"),
        ("bad-der.pem", "invalid certificate"),
        ("key-only.pem", "failed to read any certificates"),
        ("binary.der", "certificate"),
        ("missing.pem", "missing.pem"),
    ] {
        let stderr = assert_fails_sealing(&sb, || sb.cmd(["--cert", file]), &[expect]);
        // A private key given by mistake is never echoed.
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
}
