//! DBSC in the engine: registration and refresh with software ES256 and
//! RS256 keys, and every refusal — another key, a replayed, foreign or
//! expired challenge, `typ`/`alg` (`none`, `HS256`), a key in a refresh
//! proof, a tampered bound cookie — plus quoted and bare header values.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};
use sesame::dbsc::{
    Dbsc, DbscError, DbscMode, DbscPolicy, MissingBoundCookie, Refresh, RefreshLimit, Refusal,
};
use sesame::testing::Harness;
use sesame::testing::dbsc::{SoftwareKey, engine, header_param, registered};
use sesame::{EndReason, Error, MemoryStore, Policy, SessionRecord};

fn harness() -> Harness {
    Harness::new(Arc::new(MemoryStore::new()), Policy::default())
}

fn offer() -> DbscPolicy {
    DbscPolicy::new(DbscMode::Offer)
}

fn keys() -> [SoftwareKey; 2] {
    [SoftwareKey::es256(), SoftwareKey::rs256()]
}

fn refusal<T: std::fmt::Debug>(r: Result<T, DbscError>) -> (Refusal, bool) {
    match r {
        Err(DbscError::Refused { refusal, ended, .. }) => (refusal, ended),
        other => panic!("not a refusal: {other:?}"),
    }
}

fn identifier(record: &SessionRecord) -> String {
    record.dbsc.as_ref().expect("bound").identifier.clone()
}

/// A session offered DBSC: the record, the challenge and authorization of
/// its registration header.
async fn offered(h: &Harness, dbsc: &Dbsc) -> (sesame::Created, String) {
    let created = h.create(Some(&h.user)).await;
    let header = dbsc.offer(&created.session, Some("az")).unwrap().unwrap();
    let challenge = header_param(&header, "challenge").unwrap();
    assert_eq!(
        header_param(&header, "authorization").as_deref(),
        Some("az")
    );
    (created, challenge)
}

