//! Executor: a port of Go's `text/template/exec.go` over [`Value`].

use std::collections::BTreeMap;
use std::rc::Rc;

use zeroize::Zeroize;

use super::budget::{Budget, Limit, Limits};
use super::call::{Cx, FuncDef, Kind, Ty};
use super::cost;
use super::fmt::{quote_str, sprint_value};
use super::parse::{Arg, BranchNode, CommandNode, ListNode, Node, NumberNode, PipeNode};
use super::value::{Heap, Value, is_true, type_name};
use super::{Location, MAX_NESTING_DEPTH, MAX_STRING_BYTES, MAX_TEMPLATE_DEPTH, TemplateError};

/// Bound on the combined nesting of control structures, pipelines and
/// template calls during execution (keeps native stack use small).
const MAX_EXEC_NESTING: usize = 3 * MAX_NESTING_DEPTH;

type Res<T> = Result<T, Box<TemplateError>>;

/// The node being evaluated, for error locations (Go's `state.node`).
#[derive(Clone, Copy)]
enum At<'t> {
    Node(&'t Node),
    Pipe(&'t PipeNode),
    Cmd(&'t CommandNode),
    Arg(&'t Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => match n {
                Node::Text { pos, .. }
                | Node::Action { pos, .. }
                | Node::Template { pos, .. }
                | Node::Break { pos }
                | Node::Continue { pos } => *pos,
                Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
            },
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n) => n.to_go_string(),
            At::Pipe(p) => p.to_go_string(),
            At::Cmd(c) => c.to_go_string(),
            At::Arg(a) => a.to_go_string(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'t> {
    top_name: &'t str,
    text: &'t str,
    trees: &'t BTreeMap<String, ListNode>,
    executing: &'t str,
    out: String,
    vars: Vec<(String, Value)>,
    heap: Heap,
    at: Option<At<'t>>,
    template_depth: usize,
    nesting: usize,
    limits: Limits,
    /// Output bytes the object may still produce.
    output_left: u64,
}

pub(crate) fn execute(
    name: &str,
    text: &str,
    trees: &BTreeMap<String, ListNode>,
    data: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> Result<String, TemplateError> {
    let root = Value::StrMap(Rc::new(data.clone()));
    let mut st = State {
        top_name: name,
        text,
        trees,
        executing: name,
        out: String::new(),
        vars: vec![("$".to_string(), root.clone())],
        heap: Heap::new(budget.meter()),
        at: None,
        template_depth: 0,
        nesting: 0,
        limits: *budget.limits(),
        output_left: budget.output_remaining(),
    };
    let Some(tree) = trees.get(name) else {
        return Err(*st.errorf(format!(
            "{} is an incomplete or empty template",
            quote_str(name, false)
        )));
    };
    let result = match st.heap.meter.check_time() {
        Err(_) => Err(st.budget_error()),
        Ok(()) => st.walk_list(&root, tree),
    };
    budget.settle(&st.heap.meter, st.output_left);
    let result = result.map(|_| ());
    let mut out = std::mem::take(&mut st.out);
    drop(st);
    // The copy of the data map holds decrypted values: wipe it once nothing else refers to it
    // (values a template derived from it are not tracked).
    if let Value::StrMap(map) = root {
        if let Ok(mut map) = Rc::try_unwrap(map) {
            for v in map.values_mut() {
                v.zeroize();
            }
        }
    }
    match result {
        Ok(()) => Ok(out),
        Err(e) => {
            out.zeroize();
            Err(*e)
        }
    }
}

impl<'t> State<'t> {
    fn errorf(&self, message: impl Into<String>) -> Box<TemplateError> {
        let location = self.at.map(|at| {
            let pos = at.pos().min(self.text.len());
            let before = self.text.as_bytes().get(..pos).unwrap_or(&[]);
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let column = match before.iter().rposition(|&b| b == b'\n') {
                None => pos,
                Some(i) => pos - (i + 1),
            };
            Location {
                line,
                column,
                context: at.context(),
            }
        });
        Box::new(TemplateError::Exec {
            template: self.top_name.to_string(),
            executing: self.executing.to_string(),
            location,
            message: message.into(),
        })
    }

    fn at(&mut self, at: At<'t>) {
        self.at = Some(at);
    }

    /// The error for the limit recorded in the meter (steps if none is).
    fn budget_error(&self) -> Box<TemplateError> {
        let limit = self.heap.meter.exceeded().unwrap_or(Limit::Steps);
        Box::new(TemplateError::budget(self.top_name, limit, &self.limits))
    }

    fn tick(&mut self, n: u64) -> Res<()> {
        self.heap.meter.step(n).map_err(|_| self.budget_error())
    }

    fn enter(&mut self) -> Res<()> {
        if self.nesting >= MAX_EXEC_NESTING {
            return Err(self.errorf(format!(
                "template execution exceeded the maximum nesting depth of {MAX_EXEC_NESTING}"
            )));
        }
        self.nesting += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    fn write(&mut self, s: &str) -> Res<()> {
        let n = u64::try_from(s.len()).unwrap_or(u64::MAX);
        if n > self.output_left {
            self.output_left = 0;
            self.heap.meter.fail(Limit::Output);
            return Err(self.budget_error());
        }
        self.output_left -= n;
        self.out.push_str(s);
        Ok(())
    }

    // -- variables ---------------------------------------------------------

    fn set_var(&mut self, name: &str, value: Value) -> Res<()> {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = value;
            return Ok(());
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn set_top_var(&mut self, n: usize, value: Value) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = value;
        }
    }

    fn var_value(&self, name: &str) -> Res<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    // -- walking -----------------------------------------------------------

    fn walk_list(&mut self, dot: &Value, list: &'t ListNode) -> Res<Flow> {
        for node in &list.nodes {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &'t Node) -> Res<Flow> {
        self.at(At::Node(node));
        self.tick(1)?;
        match node {
            Node::Text { text, .. } => {
                self.write(text)?;
                Ok(Flow::Normal)
            }
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print_value(node, &val)?;
                }
                Ok(Flow::Normal)
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
            Node::Break { .. } => Ok(Flow::Break),
            Node::Continue { .. } => Ok(Flow::Continue),
        }
    }

    fn walk_if_or_with(&mut self, is_with: bool, dot: &Value, b: &'t BranchNode) -> Res<Flow> {
        let mark = self.vars.len();
        self.enter()?;
        let r = self.walk_if_or_with_inner(is_with, dot, b);
        self.leave();
        self.vars.truncate(mark);
        r
    }

    fn walk_if_or_with_inner(
        &mut self,
        is_with: bool,
        dot: &Value,
        b: &'t BranchNode,
    ) -> Res<Flow> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        if is_true(&val, &self.heap) {
            if is_with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)
        } else {
            Ok(Flow::Normal)
        }
    }

    fn walk_range(&mut self, dot: &Value, node: &'t Node, r: &'t BranchNode) -> Res<Flow> {
        self.at(At::Node(node));
        let outer = self.vars.len();
        self.enter()?;
        let res = self.walk_range_inner(dot, r);
        self.leave();
        self.vars.truncate(outer);
        res.map(|_| Flow::Normal)
    }

    fn one_iteration(
        &mut self,
        r: &'t BranchNode,
        mark: usize,
        index: Value,
        elem: Value,
    ) -> Res<Flow> {
        let decl = &r.pipe.decl;
        let first = decl.first().and_then(|v| v.ident.first());
        let second = decl.get(1).and_then(|v| v.ident.first());
        if let Some(first) = first {
            if r.pipe.is_assign {
                if let (true, Some(_)) = (decl.len() > 1, second) {
                    self.set_var(first, index.clone())?;
                } else {
                    self.set_var(first, elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if let Some(second) = second {
            if r.pipe.is_assign {
                self.set_var(second, elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        self.tick(1)?;
        let flow = self.walk_list(&elem, &r.list);
        self.vars.truncate(mark);
        flow
    }

    fn walk_range_inner(&mut self, dot: &Value, r: &'t BranchNode) -> Res<()> {
        let val = self.eval_pipeline(dot, &r.pipe)?;
        let mark = self.vars.len();
        let mut ran = false;
        match &val {
            Value::Int(_) | Value::Int64(_) | Value::Uint8(_) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use value of type {} to iterate over more than one variable",
                        type_name(&val)
                    )));
                }
                let n = val.as_int().unwrap_or(0);
                let mut i = 0i64;
                while i < n {
                    ran = true;
                    let elem = match &val {
                        Value::Int64(_) => Value::Int64(i),
                        Value::Uint8(_) => Value::Uint8(i as u8),
                        _ => Value::Int(i),
                    };
                    if self.one_iteration(r, mark, Value::Invalid, elem)? == Flow::Break {
                        break;
                    }
                    i += 1;
                }
            }
            Value::List(l) => {
                for (i, item) in l.items.iter().enumerate() {
                    ran = true;
                    if self.one_iteration(r, mark, Value::Int(i as i64), item.clone())?
                        == Flow::Break
                    {
                        break;
                    }
                }
            }
            Value::Map(id) => {
                let entries = self.heap.entries(*id);
                for (k, v) in entries {
                    ran = true;
                    if self.one_iteration(r, mark, Value::str(k), v)? == Flow::Break {
                        break;
                    }
                }
            }
            Value::StrMap(m) => {
                for (k, v) in m.iter() {
                    ran = true;
                    if self.heap.meter.alloc_usize(k.len() + v.len()).is_err() {
                        return Err(self.budget_error());
                    }
                    if self.one_iteration(
                        r,
                        mark,
                        Value::str(k.as_str()),
                        Value::str(v.as_str()),
                    )? == Flow::Break
                    {
                        break;
                    }
                }
            }
            Value::Invalid | Value::Nil => {}
            other => {
                // Go prints the value here; it may be a secret.
                return Err(self.errorf(format!(
                    "range can't iterate over value of type {}",
                    type_name(other)
                )));
            }
        }
        if !ran {
            if let Some(else_list) = &r.else_list {
                self.walk_list(dot, else_list)?;
            }
        }
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        node: &'t Node,
        name: &'t str,
        pipe: Option<&'t PipeNode>,
    ) -> Res<Flow> {
        self.at(At::Node(node));
        let Some(tree) = self.trees.get(name) else {
            return Err(self.errorf(format!("template {} not defined", quote_str(name, false))));
        };
        if self.template_depth >= MAX_TEMPLATE_DEPTH {
            return Err(self.errorf(format!(
                "exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"
            )));
        }
        // Variables declared by the pipeline persist.
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Invalid,
        };
        self.enter()?;
        let saved_vars =
            std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
        let saved_name = std::mem::replace(&mut self.executing, name);
        self.template_depth += 1;
        let r = self.walk_list(&new_dot, tree);
        self.template_depth -= 1;
        self.executing = saved_name;
        self.vars = saved_vars;
        self.leave();
        r.map(|_| Flow::Normal)
    }

    fn print_value(&mut self, node: &'t Node, v: &Value) -> Res<()> {
        self.at(At::Node(node));
        let s = match v {
            Value::Invalid => "<no value>".to_string(),
            other => match sprint_value(other, &self.heap) {
                Ok(s) => s,
                Err(_) => return Err(self.budget_error()),
            },
        };
        self.write(&s)
    }

    // -- evaluation --------------------------------------------------------

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'t PipeNode) -> Res<Value> {
        self.at(At::Pipe(pipe));
        self.enter()?;
        let r = self.eval_pipeline_inner(dot, pipe);
        self.leave();
        r
    }

    fn eval_pipeline_inner(&mut self, dot: &Value, pipe: &'t PipeNode) -> Res<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // If the object has type interface{}, dig down one level.
            value = Some(match v {
                Value::Nil => Value::Invalid,
                other => other,
            });
        }
        let value = value.unwrap_or(Value::Invalid);
        for var in &pipe.decl {
            let Some(name) = var.ident.first() else {
                continue;
            };
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &'t [Arg], final_: &Option<Value>) -> Res<()> {
        if args.len() > 1 || final_.is_some() {
            let first = args.first().map(Arg::to_go_string).unwrap_or_default();
            return Err(self.errorf(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value,
        cmd: &'t CommandNode,
        final_: Option<Value>,
    ) -> Res<Value> {
        self.tick(1)?;
        let Some(first) = cmd.args.first() else {
            return Err(self.errorf("empty command"));
        };
        match first {
            Arg::Field { ident, .. } => {
                self.at(At::Arg(first));
                self.eval_field_chain(dot.clone(), ident, &cmd.args, final_)
            }
            Arg::Chain { .. } => self.eval_chain_node(dot, first, &cmd.args, final_),
            Arg::Identifier { func, name, .. } => {
                self.at(At::Arg(first));
                self.eval_call(dot, func, At::Cmd(cmd), name, &cmd.args, final_)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                self.eval_pipeline(dot, p)
            }
            Arg::Variable(_) => self.eval_variable_node(first, &cmd.args, final_),
            _ => {
                self.at(At::Arg(first));
                self.not_a_function(&cmd.args, &final_)?;
                match first {
                    Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
                    Arg::Dot { .. } => Ok(dot.clone()),
                    Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
                    Arg::Number(n) => self.ideal_constant(first, n),
                    Arg::String { text, .. } => Ok(Value::str(text.as_str())),
                    _ => Err(self.errorf(format!(
                        "can't evaluate command {}",
                        quote_str(&first.to_go_string(), false)
                    ))),
                }
            }
        }
    }

    fn ideal_constant(&mut self, node: &'t Arg, n: &NumberNode) -> Res<Value> {
        self.at(At::Arg(node));
        let text = n.text.as_str();
        let is_hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes().get(1), Some(b'x' | b'X'))
            && !text.contains(['p', 'P']);
        let is_rune_int = text.starts_with('\'');
        if n.is_float && !is_hex_int && !is_rune_int && text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(n.float64));
        }
        if n.is_int {
            return Ok(Value::Int(n.int64));
        }
        if n.is_uint {
            return Err(self.errorf(format!("{text} overflows int")));
        }
        Ok(Value::Invalid)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Value,
        chain: &'t Arg,
        args: &'t [Arg],
        final_: Option<Value>,
    ) -> Res<Value> {
        self.at(At::Arg(chain));
        let Arg::Chain { node, field, .. } = chain else {
            return Err(self.errorf("internal error: not a chain"));
        };
        if field.is_empty() {
            return Err(self.errorf("internal error: no fields in evalChainNode"));
        }
        if let Arg::Nil { .. } = node.as_ref() {
            return Err(self.errorf(format!(
                "indirection through explicit nil in {}",
                chain.to_go_string()
            )));
        }
        let receiver = self.eval_arg_untyped(dot, node)?;
        self.eval_field_chain(receiver, field, args, final_)
    }

    fn eval_variable_node(
        &mut self,
        var: &'t Arg,
        args: &'t [Arg],
        final_: Option<Value>,
    ) -> Res<Value> {
        self.at(At::Arg(var));
        let Arg::Variable(v) = var else {
            return Err(self.errorf("internal error: not a variable"));
        };
        let name = v.ident.first().map(String::as_str).unwrap_or("$");
        let value = self.var_value(name)?;
        if v.ident.len() == 1 {
            self.not_a_function(args, &final_)?;
            return Ok(value);
        }
        self.eval_field_chain(value, v.ident.get(1..).unwrap_or(&[]), args, final_)
    }

    fn eval_field_chain(
        &mut self,
        mut receiver: Value,
        ident: &'t [String],
        args: &'t [Arg],
        final_: Option<Value>,
    ) -> Res<Value> {
        let n = ident.len();
        for name in ident.iter().take(n.saturating_sub(1)) {
            receiver = self.eval_field(name, &[], None, receiver)?;
        }
        match ident.last() {
            Some(last) => self.eval_field(last, args, final_, receiver),
            None => Ok(receiver),
        }
    }

    fn eval_field(
        &mut self,
        field_name: &str,
        args: &'t [Arg],
        final_: Option<Value>,
        receiver: Value,
    ) -> Res<Value> {
        let has_args = args.len() > 1 || final_.is_some();
        match &receiver {
            Value::Invalid => Ok(Value::Invalid),
            Value::Nil => Err(self.errorf(format!(
                "nil pointer evaluating interface {{}}.{field_name}"
            ))),
            Value::Map(id) => {
                if has_args {
                    return Err(
                        self.errorf(format!("{field_name} is not a method but has arguments"))
                    );
                }
                Ok(self.heap.map_get(*id, field_name).unwrap_or(Value::Invalid))
            }
            Value::StrMap(m) => {
                if has_args {
                    return Err(
                        self.errorf(format!("{field_name} is not a method but has arguments"))
                    );
                }
                match m.get(field_name) {
                    // The value is copied out of the data: charge it.
                    Some(s) => {
                        if self.heap.meter.alloc_usize(s.len()).is_err() {
                            return Err(self.budget_error());
                        }
                        Ok(Value::str(s.as_str()))
                    }
                    None => Ok(Value::Invalid),
                }
            }
            other => Err(self.errorf(format!(
                "can't evaluate field {field_name} in type {}",
                type_name(other)
            ))),
        }
    }

    /// Go's `evalArg(dot, nil, n)`, used for the receiver of a chain.
    fn eval_arg_untyped(&mut self, dot: &Value, n: &'t Arg) -> Res<Value> {
        self.at(At::Arg(n));
        match n {
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Identifier { func, name, .. } => {
                self.eval_call(dot, func, At::Arg(n), name, &[], None)
            }
            other => self.eval_arg(dot, Ty::Any, other),
        }
    }

    fn validate_type(&mut self, value: Value, ty: Ty) -> Res<Value> {
        match (ty, value) {
            (Ty::Any, Value::Invalid) => Ok(Value::Nil),
            (Ty::Any | Ty::Rv, v) => Ok(v),
            (Ty::Map, Value::Invalid) => Ok(Value::Map(self.heap.alloc_nil())),
            (Ty::Str, v @ Value::Str(_))
            | (Ty::Int, v @ Value::Int(_))
            | (Ty::Float, v @ Value::Float(_))
            | (Ty::Bool, v @ Value::Bool(_))
            | (Ty::Map, v @ Value::Map(_)) => Ok(v),
            (ty, Value::Invalid) => {
                Err(self.errorf(format!("invalid value; expected {}", ty.go_name())))
            }
            (ty, v) => {
                let got = if matches!(v, Value::Nil) {
                    "interface {}"
                } else {
                    type_name(&v)
                };
                Err(self.errorf(format!(
                    "wrong type for value; expected {}; got {got}",
                    ty.go_name()
                )))
            }
        }
    }

    fn eval_arg(&mut self, dot: &Value, ty: Ty, n: &'t Arg) -> Res<Value> {
        self.at(At::Arg(n));
        match n {
            Arg::Dot { .. } => return self.validate_type(dot.clone(), ty),
            Arg::Nil { .. } => {
                return match ty {
                    Ty::Any => Ok(Value::Nil),
                    Ty::Rv => Ok(Value::Invalid),
                    Ty::Map => Ok(Value::Map(self.heap.alloc_nil())),
                    _ => Err(self.errorf(format!("cannot assign nil to {}", ty.go_name()))),
                };
            }
            Arg::Field { ident, .. } => {
                self.at(At::Arg(n));
                let v = self.eval_field_chain(dot.clone(), ident, std::slice::from_ref(n), None)?;
                return self.validate_type(v, ty);
            }
            Arg::Variable(_) => {
                let v = self.eval_variable_node(n, &[], None)?;
                return self.validate_type(v, ty);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, p)?;
                return self.validate_type(v, ty);
            }
            Arg::Identifier { func, name, .. } => {
                self.at(At::Arg(n));
                let v = self.eval_call(dot, func, At::Arg(n), name, &[], None)?;
                return self.validate_type(v, ty);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain_node(dot, n, &[], None)?;
                return self.validate_type(v, ty);
            }
            Arg::Bool { .. } | Arg::Number(_) | Arg::String { .. } => {}
        }
        match (ty, n) {
            (Ty::Bool, Arg::Bool { val, .. }) => Ok(Value::Bool(*val)),
            (Ty::Bool, _) => Err(self.errorf(format!("expected bool; found {}", n.to_go_string()))),
            (Ty::Float, Arg::Number(num)) if num.is_float => Ok(Value::Float(num.float64)),
            (Ty::Float, _) => {
                Err(self.errorf(format!("expected float; found {}", n.to_go_string())))
            }
            (Ty::Int, Arg::Number(num)) if num.is_int => Ok(Value::Int(num.int64)),
            (Ty::Int, _) => {
                Err(self.errorf(format!("expected integer; found {}", n.to_go_string())))
            }
            (Ty::Str, Arg::String { text, .. }) => Ok(Value::str(text.as_str())),
            (Ty::Str, _) => {
                Err(self.errorf(format!("expected string; found {}", n.to_go_string())))
            }
            (Ty::Any | Ty::Rv, Arg::Bool { val, .. }) => Ok(Value::Bool(*val)),
            (Ty::Any | Ty::Rv, Arg::Number(num)) => self.ideal_constant(n, num),
            (Ty::Any | Ty::Rv, Arg::String { text, .. }) => Ok(Value::str(text.as_str())),
            (ty, _) => Err(self.errorf(format!(
                "can't handle {} for arg of type {}",
                n.to_go_string(),
                ty.go_name()
            ))),
        }
    }

    fn eval_call(
        &mut self,
        dot: &Value,
        def: &'static FuncDef,
        err_node: At<'t>,
        name: &str,
        args: &'t [Arg],
        final_: Option<Value>,
    ) -> Res<Value> {
        let args: &'t [Arg] = args.get(1..).unwrap_or(&[]);
        let num_in = args.len() + usize::from(final_.is_some());
        let num_fixed = def.params.len();
        if def.variadic.is_some() {
            if num_in < num_fixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {num_fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != num_fixed {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {num_fixed} got {num_in}"
            )));
        }
        let param_ty = |i: usize| -> Ty {
            def.params
                .get(i)
                .copied()
                .or(def.variadic)
                .unwrap_or(Ty::Any)
        };

        match def.kind {
            Kind::And | Kind::Or => {
                let is_or = matches!(def.kind, Kind::Or);
                let mut v = Value::Invalid;
                for a in args {
                    v = self.eval_arg(dot, Ty::Rv, a)?;
                    if is_true(&v, &self.heap) == is_or {
                        return Ok(v);
                    }
                }
                if let Some(f) = final_ {
                    v = self.validate_type(f, Ty::Rv)?;
                }
                Ok(v)
            }
            Kind::Call => {
                let mut argv = Vec::with_capacity(num_in);
                for (i, a) in args.iter().enumerate() {
                    argv.push(self.eval_arg(dot, param_ty(i), a)?);
                }
                if let Some(f) = final_ {
                    argv.push(self.validate_type(f, Ty::Rv)?);
                }
                self.at(err_node);
                let callee = args.first().map(Arg::to_go_string).unwrap_or_default();
                let msg = match argv.first() {
                    None | Some(Value::Invalid | Value::Nil) => "call of nil".to_string(),
                    Some(v) => format!("non-function {callee} of type {}", type_name(v)),
                };
                Err(self.errorf(format!("error calling call: {msg}")))
            }
            Kind::Normal(imp) => {
                let mut argv = Vec::with_capacity(num_in);
                let mut literal = Vec::with_capacity(num_in);
                for (i, a) in args.iter().enumerate() {
                    argv.push(self.eval_arg(dot, param_ty(i), a)?);
                    literal.push(matches!(a, Arg::String { .. }));
                }
                if let Some(f) = final_ {
                    let ty = if def.variadic.is_some() {
                        if num_in - 1 < num_fixed {
                            param_ty(num_in - 1)
                        } else {
                            def.variadic.unwrap_or(Ty::Any)
                        }
                    } else {
                        param_ty(num_fixed.saturating_sub(1))
                    };
                    argv.push(self.validate_type(f, ty)?);
                    literal.push(false);
                }
                // The call's cost is charged before it runs.
                let (steps, bytes) = cost::cost(name, &argv, &self.heap);
                if self.heap.meter.alloc(bytes).is_err() {
                    self.at(err_node);
                    return Err(self.budget_error());
                }
                self.tick(steps)?;
                let result = {
                    let mut cx = Cx {
                        heap: &mut self.heap,
                        literal: &literal,
                    };
                    imp(&mut cx, &argv)
                };
                // A budget exceeded inside the function wins, even if the
                // function swallowed the error (as `toJson` does).
                if self.heap.meter.exceeded().is_some() {
                    self.at(err_node);
                    return Err(self.budget_error());
                }
                match result {
                    Ok(v) => {
                        if let Value::Str(s) = &v {
                            if s.len() > MAX_STRING_BYTES {
                                self.at(err_node);
                                return Err(self.errorf(format!(
                                    "error calling {name}: result exceeds the maximum size of {MAX_STRING_BYTES} bytes"
                                )));
                            }
                        }
                        // Values deeper than the limit are refused as soon
                        // as they are built (dropping or printing a very
                        // deep value would overflow the stack).
                        let depth = self.heap.depth_of(&v) as usize;
                        if self.heap.meter.check_depth(depth).is_err() {
                            self.at(err_node);
                            return Err(self.budget_error());
                        }
                        Ok(v)
                    }
                    Err(msg) => {
                        self.at(err_node);
                        Err(self.errorf(format!("error calling {name}: {msg}")))
                    }
                }
            }
        }
    }
}
