//! The conformance cases. Each takes a fresh store.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::Harness;
pub use super::combined::*;
pub use super::concurrency::*;
pub use super::histories::*;
use crate::data::Patch;
use crate::device::{DeviceBinding, DeviceInfo, MismatchAction};
use crate::events::SessionEvent;
use crate::lifecycle::EndReason;
use crate::policy::{CapAction, Policy, Renewal, UserCap};
use crate::store::Store;
use crate::{Error, SessionId};

type Dyn = Arc<dyn Store>;

/// A policy without renewal, so that cases which move the clock see no
/// rotation they did not ask for.
pub fn steady_policy() -> Policy {
    Policy::default().with_renewal(None)
}

/// A harness whose policy caps each user at `max` sessions.
pub fn capped(store: Dyn, max: usize, on_limit: CapAction) -> Harness {
    let cap = UserCap { max, on_limit };
    Harness::new(store, steady_policy().with_user_cap(Some(cap)))
}

fn assert_ended<T: std::fmt::Debug>(result: crate::Result<T>, expected: EndReason) {
    match result {
        Err(Error::Ended { reason }) => assert_eq!(reason, expected),
        other => panic!("expected Ended({expected}), got {other:?}"),
    }
}

/// A created session loads back with its user, data, device and version 1.
pub async fn create_and_load(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let mut data = crate::Data::new();
    data.insert("cart".into(), json!({"items": [1, 2]}));
    let created = h
        .manager
        .create(Some(&h.user), data.clone(), h.device.clone())
        .await
        .unwrap();
    assert_eq!(created.token.expose().len(), 43);
    assert!(created.evicted.is_empty());
    let loaded = h
        .manager
        .load(created.token.expose(), &h.device)
        .await
        .unwrap();
    let s = loaded.session;
    assert_eq!(s.id, created.token.id());
    assert_eq!(
        s.user_id.as_ref().map(|u| u.as_str()),
        Some(h.user.as_str())
    );
    assert_eq!(s.data, data);
    assert_eq!(s.version, 1);
    assert_eq!(s.device, h.device);
    assert_eq!(s.created_at, h.clock.now_for_tests());
    assert_eq!(
        s.absolute_expires_at,
        s.created_at.plus(h.manager.policy().absolute_lifetime())
    );
    assert!(loaded.renewed.is_none());
    assert!(matches!(
        h.events.events().as_slice(),
        [SessionEvent::Created { id, .. }] if *id == s.id
    ));
}

/// Anonymous sessions work and belong to no user.
pub async fn anonymous_sessions_have_no_user(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let created = h.create(None).await;
    let loaded = h
        .manager
        .load(created.token.expose(), &h.device)
        .await
        .unwrap();
    assert!(loaded.session.user_id.is_none());
}

/// A well-formed token nobody issued is `NotFound`; a malformed one is
/// `InvalidToken`.
pub async fn unknown_token_is_not_found(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let stranger = crate::SessionToken::generate().unwrap();
    assert!(matches!(
        h.manager.load(stranger.expose(), &h.device).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        h.manager.load("not-a-token", &h.device).await,
        Err(Error::InvalidToken)
    ));
}

/// A load inside the touch interval writes nothing; after it, the use is
/// recorded and the idle expiry moves.
pub async fn load_touches_only_after_the_touch_interval(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    let first = h.session(&token).await;
    h.clock.advance(Duration::from_secs(30));
    let inside = h.session(&token).await;
    assert_eq!(inside.last_accessed, first.last_accessed);
    assert_eq!(inside.idle_expires_at, first.idle_expires_at);
    h.clock.advance(Duration::from_secs(31));
    let after = h.session(&token).await;
    assert_eq!(after.last_accessed, h.clock.now_for_tests());
    assert_eq!(
        after.idle_expires_at,
        after.last_accessed.plus(h.manager.policy().idle_timeout())
    );
    assert_eq!(after.version, first.version, "a touch is not a data change");
}