async fn challenge(dbsc: &Dbsc, record: &SessionRecord) -> String {
    match dbsc
        .refresh(record, Some(identifier(record).as_bytes()), None)
        .await
        .unwrap()
    {
        Refresh::Challenge {
            header,
            stale: None,
        } => {
            assert_eq!(header_param(&header, "id"), Some(identifier(record)));
            header_param(&header, "challenge").unwrap()
        }
        other => panic!("not a fresh challenge: {other:?}"),
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn register_and_refresh_with_es256_and_rs256() {
    for key in keys() {
        let h = harness();
        let dbsc = engine(&h, offer());
        let (created, c) = offered(&h, &dbsc).await;
        let bound = dbsc
            .register(
                &created.session,
                key.registration(&c, Some("az")).as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(bound.identifier.len(), 22);
        assert!(
            bound.set_cookie.starts_with("__Host-sesame-bound="),
            "{}",
            bound.set_cookie
        );
        assert!(bound.set_cookie.contains("Max-Age=600"));
        let instructions: Value = serde_json::from_str(&bound.instructions).unwrap();
        assert_eq!(instructions["session_identifier"], bound.identifier);
        assert_eq!(instructions["refresh_url"], "/dbsc/refresh");
        assert_eq!(instructions["scope"]["include_site"], false);
        assert_eq!(
            instructions["credentials"][0]["name"],
            "__Host-sesame-bound"
        );
        assert_eq!(
            instructions["credentials"][0]["attributes"],
            "Path=/; Secure; HttpOnly; SameSite=Strict"
        );
        let record = h.session(&created.token).await;
        assert_eq!(record.dbsc.as_ref().unwrap().key, key.public());
        assert_eq!(dbsc.check(&record, Some(&bound.cookie)), Ok(()));
        assert_eq!(dbsc.check(&record, None), Err(Refusal::BoundCookieMissing));

        // The bound cookie expires; the key's holder renews it.
        h.clock.advance(Duration::from_secs(601));
        let record = h.session(&created.token).await;
        assert_eq!(
            dbsc.check(&record, Some(&bound.cookie)),
            Err(Refusal::BoundCookieExpired)
        );
        let c = challenge(&dbsc, &record).await;
        let record = h.session(&created.token).await;
        let Refresh::Refreshed(fresh) = dbsc
            .refresh(
                &record,
                Some(bound.identifier.as_bytes()),
                Some(key.refresh(&c).as_bytes()),
            )
            .await
            .unwrap()
        else {
            panic!("not refreshed ({:?})", key.algorithm());
        };
        assert_eq!(fresh.identifier, bound.identifier);
        assert_eq!(dbsc.check(&record, Some(&fresh.cookie)), Ok(()));
        assert_eq!(dbsc.stats().registered(), 1);
        assert_eq!(dbsc.stats().refreshed(), 1);
    }
}

#[tokio::test]
async fn the_registration_survives_token_renewal() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::es256();
    let (token, _, cookie) = registered(&h, &dbsc, &key).await;
    h.clock.advance(Duration::from_secs(16 * 60));
    let loaded = h.manager.load(token.expose(), &h.device).await.unwrap();
    assert!(loaded.renewed.is_some());
    // A new session id, the same DBSC session, the same bound cookie
    // (reissued on the next refresh).
    assert!(loaded.session.dbsc.is_some());
    assert_eq!(
        dbsc.check(&loaded.session, Some(&cookie)),
        Err(Refusal::BoundCookieExpired)
    );
    let c = challenge(&dbsc, &loaded.session).await;
    let id = identifier(&loaded.session);
    let done = dbsc
        .refresh(
            &loaded.session,
            Some(id.as_bytes()),
            Some(key.refresh(&c).as_bytes()),
        )
        .await
        .unwrap();
    assert!(matches!(done, Refresh::Refreshed(_)));
}

#[tokio::test]
async fn a_registration_signed_by_another_key_is_refused() {
    for (key, other) in [
        (SoftwareKey::es256(), SoftwareKey::es256()),
        (SoftwareKey::rs256(), SoftwareKey::rs256_other()),
    ] {
        let h = harness();
        let dbsc = engine(&h, offer());
        let (created, c) = offered(&h, &dbsc).await;
        // The header names `key`, the signature is `other`'s.
        let header = json!({"alg": key.algorithm().as_str(), "typ": "dbsc+jwt", "jwk": key.jwk()});
        let proof = other.sign(&header, &json!({"jti": c, "authorization": "az"}));
        assert_eq!(
            refusal(dbsc.register(&created.session, proof.as_bytes()).await),
            (Refusal::BadSignature, false)
        );
        assert!(h.session(&created.token).await.dbsc.is_none());
        assert_eq!(dbsc.stats().refused(Refusal::BadSignature), 1);
    }
}

#[tokio::test]
async fn a_refresh_signed_by_another_key_ends_the_session() {
    for (key, other) in [
        (SoftwareKey::es256(), SoftwareKey::es256()),
        (SoftwareKey::rs256(), SoftwareKey::rs256_other()),
        (SoftwareKey::rs256(), SoftwareKey::es256()),
    ] {
        let h = harness();
        let dbsc = engine(&h, offer());
        let (token, record, _) = registered(&h, &dbsc, &key).await;
        let c = challenge(&dbsc, &record).await;
        let id = identifier(&record);
        let err = dbsc
            .refresh(
                &record,
                Some(id.as_bytes()),
                Some(other.refresh(&c).as_bytes()),
            )
            .await;
        let (r, ended) = refusal(err);
        assert!(ended);
        assert!(
            matches!(r, Refusal::BadSignature | Refusal::AlgorithmNotAllowed),
            "{r:?}"
        );
        // Visible to the next request, and as an event.
        assert!(matches!(
            h.manager.load(token.expose(), &h.device).await,
            Err(Error::Ended {
                reason: EndReason::DbscFailed
            })
        ));
        assert_eq!(h.events.end_reasons(), vec![EndReason::DbscFailed]);
        assert_eq!(dbsc.stats().ended(), 1);
    }
}

#[tokio::test]
async fn a_replayed_or_foreign_challenge_is_refused() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::es256();

    // Registration: the ticket of one session on another; the same proof twice.
    let (a, ca) = offered(&h, &dbsc).await;
    let (b, _) = offered(&h, &dbsc).await;
    let proof = key.registration(&ca, Some("az"));
    assert_eq!(
        refusal(dbsc.register(&b.session, proof.as_bytes()).await),
        (Refusal::UnknownChallenge, false)
    );
    dbsc.register(&a.session, proof.as_bytes()).await.unwrap();
    let a_record = h.session(&a.token).await;
    let replay = dbsc.register(&a_record, proof.as_bytes()).await;
    assert_eq!(refusal(replay), (Refusal::AlreadyRegistered, false));
    // Even with the stale record (a replay racing the registration).
    let replay = dbsc.register(&a.session, proof.as_bytes()).await;
    assert_eq!(refusal(replay), (Refusal::AlreadyRegistered, false));

    // Refresh: a used challenge, another session's challenge, an invented one.
    let (_, r1, _) = registered(&h, &dbsc, &key).await;
    let (_, r2, _) = registered(&h, &dbsc, &key).await;
    let c1 = challenge(&dbsc, &r1).await;
    let id1 = identifier(&r1);
    let first = dbsc
        .refresh(&r1, Some(id1.as_bytes()), Some(key.refresh(&c1).as_bytes()))
        .await
        .unwrap();
    assert!(matches!(first, Refresh::Refreshed(_)));
    let again = dbsc
        .refresh(&r1, Some(id1.as_bytes()), Some(key.refresh(&c1).as_bytes()))
        .await
        .unwrap();
    assert!(
        matches!(
            again,
            Refresh::Challenge {
                stale: Some(Refusal::UnknownChallenge),
                ..
            }
        ),
        "{again:?}"
    );
    let c2 = challenge(&dbsc, &r2).await;
    let foreign = dbsc
        .refresh(&r1, Some(id1.as_bytes()), Some(key.refresh(&c2).as_bytes()))
        .await
        .unwrap();
    assert!(matches!(
        foreign,
        Refresh::Challenge {
            stale: Some(Refusal::UnknownChallenge),
            ..
        }
    ));
    let invented = dbsc
        .refresh(
            &r1,
            Some(id1.as_bytes()),
            Some(key.refresh("made-up").as_bytes()),
        )
        .await
        .unwrap();
    assert!(matches!(
        invented,
        Refresh::Challenge {
            stale: Some(Refusal::UnknownChallenge),
            ..
        }
    ));
    // The other session's challenge is still good for it.
    let id2 = identifier(&r2);
    let ok = dbsc
        .refresh(&r2, Some(id2.as_bytes()), Some(key.refresh(&c2).as_bytes()))
        .await
        .unwrap();
    assert!(matches!(ok, Refresh::Refreshed(_)));
    // A refresh naming the other DBSC session is refused (and ends nothing).
    assert_eq!(
        refusal(dbsc.refresh(&r1, Some(id2.as_bytes()), None).await),
        (Refusal::SessionMismatch, false)
    );
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::rs256();
    let (created, c) = offered(&h, &dbsc).await;
    h.clock.advance(Duration::from_secs(302));
    let err = dbsc
        .register(
            &created.session,
            key.registration(&c, Some("az")).as_bytes(),
        )
        .await;
    assert_eq!(refusal(err), (Refusal::ExpiredChallenge, false));

    let (_, record, _) = registered(&h, &dbsc, &key).await;
    let c = challenge(&dbsc, &record).await;
    h.clock.advance(Duration::from_secs(301));
    let id = identifier(&record);
    let late = dbsc
        .refresh(
            &record,
            Some(id.as_bytes()),
            Some(key.refresh(&c).as_bytes()),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            late,
            Refresh::Challenge {
                stale: Some(Refusal::ExpiredChallenge),
                ..
            }
        ),
        "{late:?}"
    );
}

