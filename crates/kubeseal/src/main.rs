//! `kubeseal`: seal Kubernetes Secrets for the Sealed Secrets controller.

fn main() {
    std::process::exit(kubeseal::main_entry());
}
