//! A reimplementation of Go's `text/template` plus the commonly used Sprig
//! functions, as used by Sealed Secrets to render `spec.template.data`.
//!
//! Upstream executes, for every template entry `key -> text`:
//!
//! ```go
//! template.New(key).Funcs(sprig.GenericFuncMap() /* minus env, expandenv, getHostByName */).Parse(text)
//! tmpl.Execute(&buf, data) // data is map[string]string
//! ```
//!
//! [`render`] does the same. Error messages follow Go's format
//! (`template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`) but
//! never contain runtime values, since those are decrypted secrets: where Go
//! would echo a value, the message names only its type.
//!
//! Resource use is bounded by a [`Budget`] shared by all the template
//! entries of one object ([`render_with_budget`]): evaluation steps, bytes
//! allocated for values, output bytes, value nesting depth and wall-clock
//! time (see [`Limits`]); exceeding it is a [`TemplateError::Budget`] naming
//! the [`Limit`]. Fixed bounds also apply to each entry: template text size
//! ([`MAX_TEMPLATE_BYTES`]), control-structure nesting, template recursion,
//! and the size of any single string or list. `README.md` next to this
//! crate's `Cargo.toml` documents the defaults.
//!
//! Known deviations from Go + Sprig v3.3:
//! - Strings are UTF-8: where Go would produce invalid UTF-8 (`b64dec` of
//!   binary data, `substr`/`trunc`/`abbrev` cutting a multi-byte character)
//!   the result holds U+FFFD; a `\xNN` escape >= 0x80 in a string literal
//!   yields the Latin-1 code point.
//! - Messages that would echo a runtime value name its type instead (index
//!   out of range, range over a non-iterable, non-comparable `eq` operands,
//!   regexp compile errors and `fail` messages that are not template
//!   literals, JSON syntax errors).
//! - `keys` and `values` return map entries in key order (Go: random order).
//! - Complex constants are rejected at parse time; `call` always fails (no
//!   function values exist); `%p` prints `%!p(...)`.
//! - Regular expressions use the `regex` crate with Go's ASCII-only `\d`,
//!   `\w`, `\s`, `\b` translated; RE2 syntax it lacks (e.g. `\Q..\E`) fails to
//!   compile.
//! - Non-ASCII character classes and case mapping come from the Unicode
//!   tables of the `regex` crate and Rust's `char`, which may differ from the
//!   Unicode version of a given Go release for rare characters.
//! - Sprig functions not listed in [`SUPPORTED_FUNCTIONS`] (dates, semver,
//!   key/certificate generation, AES, `merge`, case conversions, `wrap`,
//!   float arithmetic `addf`..., URL helpers) are unknown, so a template
//!   using them fails to parse instead of rendering something different.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Nested `if let`s are kept (rather than let-chains) so that the module
// compiles unchanged under both the 2021 and 2024 editions.
#![allow(clippy::collapsible_if, clippy::collapsible_match)]

use std::collections::BTreeMap;

mod budget;
mod builtins;
mod call;
mod cost;
mod exec;
mod fmt;
mod lex;
mod node;
mod number;
mod parse;
mod sprig;
mod table;
mod uni;
mod value;

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod tests;

pub use budget::{
    Budget, DEFAULT_ALLOC_BYTES, DEFAULT_OUTPUT_BYTES, DEFAULT_STEPS, DEFAULT_TIME,
    DEFAULT_VALUE_DEPTH, Limit, Limits, MAX_TEMPLATE_BYTES, MAX_VALUE_DEPTH,
};

/// Maximum nesting of control structures and parenthesised pipelines.
pub const MAX_NESTING_DEPTH: usize = 50;
/// Maximum depth of `{{template}}` invocations.
pub const MAX_TEMPLATE_DEPTH: usize = 20;
/// Default total size of the rendered output of an object's templates
/// ([`Limits::output_bytes`]).
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;
/// Maximum size of any intermediate string.
pub const MAX_STRING_BYTES: usize = 4 << 20;
/// Maximum length of a list produced by `until`, `seq`, `concat`, ....
pub const MAX_LIST_LEN: usize = 100_000;
/// Default number of evaluation steps of an object's templates
/// ([`Limits::steps`]).
pub const MAX_STEPS: u64 = DEFAULT_STEPS;
/// Default cumulative size of values allocated by an object's templates
/// ([`Limits::alloc_bytes`]).
pub const MAX_ALLOC_BYTES: u64 = DEFAULT_ALLOC_BYTES;