#[tokio::test]
async fn typ_and_alg_are_checked_never_taken_from_the_token() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::es256();
    let (created, c) = offered(&h, &dbsc).await;
    let claims = json!({"jti": c, "authorization": "az"});
    let cases = [
        (
            json!({"alg": "ES256", "typ": "JWT", "jwk": key.jwk()}),
            Refusal::WrongType,
        ),
        (
            json!({"alg": "ES256", "jwk": key.jwk()}),
            Refusal::WrongType,
        ),
        (
            json!({"alg": "none", "typ": "dbsc+jwt", "jwk": key.jwk()}),
            Refusal::AlgorithmNotAllowed,
        ),
        (
            json!({"alg": "HS256", "typ": "dbsc+jwt", "jwk": key.jwk()}),
            Refusal::AlgorithmNotAllowed,
        ),
        (
            json!({"alg": "es256", "typ": "dbsc+jwt", "jwk": key.jwk()}),
            Refusal::AlgorithmNotAllowed,
        ),
        (
            json!({"typ": "dbsc+jwt", "jwk": key.jwk()}),
            Refusal::AlgorithmNotAllowed,
        ),
        (
            json!({"alg": "RS256", "typ": "dbsc+jwt", "jwk": key.jwk()}),
            Refusal::AlgorithmKeyMismatch,
        ),
        (
            json!({"alg": "ES256", "typ": "dbsc+jwt"}),
            Refusal::MissingKey,
        ),
        (
            json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": key.jwk(), "crit": ["exp"]}),
            Refusal::CriticalHeader,
        ),
        (
            json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
            Refusal::InvalidKey,
        ),
    ];
    for (header, expected) in cases {
        let proof = key.sign(&header, &claims);
        assert_eq!(
            refusal(dbsc.register(&created.session, proof.as_bytes()).await),
            (expected, false),
            "{header}"
        );
    }
    // `none` with no signature at all: refused the same way.
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "dbsc+jwt", "jwk": key.jwk()})),
        b64(&claims)
    );
    assert_eq!(
        refusal(dbsc.register(&created.session, unsigned.as_bytes()).await).0,
        Refusal::MalformedJwt
    );
    // An HMAC "signature" with the public key as the secret: refused by alg.
    let hs = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "HS256", "typ": "dbsc+jwt", "jwk": key.jwk()})),
        b64(&claims),
        URL_SAFE_NO_PAD.encode([0u8; 32])
    );
    assert_eq!(
        refusal(dbsc.register(&created.session, hs.as_bytes()).await).0,
        Refusal::AlgorithmNotAllowed
    );
    // The policy's allow-list rules: RS256 only refuses an ES256 proof.
    let rs_only = engine(
        &h,
        offer().with_algorithms(vec![sesame::dbsc::Algorithm::Rs256]),
    );
    let header = rs_only.offer(&created.session, None).unwrap().unwrap();
    assert!(header.starts_with("(RS256);"), "{header}");
    let c = header_param(&header, "challenge").unwrap();
    assert_eq!(
        refusal(
            rs_only
                .register(&created.session, key.registration(&c, None).as_bytes())
                .await
        )
        .0,
        Refusal::AlgorithmNotAllowed
    );
    assert!(h.session(&created.token).await.dbsc.is_none());

    // A refresh with the wrong typ or alg ends the session.
    for header in [
        json!({"alg": "ES256", "typ": "jwt"}),
        json!({"alg": "none", "typ": "dbsc+jwt"}),
        json!({"alg": "HS256", "typ": "dbsc+jwt"}),
    ] {
        let (token, record, _) = registered(&h, &dbsc, &key).await;
        let c = challenge(&dbsc, &record).await;
        let proof = key.sign(&header, &json!({"jti": c}));
        let id = identifier(&record);
        let (r, ended) = refusal(
            dbsc.refresh(&record, Some(id.as_bytes()), Some(proof.as_bytes()))
                .await,
        );
        assert!(
            ended && matches!(r, Refusal::WrongType | Refusal::AlgorithmNotAllowed),
            "{header}: {r:?}"
        );
        assert!(h.manager.load(token.expose(), &h.device).await.is_err());
    }
}

