//! End-to-end test of the login app (examples/login_app) in headless Chromium, driven over
//! WebDriver (chromedriver). Needs `SESAME_TEST_CHROMIUM` (e.g. `/usr/bin/chromium`; Debian's
//! `chromium` and `chromium-driver` packages); skipped with a message when unset, failing
//! instead under `SESAME_REQUIRE_SERVICES=1`. `SESAME_TEST_CHROMEDRIVER` overrides the driver
//! path (default `/usr/bin/chromedriver`).

#[path = "../examples/login_app/app.rs"]
#[allow(dead_code)]
mod app;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sesame::cookie::{FernetKey, KeyRing};

/// A minimal W3C WebDriver client: just what this test needs.
struct Browser {
    http: reqwest::Client,
    base: String,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    async fn start(driver: &str, chromium: &str) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "sesame-chromium-{}",
            sesame::testing::unique_suffix()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}});
        let res: Value = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused the session: {res}"));
        Browser {
            base: format!("{driver}/session/{id}"),
            http,
            _profile: TempDir(profile),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if res["value"].get("error").is_some() {
            panic!("webdriver {path}: {res}");
        }
        res["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            json!({}),
        )
        .await;
    }

    async fn text(&self) -> String {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return document.body ? document.body.innerText : ''", "args": []}),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    async fn user_agent(&self) -> String {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": "return navigator.userAgent", "args": []}),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the page's text contains `needle`; returns the text.
    async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "page at {} never showed {needle:?}; it shows {text:?}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until no element matches `css` (a click's navigation has landed).
    async fn wait_for_none(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let script = format!("return document.querySelectorAll({css:?}).length");
        loop {
            let count = self
                .call(
                    reqwest::Method::POST,
                    "/execute/sync",
                    json!({"script": script, "args": []}),
                )
                .await;
            if count == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "page at {} still has {css:?}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn cookie(&self, name: &str) -> Value {
        let cookies = self
            .call(reqwest::Method::GET, "/cookie", Value::Null)
            .await;
        cookies
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    async fn login(&self, app: &str, user: &str, password: &str) {
        self.goto(&format!("{app}/login")).await;
        self.type_into("#username", user).await;
        self.type_into("#password", password).await;
        self.click("#submit").await;
        self.wait_for_text(&format!("Logged in as {user}")).await;
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(router: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    port
}

/// Replays a cookie outside the browser; returns the status and body.
/// Sends the browser's user agent: the session is bound to it (a different one would end it as
/// `device_mismatch`).
async fn replay(url: &str, cookie_value: &str, user_agent: &str) -> (u16, String) {
    let res = reqwest::Client::new()
        .get(url)
        .header("cookie", format!("sesame={cookie_value}"))
        .header("user-agent", user_agent)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_app_in_headless_chromium() {
    let Some(chromium) = sesame::testing::service_url("SESAME_TEST_CHROMIUM") else {
        return;
    };
    let driver_bin = std::env::var("SESAME_TEST_CHROMEDRIVER")
        .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "SESAME_TEST_CHROMIUM={chromium} does not exist"
    );
    let driver_port = free_port();
    let _driver = Driver(
        Command::new(&driver_bin)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e}")),
    );
    let driver = format!("http://127.0.0.1:{driver_port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{driver}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let app_port = serve(app::router(KeyRing::new(FernetKey::generate().unwrap()))).await;
    // `localhost` and `127.0.0.1` are different sites: the attacker lives on the latter.
    let app = format!("http://localhost:{app_port}");
    let attacker_html = format!(
        "<!doctype html><html><body><form id=f method=post action=\"{app}/sessions/revoke-others\">\
         <input name=x value=1></form><script>document.getElementById('f').submit()</script></body></html>"
    );
    let attacker_port = serve(axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = attacker_html.clone();
            async move { axum::response::Html(html) }
        }),
    ))
    .await;

    let a = Browser::start(&driver, &chromium).await;
    let b = Browser::start(&driver, &chromium).await;

    // 1. The login form gives an anonymous session; its cookie is HttpOnly, SameSite=Strict,
    //    and (development mode on localhost) not Secure.
    a.goto(&format!("{app}/login")).await;
    let pre = a.cookie("sesame").await;
    assert_eq!(pre["httpOnly"], true, "{pre}");
    assert_eq!(pre["sameSite"], "Strict", "{pre}");
    assert_eq!(pre["secure"], false, "{pre}");
    let pre_value = pre["value"].as_str().unwrap().to_owned();

    // 2. Login rotates the token: the pre-login cookie is dead.
    a.login(&app, "alice", "wonderland").await;
    let post = a.cookie("sesame").await;
    assert_eq!(post["httpOnly"], true);
    assert_eq!(post["sameSite"], "Strict");
    assert_ne!(post["value"], pre["value"]);
    let (status, body) = replay(&format!("{app}/account"), &pre_value, &a.user_agent().await).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("rotated"), "{body}");

    // 3. A second browser logs in as alice and ends the first one's session.
    b.login(&app, "alice", "wonderland").await;
    b.goto(&format!("{app}/sessions")).await;
    let listing = b.wait_for_text("Sessions of alice").await;
    assert!(listing.contains("127.0.0.1"), "IP listed: {listing}");
    b.click("tr.other button.end").await;
    // The listing was on screen before the click: wait for the page after it.
    b.wait_for_none("tr.other").await;
    a.goto(&format!("{app}/account")).await;
    let text = a.wait_for_text("session_ended").await;
    assert!(text.contains("revoked"), "{text}");

    // 4. Logout ends the session server-side: replaying its cookie gets 401.
    let ua_b = b.user_agent().await;
    let b_value = b.cookie("sesame").await["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        replay(&format!("{app}/account"), &b_value, &ua_b).await.0,
        200
    );
    b.goto(&format!("{app}/sessions")).await;
    b.click("#logout").await;
    b.wait_for_text("Log in").await;
    let (status, body) = replay(&format!("{app}/account"), &b_value, &ua_b).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("logged_out"), "{body}");

    // 5. A cross-site form POST is refused, and changes nothing.
    a.login(&app, "alice", "wonderland").await;
    b.login(&app, "alice", "wonderland").await;
    b.goto(&format!("http://127.0.0.1:{attacker_port}/")).await;
    let text = b.wait_for_text("csrf_failed").await;
    assert!(
        text.contains("cross_site") || text.contains("no_session"),
        "{text}"
    );
    a.goto(&format!("{app}/account")).await;
    a.wait_for_text("Logged in as alice").await;

    a.quit().await;
    b.quit().await;
}