/// A template failed to parse or execute.
///
/// The `Display` form reproduces Go's error text. No variant ever carries a
/// value from the template data.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template: {template}:{line}: {message}")]
    Parse {
        template: String,
        line: usize,
        message: String,
    },
    /// The template calls a function that is not available (including the
    /// Sprig functions upstream removes: `env`, `expandenv`, `getHostByName`).
    #[error("template: {template}:{line}: function \"{function}\" not defined")]
    UnknownFunction {
        template: String,
        line: usize,
        function: String,
    },
    /// Execution failed (including exceeding a resource limit).
    #[error("{}", exec_display(.template, .executing, .location.as_ref(), .message))]
    Exec {
        /// Name of the top-level template.
        template: String,
        /// Name of the template being executed (differs inside `{{template}}`).
        executing: String,
        /// Position and source text of the node being evaluated.
        location: Option<Location>,
        message: String,
    },
    /// The object's templates exceeded a limit of their shared [`Budget`]
    /// (or one entry's text is too large: [`Limit::TemplateSize`]).
    #[error(
        "template {template}: the object's templates exceeded the limit of {max} {}",
        limit_unit(*.limit)
    )]
    Budget {
        /// The entry being rendered when the budget ran out.
        template: String,
        limit: Limit,
        /// The configured value of the limit.
        max: u64,
    },
}

impl TemplateError {
    /// Is this a [`TemplateError::Budget`] (a resource limit, as opposed to
    /// a mistake in the template)?
    pub fn is_budget(&self) -> bool {
        matches!(self, TemplateError::Budget { .. })
    }

    pub(crate) fn budget(template: &str, limit: Limit, limits: &Limits) -> TemplateError {
        TemplateError::Budget {
            template: template.to_string(),
            limit,
            max: limit.describe(limits).0,
        }
    }
}

fn limit_unit(limit: Limit) -> &'static str {
    limit.describe(&Limits::default()).1
}

/// Where in the template text an execution error occurred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    /// Byte offset within the line (0-based, as Go reports it).
    pub column: usize,
    /// The template source of the node (Go's `Node.String()`).
    pub context: String,
}

fn exec_display(
    template: &str,
    executing: &str,
    location: Option<&Location>,
    message: &str,
) -> String {
    match location {
        None => format!("template: {executing}: {message}"),
        Some(loc) => format!(
            "template: {template}:{}:{}: executing {} at <{}>: {message}",
            loc.line,
            loc.column,
            fmt::quote_str(executing, false),
            loc.context
        ),
    }
}

