//! HTTP client for authentik's `/api/v3`. Every request carries the bearer token and a
//! timeout; idempotent requests are retried on 429, 5xx, timeouts and refused connections.
//! Creates are never retried here: the reconciler looks the name up before trying again,
//! since a create that seemed to fail may have won.

use super::errors::{describe_body, describe_text};
use super::health::{Health, Seen};
use super::retry::{RetryPolicy, parse_retry_after};
use super::wire::{PAGE_SIZE, Page, Version};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The API token. Its Debug output is redacted and it has no Display, so it cannot end up
/// in logs, events or errors by accident.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into().trim().to_string())
    }
    fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// authentik's base URL, with or without a trailing `/api/v3`.
    pub url: String,
    pub token: Token,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Extra CA certificates (PEM) to trust.
    pub ca_pem: Option<Vec<u8>>,
    pub insecure_skip_tls_verify: bool,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>, token: Token) -> Self {
        ClientConfig {
            url: url.into(),
            token,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            ca_pem: None,
            insecure_skip_tls_verify: false,
        }
    }
}

#[derive(Clone)]
pub struct AuthentikClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api: String,
    token: Token,
    retry: RetryPolicy,
    metrics: Option<Arc<Metrics>>,
    health: Health,
}

impl std::fmt::Debug for AuthentikClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthentikClient")
            .field("api", &self.inner.api)
            .finish()
    }
}

/// `https://ak.example/`, `https://ak.example/api/v3` → `https://ak.example/api/v3/`.
pub fn api_base(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let root = trimmed.strip_suffix("/api/v3").unwrap_or(trimmed);
    format!("{root}/api/v3/")
}

/// A request's outcome that callers inspect: status and JSON body (if any).
struct Answer {
    status: StatusCode,
    body: Option<Value>,
}

impl AuthentikClient {
    pub fn new(cfg: ClientConfig, metrics: Option<Arc<Metrics>>) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("authentik-operator/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &cfg.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Config(format!("CA bundle is not valid PEM: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if cfg.insecure_skip_tls_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(AuthentikClient {
            inner: Arc::new(Inner {
                http,
                api: api_base(&cfg.url),
                token: cfg.token,
                retry: cfg.retry,
                metrics,
                health: Health::default(),
            }),
        })
    }

    pub fn api_url(&self) -> &str {
        &self.inner.api
    }

