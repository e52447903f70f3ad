//! The controller program, built inside the e2e package for the tests.
fn main() {
    std::process::exit(sealed_secrets_controller::main_entry());
}
