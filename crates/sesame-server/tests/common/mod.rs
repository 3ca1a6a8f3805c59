//! Shared helpers for the end-to-end tests: a server on 127.0.0.1:0 with a
//! movable clock, API keys of every scope, and a request builder
//! ([`request`]: `s.post("/v1/sessions").key(..).json(..).await`) that checks
//! every response against the OpenAPI document. The submodules start what the
//! fault tests break: the `sesame` binary ([`process`]), a private
//! `redis-server` ([`redis_server`]), a TCP proxy that can stall
//! ([`proxy`]), and small or read-only file systems ([`mounts`]).
#![allow(dead_code)]

pub mod mounts;
pub mod process;
pub mod proxy;
pub mod redis_server;
pub mod request;
pub mod restart;

#[allow(unused_imports)] // each test file uses what it needs
pub use request::{Call, Reply};

use std::sync::Arc;

use serde_json::{Value, json};
use sesame::ManualClock;
use sesame_server::config::{ApiKeyConfig, Config};
use sesame_server::server::Running;

pub const VALIDATE_KEY: &str = "sk_test_validate";
pub const SESSIONS_KEY: &str = "sk_test_sessions";
pub const ADMIN_KEY: &str = "sk_test_admin";
pub const UA: &str = "Firefox/1";

pub fn key_entry(name: &str, key: &str, scopes: &[&str]) -> ApiKeyConfig {
    ApiKeyConfig {
        name: name.into(),
        hash: sesame_server::auth::hash_line(key),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// A config on the memory store with one key per scope and a cookie key.
pub fn test_config() -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".into(),
        store: Some("memory://".into()),
        api_keys: vec![
            key_entry("app", VALIDATE_KEY, &["validate"]),
            key_entry("backend", SESSIONS_KEY, &["sessions", "validate"]),
            key_entry("ops", ADMIN_KEY, &["admin"]),
        ],
        ..Config::default()
    };
    c.cookie.keys = vec![sesame_server::cookies::generate_key().unwrap().to_string()];
    c.policy.renewal_interval = sesame_server::config::Dur(std::time::Duration::ZERO);
    c
}

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub doc: Value,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let clock = ManualClock::starting_now();
        let running = sesame_server::server::start(&config, Arc::new(clock.clone()))
            .await
            .expect("server starts");
        let base = format!("http://{}", running.addr);
        Self {
            running: Some(running),
            base,
            clock,
            http: reqwest::Client::new(),
            doc: serde_json::from_str(sesame_server::openapi::DOCUMENT).unwrap(),
        }
    }

    /// A client for a server running elsewhere (a `sesame serve` process
    /// configured with [`process::config_toml`]).
    pub fn at(base: String) -> Self {
        Self {
            running: None,
            base,
            clock: ManualClock::starting_now(),
            http: reqwest::Client::new(),
            doc: serde_json::from_str(sesame_server::openapi::DOCUMENT).unwrap(),
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// The old form of a request, kept only while branches started before
    /// the builder move over: write `s.post(path).key(..).token(..).json(..)`
    /// ([`request`]). Removed once nothing calls it.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        self.request(method, path)
            .maybe_key(key)
            .headers(headers)
            .maybe_json(body)
            .await
    }

    /// Checks an answer against the OpenAPI document.
    pub(crate) fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let path = path.split('?').next().unwrap();
        let Some((template, item)) = find_path(&self.doc, path) else {
            // Unknown routes answer the documented error shape.
            assert_eq!(status, 404, "{method} {path}");
            validate(
                &self.doc,
                &json!({"$ref": "#/components/schemas/Error"}),
                body,
                "$",
            )
            .unwrap();
            return;
        };
        let Some(op) = item.get(method.to_lowercase()) else {
            assert_eq!(status, 405, "{method} {template} is not documented");
            return;
        };
        let responses = &op["responses"];
        let resp = responses.get(status.to_string()).unwrap_or_else(|| {
            panic!("{method} {template}: status {status} is not documented; body {body}")
        });
        let content = &resp["content"];
        if let Some(schema) = content.get("application/json").map(|c| &c["schema"])
            && let Err(e) = validate(&self.doc, schema, body, "$")
        {
            panic!("{method} {template} {status}: {e}\nbody: {body}");
        }
    }

    /// Creates a session for `user` with the user agent `UA`; returns (token, cookie, id).
    pub async fn create(&self, user: Option<&str>) -> (String, String, String) {
        let (status, body) = self
            .post("/v1/sessions")
            .key(SESSIONS_KEY)
            .json(json!({"user": user, "data": {"n": 0}, "device": {"user_agent": UA}}))
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["token"].as_str().unwrap().to_owned(),
            body["cookie"].as_str().unwrap().to_owned(),
            body["session"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Validates `token` with the user agent `UA`.
    pub fn validate(&self, token: &str) -> Call<'_> {
        self.post("/v1/session/validate")
            .key(VALIDATE_KEY)
            .token(token)
            .json(json!({"device": {"user_agent": UA}}))
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }
}

fn find_path<'a>(doc: &'a Value, path: &str) -> Option<(&'a str, &'a Value)> {
    let parts: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .find_map(|(template, item)| {
            let tparts: Vec<&str> = template.split('/').collect();
            (tparts.len() == parts.len()
                && tparts
                    .iter()
                    .zip(&parts)
                    .all(|(t, p)| t.starts_with('{') || t == p))
            .then_some((template.as_str(), item))
        })
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// A JSON Schema check of the subset the document's responses use: $ref,
/// type, properties, required, additionalProperties, items, enum, const,
/// oneOf, anyOf, allOf, minimum (not pattern or formats).
pub fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let mut target = doc;
        for part in r.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        assert!(!target.is_null(), "dangling $ref {r}");
        return validate(doc, target, v, at);
    }
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        let n = one_of
            .iter()
            .filter(|s| validate(doc, s, v, at).is_ok())
            .count();
        if n != 1 {
            return Err(format!("{at}: matches {n} of oneOf"));
        }
    }
    if let Some(any_of) = schema.get("anyOf").and_then(Value::as_array)
        && !any_of.iter().any(|s| validate(doc, s, v, at).is_ok())
    {
        return Err(format!("{at}: matches none of anyOf"));
    }
    for s in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        validate(doc, s, v, at)?;
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        return Err(format!("{at}: {v} is not {c}"));
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => return Err(format!("{at}: not {t}: {v}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)) => {
            return Err(format!("{at}: not any of {ts:?}: {v}"));
        }
        _ => {}
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} not in enum"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_i64), v.as_i64())
        && n < min
    {
        return Err(format!("{at}: {n} < {min}"));
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req {
                if !obj.contains_key(r.as_str().unwrap()) {
                    return Err(format!("{at}: missing required {r}"));
                }
            }
        }
        for (k, val) in obj {
            let sub = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(doc, s, val, &sub)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) if props.is_some() => {
                        return Err(format!("{at}: undocumented property {k}"));
                    }
                    Some(s @ Value::Object(_)) => validate(doc, s, val, &sub)?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Says that a test cannot run because `what` is missing
/// ([`sesame::testing::skip`]): a failure under `SESAME_REQUIRE_SERVICES=1`
/// (CI must not skip silently), else a note on stderr and in the skip log
/// `scripts/test.sh` reads, and the test returns without running.
pub fn missing(what: &str) {
    sesame::testing::skip(&format!("this test needs {what}"));
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