    /// Whether the server answers, from every request this client made.
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// One request with retries for idempotent methods. `route` is the path template used
    /// for metrics (never a raw pk, to keep label cardinality bounded).
    async fn request(
        &self,
        method: Method,
        route: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let idempotent = method != Method::POST;
        let url = format!("{}{}", self.inner.api, path);
        let policy = &self.inner.retry;
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.inner.token.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let text = resp.text().await.unwrap_or_default();
                    self.observe(route, &method, Some(status.as_u16()), started);
                    classify(&method, status, &text, retry_after)
                }
                Err(e) => {
                    self.observe(route, &method, None, started);
                    Err(Error::Unreachable(describe_transport(&e)))
                }
            };
            self.inner
                .health
                .observe(seen(route, &result), jiff::Timestamp::now());
            match result {
                Err(e) if idempotent && e.is_retryable_request() && attempt < policy.retries => {
                    let delay = policy.delay(attempt, e.retry_after(), fastrand::f64());
                    tracing::debug!(%route, method = %method, error = %e, ?delay, "retrying authentik request");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn observe(&self, route: &str, method: &Method, status: Option<u16>, started: Instant) {
        if let Some(m) = &self.inner.metrics {
            m.request(route, method.as_str(), status, started.elapsed());
        }
    }

    /// Every object of a list endpoint, following authentik's page numbers, in `ordering`
    /// (a field that pages stably).
    pub async fn list_all(
        &self,
        endpoint: &str,
        filters: &[(&str, String)],
        ordering: &str,
    ) -> Result<Vec<Value>> {
        self.list_all_map(endpoint, filters, ordering, Some).await
    }

    /// [`Self::list_all`], each object passed through `f` as its page arrives (`None`: left
    /// out): a caller that keeps part of each object never holds every whole one at once.
    pub async fn list_all_map<T>(
        &self,
        endpoint: &str,
        filters: &[(&str, String)],
        ordering: &str,
        mut f: impl FnMut(Value) -> Option<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut page: u64 = 1;
        // A bound on pages protects against a server that never says "last page".
        for _ in 0..100_000 {
            let mut query: Vec<(&str, String)> = filters.to_vec();
            query.push(("page", page.to_string()));
            query.push(("page_size", PAGE_SIZE.to_string()));
            query.push(("ordering", ordering.to_string()));
            let answer = self
                .request(Method::GET, endpoint, endpoint, &query, None)
                .await?;
            let body = answer
                .body
                .ok_or_else(|| Error::Protocol(format!("empty answer listing {endpoint}")))?;
            let parsed: Page = serde_json::from_value(body).map_err(|e| {
                Error::Protocol(format!("unexpected list answer from {endpoint}: {e}"))
            })?;
            out.extend(parsed.results.into_iter().filter_map(&mut f));
            if parsed.pagination.next == 0 || parsed.pagination.next <= page {
                return Ok(out);
            }
            page = parsed.pagination.next;
        }
        Err(Error::Protocol(format!("{endpoint}: too many pages")))
    }

    /// One page of a list: its objects, and the next page's number (0 on the last page).
    pub async fn page(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
    ) -> Result<(Vec<Value>, u64)> {
        let answer = self
            .request(Method::GET, endpoint, endpoint, query, None)
            .await?;
        let body = answer
            .body
            .ok_or_else(|| Error::Protocol(format!("empty answer listing {endpoint}")))?;
        let parsed: Page = serde_json::from_value(body)
            .map_err(|e| Error::Protocol(format!("unexpected list answer from {endpoint}: {e}")))?;
        Ok((parsed.results, parsed.pagination.next))
    }

    /// Objects of `endpoint` whose `name` is exactly `name`.
    pub async fn find_by_name(&self, endpoint: &str, name: &str) -> Result<Vec<Value>> {
        self.find_exact(endpoint, &[("name", name.to_string())], "name")
            .await
    }

    /// Objects of `endpoint` whose `slug` is exactly `slug`.
    pub async fn find_by_slug(&self, endpoint: &str, slug: &str) -> Result<Vec<Value>> {
        self.find_exact(endpoint, &[("slug", slug.to_string())], "slug")
            .await
    }

    /// Objects of `endpoint` whose fields hold exactly the values of `filters` (authentik
    /// ignores unknown filters and some match loosely, so the results are checked rather
    /// than trusted).
    pub async fn find_exact(
        &self,
        endpoint: &str,
        filters: &[(&str, String)],
        ordering: &str,
    ) -> Result<Vec<Value>> {
        let found = self.list_all(endpoint, filters, ordering).await?;
        Ok(found
            .into_iter()
            .filter(|o| filters.iter().all(|(f, v)| holds(o, f, v)))
            .collect())
    }

    /// Objects of `endpoint` whose `field` is exactly `value`, narrowed with `filters` (which
    /// may match loosely: `search`).
    pub async fn find_exact_by(
        &self,
        endpoint: &str,
        filters: &[(&str, String)],
        field: &str,
        value: &str,
        ordering: &str,
    ) -> Result<Vec<Value>> {
        let found = self.list_all(endpoint, filters, ordering).await?;
        Ok(found
            .into_iter()
            .filter(|o| holds(o, field, value))
            .collect())
    }

    /// One object by pk; `None` when authentik says 404.
    pub async fn get(&self, endpoint: &str, pk: &str) -> Result<Option<Value>> {
        let route = format!("{endpoint}{{pk}}/");
        match self
            .request(Method::GET, &route, &format!("{endpoint}{pk}/"), &[], None)
            .await
        {
            Ok(a) => Ok(a.body),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create(&self, endpoint: &str, body: &Map<String, Value>) -> Result<Value> {
        let body = Value::Object(body.clone());
        let a = self
            .request(Method::POST, endpoint, endpoint, &[], Some(&body))
            .await?;
        a.body
            .ok_or_else(|| Error::Protocol(format!("{} answered a create with no body", a.status)))
    }

    /// PATCH; `None` when the object is gone (404).
    pub async fn patch(
        &self,
        endpoint: &str,
        pk: &str,
        body: &Map<String, Value>,
    ) -> Result<Option<Value>> {
        let route = format!("{endpoint}{{pk}}/");
        let body = Value::Object(body.clone());
        match self
            .request(
                Method::PATCH,
                &route,
                &format!("{endpoint}{pk}/"),
                &[],
                Some(&body),
            )
            .await
        {
            Ok(a) => Ok(a.body),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// DELETE by pk; `false` when it was already gone.
    pub async fn delete(&self, endpoint: &str, pk: &str) -> Result<bool> {
        let route = format!("{endpoint}{{pk}}/");
        match self
            .request(
                Method::DELETE,
                &route,
                &format!("{endpoint}{pk}/"),
                &[],
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// authentik's version (`version_current`).
    pub async fn version(&self) -> Result<String> {
        let a = self
            .request(Method::GET, "admin/version/", "admin/version/", &[], None)
            .await?;
        let v: Version = serde_json::from_value(a.body.unwrap_or_default())
            .map_err(|e| Error::Protocol(format!("unexpected version answer: {e}")))?;
        Ok(v.version_current)
    }
}

/// Maps an HTTP answer to success or to the error it means.
/// What a request's outcome says of the server. A token that may not read the event log
/// is answered 403 there on every poll while everything else works: that is the follower's
/// to report (the EventLog condition), not an outage, which would flap the connection down
/// and up and retry every waiting resource at each poll.
fn seen<T>(route: &str, result: &Result<T>) -> Seen {
    match result {
        Err(Error::Forbidden(_)) if route.starts_with("events/") => Seen::Answered,
        Err(e) if e.is_outage() => Seen::Failing,
        _ => Seen::Answered,
    }
}

fn classify(
    method: &Method,
    status: StatusCode,
    text: &str,
    retry_after: Option<Duration>,
) -> Result<Answer> {
    let json: Option<Value> = serde_json::from_str(text).ok();
    if status.is_success() {
        return Ok(Answer { status, body: json });
    }
    let message = json
        .as_ref()
        .map_or_else(|| describe_text(text), describe_body);
    Err(match status.as_u16() {
        400 if json.as_ref().is_some_and(key_is_taken) => Error::NameTaken(message),
        400 => Error::Rejected(message),
        401 | 403 => Error::Forbidden(message),
        404 => Error::NotFound(message),
        // Real authentik answers a server-side failure of a write with an empty 405 (its error
        // page serves GET only); a genuine 405 has a JSON body.
        405 if json.is_none() && *method != Method::GET => Error::Server {
            status: 405,
            message:
                "the write failed on the server (authentik answers an empty 405 for a server error)"
                    .into(),
            retry_after,
        },
        // The 429 text counts seconds down; a message that changes on every attempt would
        // rewrite the status each time and defeat the backoff.
        429 => Error::Server {
            status: 429,
            message: "authentik is throttling requests".into(),
            retry_after,
        },
        500..=599 => Error::Server {
            status: status.as_u16(),
            message,
            retry_after,
        },
        s => Error::Protocol(format!("HTTP {s}: {message}")),
    })
}

/// Whether `obj`'s field `field` prints as `value` (a string, or a number as written).
fn holds(obj: &Value, field: &str, value: &str) -> bool {
    match obj.get(field) {
        Some(Value::String(s)) => s == value,
        Some(Value::Number(n)) => n.to_string() == value,
        _ => false,
    }
}

/// Whether a 400 body says the object's key is taken: DRF's uniqueness error on a stage's
/// `name` (`{"name": ["stage with this name already exists."]}`), a flow's `slug`, or a
/// binding's (target, stage, order) (`{"non_field_errors": ["The fields target, stage,
/// order must make a unique set."]}`).
fn key_is_taken(body: &Value) -> bool {
    let says = |field: &str, end: &str| {
        body.get(field)
            .and_then(Value::as_array)
            .is_some_and(|msgs| {
                msgs.iter()
                    .filter_map(Value::as_str)
                    .any(|m| m.ends_with(end))
            })
    };
    says("name", "already exists.")
        || says("slug", "already exists.")
        || says("non_field_errors", "must make a unique set.")
}

/// A transport error as one line: the cause chain, without the request URL's query.
fn describe_transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    causes.dedup();
    if causes.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
