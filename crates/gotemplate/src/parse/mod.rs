//! Parser and parse tree: a port of Go's `text/template/parse` package.

mod pipeline;

use std::collections::BTreeMap;

use super::MAX_NESTING_DEPTH;
use super::TemplateError;
use super::fmt::quote_str;
use super::lex::{Item, ItemType, Lexer};
use super::node::{BranchNode, GoString, ListNode, Node, Pos};
use super::number;
use super::table;

/// Go's `IsEmptyTree`.
fn is_empty_list(list: &ListNode) -> bool {
    list.nodes.iter().all(|n| match n {
        Node::Text { text, .. } => text.trim_matches(|c: char| c.is_whitespace()).is_empty(),
        _ => false,
    })
}

/// Result of `textOrAction`/`action`: a real node or one of the
/// structural markers that terminate an item list.
enum Parsed {
    Node(Node),
    Else,
    End,
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_go_string(),
            Parsed::Else => "{{else}}".to_string(),
            Parsed::End => "{{end}}".to_string(),
        }
    }
}

/// A parse failure: either a plain message or an unknown function.
pub(crate) enum ParseFailure {
    Message(String),
    UnknownFunction(String),
}

type PResult<T> = Result<T, (usize, ParseFailure)>;

pub(crate) struct Parser<'a> {
    parse_name: String,
    lex: Lexer<'a>,
    token: [Item; 3],
    peek_count: usize,
    vars: Vec<String>,
    action_line: usize,
    range_depth: usize,
    depth: usize,
    pub trees: BTreeMap<String, ListNode>,
}

fn eof_item() -> Item {
    Item {
        typ: ItemType::Eof,
        pos: 0,
        val: String::new(),
        line: 1,
    }
}

/// Parses `text` as template `name`, returning the set of named trees
/// (the top-level one plus any `define`/`block` definitions).
pub(crate) fn parse(name: &str, text: &str) -> Result<BTreeMap<String, ListNode>, TemplateError> {
    let mut p = Parser {
        parse_name: name.to_string(),
        lex: Lexer::new(text),
        token: [eof_item(), eof_item(), eof_item()],
        peek_count: 0,
        vars: vec!["$".to_string()],
        action_line: 0,
        range_depth: 0,
        depth: 0,
        trees: BTreeMap::new(),
    };
    // No functions named "break"/"continue" exist, so both keywords are on.
    p.lex.break_ok = table::lookup("break").is_none();
    p.lex.continue_ok = table::lookup("continue").is_none();
    match p.parse_top() {
        Ok(root) => match p.add(name.to_string(), root) {
            Ok(()) => Ok(p.trees),
            Err(e) => Err(p.to_error(e)),
        },
        Err(e) => Err(p.to_error(e)),
    }
}

impl<'a> Parser<'a> {
    fn to_error(&self, (line, failure): (usize, ParseFailure)) -> TemplateError {
        match failure {
            ParseFailure::Message(message) => TemplateError::Parse {
                template: self.parse_name.clone(),
                line,
                message,
            },
            ParseFailure::UnknownFunction(function) => TemplateError::UnknownFunction {
                template: self.parse_name.clone(),
                line,
                function,
            },
        }
    }

