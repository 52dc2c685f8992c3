//! What `plan` reports: per resource, what happens to it and which fields change. Built by
//! [`super::plan`], rendered by [`super::plan_output`].

use serde::Serialize;

/// What happens to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Adopt,
    AdoptAndUpdate,
    RefuseToAdopt,
    Refused,
    NameConflict,
    Observe,
    NotCompared,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::Adopt => "adopt",
            Action::AdoptAndUpdate => "adopt and update",
            Action::RefuseToAdopt => "refuse to adopt",
            Action::Refused => "refused",
            Action::NameConflict => "name conflict",
            Action::Observe => "observe",
            Action::NotCompared => "not compared",
        }
    }

    /// Whether the plan has something to review (terraform's "changes").
    pub fn is_change(self) -> bool {
        !matches!(self, Action::Unchanged | Action::NotCompared)
    }
}

/// One field that changes: `current` is `None` for a create.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub desired: String,
    /// The field's list carries no order: compare as sets.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub set: bool,
    /// The reference as written, for a reference field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The plan of one resource.
#[derive(Clone, Debug, Serialize)]
pub struct ResourcePlan {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The authentik object, as messages name it.
    pub object: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pk: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub resources: Vec<ResourcePlan>,
    /// What could not be checked (no authentik, rules not evaluated).
    pub unchecked: Vec<String>,
    /// Why manifests could not be planned (the file, the document, the field); the others
    /// are planned all the same.
    pub errors: Vec<String>,
}

impl Report {
    pub fn has_changes(&self) -> bool {
        self.resources.iter().any(|r| r.action.is_change())
    }
}
