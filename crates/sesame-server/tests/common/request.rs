//! A request builder for the end-to-end tests that reads like the API:
//!
//! ```text
//! let (status, body) = s.patch("/v1/session").key(SESSIONS_KEY).token(&token)
//!     .json(json!({"set": {"theme": "dark"}})).await;
//! ```
//!
//! Every answer is checked against the OpenAPI document (its status must be
//! documented for the route and method, its body must match the schema)
//! before the test sees it. `.await` gives `(status, body)` and panics if the
//! request could not be sent; [`Call::send`] gives the [`Reply`] with its
//! headers, or the transport error (a test that kills the server).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::TestServer;

/// One request being built; `.await` sends it.
#[must_use = "a request does nothing until it is awaited"]
pub struct Call<'a> {
    server: &'a TestServer,
    http: &'a reqwest::Client,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Body>,
}

enum Body {
    Json(Value),
    Raw(String),
}

/// An answer, checked against the OpenAPI document.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The JSON body, or the text of a non-JSON body as a string.
    pub body: Value,
}

impl Reply {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

impl TestServer {
    /// A request of any method.
    pub fn request(&self, method: &str, path: impl Into<String>) -> Call<'_> {
        Call {
            server: self,
            http: &self.http,
            method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: impl Into<String>) -> Call<'_> {
        self.request("GET", path)
    }

    /// `POST path`.
    pub fn post(&self, path: impl Into<String>) -> Call<'_> {
        self.request("POST", path)
    }

    /// `PATCH path`.
    pub fn patch(&self, path: impl Into<String>) -> Call<'_> {
        self.request("PATCH", path)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: impl Into<String>) -> Call<'_> {
        self.request("DELETE", path)
    }
}

impl<'a> Call<'a> {
    /// `Authorization: Bearer <key>`.
    pub fn key(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }

    /// The API key when there is one.
    pub fn maybe_key(self, key: Option<&str>) -> Self {
        match key {
            Some(k) => self.key(k),
            None => self,
        }
    }

    /// The session token (`Sesame-Token`).
    pub fn token(self, token: &str) -> Self {
        self.header("sesame-token", token)
    }

    /// The session cookie value (`Sesame-Cookie`).
    pub fn cookie(self, cookie: &str) -> Self {
        self.header("sesame-cookie", cookie)
    }

    /// Any header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Several headers.
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        headers
            .iter()
            .fold(self, |call, (name, value)| call.header(name, value))
    }

    /// The client's user agent as the device header (`Sesame-Device-User-Agent`).
    pub fn device(self, user_agent: &str) -> Self {
        self.header("sesame-device-user-agent", user_agent)
    }

    /// A JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }

    /// A body sent as is, with its `Content-Type` (malformed bodies).
    pub fn raw(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.body = Some(Body::Raw(body.into()));
        self.header("content-type", content_type)
    }

    /// A JSON body when there is one.
    pub fn maybe_json(self, body: Option<Value>) -> Self {
        match body {
            Some(b) => self.json(b),
            None => self,
        }
    }

    /// Sends through another client (e.g. one bound to another loopback
    /// address).
    pub fn via(mut self, http: &'a reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Sends the request; the answer has been checked against the document.
    ///
    /// # Errors
    /// The transport error when the request could not be sent or its
    /// answer read (the server is gone).
    pub async fn send(self) -> Result<Reply, reqwest::Error> {
        let url = format!("{}{}", self.server.base, self.path);
        let mut req = self.http.request(self.method.clone(), url);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        match &self.body {
            Some(Body::Json(body)) => req = req.json(body),
            Some(Body::Raw(text)) => req = req.body(text.clone()),
            None => {}
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        let text = resp.text().await?;
        let body = if json {
            serde_json::from_str(&text).expect("JSON body")
        } else {
            Value::String(text)
        };
        self.server
            .check(self.method.as_str(), &self.path, status, &body);
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

impl Call<'_> {
    /// Sends the request and checks that it is refused with `status` and the
    /// error `code`; returns the body.
    pub async fn refused(self, status: u16, code: &str) -> Value {
        let what = format!("{} {}", self.method, self.path);
        let reply = self.send().await.expect("request sent");
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (status, Some(code)),
            "{what}: {}",
            reply.body
        );
        reply.body
    }
}

impl<'a> IntoFuture for Call<'a> {
    type Output = (u16, Value);
    type IntoFuture = Pin<Box<dyn Future<Output = (u16, Value)> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let reply = self.send().await.expect("request sent");
            (reply.status, reply.body)
        })
    }
}
