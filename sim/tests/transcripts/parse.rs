//! The transcripts' markdown: one step per `### ` section, its request and the answer.

#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    Token,
    None,
    Header(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Json(String),
    Empty,
    /// The first bytes of an HTML page.
    Html(String),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub title: String,
    pub method: String,
    pub path: String,
    pub auth: Auth,
    pub body: Option<String>,
    pub status: u16,
    pub ctype: String,
    pub expected: Expected,
}

/// The text of the first fenced block with this info string after `from`.
pub fn fenced(text: &str, info: &str) -> Option<String> {
    let open = format!("```{info}\n");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find("\n```")? + start;
    Some(text[start..end].to_string())
}

pub fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

pub fn parse_steps(md: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for section in md.split("\n### ").skip(1) {
        let title = section.lines().next().unwrap_or("").to_string();
        let Some(req_line) = section.lines().find(|l| l.starts_with('`')) else {
            continue;
        };
        let Some(call) = between(req_line, "`", "`") else {
            continue;
        };
        let Some((method, path)) = call.split_once(' ') else {
            continue;
        };
        let suffix = &req_line[call.len() + 2..];
        let auth = if suffix.contains("no Authorization header") {
            Auth::None
        } else if let Some(h) = between(suffix, "(Authorization: ", ")") {
            Auth::Header(h.to_string())
        } else {
            Auth::Token
        };
        let Some(status_at) = section.find("**HTTP ") else {
            continue;
        };
        let (before, after) = section.split_at(status_at);
        let body = before
            .contains("Request body:")
            .then(|| fenced(before, "json"))
            .flatten();
        let status = between(after, "**HTTP ", "**")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        // "No Content-Type header" is `none` in the stages transcripts and Python's `None` in
        // the flows transcripts (another recording script); both mean the header was absent.
        let ctype = match between(after, "Content-Type: `", "`").unwrap_or("") {
            "None" => "none".to_string(),
            other => other.to_string(),
        };
        let expected = if after.contains("(empty body)") {
            Expected::Empty
        } else if let Some(html) = fenced(after, "html") {
            Expected::Html(html)
        } else if ctype.starts_with("text/html") {
            // The kinds transcripts fence pages as `json`.
            Expected::Html(fenced(after, "json").unwrap_or_default())
        } else {
            Expected::Json(fenced(after, "json").unwrap_or_default())
        };
        steps.push(Step {
            title,
            method: method.into(),
            path: path.into(),
            auth,
            body,
            status,
            ctype,
            expected,
        });
    }
    steps
}
