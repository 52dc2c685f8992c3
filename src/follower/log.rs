//! Reading authentik's event log, newest first, against what the follower saw last: which
//! events are new, and whether anything may have been missed (a gap), in which case the
//! connection is swept. Pure, so every gap path is a unit test.

use jiff::Timestamp;
use serde_json::Value;

/// One model event, as the follower needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub pk: String,
    /// `model_created`, `model_updated` or `model_deleted`.
    pub action: String,
    /// `<app>.<model_name>`, as a kind's `MODEL`.
    pub model: String,
    /// The object's pk with dashes (authentik logs a UUID's hex without them).
    pub object: String,
    /// The object's name as authentik prints it.
    pub name: String,
    pub username: String,
    pub created: Timestamp,
}

impl Event {
    /// An event of the log's JSON; `None` for one without a model or a readable time.
    pub fn parse(v: &Value) -> Option<Event> {
        let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let model = v.pointer("/context/model")?;
        let field = |k: &str| model.get(k).and_then(Value::as_str).unwrap_or_default();
        let object = match model.get("pk")? {
            Value::String(s) => dashed(s),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(Event {
            pk: text("/pk")?,
            action: text("/action")?,
            model: format!("{}.{}", field("app"), field("model_name")),
            object,
            name: field("name").to_string(),
            username: text("/user/username").unwrap_or_default(),
            created: text("/created")?.parse().ok()?,
        })
    }
}

/// A UUID's hex as authentik prints it elsewhere (`0c72a8e2-f696-…`); anything else as is.
pub fn dashed(hex: &str) -> String {
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return hex.to_ascii_lowercase();
    }
    let h = hex.to_ascii_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Where the follower is in the log: whether it read it yet, the newest event seen (none:
/// the log was empty), and every event seen at that same instant (the log orders ties in no
/// particular way).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    pub started: bool,
    pub newest: Option<Timestamp>,
    pub at_newest: Vec<String>,
}

/// Why a sweep replaces the log for once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// Nothing was seen yet on this connection.
    FirstStart,
    /// More new events than were read: some may have been missed.
    TooMany,
    /// The log holds nothing as new as what was seen: it was cleaned.
    Cleaned,
    /// The token may not read the log: the sweep alone sees drift.
    Forbidden,
}

impl Gap {
    /// The metric label and log word.
    pub fn label(self) -> &'static str {
        match self {
            Gap::FirstStart => "first_start",
            Gap::TooMany => "too_many",
            Gap::Cleaned => "cleaned",
            Gap::Forbidden => "forbidden",
        }
    }
}

/// What one reading of the log says.
#[derive(Debug, Default, PartialEq)]
pub struct Reading {
    /// The events newer than the mark, newest first.
    pub new: Vec<Event>,
    pub gap: Option<Gap>,
    /// The mark after this reading.
    pub mark: Mark,
}

/// `events` is the log's newest events, newest first, as read (`complete`: the reading went
/// back far enough to reach the mark, or to the log's end).
pub fn read(mark: &Mark, events: Vec<Event>, complete: bool) -> Reading {
    let fresh = Mark {
        started: true,
        ..Mark::default()
    };
    if !mark.started {
        return Reading {
            new: Vec::new(),
            gap: Some(Gap::FirstStart),
            mark: mark_of(&events, &fresh),
        };
    }
    let log_newest = events.first().map(|e| e.created);
    if let Some(seen) = mark.newest
        && log_newest.is_none_or(|t| t < seen)
    {
        // Nothing as new as what was seen: the log was cleaned (or expired) under us.
        return Reading {
            new: Vec::new(),
            gap: Some(Gap::Cleaned),
            mark: mark_of(&events, &fresh),
        };
    }
    let new: Vec<Event> = events
        .iter()
        .filter(|e| match mark.newest {
            None => true,
            Some(seen) => {
                e.created > seen || (e.created == seen && !mark.at_newest.contains(&e.pk))
            }
        })
        .cloned()
        .collect();
    // Every event read is new, and the log goes on beyond them: some may be missing.
    let gap = (!complete && !new.is_empty() && new.len() == events.len()).then_some(Gap::TooMany);
    Reading {
        mark: mark_of(&events, mark),
        new,
        gap,
    }
}

/// The mark after reading `events` (newest first), from the previous one.
fn mark_of(events: &[Event], prev: &Mark) -> Mark {
    let Some(newest) = events.first().map(|e| e.created) else {
        return prev.clone();
    };
    let mut at_newest: Vec<String> = events
        .iter()
        .take_while(|e| e.created == newest)
        .map(|e| e.pk.clone())
        .collect();
    if prev.newest == Some(newest) {
        for pk in &prev.at_newest {
            if !at_newest.contains(pk) {
                at_newest.push(pk.clone());
            }
        }
    }
    Mark {
        started: true,
        newest: Some(newest),
        at_newest,
    }
}

