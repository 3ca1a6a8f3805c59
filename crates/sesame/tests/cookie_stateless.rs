//! Stateless cookie sessions: data in the cookie, absolute expiry, size limit, revocation
//! through a per-user not-before time.

use std::time::Duration;

use serde_json::{Map, Value, json};
use sesame::cookie::{
    CookieError, CookiePolicy, FernetKey, KeyRing, MemoryNotBeforeStore, NotBeforeStore,
    StatelessSessions, find_session_cookie,
};

const NOW: u64 = 1_700_000_000;
const DAY: Duration = Duration::from_secs(86_400);

fn sessions() -> StatelessSessions {
    StatelessSessions::new(
        KeyRing::new(FernetKey::generate().unwrap()),
        CookiePolicy::new(),
        DAY,
    )
    .unwrap()
}

fn data(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn a_session_round_trips_through_the_cookie() {
    let s = sessions();
    let session = s.issue(
        Some("user-1".into()),
        data(json!({"cart": [1, 2], "theme": "dark"})),
        NOW,
    );
    assert_eq!(session.issued_at(), NOW);
    assert_eq!(session.expires_at(), NOW + 86_400);
    let header = s.set_cookie_header(&session, NOW).unwrap();
    assert!(header.starts_with("__Host-sesame=gAAAAA"));
    assert!(header.ends_with("; Path=/; Secure; HttpOnly; SameSite=Strict"));

    let value = find_session_cookie([header.split(';').next().unwrap()], "__Host-sesame")
        .unwrap()
        .unwrap();
    let opened = s.open(value, NOW + 10).unwrap();
    assert_eq!(opened, session);
    assert_eq!(opened.user_id(), Some("user-1"));
    assert_eq!(opened.get("theme"), Some(&json!("dark")));
    // The data is not readable in the cookie.
    assert!(!header.contains("dark"));
}

#[test]
fn re_sealing_keeps_issue_time_and_expiry() {
    let s = sessions();
    let mut session = s.issue(None, Map::new(), NOW);
    session.insert("n", json!(1));
    let later = NOW + 3_000;
    let value = s.seal(&session, later).unwrap();
    let mut opened = s.open(&value, later).unwrap();
    assert_eq!(opened.issued_at(), NOW);
    assert_eq!(opened.expires_at(), NOW + 86_400);
    assert_eq!(opened.remove("n"), Some(json!(1)));
    assert!(opened.data().is_empty());
    opened.data_mut().insert("k".into(), json!(true));
    assert_eq!(opened.get("k"), Some(&json!(true)));
}

#[test]
fn absolute_expiry_is_enforced() {
    let s = sessions();
    let session = s.issue(None, Map::new(), NOW);
    // Re-sealed late: the Fernet token is fresh, but the session's absolute expiry rules.
    let value = s.seal(&session, NOW + 86_000).unwrap();
    assert!(s.open(&value, NOW + 86_399).is_ok());
    assert_eq!(s.open(&value, NOW + 86_400), Err(CookieError::Expired));
    // A token sealed a lifetime ago is expired at the Fernet level too.
    let old = s.seal(&session, NOW).unwrap();
    assert_eq!(s.open(&old, NOW + 86_401), Err(CookieError::Expired));
}

#[test]
fn forged_and_foreign_cookies_are_invalid() {
    let s = sessions();
    let other = sessions();
    let value = other
        .seal(&other.issue(None, Map::new(), NOW), NOW)
        .unwrap();
    assert_eq!(s.open(&value, NOW), Err(CookieError::InvalidToken));
    assert_eq!(s.open("nonsense", NOW), Err(CookieError::InvalidToken));
    // Authentic Fernet, but not a session payload.
    let keys = KeyRing::new(FernetKey::generate().unwrap());
    let s2 = StatelessSessions::new(keys.clone(), CookiePolicy::new(), DAY).unwrap();
    for payload in [
        &b"hello"[..],
        b"{}",
        br#"{"v":2,"iat":1,"exp":99999999999,"data":{}}"#,
    ] {
        let v = keys.seal(payload, NOW).unwrap();
        assert_eq!(s2.open(&v, NOW), Err(CookieError::InvalidToken));
    }
}

#[test]
fn too_much_data_is_a_typed_error() {
    let s = sessions();
    let mut session = s.issue(None, Map::new(), NOW);
    session.insert("blob", json!("x".repeat(2_800)));
    let header = s.set_cookie_header(&session, NOW).unwrap();
    assert!(header.len() <= 4096);
    session.insert("blob", json!("x".repeat(3_200)));
    match s.seal(&session, NOW) {
        Err(CookieError::TooLarge { size, limit }) => {
            assert_eq!(limit, 4096);
            assert!(size > 4096);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        s.set_cookie_header(&session, NOW),
        Err(CookieError::TooLarge { .. })
    ));
}

#[test]
fn an_unsafe_policy_is_refused() {
    let r = StatelessSessions::new(
        KeyRing::new(FernetKey::generate().unwrap()),
        CookiePolicy::new().with_domain("example.com"),
        DAY,
    );
    assert!(matches!(r, Err(CookieError::InvalidPolicy(_))));
}

#[test]
fn removal_header_logs_out_this_device() {
    let s = sessions();
    assert!(s.removal_header().unwrap().contains("Max-Age=0"));
    assert_eq!(s.lifetime(), DAY);
    assert_eq!(s.policy(), &CookiePolicy::new());
}

#[tokio::test]
async fn log_out_everywhere_revokes_earlier_sessions() {
    let s = sessions();
    let store = MemoryNotBeforeStore::new();
    let phone = s
        .seal(&s.issue(Some("ada".into()), Map::new(), NOW), NOW)
        .unwrap();
    let laptop = s
        .seal(
            &s.issue(Some("ada".into()), Map::new(), NOW + 100),
            NOW + 100,
        )
        .unwrap();
    let bob = s
        .seal(&s.issue(Some("bob".into()), Map::new(), NOW), NOW)
        .unwrap();
    let anonymous = s.seal(&s.issue(None, Map::new(), NOW), NOW).unwrap();

    assert!(s.open_checked(&phone, &store, NOW + 200).await.is_ok());
    s.revoke_user(&store, "ada", NOW + 200).await.unwrap();
    assert_eq!(store.not_before("ada").await.unwrap(), Some(NOW + 200));

    assert_eq!(
        s.open_checked(&phone, &store, NOW + 201).await,
        Err(CookieError::Revoked)
    );
    assert_eq!(
        s.open_checked(&laptop, &store, NOW + 201).await,
        Err(CookieError::Revoked)
    );
    assert!(
        s.open_checked(&bob, &store, NOW + 201).await.is_ok(),
        "other users untouched"
    );
    assert!(s.open_checked(&anonymous, &store, NOW + 201).await.is_ok());
    // Without the store the cookie is still authentic: revocation needs the store.
    assert!(s.open(&phone, NOW + 201).is_ok());

    // A login after the revocation (same second included) is accepted.
    let fresh = s
        .seal(
            &s.issue(Some("ada".into()), Map::new(), NOW + 200),
            NOW + 200,
        )
        .unwrap();
    assert!(s.open_checked(&fresh, &store, NOW + 201).await.is_ok());
}

#[tokio::test]
async fn not_before_never_moves_backwards() {
    let store = MemoryNotBeforeStore::new();
    assert_eq!(store.not_before("u").await.unwrap(), None);
    store.set_not_before("u", 500).await.unwrap();
    store.set_not_before("u", 100).await.unwrap();
    assert_eq!(store.not_before("u").await.unwrap(), Some(500));
    store.set_not_before("u", 900).await.unwrap();
    assert_eq!(store.not_before("u").await.unwrap(), Some(900));
}

struct DownStore;

#[async_trait::async_trait]
impl NotBeforeStore for DownStore {
    async fn not_before(&self, _: &str) -> Result<Option<u64>, CookieError> {
        Err(CookieError::StoreUnavailable("down".into()))
    }
    async fn set_not_before(&self, _: &str, _: u64) -> Result<(), CookieError> {
        Err(CookieError::StoreUnavailable("down".into()))
    }
}

#[tokio::test]
async fn a_failing_store_fails_closed() {
    let s = sessions();
    let v = s
        .seal(&s.issue(Some("ada".into()), Map::new(), NOW), NOW)
        .unwrap();
    assert_eq!(
        s.open_checked(&v, &DownStore, NOW).await,
        Err(CookieError::StoreUnavailable("down".into()))
    );
    assert!(s.revoke_user(&DownStore, "ada", NOW).await.is_err());
}
