//! DSP0266 "$filter": which members of a collection a client wants, as an
//! expression over each member's properties (`Status/Health eq 'OK' and
//! ReadingType eq 'Temperature'`). Parsing and evaluating are pure
//! functions here; reading the members is the handler's (each member's own
//! GET, the one code path).
//!
//! The grammar is the specification's: the comparisons `eq`, `ne`, `gt`,
//! `ge`, `lt`, `le`, the logical `and`, `or`, `not`, and `( )` to group,
//! with OData's precedence (grouping, `not`, the order comparisons, the
//! equality ones, `and`, `or`). Operands are property paths (`/` between
//! levels) or literals: strings in single quotes (`''` is one quote),
//! numbers, `true`, `false` and `null`. A property a member does not have
//! is `null`, so it matches `eq null` and no order comparison; values of
//! different types are never equal, and are not ordered.

use std::cmp::Ordering;

use http::StatusCode;
use serde_json::Value;

use crate::answer::{BaseMessage, RedfishError};

/// Longest expression taken: every member of a collection is checked
/// against it, so its size bounds a request's work with the collection's.
pub(crate) const MAX_CHARS: usize = 1024;
/// Deepest nesting of `( )` and `not`: the parser recurses once per level.
const MAX_DEPTH: usize = 32;

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Op, Operand),
    /// An operand on its own: a boolean property or `true`/`false`.
    Truth(Operand),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// `Status/Health` is `["Status", "Health"]`.
    Path(Vec<String>),
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Expr {
    /// Whether `member` (a resource's JSON) is one the client asked for.
    pub fn matches(&self, member: &Value) -> bool {
        match self {
            Expr::Or(a, b) => a.matches(member) || b.matches(member),
            Expr::And(a, b) => a.matches(member) && b.matches(member),
            Expr::Not(a) => !a.matches(member),
            Expr::Compare(l, op, r) => compare(l.value(member), *op, r.value(member)),
            Expr::Truth(x) => x.value(member) == &Value::Bool(true),
        }
    }
}

const NULL: Value = Value::Null;

impl Operand {
    fn value<'a>(&'a self, member: &'a Value) -> &'a Value {
        match self {
            Operand::Literal(v) => v,
            Operand::Path(path) => path
                .iter()
                .try_fold(member, |v, name| v.get(name))
                .unwrap_or(&NULL),
        }
    }
}

fn compare(l: &Value, op: Op, r: &Value) -> bool {
    let order = match (l, r) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match op {
        Op::Eq => order.map_or(l == r, Ordering::is_eq),
        Op::Ne => order.map_or(l != r, Ordering::is_ne),
        Op::Gt => order.is_some_and(Ordering::is_gt),
        Op::Ge => order.is_some_and(Ordering::is_ge),
        Op::Lt => order.is_some_and(Ordering::is_lt),
        Op::Le => order.is_some_and(Ordering::is_le),
    }
}

/// Parses a decoded `$filter` value; anything malformed (or longer than
/// [`MAX_CHARS`], or nested deeper than the parser goes) is a 400
/// `QueryParameterValueFormatError` naming it.
pub(crate) fn parse(text: &str) -> Result<Expr, RedfishError> {
    let bad = || {
        let shown: String = text.chars().take(64).collect();
        RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::QueryParameterValueFormatError,
            &[&shown, "$filter"],
        )
    };
    if text.chars().count() > MAX_CHARS {
        return Err(bad());
    }
    let tokens = lex(text).ok_or_else(bad)?;
    let mut p = Parser { tokens, at: 0 };
    let e = p.or(0).ok_or_else(bad)?;
    if p.at != p.tokens.len() {
        return Err(bad());
    }
    Ok(e)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Literal(Value),
}

fn lex(text: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                out.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        '\'' => break,
                        ch => s.push(ch),
                    }
                }
                out.push(Token::Literal(Value::String(s)));
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if matches!(ch, ' ' | '\t' | '(' | ')' | '\'') {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                }
                out.push(word_token(word)?);
            }
        }
    }
    Some(out)
}

