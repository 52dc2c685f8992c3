//! The syntax check authentik runs when an expression policy is saved: it wraps the
//! expression in a function (`def handler(...):` and the expression indented below it, so
//! the expression's line N is line N+1) and compiles it; a `SyntaxError` becomes
//! `Expression Syntax Error: <msg> (temp-policy, line <n>)`.
//!
//! No Rust crate reproduces CPython's messages, so this is a small tokenizer that finds the
//! errors CPython reports from its tokenizer and indentation tracking, with CPython's
//! wording: brackets never closed, unmatched or mismatched; unterminated strings; unexpected
//! indents and unindents; a block statement without its `:` or its indented block. Other
//! grammar errors are not detected (the expression is accepted).

const FILE: &str = "temp-policy";

/// The text of the `SyntaxError` (`msg (temp-policy, line n)`), or `Ok`.
pub fn check(source: &str) -> Result<(), String> {
    let wrapped: Vec<String> = std::iter::once("def handler():".to_string())
        .chain(source.split('\n').map(|l| {
            if l.trim().is_empty() {
                l.to_string()
            } else {
                format!("    {l}")
            }
        }))
        .collect();
    tokens(&wrapped).and_then(|logical| indentation(&logical))
}

fn err(msg: impl Into<String>, line: usize) -> Result<(), String> {
    Err(format!("{} ({FILE}, line {line})", msg.into()))
}

/// A logical line: its first physical line (1-based), its indentation and its text with
/// strings and comments blanked.
struct Logical {
    line: usize,
    indent: usize,
    text: String,
}

fn closing(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

/// Brackets and strings across the whole source; the logical lines.
fn tokens(lines: &[String]) -> Result<Vec<Logical>, String> {
    let mut out = Vec::new();
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut current: Option<Logical> = None;
    let mut i = 0;
    // An open triple-quoted string: its quote and first line.
    let mut triple: Option<(String, usize)> = None;
    while i < lines.len() {
        let line_no = i + 1;
        let chars: Vec<char> = lines[i].chars().collect();
        let mut j = 0;
        if current.is_none() && triple.is_none() {
            let indent = chars
                .iter()
                .take_while(|c| **c == ' ' || **c == '\t')
                .count();
            let rest: String = chars[indent..].iter().collect();
            if rest.trim().is_empty() || rest.trim_start().starts_with('#') {
                i += 1;
                continue;
            }
            current = Some(Logical {
                line: line_no,
                indent,
                text: String::new(),
            });
            j = indent;
        }
        let mut continued = false;
        while j < chars.len() {
            let c = chars[j];
            if let Some((q, _)) = &triple {
                let qc: Vec<char> = q.chars().collect();
                if chars[j..].starts_with(&qc) {
                    j += 3;
                    triple = None;
                    continue;
                }
                if c == '\\' {
                    j += 1;
                }
                j += 1;
                continue;
            }
            let text = &mut current.as_mut().map(|l| &mut l.text);
            match c {
                '#' => break,
                '\\' if j + 1 == chars.len() => {
                    continued = true;
                    j += 1;
                }
                '\'' | '"' => {
                    let q3: Vec<char> = vec![c; 3];
                    if chars[j..].starts_with(&q3) {
                        triple = Some((q3.iter().collect(), line_no));
                        j += 3;
                        continue;
                    }
                    let mut k = j + 1;
                    let mut closed = false;
                    while k < chars.len() {
                        if chars[k] == '\\' {
                            k += 2;
                            continue;
                        }
                        if chars[k] == c {
                            closed = true;
                            break;
                        }
                        k += 1;
                    }
                    if !closed {
                        return err(
                            format!("unterminated string literal (detected at line {line_no})"),
                            line_no,
                        )
                        .map(|_| Vec::new());
                    }
                    if let Some(t) = text {
                        t.push_str("''");
                    }
                    j = k + 1;
                }
                '(' | '[' | '{' => {
                    stack.push((c, line_no));
                    if let Some(t) = text {
                        t.push(c);
                    }
                    j += 1;
                }
                ')' | ']' | '}' => {
                    match stack.pop() {
                        None => {
                            return err(format!("unmatched '{c}'"), line_no).map(|_| Vec::new());
                        }
                        Some((open, at)) if closing(open) != c => {
                            let on = if at == line_no {
                                String::new()
                            } else {
                                format!(" on line {at}")
                            };
                            return err(
                                format!(
                                    "closing parenthesis '{c}' does not match opening parenthesis '{open}'{on}"
                                ),
                                line_no,
                            )
                            .map(|_| Vec::new());
                        }
                        Some(_) => {}
                    }
                    if let Some(t) = text {
                        t.push(c);
                    }
                    j += 1;
                }
                _ => {
                    if let Some(t) = text {
                        t.push(c);
                    }
                    j += 1;
                }
            }
        }
        if triple.is_none()
            && stack.is_empty()
            && !continued
            && let Some(l) = current.take()
        {
            out.push(l);
        } else if let Some(l) = current.as_mut() {
            l.text.push(' ');
        }
        i += 1;
    }
    if let Some((_, at)) = triple {
        return err(
            format!(
                "unterminated triple-quoted string literal (detected at line {})",
                lines.len()
            ),
            at,
        )
        .map(|_| Vec::new());
    }
    if let Some((open, at)) = stack.pop() {
        return err(format!("'{open}' was never closed"), at).map(|_| Vec::new());
    }
    if let Some(l) = current.take() {
        out.push(l);
    }
    Ok(out)
}

/// The first word of a block statement, if the line starts one.
fn block_keyword(text: &str) -> Option<&'static str> {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    [
        "if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally",
    ]
    .into_iter()
    .find(|k| *k == word)
}

