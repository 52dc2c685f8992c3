//! Field names between the spec (camelCase) and authentik's bodies (snake_case). At the
//! bottom of the crate: the wire side and the kinds side both use it.

/// `failedAttemptsBeforeCancel` → `failed_attempts_before_cancel`.
pub fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `failed_attempts_before_cancel` → `failedAttemptsBeforeCancel`.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversion_round_trips() {
        for k in [
            "failedAttemptsBeforeCancel",
            "userFields",
            "geoipBinding",
            "name",
        ] {
            assert_eq!(camel_case(&snake_case(k)), k);
        }
        assert_eq!(snake_case("geoipBinding"), "geoip_binding");
    }
}
