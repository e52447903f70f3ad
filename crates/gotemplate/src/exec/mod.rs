//! Executor: a port of Go's `text/template/exec.go` over [`Value`].

mod eval;

use std::collections::BTreeMap;
use std::rc::Rc;

use zeroize::Zeroize;

use super::budget::{Budget, Limit, Limits};
use super::fmt::{quote_str, sprint_value};
use super::node::{Arg, BranchNode, CommandNode, GoString, ListNode, Node, PipeNode};
use super::value::{Heap, Value, is_true, type_name};
use super::{Location, MAX_NESTING_DEPTH, MAX_TEMPLATE_DEPTH, TemplateError};

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
}