#[tokio::test]
async fn a_key_in_a_refresh_proof_ends_the_session() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::es256();
    let (token, record, _) = registered(&h, &dbsc, &key).await;
    let c = challenge(&dbsc, &record).await;
    // Even the registered key itself: the key comes from the registration only.
    let proof = key.registration(&c, None);
    let id = identifier(&record);
    assert_eq!(
        refusal(
            dbsc.refresh(&record, Some(id.as_bytes()), Some(proof.as_bytes()))
                .await
        ),
        (Refusal::KeyInRefresh, true)
    );
    assert!(matches!(
        h.manager.load(token.expose(), &h.device).await,
        Err(Error::Ended {
            reason: EndReason::DbscFailed
        })
    ));
}

#[tokio::test]
async fn authorization_and_audience_must_match() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::es256();
    let (created, c) = offered(&h, &dbsc).await;
    for auth in [None, Some("other")] {
        let proof = key.registration(&c, auth);
        assert_eq!(
            refusal(dbsc.register(&created.session, proof.as_bytes()).await),
            (Refusal::WrongAuthorization, false)
        );
    }
    let header = json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": key.jwk()});
    let aud = |aud: &str| {
        key.sign(
            &header,
            &json!({"jti": c, "authorization": "az", "aud": aud}),
        )
    };
    assert_eq!(
        refusal(
            dbsc.register(
                &created.session,
                aud("https://app.example/elsewhere").as_bytes()
            )
            .await
        ),
        (Refusal::WrongAudience, false)
    );
    // An audience naming the endpoint, and extra claims, are fine.
    let ok = key.sign(
        &header,
        &json!({"jti": c, "authorization": "az", "aud": "https://app.example/dbsc/register", "iat": 1}),
    );
    dbsc.register(&created.session, ok.as_bytes())
        .await
        .unwrap();
}

