//! Tests. Expected outputs are what Go's text/template + Sprig v3.3 produce
//! for the same input (many cases are ported from Go's `exec_test.go` and
//! Sprig's own tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const SECRET: &str = "hunter2-TOPSECRET";

fn data() -> BTreeMap<String, String> {
    [
        ("username", "admin"),
        ("password", "s3cr3t"),
        ("a.b", "dotted"),
        ("empty", ""),
        ("num", "42"),
        ("json", r#"{"a":{"b":[1,2,"x"]},"n":null,"t":true}"#),
        ("secret", SECRET),
        ("multi", "line1\nline2"),
        ("b64", "aGVsbG8="),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn run(tpl: &str) -> Result<String, TemplateError> {
    render("t", tpl, &data())
}

#[track_caller]
fn ok(tpl: &str) -> String {
    match run(tpl) {
        Ok(s) => s,
        Err(e) => panic!("template {tpl:?} failed: {e}"),
    }
}

#[track_caller]
fn err(tpl: &str) -> String {
    match run(tpl) {
        Ok(s) => panic!("template {tpl:?} unexpectedly succeeded with {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// [`err`] with a clock long enough that a slow debug build on a loaded
/// machine reaches the step limit before the time limit.
#[track_caller]
fn err_patient(tpl: &str) -> String {
    let limits = Limits {
        time: std::time::Duration::from_secs(600),
        ..Limits::default()
    };
    match render_with_budget("t", tpl, &data(), &mut Budget::new(limits)) {
        Ok(s) => panic!("template {tpl:?} unexpectedly succeeded with {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// Runs every template of `cases`; `mismatch` says what is wrong with one result (`None`:
/// as wanted). Fails listing every mismatch.
#[track_caller]
fn check_cases(
    cases: &[(&str, &str)],
    mismatch: impl Fn(&str, &str, Result<String, TemplateError>) -> Option<String>,
) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(tpl, want)| mismatch(tpl, want, run(tpl)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[track_caller]
fn check_all(cases: &[(&str, &str)]) {
    check_cases(cases, |tpl, want, got| match got {
        Ok(got) if got == want => None,
        Ok(got) => Some(format!("{tpl:?}: want {want:?}, got {got:?}")),
        Err(e) => Some(format!("{tpl:?}: want {want:?}, got error {e}")),
    });
}

#[track_caller]
fn check_errors(cases: &[(&str, &str)]) {
    check_cases(cases, |tpl, want, got| match got {
        Ok(got) => Some(format!("{tpl:?}: want error {want:?}, got output {got:?}")),
        Err(e) if e.to_string() == want => None,
        Err(e) => Some(format!("{tpl:?}:\n   want {want}\n    got {e}")),
    });
}

// ---------------------------------------------------------------------------
// text, actions, literals

#[test]
fn text_and_fields() {
    check_all(&[
        ("", ""),
        ("plain text", "plain text"),
        ("{{ .username }}:{{ .password }}", "admin:s3cr3t"),
        ("{{.username}}", "admin"),
        ("{{ index . \"a.b\" }}", "dotted"),
        ("{{ .missing }}", "<no value>"),
        ("{{ .missing.deeper }}", "<no value>"),
        ("{{ index . \"missing\" }}", ""),
        ("{{ .empty }}|", "|"),
    ]);
    let all = ok("{{ . }}");
    assert!(all.starts_with("map[a.b:dotted b64:aGVsbG8= empty: json:"));
    assert_eq!(ok("{{ $ | len }}"), "9");
    assert_eq!(ok("{{ $.username }}"), "admin");
}

#[test]
fn literals() {
    check_all(&[
        (
            "{{ \"a\\tb\\n\\\"q\\\"\\u00e9\\x41\\101\" }}",
            "a\tb\n\"q\"éAA",
        ),
        ("{{ `raw\\n` }}", "raw\\n"),
        ("{{ `a\r\nb` }}", "a\nb"),
        ("{{ 42 }}", "42"),
        ("{{ -7 }}", "-7"),
        ("{{ +7 }}", "7"),
        ("{{ 0x1F }}", "31"),
        ("{{ 0o17 }}", "15"),
        ("{{ 017 }}", "15"),
        ("{{ 0b101 }}", "5"),
        ("{{ 1_000_000 }}", "1000000"),
        ("{{ 1.5 }}", "1.5"),
        ("{{ 1.0 }}", "1"),
        ("{{ 1e3 }}", "1000"),
        ("{{ 1e6 }}", "1e+06"),
        ("{{ 123456.0 }}", "123456"),
        ("{{ 1234567.0 }}", "1.234567e+06"),
        ("{{ 0.0001 }}", "0.0001"),
        ("{{ 0.00001 }}", "1e-05"),
        ("{{ .5 }}", "0.5"),
        ("{{ 0x1p4 }}", "16"),
        ("{{ 'a' }}", "97"),
        ("{{ '\\n' }}", "10"),
        ("{{ '\\u00e9' }}", "233"),
        ("{{ true }} {{ false }}", "true false"),
        ("{{ printf \"%T\" 0xef }}", "int"),
        ("{{ printf \"%T\" 1.5 }}", "float64"),
        ("{{ printf \"%T\" 'x' }}", "int"),
    ]);
}

#[test]
fn comments_and_trim_markers() {
    check_all(&[
        ("a{{/* comment */}}b", "ab"),
        ("a {{- /* comment */ -}} b", "ab"),
        ("a{{/* multi\nline */}}b", "ab"),
        ("x  \n {{- .username -}} \n  y", "xadminy"),
        ("x  {{- .username }}  y", "xadmin  y"),
        ("x  {{ .username -}}  y", "x  adminy"),
        ("{{- 3 }}", "3"),
        ("{{-3}}", "-3"),
        ("{{ 3 -}}", "3"),
        ("{{3 -}}\n\n4", "34"),
        ("a\t\r\n {{- \"b\" }}", "ab"),
        ("{{- if true }}\n  yes\n{{- end }}", "\n  yes"),
    ]);
}

#[test]
fn multi_line_actions() {
    check_all(&[
        (
            "{{ printf\n  \"%s-%s\"\n  .username\n  .password }}",
            "admin-s3cr3t",
        ),
        ("{{\n.username\n}}", "admin"),
    ]);
}

// ---------------------------------------------------------------------------
// variables

#[test]
fn variables() {
    check_all(&[
        ("{{ $x := .username }}{{ $x }}", "admin"),
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            "2",
        ),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
            "21",
        ),
        ("{{ with $x := .username }}{{ $x }}{{ end }}", "admin"),
        (
            "{{if $x := true}}{{with $y := 17}}{{$x}},{{$y}}{{end}}{{end}}",
            "true,17",
        ),
        (
            "{{if $x := true}}{{with $x := 17}}{{$x}},{{end}}{{$x}}{{end}}",
            "17,true",
        ),
        ("{{ $d := dict \"k\" \"v\" }}{{ $d.k }}", "v"),
        ("{{ $u := .username }}{{ $u | upper }}", "ADMIN"),
        (
            "{{ range $x := list 1 2 }}{{ $foo := $x }}{{ $foo }}{{ end }}",
            "12",
        ),
        (
            "{{ range $x := list 1 2 }}<{{$foo:=$x}}{{$x}}>{{ end }}",
            "<1><2>",
        ),
    ]);
    // Assigning to a variable that was never declared fails at run time.
    assert!(
        err("{{ range $i, $v = list \"a\" \"b\" }}{{ end }}").ends_with("undefined variable: $i")
    );
    assert!(err("{{ $y = 1 }}").ends_with("undefined variable: $y"));
}

// ---------------------------------------------------------------------------
// control structures

#[test]
fn if_else() {
    check_all(&[
        ("{{if true}}TRUE{{end}}", "TRUE"),
        ("{{if false}}TRUE{{else}}FALSE{{end}}", "FALSE"),
        ("{{if 1}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
        ("{{if 0}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
        ("{{if 1.5}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
        ("{{if ``}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        (
            "{{if `notempty`}}NON-EMPTY{{else}}EMPTY{{end}}",
            "NON-EMPTY",
        ),
        ("{{if list}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{if list 1}}NON-EMPTY{{else}}EMPTY{{end}}", "NON-EMPTY"),
        ("{{if dict}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{if .missing}}SET{{else}}UNSET{{end}}", "UNSET"),
        ("{{if .empty}}SET{{else}}UNSET{{end}}", "UNSET"),
        ("{{if .username}}SET{{else}}UNSET{{end}}", "SET"),
        ("{{if not .missing}}ZERO{{else}}NON-ZERO{{end}}", "ZERO"),
        ("{{if false}}FALSE{{else if true}}TRUE{{end}}", "TRUE"),
        (
            "{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}",
            "3",
        ),
        (
            "{{if eq 1 3}}1{{else if eq 2 3}}2{{else}}none{{end}}",
            "none",
        ),
        ("{{ if and .username .password }}both{{ end }}", "both"),
        ("{{- if .x }}x{{ else }}no x{{ end }}", "no x"),
    ]);
}

#[test]
fn with() {
    check_all(&[
        ("{{with true}}{{.}}{{end}}", "true"),
        ("{{with false}}{{.}}{{else}}FALSE{{end}}", "FALSE"),
        ("{{with 1}}{{.}}{{else}}ZERO{{end}}", "1"),
        ("{{with 0}}{{.}}{{else}}ZERO{{end}}", "ZERO"),
        ("{{with 1.5}}{{.}}{{else}}ZERO{{end}}", "1.5"),
        ("{{with ``}}{{.}}{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{with `notempty`}}{{.}}{{else}}EMPTY{{end}}", "notempty"),
        ("{{with list 3 4 5}}{{.}}{{else}}EMPTY{{end}}", "[3 4 5]"),
        (
            "{{with dict \"one\" 1}}{{.}}{{else}}EMPTY{{end}}",
            "map[one:1]",
        ),
        ("{{with .username}}{{.}}{{end}}", "admin"),
        ("{{with .missing}}{{.}}{{else}}none{{end}}", "none"),
        (
            "{{with .missing}}a{{else with .username}}{{.}}{{end}}",
            "admin",
        ),
        ("{{with $x := $}}{{$y := $.username}}{{$y}}{{end}}", "admin"),
    ]);
}

#[test]
fn range() {
    check_all(&[
        ("{{range list 3 4 5}}-{{.}}-{{end}}", "-3--4--5-"),
        ("{{range list}}-{{.}}-{{end}}", ""),
        (
            "{{range list 3 4 5}}-{{.}}-{{else}}EMPTY{{end}}",
            "-3--4--5-",
        ),
        ("{{range list}}-{{.}}-{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{range list true false}}-{{.}}-{{end}}", "-true--false-"),
        (
            "{{range dict \"one\" 1 \"two\" 2 \"three\" 3}}-{{.}}-{{end}}",
            "-1--3--2-",
        ),
        ("{{range dict}}-{{.}}-{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{range .missing}}-{{.}}-{{else}}none{{end}}", "none"),
        ("{{range $x := list 3 4 5}}<{{$x}}>{{end}}", "<3><4><5>"),
        (
            "{{range $x, $y := list 3 4 5}}<{{$x}}={{$y}}>{{end}}",
            "<0=3><1=4><2=5>",
        ),
        ("{{range $x := dict \"one\" 1}}<{{$x}}>{{end}}", "<1>"),
        (
            "{{range $x, $y := dict \"one\" 1}}<{{$x}}={{$y}}>{{end}}",
            "<one=1>",
        ),
        (
            "{{ range $k, $v := . }}{{ if hasPrefix \"u\" $k }}{{ $k }}={{ $v }}\n{{ end }}{{ end }}",
            "username=admin\n",
        ),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{range $v := 3}}{{$v}}{{end}}", "012"),
        ("{{range 0}}x{{else}}zero{{end}}", "zero"),
        ("{{range -2}}x{{else}}neg{{end}}", "neg"),
        (
            "{{range (add 1 1)}}{{.}}{{printf \"%T\" .}}{{end}}",
            "0int641int64",
        ),
        (
            "{{range list 1 2 3 4}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}",
            "12",
        ),
        (
            "{{range list 1 2 3 4}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}",
            "134",
        ),
        (
            "{{range list 1 2}}{{range list 7 8 9}}{{if eq . 8}}{{break}}{{end}}{{.}}{{end}};{{end}}",
            "7;7;",
        ),
        (
            "{{$i := 0}}{{range list 1 2 3}}{{$i = add $i .}}{{end}}{{$i}}",
            "6",
        ),
        (
            "{{range $i, $e := until 5}}{{$i}}{{$e}}{{end}}",
            "0011223344",
        ),
        (
            "{{range $i, $e := until -5}}{{$i}}{{$e}} {{end}}",
            "00 1-1 2-2 3-3 4-4 ",
        ),
        (
            "{{ range $i, $v := list \"a\" \"b\" }}{{ $i }}{{ $v }}{{ end }}",
            "0a1b",
        ),
        (
            "{{ $i := 9 }}{{ $v := 9 }}{{ range $i, $v = list \"a\" \"b\" }}{{ end }}{{ $i }}{{ $v }}",
            "1b",
        ),
        ("{{ range list nil 1 }}{{ . }},{{ end }}", "<no value>,1,"),
        (
            "{{ range splitList \",\" \"a,b\" }}[{{ . }}]{{ end }}",
            "[a][b]",
        ),
    ]);
}

#[test]
fn templates_define_block() {
    check_all(&[
        (
            "{{define \"x\"}}X{{.}}X{{end}}{{template \"x\" .username}}",
            "XadminX",
        ),
        (
            "{{define \"x\"}}[{{.}}]{{end}}{{template \"x\"}}",
            "[<no value>]",
        ),
        ("{{define \"x\"}}{{$}}{{end}}{{template \"x\" 5}}", "5"),
        (
            "a({{block \"inner\" .username}}bar({{.}})baz{{end}})b",
            "a(bar(admin)baz)b",
        ),
        (
            "{{define \"u\"}}{{.username}}{{end}}{{ template \"u\" . }}-{{ template \"u\" $ }}",
            "admin-admin",
        ),
        (
            "{{define \"rec\"}}{{if gt . 0}}{{.}}{{template \"rec\" sub . 1}}{{end}}{{end}}{{template \"rec\" 3}}",
            "321",
        ),
        (
            "{{ $x := 1 }}{{define \"y\"}}{{ $x := 2 }}{{ $x }}{{end}}{{template \"y\"}}{{ $x }}",
            "21",
        ),
    ]);
}

#[test]
fn pipelines_and_parens() {
    check_all(&[
        ("{{ .username | upper }}", "ADMIN"),
        ("{{ .username | upper | lower | title }}", "Admin"),
        (
            "{{ printf \"%s:%s\" .username .password | b64enc }}",
            "YWRtaW46czNjcjN0",
        ),
        (
            "{{printf `%d %d %d` (1) (2 | add 3) (add 4 (add 5 6))}}",
            "1 5 15",
        ),
        ("{{($).username}}", "admin"),
        (
            "{{(dict \"up\" \"down\" \"left\" \"right\").left}}",
            "right",
        ),
        ("{{ (fromJson .json).a.b }}", "[1 2 x]"),
        ("{{ ((fromJson .json).a.b | first) }}", "1"),
        ("{{ (.json | fromJson).t }}", "true"),
        ("{{ \"aaa\" | printf }}", "aaa"),
        ("{{ \"x\" | printf \"%s-%s\" \"y\" }}", "y-x"),
        ("{{ 3 | add 1 2 }}", "6"),
    ]);
    assert!(
        err("{{ (list 1 2).foo }}").ends_with("can't evaluate field foo in type []interface {}")
    );
}

// ---------------------------------------------------------------------------
// builtins

#[test]
fn builtin_logic() {
    check_all(&[
        ("{{not true}} {{not false}}", "false true"),
        (
            "{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}",
            "false 0 0 1",
        ),
        (
            "{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}",
            "0 1 true 1",
        ),
        ("{{if and true 1 `hi`}}TRUE{{else}}FALSE{{end}}", "TRUE"),
        (
            "{{if and true 1 `hi` | not}}TRUE{{else}}FALSE{{end}}",
            "FALSE",
        ),
        ("{{or (list 3 4 5) \"slice is empty\"}}", "[3 4 5]"),
        ("{{or list \"slice is empty\"}}", "slice is empty"),
        ("{{ or .missing .username }}", "admin"),
        ("{{ and .missing .username }}", "<no value>"),
        // short-circuit: the second argument would fail
        ("{{ or 1 (fail \"boom\") }}", "1"),
        ("{{ and 0 (fail \"boom\") }}", "0"),
        ("{{ \"x\" | and 1 }}", "x"),
    ]);
}

#[test]
fn builtin_comparisons() {
    let cases = [
        ("eq true true", "true"),
        ("eq true false", "false"),
        ("eq 1.5 1.5", "true"),
        ("eq 1.5 2.5", "false"),
        ("eq 1 1", "true"),
        ("eq 1 2", "false"),
        ("eq `xy` `xy`", "true"),
        ("eq `xy` `xyz`", "false"),
        ("eq 3 4 5 6 3", "true"),
        ("eq 3 4 5 6 7", "false"),
        ("ne true true", "false"),
        ("ne 1.5 2.5", "true"),
        ("ne 1 1", "false"),
        ("ne `xy` `xyz`", "true"),
        ("lt 1.5 1.5", "false"),
        ("lt 1.5 2.5", "true"),
        ("lt 1 2", "true"),
        ("lt `xy` `xyz`", "true"),
        ("le 1.5 1.5", "true"),
        ("le 2.5 1.5", "false"),
        ("le 1 1", "true"),
        ("le `xyz` `xy`", "false"),
        ("gt 1.5 1.5", "false"),
        ("gt 2 1", "true"),
        ("gt `xy` `xyz`", "false"),
        ("ge 1.5 1.5", "true"),
        ("ge 1 2", "false"),
        ("ge `xyz` `xy`", "true"),
        ("eq (index `x` 0) 'x'", "true"),
        ("eq (index `x` 0) 'y'", "false"),
        ("lt (index `x` 0) 200", "true"),
        ("eq (add 1 2) 3", "true"),
        ("eq .username \"admin\"", "true"),
        ("eq .missing \"admin\"", "false"),
        ("eq .missing nil", "true"),
        ("eq nil nil", "true"),
        ("ne .password \"x\"", "true"),
        ("eq (len .password) 6", "true"),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let tpl = format!("{{{{if {expr}}}}}true{{{{else}}}}false{{{{end}}}}");
        match run(&tpl) {
            Ok(got) if got == want => {}
            other => failures.push(format!("{expr}: want {want}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for expr in [
        "eq `xy` 1",
        "eq 2 2.0",
        "lt true true",
        "lt .missing 1",
        "eq (list 1) (list 1)",
        "eq",
        "eq 1",
        "lt 1 `a`",
    ] {
        let tpl = format!("{{{{if {expr}}}}}true{{{{else}}}}false{{{{end}}}}");
        assert!(run(&tpl).is_err(), "{expr} should fail");
    }
}

#[test]
fn builtin_index_len_slice() {
    check_all(&[
        ("{{ index (list 3 4 5) 0 }}", "3"),
        ("{{ index (list 3 4 5) 2 }}", "5"),
        ("{{ index (dict \"one\" 1) \"one\" }}", "1"),
        ("{{ index (dict \"one\" 1) \"XXX\" }}", "<no value>"),
        ("{{ index (list (dict \"a\" (list 1 2))) 0 \"a\" 1 }}", "2"),
        ("{{ index \"abc\" 1 }}", "98"),
        ("{{ index . \"username\" }}", "admin"),
        ("{{ index $ \"a.b\" | upper }}", "DOTTED"),
        ("{{ len \"abc\" }}", "3"),
        ("{{ len \"é\" }}", "2"),
        ("{{ len (list 1 2) }}", "2"),
        ("{{ len (dict \"a\" 1) }}", "1"),
        ("{{ len . }}", "9"),
        ("{{ slice (list 1 2 3 4) 1 3 }}", "[2 3]"),
        ("{{ slice (list 1 2 3 4) 2 }}", "[3 4]"),
        ("{{ slice (list 1 2 3 4) }}", "[1 2 3 4]"),
        ("{{ slice (splitList \",\" \"a,b,c\") 1 }}", "[b c]"),
        ("{{ slice list 0 }}", "<no value>"),
    ]);
}

#[test]
fn builtin_print_functions() {
    check_all(&[
        ("{{print \"hello, print\"}}", "hello, print"),
        ("{{print 1 2 3}}", "1 2 3"),
        ("{{print \"a\" 1 2 \"b\"}}", "a1 2b"),
        ("{{print nil}}", "<nil>"),
        ("{{print .missing}}", "<nil>"),
        ("{{ .missing | print }}", "<nil>"),
        ("{{println 1 2 3}}", "1 2 3\n"),
        ("{{println \"a\" \"b\"}}", "a b\n"),
        ("{{ print (list 1 \"a\" nil) }}", "[1 a <nil>]"),
        (
            "{{ print (dict \"b\" 2 \"a\" (list 1)) }}",
            "map[a:[1] b:2]",
        ),
        ("{{ print (splitList \",\" \"x,y\") }}", "[x y]"),
        ("{{ split \",\" \"x,y\" }}", "map[_0:x _1:y]"),
    ]);
}

#[test]
fn builtin_printf() {
    check_all(&[
        ("{{printf \"%04x\" 127}}", "007f"),
        ("{{printf \"%g\" 3.5}}", "3.5"),
        ("{{printf \"%s\" \"hello\"}}", "hello"),
        ("{{printf \"%d %s %g\" 127 \"hello\" 7.0}}", "127 hello 7"),
        (
            "{{printf \"%5s|%-5s|%.2s\" \"ab\" \"ab\" \"abc\"}}",
            "   ab|ab   |ab",
        ),
        ("{{printf \"%05s\" \"ab\"}}", "   ab"),
        (
            "{{printf \"%5d|%-5d|%05d|%+d|% d\" 42 42 -42 42 42}}",
            "   42|42   |-0042|+42| 42",
        ),
        ("{{printf \"%.3d\" 7}}", "007"),
        (
            "{{printf \"%x %X %o %O %b %#x %#o %#b\" 255 255 8 8 5 255 8 5}}",
            "ff FF 10 0o10 101 0xff 010 0b101",
        ),
        ("{{printf \"%c%c\" 72 105}}", "Hi"),
        ("{{printf \"%q\" 65}}", "'A'"),
        ("{{printf \"%U %#U\" 65 65}}", "U+0041 U+0041 'A'"),
        (
            "{{printf \"%f %.2f %8.3f %-8.1f|\" 3.14159 3.14159 3.14159 3.14159}}",
            "3.141590 3.14    3.142 3.1     |",
        ),
        (
            "{{printf \"%e %E %.2e\" 123456.789 0.000123 5.0}}",
            "1.234568e+05 1.230000E-04 5.00e+00",
        ),
        (
            "{{printf \"%g %g %g %.3g %G\" 100000.0 1000000.0 0.00001 3.14159 1e-7}}",
            "100000 1e+06 1e-05 3.14 1E-07",
        ),
        ("{{printf \"%v %v\" 1e21 1e20}}", "1e+21 1e+20"),
        (
            "{{printf \"%08.3f|%+.1f|% .1f\" -3.14159 2.0 2.0}}",
            "-003.142|+2.0| 2.0",
        ),
        ("{{printf \"%t %v\" true false}}", "true false"),
        (
            "{{printf \"%q %+q %#q\" \"a\\\"b\" \"é\" \"x\"}}",
            "\"a\\\"b\" \"\\u00e9\" `x`",
        ),
        (
            "{{printf \"%x %X % x %#x\" \"hi\" \"hi\" \"hi\" \"hi\"}}",
            "6869 6869 68 69 0x6869",
        ),
        (
            "{{printf \"%v|%s|%d\" (list 1 2) (list \"a\" \"b\") (list 1 2)}}",
            "[1 2]|[a b]|[1 2]",
        ),
        ("{{printf \"%q\" (list \"a\" \"b\")}}", "[\"a\" \"b\"]"),
        (
            "{{printf \"%#v\" (list \"a\" 1 nil)}}",
            "[]interface {}{\"a\", 1, interface {}(nil)}",
        ),
        ("{{printf \"%#v %#v\" \"s\" 42}}", "\"s\" 42"),
        (
            "{{printf \"%#v\" (dict \"a\" 1)}}",
            "map[string]interface {}{\"a\":1}",
        ),
        (
            "{{printf \"%T %T %T %T\" (list) (dict) . (splitList \"\" \"\")}}",
            "[]interface {} map[string]interface {} map[string]string []string",
        ),
        (
            "{{printf \"%T %T %T\" (add 1 1) (atoi \"1\") nil}}",
            "int64 int <nil>",
        ),
        ("{{printf \"%d%%\" 50}}", "50%"),
        ("{{printf \"%d\" \"x\"}}", "%!d(string=x)"),
        ("{{printf \"%s\" 5}}", "%!s(int=5)"),
        ("{{printf \"%s\" nil}}", "%!s(<nil>)"),
        ("{{printf \"%s\" .missing}}", "%!s(<nil>)"),
        ("{{printf \"%d\"}}", "%!d(MISSING)"),
        ("{{printf \"%d\" 1 2}}", "1%!(EXTRA int=2)"),
        (
            "{{printf \"%d %s\" 1 \"a\" \"b\" 3}}",
            "1 a%!(EXTRA string=b, int=3)",
        ),
        ("{{printf \"%z\" 1}}", "%!z(int=1)"),
        ("{{printf \"%\"}}", "%!(NOVERB)"),
        ("{{printf \"%[2]s %[1]s\" \"a\" \"b\"}}", "b a"),
        ("{{printf \"%[3]s\" \"a\"}}", "%!s(BADINDEX)"),
        ("{{printf \"%*d|%-*d\" 5 42 4 7}}", "   42|7   "),
        ("{{printf \"%.*f\" 2 3.14159}}", "3.14"),
        ("{{printf \"%*d\" \"x\" 1}}", "%!(BADWIDTH)1"),
        ("{{printf \"%0*d|\" -3 1}}", "1  |"),
        ("{{printf \"%.*d|%.*d\" -1 7 \"x\" 8}}", "7|%!(BADPREC)8"),
        ("{{printf \"%d\" 1 nil}}", "1%!(EXTRA <nil>)"),
        ("{{printf \"%d\" (list \"a\")}}", "[%!d(string=a)]"),
        ("{{printf \"%s\" (dict \"k\" 1)}}", "map[k:%!s(int=1)]"),
        (
            "{{printf \"%v %d\" (index \"a\" 0) (index \"a\" 0)}}",
            "97 97",
        ),
        ("{{printf \"%x\" 3.0}}", "0x1.8p+01"),
        ("{{printf \"%b\" 1.0}}", "4503599627370496p-52"),
        ("{{printf \"%s:%s\" .username .password}}", "admin:s3cr3t"),
        ("{{printf \"%v\" (float64 \"NaN\")}}", "NaN"),
        (
            "{{printf \"%5.1f|%v\" (float64 \"+Inf\") (float64 \"-inf\")}}",
            " +Inf|-Inf",
        ),
        ("{{printf \"%-4d|\" 7}}", "7   |"),
        ("{{printf \"%x\" -255}}", "-ff"),
        ("{{printf \"%6.2f%%\" 99.5}}", " 99.50%"),
    ]);
}

#[test]
fn builtin_escapers() {
    check_all(&[
        (
            "{{html \"<script>alert(\\\"XSS\\\");</script>\"}}",
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;",
        ),
        (
            "{{printf \"<script>alert(\\\"XSS\\\");</script>\" | html}}",
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;",
        ),
        ("{{ html \"a'b&c\" }}", "a&#39;b&amp;c"),
        ("{{ html .missing }}", "&lt;no value&gt;"),
        ("{{ html 1 2 }}", "1 2"),
        ("{{js \"It'd be nice.\"}}", "It\\'d be nice."),
        ("{{js \"Go \\\"jump\\\" \\\\\"}}", "Go \\\"jump\\\" \\\\"),
        (
            "{{js \"<html>a=b&\"}}",
            "\\u003Chtml\\u003Ea\\u003Db\\u0026",
        ),
        ("{{js \"unprintable \\u200b\"}}", "unprintable \\u200B"),
        ("{{js \"tab\\t\"}}", "tab\\u0009"),
        ("{{js \"今日は\"}}", "今日は"),
        (
            "{{\"http://www.example.org/\"|urlquery}}",
            "http%3A%2F%2Fwww.example.org%2F",
        ),
        ("{{ urlquery \"a b&c=d/é~\" }}", "a+b%26c%3Dd%2F%C3%A9~"),
    ]);
}

// ---------------------------------------------------------------------------
// Sprig

#[test]
fn sprig_strings() {
    check_all(&[
        ("{{\"fooo\" | substr 0 3 }}", "foo"),
        ("{{\"foo\" | substr 0 10 }}", "foo"),
        ("{{ substr 1 3 \"hello\" }}", "el"),
        ("{{ substr -1 3 \"hello\" }}", "hel"),
        ("{{ substr 2 -1 \"hello\" }}", "llo"),
        ("{{ \"foooooo\" | trunc 3 }}", "foo"),
        ("{{ \"baaaaaar\" | trunc -3 }}", "aar"),
        ("{{ \"baaaaaar\" | trunc -999 }}", "baaaaaar"),
        ("{{ \"baaaaaz\" | trunc 0 }}", ""),
        ("{{ trim \"  \\t hi there \\n\" }}", "hi there"),
        ("{{ trimAll \"$\" \"$5.00$\" }}", "5.00"),
        ("{{ \"$5.00$\" | trimall \"$\" }}", "5.00"),
        ("{{ trimSuffix \"-\" \"hello-\" }}", "hello"),
        ("{{ trimPrefix \"-\" \"-hello\" }}", "hello"),
        ("{{ trimPrefix \"x\" \"-hello\" }}", "-hello"),
        ("{{ upper \"hello é\" }}", "HELLO É"),
        ("{{ lower \"HELLO É\" }}", "hello é"),
        (
            "{{ title \"hello world-wide web_x\" }}",
            "Hello World-Wide Web_x",
        ),
        ("{{ untitle \"Hello World\" }}", "hello world"),
        ("{{ repeat 3 \"ab\" }}", "ababab"),
        ("{{ \"ab\" | repeat 0 }}", ""),
        ("{{abbrev 5 \"hello world\"}}", "he..."),
        ("{{abbrev 3 \"hello world\"}}", "hello world"),
        ("{{abbrev 20 \"hello world\"}}", "hello world"),
        ("{{abbrevboth 5 10 \"1234 5678 9123\"}}", "...5678..."),
        ("{{nospace \"h e l l o \"}}", "hello"),
        ("{{nospace \"\\thé llo\"}}", "hÃ©llo"),
        ("{{nospace \"héllo\"}}", "héllo"),
        ("{{initials \"First Try\"}}", "FT"),
        (
            "{{ contains \"cat\" \"catch\" }} {{ \"catch\" | contains \"dog\" }}",
            "true false",
        ),
        (
            "{{ hasPrefix \"cat\" \"catch\" }} {{ hasSuffix \"ch\" \"catch\" }}",
            "true true",
        ),
        ("{{quote \"a\" \"b\" \"c\"}}", "\"a\" \"b\" \"c\""),
        (
            "{{quote \"\\\"a\\\"\" \"b\" \"c\"}}",
            "\"\\\"a\\\"\" \"b\" \"c\"",
        ),
        ("{{quote 1 2 3 }}", "\"1\" \"2\" \"3\""),
        ("{{ .missing | quote }}", ""),
        (
            "{{ quote \"tab\\there\\x01é\\u200b\" }}",
            "\"tab\\there\\x01é\\u200b\"",
        ),
        ("{{squote \"a\" \"b\" \"c\"}}", "'a' 'b' 'c'"),
        ("{{squote 1 2 3 }}", "'1' '2' '3'"),
        ("{{ .missing | squote }}", ""),
        ("{{$b := \"b\"}}{{\"c\" | cat \"a\" $b}}", "a b c"),
        ("{{ cat \"a\" nil 1 (list 2 3) }}", "a 1 [2 3]"),
        ("{{indent 4 \"a\\nb\\nc\"}}", "    a\n    b\n    c"),
        ("{{nindent 4 \"a\\nb\\nc\"}}", "\n    a\n    b\n    c"),
        ("{{ .multi | indent 2 }}", "  line1\n  line2"),
        (
            "{{\"I Am Henry VIII\" | replace \" \" \"-\"}}",
            "I-Am-Henry-VIII",
        ),
        ("{{ replace \"\" \"-\" \"abc\" }}", "-a-b-c-"),
        (
            "{{$num := len \"two\"}}{{$num}} {{$num | plural \"1 char\" \"chars\"}}",
            "3 chars",
        ),
        ("{{ plural \"one\" \"many\" 1 }}", "one"),
        ("{{ toString 1 | kindOf }}", "string"),
        (
            "{{ toString 1.5 }} {{ toString true }} {{ toString nil }} {{ toString (list 1) }}",
            "1.5 true <nil> [1]",
        ),
        ("{{ hello }}", "Hello!"),
        ("{{ shuffle \"\" }}", ""),
        ("{{ shuffle \"aaa\" }}", "aaa"),
    ]);
    assert_eq!(ok("{{ shuffle \"abcdef\" | len }}"), "6");
}

#[test]
fn sprig_string_lists() {
    check_all(&[
        ("{{$v := \"foo$bar$baz\" | split \"$\"}}{{$v._0}}", "foo"),
        ("{{$v := \"foo$bar$baz\" | split \"$\"}}{{$v._2}}", "baz"),
        (
            "{{$v := \"foo$bar$baz\" | splitn \"$\" 2}}{{$v._0}}|{{$v._1}}",
            "foo|bar$baz",
        ),
        ("{{ splitList \",\" \"a,b,,c\" }}", "[a b  c]"),
        ("{{ splitList \"\" \"abc\" }}", "[a b c]"),
        ("{{ splitList \",\" \"\" | len }}", "1"),
        ("{{ splitList \"\" \"\" | len }}", "0"),
        ("{{ (split \"\" \"ab\")._1 }}", "b"),
        (
            "{{ $s := list 1 2 3 | toStrings }}{{ index $s 1 | kindOf }}",
            "string",
        ),
        ("{{ list 1 .missing 2 | toStrings }}", "[1 2]"),
        ("{{ tuple \"a\" \"b\" \"c\" | join \"-\" }}", "a-b-c"),
        ("{{ tuple 1 2 3 | join \"-\" }}", "1-2-3"),
        ("{{ join \"-\" .username }}", "admin"),
        ("{{ join \"-\" (until 3) }}", "0-1-2"),
        ("{{ join \",\" (list \"1\" nil \"2\") }}", "1,2"),
        ("{{ join \",\" .missing }}", ""),
        (
            "{{ list \"c\" \"a\" \"b\" | sortAlpha | join \"\" }}",
            "abc",
        ),
        ("{{ list 2 1 4 3 | sortAlpha | join \"\" }}", "1234"),
        ("{{ sortAlpha \"x\" }}", "[x]"),
    ]);
    // `keys` takes map[string]interface {}; the data is a map[string]string.
    assert!(err("{{ keys . }}").ends_with(
        "wrong type for value; expected map[string]interface {}; got map[string]string"
    ));
}

#[test]
fn sprig_encoding_and_hashes() {
    check_all(&[
        ("{{ b64enc \"coffee\" }}", "Y29mZmVl"),
        ("{{ b64dec \"Y29mZmVl\" }}", "coffee"),
        ("{{ .b64 | b64dec }}", "hello"),
        ("{{ b64dec \"aGVs\\nbG8=\" }}", "hello"),
        (
            "{{ b64dec \"aGVsbG8\" }}",
            "illegal base64 data at input byte 4",
        ),
        (
            "{{ b64dec \"a!==\" }}",
            "illegal base64 data at input byte 1",
        ),
        (
            "{{ b64dec \"aGVsbG8=x\" }}",
            "illegal base64 data at input byte 8",
        ),
        ("{{ b64dec \"\" }}", ""),
        ("{{ b64enc \"\" }}", ""),
        ("{{ b32enc \"coffee\" }}", "MNXWMZTFMU======"),
        ("{{ b32dec \"MNXWMZTFMU======\" }}", "coffee"),
        (
            "{{ b32enc \"a\" }}{{ b32enc \"abcde\" }}",
            "ME======MFRGGZDF",
        ),
        (
            "{{ b32dec \"MNXW!\" }}",
            "illegal base32 data at input byte 4",
        ),
        (
            "{{\"abc\" | sha512sum}}",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            "{{\"abc\" | sha256sum}}",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "{{\"abc\" | sha1sum}}",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
        ("{{\"abc\" | adler32sum}}", "38600999"),
        ("{{\"\" | adler32sum}}", "1"),
    ]);
}

#[test]
fn sprig_math() {
    check_all(&[
        ("{{ 3 | add1 }}", "4"),
        ("{{ 3 | add 1 2}}", "6"),
        ("{{ add }}", "0"),
        ("{{ add \"2\" 3.9 true }}", "6"),
        ("{{ 4 | div 5 }}", "1"),
        ("{{ div -7 2 }}", "-3"),
        ("{{ mod 7 3 }} {{ mod -7 3 }}", "1 -1"),
        ("{{ 1 | mul \"2\" 3 \"4\"}}", "24"),
        ("{{ 3 | sub 14 }}", "11"),
        ("{{ biggest 1 2 3 345 5 6 7}}", "345"),
        ("{{ max 345}}", "345"),
        ("{{ min 1 2 3 345 5 6 7}}", "1"),
        ("{{ maxf 1 2 3 345.7 5 6 7}}", "345.7"),
        ("{{ minf 1.4 2 3 345.6 5 6 7}}", "1.4"),
        ("{{ minf 345 }}", "345"),
        (
            "{{ ceil 123.01 }} {{ ceil \"123\" }} {{ floor 123.9999 }} {{ floor \"123.9999\" }}",
            "124 123 123 123",
        ),
        ("{{ round 123.5555 3 }}", "123.556"),
        ("{{ round \"123.55555\" 3 }}", "123.556"),
        ("{{ round 123.500001 0 }}", "124"),
        ("{{ round 123.49999999 0 }}", "123"),
        ("{{ round 123.2329999 2 .3 }}", "123.23"),
        ("{{ round 123.233 2 .3 }}", "123.24"),
        (
            "{{ atoi \"42\" }} {{ atoi \"x\" }} {{ atoi \" 1\" }} {{ atoi \"-5\" }}",
            "42 0 0 -5",
        ),
        (
            "{{ int \"0x10\" }} {{ int \"010\" }} {{ int \"08\" }} {{ int \"12.00\" }} {{ int \"1.5\" }}",
            "16 8 0 12 0",
        ),
        (
            "{{ int 3.9 }} {{ int true }} {{ int nil }} {{ int .num }}",
            "3 1 0 42",
        ),
        ("{{ int64 \"-9\" | printf \"%T\" }}", "int64"),
        (
            "{{ float64 \"1.5\" }} {{ float64 2 }} {{ float64 \"x\" }} {{ float64 \"1_000\" }}",
            "1.5 2 0 1000",
        ),
        (
            "{{ toDecimal \"777\" }} {{ toDecimal 777 }} {{ toDecimal \"8\" }}",
            "511 511 0",
        ),
        ("{{seq 0 1 3}}", "0 1 2 3"),
        ("{{seq 0 3 10}}", "0 3 6 9"),
        ("{{seq 3 3 2}}", ""),
        ("{{seq 3 -3 2}}", "3"),
        ("{{seq}}", ""),
        ("{{seq 0 4}}", "0 1 2 3 4"),
        ("{{seq 5}}", "1 2 3 4 5"),
        ("{{seq -5}}", "1 0 -1 -2 -3 -4 -5"),
        ("{{seq 0}}", "1 0"),
        ("{{seq 0 1 2 3}}", ""),
        ("{{seq 0 -4}}", "0 -1 -2 -3 -4"),
        (
            "{{range $i, $e := untilStep 0 5 1}}{{$i}}{{$e}}{{end}}",
            "0011223344",
        ),
        (
            "{{range $i, $e := untilStep 3 6 1}}{{$i}}{{$e}}{{end}}",
            "031425",
        ),
        (
            "{{range $i, $e := untilStep 0 -10 -2}}{{$i}}{{$e}} {{end}}",
            "00 1-2 2-4 3-6 4-8 ",
        ),
        ("{{range $i, $e := untilStep 3 0 1}}{{$i}}{{$e}}{{end}}", ""),
        (
            "{{range $i, $e := untilStep 3 99 0}}{{$i}}{{$e}}{{end}}",
            "",
        ),
        (
            "{{range $i, $e := untilStep 3 99 -1}}{{$i}}{{$e}}{{end}}",
            "",
        ),
        ("{{ until 3 }}", "[0 1 2]"),
        ("{{ add 9223372036854775807 1 }}", "-9223372036854775808"),
    ]);
    let r = ok("{{ randInt 5 10 }}").parse::<i64>().unwrap();
    assert!((5..10).contains(&r));
}

#[test]
fn sprig_defaults_and_flow() {
    check_all(&[
        ("{{\"\" | default \"foo\"}}", "foo"),
        ("{{default \"foo\" 234}}", "234"),
        ("{{default \"foo\" 2.34}}", "2.34"),
        ("{{ .Nothing | default \"123\" }}", "123"),
        ("{{ default \"123\" }}", "123"),
        ("{{ .username | default \"x\" }}", "admin"),
        ("{{ .empty | default \"x\" }}", "x"),
        (
            "{{ default \"d\" 0 }} {{ default \"d\" false }} {{ default \"d\" (list) }}",
            "d d d",
        ),
        ("{{if empty 1}}1{{else}}0{{end}}", "0"),
        ("{{if empty 0}}1{{else}}0{{end}}", "1"),
        ("{{if empty \"\"}}1{{else}}0{{end}}", "1"),
        ("{{if empty 0.0}}1{{else}}0{{end}}", "1"),
        ("{{if empty false}}1{{else}}0{{end}}", "1"),
        ("{{if empty .top.NoSuchThing}}1{{else}}0{{end}}", "1"),
        ("{{ coalesce 1 }}", "1"),
        ("{{ coalesce \"\" 0 nil 2 }}", "2"),
        ("{{ $two := 2 }}{{ coalesce \"\" 0 nil $two }}", "2"),
        ("{{ coalesce }}", "<no value>"),
        ("{{ coalesce .missing .empty .username }}", "admin"),
        ("{{ all 1 }}", "true"),
        ("{{ all \"\" 0 nil 2 }}", "false"),
        ("{{ all }}", "true"),
        ("{{ any 1 }}", "true"),
        ("{{ any \"\" 0 nil 2 }}", "true"),
        ("{{ $zero := 0 }}{{ any \"\" $zero 0 0 0 }}", "false"),
        ("{{ any }}", "false"),
        ("{{true | ternary \"foo\" \"bar\"}}", "foo"),
        ("{{ternary \"foo\" \"bar\" true}}", "foo"),
        ("{{false | ternary \"foo\" \"bar\"}}", "bar"),
        ("{{ list 0 1 \"\" \"x\" nil (list) | compact }}", "[1 x]"),
        ("{{ list 0 1 | mustCompact }}", "[1]"),
    ]);
}

#[test]
fn sprig_json() {
    check_all(&[
        (
            "{{ .json | fromJson }}",
            "map[a:map[b:[1 2 x]] n:<nil> t:true]",
        ),
        ("{{ (.json | fromJson).n }}", "<no value>"),
        ("{{ \"[1,2.5,\\\"x\\\"]\" | fromJson }}", "[1 2.5 x]"),
        ("{{ \"not json\" | fromJson }}", "<no value>"),
        ("{{ \"12345678\" | fromJson }}", "1.2345678e+07"),
        (
            "{{ dict \"bool\" true \"string\" \"test\" \"number\" 42 | toJson }}",
            "{\"bool\":true,\"number\":42,\"string\":\"test\"}",
        ),
        (
            "{{ dict \"bool\" true \"string\" \"test\" \"number\" 42 | toPrettyJson }}",
            "{\n  \"bool\": true,\n  \"number\": 42,\n  \"string\": \"test\"\n}",
        ),
        (
            "{{ dict \"html\" \"<HEAD>\" \"n\" 42 | toRawJson }}",
            "{\"html\":\"<HEAD>\",\"n\":42}",
        ),
        (
            "{{ dict \"html\" \"<HEAD>&\" | toJson }}",
            "{\"html\":\"\\u003cHEAD\\u003e\\u0026\"}",
        ),
        (
            "{{ list 1 \"a\" nil true 1.5 | toJson }}",
            "[1,\"a\",null,true,1.5]",
        ),
        ("{{ toJson .missing }}", "null"),
        (
            "{{ toJson \"a\\nb\\t\\u0001\\u2028\" }}",
            "\"a\\nb\\t\\u0001\\u2028\"",
        ),
        (
            "{{ toJson 1e21 }} {{ toJson 0.000001 }} {{ toJson 1e-7 }} {{ toJson 100.0 }}",
            "1e+21 0.000001 1e-7 100",
        ),
        (
            "{{ list | toJson }} {{ dict | toJson }} {{ list | rest | toJson }}",
            "[] {} null",
        ),
        (
            "{{ dict \"a\" (list) \"b\" (dict) | toPrettyJson }}",
            "{\n  \"a\": [],\n  \"b\": {}\n}",
        ),
        (
            "{{ list (list 1 2) (dict \"k\" \"v\") | toPrettyJson }}",
            "[\n  [\n    1,\n    2\n  ],\n  {\n    \"k\": \"v\"\n  }\n]",
        ),
        ("{{ . | toJson | fromJson | len }}", "9"),
        (
            "{{ split \"/\" \"a/b\" | toJson }}",
            "{\"_0\":\"a\",\"_1\":\"b\"}",
        ),
        ("{{ toJson (float64 \"NaN\") }}", ""),
    ]);
    assert!(
        err("{{ mustFromJson \"{bad\" }}")
            .contains("error calling mustFromJson: invalid JSON input")
    );
    assert!(err("{{ toRawJson (float64 \"NaN\") }}").contains("json: unsupported value: NaN"));
}

#[test]
fn sprig_lists() {
    check_all(&[
        (
            "{{$t := tuple 1 \"a\" \"foo\"}}{{index $t 2}}{{index $t 0 }}{{index $t 1}}",
            "foo1a",
        ),
        (
            "{{$t := list 1 \"a\" \"foo\"}}{{index $t 2}}{{index $t 0 }}{{index $t 1}}",
            "foo1a",
        ),
        ("{{ $t := tuple 1 2 3  }}{{ append $t 4 | len }}", "4"),
        (
            "{{ $t := tuple 1 2 3 4  }}{{ append $t 5 | join \"-\" }}",
            "1-2-3-4-5",
        ),
        (
            "{{ $t := regexSplit \"/\" \"foo/bar/baz\" -1 }}{{ append $t \"qux\" | join \"-\" }}",
            "foo-bar-baz-qux",
        ),
        ("{{ $t := tuple 1 2 3  }}{{ mustPush $t 4 | len }}", "4"),
        ("{{ tuple 1 2 3 4 5 6 7 | chunk 3 | len }}", "3"),
        ("{{ tuple | chunk 3 | len }}", "0"),
        (
            "{{ range ( tuple 1 2 3 4 5 6 7 8 9 | chunk 3 ) }}{{. | join \"-\"}}|{{end}}",
            "1-2-3|4-5-6|7-8-9|",
        ),
        (
            "{{ range ( tuple 1 2 3 4 5 6 7 8 | chunk 3 ) }}{{. | join \"-\"}}|{{end}}",
            "1-2-3|4-5-6|7-8|",
        ),
        (
            "{{ range ( tuple 1 2 | mustChunk 3 ) }}{{. | join \"-\"}}|{{end}}",
            "1-2|",
        ),
        (
            "{{ tuple 1 2 | chunk 1 | printf \"%T\" }}",
            "[][]interface {}",
        ),
        (
            "{{ $t := tuple 1 2 3 4  }}{{ prepend $t 0 | join \"-\" }}",
            "0-1-2-3-4",
        ),
        (
            "{{ $t := regexSplit \"/\" \"foo/bar/baz\" -1 }}{{ mustPrepend $t \"qux\" | join \"-\" }}",
            "qux-foo-bar-baz",
        ),
        ("{{ list 1 2 3 | first }}", "1"),
        ("{{ list | first }}", "<no value>"),
        (
            "{{ regexSplit \"/src/\" \"foo/src/bar\" -1 | first }}",
            "foo",
        ),
        ("{{ list 1 2 3 | last }}", "3"),
        ("{{ list | mustLast }}", "<no value>"),
        ("{{ list 1 2 3 | initial | len }}", "2"),
        ("{{ list 1 2 3 | initial | last }}", "2"),
        ("{{ list | initial }}", "[]"),
        (
            "{{ regexSplit \"/\" \"foo/bar/baz\" -1 | initial }}",
            "[foo bar]",
        ),
        ("{{ list 1 2 3 | rest | first }}", "2"),
        ("{{ list | rest }}", "[]"),
        (
            "{{ regexSplit \"/\" \"foo/bar/baz\" -1 | rest }}",
            "[bar baz]",
        ),
        ("{{ list 1 2 3 | reverse }}", "[3 2 1]"),
        ("{{ list | reverse }}", "[]"),
        (
            "{{ list 1 1 2 \"a\" \"a\" (list 1) (list 1) | uniq }}",
            "[1 2 a [1]]",
        ),
        ("{{ without (list 1 2 3 1) 1 3 }}", "[2]"),
        ("{{ without (list 1 2 3) 4 }}", "[1 2 3]"),
        (
            "{{ has 2 (list 1 2 3) }} {{ list 1 2 3 | has 4 }} {{ has \"a\" .missing }}",
            "true false false",
        ),
        ("{{ has 1 (list 1.0) }}", "false"),
        (
            "{{ concat (list 1 2) (list 3) (splitList \",\" \"a,b\") }}",
            "[1 2 3 a b]",
        ),
        ("{{ concat | len }}", "0"),
        ("{{ mustSlice (list 1 2 3) 1 }}", "[2 3]"),
        ("{{ slice (list 1 2 3) \"1\" 2.0 }}", "[2]"),
    ]);
}

#[test]
fn sprig_dicts() {
    check_all(&[
        (
            "{{$t := dict \"I\" \"shot\" \"the\" \"albatross\"}}{{$t.the}} {{$t.I}}",
            "albatross shot",
        ),
        (
            "{{$d := dict 1 2 \"three\" \"four\" 5}}{{range $k, $v := $d}}{{$k}}{{$v}}{{end}}",
            "125threefour",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 -}}{{- $_ := unset $d \"two\" -}}{{- range $k, $v := $d}}{{$k}}{{$v}}{{- end -}}",
            "one1",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 -}}{{- if hasKey $d \"one\" -}}1{{- end -}}",
            "1",
        ),
        (
            "{{ hasKey (dict \"a\" nil) \"a\" }} {{ hasKey (dict) \"a\" }}",
            "true false",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 -}}{{- $d2 := dict \"one\" 1 \"two\" 33333 -}}{{- $d3 := dict \"one\" 1 -}}{{- $d4 := dict \"one\" 1 \"two\" 4444 -}}{{- pluck \"two\" $d $d2 $d3 $d4 -}}",
            "[222222 33333 4444]",
        ),
        (
            "{{ dict \"foo\" 1 \"bar\" 2 | keys | sortAlpha }}",
            "[bar foo]",
        ),
        ("{{ dict | keys }}", "[]"),
        (
            "{{ keys (dict \"foo\" 1) (dict \"bar\" 2) (dict \"bar\" 3) | uniq | sortAlpha }}",
            "[bar foo]",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 }}{{ pick $d \"two\" | len -}}",
            "1",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 }}{{ pick $d \"two\" -}}",
            "map[two:222222]",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 }}{{ pick $d \"one\" \"two\" \"three\" | len -}}",
            "2",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 }}{{ omit $d \"one\" -}}",
            "map[two:222222]",
        ),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 }}{{ omit $d \"two\" \"three\" | len -}}",
            "1",
        ),
        ("{{- $d := dict \"one\" 1 }}{{ get $d \"one\" -}}", "1"),
        ("{{- $d := dict }}{{ get $d \"two\" -}}", ""),
        (
            "{{- $d := dict \"one\" 1 \"two\" 222222 -}}{{- $_ := set $d \"two\" 2 -}}{{- $_ := set $d \"three\" 3 -}}{{- if hasKey $d \"one\" -}}{{$d.one}}{{- end -}}{{- if hasKey $d \"two\" -}}{{$d.two}}{{- end -}}{{- if hasKey $d \"three\" -}}{{$d.three}}{{- end -}}",
            "123",
        ),
        (
            "{{- $d := dict \"a\" 1 \"b\" 2 }}{{ values $d | sortAlpha | join \",\" }}",
            "1,2",
        ),
        (
            "{{- $d := dict \"a\" \"first\" \"b\" 2 }}{{ values $d | sortAlpha | join \",\" }}",
            "2,first",
        ),
        (
            "{{- $d := dict \"a\" 1 \"b\" 2 | deepCopy }}{{ keys $d | sortAlpha | join \",\" }}",
            "a,b",
        ),
        (
            "{{- $one := dict \"foo\" (dict \"bar\" \"baz\") \"qux\" true -}}{{ deepCopy $one }}",
            "map[foo:map[bar:baz] qux:true]",
        ),
        (
            "{{- $a := dict \"x\" 1 }}{{ $b := deepCopy $a }}{{ $_ := set $b \"x\" 2 }}{{ $a.x }}{{ $b.x }}",
            "12",
        ),
        (
            "{{- $a := dict \"x\" 1 }}{{ $b := $a }}{{ $_ := set $b \"x\" 2 }}{{ $a.x }}",
            "2",
        ),
        (
            "{{- $d := dict \"a\" (dict \"b\" (dict \"c\" 1)) }}{{ dig \"a\" \"b\" \"c\" \"\" $d }}",
            "1",
        ),
        (
            "{{- $d := dict \"a\" (dict \"b\" (dict \"c\" 1)) }}{{ dig \"a\" \"b\" \"z\" \"2\" $d }}",
            "2",
        ),
        ("{{ dict \"a\" 1 | dig \"a\" \"\" }}", "1"),
        ("{{ dict \"a\" 1 | dig \"z\" \"2\" }}", "2"),
        ("{{ $d := dict \"k\" }}[{{ $d.k }}]", "[]"),
        ("{{ $d := dict \"k\" nil }}{{ $d.k }}", "<no value>"),
        ("{{ (dict \"a\" 1).b }}", "<no value>"),
    ]);
}

#[test]
fn sprig_reflection_and_paths() {
    check_all(&[
        ("{{ typeOf . }}", "map[string]string"),
        (
            "{{ typeOf .username }} {{ typeOf 1 }} {{ typeOf 1.5 }} {{ typeOf true }} {{ typeOf nil }}",
            "string int float64 bool <nil>",
        ),
        (
            "{{ typeOf (list) }} {{ typeOf (dict) }} {{ typeOf (until 1) }} {{ typeOf (add 1) }}",
            "[]interface {} map[string]interface {} []int int64",
        ),
        (
            "{{ kindOf . }} {{ kindOf (list) }} {{ kindOf \"x\" }} {{ kindOf nil }}",
            "map slice string invalid",
        ),
        (
            "{{ typeIs \"string\" .username }} {{ typeIsLike \"string\" .username }} {{ kindIs \"map\" . }}",
            "true true true",
        ),
        (
            "{{ deepEqual (list 1 (dict \"a\" 1)) (list 1 (dict \"a\" 1)) }} {{ deepEqual 1 \"1\" }}",
            "true false",
        ),
        (
            "{{ base \"/a/b/c.txt\" }} {{ base \"\" }} {{ base \"/\" }} {{ base \"a/b/\" }}",
            "c.txt . / b",
        ),
        (
            "{{ dir \"/a/b/c.txt\" }} {{ dir \"c.txt\" }} {{ dir \"/\" }} {{ dir \"a/b/\" }}",
            "/a/b . / a/b",
        ),
        (
            "{{ clean \"a//b/./c/..\" }} {{ clean \"\" }} {{ clean \"/../a\" }} {{ clean \"../../x/../y\" }}",
            "a/b . /a ../../y",
        ),
        ("{{ ext \"a/b.tar.gz\" }} [{{ ext \"a.d/b\" }}]", ".gz []"),
        (
            "{{ isAbs \"/x\" }} {{ isAbs \"x\" }} {{ osBase \"/q/r\" }}",
            "true false r",
        ),
    ]);
}

#[test]
fn sprig_regex() {
    check_all(&[
        ("{{ regexMatch \"^[a-z]+$\" .username }}", "true"),
        (
            "{{ regexMatch \"[A-Z0-9._%+-]+@[A-Z0-9.-]+\\\\.[A-Z]{2,}\" \"test@acme.com\" }}",
            "false",
        ),
        (
            "{{ regexMatch \"(?i)[A-Z0-9._%+-]+@[A-Z0-9.-]+\\\\.[A-Z]{2,}\" \"Test@Acme.Com\" }}",
            "true",
        ),
        ("{{ regexMatch \"(\" \"x\" }}", "false"),
        ("{{ mustRegexMatch \"^a\" \"abc\" }}", "true"),
        ("{{ regexFind \"[a-zA-Z][1-9]\" \"abcd1234\" }}", "d1"),
        ("{{ regexFind \"fo.?\" \"foorbar\" }}", "foo"),
        ("{{ regexFind \"x\" \"none\" }}", ""),
        (
            "{{ regexFindAll \"[2,4,6,8]\" \"123456789\" -1 }}",
            "[2 4 6 8]",
        ),
        ("{{ regexFindAll \"[2,4,6,8]\" \"123456789\" 2 }}", "[2 4]"),
        ("{{ regexFindAll \"a{2}\" \"aaaa\" -1 | len }}", "2"),
        ("{{ regexFindAll \"x\" \"aaaa\" -1 | toJson }}", "null"),
        (
            "{{ regexFindAll \"a*\" \"baaab\" -1 | toJson }}",
            "[\"\",\"aaa\",\"\"]",
        ),
        (
            "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"T\" }}",
            "-T-T-",
        ),
        (
            "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1\" }}",
            "--xx-",
        ),
        (
            "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1W\" }}",
            "---",
        ),
        (
            "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}",
            "-W-xxW-",
        ),
        (
            "{{ regexReplaceAll \"(?P<first>\\\\w+) (?P<last>\\\\w+)\" \"John Smith\" \"$last, $first $$\" }}",
            "Smith, John $",
        ),
        ("{{ regexReplaceAll \"a*\" \"baaab\" \"-\" }}", "-b-b-"),
        (
            "{{ regexReplaceAllLiteral \"a(x*)b\" \"-ab-axxb-\" \"$1\" }}",
            "-$1-$1-",
        ),
        (
            "{{ regexReplaceAllLiteral \"a(x*)b\" \"-ab-axxb-\" \"${1}\" }}",
            "-${1}-${1}-",
        ),
        ("{{ regexSplit \"z+\" \"pizza\" -1 }}", "[pi a]"),
        ("{{ regexSplit \"a\" \"banana\" -1 | len }}", "4"),
        ("{{ regexSplit \"a\" \"banana\" 0 | len }}", "0"),
        ("{{ regexSplit \"a\" \"banana\" 2 }}", "[b nana]"),
        ("{{ regexSplit \"\" \"abc\" -1 }}", "[a b c]"),
        (
            "{{ regexQuoteMeta \"1.2.3\" }} {{ regexQuoteMeta \"pretzel\" }}",
            "1\\.2\\.3 pretzel",
        ),
        // Go's \d, \w, \s, \b are ASCII-only.
        (
            "{{ regexMatch \"^\\\\d+$\" \"١٢\" }} {{ regexMatch \"^\\\\d+$\" \"12\" }}",
            "false true",
        ),
        (
            "{{ regexMatch \"^\\\\w+$\" \"é\" }} {{ regexMatch \"^[\\\\w]+$\" \"a_1\" }}",
            "false true",
        ),
        (
            "{{ regexFindAll \"[[:alpha:]]+\" \"ab1cd\" -1 }}",
            "[ab cd]",
        ),
        (
            "{{ regexMatch \"^[]a]+$\" \"]a\" }} {{ regexMatch \"[[]\" \"[\" }} {{ regexMatch \"[a&&b]\" \"&\" }}",
            "true true true",
        ),
    ]);
}

#[test]
fn sprig_crypto_and_random() {
    let h = ok("{{ bcrypt \"abc\" }}");
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    assert!(bcrypt::verify("abc", &h).unwrap());
    let hp = ok("{{ htpasswd .username .password }}");
    let (user, hash) = hp.split_once(':').unwrap();
    assert_eq!(user, "admin");
    assert!(bcrypt::verify("s3cr3t", hash).unwrap());
    assert_eq!(ok("{{ htpasswd \"a:b\" \"x\" }}"), "invalid username: a:b");
    assert_eq!(
        ok(&format!("{{{{ bcrypt \"{}\" }}}}", "x".repeat(73))),
        "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
    );
    // bcrypt is deliberately slow, so calls are expensive in the step budget
    // (an invalid user name makes htpasswd return without hashing here).
    assert!(
        err_patient("{{ range until 30 }}{{ htpasswd \"a:b\" \"x\" }}{{ end }}")
            .contains("evaluation steps")
    );
    let a = ok("{{ randAlphaNum 32 }}");
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(
        ok("{{ randAlpha 20 }}")
            .chars()
            .all(|c| c.is_ascii_alphabetic())
    );
    assert!(
        ok("{{ randNumeric 20 }}")
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    let asc = ok("{{ randAscii 50 }}");
    assert!(asc.len() == 50 && asc.chars().all(|c| (' '..='~').contains(&c)));
    assert_eq!(ok("{{ randAlphaNum 0 }}{{ randAlphaNum -3 }}"), "");
    assert_ne!(ok("{{ randAlphaNum 32 }}"), ok("{{ randAlphaNum 32 }}"));
    let u = ok("{{ uuidv4 }}");
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");
    assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    assert_eq!(ok("{{ randBytes 12 | len }}"), "16");
}

// ---------------------------------------------------------------------------
// errors

#[test]
fn parse_errors() {
    check_errors(&[
        (
            "{{ env \"HOME\" }}",
            "template: t:1: function \"env\" not defined",
        ),
        (
            "{{ expandenv \"$HOME\" }}",
            "template: t:1: function \"expandenv\" not defined",
        ),
        (
            "{{ getHostByName \"x\" }}",
            "template: t:1: function \"getHostByName\" not defined",
        ),
        (
            "line1\n{{ nosuchfunc }}",
            "template: t:2: function \"nosuchfunc\" not defined",
        ),
        (
            "{{ if false }}{{ now }}{{ end }}",
            "template: t:1: function \"now\" not defined",
        ),
        ("{{ .x ", "template: t:1: unclosed action"),
        ("{{ .x }", "template: t:1: unexpected \"}\" in operand"),
        ("{{ if .x }}", "template: t:1: unexpected EOF"),
        ("{{ end }}", "template: t:1: unexpected {{end}}"),
        ("{{ else }}", "template: t:1: unexpected {{else}}"),
        ("{{ if }}{{ end }}", "template: t:1: missing value for if"),
        ("{{ }}", "template: t:1: missing value for command"),
        ("{{ $x }}", "template: t:1: undefined variable \"$x\""),
        (
            "{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}",
            "template: t:1: undefined variable \"$x\"",
        ),
        (
            "{{ 3 | 4 }}",
            "template: t:1: non executable command in pipeline stage 2",
        ),
        ("{{ break }}", "template: t:1: {{break}} outside {{range}}"),
        (
            "{{ continue }}",
            "template: t:1: {{continue}} outside {{range}}",
        ),
        (
            "{{ /* x */ }}",
            "template: t:1: unexpected \"/\" in command",
        ),
        ("{{/* unclosed", "template: t:1: unclosed comment"),
        (
            "{{/* x */ y}}",
            "template: t:1: comment ends before closing delimiter",
        ),
        ("{{ \"abc }}", "template: t:1: unterminated quoted string"),
        (
            "{{ `abc }}",
            "template: t:1: unterminated raw quoted string",
        ),
        (
            "{{ 'ab' }}",
            "template: t:1: malformed character constant: 'ab'",
        ),
        ("{{ 3x }}", "template: t:1: bad number syntax: \"3x\""),
        ("{{ 0x }}", "template: t:1: illegal number syntax: \"0x\""),
        (
            "{{ 99999999999999999999 }}",
            "template: t:1: integer overflow: \"99999999999999999999\"",
        ),
        ("{{ \"\\q\" }}", "template: t:1: invalid syntax"),
        ("{{ (1 }}", "template: t:1: unclosed left paren"),
        ("{{ 1) }}", "template: t:1: unexpected right paren"),
        ("{{ .a.b.c$ }}", "template: t:1: bad character U+0024 '$'"),
        (
            "{{ \"x\".y }}",
            "template: t:1: unexpected . after term \"\\\"x\\\"\"",
        ),
        (
            "{{ range $i, $j, $k := . }}{{ end }}",
            "template: t:1: too many declarations in range",
        ),
        (
            "{{ with $x, $y := . }}{{ end }}",
            "template: t:1: too many declarations in with",
        ),
        (
            "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
            "template: t:1: template: multiple definition of template \"a\"",
        ),
        (
            "{{ if true }}{{ else }}{{ else }}{{ end }}",
            "template: t:1: expected end; found {{else}}",
        ),
        (
            "{{ 1+2i }}",
            "template: t:1: complex constants are not supported: 1+2i",
        ),
        ("{{ .x\n\n", "template: t:3: unclosed action started at t:1"),
        (
            "{{ .x\n\n )}}",
            "template: t:3: unexpected right paren in action started at t:1",
        ),
    ]);
    assert!(matches!(
        run("{{ env \"X\" }}"),
        Err(TemplateError::UnknownFunction { ref function, .. }) if function == "env"
    ));
    assert!(matches!(run("{{ .x "), Err(TemplateError::Parse { .. })));
}

#[test]
fn exec_errors() {
    check_errors(&[
        (
            "{{ .username.foo }}",
            "template: t:1:12: executing \"t\" at <.username.foo>: can't evaluate field foo in type string",
        ),
        (
            "{{ .missing | upper }}",
            "template: t:1:14: executing \"t\" at <upper>: invalid value; expected string",
        ),
        (
            "{{ upper .missing }}",
            "template: t:1:9: executing \"t\" at <.missing>: invalid value; expected string",
        ),
        (
            "{{ upper 3 }}",
            "template: t:1:9: executing \"t\" at <3>: expected string; found 3",
        ),
        (
            "{{ 3 | upper }}",
            "template: t:1:7: executing \"t\" at <upper>: wrong type for value; expected string; got int",
        ),
        (
            "{{ repeat \"3\" \"x\" }}",
            "template: t:1:10: executing \"t\" at <\"3\">: expected integer; found \"3\"",
        ),
        // Go reports the last node evaluated inside the parenthesised pipeline.
        (
            "{{ substr 0 (add 1 2) .username }}",
            "template: t:1:19: executing \"t\" at <2>: wrong type for value; expected int; got int64",
        ),
        (
            "{{ upper }}",
            "template: t:1:3: executing \"t\" at <upper>: wrong number of args for upper: want 1 got 0",
        ),
        (
            "{{ upper \"a\" \"b\" }}",
            "template: t:1:3: executing \"t\" at <upper>: wrong number of args for upper: want 1 got 2",
        ),
        (
            "{{ printf }}",
            "template: t:1:3: executing \"t\" at <printf>: wrong number of args for printf: want at least 1 got 0",
        ),
        (
            "{{ 3 2 }}",
            "template: t:1:3: executing \"t\" at <3>: can't give argument to non-function 3",
        ),
        (
            "{{ $x := 1 }}{{ $x 2 }}",
            "template: t:1:16: executing \"t\" at <$x>: can't give argument to non-function $x",
        ),
        (
            "{{ nil }}",
            "template: t:1:3: executing \"t\" at <nil>: nil is not a command",
        ),
        (
            "{{ (nil).foo }}",
            "template: t:1:4: executing \"t\" at <nil>: nil is not a command",
        ),
        (
            "{{ .username \"x\" }}",
            "template: t:1:3: executing \"t\" at <.username>: username is not a method but has arguments",
        ),
        (
            "{{ index . 1 }}",
            "template: t:1:3: executing \"t\" at <index . 1>: error calling index: value has type int; should be string",
        ),
        (
            "{{ index (list 1) 5 }}",
            "template: t:1:3: executing \"t\" at <index (list 1) 5>: error calling index: index out of range",
        ),
        (
            "{{ index nil 1 }}",
            "template: t:1:3: executing \"t\" at <index nil 1>: error calling index: index of untyped nil",
        ),
        (
            "{{ index 5 1 }}",
            "template: t:1:3: executing \"t\" at <index 5 1>: error calling index: can't index item of type int",
        ),
        (
            "{{ len 3 }}",
            "template: t:1:3: executing \"t\" at <len 3>: error calling len: len of type int",
        ),
        (
            "{{ len .missing }}",
            "template: t:1:3: executing \"t\" at <len .missing>: error calling len: reflect: call of reflect.Value.Type on zero Value",
        ),
        (
            "{{ eq \"a\" 1 }}",
            "template: t:1:3: executing \"t\" at <eq \"a\" 1>: error calling eq: incompatible types for comparison: string and int",
        ),
        (
            "{{ lt true false }}",
            "template: t:1:3: executing \"t\" at <lt true false>: error calling lt: invalid type for comparison",
        ),
        (
            "{{ call .username }}",
            "template: t:1:3: executing \"t\" at <call .username>: error calling call: non-function .username of type string",
        ),
        (
            "{{ call nil }}",
            "template: t:1:3: executing \"t\" at <call nil>: error calling call: call of nil",
        ),
        (
            "{{ template \"nope\" }}",
            "template: t:1:12: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined",
        ),
        (
            "{{ div 1 0 }}",
            "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: runtime error: integer divide by zero",
        ),
        (
            "{{ first \"x\" }}",
            "template: t:1:3: executing \"t\" at <first \"x\">: error calling first: Cannot find first on type string",
        ),
        (
            "{{ first .missing }}",
            "template: t:1:3: executing \"t\" at <first .missing>: error calling first: runtime error: invalid memory address or nil pointer dereference",
        ),
        (
            "{{ fail \"custom message\" }}",
            "template: t:1:3: executing \"t\" at <fail \"custom message\">: error calling fail: custom message",
        ),
        (
            "{{ hasKey . \"x\" }}",
            "template: t:1:10: executing \"t\" at <.>: wrong type for value; expected map[string]interface {}; got map[string]string",
        ),
        (
            "{{ $d := dict \"k\" nil }}{{ upper $d.k }}",
            "template: t:1:35: executing \"t\" at <$d.k>: wrong type for value; expected string; got interface {}",
        ),
        (
            "{{ range list nil }}{{ .x }}{{ end }}",
            "template: t:1:23: executing \"t\" at <.x>: nil pointer evaluating interface {}.x",
        ),
        (
            "{{ range .username }}{{ end }}",
            "template: t:1:9: executing \"t\" at <.username>: range can't iterate over value of type string",
        ),
        (
            "{{ range $i, $v := 3 }}{{ end }}",
            "template: t:1:19: executing \"t\" at <3>: can't use value of type int to iterate over more than one variable",
        ),
        (
            "{{ set . \"k\" \"v\" }}",
            "template: t:1:7: executing \"t\" at <.>: wrong type for value; expected map[string]interface {}; got map[string]string",
        ),
        (
            "{{ set nil \"k\" \"v\" }}",
            "template: t:1:3: executing \"t\" at <set nil \"k\" \"v\">: error calling set: assignment to entry in nil map",
        ),
        (
            "{{ dig \"a\" \"b\" }}",
            "template: t:1:3: executing \"t\" at <dig \"a\" \"b\">: error calling dig: dig needs at least three arguments",
        ),
        (
            "{{ dig \"a\" \"b\" \"c\" }}",
            "template: t:1:3: executing \"t\" at <dig \"a\" \"b\" \"c\">: error calling dig: interface conversion: interface {} is string, not map[string]interface {}",
        ),
        (
            "{{ hasKey \"x\" \"y\" }}",
            "template: t:1:10: executing \"t\" at <\"x\">: can't handle \"x\" for arg of type map[string]interface {}",
        ),
        (
            "{{ upper nil }}",
            "template: t:1:9: executing \"t\" at <nil>: cannot assign nil to string",
        ),
        (
            "{{ ternary 1 2 \"x\" }}",
            "template: t:1:15: executing \"t\" at <\"x\">: expected bool; found \"x\"",
        ),
        (
            "{{ round 1.5 1 \"x\" }}",
            "template: t:1:15: executing \"t\" at <\"x\">: expected float; found \"x\"",
        ),
        (
            "{{ 1 | printf \"%d\" | upper }}{{ true | printf }}",
            "template: t:1:39: executing \"t\" at <printf>: wrong type for value; expected string; got bool",
        ),
        (
            "{{ chunk 0 (list 1 2) }}",
            "template: t:1:3: executing \"t\" at <chunk 0 (list 1 2)>: error calling chunk: runtime error: makeslice: len out of range",
        ),
        (
            "{{ repeat -1 \"x\" }}",
            "template: t:1:3: executing \"t\" at <repeat -1 \"x\">: error calling repeat: strings: negative Repeat count",
        ),
        (
            "{{ regexFind \"(\" \"x\" }}",
            "template: t:1:3: executing \"t\" at <regexFind \"(\" \"x\">: error calling regexFind: regexp: Compile: error parsing regexp: regex parse error: ( ^ error: unclosed group",
        ),
        (
            "{{ 18446744073709551615 }}",
            "template: t:1:3: executing \"t\" at <18446744073709551615>: 18446744073709551615 overflows int",
        ),
        (
            "{{ range 2 }}{{ .x }}{{ end }}",
            "template: t:1:16: executing \"t\" at <.x>: can't evaluate field x in type int",
        ),
        (
            "{{define \"one\"}}{{template \"two\" .}}{{end}}\n{{define \"two\"}}{{index \"hi\" $}}{{end}}{{template \"one\" 5}}",
            "template: t:2:18: executing \"two\" at <index \"hi\" $>: error calling index: index out of range",
        ),
    ]);
}

/// Error messages must never contain values from the data (they are
/// decrypted secrets), whatever goes wrong.
#[test]
fn errors_never_leak_secret_values() {
    let templates = [
        "{{ .secret.foo }}",
        "{{ .secret | int | upper }}",
        "{{ range .secret }}{{ end }}",
        "{{ range $i, $v := (len .secret) }}{{ end }}",
        "{{ index .secret 100 }}",
        "{{ index (list 1 2) (len .secret) }}",
        "{{ index (dict .secret 1) 5 }}",
        "{{ substr 50 60 .secret }}",
        "{{ substr 5 2 .secret }}",
        "{{ regexFind (printf \"[%s\" .secret) \"x\" }}",
        "{{ regexFind (printf \"(%s\" .secret) \"x\" }}",
        "{{ mustRegexMatch (printf \"[%s\" .secret) \"x\" }}",
        "{{ mustRegexSplit (printf \"(%s\" .secret) \"x\" -1 }}",
        "{{ fail .secret }}",
        "{{ fail (printf \"bad: %s\" .secret) }}",
        "{{ mustFromJson .secret }}",
        "{{ mustFromJson (printf \"{\\\"a\\\": %s}\" .secret) }}",
        "{{ eq (list .secret) (list .secret) }}",
        "{{ eq (dict \"a\" .secret) 1 }}",
        "{{ lt .secret 1 }}",
        "{{ call .secret }}",
        "{{ first .secret }}",
        "{{ concat (list 1) .secret }}",
        "{{ .secret | printf \"%s\" | add1 | upper }}",
        "{{ template .secret }}",
        "{{ $x := .secret }}{{ $x.y }}",
        "{{ div (len .secret) 0 }}",
        "{{ dig .secret \"b\" \"c\" }}",
        "{{ dig \"k\" \"j\" \"d\" (dict \"k\" .secret) }}",
        "{{ chunk 0 (list .secret .secret) }}",
        "{{ repeat (len .secret | int) 5 }}",
        "{{ toRawJson (list .secret (float64 \"NaN\")) }}",
        "{{ set (dict) .secret nil | upper }}",
        "{{ (dict \"x\" .secret).x.y }}",
    ];
    let d = data();
    for tpl in templates {
        match render("t", tpl, &d) {
            Ok(out) => panic!("{tpl:?} should fail, got {out:?}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    !msg.contains(SECRET) && !msg.contains("hunter2") && !msg.contains("TOPSECRET"),
                    "{tpl:?} leaked the secret: {msg}"
                );
                let dbg = format!("{e:?}");
                assert!(!dbg.contains("hunter2"), "{tpl:?} leaked via Debug: {dbg}");
            }
        }
    }
    // A literal message is echoed; a computed one is withheld.
    assert!(err("{{ fail \"literal\" }}").ends_with("error calling fail: literal"));
    assert!(err("{{ fail .secret }}").contains("message withheld"));
}

// ---------------------------------------------------------------------------
// limits and robustness

#[test]
fn limits() {
    // The object's budget (see budget_tests.rs) and the per-value caps.
    assert!(err("{{ repeat 100000000 \"x\" }}").contains("bytes of allocated values"));
    assert!(err("{{ repeat 5000000 \"x\" }}").contains("exceeds the maximum size"));
    assert!(err("{{ range until 2000000 }}{{ end }}").contains("maximum length"));
    assert!(err_patient("{{ range 10000000 }}{{ end }}").contains("evaluation steps"));
    assert!(err("{{ range 2000 }}{{ repeat 1000 \"x\" }}{{ end }}").contains("bytes of output"));
    assert!(
        err("{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}")
            .contains("exceeded maximum template depth")
    );
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert!(err(&format!("{{{{ {deep} }}}}")).contains("max expression depth exceeded"));
    let nested_ifs = format!("{}x{}", "{{if true}}".repeat(200), "{{end}}".repeat(200));
    assert!(err(&nested_ifs).contains("max nesting depth exceeded"));
    // Self-referencing map: printing it must fail cleanly, not overflow.
    let cyc = "{{ $d := dict }}{{ $_ := set $d \"self\" $d }}{{ $d }}";
    assert!(err(cyc).contains("levels of value nesting"));
    assert!(
        err("{{ $d := dict }}{{ $_ := set $d \"self\" $d }}{{ toJson $d }}")
            .contains("levels of value nesting")
    );
    // Allowed nesting well within limits works.
    let ok_nested = format!("{}x{}", "{{if true}}".repeat(40), "{{end}}".repeat(40));
    assert_eq!(ok(&ok_nested), "x");
    let ok_parens = format!("{{{{ {}1{} }}}}", "(".repeat(40), ")".repeat(40));
    assert_eq!(ok(&ok_parens), "1");
}

#[test]
fn supported_functions_list_matches_table() {
    let mut table = table::all_names();
    table.sort_unstable();
    let mut listed: Vec<&str> = SUPPORTED_FUNCTIONS.to_vec();
    listed.sort_unstable();
    let before = listed.len();
    listed.dedup();
    assert_eq!(
        before,
        listed.len(),
        "duplicate entries in SUPPORTED_FUNCTIONS"
    );
    assert_eq!(table, listed);
    for removed in ["env", "expandenv", "getHostByName"] {
        assert!(!SUPPORTED_FUNCTIONS.contains(&removed));
    }
    // Every listed function parses.
    for f in SUPPORTED_FUNCTIONS {
        assert!(
            check(
                "t",
                &format!("{{{{ if false }}}}{{{{ {f} }}}}{{{{ end }}}}")
            )
            .is_ok(),
            "{f}"
        );
    }
}

#[test]
fn check_validates_without_data() {
    assert!(check("t", "{{ .a | b64enc }}").is_ok());
    assert!(matches!(
        check("t", "{{ env \"x\" }}"),
        Err(TemplateError::UnknownFunction { .. })
    ));
}

#[test]
fn go_readme_style_examples() {
    check_all(&[
        ("{{ .username }}:{{ .password | b64enc }}", "admin:czNjcjN0"),
        ("{{ index . \"a.b\" }}", "dotted"),
        ("{{- if .x }}X{{ else }}none{{ end }}", "none"),
        (
            "{{ printf \"%s:%s\" .username .password | b64enc }}",
            "YWRtaW46czNjcjN0",
        ),
        (
            "[client]\nuser={{ .username }}\npassword={{ .password | quote }}\n",
            "[client]\nuser=admin\npassword=\"s3cr3t\"\n",
        ),
        (
            "{\"auths\":{\"r.io\":{\"auth\":\"{{ printf \"%s:%s\" .username .password | b64enc }}\"}}}",
            "{\"auths\":{\"r.io\":{\"auth\":\"YWRtaW46czNjcjN0\"}}}",
        ),
        (
            "{{ dict \"user\" .username \"pass\" .password | toJson }}",
            "{\"pass\":\"s3cr3t\",\"user\":\"admin\"}",
        ),
        (
            "postgres://{{ .username }}:{{ .password | urlquery }}@db:5432/app",
            "postgres://admin:s3cr3t@db:5432/app",
        ),
    ]);
}

// ---------------------------------------------------------------------------
// stack safety and fuzzing

// The deepest allowed templates on a small stack: `budget_tests::worst_cases_fit_in_a_1mib_stack`.

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    " ",
    "\n",
    ".",
    ".username",
    ".secret",
    ".missing",
    ".a.b",
    "$",
    "$x",
    "$x := ",
    "$x = ",
    "$i, $v := ",
    "|",
    "(",
    ")",
    "\"",
    "\"str\"",
    "`raw`",
    "'c'",
    "if ",
    "else ",
    "else if ",
    "end",
    "range ",
    "with ",
    "define \"d\"",
    "template \"d\" ",
    "block \"b\" .",
    "break",
    "continue",
    "nil",
    "true",
    "false",
    "0",
    "1",
    "-1",
    "2.5",
    "1e3",
    "0x1F",
    "printf ",
    "\"%s %d %v %q %x %5.2f %[2]s %*d\" ",
    "upper ",
    "index ",
    "len ",
    "dict ",
    "list ",
    "b64dec ",
    "b64enc ",
    "fail ",
    "default ",
    "toJson ",
    "fromJson ",
    "regexReplaceAll ",
    "\"(a*)\" ",
    "\"$1\" ",
    "add ",
    "div ",
    "sub ",
    "until ",
    "seq ",
    "substr ",
    "trunc ",
    "repeat ",
    "set ",
    "get ",
    "eq ",
    "lt ",
    "and ",
    "or ",
    "not ",
    "slice ",
    "first ",
    "chunk ",
    "split ",
    "/* c */",
    "x",
    "é",
    "-",
    ":",
    "=",
    ",",
    "#",
    "@",
    "%",
    "\\",
    "{",
    "}",
];

fn assert_no_secret(tpl: &str, r: &Result<String, TemplateError>) {
    if let Err(e) = r {
        let msg = e.to_string();
        assert!(!msg.contains("hunter2"), "template {tpl:?} leaked: {msg}");
    }
}

#[test]
fn define_and_block_bodies_end_with_end() {
    assert_eq!(
        err("{{define \"x\"}}a{{else}}b{{end}}"),
        "template: t:1: unexpected {{else}} in define clause"
    );
    assert_eq!(
        err("{{block \"x\" .}}a{{else}}b{{end}}"),
        "template: t:1: unexpected {{else}} in block clause"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

        #[test]
        fn token_soup_never_panics(idx in proptest::collection::vec(0..TOKENS.len(), 0..40)) {
            let tpl: String = idx.iter().map(|&i| TOKENS[i]).collect();
            let r = render("fuzz", &tpl, &data());
            assert_no_secret(&tpl, &r);
        }

        #[test]
        fn arbitrary_text_never_panics(tpl in "\\PC{0,80}") {
            let r = render("fuzz", &tpl, &data());
            assert_no_secret(&tpl, &r);
        }

        #[test]
        fn arbitrary_actions_never_panic(inner in "[ -~é\\n]{0,40}") {
            let tpl = format!("{{{{{inner}}}}}");
            let r = render("fuzz", &tpl, &data());
            assert_no_secret(&tpl, &r);
        }

        #[test]
        fn arbitrary_data_never_panics_or_leaks(value in "\\PC{0,40}") {
            let templates = [
                "{{ .v }}", "{{ .v | b64dec }}", "{{ .v | b64enc | b64dec }}", "{{ .v | b32dec }}",
                "{{ .v | fromJson }}", "{{ .v | mustFromJson }}", "{{ .v | int }}", "{{ .v | atoi | add1 }}",
                "{{ .v | float64 }}", "{{ regexMatch .v \"x\" }}", "{{ mustRegexFind .v \"x\" }}",
                "{{ regexReplaceAll \"(.)\" .v \"$1$1\" }}", "{{ printf .v 1 \"a\" }}", "{{ .v | quote }}",
                "{{ .v | squote }}", "{{ .v | upper | lower | title | untitle }}", "{{ .v | nospace }}",
                "{{ .v | initials }}", "{{ substr 1 3 .v }}", "{{ trunc 3 .v }}", "{{ abbrev 5 .v }}",
                "{{ abbrevboth 5 10 .v }}", "{{ .v | sha256sum }}", "{{ .v | toJson }}",
                "{{ .v | toPrettyJson | fromJson }}", "{{ splitList \",\" .v | toJson }}",
                "{{ range .v }}{{ end }}", "{{ index .v 3 }}", "{{ .v.x }}", "{{ .v | js }}",
                "{{ .v | html }}", "{{ .v | urlquery }}", "{{ clean .v }} {{ base .v }} {{ dir .v }} {{ ext .v }}",
                "{{ fail .v }}", "{{ range $i, $c := (len .v) }}{{ end }}", "{{ toDecimal .v }}",
                "{{ .v | replace \"a\" \"b\" }}", "{{ .v | trimAll \"ab\" }}", "{{ indent 2 .v }}",
                "{{ lt .v \"m\" }}", "{{ eq .v 1 }}", "{{ regexSplit .v \"abc\" -1 }}",
            ];
            let mut d = BTreeMap::new();
            d.insert("v".to_string(), value.clone());
            for tpl in templates {
                if let Err(e) = render("fuzz", tpl, &d) {
                    let msg = e.to_string();
                    if value.chars().count() >= 6 && !tpl.contains(value.as_str()) {
                        prop_assert!(!msg.contains(value.as_str()), "{} leaked {:?}: {}", tpl, value, msg);
                    }
                }
            }
        }
    }
}

#[test]
fn misc_go_semantics() {
    // A {{define}} of the template's own name replaces an empty top level.
    assert_eq!(ok("{{define \"t\"}}X{{.username}}{{end}}"), "Xadmin");
    // Text around actions keeps CRLF; raw strings drop CR as Go's Unquote does.
    assert_eq!(ok("a\r\n{{ `x\r\ny` }}\r\n"), "a\r\nx\ny\r\n");
    // Chains on function results.
    assert_eq!(ok("{{ (dict \"a\" (dict \"b\" \"c\")).a.b }}"), "c");
    assert!(err("{{ hello.x }}").ends_with("can't evaluate field x in type string"));
    // Keys that are not identifiers need index.
    assert_eq!(
        ok("{{ index . \"a.b\" }}{{ index $ \"a.b\" }}"),
        "dotteddotted"
    );
    // Unicode identifiers are fine in variables.
    assert_eq!(ok("{{ $é := 1 }}{{ $é }}"), "1");
    // Variables declared in a template call pipeline persist in the caller.
    assert_eq!(
        ok("{{define \"n\"}}{{end}}{{template \"n\" $v := 3}}{{$v}}"),
        "3"
    );
}

#[test]
fn error_type_is_thread_safe() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<TemplateError>();
}
