//! Logging set-up.

use crate::config::Flags;

/// Logging as upstream's flags say: level, text or JSON, INFO to stdout and WARN+ to stderr.
pub fn init_logging(flags: &Flags) {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let level = match flags.log_level.to_ascii_uppercase().as_str() {
        "DEBUG" => tracing::Level::DEBUG,
        "WARN" | "WARNING" => tracing::Level::WARN,
        "ERROR" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{},kube=warn,hyper=warn,tower=warn",
            level.as_str().to_lowercase()
        ))
    });
    let errors = std::io::stderr.with_max_level(tracing::Level::WARN);
    // Colour codes only on a terminal: files and log collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_target(false);
    let res = if flags.log_info_stdout {
        let writer = errors.or_else(std::io::stdout);
        if flags.log_format == "json" {
            builder.json().with_writer(writer).try_init()
        } else {
            builder.with_writer(writer).try_init()
        }
    } else if flags.log_format == "json" {
        builder.json().with_writer(std::io::stderr).try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
    if res.is_err() {
        eprintln!("logging already initialised");
    }
}
