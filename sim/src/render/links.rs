//! Policy bindings, groups and users.

use serde_json::Value;

use crate::out::Out;
use crate::policy_bindings::PolicyBinding;
use crate::profile::Profile;
use crate::state::{Group, State, User};

fn s(v: &str) -> Out {
    Out::Str(v.to_string())
}

/// `PolicyBindingSerializer` (`/policies/bindings/`).
pub fn policy_binding(state: &State, profile: Profile, b: &PolicyBinding) -> Out {
    let d = &b.data;
    let uuid = |u: Option<uuid::Uuid>| u.map_or(Out::Null, |u| Out::Str(u.to_string()));
    let policy_obj = d
        .policy
        .and_then(|p| state.policies.get(&p))
        .map_or(Out::Null, |p| super::obj(state, profile, p));
    let group_obj = d
        .group
        .and_then(|g| state.groups.get(&g))
        .map_or(Out::Null, |g| {
            if profile.partial_group_in_bindings() {
                partial_group(g)
            } else {
                group(profile, g)
            }
        });
    let user_obj = d
        .user
        .and_then(|u| state.user(u))
        .map_or(Out::Null, partial_user);
    let target = state
        .pbm_object_pk(d.target)
        .map_or(Out::Null, |t| Out::Str(t.to_string()));
    Out::obj([
        ("pk", Out::Str(b.pk.to_string())),
        ("policy", uuid(d.policy)),
        ("group", uuid(d.group)),
        ("user", d.user.map_or(Out::Null, Out::Int)),
        ("policy_obj", policy_obj),
        ("group_obj", group_obj),
        ("user_obj", user_obj),
        ("target", target),
        ("negate", Out::Bool(d.negate)),
        ("enabled", Out::Bool(d.enabled)),
        ("order", Out::Int(d.order)),
        ("timeout", Out::Int(d.timeout)),
        ("failure_result", Out::Bool(d.failure_result)),
    ])
}

/// `GroupSerializer` (no members or roles are modelled).
pub fn group(profile: Profile, g: &Group) -> Out {
    let mut pairs: Vec<(String, Out)> = vec![
        ("pk".into(), Out::Str(g.pk.to_string())),
        ("num_pk".into(), Out::Int(g.num_pk)),
        ("name".into(), s(&g.name)),
        ("is_superuser".into(), Out::Bool(g.is_superuser)),
    ];
    let parent = g.parent.map(|p| p.to_string());
    if profile == Profile::Current {
        pairs.push(("parents".into(), Out::strings(parent.clone())));
        pairs.push(("parents_obj".into(), Out::Null));
    } else {
        pairs.push(("parent".into(), Out::from(parent)));
        pairs.push(("parent_name".into(), Out::Null));
    }
    pairs.extend([
        ("users".into(), Out::Arr(Vec::new())),
        ("users_obj".into(), Out::Arr(Vec::new())),
        ("attributes".into(), Out::from(g.attributes.clone())),
        ("roles".into(), Out::Arr(Vec::new())),
        ("roles_obj".into(), Out::Arr(Vec::new())),
    ]);
    if profile == Profile::Current {
        pairs.push(("inherited_roles_obj".into(), Out::Null));
        pairs.push(("children".into(), Out::Arr(Vec::new())));
        pairs.push(("children_obj".into(), Out::Null));
    }
    Out::Obj(pairs)
}

/// `PartialGroupSerializer`.
fn partial_group(g: &Group) -> Out {
    Out::obj([
        ("pk", Out::Str(g.pk.to_string())),
        ("num_pk", Out::Int(g.num_pk)),
        ("name", s(&g.name)),
        ("is_superuser", Out::Bool(g.is_superuser)),
        ("attributes", Out::from(g.attributes.clone())),
    ])
}

/// `PartialUserSerializer`.
pub fn partial_user(u: &User) -> Out {
    Out::obj([
        ("pk", Out::Int(u.pk)),
        ("username", s(&u.username)),
        ("name", s(&u.name)),
        ("is_active", Out::Bool(true)),
        ("last_login", Out::Null),
        ("email", s(&u.email)),
        ("attributes", Out::Val(Value::Object(Default::default()))),
        ("uid", Out::Str(u.uid())),
    ])
}

/// `UserSerializer` as the OpenAPI schema lists it (what the simulator knows of a user).
pub fn user(u: &User) -> Out {
    Out::obj([
        ("pk", Out::Int(u.pk)),
        ("username", s(&u.username)),
        ("name", s(&u.name)),
        ("is_active", Out::Bool(true)),
        ("last_login", Out::Null),
        ("date_joined", s("2026-01-01T00:00:00Z")),
        ("is_superuser", Out::Bool(u.username == "akadmin")),
        ("groups", Out::Arr(Vec::new())),
        ("groups_obj", Out::Arr(Vec::new())),
        ("roles", Out::Arr(Vec::new())),
        ("roles_obj", Out::Arr(Vec::new())),
        ("email", s(&u.email)),
        ("avatar", s("/static/dist/assets/images/user_default.png")),
        ("attributes", Out::Val(Value::Object(Default::default()))),
        ("uid", Out::Str(u.uid())),
        ("path", s("users")),
        ("type", s("internal")),
        ("uuid", Out::Str(u.uuid.to_string())),
        ("password_change_date", s("2026-01-01T00:00:00Z")),
        ("last_updated", s("2026-01-01T00:00:00Z")),
    ])
}