/// Past the idle timeout the session ends with `IdleTimeout`, reported once.
pub async fn idle_timeout_ends_the_session_once(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    h.clock.advance(h.manager.policy().idle_timeout());
    assert_ended(
        h.manager.load(token.expose(), &h.device).await,
        EndReason::IdleTimeout,
    );
    assert_ended(
        h.manager.load(token.expose(), &h.device).await,
        EndReason::IdleTimeout,
    );
    h.manager.cleanup().await.unwrap();
    assert_eq!(h.events.end_reasons(), vec![EndReason::IdleTimeout]);
}

/// A session used every few minutes still ends at its absolute lifetime.
pub async fn absolute_lifetime_ends_even_an_active_session(store: Dyn) {
    let policy = steady_policy()
        .with_idle_timeout(Duration::from_secs(600))
        .with_absolute_lifetime(Duration::from_secs(3600));
    let h = Harness::new(store, policy);
    let token = h.create(Some(&h.user)).await.token;
    for _ in 0..11 {
        h.clock.advance(Duration::from_secs(300));
        h.manager.load(token.expose(), &h.device).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(300));
    assert_ended(
        h.manager.load(token.expose(), &h.device).await,
        EndReason::AbsoluteTimeout,
    );
}

/// The tombstone answers with the reason until its time is up; then the token
/// is simply unknown.
pub async fn tombstone_keeps_the_reason_until_purged(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    h.manager
        .destroy(token.expose(), EndReason::Revoked)
        .await
        .unwrap();
    h.clock
        .advance(h.manager.policy().tombstone_ttl() - Duration::from_secs(1));
    h.manager.cleanup().await.unwrap();
    assert_ended(
        h.manager.load(token.expose(), &h.device).await,
        EndReason::Revoked,
    );
    h.clock.advance(Duration::from_secs(2));
    let report = h.manager.cleanup().await.unwrap();
    assert!(report.deleted >= 1, "{report:?}");
    assert!(matches!(
        h.manager.load(token.expose(), &h.device).await,
        Err(Error::NotFound)
    ));
}

/// A patch sets and removes keys, leaves the others, and bumps the version.
pub async fn patch_sets_and_removes_keys_and_bumps_version(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let mut data = crate::Data::new();
    data.insert("keep".into(), json!("me"));
    data.insert("drop".into(), json!(1));
    let token = h
        .manager
        .create(Some(&h.user), data, h.device.clone())
        .await
        .unwrap()
        .token;
    let patch = Patch::new()
        .set("theme", "dark")
        .unwrap()
        .set("nested", json!({"a": [1, null, "x"]}))
        .unwrap()
        .remove("drop")
        .unwrap();
    let updated = h
        .manager
        .update(token.expose(), &patch, None)
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    let loaded = h.session(&token).await;
    assert_eq!(
        serde_json::Value::Object(loaded.data),
        json!({"keep": "me", "theme": "dark", "nested": {"a": [1, null, "x"]}})
    );
    assert_eq!(loaded.version, 2);
}

