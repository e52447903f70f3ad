//! Tests of the per-object resource budget: every attack found by the
//! review fails cleanly with the right [`Limit`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use super::*;

const SECRET: &str = "hunter2-TOPSECRET";

fn data() -> BTreeMap<String, String> {
    [("password", SECRET), ("user", "admin")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Renders with the default limits, except for a generous clock: debug
/// builds on a loaded machine are slow, and these tests check which limit
/// trips, which must not depend on the speed of the machine.
fn run(tpl: &str) -> Result<String, TemplateError> {
    render_with_budget("t", tpl, &data(), &mut Budget::new(limits()))
}

/// The limit a template trips with the default budget (panics if it
/// renders or fails for another reason).
#[track_caller]
fn limit_of(r: Result<String, TemplateError>) -> Limit {
    match r {
        Ok(s) => panic!("unexpectedly rendered {} bytes", s.len()),
        Err(TemplateError::Budget { limit, .. }) => limit,
        Err(e) => panic!("not a budget error: {e}"),
    }
}

/// Runs `f` on a thread with a 1 MiB stack: in a debug build the worst
/// cases must fit comfortably.
fn on_1mib_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn limits() -> Limits {
    Limits {
        time: Duration::from_secs(600),
        ..Limits::default()
    }
}

/// Renders `tpl` as the entries `e0`, `e1`, ... (`count` of them) of one object, which
/// share one budget. Returns what the entries that rendered printed, and the first error.
fn render_entries(tpl: &str, count: usize) -> (Vec<String>, Option<TemplateError>) {
    let mut budget = Budget::new(limits());
    let mut rendered = Vec::new();
    let mut first_err = None;
    for i in 0..count {
        match render_with_budget(&format!("e{i}"), tpl, &data(), &mut budget) {
            Ok(s) => rendered.push(s),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    (rendered, first_err)
}

#[test]
fn deep_list_bomb_fails_with_depth() {
    // Without the depth bound this builds a 99,999-deep list whose drop
    // overflows the stack and aborts the process.
    let tpl = "{{ $x := list }}{{ range until 99999 }}{{ $x = list $x }}{{ end }}";
    let r = on_1mib_stack(move || run(tpl));
    assert_eq!(limit_of(r), Limit::Depth);
    // The same through append/concat/chunk and nested dicts.
    for tpl in [
        "{{ $x := list }}{{ range until 500 }}{{ $x = append (list) $x }}{{ end }}",
        "{{ $x := list 1 }}{{ range until 500 }}{{ $x = chunk 1 $x }}{{ end }}",
        "{{ $m := dict }}{{ range until 500 }}{{ $m = dict \"a\" $m }}{{ end }}",
        "{{ $m := dict }}{{ range until 500 }}{{ $n := dict }}{{ $_ := set $n \"a\" $m }}{{ $m = $n }}{{ end }}",
    ] {
        assert_eq!(
            limit_of(on_1mib_stack(move || run(tpl))),
            Limit::Depth,
            "{tpl}"
        );
    }
    // Up to the limit is fine.
    let ok = "{{ $x := list }}{{ range until 63 }}{{ $x = list $x }}{{ end }}{{ len $x }}";
    assert_eq!(run(ok).unwrap(), "1");
}

#[test]
fn repeat_in_300_entries_is_bounded_by_one_budget() {
    // Printed: the object's output limit (1 MiB) stops the second entry.
    let (rendered, first_err) = render_entries("{{ repeat 1048576 \"a\" }}", 300);
    assert_eq!(rendered.len(), 1);
    assert_eq!(limit_of(Err(first_err.unwrap())), Limit::Output);

    // Built but not printed: the allocation limit (64 MiB) stops it
    // before the 65th entry.
    let tpl = "{{ $x := repeat 1048576 \"a\" }}{{ len $x }}";
    let (rendered, first_err) = render_entries(tpl, 300);
    assert!(rendered.iter().all(|s| s == "1048576"), "{rendered:?}");
    let rendered = rendered.len();
    assert!((60..=64).contains(&rendered), "{rendered} entries rendered");
    assert_eq!(limit_of(Err(first_err.unwrap())), Limit::Alloc);
    // Each entry alone is fine.
    assert!(run(tpl).is_ok());
}

#[test]
fn many_bcrypt_calls_are_charged_by_their_cost() {
    // Within one entry.
    let tpl = "{{ range until 20 }}{{ bcrypt \"x\" }}{{ end }}";
    assert_eq!(limit_of(run(tpl)), Limit::Steps);
    // Across the entries of one object: the default budget hashes only a
    // handful of passwords (each call costs BCRYPT_STEPS).
    let (rendered, first_err) = render_entries("{{ htpasswd .user .password }}", 200);
    let hashed = rendered.len();
    let per_call = cost::BCRYPT_STEPS;
    assert!(
        hashed >= 1 && hashed as u64 <= DEFAULT_STEPS / per_call,
        "{hashed}"
    );
    assert_eq!(limit_of(Err(first_err.unwrap())), Limit::Steps);
}

#[test]
fn until_huge_fails_before_allocating() {
    assert_eq!(
        limit_of(run("{{ range until 100000000 }}{{ end }}")),
        Limit::Alloc
    );
    assert_eq!(limit_of(run("{{ untilStep 0 100000000 1 }}")), Limit::Alloc);
    assert_eq!(limit_of(run("{{ seq 100000000 }}")), Limit::Alloc);
    assert_eq!(limit_of(run("{{ repeat 100000000 \"ab\" }}")), Limit::Alloc);
}

#[test]
fn self_referential_map_fails_cleanly() {
    let mk = "{{ $m := dict }}{{ $_ := set $m \"self\" $m }}{{ $_ := set $m \"again\" $m }}";
    for tail in [
        "{{ $m }}",
        "{{ toJson $m }}",
        "{{ toPrettyJson $m }}",
        "{{ mustToRawJson $m }}",
        "{{ printf \"%v\" $m }}",
        "{{ printf \"%#v\" $m }}",
        "{{ toString $m }}",
        "{{ deepCopy $m }}",
        "{{ $n := dict }}{{ $_ := set $n \"self\" $n }}{{ $_ := set $n \"again\" $n }}{{ deepEqual $m $n }}",
        "{{ $n := dict }}{{ $_ := set $n \"self\" $n }}{{ $_ := set $n \"again\" $n }}{{ has $m (list 1 $n) }}",
        "{{ list $m | quote }}",
        "{{ list $m | join \",\" }}",
    ] {
        let tpl = format!("{mk}{tail}");
        let r = on_1mib_stack(move || run(&tpl));
        assert!(
            matches!(
                r,
                Err(TemplateError::Budget {
                    limit: Limit::Depth,
                    ..
                })
            ),
            "{tail}: {r:?}"
        );
    }
    // Functions that do not walk the value are fine.
    let tpl = format!("{mk}{{{{ kindOf $m }}}} {{{{ len $m }}}} {{{{ eq $m.x nil }}}}");
    assert_eq!(on_1mib_stack(move || run(&tpl)).unwrap(), "map 2 true");
}

#[test]
fn deeply_nested_from_json_fails_with_depth() {
    for depth in [65, 100, 127] {
        let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let mut d = data();
        d.insert("j".into(), json);
        let r = on_1mib_stack(move || render("t", "{{ .j | fromJson }}", &d));
        assert_eq!(limit_of(r), Limit::Depth, "{depth}");
    }
    let json = format!(
        "{}{}",
        "{\"a\":".repeat(100),
        "1".to_string() + &"}".repeat(100)
    );
    let mut d = data();
    d.insert("j".into(), json);
    let r = on_1mib_stack(move || render("t", "{{ (.j | mustFromJson).a }}", &d));
    assert_eq!(limit_of(r), Limit::Depth);
    // Within the limit it works.
    let json = format!("{}{}", "[".repeat(60), "]".repeat(60));
    let mut d = data();
    d.insert("j".into(), json);
    assert_eq!(
        render("t", "{{ .j | fromJson | toJson | len }}", &d).unwrap(),
        "120"
    );
}

#[test]
fn budget_is_shared_across_entries() {
    let tpl = "{{ range until 2000 }}{{ printf \"%d\" . | len }}{{ end }}";
    // Measure what one entry costs.
    let mut probe = Budget::new(limits());
    render_with_budget("probe", tpl, &data(), &mut probe).unwrap();
    let used = DEFAULT_STEPS - probe.steps_remaining();
    assert!(used > 2000);
    // A budget where one entry is 60% of the steps.
    let mut budget = Budget::new(Limits {
        steps: used * 100 / 60,
        ..limits()
    });
    assert!(render_with_budget("first", tpl, &data(), &mut budget).is_ok());
    let err = render_with_budget("second", tpl, &data(), &mut budget).unwrap_err();
    assert!(err.is_budget());
    match &err {
        TemplateError::Budget {
            template,
            limit,
            max,
        } => {
            assert_eq!(template, "second");
            assert_eq!(*limit, Limit::Steps);
            assert_eq!(*max, used * 100 / 60);
        }
        other => panic!("{other}"),
    }
    // Separate budgets: both entries render.
    let mut a = Budget::new(Limits {
        steps: used * 100 / 60,
        ..limits()
    });
    let mut b = a.clone();
    assert!(render_with_budget("first", tpl, &data(), &mut a).is_ok());
    assert!(render_with_budget("second", tpl, &data(), &mut b).is_ok());
}

#[test]
fn allocation_and_output_are_shared_across_entries() {
    let lim = Limits {
        alloc_bytes: 1 << 20,
        output_bytes: 1000,
        ..limits()
    };
    // 600 KiB of allocation each: the second entry is refused.
    let mut budget = Budget::new(lim);
    let tpl = "{{ $x := repeat 614400 \"a\" }}ok";
    assert_eq!(
        render_with_budget("a", tpl, &data(), &mut budget).unwrap(),
        "ok"
    );
    assert_eq!(
        limit_of(render_with_budget("b", tpl, &data(), &mut budget)),
        Limit::Alloc
    );
    // 600 bytes of output each.
    let mut budget = Budget::new(lim);
    let tpl = "{{ repeat 600 \"a\" }}";
    assert!(render_with_budget("a", tpl, &data(), &mut budget).is_ok());
    assert_eq!(
        limit_of(render_with_budget("b", tpl, &data(), &mut budget)),
        Limit::Output
    );
}

#[test]
fn allocation_is_checked_while_values_are_built() {
    // Shared structure printed, encoded or copied would be exponentially
    // larger than what was allocated to build it.
    let dag =
        "{{ $a := list \"xxxxxxxxxxxxxxxx\" }}{{ range until 40 }}{{ $a = list $a $a }}{{ end }}";
    // (A single string is also capped at 4 MiB, which may trip first.)
    for tail in [
        "{{ $a }}",
        "{{ $s := toString $a }}",
        "{{ $s := toJson $a }}",
        "{{ $s := toPrettyJson $a }}",
        "{{ $s := printf \"%v\" $a }}",
        "{{ $s := deepCopy $a }}",
        "{{ $s := list $a | join \",\" }}",
        "{{ $s := quote $a }}",
        "{{ $s := print $a }}",
    ] {
        let tpl = format!("{dag}{tail}");
        match run(&tpl) {
            Err(TemplateError::Budget { limit, .. }) => {
                assert!(
                    matches!(limit, Limit::Alloc | Limit::Steps),
                    "{tail}: {limit:?}"
                )
            }
            Err(e) => assert!(
                e.to_string().contains("exceeds the maximum size"),
                "{tail}: {e}"
            ),
            Ok(s) => panic!("{tail}: rendered {} bytes", s.len()),
        }
    }
    // Comparing two separately built copies takes exponential time.
    let tpl = format!(
        "{dag}{{{{ $b := list \"xxxxxxxxxxxxxxxx\" }}}}{{{{ range until 40 }}}}{{{{ $b = list $b $b }}}}{{{{ end }}}}{{{{ deepEqual $a $b }}}}"
    );
    assert_eq!(limit_of(run(&tpl)), Limit::Steps);
    // printf widths and regexp replacements grow strings from small inputs.
    let tpl = format!(
        "{{{{ $s := printf \"{}\"{} }}}}",
        "%999999d".repeat(100),
        " 1".repeat(100)
    );
    assert_eq!(limit_of(run(&tpl)), Limit::Alloc);
    // (2 MB from 20 kB, with a 1 MiB allocation limit: below the 4 MiB
    // cap of a single string, so only the budget can stop it.)
    let tpl =
        "{{ $s := repeat 20000 \"a\" }}{{ $t := regexReplaceAll \"a\" $s (repeat 100 \"b\") }}";
    let mut small = Budget::new(Limits {
        alloc_bytes: 1 << 20,
        ..limits()
    });
    assert_eq!(
        limit_of(render_with_budget("t", tpl, &data(), &mut small)),
        Limit::Alloc
    );
    // Sizes are charged before allocating: a single huge request fails
    // without allocating (it would need 4 GiB).
    let tpl = "{{ $s := repeat 4000000000 \"a\" }}";
    assert_eq!(limit_of(run(tpl)), Limit::Alloc);
}

#[test]
fn wall_time_is_bounded() {
    // Steps are plentiful here; only the clock stops the loop.
    let lim = Limits {
        steps: u64::MAX,
        time: Duration::from_millis(100),
        ..limits()
    };
    let mut budget = Budget::new(lim);
    let tpl = "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}";
    let start = std::time::Instant::now();
    let r = render_with_budget("t", tpl, &data(), &mut budget);
    assert_eq!(limit_of(r), Limit::Time);
    // (No timing assertion: the limit is what the test checks.)
    let _ = start.elapsed();
    // Later entries of the same object fail at once.
    assert_eq!(
        limit_of(render_with_budget("u", "x", &data(), &mut budget)),
        Limit::Time
    );
}

#[test]
fn template_text_size_is_bounded() {
    let big = "x".repeat(MAX_TEMPLATE_BYTES + 1);
    assert_eq!(limit_of(run(&big)), Limit::TemplateSize);
    assert!(matches!(
        check("t", &big),
        Err(TemplateError::Budget {
            limit: Limit::TemplateSize,
            ..
        })
    ));
    let fits = "x".repeat(MAX_TEMPLATE_BYTES);
    assert_eq!(run(&fits).unwrap().len(), MAX_TEMPLATE_BYTES);
}

#[test]
fn budget_errors_name_entry_and_limit_never_data() {
    let e = render_with_budget(
        "my-entry",
        "{{ range 10000000 }}{{ $x := $.password }}{{ end }}",
        &data(),
        &mut Budget::new(limits()),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "template my-entry: the object's templates exceeded the limit of 5000000 evaluation steps"
    );
    assert!(e.is_budget());
    let cases = [
        (
            "{{ repeat 100000000 .password }}",
            "67108864 bytes of allocated values",
        ),
        (
            "{{ range 100000 }}{{ $.password }}{{ end }}",
            "1048576 bytes of output",
        ),
        (
            "{{ $x := list .password }}{{ range until 100 }}{{ $x = list $x }}{{ end }}",
            "64 levels of value nesting",
        ),
    ];
    for (tpl, want) in cases {
        let msg = run(tpl).unwrap_err().to_string();
        assert!(msg.ends_with(want), "{tpl}: {msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }
    // Ordinary errors are not budget errors.
    assert!(!run("{{ fail \"x\" }}").unwrap_err().is_budget());
}

#[test]
fn worst_cases_fit_in_a_1mib_stack() {
    let out = on_1mib_stack(|| {
        let mut results = Vec::new();
        // Deepest allowed execution: {{template}} recursion with nested
        // blocks at every level and a parenthesised pipeline at the bottom.
        let wrap = |inner: &str, n: usize| {
            format!("{}{inner}{}", "{{if true}}".repeat(n), "{{end}}".repeat(n))
        };
        let parens = format!("{}1{}", "(".repeat(20), ")".repeat(20));
        let body = wrap(
            &format!(
                "{{{{if gt . 0}}}}{{{{template \"r\" (sub . 1)}}}}{{{{else}}}}{{{{ {parens} }}}}{{{{end}}}}"
            ),
            4,
        );
        let tpl = format!("{{{{define \"r\"}}}}{body}{{{{end}}}}{{{{template \"r\" 19}}}}");
        results.push(run(&tpl).map_err(|e| e.to_string()));
        // Execution nesting limit reached.
        let body = wrap("{{if gt . 0}}{{template \"r\" (sub . 1)}}{{end}}", 8);
        let tpl = format!("{{{{define \"r\"}}}}{body}{{{{end}}}}{{{{template \"r\" 19}}}}");
        results.push(run(&tpl).map(|_| String::new()).or_else(|e| {
            if e.to_string().contains("maximum nesting depth") {
                Ok("nesting".into())
            } else {
                Err(e.to_string())
            }
        }));
        // Deepest nested pipelines and control structures the parser takes.
        let tpl = format!(
            "{}{{{{ {}1{} }}}}{}",
            "{{if true}}".repeat(20),
            "(".repeat(29),
            ")".repeat(29),
            "{{end}}".repeat(20)
        );
        results.push(run(&tpl).map_err(|e| e.to_string()));
        // The deepest allowed value, walked by every recursive function.
        let deep = "{{ $x := list \"a\" }}{{ range until 63 }}{{ $x = list $x }}{{ end }}";
        for tail in [
            "{{ len (print $x) }}",
            "{{ len (printf \"%#v\" $x) }}",
            "{{ len (toPrettyJson $x) }}",
            "{{ deepEqual $x (deepCopy $x) }}",
            "{{ $z := deepCopy $x }}{{ has (index $z 0) $x }}",
            "{{ kindOf $x }}",
            "{{ len ($x | join \",\") }}",
            "{{ $y := $x | toJson | fromJson }}{{ deepEqual $y $y }}",
        ] {
            results.push(run(&format!("{deep}{tail}")).map_err(|e| e.to_string()));
        }
        // Too deep and cyclic values.
        for tpl in [
            "{{ $x := list }}{{ range until 99999 }}{{ $x = list $x }}{{ end }}",
            "{{ $m := dict }}{{ $_ := set $m \"s\" $m }}{{ $m }}{{ toJson $m }}",
            "{{ $m := dict }}{{ $_ := set $m \"s\" (list $m) }}{{ deepCopy $m }}",
        ] {
            results.push(match run(tpl) {
                Err(e) if e.is_budget() => Ok("budget".into()),
                other => Err(format!("{other:?}")),
            });
        }
        results
    });
    for (i, r) in out.iter().enumerate() {
        assert!(r.is_ok(), "case {i}: {r:?}");
    }
    assert_eq!(out[0].as_deref().unwrap(), "1");
    assert_eq!(out[1].as_deref().unwrap(), "nesting");
    assert_eq!(out[2].as_deref().unwrap(), "1");
}

#[test]
fn realistic_templates_render_with_default_budget() {
    let mut budget = Budget::new(Limits::default());
    let entries = [
        (
            "config.yaml",
            "database:\n  user: {{ .user }}\n  password: {{ .password | quote }}\n  dsn: {{ printf \"postgres://%s:%s@db:5432/app\" .user .password | b64enc }}\n",
        ),
        (
            ".dockerconfigjson",
            "{\"auths\":{\"r.io\":{\"auth\":\"{{ printf \"%s:%s\" .user .password | b64enc }}\"}}}",
        ),
        ("users", "{{ htpasswd .user .password }}"),
        (
            "app.json",
            "{{ dict \"user\" .user \"hosts\" (splitList \",\" \"a,b,c\") | toPrettyJson }}",
        ),
        (
            "env",
            "{{ range $k, $v := . }}{{ printf \"%s=%q\" ($k | upper) ($v | b64enc) }}\n{{ end }}",
        ),
    ];
    for (name, tpl) in entries {
        render_with_budget(name, tpl, &data(), &mut budget)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let used = DEFAULT_STEPS - budget.steps_remaining();
    assert!(used < DEFAULT_STEPS / 2, "{used}");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const TOKENS: &[&str] = &[
        "{{",
        "}}",
        " ",
        "$x",
        ":=",
        "=",
        "list",
        "dict",
        "set",
        "append",
        "range",
        "end",
        "if",
        "else",
        "with",
        "until",
        "repeat",
        "10",
        "1000",
        "\"a\"",
        "\"k\"",
        "(",
        ")",
        "|",
        ".",
        ".password",
        "toJson",
        "fromJson",
        "deepCopy",
        "deepEqual",
        "printf",
        "\"%v\"",
        "print",
        "join",
        "\",\"",
        "concat",
        "chunk",
        "2",
        "bcrypt",
        "seq",
        "regexReplaceAll",
        "\"a*\"",
        "b64enc",
        "quote",
        "len",
        "$",
        "define",
        "template",
        "\"r\"",
        "has",
        "uniq",
        "split",
    ];

    fn small() -> Limits {
        Limits {
            steps: 2_000,
            alloc_bytes: 4_096,
            output_bytes: 512,
            value_depth: 8,
            time: Duration::from_secs(5),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        #[test]
        fn random_templates_never_panic_under_a_small_budget(
            idx in proptest::collection::vec(0..TOKENS.len(), 0..40)
        ) {
            let body: String = idx.iter().map(|&i| TOKENS[i]).collect();
            // Wrapped in a loop so that small templates can still exhaust
            // the budget.
            let tpl = format!("{{{{ $x := list }}}}{{{{ range until 50 }}}}{body}{{{{ end }}}}");
            let mut budget = Budget::new(small());
            for entry in ["a", "b"] {
                let r = render_with_budget(entry, &tpl, &data(), &mut budget);
                if let Err(e) = &r {
                    let msg = e.to_string();
                    prop_assert!(!msg.contains("hunter2"), "{}", msg);
                    if e.is_budget() {
                        prop_assert!(msg.starts_with(&format!("template {entry}: ")), "{}", msg);
                    }
                }
                if let Ok(s) = &r {
                    prop_assert!(s.len() <= 512);
                }
            }
            prop_assert!(budget.output_remaining() <= 512);
        }
    }
}
