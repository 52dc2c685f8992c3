use super::*;
use AdoptionPolicy::{Always, IfMatch, Never};
use ManagementPolicy::{Manage, Observe};
use serde_json::json;

const PLAIN: Shape = Shape {
    set_fields: &[],
    always_send: &[],
    renamed: &[],
    guarded: &[],
    one_of: &[],
    secrets: &[],
};
/// A kind whose writes need a list the spec may leave out (like identification stages).
const NEEDS_LIST: Shape = Shape {
    always_send: &["user_fields"],
    ..PLAIN
};

fn desired() -> Map<String, Value> {
    json!({"name": "login", "order": 1})
        .as_object()
        .unwrap()
        .clone()
}

fn body(in_sync: bool) -> Value {
    json!({"pk": "p1", "name": "login", "order": if in_sync { 1 } else { 2 }, "user_fields": []})
}

/// What a resource carries into the reconcile.
#[derive(Clone, Copy, Debug)]
enum Had {
    /// Never reconciled.
    Nothing,
    /// The create marker: the finalizer and the `created-name` annotation, no status.
    Marker,
    /// The create marker of earlier releases: the name in the status, no pk.
    StatusMarker,
    /// A pk from an earlier create, the marker still on the resource.
    Pk,
}

/// A Ready condition: the last reconcile brought authentik in line.
fn ready() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: "Synced".into(),
        message: String::new(),
        observed_generation: Some(1),
        last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::UNIX_EPOCH,
        ),
    }
}

fn status(had: Had) -> Option<StageStatus> {
    match had {
        Had::Nothing | Had::Marker => None,
        Had::StatusMarker => Some(StageStatus {
            name: Some("login".into()),
            ..Default::default()
        }),
        Had::Pk => Some(StageStatus {
            name: Some("login".into()),
            pk: Some("p0".into()),
            observed_generation: Some(1),
            conditions: vec![ready()],
            ..Default::default()
        }),
    }
}

/// The record of `had`, with its status `st` (from [`status`]).
fn rec(had: Had, st: &Option<StageStatus>) -> Record<'_> {
    let marked = matches!(had, Had::Marker | Had::Pk);
    Record {
        status: st.as_ref(),
        created_name: marked.then_some("login"),
        finalized: !matches!(had, Had::Nothing),
    }
}

fn facts<'a>(
    management: ManagementPolicy,
    adoption: AdoptionPolicy,
    record: Record<'a>,
    desired: &'a Map<String, Value>,
    remote: &'a Remote,
) -> Facts<'a> {
    Facts {
        management,
        adoption,
        record,
        generation: Some(1),
        key: "login",
        what: "stage named \"login\"",
        desired,
        shape: PLAIN,
        guarded_allowed: false,
        remote,
        view_confirmed: true,
        secrets: &NO_SECRETS,
    }
}

static NO_SECRETS: BTreeMap<String, String> = BTreeMap::new();

/// The plan in a few words, for tables.
fn said(plan: &Plan) -> String {
    match plan {
        Plan::Recheck(Recheck::View) => "confirm view".into(),
        Plan::Recheck(Recheck::Object { pk }) => format!("refresh {pk}"),
        Plan::Recheck(Recheck::Name) => "look up the name".into(),
        Plan::Act(Act::Create(Create {
            mark,
            clear_pk,
            recreate,
            checked,
        })) => format!(
            "create{}{}{}{}",
            if *mark { " after marking" } else { "" },
            if *clear_pk { " clearing the pk" } else { "" },
            if *recreate { " again" } else { "" },
            if *checked { "" } else { " unchecked" }
        ),
        Plan::Act(Act::Bind {
            pk,
            adopted,
            diff,
            write,
        }) => format!(
            "{} {pk}{}{}",
            if *adopted { "adopt" } else { "bind" },
            if diff.in_sync() { "" } else { " drifted" },
            match write {
                None => String::new(),
                Some(Correction::Updated) => ", update".into(),
                Some(Correction::DriftCorrected) => ", correct drift".into(),
            }
        ),
        Plan::Act(Act::Refuse { error, .. }) => format!("refuse {}", error.reason()),
    }
}

