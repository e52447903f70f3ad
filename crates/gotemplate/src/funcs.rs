//! Function table (Go builtins + Sprig) and the Go builtin functions.

use super::budget::Exceeded;
use super::fmt::{quote_str, sprint, sprint_value, sprintf, sprintln};
use super::sprig;
use super::uni;
use super::value::{ELEM_BYTES, ENTRY_BYTES, Heap, MapId, Value, is_true, type_name};

/// Static Go parameter type of a function argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// `interface {}`
    Any,
    /// `reflect.Value` (builtins that see the raw value)
    Rv,
    Str,
    Int,
    Float,
    Bool,
    /// `map[string]interface {}`
    Map,
}

impl Ty {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::Rv => "reflect.Value",
            Ty::Str => "string",
            Ty::Int => "int",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::Map => "map[string]interface {}",
        }
    }
}

/// Execution context handed to function implementations.
pub(crate) struct Cx<'a> {
    pub heap: &'a mut Heap,
    /// For each argument: was it written as a string literal in the
    /// template? (Used to decide whether a message may be echoed in errors.)
    pub literal: &'a [bool],
}

pub(crate) type Imp = fn(&mut Cx<'_>, &[Value]) -> Result<Value, String>;

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    And,
    Or,
    Call,
    Normal(Imp),
}

pub(crate) struct FuncDef {
    pub name: &'static str,
    pub params: &'static [Ty],
    pub variadic: Option<Ty>,
    pub kind: Kind,
}

impl std::fmt::Debug for FuncDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncDef").field("name", &self.name).finish()
    }
}

/// Message of a function that stopped because the budget ran out. It is
/// never shown: the executor reports the limit recorded in the meter.
pub(crate) const OVER_BUDGET: &str = "resource budget exceeded";

pub(crate) fn over_budget(_: Exceeded) -> String {
    OVER_BUDGET.to_string()
}

impl Cx<'_> {
    /// Charges `n` bytes to the allocation budget before allocating them.
    pub(crate) fn alloc(&self, n: usize) -> Result<(), String> {
        self.heap.meter.alloc_usize(n).map_err(over_budget)
    }
}

/// Argument `n` (the executor guarantees arity; this never fails).
pub(crate) fn arg(a: &[Value], n: usize) -> &Value {
    a.get(n).unwrap_or(&Value::Invalid)
}

pub(crate) fn s_arg(a: &[Value], n: usize) -> &str {
    match arg(a, n) {
        Value::Str(s) => s,
        _ => "",
    }
}

pub(crate) fn i_arg(a: &[Value], n: usize) -> i64 {
    match arg(a, n) {
        Value::Int(i) => *i,
        _ => 0,
    }
}

pub(crate) fn b_arg(a: &[Value], n: usize) -> bool {
    matches!(arg(a, n), Value::Bool(true))
}

pub(crate) fn m_arg(a: &[Value], n: usize) -> Option<MapId> {
    match arg(a, n) {
        Value::Map(id) => Some(*id),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Go builtins

/// Go's `indirectInterface`: a nil interface becomes the invalid value.
fn indirect_interface(v: &Value) -> Value {
    match v {
        Value::Nil => Value::Invalid,
        other => other.clone(),
    }
}

fn b_not(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    Ok(Value::Bool(!is_true(arg(a, 0), cx.heap)))
}

fn b_len(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    match arg(a, 0) {
        Value::Nil => Err("len of nil pointer".to_string()),
        Value::Invalid => Err("reflect: call of reflect.Value.Type on zero Value".to_string()),
        v @ (Value::Str(_) | Value::List(_) | Value::Map(_) | Value::StrMap(_)) => {
            let n = super::value::value_len(v, cx.heap).unwrap_or(0);
            Ok(Value::Int(n as i64))
        }
        v => Err(format!("len of type {}", type_name(v))),
    }
}

fn index_arg(index: &Value, len: usize) -> Result<usize, String> {
    let x = match index {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Uint8(b) => i64::from(*b),
        Value::Invalid | Value::Nil => return Err("cannot index slice/array with nil".to_string()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                type_name(other)
            ));
        }
    };
    // Go reports the offending index; it may be derived from secret data,
    // so it is deliberately left out of the message.
    if x < 0 || x as u64 > len as u64 {
        return Err("index out of range".to_string());
    }
    Ok(x as usize)
}

fn b_index(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let mut item = indirect_interface(arg(a, 0));
    if matches!(item, Value::Invalid) {
        return Err("index of untyped nil".to_string());
    }
    for index in a.iter().skip(1) {
        let index = indirect_interface(index);
        if matches!(item, Value::Nil | Value::Invalid) {
            return Err("index of nil pointer".to_string());
        }
        item = match &item {
            Value::Str(s) => {
                let x = index_arg(&index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Uint8(*b),
                    None => return Err("reflect: string index out of range".to_string()),
                }
            }
            Value::List(l) => {
                let x = index_arg(&index, l.items.len())?;
                match l.items.get(x) {
                    Some(v) => v.clone(),
                    None => return Err("reflect: slice index out of range".to_string()),
                }
            }
            Value::Map(id) => {
                let key = map_key(&index)?;
                cx.heap.map_get(*id, &key).unwrap_or(Value::Nil)
            }
            Value::StrMap(m) => {
                let key = map_key(&index)?;
                let found = m.get(&key).map_or("", String::as_str);
                cx.alloc(found.len())?;
                Value::str(found)
            }
            other => return Err(format!("can't index item of type {}", type_name(other))),
        };
    }
    Ok(item)
}

