//! Parsing inside an action: pipelines, commands, operands and terms.

use super::{PResult, ParseFailure, Parser};
use crate::MAX_NESTING_DEPTH;
use crate::fmt::quote_str;
use crate::lex::ItemType;
use crate::node::{Arg, CommandNode, GoString, PipeNode, Pos, VariableNode};
use crate::number;
use crate::table;

impl<'a> Parser<'a> {
    pub(super) fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<PipeNode> {
        let token = self.peek_non_space();
        let mut pipe = PipeNode {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Are there declarations or assignments?
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break 'decls;
            }
            self.next();
            // Since space is a token, we need 3-token look-ahead here in the
            // worst case: in "$x foo" we need to read "foo" (as opposed to
            // ":=") to know that $x is an argument variable rather than a
            // declaration.
            let token_after_variable = self.peek();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                pipe.decl.push(new_variable(v.pos, &v.val));
                self.vars.push(v.val.clone());
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(new_variable(v.pos, &v.val));
                self.vars.push(v.val.clone());
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            // Second initialized variable in a range pipeline.
                            continue 'decls;
                        }
                        _ => return self.errorf("range can only initialize variables"),
                    }
                }
                return self.errorf(format!("too many declarations in {context}"));
            } else if token_after_variable.typ == ItemType::Space {
                self.backup3(v, token_after_variable);
            } else {
                self.backup2(v);
            }
            break 'decls;
        }
        loop {
            let token = self.next_non_space();
            match token.typ {
                t if t == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &PipeNode, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if c.args.first().is_some_and(Arg::is_non_executable) {
                return self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<CommandNode> {
        let pos = self.peek_non_space().pos;
        let mut cmd = CommandNode {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space(); // skip leading spaces.
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.errorf("empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ == ItemType::Field {
            let chain_pos = self.peek().pos;
            let mut fields = Vec::new();
            while self.peek().typ == ItemType::Field {
                let f = self.next();
                fields.push(f.val.get(1..).unwrap_or("").to_string());
            }
            return match node {
                Arg::Field { mut ident, .. } => {
                    ident.extend(fields);
                    Ok(Some(Arg::Field {
                        pos: chain_pos,
                        ident,
                    }))
                }
                Arg::Variable(mut v) => {
                    v.ident.extend(fields);
                    v.pos = chain_pos;
                    Ok(Some(Arg::Variable(v)))
                }
                Arg::Bool { .. }
                | Arg::String { .. }
                | Arg::Number(_)
                | Arg::Nil { .. }
                | Arg::Dot { .. } => self.errorf(format!(
                    "unexpected . after term {}",
                    quote_str(&node.to_go_string(), false)
                )),
                other => Ok(Some(Arg::Chain {
                    pos: chain_pos,
                    node: Box::new(other),
                    field: fields,
                })),
            };
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Identifier => match table::lookup(&token.val) {
                Some(func) => Ok(Some(Arg::Identifier {
                    pos: token.pos,
                    name: token.val,
                    func,
                })),
                None => Err((self.token[0].line, ParseFailure::UnknownFunction(token.val))),
            },
            ItemType::Dot => Ok(Some(Arg::Dot { pos: token.pos })),
            ItemType::Nil => Ok(Some(Arg::Nil { pos: token.pos })),
            ItemType::Variable => self.use_var(token.pos, &token.val).map(Some),
            ItemType::Field => Ok(Some(Arg::Field {
                pos: token.pos,
                ident: token
                    .val
                    .get(1..)
                    .unwrap_or("")
                    .split('.')
                    .map(str::to_string)
                    .collect(),
            })),
            ItemType::Bool => Ok(Some(Arg::Bool {
                pos: token.pos,
                val: token.val == "true",
            })),
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                match number::new_number(token.pos, &token.val, token.typ) {
                    Ok(n) => Ok(Some(Arg::Number(n))),
                    Err(e) => self.errorf(e),
                }
            }
            ItemType::LeftParen => {
                if self.depth >= MAX_NESTING_DEPTH {
                    return self.errorf("max expression depth exceeded");
                }
                self.depth += 1;
                let r = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.depth -= 1;
                Ok(Some(Arg::Pipe(Box::new(r?))))
            }
            ItemType::String | ItemType::RawString => match number::unquote(&token.val) {
                Ok(s) => Ok(Some(Arg::String {
                    pos: token.pos,
                    quoted: token.val,
                    text: s,
                })),
                Err(e) => self.errorf(e),
            },
            _ => {
                self.backup();
                Ok(None)
            }
        }
    }

    fn use_var(&self, pos: Pos, name: &str) -> PResult<Arg> {
        let v = new_variable(pos, name);
        let first = v.ident.first().cloned().unwrap_or_default();
        if self.vars.contains(&first) {
            return Ok(Arg::Variable(v));
        }
        self.errorf(format!("undefined variable {}", quote_str(&first, false)))
    }
}

fn new_variable(pos: Pos, ident: &str) -> VariableNode {
    VariableNode {
        pos,
        ident: ident.split('.').map(str::to_string).collect(),
    }
}