#[tokio::test]
async fn quoted_and_bare_header_values_are_both_accepted() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::rs256();
    let (created, c) = offered(&h, &dbsc).await;
    let quoted = format!("\"{}\"", key.registration(&c, Some("az")));
    dbsc.register(&created.session, quoted.as_bytes())
        .await
        .unwrap();
    let record = h.session(&created.token).await;
    let id = identifier(&record);
    for (sid, wrap) in [(format!("\"{id}\""), true), (id.clone(), false)] {
        let Refresh::Challenge { header, .. } = dbsc
            .refresh(&record, Some(sid.as_bytes()), None)
            .await
            .unwrap()
        else {
            panic!("a challenge");
        };
        let c = header_param(&header, "challenge").unwrap();
        let proof = key.refresh(&c);
        let proof = if wrap {
            format!(" \"{proof}\" ")
        } else {
            proof
        };
        let record = h.session(&created.token).await;
        let done = dbsc
            .refresh(&record, Some(sid.as_bytes()), Some(proof.as_bytes()))
            .await
            .unwrap();
        assert!(matches!(done, Refresh::Refreshed(_)));
    }
    // A refresh without the session id header is malformed.
    assert_eq!(
        refusal(dbsc.refresh(&record, None, None).await),
        (Refusal::MalformedHeader, false)
    );
}

#[tokio::test]
async fn a_tampered_or_foreign_bound_cookie_is_refused() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let key = SoftwareKey::es256();
    let (_, r1, cookie1) = registered(&h, &dbsc, &key).await;
    let (_, r2, cookie2) = registered(&h, &dbsc, &key).await;
    assert_eq!(dbsc.check(&r1, Some(&cookie1)), Ok(()));
    assert_eq!(
        dbsc.check(&r1, Some(&cookie2)),
        Err(Refusal::BoundCookieInvalid)
    );
    assert_eq!(
        dbsc.check(&r2, Some(&cookie1)),
        Err(Refusal::BoundCookieInvalid)
    );
    let mut tampered = cookie1.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'x' { b'y' } else { b'x' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        dbsc.check(&r1, Some(&tampered)),
        Err(Refusal::BoundCookieInvalid)
    );
    assert_eq!(dbsc.check(&r1, Some("")), Err(Refusal::BoundCookieInvalid));
    // Another deployment's keys: invalid too.
    let elsewhere = engine(&h, offer());
    assert_eq!(
        elsewhere.check(&r1, Some(&cookie1)),
        Err(Refusal::BoundCookieInvalid)
    );
}