fn map_key(index: &Value) -> Result<String, String> {
    match index {
        Value::Str(s) => Ok(s.to_string()),
        Value::Invalid | Value::Nil => Err("value is nil; should be of type string".to_string()),
        other => Err(format!(
            "value has type {}; should be string",
            type_name(other)
        )),
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Uint,
}

fn basic_kind(v: &Value) -> BasicKind {
    match v {
        Value::Bool(_) => BasicKind::Bool,
        Value::Int(_) | Value::Int64(_) => BasicKind::Int,
        Value::Uint8(_) => BasicKind::Uint,
        Value::Float(_) => BasicKind::Float,
        Value::Str(_) => BasicKind::Str,
        _ => BasicKind::Invalid,
    }
}

fn int_of(v: &Value) -> i64 {
    v.as_int().unwrap_or(0)
}

fn reflect_kind(v: &Value) -> u8 {
    match v {
        Value::Invalid | Value::Nil => 0,
        Value::List(_) => 1,
        Value::Map(_) | Value::StrMap(_) => 2,
        _ => 3,
    }
}

fn is_nil_value(v: &Value, heap: &Heap) -> bool {
    match v {
        Value::Invalid | Value::Nil => true,
        Value::List(l) => l.is_nil,
        Value::Map(id) => heap.map_is_nil(*id),
        _ => false,
    }
}

fn eq_impl(heap: &Heap, arg1: &Value, rest: &[Value]) -> Result<bool, String> {
    let arg1 = indirect_interface(arg1);
    if rest.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    let k1 = basic_kind(&arg1);
    for arg in rest {
        let arg = indirect_interface(arg);
        let k2 = basic_kind(&arg);
        let truth;
        if k1 != k2 {
            match (k1, k2) {
                (BasicKind::Int, BasicKind::Uint) | (BasicKind::Uint, BasicKind::Int) => {
                    truth = int_of(&arg1) == int_of(&arg);
                }
                _ => {
                    if !matches!(arg1, Value::Invalid) && !matches!(arg, Value::Invalid) {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            type_name(&arg1),
                            type_name(&arg)
                        ));
                    }
                    truth = false;
                }
            }
        } else {
            truth = match (&arg1, &arg) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                #[allow(clippy::float_cmp)]
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ if k1 == BasicKind::Int || k1 == BasicKind::Uint => int_of(&arg1) == int_of(&arg),
                _ => {
                    let (r1, r2) = (reflect_kind(&arg1), reflect_kind(&arg));
                    if r1 != r2 && r1 != 0 && r2 != 0 {
                        // Go includes the values here; they may be secret.
                        return Err(format!(
                            "non-comparable types {} and {}",
                            type_name(&arg1),
                            type_name(&arg)
                        ));
                    }
                    if is_nil_value(&arg1, heap) || is_nil_value(&arg, heap) {
                        is_nil_value(&arg, heap) == is_nil_value(&arg1, heap)
                    } else {
                        return Err(format!("non-comparable type {}", type_name(&arg)));
                    }
                }
            };
        }
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt_impl(a1: &Value, a2: &Value) -> Result<bool, String> {
    let a1 = indirect_interface(a1);
    let a2 = indirect_interface(a2);
    let k1 = basic_kind(&a1);
    if k1 == BasicKind::Invalid {
        return Err("invalid type for comparison".to_string());
    }
    let k2 = basic_kind(&a2);
    if k2 == BasicKind::Invalid {
        return Err("invalid type for comparison".to_string());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (BasicKind::Int, BasicKind::Uint) | (BasicKind::Uint, BasicKind::Int) => {
                Ok(int_of(&a1) < int_of(&a2))
            }
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                type_name(&a1),
                type_name(&a2)
            )),
        };
    }
    match (&a1, &a2) {
        (Value::Bool(_), _) => Err("invalid type for comparison".to_string()),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        _ => Ok(int_of(&a1) < int_of(&a2)),
    }
}

fn b_eq(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    eq_impl(cx.heap, arg(a, 0), a.get(1..).unwrap_or(&[])).map(Value::Bool)
}

fn b_ne(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    eq_impl(cx.heap, arg(a, 0), a.get(1..2).unwrap_or(&[])).map(|b| Value::Bool(!b))
}

fn b_lt(_: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    lt_impl(arg(a, 0), arg(a, 1)).map(Value::Bool)
}