/// A number, `true`/`false`/`null`, an operator or a property path.
fn word_token(word: String) -> Option<Token> {
    let first = word.chars().next()?;
    if first.is_ascii_digit() || first == '-' {
        let ok = word
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-+.eE".contains(&b));
        if !ok {
            return None;
        }
        let n: Value = serde_json::from_str(&word).ok()?;
        return n.is_number().then_some(Token::Literal(n));
    }
    Some(match word.as_str() {
        "true" => Token::Literal(Value::Bool(true)),
        "false" => Token::Literal(Value::Bool(false)),
        "null" => Token::Literal(Value::Null),
        _ => Token::Word(word),
    })
}

fn op(word: &str) -> Option<Op> {
    Some(match word {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        "lt" => Op::Lt,
        "le" => Op::Le,
        _ => return None,
    })
}

const KEYWORDS: [&str; 9] = ["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not"];

/// A property path: names of letters, digits and `_@.#`, `/` between them.
fn path(word: &str) -> Option<Vec<String>> {
    if KEYWORDS.contains(&word) {
        return None;
    }
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@._#".contains(&b))
    };
    let names: Vec<String> = word.split('/').map(str::to_string).collect();
    names.iter().all(|n| name_ok(n)).then_some(names)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(x)) if x == w)
    }

    fn or(&mut self, depth: usize) -> Option<Expr> {
        let mut e = self.and(depth)?;
        while self.peek_word("or") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and(depth)?));
        }
        Some(e)
    }

    fn and(&mut self, depth: usize) -> Option<Expr> {
        let mut e = self.unary(depth)?;
        while self.peek_word("and") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.unary(depth)?));
        }
        Some(e)
    }

    /// `not` binds tighter than the comparisons' results are combined, but
    /// applies to a whole comparison (`not Id eq 'a'` is `not (Id eq 'a')`).
    fn unary(&mut self, depth: usize) -> Option<Expr> {
        if depth >= MAX_DEPTH {
            return None;
        }
        if self.peek_word("not") {
            self.at += 1;
            return Some(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        self.equality(depth)
    }

    /// One comparison of two operands (or an operand alone). A chain is
    /// malformed (`a eq b eq c` would compare a truth value), so the
    /// precedence OData gives the order comparisons over `eq`/`ne` never
    /// has two of them to choose between.
    fn equality(&mut self, depth: usize) -> Option<Expr> {
        let left = self.primary(depth)?;
        let Some(Token::Word(w)) = self.tokens.get(self.at) else {
            return Some(truth(left));
        };
        let Some(o) = op(w) else {
            return Some(truth(left));
        };
        self.at += 1;
        let Exprish::Operand(l) = left else {
            return None;
        };
        let Exprish::Operand(r) = self.primary(depth)? else {
            return None;
        };
        if let Some(Token::Word(w)) = self.tokens.get(self.at) {
            if op(w).is_some() {
                return None;
            }
        }
        Some(Expr::Compare(l, o, r))
    }

    fn primary(&mut self, depth: usize) -> Option<Exprish> {
        let t = self.tokens.get(self.at)?.clone();
        self.at += 1;
        match t {
            Token::Open => {
                let e = self.or(depth + 1)?;
                (self.tokens.get(self.at) == Some(&Token::Close)).then(|| {
                    self.at += 1;
                    Exprish::Group(e)
                })
            }
            Token::Close => None,
            Token::Literal(v) => Some(Exprish::Operand(Operand::Literal(v))),
            Token::Word(w) => path(&w).map(|p| Exprish::Operand(Operand::Path(p))),
        }
    }
}

/// What `primary` read: a parenthesised expression or an operand (which a
/// comparison may follow).
enum Exprish {
    Group(Expr),
    Operand(Operand),
}

fn truth(x: Exprish) -> Expr {
    match x {
        Exprish::Group(e) => e,
        Exprish::Operand(o) => Expr::Truth(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(filter: &str, v: &Value) -> bool {
        parse(filter).unwrap().matches(v)
    }

    fn sensor() -> Value {
        json!({
            "Id": "0001-02",
            "Name": "Bob's sensor",
            "ReadingType": "Temperature",
            "Reading": 27.5,
            "ReadingRangeMax": 100,
            "Enabled": true,
            "Status": { "State": "Enabled", "Health": "OK" },
            "PhysicalContext": null,
        })
    }

    #[test]
    fn comparisons_of_each_type() {
        let s = sensor();
        assert!(m("ReadingType eq 'Temperature'", &s));
        assert!(!m("ReadingType eq 'Voltage'", &s));
        assert!(m("ReadingType ne 'Voltage'", &s));
        assert!(m("Reading gt 27", &s));
        assert!(m("Reading ge 27.5", &s));
        assert!(!m("Reading lt 27.5", &s));
        assert!(m("Reading le 2.75e1", &s));
        assert!(m("ReadingRangeMax eq 100.0", &s), "numbers by value");
        assert!(m("Reading gt -40", &s));
        assert!(m("Status/Health eq 'OK'", &s));
        assert!(m("Id gt '0001-01'", &s), "strings in order");
        assert!(m("Name eq 'Bob''s sensor'", &s), "'' is one quote");
        assert!(m("Enabled eq true", &s));
        assert!(m("Enabled", &s), "a boolean property on its own");
        assert!(!m("Status/Health", &s), "not a boolean: no match");
        assert!(m("'OK' eq Status/Health", &s), "literal on the left");
    }

    #[test]
    fn missing_properties_and_mixed_types() {
        let s = sensor();
        assert!(m("Absent eq null", &s));
        assert!(m("PhysicalContext eq null", &s));
        assert!(!m("Absent ne null", &s));
        assert!(m("Reading ne null", &s));
        assert!(!m("Absent gt 1", &s));
        assert!(!m("Absent lt 1", &s));
        assert!(!m("Status/Missing/Deeper eq 'x'", &s));
        assert!(!m("Reading eq '27.5'", &s), "a string is not a number");
        assert!(m("Reading ne '27.5'", &s));
        assert!(!m("Reading gt '1'", &s), "different types are not ordered");
        assert!(!m("Enabled gt false", &s), "booleans are not ordered");
        assert!(!m("Status eq 'OK'", &s), "an object equals no literal");
    }

    #[test]
    fn precedence_and_grouping() {
        let s = sensor();
        // `and` binds tighter than `or`.
        assert!(m("Id eq 'x' and Id eq 'y' or Reading gt 1", &s));
        assert!(!m("Id eq 'x' and (Id eq 'y' or Reading gt 1)", &s));
        assert!(m("not ReadingType eq 'Voltage'", &s));
        assert!(!m("not (ReadingType eq 'Temperature' or Id eq 'x')", &s));
        assert!(m("not not Enabled", &s));
        assert!(m(
            "(Status/State eq 'Enabled' and Status/Health eq 'OK') or ReadingType eq 'Voltage'",
            &s
        ));
        assert!(m("((((Reading gt 1))))", &s));
        assert!(m("  Reading   gt\t1 ", &s));
        assert_eq!(
            parse("not a eq 1 or b").unwrap(),
            Expr::Or(
                Box::new(Expr::Not(Box::new(Expr::Compare(
                    Operand::Path(vec!["a".into()]),
                    Op::Eq,
                    Operand::Literal(json!(1))
                )))),
                Box::new(Expr::Truth(Operand::Path(vec!["b".into()])))
            )
        );
    }

    #[test]
    fn malformed_expressions_are_400s() {
        let deep = format!("{}Enabled{}", "(".repeat(40), ")".repeat(40));
        let long = format!("Id eq '{}'", "x".repeat(MAX_CHARS));
        for bad in [
            "",
            "   ",
            "Id eq",
            "eq 'x'",
            "Id eq 'x",
            "Id == 'x'",
            "Id eq 'x' and",
            "Id eq 'x' or or Id eq 'y'",
            "(Id eq 'x'",
            "Id eq 'x')",
            "()",
            "Id eq 'a' eq 'b'",
            "(Id eq 'a') eq true",
            "Id eq 1x",
            "Id eq 1.2.3",
            "Id eq --1",
            "Status//Health eq 'OK'",
            "Id/ eq 'x'",
            "Id EQ 'x'",
            "Id eq 'x' Name",
            "Id in ('a', 'b')",
            "contains(Id,'a')",
            "not",
            deep.as_str(),
            long.as_str(),
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(
                e.body()["error"]["code"],
                "Base.1.22.QueryParameterValueFormatError",
                "{bad}"
            );
        }
        // Just inside the limits.
        let nested = format!("{}Enabled{}", "(".repeat(30), ")".repeat(30));
        assert!(m(&nested, &sensor()));
    }
}
