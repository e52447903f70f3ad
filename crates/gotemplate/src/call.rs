//! What a template function sees: parameter types, the execution context, argument
//! helpers and the conversions builtins and Sprig share. Imports no function module.

use super::budget::Exceeded;
use super::fmt::{quote_str, sprint_value};
use super::value::{Heap, MapId, Value};

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