#[test]
fn a_stage_found_by_name_behaviour_table() {
    let named = |in_sync| Remote::Named {
        pk: "p1".into(),
        body: body(in_sync),
    };
    // (management, adoption, status, in sync) → plan. Never reconciled = someone else's
    // stage; the create marker = our own create whose answer was lost.
    let table = [
        (Manage, Never, Had::Nothing, true, "refuse AlreadyExists"),
        (Manage, Never, Had::Nothing, false, "refuse AlreadyExists"),
        (Manage, IfMatch, Had::Nothing, true, "adopt p1"),
        (
            Manage,
            IfMatch,
            Had::Nothing,
            false,
            "refuse AdoptionMismatch",
        ),
        (Manage, Always, Had::Nothing, true, "adopt p1"),
        (
            Manage,
            Always,
            Had::Nothing,
            false,
            "adopt p1 drifted, update",
        ),
        // Our own create, whatever the policy: taken back silently, and corrected.
        (Manage, Never, Had::Marker, true, "bind p1"),
        (Manage, Never, Had::Marker, false, "bind p1 drifted, update"),
        (
            Manage,
            IfMatch,
            Had::Marker,
            false,
            "bind p1 drifted, update",
        ),
        (Manage, Always, Had::Marker, true, "bind p1"),
        // Observe mode takes what it finds and never writes.
        (Observe, Never, Had::Nothing, true, "bind p1"),
        (Observe, Never, Had::Nothing, false, "bind p1 drifted"),
        (Observe, IfMatch, Had::Marker, false, "bind p1 drifted"),
        (Observe, Always, Had::Nothing, false, "bind p1 drifted"),
    ];
    let desired = desired();
    for (management, adoption, had, in_sync, want) in table {
        let st = status(had);
        let remote = named(in_sync);
        let got = plan(&facts(
            management,
            adoption,
            rec(had, &st),
            &desired,
            &remote,
        ));
        assert_eq!(
            said(&got),
            want,
            "{management:?} {adoption:?} {had:?} in_sync={in_sync}"
        );
    }
}

#[test]
fn a_refused_stage_shows_how_it_differs() {
    let desired = desired();
    let remote = Remote::Named {
        pk: "p1".into(),
        body: body(false),
    };
    let Plan::Act(Act::Refuse { diff: Some(d), .. }) = plan(&facts(
        Manage,
        IfMatch,
        Record::default(),
        &desired,
        &remote,
    )) else {
        panic!("IfMatch refuses a differing stage")
    };
    assert_eq!(d.drift[0].field, "order");
}

#[test]
fn someone_elses_stage_is_judged_only_on_a_confirmed_view() {
    // Our own create marker may not have reached the cached object yet: before calling a
    // stage foreign, the view must be confirmed current.
    let desired = desired();
    let remote = Remote::Named {
        pk: "p1".into(),
        body: body(true),
    };
    for adoption in [Never, IfMatch, Always] {
        let mut f = facts(Manage, adoption, Record::default(), &desired, &remote);
        f.view_confirmed = false;
        assert_eq!(said(&plan(&f)), "confirm view", "{adoption:?}");
    }
    // Our own (the marker is in view) and Observe mode need no confirmation.
    let marker = status(Had::Marker);
    let mut f = facts(Manage, Never, rec(Had::Marker, &marker), &desired, &remote);
    f.view_confirmed = false;
    assert_eq!(said(&plan(&f)), "bind p1");
    let mut f = facts(Observe, Never, Record::default(), &desired, &remote);
    f.view_confirmed = false;
    assert_eq!(said(&plan(&f)), "bind p1");
}

