//! DRF field rules (`rest_framework/fields.py`, `relations.py`) with their exact messages.
//!
//! Each function takes the raw JSON value of one key that is present in the body and returns
//! the internal value or the field's error.

use serde_json::Value;
use uuid::Uuid;

use crate::duration::{self, DurationError};
use crate::model::Target;
use crate::out::Out;
use crate::py;
use crate::state::State;

pub const REQUIRED: &str = "This field is required.";
pub const NULL: &str = "This field may not be null.";
pub const BLANK: &str = "This field may not be blank.";
const NULL_CHARS: &str = "Null characters are not allowed.";

/// A field's error.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldErr {
    /// `["msg", ...]`
    Msgs(Vec<String>),
    /// List items: `{"0": ["msg"], ...}`
    Indexed(Vec<(usize, Vec<String>)>),
    /// Any other shape (nested serializers).
    Tree(Out),
    /// An exception DRF does not turn into a 400: the server fails.
    Abort,
}

impl FieldErr {
    pub fn msg(m: impl Into<String>) -> FieldErr {
        FieldErr::Msgs(vec![m.into()])
    }

    /// The error as the response body renders it; `None` for [`FieldErr::Abort`].
    pub fn to_out(&self) -> Option<Out> {
        Some(match self {
            FieldErr::Msgs(m) => Out::strings(m.iter().cloned()),
            FieldErr::Indexed(items) => Out::obj(
                items
                    .iter()
                    .map(|(i, m)| (i.to_string(), Out::strings(m.iter().cloned()))),
            ),
            FieldErr::Tree(o) => o.clone(),
            FieldErr::Abort => return None,
        })
    }
}

type R<T> = Result<T, FieldErr>;

/// `CharField` (trimmed, not blank) before its validators run.
pub fn char_value(v: &Value) -> R<String> {
    // DRF tests `str(data).strip() == ''` before anything else.
    if py::strip(&py::to_str(v)).is_empty() {
        return Err(FieldErr::msg(BLANK));
    }
    match v {
        Value::Null => Err(FieldErr::msg(NULL)),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
            Err(FieldErr::msg("Not a valid string."))
        }
        other => Ok(py::strip(&py::to_str(other)).to_string()),
    }
}

/// `CharField` plus its `ProhibitNullCharactersValidator`, with `extra` validators first.
pub fn text(v: &Value, extra: impl FnOnce(&str) -> Vec<String>) -> R<String> {
    let s = char_value(v)?;
    let mut errors = extra(&s);
    if s.contains('\0') {
        errors.push(NULL_CHARS.into());
    }
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(FieldErr::Msgs(errors))
    }
}

/// A duration string field (`timedelta_string_validator`).
pub fn duration(v: &Value) -> R<String> {
    let s = char_value(v)?;
    let mut errors = Vec::new();
    match duration::validate(&s) {
        Ok(()) => {}
        Err(DurationError::Format) => errors.push(duration::format_message(&s)),
        Err(DurationError::Overflow) => return Err(FieldErr::Abort),
    }
    if s.contains('\0') {
        errors.push(NULL_CHARS.into());
    }
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(FieldErr::Msgs(errors))
    }
}

const TRUE_STRINGS: [&str; 11] = [
    "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "1",
];
const FALSE_STRINGS: [&str; 11] = [
    "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "0",
];

/// `BooleanField`: true/false, 1/0 and DRF's word lists (`"yes"`, `"on"`, …).
pub fn boolean(v: &Value) -> R<bool> {
    let invalid = || FieldErr::msg("Must be a valid boolean.");
    match v {
        Value::Null => Err(FieldErr::msg(NULL)),
        Value::Bool(b) => Ok(*b),
        // Python: 1 == 1.0 == True, so 1.0 is in TRUE_VALUES too.
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Ok(true),
            Some(0.0) => Ok(false),
            _ => Err(invalid()),
        },
        Value::String(s) => {
            let s = s.as_str();
            if TRUE_STRINGS.contains(&s) || ["on", "On", "ON"].contains(&s) {
                Ok(true)
            } else if FALSE_STRINGS.contains(&s) || ["off", "Off", "OFF"].contains(&s) {
                Ok(false)
            } else {
                Err(invalid())
            }
        }
        _ => Err(invalid()),
    }
}

