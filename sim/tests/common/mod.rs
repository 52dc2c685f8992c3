//! Shared helpers: an in-process simulator plus a real HTTP client.
#![allow(dead_code)]

use authentik_sim::{Profile, SimConfig, Simulator};
use reqwest::Method;
use serde_json::Value;

pub const TOKEN: &str = "test-token";

/// A response: status, Content-Type (if any), raw body and the body as JSON (`Null` if none).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub ctype: Option<String>,
    pub text: String,
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub struct Api {
    pub sim: Simulator,
    pub client: reqwest::Client,
}

impl Api {
    pub async fn start(profile: Profile, seed: bool) -> Api {
        let cfg = SimConfig {
            token: TOKEN.into(),
            profile,
            seed,
        };
        let sim = Simulator::start(cfg).await.expect("simulator starts");
        Api {
            sim,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v3/{}", self.sim.url(), path.trim_start_matches('/'))
    }

    /// A request with the token, a JSON body if given.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .client
            .request(
                Method::from_bytes(method.as_bytes()).expect("method"),
                self.url(path),
            )
            .header("Authorization", format!("Bearer {TOKEN}"));
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        send(req).await
    }

    /// A request with explicit headers and a raw body.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        let mut req = self.client.request(
            Method::from_bytes(method.as_bytes()).expect("method"),
            self.url(path),
        );
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !body.is_empty() {
            req = req.body(body.to_string());
        }
        send(req).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None).await
    }

    /// Create a stage and return its pk (panics unless 201).
    pub async fn create(&self, kind: &str, body: Value) -> String {
        let r = self.post(&format!("stages/{kind}/"), body).await;
        assert_eq!(r.status, 201, "create {kind}: {}", r.text);
        r.json["pk"].as_str().expect("pk").to_string()
    }

    /// The names in a list response, in order.
    pub async fn names(&self, path: &str) -> Vec<String> {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        r.json["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|x| x["name"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        ctype,
        text,
        json,
        headers,
    }
}