/// Every function name a template may call: Go's builtins plus the
/// supported Sprig functions. Any other name fails at parse time with
/// `function "NAME" not defined`.
pub const SUPPORTED_FUNCTIONS: &[&str] = &[
    // Go text/template builtins
    "and",
    "call",
    "eq",
    "ge",
    "gt",
    "html",
    "index",
    "js",
    "le",
    "len",
    "lt",
    "ne",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    // Sprig: strings
    "abbrev",
    "abbrevboth",
    "adler32sum",
    "cat",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "hello",
    "indent",
    "initials",
    "lower",
    "nindent",
    "nospace",
    "plural",
    "quote",
    "randAlpha",
    "randAlphaNum",
    "randAscii",
    "randNumeric",
    "repeat",
    "replace",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "shuffle",
    "squote",
    "substr",
    "title",
    "toString",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "trimall",
    "trunc",
    "untitle",
    "upper",
    // Sprig: string lists
    "join",
    "sortAlpha",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    // Sprig: conversions and math
    "add",
    "add1",
    "atoi",
    "biggest",
    "ceil",
    "div",
    "float64",
    "floor",
    "int",
    "int64",
    "max",
    "maxf",
    "min",
    "minf",
    "mod",
    "mul",
    "randInt",
    "round",
    "seq",
    "sub",
    "toDecimal",
    "until",
    "untilStep",
    // Sprig: defaults, flow control, JSON
    "all",
    "any",
    "coalesce",
    "compact",
    "deepCopy",
    "default",
    "empty",
    "fail",
    "fromJson",
    "mustCompact",
    "mustDeepCopy",
    "mustFromJson",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "ternary",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    // Sprig: reflection
    "deepEqual",
    "kindIs",
    "kindOf",
    "typeIs",
    "typeIsLike",
    "typeOf",
    // Sprig: paths
    "base",
    "clean",
    "dir",
    "ext",
    "isAbs",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    // Sprig: encoding and crypto
    "b32dec",
    "b32enc",
    "b64dec",
    "b64enc",
    "bcrypt",
    "htpasswd",
    "randBytes",
    "uuidv4",
    // Sprig: lists
    "append",
    "chunk",
    "concat",
    "first",
    "has",
    "initial",
    "last",
    "list",
    "mustAppend",
    "mustChunk",
    "mustFirst",
    "mustHas",
    "mustInitial",
    "mustLast",
    "mustPrepend",
    "mustPush",
    "mustRest",
    "mustReverse",
    "mustSlice",
    "mustUniq",
    "mustWithout",
    "prepend",
    "push",
    "rest",
    "reverse",
    "slice",
    "tuple",
    "uniq",
    "without",
    // Sprig: dicts
    "dict",
    "dig",
    "get",
    "hasKey",
    "keys",
    "omit",
    "pick",
    "pluck",
    "set",
    "unset",
    "values",
    // Sprig: regular expressions
    "mustRegexFind",
    "mustRegexFindAll",
    "mustRegexMatch",
    "mustRegexReplaceAll",
    "mustRegexReplaceAllLiteral",
    "mustRegexSplit",
    "regexFind",
    "regexFindAll",
    "regexMatch",
    "regexQuoteMeta",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
];

/// Parses `template` as a Go text/template named `name` and executes it
/// with `data` (a `map[string]string`) as dot, with a budget of its own
/// ([`Limits::default`]). To bound all the entries of one object together,
/// use [`render_with_budget`] with one [`Budget`] for the object.
pub fn render(
    name: &str,
    template: &str,
    data: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    render_with_budget(name, template, data, &mut Budget::new(Limits::default()))
}

/// Parse steps charged per byte of template text (parsing is linear).
const PARSE_BYTES_PER_STEP: usize = 16;

/// [`render`], charging everything to `budget`, which the caller shares
/// between all the template entries of one object. The budget's clock
/// starts on its first use. Once a limit is exceeded, the error is a
/// [`TemplateError::Budget`]; later calls with the same budget fail as soon
/// as they need what is exhausted.
pub fn render_with_budget(
    name: &str,
    template: &str,
    data: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> Result<String, TemplateError> {
    let limits = *budget.limits();
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::budget(name, Limit::TemplateSize, &limits));
    }
    if let Some(deadline) = budget.deadline() {
        if std::time::Instant::now() >= deadline {
            return Err(TemplateError::budget(name, Limit::Time, &limits));
        }
    }
    let parse_steps = 1 + (template.len() / PARSE_BYTES_PER_STEP) as u64;
    if let Err(limit) = budget.take_steps(parse_steps) {
        return Err(TemplateError::budget(name, limit, &limits));
    }
    let trees = parse::parse(name, template)?;
    exec::execute(name, template, &trees, data, budget)
}

/// Parses `template` without executing it (useful to validate a
/// SealedSecret's templates before any secret is decrypted). Text larger
/// than [`MAX_TEMPLATE_BYTES`] is refused with [`Limit::TemplateSize`].
pub fn check(name: &str, template: &str) -> Result<(), TemplateError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::budget(
            name,
            Limit::TemplateSize,
            &Limits::default(),
        ));
    }
    parse::parse(name, template).map(|_| ())
}
