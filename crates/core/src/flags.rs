//! Go-style boolean flags for the command lines of both programs (upstream parses its flags
//! with Go's `pflag`).

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction};

/// Turns a boolean flag of clap's derive into a Go-style one, and leaves every other argument
/// as it is. A Go-style boolean accepts `--flag` (true), `--flag=true` and `--flag=false`
/// (and the other spellings clap's boolish parser reads: `1`/`0`, `yes`/`no`, `on`/`off`…),
/// on the command line or in its environment variable, never `--flag false` (the value must
/// follow `=`). It is `false` unless the field sets another `default_value`.
///
/// For `#[command(mut_args = sealed_secrets_core::flags::go_bool)]`: clap's derive gives every
/// `bool` field `ArgAction::SetTrue`, which is how they are found.
pub fn go_bool(arg: Arg) -> Arg {
    if !matches!(arg.get_action(), ArgAction::SetTrue) {
        return arg;
    }
    let has_default = !arg.get_default_values().is_empty();
    let arg = arg
        .action(ArgAction::Set)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .value_parser(BoolishValueParser::new());
    if has_default {
        arg
    } else {
        arg.default_value("false")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(mut_args = go_bool, args_override_self = true)]
    struct Flags {
        #[arg(long, env = "FLAGS_TEST_OFF")]
        off: bool,
        #[arg(long, env = "FLAGS_TEST_ON", default_value = "true")]
        on: bool,
        #[arg(long)]
        name: Option<String>,
    }

    fn parse(args: &[&str]) -> Result<(bool, bool), clap::Error> {
        let f = Flags::try_parse_from(std::iter::once("prog").chain(args.iter().copied()))?;
        Ok((f.off, f.on))
    }

    #[test]
    fn every_go_spelling() {
        assert_eq!(parse(&[]).unwrap(), (false, true));
        assert_eq!(parse(&["--off", "--on"]).unwrap(), (true, true));
        assert_eq!(parse(&["--off=true", "--on=false"]).unwrap(), (true, false));
        assert_eq!(parse(&["--off=1", "--on=0"]).unwrap(), (true, false));
        assert_eq!(parse(&["--off", "--off=false"]).unwrap(), (false, true));
        assert!(parse(&["--off=maybe"]).is_err());
        // The value must follow `=`: a separate word is not the flag's value.
        assert!(parse(&["--off", "false"]).is_err());
    }

    #[test]
    fn other_arguments_are_untouched() {
        let f = Flags::try_parse_from(["prog", "--name", "x"]).unwrap();
        assert_eq!(f.name.as_deref(), Some("x"));
        assert!(Flags::try_parse_from(["prog", "--name"]).is_err());
    }
}
