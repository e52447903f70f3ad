//! `sealed-secrets-controller`: unseals SealedSecrets into Secrets.

fn main() {
    std::process::exit(sealed_secrets_controller::main_entry());
}
