//! Version profiles: which authentik release the simulator pretends to be.
//!
//! Every difference the simulator knows about between releases is a method here, so the
//! route code asks "does this profile do X" instead of comparing versions itself.

use std::fmt;
use std::str::FromStr;

/// The authentik release the simulator behaves like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// authentik 2023.10.7 (Python 3.11, DRF 3.14).
    V2023_10,
    /// authentik 2024.4.4 (Python 3.12, DRF 3.14).
    V2024_4,
    /// authentik 2026.2.2, the newest release the reference transcripts hold.
    #[default]
    Current,
}

/// The error of parsing a [`Profile`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?}: expected 2023.10, 2024.4 or current")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "2023.10" | "2023.10.7" => Ok(Profile::V2023_10),
            "2024.4" | "2024.4.4" => Ok(Profile::V2024_4),
            "current" | "latest" => Ok(Profile::Current),
            _ => Err(UnknownProfile(s.to_string())),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::V2023_10 => "2023.10",
            Profile::V2024_4 => "2024.4",
            Profile::Current => "current",
        })
    }
}

impl Profile {
    /// `version_current` of `/api/v3/admin/version/`.
    pub fn version(self) -> &'static str {
        match self {
            Profile::V2023_10 => "2023.10.7",
            Profile::V2024_4 => "2024.4.4",
            Profile::Current => "2026.2.2",
        }
    }

    /// Page size when `page_size` is absent or invalid.
    pub fn default_page_size(self) -> u128 {
        if self == Profile::Current { 20 } else { 100 }
    }

    /// Cap on `page_size` (none before 2025.12).
    pub fn max_page_size(self) -> Option<u128> {
        (self == Profile::Current).then_some(100)
    }

    /// Whether list bodies carry `autocomplete: {}` (2025.8 on).
    pub fn autocomplete(self) -> bool {
        self == Profile::Current
    }

    /// 404 bodies name the model ("No PasswordStage matches the given query.") from 2025.4 on;
    /// before, DRF 3.14 always said "Not found.".
    pub fn model_not_found_message(self) -> bool {
        self == Profile::Current
    }

    /// `used_by` actions were upper case (`SET_NULL`) on the old releases.
    pub fn upper_case_used_by(self) -> bool {
        self < Profile::Current
    }

    /// `flow_set` was a writable nested field up to 2025.10 (writing it is a server error).
    pub fn flow_set_writable(self) -> bool {
        self < Profile::Current
    }

    /// Anonymous requests on detail routes get "You do not have permission…" (2024.4 on, per
    /// the transcripts) instead of "Authentication credentials were not provided.".
    pub fn anonymous_detail_is_permission_denied(self) -> bool {
        self >= Profile::V2024_4
    }

    /// A non-Bearer `Authorization` header is refused with "Unsupported authentication type"
    /// up to 2025.10; later releases ignore it (anonymous).
    pub fn rejects_non_bearer(self) -> bool {
        self < Profile::Current
    }

    /// DRF 3.15+ keeps quoted phrases together in `search`.
    pub fn quoted_search_phrases(self) -> bool {
        self == Profile::Current
    }

    /// Python 3.13+ reports "Illegal trailing comma before end of object/array".
    pub fn json_trailing_comma_message(self) -> bool {
        self == Profile::Current
    }

    /// Integer choices (`digits`) render as their text keys from 2024.4 on.
    pub fn int_choices_as_text(self) -> bool {
        self >= Profile::V2024_4
    }

    /// A policy binding's `group_obj` is the partial group serializer on current releases.
    pub fn partial_group_in_bindings(self) -> bool {
        self == Profile::Current
    }

    /// Current releases ask a binding's target which of policy/group/user it supports (the
    /// message lists them sorted) and fail inside the server when a write has no target.
    pub fn sorted_binding_kinds(self) -> bool {
        self == Profile::Current
    }

    /// Policy bindings list in `(order, pk)` order on current releases, `(target, order)`
    /// before.
    pub fn policy_bindings_by_order(self) -> bool {
        self == Profile::Current
    }

    /// Model events carry a `diff` of the change (2024.x only).
    pub fn event_diff(self) -> bool {
        self == Profile::V2024_4
    }

    /// 2023.10 records token-authenticated API changes as made by `AnonymousUser`.
    pub fn events_anonymous(self) -> bool {
        self == Profile::V2023_10
    }

    /// Events carry `http_request.request_id` and lists an `autocomplete` schema (2025.x on).
    pub fn event_request_id(self) -> bool {
        self == Profile::Current
    }

    /// Events name the `tenant` (2023.10) or the `brand` (2024.4 on).
    pub fn event_tenant(self) -> bool {
        self == Profile::V2023_10
    }

    /// Flow slugs were limited to 50 characters up to 2025.10.
    pub fn flow_slug_max_length(self) -> Option<usize> {
        (self < Profile::Current).then_some(50)
    }
}