#[test]
fn nothing_found_behaviour_table() {
    // (management, status, after the known pk vanished) → plan
    let table = [
        // One write (finalizer and marker) before the create.
        (Manage, Had::Nothing, false, "create after marking"),
        // The marker is already written: no write before the create.
        (Manage, Had::Marker, false, "create"),
        // The marker of earlier releases: the finalizer and the annotation take over.
        (Manage, Had::StatusMarker, false, "create after marking"),
        // The stage vanished: its pk leaves the status before the create, the marker stays.
        (Manage, Had::Pk, true, "create clearing the pk again"),
        (Observe, Had::Nothing, false, "refuse NotFound"),
        (Observe, Had::Pk, true, "refuse NotFound"),
    ];
    let desired = desired();
    for (management, had, after_vanished, want) in table {
        let st = status(had);
        let remote = Remote::Absent { after_vanished };
        for adoption in [Never, IfMatch, Always] {
            let got = plan(&facts(
                management,
                adoption,
                rec(had, &st),
                &desired,
                &remote,
            ));
            assert_eq!(said(&got), want, "{management:?} {had:?} {adoption:?}");
        }
    }
    // The sweep's recent list says no stage holds the name: create without asking, unless
    // our own earlier create may hold it (the marker) or Observe mode is about to say no.
    let table = [
        (
            Manage,
            Had::Nothing,
            false,
            "create after marking unchecked",
        ),
        (
            Manage,
            Had::Pk,
            true,
            "create clearing the pk again unchecked",
        ),
        (Manage, Had::Marker, false, "look up the name"),
        (Manage, Had::StatusMarker, false, "look up the name"),
        (Observe, Had::Nothing, false, "look up the name"),
    ];
    for (management, had, after_vanished, want) in table {
        let st = status(had);
        let remote = Remote::Unlisted { after_vanished };
        let got = plan(&facts(management, Never, rec(had, &st), &desired, &remote));
        assert_eq!(said(&got), want, "{management:?} {had:?}");
    }
    // The list (or our own create since) holds the name: our own create, by the marker,
    // first confirms the view, which may lag behind the status write with its pk; anything
    // else asks authentik.
    let table = [
        (Manage, Had::Marker, false, "confirm view"),
        (Manage, Had::Marker, true, "look up the name"),
        (Manage, Had::StatusMarker, false, "confirm view"),
        (Manage, Had::Nothing, false, "look up the name"),
        (Observe, Had::Marker, false, "look up the name"),
    ];
    for (management, had, confirmed, want) in table {
        let st = status(had);
        let remote = Remote::Listed {
            after_vanished: false,
        };
        let mut f = facts(management, Never, rec(had, &st), &desired, &remote);
        f.view_confirmed = confirmed;
        assert_eq!(said(&plan(&f)), want, "{management:?} {had:?} {confirmed}");
    }
    // Observe mode does not recreate a stage that vanished.
    let gone = Remote::Vanished { pk: "p0".into() };
    let (had, st) = (Had::Pk, status(Had::Pk));
    let got = plan(&facts(Observe, Never, rec(had, &st), &desired, &gone));
    assert_eq!(said(&got), "refuse NotFound");
}

#[test]
fn the_known_stage_behaviour_table() {
    // (management, spec changed since last reconcile, in sync) → plan
    let table = [
        (Manage, false, true, "bind p0"),
        (Manage, false, false, "bind p0 drifted, correct drift"),
        (Manage, true, false, "bind p0 drifted, update"),
        (Manage, true, true, "bind p0"),
        (Observe, false, false, "bind p0 drifted"),
        (Observe, true, false, "bind p0 drifted"),
    ];
    let desired = desired();
    let (had, st) = (Had::Pk, status(Had::Pk));
    for (management, spec_changed, in_sync, want) in table {
        let remote = Remote::AtPk {
            pk: "p0".into(),
            body: body(in_sync),
            fresh: false,
        };
        let mut f = facts(management, Always, rec(had, &st), &desired, &remote);
        f.generation = Some(if spec_changed { 2 } else { 1 });
        assert_eq!(said(&plan(&f)), want, "{management:?} {spec_changed}");
    }
}

