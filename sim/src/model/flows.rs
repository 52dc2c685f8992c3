//! Flow, flow-stage binding and event enums.

use super::Choice;
use crate::profile::Profile::{Current, V2023_10, V2024_4};

/// Flow enums (`FlowDesignationEnum` and friends), with their defaults first where they have one.
pub const DESIGNATIONS: &[Choice] = &[
    ("authentication", V2023_10),
    ("authorization", V2023_10),
    ("invalidation", V2023_10),
    ("enrollment", V2023_10),
    ("unenrollment", V2023_10),
    ("recovery", V2023_10),
    ("stage_configuration", V2023_10),
];
pub const POLICY_ENGINE_MODES: &[Choice] = &[("all", V2023_10), ("any", V2023_10)];
pub const LAYOUTS: &[Choice] = &[
    ("stacked", V2023_10),
    ("content_left", V2023_10),
    ("content_right", V2023_10),
    ("sidebar_left", V2023_10),
    ("sidebar_right", V2023_10),
    ("sidebar_left_frame_background", Current),
    ("sidebar_right_frame_background", Current),
];
pub const DENIED_ACTIONS: &[Choice] = &[
    ("message_continue", V2023_10),
    ("message", V2023_10),
    ("continue", V2023_10),
];
pub const FLOW_AUTHENTICATION: &[Choice] = &[
    ("none", V2023_10),
    ("require_authenticated", V2023_10),
    ("require_unauthenticated", V2023_10),
    ("require_superuser", V2023_10),
    ("require_redirect", V2024_4),
    ("require_outpost", V2024_4),
    ("require_token", Current),
];

/// `FlowStageBinding.invalid_response_action`.
pub const INVALID_RESPONSE_ACTIONS: &[Choice] = &[
    ("retry", V2023_10),
    ("restart", V2023_10),
    ("restart_with_context", V2023_10),
];

/// `EventAction`, in the order of the current release's enum.
pub const EVENT_ACTIONS: &[Choice] = &[
    ("login", V2023_10),
    ("login_failed", V2023_10),
    ("logout", V2023_10),
    ("user_write", V2023_10),
    ("suspicious_request", V2023_10),
    ("password_set", V2023_10),
    ("secret_view", V2023_10),
    ("secret_rotate", V2023_10),
    ("invitation_used", V2023_10),
    ("authorize_application", V2023_10),
    ("source_linked", V2023_10),
    ("impersonation_started", V2023_10),
    ("impersonation_ended", V2023_10),
    ("flow_execution", V2023_10),
    ("policy_execution", V2023_10),
    ("policy_exception", V2023_10),
    ("property_mapping_exception", V2023_10),
    ("system_task_execution", V2023_10),
    ("system_task_exception", V2023_10),
    ("system_exception", V2023_10),
    ("configuration_error", V2023_10),
    ("configuration_warning", Current),
    ("model_created", V2023_10),
    ("model_updated", V2023_10),
    ("model_deleted", V2023_10),
    ("email_sent", V2023_10),
    ("update_available", V2023_10),
    ("export_ready", Current),
    ("review_initiated", Current),
    ("review_overdue", Current),
    ("review_attested", Current),
    ("review_completed", Current),
    ("custom_", V2023_10),
];
