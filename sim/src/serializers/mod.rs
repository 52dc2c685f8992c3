//! Write validation of whole request bodies (DRF `Serializer.run_validation`): fields in
//! declaration order, errors collected per field, then object-level rules, then the
//! failures that happen while saving.

use serde_json::{Map, Value};

use crate::model::Dflt;
use crate::out::Out;
use crate::py;
use crate::validate::FieldErr;

mod binding;
mod flow;
mod object;
mod policy_binding;
mod rules;

pub use binding::binding;
pub use flow::flow;
pub use object::{object, with_defaults};
pub use policy_binding::policy_binding;

/// Which write this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Create,
    /// PUT: required fields required, omitted optional fields kept.
    Update,
    /// PATCH: only the keys sent.
    Partial,
}

/// Why a write is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// 400 with this body.
    Invalid(Out),
    /// The server fails while validating or saving (answered as an empty 405).
    ServerError,
}

/// Field errors in declaration order.
#[derive(Default)]
struct Errors(Vec<(String, Out)>);

impl Errors {
    /// Record `err`; `Err` when it aborts the request.
    fn add(&mut self, field: &str, err: FieldErr) -> Result<(), WriteError> {
        match err.to_out() {
            Some(o) => {
                self.0.push((field.to_string(), o));
                Ok(())
            }
            None => Err(WriteError::ServerError),
        }
    }

    fn finish(self) -> Result<(), WriteError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(WriteError::Invalid(Out::Obj(self.0)))
        }
    }
}

fn non_field(msg: impl Into<String>) -> WriteError {
    WriteError::Invalid(Out::obj([("non_field_errors", Out::strings([msg.into()]))]))
}

/// The body must be a JSON object.
fn as_object(data: &Value) -> Result<&Map<String, Value>, WriteError> {
    match data {
        Value::Object(m) => Ok(m),
        Value::Null => Err(non_field("No data provided")),
        other => Err(non_field(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            py::type_name(other)
        ))),
    }
}

/// The stored value of a field the body omitted on create.
pub fn default_value(d: Dflt) -> Value {
    match d {
        Dflt::Null | Dflt::Missing => Value::Null,
        Dflt::Bool(b) => Value::Bool(b),
        Dflt::Int(i) => Value::from(i),
        Dflt::Float(f) => Value::from(f),
        Dflt::Str(s) => Value::String(s.into()),
        Dflt::EmptyList => Value::Array(Vec::new()),
        Dflt::List(items) => Value::from(items.to_vec()),
    }
}