/// `IntegerField` with the int32 bounds Django puts on `IntegerField`.
pub fn int32(v: &Value) -> R<i64> {
    if v.is_null() {
        return Err(FieldErr::msg(NULL));
    }
    if let Value::String(s) = v
        && s.chars().count() > 1000
    {
        return Err(FieldErr::msg("String value too large."));
    }
    // int(re.sub(r'\.0*\s*$', '', str(data)))
    let text = py::to_str(v);
    let trimmed = match text.rfind('.') {
        Some(dot)
            if text[dot + 1..]
                .trim_start_matches('0')
                .chars()
                .all(py::is_space) =>
        {
            &text[..dot]
        }
        _ => text.as_str(),
    };
    let n = py::int(trimmed).ok_or_else(|| FieldErr::msg("A valid integer is required."))?;
    if n > i128::from(i32::MAX) {
        return Err(FieldErr::msg(format!(
            "Ensure this value is less than or equal to {}.",
            i32::MAX
        )));
    }
    if n < i128::from(i32::MIN) {
        return Err(FieldErr::msg(format!(
            "Ensure this value is greater than or equal to {}.",
            i32::MIN
        )));
    }
    Ok(n as i64)
}

/// An integer within a model field's bounds (`MinValueValidator`/`MaxValueValidator`).
pub fn int_in(v: &Value, min: i64, max: i64) -> R<i64> {
    let n = int32(v)?;
    if n < min {
        return Err(FieldErr::msg(format!(
            "Ensure this value is greater than or equal to {min}."
        )));
    }
    if n > max {
        return Err(FieldErr::msg(format!(
            "Ensure this value is less than or equal to {max}."
        )));
    }
    Ok(n)
}

/// `FloatField`.
pub fn float(v: &Value) -> R<f64> {
    let invalid = || FieldErr::msg("A valid number is required.");
    match v {
        Value::Null => Err(FieldErr::msg(NULL)),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().ok_or_else(invalid),
        Value::String(s) if s.chars().count() > 1000 => {
            Err(FieldErr::msg("String value too large."))
        }
        Value::String(s) => py::float(s).filter(|f| f.is_finite()).ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// A `CharField` that may allow `""` (`blank`) and `null`.
pub fn text_opt(v: &Value, blank: bool, null: bool) -> R<Value> {
    if v.is_null() {
        return if null {
            Ok(Value::Null)
        } else {
            Err(FieldErr::msg(NULL))
        };
    }
    if blank && py::strip(&py::to_str(v)).is_empty() && !matches!(v, Value::Bool(_)) {
        return Ok(Value::String(String::new()));
    }
    text(v, |_| vec![]).map(Value::String)
}

/// `EmailField`: a `CharField` with Django's `EmailValidator` (approximated: one `@`, a
/// local part without spaces, a dotted domain of letters, digits and hyphens).
pub fn email(v: &Value) -> R<String> {
    let s = char_value(v)?;
    let valid = s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !local.contains(char::is_whitespace)
            && !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
    });
    if valid {
        Ok(s)
    } else {
        Err(FieldErr::msg("Enter a valid email address."))
    }
}

/// `ChoiceField`: the value's `str()` must be one of `choices`.
pub fn choice<'a>(v: &Value, mut choices: impl Iterator<Item = &'a str>) -> R<String> {
    if v.is_null() {
        return Err(FieldErr::msg(NULL));
    }
    let s = py::to_str(v);
    if choices.any(|c| c == s) {
        Ok(s)
    } else {
        Err(FieldErr::msg(format!("\"{s}\" is not a valid choice.")))
    }
}

/// `'Expected a list of items but got type "str".'` unless `v` is a list (dicts are refused
/// by `ListField`; `ManyRelatedField` iterates their keys).
fn not_a_list(v: &Value) -> FieldErr {
    FieldErr::msg(format!(
        "Expected a list of items but got type \"{}\".",
        py::type_name(v)
    ))
}

