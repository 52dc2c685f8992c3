//! The event log: the `model_created`, `model_updated` and `model_deleted` events authentik's
//! audit middleware writes for every change made through the API (cascaded deletes included,
//! with the request that caused them), and `/events/events/` with its filters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{EVENT_ACTIONS, choices};
use crate::out::Out;
use crate::profile::Profile;
use crate::query::Query;
use crate::state::{Change, User};

/// How long authentik keeps an event (`expires`).
const RETENTION: Duration = Duration::from_secs(365 * 24 * 3600);

/// At most this many events are kept (the oldest go first), so that long benchmark runs
/// stay bounded; a follower sees this as the log being cleaned.
pub const EVENT_CAPACITY: usize = 100_000;

/// What the audit middleware knows of the request that made a change.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub method: String,
    /// The full path (`/api/v3/...`).
    pub path: String,
    pub args: Vec<(String, String)>,
    pub user_agent: String,
    pub user: User,
}

impl RequestInfo {
    pub fn new(method: &str, api_path: &str, q: &Query, headers: &HeaderMap, user: User) -> Self {
        let user_agent = headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        RequestInfo {
            method: method.to_string(),
            path: format!("/api/v3/{api_path}"),
            args: q.pairs().to_vec(),
            user_agent,
            user,
        }
    }
}

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    pub pk: Uuid,
    pub user: Out,
    pub username: String,
    pub action: &'static str,
    pub model_app: String,
    pub model_name: String,
    /// The object's pk as authentik stores it (a uuid's hex, without dashes).
    pub model_pk: String,
    pub context: Out,
    pub created: SystemTime,
}

/// The log and its switches.
#[derive(Debug, Default)]
pub struct EventLog {
    pub events: std::collections::VecDeque<Event>,
    /// When set, new events are dropped.
    pub paused: bool,
    /// When set, `/events/events/` answers 403.
    pub forbidden: bool,
    /// The install's default brand (or tenant), named in every event.
    pub brand: Uuid,
    last: Option<SystemTime>,
}

impl EventLog {
    pub fn new() -> EventLog {
        EventLog {
            brand: Uuid::new_v4(),
            ..EventLog::default()
        }
    }

    /// A strictly increasing timestamp (events of one request keep their order).
    fn now(&mut self) -> SystemTime {
        let mut t = SystemTime::now();
        if let Some(last) = self.last
            && t <= last
        {
            t = last + Duration::from_micros(1);
        }
        self.last = Some(t);
        t
    }

    /// Turn recorded changes into events.
    pub fn record(&mut self, changes: Vec<Change>, req: &RequestInfo, profile: Profile) {
        if self.paused {
            return;
        }
        let (user, username) = if profile.events_anonymous() {
            (
                Out::obj([
                    ("pk", Out::Int(1)),
                    ("email", Out::str("")),
                    ("username", Out::str("AnonymousUser")),
                ]),
                "AnonymousUser".to_string(),
            )
        } else {
            (
                Out::obj([
                    ("pk", Out::Int(req.user.pk)),
                    ("email", Out::str(req.user.email.clone())),
                    ("username", Out::str(req.user.username.clone())),
                ]),
                req.user.username.clone(),
            )
        };
        let request_id = Uuid::new_v4().simple().to_string();
        for c in changes {
            let (app, model_name) = c.subject.model(profile);
            let pk = c.pk.simple().to_string();
            let mut context: Vec<(String, Out)> = Vec::new();
            if profile.event_diff() && c.action != crate::state::ChangeKind::Deleted {
                context.push(("diff".into(), Out::Val(Value::Object(c.diff.clone()))));
            }
            context.push((
                "model".into(),
                Out::obj([
                    ("pk", Out::Str(pk.clone())),
                    ("app", Out::str(app)),
                    ("name", Out::Str(c.name.clone())),
                    ("model_name", Out::str(model_name)),
                ]),
            ));
            let args: Map<String, Value> = req
                .args
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let mut http = vec![
                ("args".to_string(), Out::Val(Value::Object(args))),
                ("path".to_string(), Out::Str(req.path.clone())),
                ("method".to_string(), Out::Str(req.method.clone())),
            ];
            if profile.event_request_id() {
                http.push(("request_id".into(), Out::Str(request_id.clone())));
            }
            http.push(("user_agent".into(), Out::Str(req.user_agent.clone())));
            context.push(("http_request".into(), Out::Obj(http)));
            let created = self.now();
            if self.events.len() >= EVENT_CAPACITY {
                self.events.pop_front();
            }
            self.events.push_back(Event {
                pk: Uuid::new_v4(),
                user: user.clone(),
                username: username.clone(),
                action: c.action.action(),
                model_app: app.to_string(),
                model_name: model_name.to_string(),
                model_pk: pk,
                context: Out::Obj(context),
                created,
            });
        }
    }

    /// Forget events created before `before` (all of them when `None`).
    pub fn expire(&mut self, before: Option<SystemTime>) -> usize {
        let n = self.events.len();
        match before {
            None => self.events.clear(),
            Some(t) => self.events.retain(|e| e.created >= t),
        }
        n - self.events.len()
    }

