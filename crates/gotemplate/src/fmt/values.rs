//! Printing values as `%v` does: nil forms, lists, maps, nested values and `%!verb(...)` errors.

use crate::budget::Exceeded;
use crate::value::{ElemType, Value, type_name};

use super::{Printer, Sign};

impl Printer<'_> {
    /// Go's `printArg` for a top-level operand.
    pub(super) fn print_arg(&mut self, arg: &Value, verb: char) -> Result<(), Exceeded> {
        if arg.is_nilish() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, arg),
            }
            return Ok(());
        }
        match verb {
            'T' => {
                let t = type_name(arg).to_string();
                self.fmt_s(&t);
                return Ok(());
            }
            'p' => {
                self.bad_verb(verb, arg);
                return Ok(());
            }
            _ => {}
        }
        self.print_value(arg, verb, 0)
    }

    pub(super) fn print_value(
        &mut self,
        v: &Value,
        verb: char,
        depth: usize,
    ) -> Result<(), Exceeded> {
        self.heap.meter.check_depth(depth)?;
        self.heap.meter.step(1)?;
        self.check()?;
        match v {
            Value::Invalid | Value::Nil => {
                if depth == 0 {
                    self.pad("<nil>");
                } else if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, v),
            Value::Int(i) | Value::Int64(i) => self.fmt_int_verb(*i, Sign::Signed, verb, v),
            Value::Uint8(b) => self.fmt_int_verb(i64::from(*b), Sign::Unsigned, verb, v),
            Value::Float(f) => self.fmt_float(*f, verb, v),
            Value::Str(s) => self.fmt_string(s, verb, v),
            Value::List(l) => {
                // `%#v` writes the type and `{a, b}` (Go syntax), the other verbs `[a b]`.
                let (open, sep, close) = if self.f.sharp_v {
                    self.buf.push_str(type_name(v));
                    if l.is_nil {
                        self.buf.push_str("(nil)");
                        return Ok(());
                    }
                    ('{', ", ", '}')
                } else {
                    ('[', " ", ']')
                };
                self.buf.push(open);
                for (i, item) in l.items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(sep);
                    }
                    self.print_elem(item, l.elem == ElemType::Any, verb, depth + 1)?;
                }
                self.buf.push(close);
            }
            Value::Map(id) => {
                let entries = self.heap.entries(*id);
                let is_nil = self.heap.map_is_nil(*id);
                self.print_map(
                    v,
                    is_nil,
                    entries.into_iter().map(|(k, v)| (k, v, true)).collect(),
                    verb,
                    depth,
                )?;
            }
            Value::StrMap(m) => {
                let entries = m
                    .iter()
                    .map(|(k, s)| (k.clone(), Value::str(s.as_str()), false))
                    .collect();
                self.print_map(v, false, entries, verb, depth)?;
            }
        }
        Ok(())
    }

    fn print_elem(
        &mut self,
        item: &Value,
        in_interface: bool,
        verb: char,
        depth: usize,
    ) -> Result<(), Exceeded> {
        if in_interface && item.is_nilish() {
            if self.f.sharp_v {
                self.buf.push_str("interface {}(nil)");
            } else {
                self.buf.push_str("<nil>");
            }
            return Ok(());
        }
        self.print_value(item, verb, depth)
    }

    fn print_map(
        &mut self,
        v: &Value,
        is_nil: bool,
        entries: Vec<(String, Value, bool)>,
        verb: char,
        depth: usize,
    ) -> Result<(), Exceeded> {
        if self.f.sharp_v {
            self.buf.push_str(type_name(v));
            if is_nil {
                self.buf.push_str("(nil)");
                return Ok(());
            }
            self.buf.push('{');
        } else {
            self.buf.push_str("map[");
        }
        for (i, (k, item, in_interface)) in entries.iter().enumerate() {
            if i > 0 {
                if self.f.sharp_v {
                    self.buf.push_str(", ");
                } else {
                    self.buf.push(' ');
                }
            }
            self.print_value(&Value::str(k.as_str()), verb, depth + 1)?;
            self.buf.push(':');
            self.print_elem(item, *in_interface, verb, depth + 1)?;
        }
        self.buf.push(if self.f.sharp_v { '}' } else { ']' });
        Ok(())
    }
}
