//! Following authentik's event log: every `--event-interval`, one small request per
//! connection for the newest model events; each change of an object a resource manages
//! queues that resource (one reconcile, which reads that one object afresh), so drift made
//! in authentik's UI is corrected in seconds, whatever the number of resources. Our own
//! writes are not echoed back (see `OwnWrites`). Whatever the log cannot vouch for (a first
//! start, more new events than were read, a cleaned log, a token that may not read it) is a
//! sweep of that connection at once; the periodic sweep stays as the safety net.

pub mod log;

use crate::authentik::AuthentikClient;
use crate::connections::{ConnKey, Connection};
use crate::error::Error;
use crate::metrics::{ConnectionLabels, GapLabels};
use crate::reconcile::Context;
use crate::reconcile::kinds::Which;
use log::{Event, Gap, Mark};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Events asked for per request: one request in steady state.
pub const PAGE_SIZE: u32 = 100;
/// Pages read in one poll when a burst filled the first ones; beyond, it is a gap.
const MAX_PAGES: u64 = 10;
/// The model events, as the log's `actions` filter names them.
const ACTIONS: [&str; 3] = ["model_created", "model_updated", "model_deleted"];
const ENDPOINT: &str = "events/events/";

/// Polls every connection's event log every `interval` until `stop`; `interval` zero: off.
pub async fn follow_loop(ctx: Arc<Context>, interval: Duration, stop: CancellationToken) {
    if interval.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut marks: HashMap<ConnKey, Mark> = HashMap::new();
    let mut polls: JoinSet<(ConnKey, Mark)> = JoinSet::new();
    let mut busy: Vec<ConnKey> = Vec::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            Some(Ok((key, mark))) = polls.join_next(), if !polls.is_empty() => {
                busy.retain(|k| k != &key);
                marks.insert(key, mark);
                continue;
            }
            _ = tick.tick() => {}
        }
        // Connections are polled side by side, and one still polling (a slow authentik)
        // is skipped: it never holds up the others.
        for (key, conn) in ctx.connections.all() {
            if busy.contains(&key) {
                continue;
            }
            let mark = marks.get(&key).cloned().unwrap_or_default();
            busy.push(key.clone());
            let ctx = ctx.clone();
            polls.spawn(async move {
                let mark = poll(&ctx, &key, &conn, mark).await;
                (key, mark)
            });
        }
        let live: Vec<ConnKey> = ctx.connections.all().into_iter().map(|(k, _)| k).collect();
        marks.retain(|k, _| live.contains(k));
    }
}

/// One poll of one connection's log; the mark after it.
async fn poll(ctx: &Context, key: &ConnKey, conn: &Arc<Connection>, mark: Mark) -> Mark {
    let labels = ConnectionLabels {
        connection: key.id(),
    };
    let read = newest_events(&conn.client, &mark).await;
    // The poll is the first request after an outage to see authentik answer again, seconds
    // after it does, where the sweep may be minutes away.
    ctx.retry_if_back(key, conn);
    let (events, complete) = match read {
        Ok(read) => read,
        Err(Error::Forbidden(why)) => {
            if conn.set_events_readable(false) {
                tracing::warn!(connection = %key, %why, "the token may not read authentik's event log: drift is found by the periodic sweep alone (grant the token's user the permission to view events to correct it in seconds)");
                ctx.metrics.event_log_followed.get_or_create(&labels).set(0);
                gap_sweep(ctx, key, conn, Gap::Forbidden).await;
                ctx.stores.queue_connection_resources(key);
            }
            return mark;
        }
        Err(e) => {
            // An outage is the sweep's and the reconciles' to report; the follower waits.
            tracing::debug!(connection = %key, error = %e, "reading the event log failed");
            return mark;
        }
    };
    if conn.set_events_readable(true) {
        ctx.metrics.event_log_followed.get_or_create(&labels).set(1);
        ctx.stores.queue_connection_resources(key);
    }
    let reading = log::read(&mark, events, complete);
    if let Some(newest) = reading.mark.newest {
        let age = jiff::Timestamp::now().duration_since(newest).as_secs_f64();
        ctx.metrics
            .event_newest_age
            .get_or_create(&labels)
            .set(age.max(0.0));
    }
    let mut queued = 0;
    for event in &reading.new {
        ctx.metrics.events_seen.get_or_create(&labels).inc();
        queued += act_on(ctx, key, conn, event);
    }
    ctx.metrics
        .event_reconciles
        .get_or_create(&labels)
        .inc_by(queued);
    if let Some(gap) = reading.gap {
        gap_sweep(ctx, key, conn, gap).await;
    }
    reading.mark
}

/// Queues what `event` concerns; how many reconciles it asked for.
fn act_on(ctx: &Context, key: &ConnKey, conn: &Connection, event: &Event) -> u64 {
    let Some(kind) = ctx.stores.kind_of_model(&event.model) else {
        return 0;
    };
    if conn.own_writes.is_echo(
        kind.model(),
        &event.object,
        &event.name,
        &event.action,
        &event.username,
    ) {
        return 0;
    }
    tracing::debug!(connection = %key, kind = kind.kind(), pk = %event.object, action = %event.action, user = %event.username, "changed in authentik");
    let queued = match event.action.as_str() {
        // Whoever wants that name now meets it.
        "model_created" => kind.queue(Which::Claimants(key, &event.name)),
        "model_deleted" => {
            kind.forget(conn, &event.object);
            // authentik clears references to a deleted object without logging a change of
            // the objects that held them.
            ctx.stores.forget_referencing(key, conn, &event.object);
            kind.queue(Which::Pk(key, &event.object))
                + ctx.stores.queue(Which::Referencing(key, &event.object))
        }
        _ => {
            kind.forget(conn, &event.object);
            kind.queue(Which::Pk(key, &event.object))
        }
    };
    queued as u64
}

async fn gap_sweep(ctx: &Context, key: &ConnKey, conn: &Connection, gap: Gap) {
    tracing::debug!(connection = %key, gap = gap.label(), "the event log cannot vouch for what changed: sweeping");
    ctx.metrics
        .event_gaps
        .get_or_create(&GapLabels {
            connection: key.id(),
            reason: gap.label().to_string(),
        })
        .inc();
    crate::sweep::sweep_connection(ctx, key, conn).await;
}

/// The newest model events, newest first, reading on while every event of a page is new
/// (a burst), up to [`MAX_PAGES`]; and whether the reading reached the mark or the log's
/// end.
async fn newest_events(
    client: &AuthentikClient,
    mark: &Mark,
) -> crate::error::Result<(Vec<Event>, bool)> {
    let mut out = Vec::new();
    for page in 1..=MAX_PAGES {
        let mut query: Vec<(&str, String)> = vec![
            ("ordering", "-created".into()),
            ("page", page.to_string()),
            ("page_size", PAGE_SIZE.to_string()),
        ];
        query.extend(ACTIONS.iter().map(|a| ("actions", a.to_string())));
        let (events, next) = client.page(ENDPOINT, &query).await?;
        let events: Vec<Event> = events.iter().filter_map(Event::parse).collect();
        let end = next == 0 || events.is_empty();
        out.extend(events);
        if end {
            return Ok((out, true));
        }
        // A first start needs only the newest; otherwise stop once the mark is reached.
        if !mark.started || log::reaches(mark, &out) {
            return Ok((out, true));
        }
    }
    Ok((out, false))
}