/// Compare-and-set with a stale version fails with the current version and
/// changes nothing.
pub async fn stale_compare_and_set_is_a_conflict(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    let one = Patch::new().set("a", 1).unwrap();
    let v2 = h
        .manager
        .update(token.expose(), &one, Some(1))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let two = Patch::new().set("a", 2).unwrap();
    match h.manager.update(token.expose(), &two, Some(1)).await {
        Err(Error::Conflict { current_version }) => assert_eq!(current_version, 2),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let loaded = h.session(&token).await;
    assert_eq!(loaded.data.get("a"), Some(&json!(1)));
    assert!(
        h.manager
            .update(token.expose(), &two, Some(2))
            .await
            .is_ok()
    );
}

/// Data over the size limit is refused, at creation and by patches, and the
/// stored data is unchanged.
pub async fn oversized_data_is_refused_and_nothing_changes(store: Dyn) {
    let h = Harness::new(store, steady_policy().with_max_data_size(1024));
    let mut big = crate::Data::new();
    big.insert("blob".into(), json!("x".repeat(2000)));
    assert!(matches!(
        h.manager.create(Some(&h.user), big, h.device.clone()).await,
        Err(Error::DataTooLarge { limit: 1024, .. })
    ));
    let token = h.create(Some(&h.user)).await.token;
    let ok = Patch::new().set("small", "y".repeat(500)).unwrap();
    h.manager.update(token.expose(), &ok, None).await.unwrap();
    let too_much = Patch::new().set("more", "z".repeat(600)).unwrap();
    assert!(matches!(
        h.manager.update(token.expose(), &too_much, None).await,
        Err(Error::DataTooLarge { .. })
    ));
    let counter = h.manager.increment(token.expose(), "n", 1).await;
    assert!(counter.is_ok(), "a small increment still fits: {counter:?}");
    let loaded = h.session(&token).await;
    assert!(loaded.data.get("more").is_none());
    assert_eq!(loaded.version, 3);
}

/// Increments start from zero, add up, and refuse non-integers.
pub async fn increment_counts_and_refuses_non_integers(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    assert_eq!(
        h.manager.increment(token.expose(), "n", 5).await.unwrap(),
        5
    );
    assert_eq!(
        h.manager.increment(token.expose(), "n", -2).await.unwrap(),
        3
    );
    let text = Patch::new().set("s", "text").unwrap();
    h.manager.update(token.expose(), &text, None).await.unwrap();
    assert!(matches!(
        h.manager.increment(token.expose(), "s", 1).await,
        Err(Error::NotAnInteger { .. })
    ));
    let max = Patch::new().set("m", i64::MAX).unwrap();
    h.manager.update(token.expose(), &max, None).await.unwrap();
    assert!(matches!(
        h.manager.increment(token.expose(), "m", 1).await,
        Err(Error::NotAnInteger { .. })
    ));
    let loaded = h.session(&token).await;
    assert_eq!(loaded.data.get("n"), Some(&json!(3)));
    assert_eq!(loaded.data.get("s"), Some(&json!("text")));
    assert_eq!(loaded.version, 5);
}

/// Login gives a new token for the same data, moves the session to the user,
/// and the pre-login token stops working at once.
pub async fn login_rotates_and_kills_the_old_token(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let anonymous = h.create(None).await.token;
    h.manager
        .update(
            anonymous.expose(),
            &Patch::new().set("cart", 3).unwrap(),
            None,
        )
        .await
        .unwrap();
    let rotated = h.manager.login(anonymous.expose(), &h.user).await.unwrap();
    assert_ne!(rotated.token, anonymous);
    assert_ended(
        h.manager.load(anonymous.expose(), &h.device).await,
        EndReason::Rotated,
    );
    let loaded = h
        .manager
        .load(rotated.token.expose(), &h.device)
        .await
        .unwrap();
    assert_eq!(loaded.session.data.get("cart"), Some(&json!(3)));
    assert_eq!(loaded.session.user_id.unwrap().as_str(), h.user);
    let listed = h.manager.list_user(&h.user).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, rotated.token.id());
    // A privilege change rotates again, keeping the user.
    let again = h.manager.rotate(rotated.token.expose()).await.unwrap();
    assert_ended(
        h.manager.load(rotated.token.expose(), &h.device).await,
        EndReason::Rotated,
    );
    let ids: Vec<SessionId> = h.listed_ids().await;
    assert_eq!(ids, vec![again.token.id()]);
}

/// Within the grace the old token reaches the new session; after it, the
/// token is refused and its successor ended as a security event.
pub async fn rotation_grace_and_token_reuse(store: Dyn) {
    let h = Harness::new(
        store,
        steady_policy().with_rotation_grace(Duration::from_secs(30)),
    );
    let old = h.create(Some(&h.user)).await.token;
    let new = h.manager.rotate(old.expose()).await.unwrap().token;
    h.clock.advance(Duration::from_secs(10));
    let via_old = h.manager.load(old.expose(), &h.device).await.unwrap();
    assert!(via_old.via_grace);
    assert_eq!(via_old.session.id, new.id());
    h.clock.advance(Duration::from_secs(21));
    assert_ended(
        h.manager.load(old.expose(), &h.device).await,
        EndReason::TokenReuse,
    );
    assert_ended(
        h.manager.load(new.expose(), &h.device).await,
        EndReason::TokenReuse,
    );
    assert!(h.events.end_reasons().contains(&EndReason::TokenReuse));
}