fn le_impl(heap: &Heap, a: &[Value]) -> Result<bool, String> {
    if lt_impl(arg(a, 0), arg(a, 1))? {
        return Ok(true);
    }
    eq_impl(heap, arg(a, 0), a.get(1..2).unwrap_or(&[]))
}

fn b_le(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    le_impl(cx.heap, a).map(Value::Bool)
}

fn b_gt(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    le_impl(cx.heap, a).map(|b| Value::Bool(!b))
}

fn b_ge(_: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    lt_impl(arg(a, 0), arg(a, 1)).map(|b| Value::Bool(!b))
}

fn b_print(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    sprint(a, cx.heap).map(Value::str).map_err(over_budget)
}

fn b_println(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    sprintln(a, cx.heap).map(Value::str).map_err(over_budget)
}

fn b_printf(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    sprintf(s_arg(a, 0), a.get(1..).unwrap_or(&[]), cx.heap)
        .map(Value::str)
        .map_err(over_budget)
}

/// Go's `evalArgs` used by html/js/urlquery.
fn eval_args(heap: &Heap, a: &[Value]) -> Result<String, String> {
    if let [Value::Str(s)] = a {
        return Ok(s.to_string());
    }
    let args: Vec<Value> = a
        .iter()
        .map(|v| {
            if v.is_nilish() {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    sprint(&args, heap).map_err(over_budget)
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || uni::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

pub(crate) fn url_query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// The escapers charge their worst-case expansion (one input byte becomes
// at most 6 output bytes) before escaping.

fn b_html(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let s = eval_args(cx.heap, a)?;
    cx.alloc(s.len().saturating_mul(6))?;
    Ok(Value::str(html_escape(&s)))
}

fn b_js(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let s = eval_args(cx.heap, a)?;
    cx.alloc(s.len().saturating_mul(6))?;
    Ok(Value::str(js_escape(&s)))
}

fn b_urlquery(cx: &mut Cx<'_>, a: &[Value]) -> Result<Value, String> {
    let s = eval_args(cx.heap, a)?;
    cx.alloc(s.len().saturating_mul(3))?;
    Ok(Value::str(url_query_escape(&s)))
}

/// `toString`-style conversion (Sprig's `strval`).
pub(crate) fn strval(v: &Value, heap: &Heap) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        other => sprint_value(other, heap).map_err(over_budget),
    }
}

pub(crate) fn go_quote(s: &str) -> String {
    quote_str(s, false)
}

// ---------------------------------------------------------------------------
// The table

use Ty::{Any, Bool, Float, Int, Map, Rv, Str};

const fn f(name: &'static str, params: &'static [Ty], variadic: Option<Ty>, imp: Imp) -> FuncDef {
    FuncDef {
        name,
        params,
        variadic,
        kind: Kind::Normal(imp),
    }
}

static FUNCS: &[FuncDef] = &[
    // Go builtins (`slice` is shadowed by Sprig's, as in Go + Sprig).
    FuncDef {
        name: "and",
        params: &[Rv],
        variadic: Some(Rv),
        kind: Kind::And,
    },
    FuncDef {
        name: "or",
        params: &[Rv],
        variadic: Some(Rv),
        kind: Kind::Or,
    },
    FuncDef {
        name: "call",
        params: &[Rv],
        variadic: Some(Rv),
        kind: Kind::Call,
    },
    f("not", &[Rv], None, b_not),
    f("len", &[Rv], None, b_len),
    f("index", &[Rv], Some(Rv), b_index),
    f("print", &[], Some(Any), b_print),
    f("printf", &[Str], Some(Any), b_printf),
    f("println", &[], Some(Any), b_println),
    f("html", &[], Some(Any), b_html),
    f("js", &[], Some(Any), b_js),
    f("urlquery", &[], Some(Any), b_urlquery),
    f("eq", &[Rv], Some(Rv), b_eq),
    f("ne", &[Rv, Rv], None, b_ne),
    f("lt", &[Rv, Rv], None, b_lt),
    f("le", &[Rv, Rv], None, b_le),
    f("gt", &[Rv, Rv], None, b_gt),
    f("ge", &[Rv, Rv], None, b_ge),
    // Sprig: strings
    f("hello", &[], None, sprig::strings::hello),
    f("abbrev", &[Int, Str], None, sprig::strings::abbrev),
    f(
        "abbrevboth",
        &[Int, Int, Str],
        None,
        sprig::strings::abbrevboth,
    ),
    f("trunc", &[Int, Str], None, sprig::strings::trunc),
    f("trim", &[Str], None, sprig::strings::trim),
    f("upper", &[Str], None, sprig::strings::upper),
    f("lower", &[Str], None, sprig::strings::lower),
    f("title", &[Str], None, sprig::strings::title),
    f("untitle", &[Str], None, sprig::strings::untitle),
    f("substr", &[Int, Int, Str], None, sprig::strings::substr),
    f("repeat", &[Int, Str], None, sprig::strings::repeat),
    f("trimall", &[Str, Str], None, sprig::strings::trim_all),
    f("trimAll", &[Str, Str], None, sprig::strings::trim_all),
    f("trimSuffix", &[Str, Str], None, sprig::strings::trim_suffix),
    f("trimPrefix", &[Str, Str], None, sprig::strings::trim_prefix),
    f("nospace", &[Str], None, sprig::strings::nospace),
    f("initials", &[Str], None, sprig::strings::initials),
    f("randAlphaNum", &[Int], None, sprig::strings::rand_alpha_num),
    f("randAlpha", &[Int], None, sprig::strings::rand_alpha),
    f("randAscii", &[Int], None, sprig::strings::rand_ascii),
    f("randNumeric", &[Int], None, sprig::strings::rand_numeric),
    f("shuffle", &[Str], None, sprig::strings::shuffle),
    f("contains", &[Str, Str], None, sprig::strings::contains),
    f("hasPrefix", &[Str, Str], None, sprig::strings::has_prefix),
    f("hasSuffix", &[Str, Str], None, sprig::strings::has_suffix),
    f("quote", &[], Some(Any), sprig::strings::quote),
    f("squote", &[], Some(Any), sprig::strings::squote),
    f("cat", &[], Some(Any), sprig::strings::cat),
    f("indent", &[Int, Str], None, sprig::strings::indent),
    f("nindent", &[Int, Str], None, sprig::strings::nindent),
    f("replace", &[Str, Str, Str], None, sprig::strings::replace),
    f("plural", &[Str, Str, Int], None, sprig::strings::plural),
    f("sha1sum", &[Str], None, sprig::crypto::sha1sum),
    f("sha256sum", &[Str], None, sprig::crypto::sha256sum),
    f("sha512sum", &[Str], None, sprig::crypto::sha512sum),
    f("adler32sum", &[Str], None, sprig::crypto::adler32sum),
    f("toString", &[Any], None, sprig::conversion::to_string),
    // Sprig: conversions and arithmetic
    f("atoi", &[Str], None, sprig::conversion::atoi),
    f("int64", &[Any], None, sprig::conversion::int64),
    f("int", &[Any], None, sprig::conversion::int),
    f("float64", &[Any], None, sprig::conversion::float64),
    f("seq", &[], Some(Int), sprig::int_math::seq),
    f("toDecimal", &[Any], None, sprig::conversion::to_decimal),
    f("split", &[Str, Str], None, sprig::string_lists::split),
    f(
        "splitList",
        &[Str, Str],
        None,
        sprig::string_lists::split_list,
    ),
    f(
        "splitn",
        &[Str, Int, Str],
        None,
        sprig::string_lists::splitn,
    ),
    f("toStrings", &[Any], None, sprig::conversion::to_strings),
    f("until", &[Int], None, sprig::int_math::until),
    f(
        "untilStep",
        &[Int, Int, Int],
        None,
        sprig::int_math::until_step,
    ),
    f("add1", &[Any], None, sprig::int_math::add1),
    f("add", &[], Some(Any), sprig::int_math::add),
    f("sub", &[Any, Any], None, sprig::int_math::sub),
    f("div", &[Any, Any], None, sprig::int_math::div),
    f("mod", &[Any, Any], None, sprig::int_math::modulo),
    f("mul", &[Any], Some(Any), sprig::int_math::mul),
    f("randInt", &[Int, Int], None, sprig::int_math::rand_int),
    f("biggest", &[Any], Some(Any), sprig::int_math::max),
    f("max", &[Any], Some(Any), sprig::int_math::max),
    f("min", &[Any], Some(Any), sprig::int_math::min),
    f("maxf", &[Any], Some(Any), sprig::float_math::maxf),
    f("minf", &[Any], Some(Any), sprig::float_math::minf),
    f("ceil", &[Any], None, sprig::float_math::ceil),
    f("floor", &[Any], None, sprig::float_math::floor),
    f("round", &[Any, Int], Some(Float), sprig::float_math::round),
    f("join", &[Str, Any], None, sprig::string_lists::join),
    f("sortAlpha", &[Any], None, sprig::string_lists::sort_alpha),
    // Sprig: defaults, JSON, flow
    f("default", &[Any], Some(Any), sprig::defaults::default),
    f("empty", &[Any], None, sprig::defaults::empty),
    f("coalesce", &[], Some(Any), sprig::defaults::coalesce),
    f("all", &[], Some(Any), sprig::defaults::all),
    f("any", &[], Some(Any), sprig::defaults::any),
    f("compact", &[Any], None, sprig::lists::compact),
    f("mustCompact", &[Any], None, sprig::lists::must_compact),
    f("fromJson", &[Str], None, sprig::json::from_json),
    f("mustFromJson", &[Str], None, sprig::json::must_from_json),
    f("toJson", &[Any], None, sprig::json::to_json),
    f("mustToJson", &[Any], None, sprig::json::must_to_json),
    f("toPrettyJson", &[Any], None, sprig::json::to_pretty_json),
    f(
        "mustToPrettyJson",
        &[Any],
        None,
        sprig::json::must_to_pretty_json,
    ),
    f("toRawJson", &[Any], None, sprig::json::to_raw_json),
    f("mustToRawJson", &[Any], None, sprig::json::must_to_raw_json),
    f("ternary", &[Any, Any, Bool], None, sprig::defaults::ternary),
    f("deepCopy", &[Any], None, sprig::dicts::deep_copy),
    f("mustDeepCopy", &[Any], None, sprig::dicts::deep_copy),
    f("fail", &[Str], None, sprig::flow::fail),
    // Sprig: reflection
    f("typeOf", &[Any], None, sprig::reflection::type_of),
    f("typeIs", &[Str, Any], None, sprig::reflection::type_is),
    f(
        "typeIsLike",
        &[Str, Any],
        None,
        sprig::reflection::type_is_like,
    ),
    f("kindOf", &[Any], None, sprig::reflection::kind_of_fn),
    f("kindIs", &[Str, Any], None, sprig::reflection::kind_is),
    f(
        "deepEqual",
        &[Any, Any],
        None,
        sprig::reflection::deep_equal_fn,
    ),
    // Sprig: paths
    f("base", &[Str], None, sprig::paths::path_base),
    f("dir", &[Str], None, sprig::paths::path_dir),
    f("clean", &[Str], None, sprig::paths::path_clean),
    f("ext", &[Str], None, sprig::paths::path_ext),
    f("isAbs", &[Str], None, sprig::paths::path_is_abs),
    f("osBase", &[Str], None, sprig::paths::path_base),
    f("osClean", &[Str], None, sprig::paths::path_clean),
    f("osDir", &[Str], None, sprig::paths::path_dir),
    f("osExt", &[Str], None, sprig::paths::path_ext),
    f("osIsAbs", &[Str], None, sprig::paths::path_is_abs),
    // Sprig: encoding
    f("b64enc", &[Str], None, sprig::encoding::b64enc),
    f("b64dec", &[Str], None, sprig::encoding::b64dec),
    f("b32enc", &[Str], None, sprig::encoding::b32enc),
    f("b32dec", &[Str], None, sprig::encoding::b32dec),
    // Sprig: lists and dicts
    f("tuple", &[], Some(Any), sprig::lists::list),
    f("list", &[], Some(Any), sprig::lists::list),
    f("dict", &[], Some(Any), sprig::dicts::dict),
    f("get", &[Map, Str], None, sprig::dicts::get),
    f("set", &[Map, Str, Any], None, sprig::dicts::set),
    f("unset", &[Map, Str], None, sprig::dicts::unset),
    f("hasKey", &[Map, Str], None, sprig::dicts::has_key),
    f("pluck", &[Str], Some(Map), sprig::dicts::pluck),
    f("keys", &[], Some(Map), sprig::dicts::keys),
    f("pick", &[Map], Some(Str), sprig::dicts::pick),
    f("omit", &[Map], Some(Str), sprig::dicts::omit),
    f("values", &[Map], None, sprig::dicts::values),
    f("dig", &[], Some(Any), sprig::dicts::dig),
    f("append", &[Any, Any], None, sprig::lists::push),
    f("push", &[Any, Any], None, sprig::lists::push),
    f("mustAppend", &[Any, Any], None, sprig::lists::must_push),
    f("mustPush", &[Any, Any], None, sprig::lists::must_push),
    f("prepend", &[Any, Any], None, sprig::lists::prepend),
    f("mustPrepend", &[Any, Any], None, sprig::lists::must_prepend),
    f("first", &[Any], None, sprig::lists::first),
    f("mustFirst", &[Any], None, sprig::lists::must_first),
    f("rest", &[Any], None, sprig::lists::rest),
    f("mustRest", &[Any], None, sprig::lists::must_rest),
    f("last", &[Any], None, sprig::lists::last),
    f("mustLast", &[Any], None, sprig::lists::must_last),
    f("initial", &[Any], None, sprig::lists::initial),
    f("mustInitial", &[Any], None, sprig::lists::must_initial),
    f("reverse", &[Any], None, sprig::lists::reverse),
    f("mustReverse", &[Any], None, sprig::lists::must_reverse),
    f("uniq", &[Any], None, sprig::lists::uniq),
    f("mustUniq", &[Any], None, sprig::lists::must_uniq),
    f("without", &[Any], Some(Any), sprig::lists::without),
    f("mustWithout", &[Any], Some(Any), sprig::lists::must_without),
    f("has", &[Any, Any], None, sprig::lists::has),
    f("mustHas", &[Any, Any], None, sprig::lists::must_has),
    f("slice", &[Any], Some(Any), sprig::lists::slice),
    f("mustSlice", &[Any], Some(Any), sprig::lists::must_slice),
    f("concat", &[], Some(Any), sprig::lists::concat),
    f("chunk", &[Int, Any], None, sprig::lists::chunk),
    f("mustChunk", &[Int, Any], None, sprig::lists::must_chunk),
    // Sprig: crypto and randomness
    f("bcrypt", &[Str], None, sprig::crypto::bcrypt_fn),
    f("htpasswd", &[Str, Str], None, sprig::crypto::htpasswd),
    f("randBytes", &[Int], None, sprig::crypto::rand_bytes),
    f("uuidv4", &[], None, sprig::uuid::uuidv4),
    // Sprig: regular expressions
    f("regexMatch", &[Str, Str], None, sprig::regexp::regex_match),
    f(
        "mustRegexMatch",
        &[Str, Str],
        None,
        sprig::regexp::must_regex_match,
    ),
    f(
        "regexFindAll",
        &[Str, Str, Int],
        None,
        sprig::regexp::regex_find_all,
    ),
    f(
        "mustRegexFindAll",
        &[Str, Str, Int],
        None,
        sprig::regexp::must_regex_find_all,
    ),
    f("regexFind", &[Str, Str], None, sprig::regexp::regex_find),
    f(
        "mustRegexFind",
        &[Str, Str],
        None,
        sprig::regexp::must_regex_find,
    ),
    f(
        "regexReplaceAll",
        &[Str, Str, Str],
        None,
        sprig::regexp::regex_replace_all,
    ),
    f(
        "mustRegexReplaceAll",
        &[Str, Str, Str],
        None,
        sprig::regexp::must_regex_replace_all,
    ),
    f(
        "regexReplaceAllLiteral",
        &[Str, Str, Str],
        None,
        sprig::regexp::regex_replace_all_literal,
    ),
    f(
        "mustRegexReplaceAllLiteral",
        &[Str, Str, Str],
        None,
        sprig::regexp::must_regex_replace_all_literal,
    ),
    f(
        "regexSplit",
        &[Str, Str, Int],
        None,
        sprig::regexp::regex_split,
    ),
    f(
        "mustRegexSplit",
        &[Str, Str, Int],
        None,
        sprig::regexp::must_regex_split,
    ),
    f(
        "regexQuoteMeta",
        &[Str],
        None,
        sprig::regexp::regex_quote_meta,
    ),
];

/// Steps charged for one bcrypt hash at Sprig's cost (10).
///
/// Calibration (`cargo bench -p gotemplate --bench calibrate`, release
/// build, on the shared 2-core development machine under load, 2026-11-30):
/// ordinary evaluation (a `range`/`printf`/`b64enc`/`len` loop) ran at 4.3
/// million steps per second, and one bcrypt hash at cost 10 took 145 ms,
/// i.e. about 625,000 steps at that rate; rounded up to 800,000. With the
/// default budget of 5,000,000 steps an object can hash 6 passwords.
pub(crate) const BCRYPT_STEPS: u64 = 800_000;

fn str_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        _ => 0,
    }
}

