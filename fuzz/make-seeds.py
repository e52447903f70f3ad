#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus/<target>/ (run once; the output is committed).

SealedSecrets for the `unseal` target are sealed here, with Python's `cryptography` (an
implementation independent of ours), for the fixed fuzzing key fuzz/fixtures/fuzz-key.pem:
item = u16be(len(rsa)) || RSA-OAEP-SHA256(label)(session key) || AES-256-GCM(zero nonce).
The other seeds are small hand-written inputs and copies of examples/.
"""
import base64
import json
import os
import shutil
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")

with open(os.path.join(HERE, "fixtures", "fuzz-key.pem"), "rb") as f:
    KEY = serialization.load_pem_private_key(f.read(), password=None)
PUB = KEY.public_key()


def seal_item(label: bytes, plaintext: bytes) -> bytes:
    session = os.urandom(32)
    rsa = PUB.encrypt(
        session,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
    )
    return struct.pack(">H", len(rsa)) + rsa + AESGCM(session).encrypt(b"\0" * 12, plaintext, None)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def write(target: str, name: str, data) -> None:
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- template: template text, NUL, key=value lines -----------------------------------------
templates = {
    "plain": ("user={{ .user }} pass={{ .password | quote }}", "user=admin\npassword=s3cret"),
    "config": (
        "database:\n  dsn: {{ printf \"postgres://%s:%s@db/app\" .user .password | b64enc }}\n",
        "user=app\npassword=pw",
    ),
    "range": ("{{ range $k, $v := . }}{{ $k }}={{ $v | upper }};{{ end }}", "a=1\nb=2\nc=3"),
    "cond": ('{{ if eq .env "prod" }}{{ .a | sha256sum }}{{ else }}{{ .a | trunc 3 }}{{ end }}', "env=prod\na=hello"),
    "define": ('{{ define "t" }}<{{ . }}>{{ end }}{{ template "t" .a }}{{ template "t" .b }}', "a=x\nb=y"),
    "sprig": ('{{ list .a .b | join "," }} {{ dict "k" .a | toJson }} {{ .b | b64dec | default "none" }} {{ "a-b" | replace "-" "_" }}', "a=1\nb=aGk="),
    "with": ('{{ with .missing }}{{ . }}{{ else }}{{ .a | indent 2 | nindent 4 }}{{ end }}{{- /* c */ -}}', "a=line1"),
    "vars": ('{{ $x := .a }}{{ $x = printf "%s%s" $x $x }}{{ len $x }} {{ index . "a" }} {{ and .a .b }} {{ or "" .b }}', "a=ab\nb=c"),
}
for name, (text, data) in templates.items():
    write("template", name, text + "\0" + data)

# --- unseal: SealedSecrets sealed for the fuzz key ------------------------------------------
def sealed_secret(name, ns, items, annotations=None, template_data=None, fmt="yaml"):
    scope_ann = annotations or {}
    if scope_ann.get("sealedsecrets.bitnami.com/cluster-wide") == "true":
        label = b""
    elif scope_ann.get("sealedsecrets.bitnami.com/namespace-wide") == "true":
        label = ns.encode()
    else:
        label = f"{ns}/{name}".encode()
    enc = {k: b64(seal_item(label, v.encode())) for k, v in items.items()}
    meta = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    tmpl = {"metadata": dict(meta), "type": "Opaque"}
    if template_data:
        tmpl["data"] = template_data
    obj = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": meta,
           "spec": {"encryptedData": enc, "template": tmpl}}
    return json.dumps(obj, indent=1) + "\n" if fmt == "json" else to_yaml(obj)


def to_yaml(v, indent=0) -> str:
    """Tiny YAML writer for nested dicts of strings (block scalars for multi-line values)."""
    out = []
    pad = "  " * indent
    for k, val in v.items():
        if isinstance(val, dict):
            out.append(f"{pad}{k}:\n{to_yaml(val, indent + 1)}")
        elif "\n" in val:
            body = "".join(f"{pad}  {line}\n" for line in val.splitlines())
            out.append(f"{pad}{k}: |\n{body}")
        else:
            out.append(f"{pad}{k}: {json.dumps(val)}\n")
    return "".join(out)


write("unseal", "strict.yaml", sealed_secret("db", "app", {"user": "admin", "password": "s3cret"}))
write("unseal", "namespace-wide.json", sealed_secret(
    "token", "app", {"token": "abc"}, {"sealedsecrets.bitnami.com/namespace-wide": "true"}, fmt="json"))
write("unseal", "cluster-wide.yaml", sealed_secret(
    "any", "anywhere", {"k": "v"}, {"sealedsecrets.bitnami.com/cluster-wide": "true"}))
write("unseal", "template.yaml", sealed_secret(
    "cfg", "app", {"user": "u", "password": "p"},
    template_data={"config.yaml": "user: {{ .user }}\npassword: {{ .password | quote }}\n"}))
write("unseal", "wrong-scope.yaml", sealed_secret("db", "app", {"x": "y"}).replace('"app"', '"other"', 1))
# Deprecated v1 `spec.data`: one item holding a whole Secret as JSON.
v1_secret = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old"},
                        "data": {"a": b64(b"b")}}).encode()
write("unseal", "v1-data.json", json.dumps({
    "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
    "metadata": {"name": "old", "namespace": "app"},
    "spec": {"data": b64(seal_item(b"app/old", v1_secret))}}) + "\n")
write("unseal", "raw-item.bin", seal_item(b"fuzz/item", b"raw plaintext"))
write("unseal", "raw-item-cluster.bin", seal_item(b"", b""))

# --- sealedsecret_parse: examples and variations --------------------------------------------
for ex in ["strict", "namespace-wide", "cluster-wide", "template", "dockerconfigjson"]:
    shutil.copy(os.path.join(ROOT, "examples", ex, "sealedsecret.yaml"),
                os.path.join(CORPUS, "sealedsecret_parse", f"{ex}.yaml"))
write("sealedsecret_parse", "status.json", json.dumps({
    "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
    "metadata": {"name": "s", "namespace": "n", "uid": "1", "resourceVersion": "7",
                 "labels": {"a": "b"}, "creationTimestamp": "2026-01-02T03:04:05Z"},
    "spec": {"encryptedData": {"k": "AgA="}, "template": {"type": "kubernetes.io/tls", "immutable": True}},
    "status": {"observedGeneration": 2, "conditions": [
        {"type": "Synced", "status": "False", "reason": "ErrUnsealFailed",
         "message": "no key could decrypt secret (k)", "lastTransitionTime": "2026-01-02T03:04:05Z"}]}}) + "\n")
write("sealedsecret_parse", "multi.yaml",
      "---\nkind: SealedSecret\nmetadata: {name: a}\nspec: {encryptedData: {x: AgA=}}\n"
      "---\n# comment\n---\nmetadata:\n  name: b\n  annotations: {k: 'v: w'}\nspec:\n  encryptedData: {}\n")
write("sealedsecret_parse", "concat.json",
      '{"kind":"SealedSecret","metadata":{"name":"a"},"spec":{"encryptedData":{}}}'
      '{"kind":"SealedSecret","metadata":{"name":"b"},"spec":{"data":"AgA="}}')

# --- kubeseal_input: Secrets, key files, certificates ---------------------------------------
for ex in ["strict", "template", "dockerconfigjson", "demo"]:
    shutil.copy(os.path.join(ROOT, "examples", ex, "secret.yaml"),
                os.path.join(CORPUS, "kubeseal_input", f"secret-{ex}.yaml"))
write("kubeseal_input", "secret.json", json.dumps({
    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n",
    "annotations": {"sealedsecrets.bitnami.com/cluster-wide": "true"}},
    "data": {"a": b64(b"\x00\xff binary")}, "stringData": {"b": "text"}}) + "\n")
write("kubeseal_input", "secrets-multi.yaml",
      "apiVersion: v1\nkind: Secret\nmetadata: {name: one}\ndata:\n  k: |\n    aGVs\n    bG8=\n"
      "---\nkind: Secret\nmetadata: {name: two, namespace: x}\nstringData: {k: v}\nimmutable: true\n")
pem_pkcs8 = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
pem_pkcs1 = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption())
write("kubeseal_input", "key-pkcs8.pem", pem_pkcs8)
write("kubeseal_input", "key-pkcs1.pem", pem_pkcs1)
shutil.copy(os.path.join(HERE, "fixtures", "fuzz-cert.pem"), os.path.join(CORPUS, "kubeseal_input", "cert.pem"))
key_secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": "sealed-secrets-key1", "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
              "data": {"tls.key": b64(pem_pkcs1), "tls.crt": b64(open(os.path.join(HERE, "fixtures", "fuzz-cert.pem"), "rb").read())}}
write("kubeseal_input", "key-secret.json", json.dumps(key_secret) + "\n")
write("kubeseal_input", "key-list.yaml", to_yaml({"apiVersion": "v1", "kind": "List"}) + "items:\n- " +
      json.dumps(key_secret) + "\n")
print("seed corpus written to", CORPUS)
