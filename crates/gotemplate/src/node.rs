//! Parse-tree node types of Go's `text/template/parse`, and how each prints itself in messages.

use crate::call::FuncDef;
use crate::fmt::quote_str;

pub(crate) type Pos = usize;

/// Go's `Node.String()`: how a node prints itself in messages. Each node type writes itself
/// into a buffer; `to_go_string` collects that.
pub(crate) trait GoString {
    fn write_to(&self, sb: &mut String);

    fn to_go_string(&self) -> String {
        let mut s = String::new();
        self.write_to(&mut s);
        s
    }
}

/// Writes `items` separated by `sep`.
fn write_joined<T>(sb: &mut String, items: &[T], sep: &str, write: impl Fn(&T, &mut String)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            sb.push_str(sep);
        }
        write(item, sb);
    }
}

#[derive(Debug)]
pub(crate) struct ListNode {
    pub nodes: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    Text {
        pos: Pos,
        text: String,
    },
    Action {
        pos: Pos,
        pipe: PipeNode,
    },
    If(BranchNode),
    Range(BranchNode),
    With(BranchNode),
    Template {
        pos: Pos,
        name: String,
        pipe: Option<PipeNode>,
    },
    Break {
        pos: Pos,
    },
    Continue {
        pos: Pos,
    },
}

#[derive(Debug)]
pub(crate) struct BranchNode {
    pub pos: Pos,
    pub pipe: PipeNode,
    pub list: ListNode,
    pub else_list: Option<ListNode>,
}

#[derive(Debug)]
pub(crate) struct PipeNode {
    pub pos: Pos,
    pub is_assign: bool,
    pub decl: Vec<VariableNode>,
    pub cmds: Vec<CommandNode>,
}

#[derive(Debug, Clone)]
pub(crate) struct VariableNode {
    pub pos: Pos,
    pub ident: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct CommandNode {
    pub pos: Pos,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) struct NumberNode {
    pub pos: Pos,
    pub text: String,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub int64: i64,
    pub float64: f64,
}

#[derive(Debug)]
pub(crate) enum Arg {
    Field {
        pos: Pos,
        ident: Vec<String>,
    },
    Variable(VariableNode),
    Chain {
        pos: Pos,
        node: Box<Arg>,
        field: Vec<String>,
    },
    Identifier {
        pos: Pos,
        name: String,
        func: &'static FuncDef,
    },
    Dot {
        pos: Pos,
    },
    Nil {
        pos: Pos,
    },
    Bool {
        pos: Pos,
        val: bool,
    },
    Number(NumberNode),
    String {
        pos: Pos,
        quoted: String,
        text: String,
    },
    Pipe(Box<PipeNode>),
}

impl Arg {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Variable(v) => v.pos,
            Arg::Number(n) => n.pos,
            Arg::Pipe(p) => p.pos,
        }
    }

    /// An operand of a command or a chain: a pipeline is written in parentheses.
    fn write_operand(&self, sb: &mut String) {
        if let Arg::Pipe(p) = self {
            sb.push('(');
            p.write_to(sb);
            sb.push(')');
        } else {
            self.write_to(sb);
        }
    }

    pub(crate) fn is_non_executable(&self) -> bool {
        matches!(
            self,
            Arg::Bool { .. }
                | Arg::Dot { .. }
                | Arg::Nil { .. }
                | Arg::Number(_)
                | Arg::String { .. }
        )
    }
}

/// Go's `Node.String()` for operands.
impl GoString for Arg {
    fn write_to(&self, sb: &mut String) {
        match self {
            Arg::Field { ident, .. } => {
                for id in ident {
                    sb.push('.');
                    sb.push_str(id);
                }
            }
            Arg::Variable(v) => v.write_to(sb),
            Arg::Chain { node, field, .. } => {
                node.write_operand(sb);
                for f in field {
                    sb.push('.');
                    sb.push_str(f);
                }
            }
            Arg::Identifier { name, .. } => sb.push_str(name),
            Arg::Dot { .. } => sb.push('.'),
            Arg::Nil { .. } => sb.push_str("nil"),
            Arg::Bool { val, .. } => sb.push_str(if *val { "true" } else { "false" }),
            Arg::Number(n) => sb.push_str(&n.text),
            Arg::String { quoted, .. } => sb.push_str(quoted),
            Arg::Pipe(p) => p.write_to(sb),
        }
    }
}

impl GoString for VariableNode {
    fn write_to(&self, sb: &mut String) {
        sb.push_str(&self.ident.join("."));
    }
}

impl GoString for CommandNode {
    fn write_to(&self, sb: &mut String) {
        write_joined(sb, &self.args, " ", Arg::write_operand);
    }
}

impl GoString for PipeNode {
    fn write_to(&self, sb: &mut String) {
        if !self.decl.is_empty() {
            write_joined(sb, &self.decl, ", ", VariableNode::write_to);
            sb.push_str(if self.is_assign { " = " } else { " := " });
        }
        write_joined(sb, &self.cmds, " | ", CommandNode::write_to);
    }
}

impl GoString for ListNode {
    fn write_to(&self, sb: &mut String) {
        for n in &self.nodes {
            n.write_to(sb);
        }
    }
}

impl GoString for Node {
    fn write_to(&self, sb: &mut String) {
        match self {
            Node::Text { text, .. } => sb.push_str(text),
            Node::Action { pipe, .. } => {
                sb.push_str("{{");
                pipe.write_to(sb);
                sb.push_str("}}");
            }
            Node::If(b) => b.write_to("if", sb),
            Node::Range(b) => b.write_to("range", sb),
            Node::With(b) => b.write_to("with", sb),
            Node::Template { name, pipe, .. } => {
                sb.push_str("{{template ");
                sb.push_str(&quote_str(name, false));
                if let Some(p) = pipe {
                    sb.push(' ');
                    p.write_to(sb);
                }
                sb.push_str("}}");
            }
            Node::Break { .. } => sb.push_str("{{break}}"),
            Node::Continue { .. } => sb.push_str("{{continue}}"),
        }
    }
}

impl BranchNode {
    fn write_to(&self, name: &str, sb: &mut String) {
        sb.push_str("{{");
        sb.push_str(name);
        sb.push(' ');
        self.pipe.write_to(sb);
        sb.push_str("}}");
        self.list.write_to(sb);
        if let Some(e) = &self.else_list {
            sb.push_str("{{else}}");
            e.write_to(sb);
        }
        sb.push_str("{{end}}");
    }
}