/// Indentation and block structure of the logical lines.
fn indentation(lines: &[Logical]) -> Result<(), String> {
    let mut stack = vec![0usize];
    let mut expect_block: Option<(&'static str, usize)> = None;
    for l in lines {
        let top = *stack.last().unwrap_or(&0);
        if let Some((kw, at)) = expect_block.take() {
            if l.indent <= top {
                let what = match kw {
                    "def" => "function definition".to_string(),
                    "class" => "class definition".to_string(),
                    k => format!("'{k}' statement"),
                };
                return err(
                    format!("expected an indented block after {what} on line {at}"),
                    l.line,
                );
            }
            stack.push(l.indent);
        } else if l.indent > top {
            return err("unexpected indent", l.line);
        } else if l.indent < top {
            while stack.last().is_some_and(|t| *t > l.indent) {
                stack.pop();
            }
            if stack.last() != Some(&l.indent) {
                return err(
                    "unindent does not match any outer indentation level",
                    l.line,
                );
            }
        }
        let text = l.text.trim_end();
        if let Some(kw) = block_keyword(text) {
            if !text.ends_with(':') {
                if !text.contains(':') {
                    return err("expected ':'", l.line);
                }
            } else {
                expect_block = Some((kw, l.line));
            }
        }
    }
    if let Some((kw, at)) = expect_block {
        let what = match kw {
            "def" => "function definition".to_string(),
            "class" => "class definition".to_string(),
            k => format!("'{k}' statement"),
        };
        return err(
            format!("expected an indented block after {what} on line {at}"),
            lines.last().map_or(at, |l| l.line + 1),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn reports_what_cpython_reports() {
        assert_eq!(check("return True"), Ok(()));
        assert_eq!(
            check("return ("),
            Err("'(' was never closed (temp-policy, line 2)".into())
        );
        assert_eq!(
            check("x = 1\nreturn x)"),
            Err("unmatched ')' (temp-policy, line 3)".into())
        );
        assert_eq!(
            check("return [1, 2)"),
            Err("closing parenthesis ')' does not match opening parenthesis '[' (temp-policy, line 2)".into())
        );
        assert_eq!(
            check("return 'abc"),
            Err("unterminated string literal (detected at line 2) (temp-policy, line 2)".into())
        );
        assert_eq!(
            check("x = 1\n  return x"),
            Err("unexpected indent (temp-policy, line 3)".into())
        );
        assert_eq!(
            check("if x\n    return 1"),
            Err("expected ':' (temp-policy, line 2)".into())
        );
        assert_eq!(
            check("if x:\nreturn 1"),
            Err(
                "expected an indented block after 'if' statement on line 2 (temp-policy, line 3)"
                    .into()
            )
        );
        let ok = "flow_plan = request.context.get(\"flow_plan\")\nif not flow_plan:\n    return True\n# comment (\nreturn not hasattr(flow_plan.context.get(\"pending_user\"), \"backend\")";
        assert_eq!(check(ok), Ok(()));
        assert_eq!(check("x = {'a': [1,\n 2]}\nreturn x"), Ok(()));
        assert_eq!(check("s = \"\"\"a\n(b\"\"\"\nreturn s"), Ok(()));
    }
}
