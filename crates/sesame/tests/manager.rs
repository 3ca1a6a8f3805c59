//! Manager behaviour that does not depend on the store: bad input is refused
//! before any store access, and events reach subscribers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::json;
use sesame::store::{CleanupReport, CreateOutcome, LoadMode, Lookup, Rotation, Timing};
use sesame::{
    Data, DeviceInfo, EndReason, Error, Manager, MemoryStore, Patch, Policy, SessionEvent,
    SessionId, SessionRecord, Store, UserCap, UserId,
};

/// A memory store that counts every call made to it.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    calls: AtomicUsize,
}

impl CountingStore {
    fn hit(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn create(
        &self,
        s: SessionRecord,
        cap: Option<UserCap>,
        t: &Timing,
    ) -> sesame::Result<CreateOutcome> {
        self.hit();
        self.inner.create(s, cap, t).await
    }
    async fn load(&self, id: &SessionId, m: LoadMode, t: &Timing) -> sesame::Result<Lookup> {
        self.hit();
        self.inner.load(id, m, t).await
    }
    async fn update(
        &self,
        id: &SessionId,
        p: &Patch,
        v: Option<u64>,
        max: usize,
        t: &Timing,
    ) -> sesame::Result<SessionRecord> {
        self.hit();
        self.inner.update(id, p, v, max, t).await
    }
    async fn increment(
        &self,
        id: &SessionId,
        k: &str,
        d: i64,
        max: usize,
        t: &Timing,
    ) -> sesame::Result<i64> {
        self.hit();
        self.inner.increment(id, k, d, max, t).await
    }
    async fn rotate(&self, r: &Rotation, t: &Timing) -> sesame::Result<CreateOutcome> {
        self.hit();
        self.inner.rotate(r, t).await
    }
    async fn end(
        &self,
        id: &SessionId,
        r: EndReason,
        t: &Timing,
    ) -> sesame::Result<Option<sesame::lifecycle::EndedSession>> {
        self.hit();
        self.inner.end(id, r, t).await
    }
    async fn list_user(&self, u: &UserId, t: &Timing) -> sesame::Result<Vec<SessionRecord>> {
        self.hit();
        self.inner.list_user(u, t).await
    }
    async fn end_user(
        &self,
        u: &UserId,
        e: Option<&SessionId>,
        r: EndReason,
        t: &Timing,
    ) -> sesame::Result<Vec<SessionId>> {
        self.hit();
        self.inner.end_user(u, e, r, t).await
    }
    async fn cleanup(&self, t: &Timing, b: usize) -> sesame::Result<CleanupReport> {
        self.hit();
        self.inner.cleanup(t, b).await
    }
    async fn ping(&self) -> sesame::Result<()> {
        self.hit();
        Ok(())
    }
}

fn counting() -> (Manager, Arc<CountingStore>) {
    let store = Arc::new(CountingStore::default());
    let manager = Manager::with_clock(
        store.clone(),
        Policy::default(),
        Arc::new(sesame::SystemClock),
    )
    .unwrap();
    (manager, store)
}

#[tokio::test]
async fn malformed_tokens_never_reach_the_store() {
    let (m, store) = counting();
    let device = DeviceInfo::default();
    let bad = [
        "",
        "short",
        "x".repeat(44).as_str(),
        "!".repeat(43).as_str(),
        "' OR 1=1 --",
    ]
    .map(str::to_owned);
    for token in &bad {
        assert!(matches!(
            m.load(token, &device).await,
            Err(Error::InvalidToken)
        ));
        let patch = Patch::new().set("a", 1).unwrap();
        assert!(matches!(
            m.update(token, &patch, None).await,
            Err(Error::InvalidToken)
        ));
        assert!(matches!(
            m.increment(token, "n", 1).await,
            Err(Error::InvalidToken)
        ));
        assert!(matches!(
            m.destroy(token, EndReason::LoggedOut).await,
            Err(Error::InvalidToken)
        ));
        assert!(matches!(m.inspect(token).await, Err(Error::InvalidToken)));
        assert!(matches!(
            m.login(token, "alice").await,
            Err(Error::InvalidToken)
        ));
        assert!(matches!(m.rotate(token).await, Err(Error::InvalidToken)));
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bad_user_ids_and_oversized_data_never_reach_the_store() {
    let (m, store) = counting();
    let device = DeviceInfo::default();
    for user in ["", &"u".repeat(257)] {
        assert!(matches!(
            m.create(Some(user), Data::new(), device.clone()).await,
            Err(Error::InvalidUserId(_))
        ));
        assert!(matches!(
            m.list_user(user).await,
            Err(Error::InvalidUserId(_))
        ));
        assert!(matches!(
            m.revoke_user(user, None).await,
            Err(Error::InvalidUserId(_))
        ));
    }
    let mut big = Data::new();
    big.insert("k".into(), json!("x".repeat(70_000)));
    assert!(matches!(
        m.create(None, big, device.clone()).await,
        Err(Error::DataTooLarge { limit: 65536, .. })
    ));
    let mut bad_key = Data::new();
    bad_key.insert(String::new(), json!(1));
    assert!(matches!(
        m.create(None, bad_key, device).await,
        Err(Error::InvalidKey(_))
    ));
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_load_is_one_store_call() {
    let (m, store) = counting();
    let device = DeviceInfo::default().with_user_agent("ua");
    let token = m
        .create(Some("alice"), Data::new(), device.clone())
        .await
        .unwrap()
        .token;
    let before = store.calls.load(Ordering::SeqCst);
    m.load(token.expose(), &device).await.unwrap();
    assert_eq!(store.calls.load(Ordering::SeqCst) - before, 1);
}

#[tokio::test]
async fn subscribers_see_created_rotated_and_ended() {
    let m = Manager::new(MemoryStore::new(), Policy::default()).unwrap();
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sink = seen.clone();
    m.subscribe(Arc::new(move |e: &SessionEvent| {
        sink.lock().push(e.clone())
    }));
    let device = DeviceInfo::default();
    let anonymous = m.create(None, Data::new(), device.clone()).await.unwrap();
    let rotated = m.login(anonymous.token.expose(), "alice").await.unwrap();
    m.destroy(rotated.token.expose(), EndReason::LoggedOut)
        .await
        .unwrap();
    let events = seen.lock().clone();
    assert!(matches!(
        events[0],
        SessionEvent::Created { user_id: None, .. }
    ));
    assert!(matches!(
        &events[1],
        SessionEvent::Rotated { from, to, .. }
            if *from == anonymous.token.id() && *to == rotated.token.id()
    ));
    assert!(matches!(
        events[2],
        SessionEvent::Ended {
            reason: EndReason::LoggedOut,
            ..
        }
    ));
    assert_eq!(events.len(), 3);
}

#[test]
fn an_inconsistent_policy_is_refused() {
    let policy = Policy::default().with_idle_timeout(std::time::Duration::ZERO);
    let err = Manager::new(MemoryStore::new(), policy).unwrap_err();
    assert!(matches!(
        err,
        Error::Policy(ref e)
            if e.setting() == sesame::PolicySetting::IdleTimeout
                && e.to_string().contains("idle_timeout")
    ));
}

#[tokio::test]
async fn the_memory_store_bound_refuses_new_sessions() {
    let m = Manager::new(MemoryStore::new().with_max_sessions(2), Policy::default()).unwrap();
    let device = DeviceInfo::default();
    let first = m.create(None, Data::new(), device.clone()).await.unwrap();
    m.create(None, Data::new(), device.clone()).await.unwrap();
    assert!(matches!(
        m.create(None, Data::new(), device.clone()).await,
        Err(Error::StoreFull)
    ));
    m.destroy(first.token.expose(), EndReason::LoggedOut)
        .await
        .unwrap();
    assert!(m.create(None, Data::new(), device).await.is_ok());
}