/// A token older than the renewal interval is replaced on use.
pub async fn renewal_replaces_the_token_with_grace(store: Dyn) {
    let renewal = Renewal {
        interval: Duration::from_secs(600),
        grace: Duration::from_secs(20),
    };
    let h = Harness::new(store, Policy::default().with_renewal(Some(renewal)));
    let old = h.create(Some(&h.user)).await.token;
    h.clock.advance(Duration::from_secs(300));
    assert!(
        h.manager
            .load(old.expose(), &h.device)
            .await
            .unwrap()
            .renewed
            .is_none()
    );
    h.clock.advance(Duration::from_secs(300));
    let loaded = h.manager.load(old.expose(), &h.device).await.unwrap();
    let new = loaded.renewed.expect("renewed after the interval");
    assert_eq!(loaded.session.id, new.id());
    let in_grace = h.manager.load(old.expose(), &h.device).await.unwrap();
    assert!(in_grace.via_grace && in_grace.renewed.is_none());
    let fresh = h.manager.load(new.expose(), &h.device).await.unwrap();
    assert!(fresh.renewed.is_none());
    assert_eq!(h.manager.list_user(&h.user).await.unwrap().len(), 1);
}

/// Logout ends the session once; the next request learns why.
pub async fn logout_ends_once(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    assert!(
        h.manager
            .destroy(token.expose(), EndReason::LoggedOut)
            .await
            .unwrap()
    );
    assert!(
        !h.manager
            .destroy(token.expose(), EndReason::LoggedOut)
            .await
            .unwrap()
    );
    assert_ended(
        h.manager.load(token.expose(), &h.device).await,
        EndReason::LoggedOut,
    );
    assert_ended(
        h.manager
            .update(token.expose(), &Patch::new().set("a", 1).unwrap(), None)
            .await,
        EndReason::LoggedOut,
    );
    assert_eq!(h.events.end_reasons(), vec![EndReason::LoggedOut]);
    assert!(h.manager.list_user(&h.user).await.unwrap().is_empty());
}

/// A user's sessions are listed oldest first; revoking all but the current
/// one leaves just that one.
pub async fn list_and_revoke_a_users_sessions(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(h.create(Some(&h.user)).await.token);
        h.clock.advance(Duration::from_secs(1));
    }
    let other = h.create(Some(&h.other_user(1))).await.token;
    let listed: Vec<SessionId> = h.listed_ids().await;
    assert_eq!(listed, tokens.iter().map(|t| t.id()).collect::<Vec<_>>());
    let keep = tokens[1].id();
    let mut revoked = h.manager.revoke_user(&h.user, Some(&keep)).await.unwrap();
    revoked.sort();
    let mut expected = vec![tokens[0].id(), tokens[2].id()];
    expected.sort();
    assert_eq!(revoked, expected);
    assert_ended(
        h.manager.load(tokens[0].expose(), &h.device).await,
        EndReason::Revoked,
    );
    assert!(h.manager.load(tokens[1].expose(), &h.device).await.is_ok());
    assert!(h.manager.load(other.expose(), &h.device).await.is_ok());
    assert_eq!(h.manager.list_user(&h.user).await.unwrap().len(), 1);
    let all = h.manager.revoke_user(&h.user, None).await.unwrap();
    assert_eq!(all, vec![keep]);
    assert!(h.manager.list_user(&h.user).await.unwrap().is_empty());
}

