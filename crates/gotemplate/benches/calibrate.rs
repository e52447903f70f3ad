//! Prints the figures behind `BCRYPT_STEPS`: how many evaluation steps per
//! second ordinary evaluation runs at, and how long one bcrypt hash (Sprig's
//! cost 10) takes. Run: `cargo bench -p gotemplate --bench calibrate`.

use std::collections::BTreeMap;
use std::time::Instant;

use gotemplate::{Budget, Limits, render_with_budget};

fn main() {
    let data: BTreeMap<String, String> = [("user", "app-user"), ("password", "s3cr3t")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Ordinary evaluation: a loop of printf, b64enc, comparisons, output.
    let tpl = r#"{{ range $i := until 20000 }}{{ if gt $i 0 }},{{ end }}{{ printf "%s:%d" $.user $i | b64enc | len }}{{ end }}"#;
    let mut best = f64::MAX;
    let mut steps = 0;
    for _ in 0..20 {
        let mut budget = Budget::new(Limits {
            steps: u64::MAX / 2,
            output_bytes: u64::MAX / 2,
            ..Limits::default()
        });
        let start = Instant::now();
        if let Err(e) = render_with_budget("calibrate", tpl, &data, &mut budget) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        best = best.min(start.elapsed().as_secs_f64());
        steps = u64::MAX / 2 - budget.steps_remaining();
    }
    let steps_per_sec = steps as f64 / best;
    println!(
        "ordinary evaluation: {steps} steps in {:.2} ms = {:.1} million steps/s",
        best * 1e3,
        steps_per_sec / 1e6
    );

    let mut best_bcrypt = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let _ = gotemplate::render("b", "{{ bcrypt .password }}", &data);
        best_bcrypt = best_bcrypt.min(start.elapsed().as_secs_f64());
    }
    println!(
        "one bcrypt (cost 10): {:.1} ms = {:.0} steps at that rate",
        best_bcrypt * 1e3,
        best_bcrypt * steps_per_sec
    );
}
