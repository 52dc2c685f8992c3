//! A small evaluator for the CEL rules the CRDs carry as `x-kubernetes-validations`, so that
//! `plan` checks a manifest with the very rules the API server applies, read from the CRD.
//! It knows the part of CEL those rules are written in: literals and lists, `self` and
//! field selection, `has()`, `size()`, the macros `filter`, `all`, `exists` and `map`,
//! indexing, `! && || == != < <= > >= in`, and the string functions `trim`, `lowerAscii`,
//! `split` and `matches`. A rule outside it is reported as not evaluated, never as passed.

use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Str(String),
    Ident(String),
    Sym(&'static str),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    const SYMS: [&str; 19] = [
        "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ",", ".", "+", "-",
        "?", ":",
    ];
    'outer: while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Tok::Int(text.parse().map_err(|_| "integer too large")?));
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                    s.push(match chars[i] {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else {
                    s.push(chars[i]);
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated string".into());
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            for sym in SYMS {
                let n = sym.len();
                if i + n <= chars.len() && chars[i..i + n].iter().copied().eq(sym.chars()) {
                    out.push(Tok::Sym(sym));
                    i += n;
                    continue 'outer;
                }
            }
            return Err(format!("unexpected {c:?}"));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(Value),
    List(Vec<Expr>),
    Var(String),
    Select(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Has(Box<Expr>, String),
    Not(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    /// A function or method call: name, receiver, arguments.
    Call(String, Option<Box<Expr>>, Vec<Expr>),
    /// A macro over a list: name, list, variable, body.
    Macro(String, Box<Expr>, String, Box<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.at += 1;
            return true;
        }
        false
    }
    fn expect(&mut self, sym: &str) -> Result<(), String> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(format!("expected {sym:?}"))
        }
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Bin("||", Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.rel()?;
        while self.eat("&&") {
            left = Expr::Bin("&&", Box::new(left), Box::new(self.rel()?));
        }
        Ok(left)
    }
    fn rel(&mut self) -> Result<Expr, String> {
        let left = self.unary()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let op: &'static str = match op {
                    "==" => "==",
                    "!=" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    "<" => "<",
                    _ => ">",
                };
                return Ok(Expr::Bin(op, Box::new(left), Box::new(self.unary()?)));
            }
        }
        if self.peek() == Some(&Tok::Ident("in".into())) {
            self.at += 1;
            return Ok(Expr::Bin("in", Box::new(left), Box::new(self.unary()?)));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.postfix()
    }
    fn args(&mut self) -> Result<Vec<Expr>, String> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.or()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }
    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                let Some(Tok::Ident(name)) = self.peek().cloned() else {
                    return Err("expected a name after '.'".into());
                };
                self.at += 1;
                if !self.eat("(") {
                    e = Expr::Select(Box::new(e), name);
                    continue;
                }
                if ["filter", "all", "exists", "map"].contains(&name.as_str()) {
                    let Some(Tok::Ident(var)) = self.peek().cloned() else {
                        return Err(format!("{name}: expected a variable"));
                    };
                    self.at += 1;
                    self.expect(",")?;
                    let body = self.or()?;
                    self.expect(")")?;
                    e = Expr::Macro(name, Box::new(e), var, Box::new(body));
                } else {
                    let args = self.args()?;
                    e = Expr::Call(name, Some(Box::new(e)), args);
                }
            } else if self.eat("[") {
                let index = self.or()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else {
                return Ok(e);
            }
        }
    }
    fn primary(&mut self) -> Result<Expr, String> {
        let tok = self.peek().cloned().ok_or("unexpected end")?;
        self.at += 1;
        match tok {
            Tok::Int(n) => Ok(Expr::Lit(json!(n))),
            Tok::Str(s) => Ok(Expr::Lit(json!(s))),
            Tok::Sym("(") => {
                let e = self.or()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Sym("-") => match self.peek().cloned() {
                Some(Tok::Int(n)) => {
                    self.at += 1;
                    Ok(Expr::Lit(json!(-n)))
                }
                _ => Err("unsupported '-'".into()),
            },
            Tok::Sym("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.or()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Ok(Expr::Lit(json!(true))),
                "false" => Ok(Expr::Lit(json!(false))),
                "null" => Ok(Expr::Lit(Value::Null)),
                "has" => {
                    self.expect("(")?;
                    let inner = self.postfix()?;
                    self.expect(")")?;
                    match inner {
                        Expr::Select(on, field) => Ok(Expr::Has(on, field)),
                        _ => Err("has() needs a field selection".into()),
                    }
                }
                _ if self.eat("(") => {
                    let args = self.args()?;
                    Ok(Expr::Call(id, None, args))
                }
                _ => Ok(Expr::Var(id)),
            },
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Why a rule could not be judged.
#[derive(Debug, PartialEq)]
pub struct Unsupported(pub String);

fn eval(e: &Expr, vars: &BTreeMap<String, Value>) -> Result<Value, String> {
    let num = |v: &Value| v.as_f64().ok_or_else(|| format!("{v} is not a number"));
    let list = |v: Value| match v {
        Value::Array(a) => Ok(a),
        other => Err(format!("{other} is not a list")),
    };
    let text = |v: Value| match v {
        Value::String(s) => Ok(s),
        other => Err(format!("{other} is not a string")),
    };
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::List(items) => Value::Array(
            items
                .iter()
                .map(|i| eval(i, vars))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Var(name) => vars
            .get(name)
            .cloned()
            .ok_or_else(|| format!("unknown variable {name}"))?,
        Expr::Select(on, field) => eval(on, vars)?
            .get(field)
            .cloned()
            .ok_or_else(|| format!("no such key: {field}"))?,
        Expr::Has(on, field) => json!(eval(on, vars)?.get(field).is_some()),
        Expr::Index(on, index) => {
            let (on, index) = (eval(on, vars)?, eval(index, vars)?);
            let i = index.as_u64().ok_or("index is not a number")? as usize;
            list(on)?.get(i).cloned().ok_or("index out of range")?
        }
        Expr::Not(inner) => json!(!eval(inner, vars)?.as_bool().ok_or("! of a non-bool")?),
        Expr::Bin(op, l, r) => {
            if *op == "&&" || *op == "||" {
                let left = eval(l, vars)?.as_bool().ok_or("operand is not a bool")?;
                if (*op == "&&") != left {
                    return Ok(json!(left));
                }
                return Ok(json!(
                    eval(r, vars)?.as_bool().ok_or("operand is not a bool")?
                ));
            }
            let (a, b) = (eval(l, vars)?, eval(r, vars)?);
            match *op {
                "==" => json!(same(&a, &b)),
                "!=" => json!(!same(&a, &b)),
                "in" => json!(list(b)?.iter().any(|x| same(&a, x))),
                "<" => json!(num(&a)? < num(&b)?),
                "<=" => json!(num(&a)? <= num(&b)?),
                ">" => json!(num(&a)? > num(&b)?),
                _ => json!(num(&a)? >= num(&b)?),
            }
        }
        Expr::Macro(name, on, var, body) => {
            let items = list(eval(on, vars)?)?;
            let mut scope = vars.clone();
            let mut results = Vec::new();
            for item in items {
                scope.insert(var.clone(), item.clone());
                let r = eval(body, &scope)?;
                results.push((item, r));
            }
            let truth = |r: &Value| r.as_bool().ok_or("macro body is not a bool");
            match name.as_str() {
                "filter" => {
                    let mut kept = Vec::new();
                    for (item, r) in results {
                        if truth(&r)? {
                            kept.push(item);
                        }
                    }
                    Value::Array(kept)
                }
                "all" => json!(
                    results
                        .iter()
                        .try_fold(true, |acc, (_, r)| Ok::<_, &str>(acc && truth(r)?))?
                ),
                "exists" => json!(
                    results
                        .iter()
                        .try_fold(false, |acc, (_, r)| Ok::<_, &str>(acc || truth(r)?))?
                ),
                _ => Value::Array(results.into_iter().map(|(_, r)| r).collect()),
            }
        }
        Expr::Call(name, recv, args) => {
            let mut vals = Vec::new();
            if let Some(r) = recv {
                vals.push(eval(r, vars)?);
            }
            for a in args {
                vals.push(eval(a, vars)?);
            }
            let mut vals = vals.into_iter();
            let mut next = || {
                vals.next()
                    .ok_or_else(|| format!("{name}: missing argument"))
            };
            match name.as_str() {
                "size" => match next()? {
                    Value::String(s) => json!(s.chars().count()),
                    Value::Array(a) => json!(a.len()),
                    Value::Object(o) => json!(o.len()),
                    other => return Err(format!("size of {other}")),
                },
                "trim" => json!(text(next()?)?.trim()),
                "lowerAscii" => json!(text(next()?)?.to_ascii_lowercase()),
                "split" => {
                    let (s, sep) = (text(next()?)?, text(next()?)?);
                    json!(s.split(sep.as_str()).collect::<Vec<_>>())
                }
                "matches" => {
                    let (s, re) = (text(next()?)?, text(next()?)?);
                    let re = regex::Regex::new(&re).map_err(|e| e.to_string())?;
                    json!(re.is_match(&s))
                }
                other => return Err(format!("unsupported function {other}")),
            }
        }
    })
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Whether `rule` holds for `value` (`self`). `Err` when the rule is outside what this
/// evaluator knows or cannot be evaluated on the value.
pub fn holds(rule: &str, value: &Value) -> Result<bool, Unsupported> {
    let toks = lex(rule).map_err(Unsupported)?;
    let mut p = Parser { toks, at: 0 };
    let expr = p.or().map_err(Unsupported)?;
    if p.at != p.toks.len() {
        return Err(Unsupported(format!("trailing input in {rule:?}")));
    }
    let vars = BTreeMap::from([("self".to_string(), value.clone())]);
    match eval(&expr, &vars).map_err(Unsupported)? {
        Value::Bool(b) => Ok(b),
        other => Err(Unsupported(format!("{rule:?} gave {other}, not a bool"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_OF: &str = "[has(self.ref), has(self.name), has(self.pk)].filter(x, x).size() == 1";

    #[test]
    fn the_one_of_rule() {
        assert_eq!(holds(ONE_OF, &json!({"ref": "a"})), Ok(true));
        assert_eq!(holds(ONE_OF, &json!({"ref": "a", "pk": "b"})), Ok(false));
        assert_eq!(holds(ONE_OF, &json!({})), Ok(false));
    }

    #[test]
    fn sizes_and_boolean_logic() {
        let rule = "(has(self.userFields) && size(self.userFields) > 0) || (has(self.sources) && size(self.sources) > 0)";
        assert_eq!(holds(rule, &json!({"userFields": ["email"]})), Ok(true));
        assert_eq!(
            holds(rule, &json!({"userFields": [], "sources": []})),
            Ok(false)
        );
        assert_eq!(holds(rule, &json!({"sources": [{"slug": "x"}]})), Ok(true));
        assert_eq!(
            holds("!(1 in [2, 3]) && 'a' != 'b'", &json!(null)),
            Ok(true)
        );
    }

    #[test]
    fn the_duration_rule_of_the_crds() {
        let rule = crate::crd::duration::cel_rule();
        assert_eq!(holds(&rule, &json!("hours=3;minutes=1")), Ok(true));
        assert_eq!(holds(&rule, &json!("hours=x")), Ok(false));
        assert_eq!(holds(&rule, &json!(" hours=1")), Ok(false));
        assert_eq!(holds("self == self.trim()", &json!("a ")), Ok(false));
    }

    #[test]
    fn what_it_does_not_know_is_not_a_pass() {
        assert!(holds("self.startsWith('a')", &json!("a")).is_err());
        assert!(holds("self.x == 1", &json!({})).is_err());
        assert!(holds("1 +", &json!(null)).is_err());
    }
}