/// `ListField(child=ChoiceField)`: item errors are keyed by index.
pub fn choice_list(v: &Value, choices: &[&str], allow_empty: bool) -> R<Vec<String>> {
    let items = match v {
        Value::Null => return Err(FieldErr::msg(NULL)),
        Value::Array(items) => items,
        other => return Err(not_a_list(other)),
    };
    if !allow_empty && items.is_empty() {
        return Err(FieldErr::msg("This list may not be empty."));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match choice(item, choices.iter().copied()) {
            Ok(s) => out.push(s),
            Err(FieldErr::Msgs(m)) => errors.push((i, m)),
            Err(_) => errors.push((i, vec![NULL.into()])),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(FieldErr::Indexed(errors))
    }
}

/// `PrimaryKeyRelatedField.to_internal_value` against `target`'s queryset.
fn lookup_pk(state: &State, target: Target, v: &Value) -> R<Uuid> {
    lookup_with(v, |pk| state.exists(target, pk).then_some(pk))
}

/// A primary-key lookup whose queryset is `found` (which may map the key it is given to
/// the object's own, as a policy binding's `target` does).
pub fn lookup_with(v: &Value, found: impl Fn(Uuid) -> Option<Uuid>) -> R<Uuid> {
    let does_not_exist = || {
        FieldErr::msg(format!(
            "Invalid pk \"{}\" - object does not exist.",
            py::to_str(v)
        ))
    };
    let not_uuid = || FieldErr::msg(format!("“{}” is not a valid UUID.", py::to_str(v)));
    let pk = match v {
        Value::Bool(_) => {
            return Err(FieldErr::msg(
                "Incorrect type. Expected pk value, received bool.",
            ));
        }
        // `pk=None` finds nothing.
        Value::Null => return Err(does_not_exist()),
        // Django reads an int as `uuid.UUID(int=n)`.
        Value::Number(n) if !n.is_f64() => match n.as_u64() {
            Some(u) => Uuid::from_u128(u128::from(u)),
            None => return Err(not_uuid()),
        },
        Value::String(s) => py::parse_uuid(s).ok_or_else(not_uuid)?,
        _ => return Err(not_uuid()),
    };
    found(pk).ok_or_else(does_not_exist)
}

/// A nullable foreign key: `null` and `""` clear it.
pub fn foreign_key(state: &State, target: Target, v: &Value) -> R<Option<Uuid>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        other => lookup_pk(state, target, other).map(Some),
    }
}

/// A required, non-null foreign key (`""` counts as null for DRF's related fields).
pub fn reference(state: &State, target: Target, v: &Value) -> R<Uuid> {
    match v {
        Value::Null => Err(FieldErr::msg(NULL)),
        Value::String(s) if s.is_empty() => Err(FieldErr::msg(NULL)),
        other => lookup_pk(state, target, other),
    }
}

