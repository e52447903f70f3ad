//! Rendering speed of realistic `spec.template.data` entries (the template
//! in `examples/template/sealedsecret.yaml` and typical config files), to
//! measure the overhead of the resource budget.
//!
//! Run: `cargo bench -p gotemplate --bench render`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

/// `examples/template/sealedsecret.yaml`, entry `config.yaml`.
const EXAMPLE_CONFIG: &str = r#"database:
  user: {{ .user }}
  password: {{ .password | quote }}
  dsn: {{ printf "postgres://%s:%s@db:5432/app" .user .password | b64enc }}
"#;

/// A typical config file: a loop over the items, printf, b64enc, defaults.
const TYPICAL_CONFIG: &str = r#"# generated
[server]
host = {{ .host | default "localhost" | quote }}
port = {{ .port | default "5432" }}
{{- range $k, $v := . }}
{{ printf "%-12s = %q" $k ($v | b64enc) }}
{{- end }}
[auth]
basic = {{ printf "%s:%s" .user .password | b64enc }}
users = {{ list .user "admin" "viewer" | join "," | upper }}
{{ if hasPrefix "s3" .password }}weak = true{{ else }}weak = false{{ end }}
"#;

/// An image pull secret (`.dockerconfigjson`).
const DOCKER_CONFIG: &str = r#"{"auths":{"registry.example.com":{"username":"{{ .user }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .user .password | b64enc }}"}}}"#;

/// A JSON document built with dict/toJson.
const JSON_CONFIG: &str =
    r#"{{ dict "user" .user "pass" .password "hosts" (splitList "," .hosts) | toPrettyJson }}"#;

fn data() -> BTreeMap<String, String> {
    [
        ("user", "app-user"),
        ("password", "s3cr3t-p4ssw0rd"),
        ("host", "db.example.internal"),
        ("port", "5432"),
        ("hosts", "a.example,b.example,c.example"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn bench(c: &mut Criterion) {
    let data = data();
    for (name, tpl) in [
        ("example_config_yaml", EXAMPLE_CONFIG),
        ("typical_config", TYPICAL_CONFIG),
        ("dockerconfigjson", DOCKER_CONFIG),
        ("json_config", JSON_CONFIG),
    ] {
        // Sanity: the template renders.
        if let Err(e) = gotemplate::render(name, tpl, &data) {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
        c.bench_function(name, |b| {
            b.iter(|| gotemplate::render(black_box(name), black_box(tpl), black_box(&data)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
