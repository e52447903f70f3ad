//! Prints the generated CustomResourceDefinition (`deploy/crd.yaml`).
fn main() {
    match sealed_secrets_core::codec::crd_yaml() {
        Ok(y) => print!("{y}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