#[test]
fn a_patch_that_fills_required_lists_reads_the_stage_fresh_first() {
    let desired = desired();
    let (had, st) = (Had::Pk, status(Had::Pk));
    let at = |in_sync, fresh| Remote::AtPk {
        pk: "p0".into(),
        body: body(in_sync),
        fresh,
    };
    // (in sync, read fresh, spec sets the list) → plan
    let table = [
        (false, false, false, "refresh p0"),
        (false, true, false, "bind p0 drifted, correct drift"),
        (true, false, false, "bind p0"),
        (false, false, true, "bind p0 drifted, correct drift"),
    ];
    for (in_sync, fresh, sets_list, want) in table {
        let mut desired = desired.clone();
        if sets_list {
            desired.insert("user_fields".into(), json!([]));
        }
        let remote = at(in_sync, fresh);
        let mut f = facts(Manage, Never, rec(had, &st), &desired, &remote);
        f.shape = NEEDS_LIST;
        assert_eq!(said(&plan(&f)), want, "{in_sync} {fresh} {sets_list}");
    }
}

#[test]
fn a_create_sends_required_lists_empty_unless_the_spec_sets_them() {
    const LISTS: Shape = Shape {
        set_fields: &["user_fields", "sources"],
        always_send: &["user_fields", "sources", "check_ip"],
        ..PLAIN
    };
    let mut desired = desired();
    let body = create_body(&desired, &LISTS);
    assert_eq!(body["user_fields"], json!([]));
    assert_eq!(body["sources"], json!([]));
    // A field every PATCH carries that is no list is left to authentik's default.
    assert!(!body.contains_key("check_ip"));
    desired.insert("user_fields".into(), json!(["email"]));
    assert_eq!(
        create_body(&desired, &LISTS)["user_fields"],
        json!(["email"])
    );
}

#[test]
fn a_field_stored_differently_is_rejected_not_rewritten() {
    let desired = desired();
    assert!(not_kept(&diff(&desired, &body(true), &PLAIN)).is_none());
    let err = not_kept(&diff(&desired, &body(false), &PLAIN)).expect("differs");
    assert_eq!(err.reason(), "AuthentikRejected");
    assert!(!err.is_transient(), "retrying cannot make it converge");
    assert!(
        err.to_string().contains("order (sent 1, stored 2)"),
        "{err}"
    );
}

#[test]
fn the_create_marker_is_a_name_without_a_pk() {
    let status = |name: Option<&str>, pk: Option<&str>| StageStatus {
        name: name.map(str::to_string),
        pk: pk.map(str::to_string),
        ..Default::default()
    };
    fn record<'a>(created: Option<&'a str>, st: &'a Option<StageStatus>) -> Record<'a> {
        Record {
            status: st.as_ref(),
            created_name: created,
            finalized: true,
        }
    }
    let (none, with_pk) = (None, Some(status(Some("a"), Some("pk"))));
    let (name_only, other_name) = (Some(status(Some("a"), None)), Some(status(Some("b"), None)));
    // The annotation, no pk: ours.
    assert!(is_own_create(record(Some("a"), &none), "a"));
    assert!(!is_own_create(record(Some("b"), &none), "a"));
    // A pk in the status: the marker is of a create that answered; a stage of the same
    // name now is someone else's.
    assert!(!is_own_create(record(Some("a"), &with_pk), "a"));
    // The marker of earlier releases.
    assert!(is_own_create(record(None, &name_only), "a"));
    assert!(!is_own_create(record(None, &other_name), "a"));
    assert!(!is_own_create(record(None, &none), "a"));
}

#[test]
fn a_correction_is_an_update_only_when_the_spec_changed() {
    assert_eq!(correction(Some(2), Some(1), true), Correction::Updated);
    assert_eq!(correction(Some(1), None, false), Correction::Updated);
    assert_eq!(
        correction(Some(2), Some(2), true),
        Correction::DriftCorrected
    );
    // The new generation was observed by an attempt that failed (a reference not ready):
    // the write that follows is still the user's update.
    assert_eq!(correction(Some(2), Some(2), false), Correction::Updated);
}

