//! A server-shaped simulator: a fixed number of workers, and a service time for each kind of
//! request, like authentik's gunicorn workers in front of PostgreSQL. Requests beyond the
//! workers queue. With it the simulator's own limit is measurable, and a client's cost can
//! be stated as a ratio to that limit.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::errors::{Reply, ReplyBody};
use crate::out::Out;

/// How many requests are served at once, and how long each kind takes (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capacity {
    pub workers: usize,
    /// A GET of one object.
    pub get_ms: f64,
    /// A list (or a lookup by name or slug) that returns nothing...
    pub list_ms: f64,
    /// ...and what each object it returns adds.
    pub list_item_ms: f64,
    pub create_ms: f64,
    pub patch_ms: f64,
    pub delete_ms: f64,
}

impl Default for Capacity {
    /// A real authentik 2024.4.4 (gunicorn, 2 workers, PostgreSQL, on 2 cores), as measured:
    /// about 22 creates per second at 4 clients, a GET by pk in about 60 ms, a PATCH in about
    /// 100 ms, a list page of 100 stages in about 175 ms, 300 deletes in 12–13 s at 4 clients.
    fn default() -> Capacity {
        Capacity {
            workers: 2,
            get_ms: 60.0,
            list_ms: 60.0,
            list_item_ms: 1.15,
            create_ms: 90.0,
            patch_ms: 100.0,
            delete_ms: 85.0,
        }
    }
}

impl Capacity {
    /// The service time of a request with this method and route template, answered `reply`.
    pub fn service_time(&self, method: &str, template: &str, reply: &Reply) -> Duration {
        let one_object = template.trim_end_matches('/').ends_with('}');
        let ms = match method {
            "GET" | "HEAD" if one_object => self.get_ms,
            "GET" | "HEAD" => self.list_ms + self.list_item_ms * results(reply) as f64,
            "POST" => self.create_ms,
            "PATCH" | "PUT" => self.patch_ms,
            "DELETE" => self.delete_ms,
            _ => 0.0,
        };
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

/// How many objects a list answer carries.
fn results(reply: &Reply) -> usize {
    let ReplyBody::Json(Out::Obj(fields)) = &reply.body else {
        return 0;
    };
    fields
        .iter()
        .find(|(k, _)| k == "results")
        .map_or(0, |(_, v)| match v {
            Out::Arr(items) => items.len(),
            Out::Val(serde_json::Value::Array(items)) => items.len(),
            _ => 0,
        })
}

/// The workers of a capacity-limited simulator.
#[derive(Debug)]
pub(crate) struct Workers {
    pub capacity: Capacity,
    pub free: Semaphore,
}

impl Workers {
    pub fn new(capacity: Capacity) -> Arc<Workers> {
        Arc::new(Workers {
            capacity,
            free: Semaphore::new(capacity.workers.max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_request_takes_its_time() {
        let c = Capacity::default();
        let empty = Reply::json(200, Out::obj([("results", Out::Arr(Vec::new()))]));
        let page = Reply::json(
            200,
            Out::obj([("results", Out::Arr((0..100).map(|_| Out::Null).collect()))]),
        );
        let ms = |m, t, r| c.service_time(m, t, r).as_secs_f64() * 1000.0;
        assert_eq!(ms("GET", "stages/password/{pk}/", &empty).round(), 60.0);
        assert_eq!(ms("GET", "stages/password/", &empty).round(), 60.0);
        assert_eq!(ms("GET", "stages/password/", &page).round(), 175.0);
        assert_eq!(ms("POST", "stages/password/", &empty).round(), 90.0);
        assert_eq!(ms("PATCH", "stages/password/{pk}/", &empty).round(), 100.0);
        assert_eq!(ms("DELETE", "stages/password/{pk}/", &empty).round(), 85.0);
    }
}
