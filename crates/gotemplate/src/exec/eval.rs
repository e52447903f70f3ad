//! Evaluation of pipelines, commands, arguments, fields and function calls.

use super::{At, Res, State};
use crate::MAX_STRING_BYTES;
use crate::call::{Cx, FuncDef, Kind, Ty};
use crate::cost;
use crate::fmt::quote_str;
use crate::node::{Arg, CommandNode, GoString, NumberNode, PipeNode};
use crate::value::{Value, is_true, type_name};

impl<'t> State<'t> {
    pub(super) fn eval_pipeline(&mut self, dot: &Value, pipe: &'t PipeNode) -> Res<Value> {
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
