//! Replies: every status/body shape the simulated API answers with.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};

use crate::out::Out;

/// The body of a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// `application/json`.
    Json(Out),
    /// No body and no Content-Type (204).
    Empty,
    /// `text/html; charset=utf-8` with this text (may be empty).
    Html(&'static str),
    /// Anything else (fault injection).
    Other(&'static str, String),
}

/// A status, a body and extra headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: ReplyBody,
    pub headers: Vec<(&'static str, String)>,
}

/// The start of authentik's HTML error page (the transcripts show its first 300 bytes).
pub const NOT_FOUND_PAGE: &str = "\n\n\n<!DOCTYPE html>\n\n<html lang=\"en\">\n    <head>\n        <meta charset=\"UTF-8\">\n        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1, maximum-scale=1\">\n        <title>\nauthentik\n</title>\n        <link rel=\"icon\" href=\"/static/dist/assets/icons/icon.png\">\n        <link rel=\"shortcut icon\" href=\"/static/dist/assets/icons/icon.png\">\n    </head>\n    <body>\n        <div class=\"pf-c-page\">\n            <h1>Not Found</h1>\n            <p>The requested URL was not found on this server.</p>\n        </div>\n    </body>\n</html>\n";

impl Reply {
    pub fn json(status: u16, out: Out) -> Reply {
        Reply {
            status,
            body: ReplyBody::Json(out),
            headers: Vec::new(),
        }
    }

    /// `{"detail": msg}`.
    pub fn detail(status: u16, msg: impl Into<String>) -> Reply {
        Reply::json(status, Out::detail(msg))
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: ReplyBody::Empty,
            headers: Vec::new(),
        }
    }

    /// What authentik answers to a write that fails inside the server (a 500 turned into an
    /// empty `text/html` 405 because the error page only serves GET; findings #1).
    pub fn server_error() -> Reply {
        Reply {
            status: 405,
            body: ReplyBody::Html(""),
            headers: Vec::new(),
        }
    }

    /// A URL no route matches (e.g. a missing trailing slash): GET gets the HTML 404 page,
    /// OPTIONS an empty 200 page, any other method the empty 405 of the error page.
    pub fn unrouted(method: &str) -> Reply {
        if method == "OPTIONS" {
            // Django's generic view answers OPTIONS itself, with an empty page.
            return Reply {
                status: 200,
                body: ReplyBody::Html(""),
                headers: Vec::new(),
            };
        }
        if method == "GET" || method == "HEAD" {
            Reply {
                status: 404,
                body: ReplyBody::Html(NOT_FOUND_PAGE),
                headers: Vec::new(),
            }
        } else {
            Reply::server_error()
        }
    }

    /// DRF's 405 for a method the view does not have.
    pub fn method_not_allowed(method: &str, allow: &[&str]) -> Reply {
        let mut r = Reply::detail(405, format!("Method \"{method}\" not allowed."));
        r.headers.push(("allow", allow.join(", ")));
        r
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// The JSON body, if any.
    pub fn json_body(&self) -> Option<&Out> {
        match &self.body {
            ReplyBody::Json(o) => Some(o),
            _ => None,
        }
    }

    pub fn into_response(self, head_only: bool) -> Response<Body> {
        let (ctype, bytes): (Option<&str>, Vec<u8>) = match self.body {
            ReplyBody::Json(o) => (Some("application/json"), o.to_bytes()),
            ReplyBody::Empty => (None, Vec::new()),
            ReplyBody::Html(t) => (Some("text/html; charset=utf-8"), t.as_bytes().to_vec()),
            ReplyBody::Other(ct, t) => (Some(ct), t.into_bytes()),
        };
        let len = bytes.len();
        let body = if head_only {
            Body::empty()
        } else {
            Body::from(bytes)
        };
        let mut resp = Response::new(body);
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = resp.headers_mut();
        if let Some(ct) = ctype {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        if head_only {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        resp
    }
}
