//! The kubeseal program, built inside the e2e package for the tests.
fn main() {
    std::process::exit(kubeseal::main_entry());
}
