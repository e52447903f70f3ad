//! `kubeseal`: seal Kubernetes Secrets for the Sealed Secrets controller. The binary is
//! `main_entry`; it is a library too so the e2e tests can build the same program.

pub mod cert;
pub mod cli;
pub mod cluster;
pub mod input;
pub mod modes;
pub mod output;
pub mod run;
pub mod sealed_file;

/// The whole program; returns the process exit code.
pub fn main_entry() -> i32 {
    use clap::Parser;
    let cli = cli::Cli::parse();
    match run::run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