/// One session can be ended by its id ("sign out that device").
pub async fn end_one_session_by_id(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let a = h.create(Some(&h.user)).await.token;
    let b = h.create(Some(&h.user)).await.token;
    assert!(h.manager.end_id(&a.id(), EndReason::Revoked).await.unwrap());
    assert_ended(
        h.manager.load(a.expose(), &h.device).await,
        EndReason::Revoked,
    );
    assert!(h.manager.load(b.expose(), &h.device).await.is_ok());
    assert_eq!(h.manager.list_user(&h.user).await.unwrap().len(), 1);
}

/// With `EvictOldest`, the least recently created sessions make room.
pub async fn cap_evicts_the_oldest(store: Dyn) {
    let h = capped(store, 2, CapAction::EvictOldest);
    let first = h.create(Some(&h.user)).await.token;
    h.clock.advance(Duration::from_secs(1));
    let second = h.create(Some(&h.user)).await.token;
    h.clock.advance(Duration::from_secs(1));
    // Using the oldest does not save it: eviction is by creation time.
    h.manager.load(first.expose(), &h.device).await.unwrap();
    let third = h.create(Some(&h.user)).await;
    assert_eq!(third.evicted, vec![first.id()]);
    assert_ended(
        h.manager.load(first.expose(), &h.device).await,
        EndReason::Evicted,
    );
    assert!(h.manager.load(second.expose(), &h.device).await.is_ok());
    assert_eq!(h.manager.list_user(&h.user).await.unwrap().len(), 2);
    assert_eq!(h.events.end_reasons(), vec![EndReason::Evicted]);
    // Other users are not affected by this user's cap.
    h.create(Some(&h.other_user(1))).await;
    assert_eq!(h.manager.list_user(&h.user).await.unwrap().len(), 2);
}

/// With `RejectNew`, a user at the cap gets `LimitReached`.
pub async fn cap_rejects_new_when_configured(store: Dyn) {
    let h = capped(store, 2, CapAction::RejectNew);
    let first = h.create(Some(&h.user)).await.token;
    h.create(Some(&h.user)).await;
    assert!(matches!(
        h.manager
            .create(Some(&h.user), Default::default(), h.device.clone())
            .await,
        Err(Error::LimitReached)
    ));
    // Ending one makes room.
    h.manager
        .destroy(first.expose(), EndReason::LoggedOut)
        .await
        .unwrap();
    assert!(
        h.manager
            .create(Some(&h.user), Default::default(), h.device.clone())
            .await
            .is_ok()
    );
    // Anonymous sessions are never capped.
    for _ in 0..3 {
        h.create(None).await;
    }
}

/// Logging an anonymous session into a user at the cap evicts that user's
/// oldest session in the same step.
pub async fn login_into_a_capped_user_evicts(store: Dyn) {
    let h = capped(store, 2, CapAction::EvictOldest);
    let first = h.create(Some(&h.user)).await.token;
    h.clock.advance(Duration::from_secs(1));
    let second = h.create(Some(&h.user)).await.token;
    let anonymous = h.create(None).await.token;
    let rotated = h.manager.login(anonymous.expose(), &h.user).await.unwrap();
    assert_eq!(rotated.evicted, vec![first.id()]);
    let mut ids: Vec<SessionId> = h.listed_ids().await;
    ids.sort();
    let mut expected = vec![second.id(), rotated.token.id()];
    expected.sort();
    assert_eq!(ids, expected);
}

/// An expired session neither shows in the user's list nor counts against
/// the cap.
pub async fn expired_sessions_leave_the_user_index(store: Dyn) {
    let h = capped(store, 1, CapAction::RejectNew);
    h.create(Some(&h.user)).await;
    h.clock
        .advance(h.manager.policy().idle_timeout() + Duration::from_secs(1));
    assert!(h.manager.list_user(&h.user).await.unwrap().is_empty());
    let fresh = h.create(Some(&h.user)).await;
    assert!(fresh.evicted.is_empty());
    assert_eq!(h.manager.list_user(&h.user).await.unwrap().len(), 1);
}