    /// The events `q` selects (`EventsFilter`), or the 400 body of a bad `actions` value.
    pub fn filter(&self, q: &Query, profile: Profile) -> Result<Vec<&Event>, Out> {
        let actions: Vec<&str> = q.get_all("actions").filter(|v| !v.is_empty()).collect();
        for a in &actions {
            if !choices(EVENT_ACTIONS, profile).any(|c| c == *a) {
                let msg =
                    format!("Select a valid choice. {a} is not one of the available choices.");
                return Err(Out::obj([("actions", Out::strings([msg]))]));
            }
        }
        let nonempty = |k: &str| q.get(k).filter(|v| !v.is_empty());
        let action = nonempty("action").map(str::to_lowercase);
        let app = nonempty("context_model_app");
        let name = nonempty("context_model_name");
        let pk = nonempty("context_model_pk").map(|v| v.replace('-', ""));
        let username = nonempty("username");
        Ok(self
            .events
            .iter()
            .filter(|e| actions.is_empty() || actions.contains(&e.action))
            .filter(|e| {
                action
                    .as_ref()
                    .is_none_or(|a| e.action.contains(a.as_str()))
            })
            .filter(|e| app.is_none_or(|a| e.model_app == a))
            .filter(|e| name.is_none_or(|n| e.model_name == n))
            .filter(|e| pk.as_ref().is_none_or(|p| e.model_pk == *p))
            .filter(|e| username.is_none_or(|u| e.username == u))
            .collect())
    }

    /// `EventSerializer`.
    pub fn render(&self, e: &Event, profile: Profile) -> Out {
        let brand_key = if profile.event_tenant() {
            "tenant"
        } else {
            "brand"
        };
        let (app, name, model) = if profile.event_tenant() {
            ("authentik_tenants", "Default tenant", "tenant")
        } else {
            ("authentik_brands", "Default brand", "brand")
        };
        Out::obj([
            ("pk", Out::Str(e.pk.to_string())),
            ("user", e.user.clone()),
            ("action", Out::str(e.action)),
            ("app", Out::str("authentik.events.middleware")),
            ("context", e.context.clone()),
            ("client_ip", Out::str("127.0.0.1")),
            ("created", Out::Str(timestamp(e.created))),
            ("expires", Out::Str(timestamp(e.created + RETENTION))),
            (
                brand_key,
                Out::obj([
                    ("pk", Out::Str(self.brand.simple().to_string())),
                    ("app", Out::str(app)),
                    ("name", Out::str(name)),
                    ("model_name", Out::str(model)),
                ]),
            ),
        ])
    }
}

/// `2026-12-06T00:35:34.269332Z`.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Parse `timestamp`'s format (and whole seconds, and an offset-free `Z`).
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let micros: u64 = format!("{frac:0<6}")[..6].parse().ok()?;
    let days = u64::try_from(days_from_civil(y, m, day)).ok()?;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `autocomplete` schema current releases add to event lists (the search language's
/// fields; the `app` options are the apps of the events in the database).
pub fn autocomplete() -> Out {
    let field = |ty: &str, options: Out| {
        Out::obj([
            ("type", Out::str(ty)),
            ("nullable", Out::Bool(false)),
            ("options", options),
        ])
    };
    let relation = |to: &str| {
        Out::obj([
            ("type", Out::str("relation")),
            ("nullable", Out::Bool(false)),
            ("options", Out::Null),
            ("relation", Out::str(to)),
        ])
    };
    let text = || field("str", Out::Null);
    let actions = Out::strings(choices(EVENT_ACTIONS, Profile::Current));
    Out::obj([
        ("current_model", Out::str("authentik_events.event")),
        (
            "models",
            Out::obj([
                (
                    "authentik_events.event",
                    Out::obj([
                        ("action", field("str", actions)),
                        ("event_uuid", text()),
                        (
                            "app",
                            field(
                                "str",
                                Out::strings([
                                    "authentik.events.middleware",
                                    "authentik.events.signals",
                                ]),
                            ),
                        ),
                        ("client_ip", text()),
                        ("user", relation("authentik_events.event_user")),
                        ("brand", relation("authentik_events.event_brand")),
                        ("context", relation("authentik_events.event_context")),
                        ("created", field("datetime", Out::Arr(Vec::new()))),
                    ]),
                ),
                (
                    "authentik_events.event_user",
                    Out::obj([
                        ("pk", field("int", Out::Null)),
                        ("username", text()),
                        ("email", text()),
                    ]),
                ),
                (
                    "authentik_events.event_brand",
                    Out::obj([
                        ("pk", text()),
                        ("app", text()),
                        ("name", text()),
                        ("model_name", text()),
                    ]),
                ),
                (
                    "authentik_events.event_context",
                    Out::obj([(
                        "http_request",
                        relation("authentik_events.event_context_http_request"),
                    )]),
                ),
                (
                    "authentik_events.event_context_http_request",
                    Out::obj([
                        (
                            "args",
                            relation("authentik_events.event_context_http_request_args"),
                        ),
                        ("path", text()),
                        ("method", text()),
                        ("request_id", text()),
                        ("user_agent", text()),
                    ]),
                ),
            ]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = UNIX_EPOCH + Duration::from_micros(1_796_517_334_269_332);
        assert_eq!(timestamp(t), "2026-12-06T00:35:34.269332Z");
        assert_eq!(parse_timestamp("2026-12-06T00:35:34.269332Z"), Some(t));
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:01Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1))
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
