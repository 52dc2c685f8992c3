//! Turning authentik's error answers into one readable line for a condition message.

use crate::case::camel_case;
use serde_json::Value;

/// Renders a DRF error body: `{"detail": ...}`, `{"non_field_errors": [...]}`, field errors as
/// lists of strings, and list-item errors keyed by index (`{"backends": {"0": [...]}}`).
/// Field names are given as the spec spells them (camelCase), since that is what the user edits.
pub fn describe_body(body: &Value) -> String {
    let mut parts = Vec::new();
    collect(body, "", &mut parts);
    if parts.is_empty() {
        body.to_string()
    } else {
        parts.join("; ")
    }
}

fn collect(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(prefixed(path, s)),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let text: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            out.push(prefixed(path, &text.join(" ")));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, v) in map {
                let sub = if key == "detail" || key == "non_field_errors" || key == "error" {
                    path.to_string()
                } else if key.chars().all(|c| c.is_ascii_digit()) {
                    format!("{path}[{key}]")
                } else if path.is_empty() {
                    camel_case(key)
                } else {
                    format!("{path}.{}", camel_case(key))
                };
                collect(v, &sub, out);
            }
        }
        other => out.push(prefixed(path, &other.to_string())),
    }
}

fn prefixed(path: &str, text: &str) -> String {
    if path.is_empty() {
        text.to_string()
    } else {
        format!("{path}: {text}")
    }
}

/// Describes a non-JSON body briefly (an HTML error page must not flood a condition).
pub fn describe_text(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        "empty body".to_string()
    } else if trimmed.starts_with('<') {
        "HTML error page".to_string()
    } else {
        trimmed.chars().take(300).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_errors() {
        let b = json!({"failed_attempts_before_cancel": ["A valid integer is required."]});
        assert_eq!(
            describe_body(&b),
            "failedAttemptsBeforeCancel: A valid integer is required."
        );
    }

    #[test]
    fn index_keyed_list_errors() {
        let b = json!({"backends": {"0": ["\"x\" is not a valid choice."]}});
        assert_eq!(
            describe_body(&b),
            "backends[0]: \"x\" is not a valid choice."
        );
    }

    #[test]
    fn non_field_errors_and_detail() {
        let b = json!({"non_field_errors": ["When no user fields are selected, at least one source must be selected"]});
        assert_eq!(
            describe_body(&b),
            "When no user fields are selected, at least one source must be selected"
        );
        assert_eq!(
            describe_body(&json!({"detail": "Token invalid/expired"})),
            "Token invalid/expired"
        );
    }

    #[test]
    fn several_fields_are_joined() {
        let b = json!({"session_duration": ["a"], "remember_me_offset": ["b"]});
        let text = describe_body(&b);
        assert!(
            text.contains("sessionDuration: a") && text.contains("rememberMeOffset: b"),
            "{text}"
        );
    }

    #[test]
    fn html_is_not_copied() {
        assert_eq!(describe_text("<html>...</html>"), "HTML error page");
        assert_eq!(describe_text(""), "empty body");
    }
}
