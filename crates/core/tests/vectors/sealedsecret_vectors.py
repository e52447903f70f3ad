#!/usr/bin/env python3
"""Independent reference implementation of the Sealed Secrets hybrid encryption.

Used to produce test vectors for the Rust implementation and to cross-check
ciphertexts produced by it. Only depends on the `cryptography` package.

Wire format of one encrypted item (before base64):

    u16 big-endian L || RSA-OAEP-SHA256(label, 32-byte AES key) (L bytes)
                     || AES-256-GCM(key, nonce = 12 zero bytes, no AAD)(plaintext) || 16-byte tag

The stored form is standard base64 with '=' padding and no newlines.

OAEP label per scope:
    strict          b"<namespace>/<name>"
    namespace-wide  b"<namespace>"
    cluster-wide    b""

Subcommands:
    generate   new test key + certificate + vectors.json (next to this script)
    decrypt    stdin {"key_pem": path, "items": [{"label_b64", "ciphertext_b64"}]}
               stdout {"plaintexts_b64": [b64 or null, ...]}
    encrypt    stdin {"cert_pem": path, "items": [{"label_b64", "plaintext_b64"}]}
               stdout {"ciphertexts_b64": [stored base64 form, ...]}
"""

import base64
import datetime
import json
import os
import secrets
import struct
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import ExtensionOID

HERE = Path(__file__).resolve().parent

SESSION_KEY_LEN = 32
GCM_NONCE = bytes(12)
GCM_TAG_LEN = 16

NAMESPACE = "vectors"
SECRET_NAME = "mysecret"
SCOPES = ("strict", "namespace-wide", "cluster-wide")
SCOPE_ANNOTATION = {
    "strict": None,
    "namespace-wide": "sealedsecrets.bitnami.com/namespace-wide",
    "cluster-wide": "sealedsecrets.bitnami.com/cluster-wide",
}


# ---------------------------------------------------------------- helpers

def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    # validate=True rejects non-alphabet characters and missing padding.
    return base64.b64decode(text, validate=True)


def oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=label,
    )


def scope_label(scope: str, namespace: str, name: str) -> bytes:
    if scope == "strict":
        return f"{namespace}/{name}".encode("utf-8")
    if scope == "namespace-wide":
        return namespace.encode("utf-8")
    if scope == "cluster-wide":
        return b""
    raise ValueError(f"unknown scope {scope!r}")


# ---------------------------------------------------------------- the format

def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    session_key = os.urandom(SESSION_KEY_LEN)
    wrapped = public_key.encrypt(session_key, oaep(label))
    sealed = AESGCM(session_key).encrypt(GCM_NONCE, plaintext, None)  # ciphertext || tag
    return struct.pack(">H", len(wrapped)) + wrapped + sealed


def hybrid_decrypt(private_key: rsa.RSAPrivateKey, blob: bytes, label: bytes) -> bytes:
    if len(blob) < 2:
        raise ValueError("too short for length prefix")
    (rsa_len,) = struct.unpack(">H", blob[:2])
    if len(blob) < 2 + rsa_len + GCM_TAG_LEN:
        raise ValueError("too short for RSA block and GCM tag")
    wrapped = blob[2:2 + rsa_len]
    sealed = blob[2 + rsa_len:]
    session_key = private_key.decrypt(wrapped, oaep(label))
    if len(session_key) != SESSION_KEY_LEN:
        raise ValueError(f"session key is {len(session_key)} bytes, expected {SESSION_KEY_LEN}")
    return AESGCM(session_key).decrypt(GCM_NONCE, sealed, None)


def seal_b64(public_key, plaintext: bytes, label: bytes) -> str:
    return b64e(hybrid_encrypt(public_key, plaintext, label))


# ---------------------------------------------------------------- key / cert

def make_key_and_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    public_key = key.public_key()

    # Key usage with ONLY encipherOnly set (what the Go controller emits).
    # cryptography's x509.KeyUsage refuses encipher_only without
    # key_agreement, so the extension value is written as raw DER:
    # BIT STRING, 0 unused bits, one byte 0x01 (bit 7 = encipherOnly).
    key_usage_der = bytes.fromhex("03020001")

    serial = 0
    while serial == 0:
        serial = secrets.randbits(128)

    utc = datetime.timezone.utc
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=utc))
        .not_valid_after(datetime.datetime(2034, 1, 1, tzinfo=utc))
        .add_extension(x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, key_usage_der), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        # Go's x509.CreateCertificate adds this automatically for CA certs.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def load_private_key(path: str):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def load_cert_public_key(path: str):
    # Only the public key is used: cert.extensions would raise in cryptography
    # because of the encipherOnly-without-keyAgreement key usage.
    return x509.load_pem_x509_certificate(Path(path).read_bytes()).public_key()


