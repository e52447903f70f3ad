//! `sealed-secrets-controller`: unseals SealedSecrets into Secrets.

use clap::Parser;
use sealed_secrets_controller::{config::Flags, init_logging, run};

fn main() {
    let flags = Flags::parse();
    if flags.version {
        println!("controller version: {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    init_logging(&flags);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .max_blocking_threads(cores.max(2))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(flags)) {
        tracing::error!(error = %format!("{e:#}"), "controller failed");
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