#[test]
fn deletion_behaviour_table() {
    use DeletionPolicy::{Delete, Orphan};
    let known = status(Had::Pk);
    let marker = status(Had::StatusMarker);
    let observed = Some(StageStatus {
        observed_only: true,
        ..known.clone().unwrap()
    });
    let elsewhere = Some(StageStatus {
        connection: Some("other/authentik".into()),
        ..known.clone().unwrap()
    });
    let refs = || vec!["IdentificationStage default/login".to_string()];
    let at = || Deletion::AtPk("p0".into());
    let by_key = || Deletion::ByKey("login".into());
    let blocked = |at: &str| Deletion::Blocked {
        referrers: refs(),
        object: if at == "p0" {
            super::At::Pk(at.into())
        } else {
            super::At::Key(at.into())
        },
    };
    let orphan = |pk: Option<&str>| Deletion::Orphan {
        pk: pk.map(str::to_string),
    };
    // (management, policy, status, referrers, forced) → deletion
    let table = [
        (Manage, Delete, &known, vec![], false, at()),
        (Manage, Delete, &known, refs(), false, blocked("p0")),
        (Manage, Delete, &known, refs(), true, at()),
        (Manage, Delete, &marker, vec![], false, by_key()),
        (Manage, Delete, &marker, refs(), false, blocked("login")),
        (Manage, Delete, &None, vec![], false, Deletion::Nothing),
        // Nothing of ours to delete: no reason to block on referrers either.
        (Manage, Delete, &None, refs(), false, Deletion::Nothing),
        (Manage, Delete, &observed, vec![], false, Deletion::Nothing),
        (Manage, Delete, &elsewhere, vec![], false, Deletion::Nothing),
        (Manage, Orphan, &known, refs(), false, orphan(Some("p0"))),
        (Manage, Orphan, &None, vec![], false, orphan(None)),
        (Observe, Delete, &known, vec![], false, orphan(Some("p0"))),
    ];
    for (management, policy, st, referrers, forced, want) in table {
        let record = Record {
            status: st.as_ref(),
            ..Record::default()
        };
        let got = deletion(
            management,
            policy,
            record,
            "default/authentik",
            referrers,
            forced,
        );
        assert_eq!(
            got, want,
            "{management:?} {policy:?} {st:?} forced={forced}"
        );
    }
    // The create marker on the resource, no status yet: a create whose answer was lost.
    let marked = Record {
        created_name: Some("login"),
        finalized: true,
        ..Record::default()
    };
    let got = deletion(Manage, Delete, marked, "default/authentik", vec![], false);
    assert_eq!(got, Deletion::ByKey("login".into()));
}

#[test]
fn a_guarded_field_changes_only_when_the_resource_allows_it() {
    const FLOW: Shape = Shape {
        guarded: &["designation"],
        ..PLAIN
    };
    let desired = json!({"slug": "login", "designation": "authentication", "title": "Hi"});
    let desired = desired.as_object().unwrap().clone();
    let remote = |designation: &str| Remote::AtPk {
        pk: "p0".into(),
        body: json!({"pk": "p0", "slug": "login", "designation": designation, "title": "Old"}),
        fresh: true,
    };
    let st = status(Had::Pk);
    let record = Record {
        status: st.as_ref(),
        created_name: Some("login"),
        finalized: true,
    };
    // (remote designation, allowed) → plan
    let table = [
        ("authentication", false, "bind p0 drifted, correct drift"),
        ("enrollment", false, "refuse ChangeRefused"),
        ("enrollment", true, "bind p0 drifted, correct drift"),
    ];
    for (designation, allowed, want) in table {
        let remote = remote(designation);
        let mut f = facts(Manage, Never, record, &desired, &remote);
        f.shape = FLOW;
        f.guarded_allowed = allowed;
        let got = said(&plan(&f));
        assert!(
            got.starts_with(want),
            "{designation} allowed={allowed}: {got}"
        );
    }
}
