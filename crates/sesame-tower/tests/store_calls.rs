//! How many store calls a request costs: a counter request on an existing session is one
//! store step (load and increment together), which is one round trip on Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt;
use sesame::cookie::{FernetKey, KeyRing};
use sesame::lifecycle::{EndReason, EndedSession};
use sesame::store::{
    CleanupReport, CreateOutcome, LoadMode, LoadWrite, Lookup, Rotation, Timing, Write,
};
use sesame::{
    DeviceInfo, Manager, MemoryStore, Patch, Policy, Result, SessionId, SessionRecord, Store,
    UserCap, UserId,
};
use sesame_tower::{Session, SessionError, SessionLayer};
use tower::ServiceExt;

/// A memory store that counts the calls made to it, by kind.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    loads: AtomicUsize,
    combined: AtomicUsize,
    writes: AtomicUsize,
    others: AtomicUsize,
}

impl Counting {
    fn calls(&self) -> [usize; 4] {
        [&self.loads, &self.combined, &self.writes, &self.others].map(|c| c.load(Ordering::SeqCst))
    }
    fn count(c: &AtomicUsize) {
        c.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for Counting {
    async fn create(
        &self,
        s: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> Result<CreateOutcome> {
        Self::count(&self.others);
        self.inner.create(s, cap, t).await
    }
    async fn load(&self, id: &SessionId, mode: LoadMode, t: &Timing) -> Result<Lookup> {
        Self::count(&self.loads);
        self.inner.load(id, mode, t).await
    }
    async fn load_and_write(
        &self,
        id: &SessionId,
        device: &DeviceInfo,
        write: Write<'_>,
        max: usize,
        t: &Timing,
    ) -> Result<LoadWrite> {
        Self::count(&self.combined);
        self.inner.load_and_write(id, device, write, max, t).await
    }
    async fn update(
        &self,
        id: &SessionId,
        patch: &Patch,
        expected: Option<u64>,
        max: usize,
        t: &Timing,
    ) -> Result<SessionRecord> {
        Self::count(&self.writes);
        self.inner.update(id, patch, expected, max, t).await
    }
    async fn increment(
        &self,
        id: &SessionId,
        key: &str,
        d: i64,
        max: usize,
        t: &Timing,
    ) -> Result<i64> {
        Self::count(&self.writes);
        self.inner.increment(id, key, d, max, t).await
    }
    async fn rotate(&self, r: &Rotation, t: &Timing) -> Result<CreateOutcome> {
        Self::count(&self.others);
        self.inner.rotate(r, t).await
    }
    async fn end(
        &self,
        id: &SessionId,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Option<EndedSession>> {
        Self::count(&self.others);
        self.inner.end(id, reason, t).await
    }
    async fn list_user(&self, user: &UserId, t: &Timing) -> Result<Vec<SessionRecord>> {
        Self::count(&self.others);
        self.inner.list_user(user, t).await
    }
    async fn end_user(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: EndReason,
        t: &Timing,
    ) -> Result<Vec<SessionId>> {
        Self::count(&self.others);
        self.inner.end_user(user, except, reason, t).await
    }
    async fn cleanup(&self, t: &Timing, batch: usize) -> Result<CleanupReport> {
        self.inner.cleanup(t, batch).await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

async fn count(app: &Router, cookie: Option<&str>) -> (String, Option<String>) {
    let mut req = Request::get("/count")
        .header(header::HOST, "app.test")
        .header(header::USER_AGENT, "test-agent");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = res
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8(body.to_vec()).unwrap(), set)
}

#[tokio::test]
async fn a_counter_request_on_a_session_is_one_store_step() {
    let store = Arc::new(Counting::default());
    let manager = Manager::with_clock(
        store.clone(),
        Policy::default(),
        Arc::new(sesame::SystemClock),
    )
    .unwrap();
    let layer = SessionLayer::new(manager, KeyRing::new(FernetKey::generate().unwrap()));
    let app = Router::new()
        .route(
            "/count",
            get(|s: Session| async move {
                Ok::<_, SessionError>(s.increment("n", 1).await?.to_string())
            }),
        )
        .layer(layer);

    // No session yet: create, then increment.
    let (first, cookie) = count(&app, None).await;
    assert_eq!(first, "1");
    let cookie = cookie.expect("a new session sets its cookie");
    let before = store.calls();
    for n in 2..=4 {
        let (body, set) = count(&app, Some(&cookie)).await;
        assert_eq!(body, n.to_string());
        assert_eq!(set, None, "the token did not change");
    }
    let after = store.calls();
    let delta: Vec<usize> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    // [loads, combined load+write, separate writes, others]
    assert_eq!(delta, vec![0, 3, 0, 0], "one combined step per request");
}
