//! The controller program, built inside the e2e package for the tests.
//!
//! The admission webhook is off here unless a test asks for it with
//! `--webhook-listen-addr=...` (a later flag wins): tests run many controllers at once, and the
//! default `:9443` would be shared.
fn main() {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if !args.is_empty() {
        args.insert(1, "--webhook-listen-addr=".into());
    }
    std::process::exit(sealed_secrets_controller::main_entry_from(args));
}
