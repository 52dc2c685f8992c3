//! Fields older releases store in another form than the spec writes them (see
//! `Kind::LEGACY_FORMS`): the desired body is rewritten for the connected release, so that
//! what is sent, and what is compared with authentik's answer, are in authentik's own form.

use crate::connections::Connection;
use crate::crd::kind::{Kind, LegacyForm};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// Rewrites `body` for the connected release (asked of authentik only for kinds that have
/// such fields, and only when the body sets one).
pub async fn encode<K: Kind>(body: &mut Map<String, Value>, conn: &Connection) -> Result<()> {
    if !K::LEGACY_FORMS.iter().any(|l| body.contains_key(l.field)) {
        return Ok(());
    }
    let release = conn.release().await?;
    encode_for(K::LEGACY_FORMS, body, release).map_err(Error::InvalidSpec)
}

/// The pure part: each field set in `body` that `release` stores in its older form.
pub fn encode_for(
    forms: &[LegacyForm],
    body: &mut Map<String, Value>,
    release: (u32, u32),
) -> Result<(), String> {
    for form in forms.iter().filter(|f| release < f.since) {
        if let Some(value) = body.get_mut(form.field) {
            *value = (form.encode)(value).map_err(|e| {
                format!(
                    "{}: {e} (authentik {}.{} stores it in its older form)",
                    crate::case::camel_case(form.field),
                    release.0,
                    release.1
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minutes(v: &Value) -> Result<Value, String> {
        match v.as_str() {
            Some("minutes=30") => Ok(json!(30)),
            _ => Err("not whole minutes".into()),
        }
    }

    const FORMS: &[LegacyForm] = &[LegacyForm {
        field: "token_expiry",
        since: (2025, 4),
        encode: minutes,
    }];

    #[test]
    fn older_releases_get_the_older_form_and_newer_ones_the_spec() {
        let body = || {
            json!({"name": "x", "token_expiry": "minutes=30"})
                .as_object()
                .cloned()
                .unwrap()
        };
        let mut old = body();
        encode_for(FORMS, &mut old, (2024, 4)).unwrap();
        assert_eq!(old["token_expiry"], json!(30));
        let mut new = body();
        encode_for(FORMS, &mut new, (2026, 2)).unwrap();
        assert_eq!(new["token_expiry"], json!("minutes=30"));
        let mut bad = json!({"token_expiry": "seconds=10"})
            .as_object()
            .cloned()
            .unwrap();
        let e = encode_for(FORMS, &mut bad, (2023, 10)).unwrap_err();
        assert!(e.contains("tokenExpiry") && e.contains("2023.10"), "{e}");
    }
}