fn list_len(v: &Value) -> usize {
    match v {
        Value::List(l) => l.items.len(),
        _ => 0,
    }
}

fn total_str_len(a: &[Value]) -> usize {
    a.iter().map(str_len).fold(0, usize::saturating_add)
}

fn int_of_arg(a: &[Value], n: usize) -> i64 {
    arg(a, n).as_int().unwrap_or(0)
}

/// Number of elements of Sprig's `untilStep(start, stop, step)`.
fn range_count(start: i64, stop: i64, step: i64) -> u64 {
    let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
    let n = if stop < start && step < 0 {
        (start - stop + (-step) - 1) / (-step)
    } else if stop > start && step > 0 {
        (stop - start + step - 1) / step
    } else {
        0
    };
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Number of elements of Sprig's `seq` with these arguments.
fn seq_count(a: &[Value]) -> u64 {
    match a.len() {
        1 => {
            let end = int_of_arg(a, 0);
            range_count(1, end, 1).max(range_count(1, end, -1)) + 1
        }
        2 => {
            let (start, end) = (int_of_arg(a, 0), int_of_arg(a, 1));
            range_count(start, end, 1).max(range_count(start, end, -1)) + 1
        }
        3 => {
            let (start, step, end) = (int_of_arg(a, 0), int_of_arg(a, 1), int_of_arg(a, 2));
            range_count(start, end, step).saturating_add(1)
        }
        _ => 0,
    }
}

/// Number of parts `strings.SplitN(s, sep, n)` produces.
fn split_count(s: &str, sep: &str, n: i64) -> usize {
    let all = if sep.is_empty() {
        s.chars().count()
    } else {
        s.matches(sep).count() + 1
    };
    if n < 0 {
        all
    } else {
        all.min(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

fn map_cost(heap: &Heap, v: &Value) -> (usize, usize) {
    match v {
        Value::Map(id) => heap.get(*id).map_or((0, 0), |m| {
            (
                m.entries.len(),
                m.entries
                    .keys()
                    .map(String::len)
                    .fold(0, usize::saturating_add),
            )
        }),
        _ => (0, 0),
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// What a call costs, charged before the function runs: `(steps, bytes)`.
///
/// Steps: 1, plus 1 per 64 bytes of argument data, plus the function's own
/// work (bcrypt by its CPU time, hashes and encodings per input byte,
/// regular expressions by pattern and input size, generated lists and
/// strings by their size). Bytes: the memory of the result (string bytes
/// and `size_of::<Value>()` per list element, key + value + B-tree
/// overhead per map entry), from the arguments alone. Functions whose
/// result size depends on more than their arguments (printing, JSON,
/// regular expression results, `deepCopy`) charge as they build instead.
pub(crate) fn cost(name: &str, a: &[Value], heap: &Heap) -> (u64, u64) {
    let weight: usize = a
        .iter()
        .map(|v| super::value::shallow_size(v, heap))
        .fold(0, usize::saturating_add);
    let mut steps = 1 + to_u64(weight / 64);
    let strs = total_str_len(a);
    let s0 = str_len(arg(a, 0));
    let s1 = str_len(arg(a, 1));
    let bytes: u64 = match name {
        "bcrypt" | "htpasswd" => {
            steps = steps.saturating_add(BCRYPT_STEPS);
            to_u64(strs) + 80
        }
        "sha1sum" | "sha256sum" | "sha512sum" | "adler32sum" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            128
        }
        "b64enc" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            to_u64(strs / 3 * 4 + 4)
        }
        "b32enc" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            to_u64(strs / 5 * 8 + 8)
        }
        "b64dec" | "b32dec" => {
            steps = steps.saturating_add(to_u64(strs / 16));
            to_u64(strs)
        }
        "regexMatch"
        | "mustRegexMatch"
        | "regexFind"
        | "mustRegexFind"
        | "regexFindAll"
        | "mustRegexFindAll"
        | "regexReplaceAll"
        | "mustRegexReplaceAll"
        | "regexReplaceAllLiteral"
        | "mustRegexReplaceAllLiteral"
        | "regexSplit"
        | "mustRegexSplit" => {
            // Compiling is linear in the pattern, matching in input x pattern.
            let compile = to_u64(s0).saturating_mul(32);
            let matching = to_u64(s1).saturating_mul(1 + to_u64(s0 / 16)) / 8;
            steps = steps.saturating_add(compile).saturating_add(matching);
            // Results are charged as they are found.
            0
        }
        "regexQuoteMeta" => to_u64(s0).saturating_mul(2),
        "repeat" => {
            let count = u64::try_from(int_of_arg(a, 0)).unwrap_or(0);
            let total = count.saturating_mul(to_u64(s1));
            steps = steps.saturating_add(total / 64);
            total
        }
        "until" => {
            let n = int_of_arg(a, 0).unsigned_abs();
            steps = steps.saturating_add(n / 16);
            n.saturating_mul(to_u64(ELEM_BYTES))
        }
        "untilStep" => {
            let n = range_count(int_of_arg(a, 0), int_of_arg(a, 1), int_of_arg(a, 2));
            steps = steps.saturating_add(n / 16);
            n.saturating_mul(to_u64(ELEM_BYTES))
        }
        "seq" => {
            // One Vec<i64> element plus about 21 bytes of text per number.
            let n = seq_count(a);
            steps = steps.saturating_add(n / 16);
            n.saturating_mul(8 + 21)
        }
        "list" | "tuple" => to_u64(a.len().saturating_mul(ELEM_BYTES)),
        "append" | "push" | "mustAppend" | "mustPush" | "prepend" | "mustPrepend" => {
            to_u64((list_len(arg(a, 0)) + 1).saturating_mul(ELEM_BYTES))
        }
        "concat" => {
            let n = a.iter().map(list_len).fold(0, usize::saturating_add);
            to_u64(n.saturating_mul(ELEM_BYTES))
        }
        "rest" | "mustRest" | "initial" | "mustInitial" | "reverse" | "mustReverse" | "compact"
        | "mustCompact" | "uniq" | "mustUniq" | "without" | "mustWithout" | "slice"
        | "mustSlice" => to_u64(list_len(arg(a, 0)).saturating_mul(ELEM_BYTES)),
        "has" | "mustHas" => to_u64(list_len(arg(a, 1)).saturating_mul(ELEM_BYTES)),
        "chunk" | "mustChunk" => {
            // items copied, then regrouped into lists of lists.
            to_u64(list_len(arg(a, 1)).saturating_mul(3 * ELEM_BYTES))
        }
        "dict" => {
            to_u64((a.len() / 2 + 1).saturating_mul(ENTRY_BYTES)).saturating_add(to_u64(strs))
        }
        "set" => to_u64(ENTRY_BYTES + s1),
        "pick" | "omit" => {
            let (n, keys) = map_cost(heap, arg(a, 0));
            to_u64(n.saturating_mul(ENTRY_BYTES).saturating_add(keys))
        }
        "keys" | "values" => {
            let (n, keys) = a
                .iter()
                .map(|v| map_cost(heap, v))
                .fold((0usize, 0usize), |(n, k), (m, l)| {
                    (n.saturating_add(m), k.saturating_add(l))
                });
            to_u64(n.saturating_mul(ELEM_BYTES).saturating_add(keys))
        }
        "pluck" => to_u64(a.len().saturating_mul(ELEM_BYTES)),
        "split" | "splitList" => {
            let (sep, src) = match (arg(a, 0), arg(a, 1)) {
                (Value::Str(sep), Value::Str(src)) => (&**sep, &**src),
                _ => ("", ""),
            };
            let n = split_count(src, sep, -1);
            to_u64(n.saturating_mul(ENTRY_BYTES).saturating_add(s1))
        }
        "splitn" => {
            let s2 = match arg(a, 2) {
                Value::Str(s) => &**s,
                _ => "",
            };
            let sep = match arg(a, 0) {
                Value::Str(s) => &**s,
                _ => "",
            };
            let n = split_count(s2, sep, int_of_arg(a, 1));
            to_u64(n.saturating_mul(ENTRY_BYTES).saturating_add(s2.len()))
        }
        "join" | "sortAlpha" | "toStrings" => {
            // Every element becomes a String (plus the joined result).
            let list = match a.get(if name == "join" { 1 } else { 0 }) {
                Some(Value::List(l)) => {
                    let n = l.items.len();
                    let text = l.items.iter().map(str_len).fold(0, usize::saturating_add);
                    n.saturating_mul(ELEM_BYTES + s0)
                        .saturating_add(text.saturating_mul(2))
                }
                Some(v) => str_len(v).saturating_mul(2) + ELEM_BYTES,
                None => 0,
            };
            steps = steps.saturating_add(to_u64(list / 64));
            to_u64(list)
        }
        "upper" | "lower" | "title" | "untitle" => to_u64(strs.saturating_mul(3)),
        "quote" | "squote" => to_u64(strs.saturating_mul(6).saturating_add(3 * a.len())),
        "cat" => to_u64(strs.saturating_add(a.len())),
        "indent" | "nindent" => {
            let spaces = u64::try_from(int_of_arg(a, 0)).unwrap_or(0);
            let lines = match arg(a, 1) {
                Value::Str(s) => s.bytes().filter(|&b| b == b'\n').count() + 1,
                _ => 1,
            };
            spaces
                .saturating_mul(to_u64(lines))
                .saturating_mul(2)
                .saturating_add(to_u64(s1) + 1)
        }
        "replace" => {
            let (old, new, src) = (arg(a, 0), arg(a, 1), arg(a, 2));
            let count = match (old, src) {
                (Value::Str(old), Value::Str(src)) if old.is_empty() => src.chars().count() + 1,
                (Value::Str(old), Value::Str(src)) => src.matches(&**old).count(),
                _ => 0,
            };
            to_u64(str_len(src).saturating_add(count.saturating_mul(str_len(new))))
        }
        "randAlphaNum" | "randAlpha" | "randAscii" | "randNumeric" => {
            u64::try_from(int_of_arg(a, 0))
                .unwrap_or(0)
                .saturating_mul(2)
        }
        "randBytes" => u64::try_from(int_of_arg(a, 0))
            .unwrap_or(0)
            .saturating_mul(3),
        // Printing, JSON, deepCopy and fromJson charge as they build.
        "print" | "println" | "printf" | "toString" | "toJson" | "mustToJson" | "toPrettyJson"
        | "mustToPrettyJson" | "toRawJson" | "mustToRawJson" | "deepCopy" | "mustDeepCopy"
        | "fromJson" | "mustFromJson" | "html" | "js" | "urlquery" => 0,
        // Functions returning a value they were given, a number or a bool.
        "and" | "or" | "not" | "len" | "index" | "eq" | "ne" | "lt" | "le" | "gt" | "ge"
        | "default" | "empty" | "coalesce" | "all" | "any" | "ternary" | "first" | "mustFirst"
        | "last" | "mustLast" | "get" | "unset" | "hasKey" | "dig" | "contains" | "hasPrefix"
        | "hasSuffix" | "kindIs" | "typeIs" | "typeIsLike" | "deepEqual" | "isAbs" | "osIsAbs" => 0,
        // Everything else builds a string of at most its input's size, or
        // a small number.
        _ => to_u64(strs) + 32,
    };
    (steps, bytes)
}

/// Looks up a function by name. Functions that upstream removes (`env`,
/// `expandenv`, `getHostByName`) and Sprig functions that are not
/// implemented are simply absent, so templates using them fail to parse
/// with `function "NAME" not defined`, exactly like an unknown function.
pub(crate) fn lookup(name: &str) -> Option<&'static FuncDef> {
    FUNCS.iter().find(|d| d.name == name)
}

#[cfg(test)]
pub(crate) fn all_names() -> Vec<&'static str> {
    FUNCS.iter().map(|d| d.name).collect()
}