/// `ManyRelatedField`: a list of pks; the first bad item is the error.
pub fn many_to_many(state: &State, target: Target, v: &Value, allow_empty: bool) -> R<Vec<Uuid>> {
    let items: Vec<Value> = match v {
        Value::Null => return Err(FieldErr::msg(NULL)),
        Value::Array(items) => items.clone(),
        Value::Object(map) => map.keys().map(|k| Value::String(k.clone())).collect(),
        other => return Err(not_a_list(other)),
    };
    if !allow_empty && items.is_empty() {
        return Err(FieldErr::msg("This list may not be empty."));
    }
    let mut pks: Vec<Uuid> = Vec::with_capacity(items.len());
    for item in &items {
        let pk = lookup_pk(state, target, item)?;
        // A many-to-many relation holds each object once.
        if !pks.contains(&pk) {
            pks.push(pk);
        }
    }
    Ok(pks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(r: R<impl std::fmt::Debug>) -> Vec<String> {
        match r {
            Err(FieldErr::Msgs(m)) => m,
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn booleans() {
        for t in [
            json!(true),
            json!("true"),
            json!("True"),
            json!(1),
            json!("1"),
            json!("yes"),
            json!(1.0),
        ] {
            assert_eq!(boolean(&t), Ok(true), "{t}");
        }
        for f in [
            json!(false),
            json!("false"),
            json!(0),
            json!("0"),
            json!("off"),
            json!("N"),
        ] {
            assert_eq!(boolean(&f), Ok(false), "{f}");
        }
        assert_eq!(msgs(boolean(&json!("maybe"))), ["Must be a valid boolean."]);
        assert_eq!(msgs(boolean(&json!(2))), ["Must be a valid boolean."]);
        assert_eq!(msgs(boolean(&json!(null))), [NULL]);
    }

    #[test]
    fn integers() {
        assert_eq!(int32(&json!(5)), Ok(5));
        assert_eq!(int32(&json!("7")), Ok(7));
        assert_eq!(int32(&json!(" 7 ")), Ok(7));
        assert_eq!(int32(&json!(3.0)), Ok(3));
        assert_eq!(int32(&json!("3.00")), Ok(3));
        assert_eq!(int32(&json!(-2147483648_i64)), Ok(-2147483648));
        assert_eq!(msgs(int32(&json!("abc"))), ["A valid integer is required."]);
        assert_eq!(msgs(int32(&json!(1.5))), ["A valid integer is required."]);
        assert_eq!(msgs(int32(&json!(true))), ["A valid integer is required."]);
        assert_eq!(msgs(int32(&json!(""))), ["A valid integer is required."]);
        assert_eq!(
            msgs(int32(&json!(2147483648_i64))),
            ["Ensure this value is less than or equal to 2147483647."]
        );
        assert_eq!(
            msgs(int32(&json!(-2147483649_i64))),
            ["Ensure this value is greater than or equal to -2147483648."]
        );
    }

    #[test]
    fn strings() {
        assert_eq!(char_value(&json!("  x ")), Ok("x".into()));
        assert_eq!(char_value(&json!(12)), Ok("12".into()));
        assert_eq!(msgs(char_value(&json!("   "))), [BLANK]);
        assert_eq!(msgs(char_value(&json!(null))), [NULL]);
        assert_eq!(msgs(char_value(&json!(["x"]))), ["Not a valid string."]);
        assert_eq!(msgs(text(&json!("a\u{0}b"), |_| vec![])), [NULL_CHARS]);
    }

    #[test]
    fn lists() {
        let choices = ["a", "b"];
        assert_eq!(
            choice_list(&json!(["a", "b"]), &choices, false),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            msgs(choice_list(&json!([]), &choices, false)),
            ["This list may not be empty."]
        );
        assert_eq!(choice_list(&json!([]), &choices, true), Ok(vec![]));
        assert_eq!(
            msgs(choice_list(&json!("a"), &choices, true)),
            ["Expected a list of items but got type \"str\"."]
        );
        assert_eq!(
            choice_list(&json!(["a", "x", 1]), &choices, true),
            Err(FieldErr::Indexed(vec![
                (1, vec!["\"x\" is not a valid choice.".into()]),
                (2, vec!["\"1\" is not a valid choice.".into()])
            ]))
        );
    }

    #[test]
    fn references() {
        let state = State::default();
        let missing = "00000000-0000-4000-8000-000000000000";
        assert_eq!(foreign_key(&state, Target::Flow, &json!(null)), Ok(None));
        assert_eq!(foreign_key(&state, Target::Flow, &json!("")), Ok(None));
        assert_eq!(
            msgs(foreign_key(&state, Target::Flow, &json!(missing))),
            [format!("Invalid pk \"{missing}\" - object does not exist.")]
        );
        assert_eq!(
            msgs(foreign_key(&state, Target::Flow, &json!("slug"))),
            ["“slug” is not a valid UUID."]
        );
        assert_eq!(
            msgs(foreign_key(&state, Target::Flow, &json!(true))),
            ["Incorrect type. Expected pk value, received bool."]
        );
        assert_eq!(
            msgs(many_to_many(&state, Target::Source, &json!("x"), true)),
            ["Expected a list of items but got type \"str\"."]
        );
        assert_eq!(
            many_to_many(&state, Target::Source, &json!([]), true),
            Ok(vec![])
        );
        for empty in [json!(null), json!("")] {
            assert_eq!(msgs(reference(&state, Target::Stage, &empty)), [NULL]);
        }
        assert_eq!(
            msgs(reference(&state, Target::Stage, &json!(missing))),
            [format!("Invalid pk \"{missing}\" - object does not exist.")]
        );
    }
}
