//! The lexer's states inside an action: spaces, identifiers, fields, variables, characters, numbers, strings.

use super::{
    ItemType, Lexer, RIGHT_DELIM, State, TRIM_MARKER_LEN, format_opt_rune_u, format_rune_u,
    has_right_trim_marker, is_alpha_numeric, is_space, keyword,
};
use crate::fmt::quote_str;

impl<'a> Lexer<'a> {
    pub(super) fn lex_inside_action(&mut self) -> Option<State> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Some(State::RightDelim);
            }
            return self.errorf("unclosed left paren".to_string());
        }
        let Some(r) = self.next() else {
            return self.errorf("unclosed action".to_string());
        };
        match r {
            r if is_space(r) => {
                self.backup();
                Some(State::Space)
            }
            '=' => self.emit(ItemType::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".to_string());
                }
                self.emit(ItemType::Declare)
            }
            '|' => self.emit(ItemType::Pipe),
            '"' => Some(State::Quote),
            '`' => Some(State::RawQuote),
            '$' => Some(State::Variable),
            '\'' => Some(State::Char),
            '.' => {
                // Special look-ahead for ".field" so we don't break backup().
                if let Some(&b) = self.input.as_bytes().get(self.pos) {
                    if !b.is_ascii_digit() {
                        return Some(State::Field);
                    }
                }
                self.backup();
                Some(State::Number)
            }
            '+' | '-' | '0'..='9' => {
                self.backup();
                Some(State::Number)
            }
            r if is_alpha_numeric(r) => {
                self.backup();
                Some(State::Identifier)
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(ItemType::LeftParen)
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren".to_string());
                }
                self.emit(ItemType::RightParen)
            }
            r if r.is_ascii() && (' '..='~').contains(&r) => self.emit(ItemType::Char),
            r => self.errorf(format!(
                "unrecognized character in action: {}",
                format_rune_u(r)
            )),
        }
    }

    pub(super) fn lex_space(&mut self) -> Option<State> {
        let mut num_spaces = 0;
        while let Some(r) = self.peek() {
            if !is_space(r) {
                break;
            }
            self.next();
            num_spaces += 1;
        }
        // Be careful about a trim-marked closing delimiter, which has a minus
        // after a space.
        let from = self.pos.saturating_sub(1);
        let tail = self.input.get(from..).unwrap_or("");
        if has_right_trim_marker(tail)
            && tail
                .get(TRIM_MARKER_LEN..)
                .is_some_and(|r| r.starts_with(RIGHT_DELIM))
        {
            self.backup();
            if num_spaces == 1 {
                return Some(State::RightDelim);
            }
        }
        self.emit(ItemType::Space)
    }

    pub(super) fn lex_identifier(&mut self) -> Option<State> {
        loop {
            match self.next() {
                Some(r) if is_alpha_numeric(r) => {}
                r => {
                    if r.is_some() {
                        self.backup();
                    }
                    let word = self.slice(self.start, self.pos);
                    if !self.at_terminator() {
                        let bad = self.peek();
                        return self.errorf(format!("bad character {}", format_opt_rune_u(bad)));
                    }
                    if let Some(k) = keyword(word) {
                        if (k == ItemType::Break && !self.break_ok)
                            || (k == ItemType::Continue && !self.continue_ok)
                        {
                            return self.emit(ItemType::Identifier);
                        }
                        return self.emit(k);
                    }
                    if word.starts_with('.') {
                        return self.emit(ItemType::Field);
                    }
                    if word == "true" || word == "false" {
                        return self.emit(ItemType::Bool);
                    }
                    return self.emit(ItemType::Identifier);
                }
            }
        }
    }

    pub(super) fn lex_variable(&mut self) -> Option<State> {
        if self.at_terminator() {
            return self.emit(ItemType::Variable);
        }
        self.lex_field_or_variable(ItemType::Variable)
    }

    pub(super) fn lex_field_or_variable(&mut self, typ: ItemType) -> Option<State> {
        if self.at_terminator() {
            if typ == ItemType::Variable {
                return self.emit(ItemType::Variable);
            }
            return self.emit(ItemType::Dot);
        }
        loop {
            match self.next() {
                Some(r) if is_alpha_numeric(r) => {}
                Some(_) => {
                    self.backup();
                    break;
                }
                None => break,
            }
        }
        if !self.at_terminator() {
            let bad = self.peek();
            return self.errorf(format!("bad character {}", format_opt_rune_u(bad)));
        }
        self.emit(typ)
    }

    fn at_terminator(&mut self) -> bool {
        match self.peek() {
            None => true,
            Some(r) if is_space(r) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with(RIGHT_DELIM),
        }
    }

    pub(super) fn lex_char(&mut self) -> Option<State> {
        self.lex_escaped(
            '\'',
            "unterminated character constant",
            ItemType::CharConstant,
        )
    }

    /// A quoted token with backslash escapes that ends at `close` on the same line.
    fn lex_escaped(&mut self, close: char, unterminated: &str, item: ItemType) -> Option<State> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(r) if r != '\n' => {}
                    _ => return self.errorf(unterminated.to_string()),
                },
                None | Some('\n') => return self.errorf(unterminated.to_string()),
                Some(c) if c == close => break,
                Some(_) => {}
            }
        }
        self.emit(item)
    }

    pub(super) fn lex_number(&mut self) -> Option<State> {
        if !self.scan_number() {
            let text = self.slice(self.start, self.pos).to_string();
            return self.errorf(format!("bad number syntax: {}", quote_str(&text, false)));
        }
        if let Some('+' | '-') = self.peek() {
            // Complex: 1+2i. No spaces, must end in 'i'.
            if !self.scan_number() || !self.slice(self.start, self.pos).ends_with('i') {
                let text = self.slice(self.start, self.pos).to_string();
                return self.errorf(format!("bad number syntax: {}", quote_str(&text, false)));
            }
            return self.emit(ItemType::Complex);
        }
        self.emit(ItemType::Number)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 10 + 1 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 16 + 6 + 1 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if let Some(r) = self.peek() {
            if is_alpha_numeric(r) {
                self.next();
                return false;
            }
        }
        true
    }

    pub(super) fn lex_quote(&mut self) -> Option<State> {
        self.lex_escaped('"', "unterminated quoted string", ItemType::String)
    }

    pub(super) fn lex_raw_quote(&mut self) -> Option<State> {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string".to_string()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemType::RawString)
    }
}