/// Cleanup ends each expired session once, reports it, and purges tombstones
/// when their time is up.
pub async fn cleanup_reports_each_expiry_once_and_purges(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(h.create(Some(&h.other_user(i))).await.token);
    }
    let survivor = {
        h.clock.advance(h.manager.policy().idle_timeout() / 2);
        h.create(Some(&h.user)).await.token
    };
    h.clock
        .advance(h.manager.policy().idle_timeout() / 2 + Duration::from_secs(1));
    let report = h.manager.cleanup().await.unwrap();
    let mut expired: Vec<SessionId> = report.expired.iter().map(|e| e.id).collect();
    expired.sort();
    let mut expected: Vec<SessionId> = tokens.iter().map(|t| t.id()).collect();
    expected.sort();
    assert_eq!(expired, expected);
    assert!(
        report
            .expired
            .iter()
            .all(|e| e.reason == EndReason::IdleTimeout)
    );
    assert!(report.scanned >= 5, "{report:?}");
    let again = h.manager.cleanup().await.unwrap();
    assert!(again.expired.is_empty(), "{again:?}");
    assert_eq!(h.events.end_reasons().len(), 5);
    assert_ended(
        h.manager.load(tokens[0].expose(), &h.device).await,
        EndReason::IdleTimeout,
    );
    assert_eq!(
        h.events.end_reasons().len(),
        5,
        "a load after cleanup reports nothing new"
    );
    assert!(h.manager.load(survivor.expose(), &h.device).await.is_ok());
    h.clock.advance(h.manager.policy().tombstone_ttl());
    let purge = h.manager.cleanup().await.unwrap();
    assert!(purge.deleted >= 5, "{purge:?}");
    assert!(matches!(
        h.manager.load(tokens[1].expose(), &h.device).await,
        Err(Error::NotFound)
    ));
}

/// A different user agent ends the session (`Destroy`) or marks it (`Flag`).
pub async fn device_mismatch_destroys_or_flags(store: Dyn) {
    let h = Harness::new(store.clone(), steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    let thief = DeviceInfo::default().with_user_agent("curl/8");
    assert_ended(
        h.manager.load(token.expose(), &thief).await,
        EndReason::DeviceMismatch,
    );
    assert_ended(
        h.manager.load(token.expose(), &h.device).await,
        EndReason::DeviceMismatch,
    );

    let flag = steady_policy()
        .with_device_binding(DeviceBinding::default().with_on_mismatch(MismatchAction::Flag));
    let h = Harness::new(store, flag);
    let token = h.create(Some(&h.user)).await.token;
    let loaded = h.manager.load(token.expose(), &thief).await.unwrap();
    assert!(loaded.device_flagged);
    assert!(
        !h.manager
            .load(token.expose(), &h.device)
            .await
            .unwrap()
            .device_flagged
    );
}

/// Inspection reports times left, data and end reason, and writes nothing.
pub async fn inspect_reports_without_touching(store: Dyn) {
    let h = Harness::new(store, steady_policy());
    let token = h.create(Some(&h.user)).await.token;
    h.clock.advance(Duration::from_secs(120));
    let seen = h.manager.inspect(token.expose()).await.unwrap();
    assert!(seen.exists && seen.live);
    assert_eq!(seen.idle_seconds_left, Some(30 * 60 - 120));
    assert_eq!(seen.absolute_seconds_left, Some(12 * 3600 - 120));
    assert_eq!(seen.version, Some(1));
    let again = h.manager.inspect(token.expose()).await.unwrap();
    assert_eq!(
        again.last_accessed, seen.last_accessed,
        "inspect must not touch"
    );
    h.manager
        .destroy(token.expose(), EndReason::Revoked)
        .await
        .unwrap();
    let ended = h.manager.inspect(token.expose()).await.unwrap();
    assert!(ended.exists && !ended.live);
    assert_eq!(ended.end_reason, Some(EndReason::Revoked));
    let stranger = crate::SessionToken::generate().unwrap();
    assert!(!h.manager.inspect(stranger.expose()).await.unwrap().exists);
}