# ---------------------------------------------------------------- vectors

def value_cases():
    ascii_value = b"s3cr3t-value: Hello, Sealed Secrets!"
    all_bytes = bytes(range(256))
    # 70000 bytes (> 64 KiB): byte i is i % 251 (251 is prime, so the pattern
    # does not line up with 256-byte boundaries).
    large = bytes(i % 251 for i in range(70000))
    return [("ascii", ascii_value), ("empty", b""), ("binary-256", all_bytes), ("large-70000", large)]


def make_cases(public_key):
    cases = []
    for scope in SCOPES:
        label = scope_label(scope, NAMESPACE, SECRET_NAME)
        for suffix, plaintext in value_cases():
            cases.append({
                "name": f"{scope}-{suffix}",
                "scope": scope,
                "namespace": NAMESPACE,
                "secret_name": SECRET_NAME,
                "label_b64": b64e(label),
                "plaintext_b64": b64e(plaintext),
                "ciphertext": seal_b64(public_key, plaintext, label),
            })
    return cases


def manifest(name, scope, spec):
    annotations = {}
    if SCOPE_ANNOTATION[scope]:
        annotations[SCOPE_ANNOTATION[scope]] = "true"
    metadata = {"name": name, "namespace": NAMESPACE, "creationTimestamp": None}
    if annotations:
        metadata["annotations"] = annotations
    return {"kind": "SealedSecret", "apiVersion": "bitnami.com/v1alpha1", "metadata": metadata, "spec": spec}


def template_metadata(name, scope):
    # kubeseal copies the input Secret's metadata (including the scope
    # annotation it set) into spec.template.metadata.
    meta = {"name": name, "namespace": NAMESPACE, "creationTimestamp": None}
    if SCOPE_ANNOTATION[scope]:
        meta["annotations"] = {SCOPE_ANNOTATION[scope]: "true"}
    return meta


def make_sealedsecrets(public_key):
    out = []
    data = {"username": b"admin", "password": "p&ss<w\u00f6rd> 42".encode("utf-8")}

    for scope in SCOPES:
        label = scope_label(scope, NAMESPACE, SECRET_NAME)
        spec = {
            "template": {"metadata": template_metadata(SECRET_NAME, scope), "type": "Opaque"},
            "encryptedData": {k: seal_b64(public_key, v, label) for k, v in data.items()},
        }
        out.append({
            "name": f"sealedsecret-{scope}",
            "kind": "encrypted-data",
            "scope": scope,
            "manifest": manifest(SECRET_NAME, scope, spec),
            "expected_data_b64": {k: b64e(v) for k, v in data.items()},
        })

    # spec.template.data: values are Go text/template sources rendered with the
    # decrypted encryptedData values. The expected output below was computed by
    # plain string substitution in Python (no template engine involved);
    # text/template does no HTML escaping, so this matches for these inputs.
    name = "mysecret-templated"
    label = scope_label("strict", NAMESPACE, name)
    tmpl = "user: {{ .username }}\npass: {{ .password }}\n"
    rendered = (tmpl.replace("{{ .username }}", data["username"].decode("utf-8"))
                    .replace("{{ .password }}", data["password"].decode("utf-8")))
    spec = {
        "template": {
            "metadata": template_metadata(name, "strict"),
            "type": "Opaque",
            "data": {"config.yaml": tmpl},
        },
        "encryptedData": {k: seal_b64(public_key, v, label) for k, v in data.items()},
    }
    expected = {k: b64e(v) for k, v in data.items()}
    expected["config.yaml"] = b64e(rendered.encode("utf-8"))
    out.append({
        "name": "sealedsecret-template",
        "kind": "template",
        "scope": "strict",
        "manifest": manifest(name, "strict", spec),
        "expected_rendered": {"config.yaml": rendered},
        "expected_data_b64": expected,
        "note": "expected_rendered computed by plain string substitution; the unsealed "
                "Secret keeps the encryptedData keys and adds the rendered template keys",
    })

    # Legacy v1 format: spec.data is the hybrid encryption (strict label) of
    # the JSON serialisation of a whole v1 Secret; no encryptedData.
    name = "legacy"
    label = scope_label("strict", NAMESPACE, name)
    secret_json = ('{"kind":"Secret","apiVersion":"v1","metadata":{"name":"legacy",'
                   '"namespace":"vectors","creationTimestamp":null},"data":{"foo":"YmFy"}}')
    spec = {
        "template": {"metadata": {"creationTimestamp": None}},
        "data": seal_b64(public_key, secret_json.encode("utf-8"), label),
    }
    out.append({
        "name": "sealedsecret-legacy",
        "kind": "legacy-spec-data",
        "scope": "strict",
        "manifest": manifest(name, "strict", spec),
        "expected_secret_json": secret_json,
        "expected_data_b64": {"foo": b64e(b"bar")},
    })
    return out