    fn errorf<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err((self.token[0].line, ParseFailure::Message(msg.into())))
    }

    fn next(&mut self) -> Item {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex.next_item();
        }
        self.token[self.peek_count.min(2)].clone()
    }

    fn backup(&mut self) {
        self.peek_count = (self.peek_count + 1).min(3);
    }

    fn backup2(&mut self, t1: Item) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item {
        if self.peek_count > 0 {
            return self.token[(self.peek_count - 1).min(2)].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> PResult<Item> {
        let token = self.next_non_space();
        if token.typ != expected {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn unexpected<T>(&self, token: &Item, context: &str) -> PResult<T> {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{}{}", token.describe(), extra));
        }
        self.errorf(format!("unexpected {} in {}", token.describe(), context))
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING_DEPTH {
            return self.errorf(format!(
                "max nesting depth exceeded (limit {MAX_NESTING_DEPTH})"
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn add(&mut self, name: String, root: ListNode) -> PResult<()> {
        match self.trees.get(&name) {
            None => {
                self.trees.insert(name, root);
            }
            Some(existing) if is_empty_list(existing) => {
                self.trees.insert(name, root);
            }
            Some(_) => {
                if !is_empty_list(&root) {
                    return self.errorf(format!(
                        "template: multiple definition of template {}",
                        quote_str(&name, false)
                    ));
                }
            }
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<ListNode> {
        let mut root = ListNode { nodes: Vec::new() };
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                p @ (Parsed::Else | Parsed::End) => {
                    return self.errorf(format!("unexpected {}", p.describe()));
                }
                Parsed::Node(n) => root.nodes.push(n),
            }
        }
        Ok(root)
    }

    /// Runs `f` with a fresh variable scope, as Go does for a new `Tree`.
    fn with_fresh_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let r = f(self);
        self.vars = saved_vars;
        self.range_depth = saved_range;
        r
    }

    /// The body of a `define` or `block`: an item list in a fresh scope,
    /// which must end with `{{end}}`.
    fn definition_body(&mut self, context: &str) -> PResult<ListNode> {
        self.enter()?;
        let r = self.with_fresh_scope(|p| p.item_list());
        self.leave();
        let (list, end) = r?;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {}", end.describe(), context));
        }
        Ok(list)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        if token.typ != ItemType::String && token.typ != ItemType::RawString {
            return self.unexpected(&token, CONTEXT);
        }
        let name = match number::unquote(&token.val) {
            Ok(s) => s,
            Err(e) => return self.errorf(e),
        };
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let list = self.definition_body(CONTEXT)?;
        self.add(name, list)
    }

    fn item_list(&mut self) -> PResult<(ListNode, Parsed)> {
        let mut list = ListNode { nodes: Vec::new() };
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                other => return Ok((list, other)),
            }
        }
        self.errorf("unexpected EOF")
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                pos: token.pos,
                text: token.val,
            })),
            ItemType::LeftDelim => {
                self.action_line = token.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Block => return self.block_control(),
            ItemType::Break => return self.break_control(token.pos, true),
            ItemType::Continue => return self.break_control(token.pos, false),
            ItemType::Else => return self.else_control(),
            ItemType::End => return self.end_control(),
            ItemType::If => return self.branch_control("if").map(|b| Parsed::Node(Node::If(b))),
            ItemType::Range => {
                return self
                    .branch_control("range")
                    .map(|b| Parsed::Node(Node::Range(b)));
            }
            ItemType::Template => return self.template_control(),
            ItemType::With => {
                return self
                    .branch_control("with")
                    .map(|b| Parsed::Node(Node::With(b)));
            }
            _ => {}
        }
        self.backup();
        let token = self.peek();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action {
            pos: token.pos,
            pipe,
        }))
    }

    fn break_control(&mut self, pos: Pos, is_break: bool) -> PResult<Parsed> {
        let name = if is_break { "break" } else { "continue" };
        let token = self.next_non_space();
        if token.typ != ItemType::RightDelim {
            return self.unexpected(&token, &format!("{{{{{name}}}}}"));
        }
        if self.range_depth == 0 {
            return self.errorf(format!("{{{{{name}}}}} outside {{{{range}}}}"));
        }
        Ok(Parsed::Node(if is_break {
            Node::Break { pos }
        } else {
            Node::Continue { pos }
        }))
    }
}

impl<'a> Parser<'a> {
    fn parse_control(&mut self, context: &str) -> PResult<BranchNode> {
        let mark = self.vars.len();
        let r = self.parse_control_inner(context);
        self.vars.truncate(mark);
        r
    }

    fn parse_control_inner(&mut self, context: &str) -> PResult<BranchNode> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        match next {
            Parsed::End => {}
            Parsed::Else => {
                // Special case for "else if" and "else with": treat
                // {{if a}}_{{else if b}}_{{end}} as
                // {{if a}}_{{else}}{{if b}}_{{end}}{{end}}.
                if context == "if" && self.peek().typ == ItemType::If {
                    self.next();
                    let inner = self.branch_control("if")?;
                    else_list = Some(ListNode {
                        nodes: vec![Node::If(inner)],
                    });
                } else if context == "with" && self.peek().typ == ItemType::With {
                    self.next();
                    let inner = self.branch_control("with")?;
                    else_list = Some(ListNode {
                        nodes: vec![Node::With(inner)],
                    });
                } else {
                    let (list, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return self.errorf(format!("expected end; found {}", next.describe()));
                    }
                    else_list = Some(list);
                }
            }
            Parsed::Node(_) => return self.errorf("internal error: unexpected node"),
        }
        Ok(BranchNode {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn branch_control(&mut self, context: &str) -> PResult<BranchNode> {
        self.enter()?;
        let r = self.parse_control(context);
        self.leave();
        r
    }

    fn end_control(&mut self) -> PResult<Parsed> {
        self.expect(ItemType::RightDelim, "end")?;
        Ok(Parsed::End)
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        // "{{else if ..." and "{{else with ..." are treated as
        // "{{else}}{{if ..." and "{{else}}{{with ...".
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else);
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn block_control(&mut self) -> PResult<Parsed> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let list = self.definition_body(CONTEXT)?;
        self.add(name.clone(), list)?;
        Ok(Parsed::Node(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        }))
    }

    fn template_control(&mut self) -> PResult<Parsed> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Parsed::Node(Node::Template {
            pos: token.pos,
            name,
            pipe,
        }))
    }

    fn parse_template_name(&self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => match number::unquote(&token.val) {
                Ok(s) => Ok(s),
                Err(e) => self.errorf(e),
            },
            _ => self.unexpected(token, context),
        }
    }
}