/// Whether a reading that stopped at `events` reached far enough: the oldest event read is
/// older than the mark, or one seen at the mark's instant is among them.
pub fn reaches(mark: &Mark, events: &[Event]) -> bool {
    if !mark.started {
        return true;
    }
    // The log was empty: every event since is new, to the log's end.
    let Some(seen) = mark.newest else {
        return false;
    };
    events
        .iter()
        .any(|e| e.created < seen || (e.created == seen && mark.at_newest.contains(&e.pk)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(pk: &str, secs: i64) -> Event {
        Event {
            pk: pk.into(),
            action: "model_updated".into(),
            model: "authentik_stages_password.passwordstage".into(),
            object: "o".into(),
            name: "n".into(),
            username: "akadmin".into(),
            created: Timestamp::from_second(secs).unwrap(),
        }
    }

    fn marked(events: &[Event]) -> Mark {
        read(&Mark::default(), events.to_vec(), true).mark
    }

    #[test]
    fn parses_authentiks_event() {
        let v = json!({"pk": "6ff6", "user": {"pk": 3, "username": "akadmin"},
            "action": "model_updated", "created": "2026-12-06T00:37:15.399985Z",
            "context": {"model": {"pk": "0c72a8e2f6964cdd9d2df18084459444",
                "app": "authentik_stages_password", "name": "lab", "model_name": "passwordstage"}}});
        let e = Event::parse(&v).unwrap();
        assert_eq!(e.model, "authentik_stages_password.passwordstage");
        assert_eq!(e.object, "0c72a8e2-f696-4cdd-9d2d-f18084459444");
        assert_eq!((e.name.as_str(), e.username.as_str()), ("lab", "akadmin"));
        assert!(Event::parse(&json!({"pk": "x", "action": "login"})).is_none());
    }

    #[test]
    fn the_first_reading_marks_and_asks_for_a_sweep() {
        let r = read(&Mark::default(), vec![ev("b", 2), ev("a", 1)], true);
        assert_eq!(r.gap, Some(Gap::FirstStart));
        assert!(r.new.is_empty());
        assert_eq!(r.mark.newest, Some(Timestamp::from_second(2).unwrap()));
    }

    #[test]
    fn newer_events_are_new_and_those_seen_are_not() {
        let mark = marked(&[ev("b", 2), ev("a", 1)]);
        let r = read(
            &mark,
            vec![ev("d", 3), ev("c", 3), ev("b", 2), ev("a", 1)],
            true,
        );
        assert_eq!(r.gap, None);
        let pks: Vec<&str> = r.new.iter().map(|e| e.pk.as_str()).collect();
        assert_eq!(pks, ["d", "c"]);
        // Nothing new: nothing to do.
        let again = read(&r.mark, vec![ev("d", 3), ev("c", 3), ev("b", 2)], true);
        assert!(again.new.is_empty() && again.gap.is_none());
    }

    #[test]
    fn an_event_at_the_marks_instant_not_seen_yet_is_new() {
        let mark = marked(&[ev("b", 2)]);
        let r = read(&mark, vec![ev("c", 2), ev("b", 2)], true);
        assert_eq!(r.new.len(), 1);
        assert_eq!(r.new[0].pk, "c");
        assert_eq!(r.mark.at_newest.len(), 2);
    }

    #[test]
    fn more_new_events_than_were_read_is_a_gap() {
        let mark = marked(&[ev("a", 1)]);
        let r = read(&mark, vec![ev("e", 5), ev("d", 4)], false);
        assert_eq!(r.gap, Some(Gap::TooMany));
        assert_eq!(r.new.len(), 2, "what was read is still handled");
        // The same page with the log's end reached is no gap.
        assert_eq!(read(&mark, vec![ev("e", 5), ev("d", 4)], true).gap, None);
        assert!(!reaches(&mark, &[ev("e", 5), ev("d", 4)]));
        assert!(reaches(&mark, &[ev("e", 5), ev("a", 1)]));
    }

    #[test]
    fn a_log_with_nothing_as_new_as_the_mark_was_cleaned() {
        let mark = marked(&[ev("b", 9)]);
        assert_eq!(read(&mark, vec![ev("a", 1)], true).gap, Some(Gap::Cleaned));
        let empty = read(&mark, vec![], true);
        assert_eq!(empty.gap, Some(Gap::Cleaned));
        // Once: an empty log read again is no news.
        let again = read(&empty.mark, vec![], true);
        assert_eq!((again.gap, again.new.len()), (None, 0));
        // And what comes after it is new: all of it, to the log's end.
        assert!(!reaches(&again.mark, &[ev("c", 12)]));
        let later = read(&again.mark, vec![ev("c", 12)], true);
        assert_eq!((later.gap, later.new.len()), (None, 1));
        let beyond = read(&again.mark, vec![ev("d", 13), ev("c", 12)], false);
        assert_eq!(beyond.gap, Some(Gap::TooMany));
    }
}