def self_check(private_key, doc):
    for case in doc["cases"]:
        got = hybrid_decrypt(private_key, b64d(case["ciphertext"]), b64d(case["label_b64"]))
        assert got == b64d(case["plaintext_b64"]), case["name"]
    for ss in doc["sealedsecrets"]:
        meta = ss["manifest"]["metadata"]
        label = scope_label(ss["scope"], meta["namespace"], meta["name"])
        spec = ss["manifest"]["spec"]
        if ss["kind"] == "legacy-spec-data":
            got = hybrid_decrypt(private_key, b64d(spec["data"]), label).decode("utf-8")
            assert got == ss["expected_secret_json"], ss["name"]
            assert json.loads(got)["data"] == ss["expected_data_b64"], ss["name"]
            continue
        for key, ct in spec["encryptedData"].items():
            got = hybrid_decrypt(private_key, b64d(ct), label)
            assert got == b64d(ss["expected_data_b64"][key]), (ss["name"], key)


def cmd_generate():
    key, cert = make_key_and_cert()
    public_key = key.public_key()

    (HERE / "test-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "RSA PRIVATE KEY" (PKCS#1)
        serialization.NoEncryption(),
    ))
    (HERE / "test-key-pkcs8.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,  # "PRIVATE KEY"
        serialization.NoEncryption(),
    ))
    (HERE / "test-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    doc = {
        "description": "Sealed Secrets hybrid-encryption test vectors (TEST KEY ONLY). "
                       "Generated by sealedsecret_vectors.py with Python cryptography.",
        "format": "u16be(L) || RSA-OAEP(SHA-256, MGF1-SHA-256, label)(32-byte key) || "
                  "AES-256-GCM(key, 12 zero-byte nonce, no AAD)(plaintext) || 16-byte tag; "
                  "stored as padded standard base64",
        "key_files": {
            "private_key_pkcs1": "test-key.pem",
            "private_key_pkcs8": "test-key-pkcs8.pem",
            "certificate": "test-cert.pem",
        },
        "cases": make_cases(public_key),
        "sealedsecrets": make_sealedsecrets(public_key),
    }
    self_check(key, doc)
    with open(HERE / "vectors.json", "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote test-key.pem, test-key-pkcs8.pem, test-cert.pem, vectors.json in {HERE}", file=sys.stderr)


# ---------------------------------------------------------------- stdin/stdout protocol

def cmd_decrypt():
    request = json.load(sys.stdin)
    private_key = load_private_key(request["key_pem"])
    results = []
    for item in request["items"]:
        try:
            plaintext = hybrid_decrypt(private_key, b64d(item["ciphertext_b64"]), b64d(item["label_b64"]))
            results.append(b64e(plaintext))
        except Exception:  # any failure -> null for that item
            results.append(None)
    json.dump({"plaintexts_b64": results}, sys.stdout)
    sys.stdout.write("\n")


def cmd_encrypt():
    request = json.load(sys.stdin)
    public_key = load_cert_public_key(request["cert_pem"])
    results = [seal_b64(public_key, b64d(item["plaintext_b64"]), b64d(item["label_b64"]))
               for item in request["items"]]
    json.dump({"ciphertexts_b64": results}, sys.stdout)
    sys.stdout.write("\n")


def main(argv):
    commands = {"generate": cmd_generate, "decrypt": cmd_decrypt, "encrypt": cmd_encrypt}
    if len(argv) != 2 or argv[1] not in commands:
        print(f"usage: {argv[0]} generate|decrypt|encrypt", file=sys.stderr)
        return 2
    commands[argv[1]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