#[tokio::test]
async fn modes_and_the_answer_to_a_missing_bound_cookie() {
    let h = harness();
    let key = SoftwareKey::es256();
    // Off: nothing offered, nothing checked, endpoints disabled.
    let off = engine(&h, DbscPolicy::default());
    let created = h.create(Some(&h.user)).await;
    assert_eq!(off.offer(&created.session, None).unwrap(), None);
    assert!(matches!(
        off.register(&created.session, b"x").await,
        Err(DbscError::Disabled)
    ));
    // Offer: an unregistered session needs no bound cookie, ever.
    let offer_engine = engine(&h, offer());
    h.clock.advance(Duration::from_secs(3600));
    let created = h.create(Some(&h.user)).await;
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(offer_engine.check(&created.session, None), Ok(()));
    // Enforce: a logged-in session must register within the window; an
    // anonymous one never has to.
    let enforce = engine(&h, DbscPolicy::new(DbscMode::Enforce));
    let fresh = h.create(Some(&h.user)).await;
    assert_eq!(enforce.check(&fresh.session, None), Ok(()));
    let anonymous = h.create(None).await;
    h.clock.advance(Duration::from_secs(61));
    assert_eq!(
        enforce.check(&fresh.session, None),
        Err(Refusal::RegistrationRequired)
    );
    assert_eq!(enforce.check(&anonymous.session, None), Ok(()));
    let err = enforce.enforce(&fresh.session, None).await.unwrap_err();
    assert_eq!((err.status(), err.ended_session()), (401, false));

    // on_missing: forbidden, then end_session.
    let forbid = engine(&h, offer().with_on_missing(MissingBoundCookie::Forbidden));
    let (token, record, _) = registered(&h, &forbid, &key).await;
    let err = forbid.enforce(&record, None).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (403, "bound_cookie_missing"));
    assert!(h.manager.load(token.expose(), &h.device).await.is_ok());
    let strict = engine(&h, offer().with_on_missing(MissingBoundCookie::EndSession));
    let (token, record, cookie) = registered(&h, &strict, &key).await;
    strict.enforce(&record, Some(&cookie)).await.unwrap();
    let err = strict.enforce(&record, None).await.unwrap_err();
    assert_eq!((err.status(), err.ended_session()), (401, true));
    assert!(matches!(
        h.manager.load(token.expose(), &h.device).await,
        Err(Error::Ended {
            reason: EndReason::DbscFailed
        })
    ));
}

#[tokio::test]
async fn refreshes_are_rate_limited_per_session() {
    let h = harness();
    let dbsc = engine(
        &h,
        offer().with_refresh_limit(Some(RefreshLimit {
            max: 3,
            window: Duration::from_secs(60),
        })),
    );
    let key = SoftwareKey::es256();
    let (token, record, _) = registered(&h, &dbsc, &key).await;
    let (_, other, _) = registered(&h, &dbsc, &key).await;
    let id = identifier(&record);
    for _ in 0..3 {
        dbsc.refresh(&record, Some(id.as_bytes()), None)
            .await
            .unwrap();
    }
    match dbsc.refresh(&record, Some(id.as_bytes()), None).await {
        Err(e @ DbscError::RateLimited { .. }) => assert_eq!(e.status(), 429),
        other => panic!("not limited: {other:?}"),
    }
    // Per session: the other is not limited.
    let oid = identifier(&other);
    dbsc.refresh(&other, Some(oid.as_bytes()), None)
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(61));
    let record = h.session(&token).await;
    dbsc.refresh(&record, Some(id.as_bytes()), None)
        .await
        .unwrap();
    assert_eq!(dbsc.stats().rate_limited(), 1);
}

#[tokio::test]
async fn refresh_of_an_unregistered_session_is_refused() {
    let h = harness();
    let dbsc = engine(&h, offer());
    let created = h.create(Some(&h.user)).await;
    assert_eq!(
        refusal(dbsc.refresh(&created.session, Some(b"x"), None).await),
        (Refusal::NotRegistered, false)
    );
    let err = dbsc
        .refresh(&created.session, Some(b"x"), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 401);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any bytes as a registration response are refused, never a panic.
    #[test]
    fn arbitrary_registration_responses_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let h = harness();
            let dbsc = engine(&h, offer());
            let created = h.create(Some(&h.user)).await;
            let r = dbsc.register(&created.session, &bytes).await;
            prop_assert!(matches!(r, Err(DbscError::Refused { .. })), "{r:?}");
            Ok(())
        })?;
    }

    /// Changing any one character of a valid registration proof gets it
    /// refused, and binds nothing.
    #[test]
    fn a_changed_proof_never_registers(at in any::<prop::sample::Index>(), to in prop::sample::select(b"AaZz09-_.\"=".to_vec())) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let h = harness();
            let dbsc = engine(&h, offer());
            let key = SoftwareKey::es256();
            let (created, c) = offered(&h, &dbsc).await;
            let mut proof = key.registration(&c, Some("az")).into_bytes();
            let i = at.index(proof.len());
            prop_assume!(proof[i] != to);
            proof[i] = to;
            let r = dbsc.register(&created.session, &proof).await;
            prop_assert!(matches!(r, Err(DbscError::Refused { .. })), "{r:?}");
            prop_assert!(h.session(&created.token).await.dbsc.is_none());
            Ok(())
        })?;
    }
}
