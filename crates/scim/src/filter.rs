//! The RFC 7644 §3.4.2.2 filter grammar, parsed by a small recursive-descent parser into
//! an AST. Precedence is `not` over `and` over `or`; keywords and attribute names are
//! case-insensitive. Hostile input is bounded: the text length, the nesting depth and
//! the number of comparisons are limited, so neither the parser nor the SQL built from
//! the AST can be made large.

use crate::{KNOWN_SCHEMAS, ScimError};
use serde_json::Value;

/// Longest filter accepted, in bytes.
pub const MAX_LEN: usize = 2048;
/// Deepest nesting of parentheses, `not` and brackets.
pub const MAX_DEPTH: usize = 12;
/// Most comparisons in one filter.
pub const MAX_TERMS: usize = 50;

/// An attribute path: `[schema:]attr[.sub]`, in the case it was written; compare with
/// [`AttrPath::is`] and friends, which ignore case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN when the path named one.
    pub schema: Option<String>,
    /// The attribute; empty when the path names a whole extension schema.
    pub attr: String,
    /// The sub-attribute, if any.
    pub sub: Option<String>,
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl AttrPath {
    /// Parses `[URN:]attr[.sub]`; `None` when it is not a valid path.
    pub fn parse(s: &str) -> Option<AttrPath> {
        let lower = s.to_ascii_lowercase();
        let mut schema = None;
        let mut rest = s;
        for known in KNOWN_SCHEMAS {
            let k = known.to_ascii_lowercase();
            if lower == k {
                return Some(AttrPath { schema: Some((*known).to_owned()), attr: String::new(), sub: None });
            }
            if lower.starts_with(&k) && lower.as_bytes().get(k.len()) == Some(&b':') {
                schema = Some((*known).to_owned());
                rest = &s[k.len() + 1..];
                break;
            }
        }
        if schema.is_none()
            && let Some((urn, r)) = s.rsplit_once(':')
        {
            if !urn.to_ascii_lowercase().starts_with("urn:") {
                return None;
            }
            schema = Some(urn.to_owned());
            rest = r;
        }
        let (attr, sub) = match rest.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        if !valid_name(attr) || sub.is_some_and(|b| !valid_name(b)) {
            return None;
        }
        Some(AttrPath { schema, attr: attr.to_owned(), sub: sub.map(str::to_owned) })
    }

    /// Whether the path is in a core schema (no URN, or the core User or Group URN).
    pub fn is_core(&self) -> bool {
        self.schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(crate::USER_SCHEMA) || s.eq_ignore_ascii_case(crate::GROUP_SCHEMA))
    }

    /// Whether the attribute is `name` (case-insensitively).
    pub fn is(&self, name: &str) -> bool {
        self.attr.eq_ignore_ascii_case(name)
    }

    /// The sub-attribute, lowercased.
    pub fn sub_lower(&self) -> Option<String> {
        self.sub.as_ref().map(|s| s.to_ascii_lowercase())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

impl CompareOp {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// A literal compared against.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// A JSON string.
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number, as written.
    Num(f64),
    /// `null`.
    Null,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`
    Compare {
        /// The attribute.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: CompValue,
    },
    /// `attr pr`
    Present(AttrPath),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`, whose
    /// paths are relative to that value.
    ValuePath {
        /// The multi-valued attribute.
        path: AttrPath,
        /// The condition on one of its values.
        filter: Box<Filter>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad("invalidFilter", detail)
}

fn tokenize(s: &str) -> Result<Vec<Token>, ScimError> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'[' => {
                out.push(Token::OpenBracket);
                i += 1;
            }
            b']' => {
                out.push(Token::CloseBracket);
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(invalid("An unterminated string in the filter.")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                let lit = &s[start..=i];
                let v: String =
                    serde_json::from_str(lit).map_err(|_| invalid("An invalid string literal in the filter."))?;
                out.push(Token::Str(v));
                i += 1;
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'[' | b']' | b'"')
                {
                    i += 1;
                }
                out.push(Token::Word(s[start..i].to_owned()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    terms: usize,
    in_value_path: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn descend(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid("The filter is nested too deeply."));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn group(&mut self) -> Result<Filter, ScimError> {
        if self.next() != Some(Token::Open) {
            return Err(invalid("Expected '(' in the filter."));
        }
        self.descend()?;
        let inner = self.or_expr()?;
        self.depth -= 1;
        if self.next() != Some(Token::Close) {
            return Err(invalid("Expected ')' in the filter."));
        }
        Ok(inner)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") && matches!(self.tokens.get(self.pos + 1), Some(Token::Open)) {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        if self.peek() == Some(&Token::Open) {
            return self.group();
        }
        self.attr_expr()
    }

    fn attr_expr(&mut self) -> Result<Filter, ScimError> {
        let Some(Token::Word(raw)) = self.next() else {
            return Err(invalid("Expected an attribute name in the filter."));
        };
        let path = AttrPath::parse(&raw).ok_or_else(|| invalid(format!("'{raw}' is not a valid attribute path.")))?;
        if path.attr.is_empty() {
            return Err(invalid("A filter must name an attribute, not a schema."));
        }
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(invalid("The filter has too many comparisons."));
        }
        if self.peek() == Some(&Token::OpenBracket) {
            if self.in_value_path {
                return Err(invalid("Value filters cannot be nested."));
            }
            if path.sub.is_some() {
                return Err(invalid("A value filter applies to a multi-valued attribute, not a sub-attribute."));
            }
            self.pos += 1;
            self.descend()?;
            self.in_value_path = true;
            let inner = self.or_expr()?;
            self.in_value_path = false;
            self.depth -= 1;
            if self.next() != Some(Token::CloseBracket) {
                return Err(invalid("Expected ']' in the filter."));
            }
            return Ok(Filter::ValuePath { path, filter: Box::new(inner) });
        }
        let Some(Token::Word(op)) = self.next() else {
            return Err(invalid(format!("Expected an operator after '{raw}'.")));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op).ok_or_else(|| invalid(format!("'{op}' is not a filter operator.")))?;
        let value = match self.next() {
            Some(Token::Str(s)) => CompValue::Str(s),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            Some(Token::Word(w)) => match w.parse::<f64>() {
                Ok(n) if n.is_finite() && w.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) => {
                    CompValue::Num(n)
                }
                _ => return Err(invalid(format!("'{w}' is not a valid filter value (strings are quoted)."))),
            },
            _ => return Err(invalid("Expected a value after the operator.")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// Parses a filter.
pub fn parse(s: &str) -> Result<Filter, ScimError> {
    if s.len() > MAX_LEN {
        return Err(invalid(format!("The filter is longer than {MAX_LEN} characters.")));
    }
    let tokens = tokenize(s)?;
    if tokens.is_empty() {
        return Err(invalid("The filter is empty."));
    }
    let mut p = Parser { tokens, pos: 0, depth: 0, terms: 0, in_value_path: false };
    let f = p.or_expr()?;
    if p.pos != p.tokens.len() {
        return Err(invalid("Unexpected text at the end of the filter."));
    }
    Ok(f)
}

/// Parses the inside of a value filter on its own (PATCH paths like `members[value eq "x"]`).
pub(crate) fn parse_value_filter(s: &str) -> Result<Filter, ScimError> {
    if s.len() > MAX_LEN {
        return Err(invalid("The value filter is too long."));
    }
    let tokens = tokenize(s)?;
    let mut p = Parser { tokens, pos: 0, depth: 1, terms: 0, in_value_path: true };
    let f = p.or_expr()?;
    if p.pos != p.tokens.len() {
        return Err(invalid("Unexpected text at the end of the value filter."));
    }
    Ok(f)
}

/// The value of `name` in a JSON object, matching the key case-insensitively.
pub fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn compare_one(actual: &Value, op: CompareOp, expected: &CompValue) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (actual, expected) {
        (Value::String(a), CompValue::Str(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => Some(a.cmp(&b)),
            }
        }
        (a, CompValue::Bool(b)) => as_bool(a).map(|a| a.cmp(b)),
        (Value::Number(a), CompValue::Num(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
        (Value::Null, CompValue::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Ne, None) => true,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

fn values_at<'a>(obj: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(v) = get_ci(obj, &path.attr) else { return Vec::new() };
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    match &path.sub {
        None => items,
        Some(sub) => items.into_iter().filter_map(|i| get_ci(i, sub)).collect(),
    }
}

/// Whether a JSON object (a resource, or one value of a multi-valued attribute) matches
/// `filter`. Used for PATCH value filters; list queries are evaluated by the database.
pub fn matches(filter: &Filter, obj: &Value) -> bool {
    match filter {
        Filter::Compare { path, op, value } => {
            let found = values_at(obj, path);
            if found.is_empty() {
                return *op == CompareOp::Ne && *value != CompValue::Null;
            }
            found.iter().any(|v| compare_one(v, *op, value))
        }
        Filter::Present(path) => values_at(obj, path).iter().any(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        }),
        Filter::And(a, b) => matches(a, obj) && matches(b, obj),
        Filter::Or(a, b) => matches(a, obj) || matches(b, obj),
        Filter::Not(a) => !matches(a, obj),
        Filter::ValuePath { path, filter } => match get_ci(obj, &path.attr) {
            Some(Value::Array(items)) => items.iter().any(|i| matches(filter, i)),
            Some(v @ Value::Object(_)) => matches(filter, v),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Filter {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn path(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    fn tests_path(s: &str) -> AttrPath {
        path(s)
    }

    #[test]
    fn comparisons_and_precedence() {
        assert_eq!(
            p(r#"userName Eq "Bjensen""#),
            Filter::Compare { path: path("userName"), op: CompareOp::Eq, value: CompValue::Str("Bjensen".into()) }
        );
        // `and` binds tighter than `or`.
        let f = p(r#"a eq "1" or b eq "2" and c pr"#);
        let Filter::Or(_, right) = f else { panic!("or at the top") };
        assert!(matches!(*right, Filter::And(..)));
        let f = p(r#"not (active eq false) and (title pr or meta.lastModified gt "2011-05-13T04:42:34Z")"#);
        assert!(matches!(f, Filter::And(..)));
        assert_eq!(p("active eq True"), p("active eq true"));
    }

    #[test]
    fn value_paths_and_urns() {
        let f = p(r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp"]"#);
        assert!(matches!(f, Filter::Or(..)));
        let f = p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#);
        let Filter::Compare { path, .. } = f else { panic!() };
        assert_eq!(path.schema.as_deref(), Some(crate::ENTERPRISE_SCHEMA));
        assert_eq!(path.attr, "employeeNumber");
        let f = p(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co "O'Malley""#);
        let Filter::Compare { path, .. } = f else { panic!() };
        assert!(path.is_core());
        assert_eq!((path.attr.as_str(), path.sub.as_deref()), ("name", Some("familyName")));
        assert_eq!(
            p("x eq 5"),
            Filter::Compare { path: tests_path("x"), op: CompareOp::Eq, value: CompValue::Num(5.0) }
        );
        assert_eq!(
            p(r#"x eq "a\"b""#),
            Filter::Compare { path: tests_path("x"), op: CompareOp::Eq, value: CompValue::Str("a\"b".into()) }
        );
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName eq bjensen",
            r#"userName zz "x""#,
            r#"userName eq "x" and"#,
            r#"(userName eq "x""#,
            r#"userName eq "x")"#,
            r#"emails[type eq "work""#,
            r#"emails[type eq "work"].value eq "x""#,
            r#"emails[addr[x eq "y"]]"#,
            r#"userName eq "unterminated"#,
            r#"1abc eq "x""#,
            r#"userName eq "x" userName eq "y""#,
            "not active eq true",
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
    }

    #[test]
    fn limits_hold() {
        let deep = format!("{}a pr{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(parse(&deep).is_err());
        let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let many = vec!["a pr"; MAX_TERMS + 1].join(" or ");
        assert!(parse(&many).is_err());
        assert!(parse(&"a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn in_memory_matching() {
        let email = json!({"type": "work", "Value": "A@Example.com", "primary": "True"});
        assert!(matches(&p(r#"type eq "WORK" and value ew "example.com""#), &email));
        assert!(matches(&p("primary eq true"), &email));
        assert!(!matches(&p(r#"type ne "work""#), &email));
        let user = json!({"emails": [{"type": "home", "value": "h@x"}, email]});
        assert!(matches(&p(r#"emails[type eq "work"]"#), &user));
        assert!(matches(&p(r#"emails.value sw "h@""#), &user));
        assert!(!matches(&p(r#"emails[type eq "other"]"#), &user));
        assert!(matches(&p(r#"not (emails[type eq "other"])"#), &user));
    }
}
