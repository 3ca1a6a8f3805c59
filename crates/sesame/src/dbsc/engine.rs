//! [`Dbsc`]: the protocol's server side, for any transport.
//!
//! A transport (sesame-tower's layer, `sesame serve`) loads the request's
//! session as usual and hands the record to these methods; each returns what
//! to send the browser. They never see HTTP, so both transports answer the
//! same way for the same reason ([`DbscError::status`]).
//!
//! Store traffic: [`Dbsc::offer`] and [`Dbsc::check`] make no store call;
//! a registration is one compare-and-set, a refresh two (issue the challenge,
//! consume it), each retried on a lost race after a fresh read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::challenge::{
    MAX_AUTHORIZATION_BYTES, challenge_hash, check_ticket, random_challenge, random_identifier,
    same, seal_ticket,
};
use super::error::{DbscError, Refusal};
use super::policy::{DbscMode, DbscPolicy, MissingBoundCookie};
use super::state::{DbscState, MAX_PENDING_CHALLENGES, PendingChallenge};
use super::{bound, header, proof};
use crate::clock::Timestamp;
use crate::cookie::{CookiePolicy, KeyRing};
use crate::lifecycle::EndReason;
use crate::store::{LoadMode, Lookup, SessionRecord, Timing};
use crate::token::SessionId;
use crate::{Error, Manager};

/// Compare-and-set attempts before a step gives up (each follows a write
/// by someone else to the same session's DBSC state).
const ATTEMPTS: usize = 16;

/// The bound cookie and the session instructions a registration or a
/// refresh hands the browser.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Bound {
    /// The DBSC session identifier.
    pub identifier: String,
    /// The bound cookie's value.
    pub cookie: String,
    /// The complete `Set-Cookie` value of the bound cookie.
    pub set_cookie: String,
    /// The session instructions (JSON) to answer with, status 200,
    /// `Content-Type: application/json`.
    pub instructions: String,
}

/// What a refresh request gets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Refresh {
    /// Answer 403 with `Secure-Session-Challenge: <header>`; the browser
    /// signs the challenge and posts again.
    Challenge {
        /// The `Secure-Session-Challenge` value.
        header: String,
        /// Why the proof (if one came) was not accepted: a replayed, foreign
        /// or expired challenge. `None` when no proof came.
        stale: Option<Refusal>,
    },
    /// The proof verified: answer 200 with the new bound cookie.
    Refreshed(Bound),
}

/// Counters of DBSC outcomes, for metrics.
#[derive(Debug, Default)]
pub struct DbscStats {
    registered: AtomicU64,
    refreshed: AtomicU64,
    challenged: AtomicU64,
    rate_limited: AtomicU64,
    ended: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
}

impl DbscStats {
    /// Sessions bound to a key.
    pub fn registered(&self) -> u64 {
        self.registered.load(Ordering::Relaxed)
    }
    /// Bound cookies renewed by a verified refresh proof.
    pub fn refreshed(&self) -> u64 {
        self.refreshed.load(Ordering::Relaxed)
    }
    /// Refresh challenges issued.
    pub fn challenged(&self) -> u64 {
        self.challenged.load(Ordering::Relaxed)
    }
    /// Refreshes refused by the rate limit.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }
    /// Sessions ended (`dbsc_failed`) for a failed proof or bound cookie.
    pub fn ended(&self) -> u64 {
        self.ended.load(Ordering::Relaxed)
    }
    /// Refusals of this kind so far.
    pub fn refused(&self, refusal: Refusal) -> u64 {
        Refusal::ALL
            .iter()
            .position(|r| *r == refusal)
            .map_or(0, |i| self.refused[i].load(Ordering::Relaxed))
    }

    fn count(&self, refusal: Refusal) {
        if let Some(i) = Refusal::ALL.iter().position(|r| *r == refusal) {
            self.refused[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Inner {
    manager: Manager,
    keys: KeyRing,
    policy: DbscPolicy,
    cookie: CookiePolicy,
    stats: DbscStats,
}

/// Device Bound Session Credentials over a [`Manager`]. Cheap to clone.
///
/// # Examples
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use sesame::cookie::{CookiePolicy, FernetKey, KeyRing};
/// use sesame::dbsc::{Dbsc, DbscMode, DbscPolicy};
/// use sesame::{DeviceInfo, Manager, MemoryStore, Policy};
///
/// let manager = Manager::new(MemoryStore::new(), Policy::default())?;
/// let keys = KeyRing::new(FernetKey::generate()?);
/// let dbsc = Dbsc::new(manager.clone(), keys, &CookiePolicy::new(), DbscPolicy::new(DbscMode::Offer))?;
/// let login = manager.create(Some("alice"), Default::default(), DeviceInfo::default()).await?;
/// // Send this header with the login response.
/// let header = dbsc.offer(&login.session, None)?.expect("DBSC is on");
/// assert!(header.starts_with("(ES256 RS256);path=\"/dbsc/register\";challenge="));
/// // Until the browser registers, the session needs no bound cookie.
/// assert!(dbsc.check(&login.session, None).is_ok());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Dbsc {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dbsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dbsc")
            .field("policy", &self.inner.policy)
            .field("bound_cookie", &self.inner.cookie.name())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Instructions<'a> {
    session_identifier: &'a str,
    refresh_url: &'a str,
    scope: Scope<'a>,
    credentials: [Credential<'a>; 1],
}

#[derive(Serialize)]
struct Scope<'a> {
    include_site: bool,
    scope_specification: Vec<ScopeRule<'a>>,
}

#[derive(Serialize)]
struct ScopeRule<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    domain: &'static str,
    path: &'a str,
}

#[derive(Serialize)]
struct Credential<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    attributes: &'a str,
}

impl Dbsc {
    /// DBSC over `manager`, sealing bound cookies and registration tickets
    /// with `keys`. The bound cookie takes the session cookie's attributes
    /// (`session_cookie`), the name [`DbscPolicy::bound_cookie_name`] (default
    /// the session cookie's name + `-bound`) and `Max-Age` = the bound
    /// cookie lifetime.
    ///
    /// # Errors
    /// [`Error::Config`] when the policy does not validate or the bound
    /// cookie's policy would be refused by browsers.
    pub fn new(
        manager: Manager,
        keys: KeyRing,
        session_cookie: &CookiePolicy,
        policy: DbscPolicy,
    ) -> crate::Result<Self> {
        policy
            .validate()
            .map_err(|e| Error::Config(e.message().to_owned()))?;
        let name = match policy.bound_cookie_name() {
            Some(name) => name.to_owned(),
            None => format!("{}-bound", session_cookie.name()),
        };
        if name.eq_ignore_ascii_case(session_cookie.name()) {
            return Err(Error::Config(
                "dbsc.bound_cookie_name must differ from the session cookie's name".into(),
            ));
        }
        let cookie = session_cookie
            .clone()
            .with_name(name)
            .with_max_age(policy.bound_cookie_lifetime());
        cookie
            .validate()
            .map_err(|e| Error::Config(format!("the bound cookie: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                manager,
                keys,
                policy,
                cookie,
                stats: DbscStats::default(),
            }),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &DbscPolicy {
        &self.inner.policy
    }

    /// Whether DBSC is on (`offer` or `enforce`).
    pub fn enabled(&self) -> bool {
        self.inner.policy.mode() != DbscMode::Off
    }

    /// The bound cookie's name and attributes.
    pub fn bound_cookie(&self) -> &CookiePolicy {
        &self.inner.cookie
    }

    /// The counters.
    pub fn stats(&self) -> &DbscStats {
        &self.inner.stats
    }

    /// The manager.
    pub fn manager(&self) -> &Manager {
        &self.inner.manager
    }

    fn now(&self) -> Timestamp {
        self.inner.manager.now()
    }

    fn refuse(&self, refusal: Refusal, ended: bool) -> DbscError {
        self.inner.stats.count(refusal);
        DbscError::refused(refusal, ended)
    }

    /// The `Secure-Session-Registration` value to send with a response of
    /// `session` (its login): asks a DBSC browser to register a key. `None`
    /// when DBSC is off or the session is bound already. `authorization`,
    /// if given, must come back in the registration (at most 512 bytes of
    /// visible ASCII). No store call.
    ///
    /// # Errors
    /// `Refused(MalformedHeader)` for an authorization a header cannot
    /// carry; `Session(Internal)` if the OS random generator fails.
    pub fn offer(
        &self,
        session: &SessionRecord,
        authorization: Option<&str>,
    ) -> Result<Option<String>, DbscError> {
        if !self.enabled() || session.dbsc.is_some() {
            return Ok(None);
        }
        if authorization.is_some_and(|a| a.len() > MAX_AUTHORIZATION_BYTES) {
            return Err(DbscError::refused(Refusal::MalformedHeader, false));
        }
        let ticket = seal_ticket(&self.inner.keys, &session.id, authorization, self.now())?;
        let policy = &self.inner.policy;
        header::registration(
            policy.algorithms(),
            policy.registration_path(),
            &ticket,
            authorization,
        )
        .map(Some)
        .map_err(|r| DbscError::refused(r, false))
    }

    /// Verifies a registration (`response`: the `Secure-Session-Response`
    /// header's bytes) for `session`, the session its cookie named, and
    /// binds the session to the key it carries.
    ///
    /// # Errors
    /// `Disabled`; `Refused` with what was wrong (the session is not
    /// ended for a failed registration: it was never bound);
    /// `Session(_)` when the store fails or the session ended meanwhile.
    pub async fn register(
        &self,
        session: &SessionRecord,
        response: &[u8],
    ) -> Result<Bound, DbscError> {
        if !self.enabled() {
            return Err(DbscError::Disabled);
        }
        if session.dbsc.is_some() {
            return Err(self.refuse(Refusal::AlreadyRegistered, false));
        }
        let policy = &self.inner.policy;
        let now = self.now();
        let verified = header::read_value(response)
            .and_then(|jwt| {
                proof::registration(&jwt, policy.algorithms(), policy.registration_path())
            })
            .and_then(|reg| {
                check_ticket(
                    &self.inner.keys,
                    &reg.jti,
                    &session.id,
                    reg.authorization.as_deref(),
                    policy.challenge_lifetime(),
                    now,
                )
                .map(|()| reg)
            })
            .map_err(|r| self.refuse(r, false))?;
        let state = DbscState {
            identifier: random_identifier()?,
            key: verified.key,
            registered_at: now,
            challenges: Vec::new(),
            window_start: now,
            refreshes: 0,
            refreshed_at: None,
        };
        if !self.swap(&session.id, None, Some(&state)).await? {
            return Err(self.refuse(Refusal::AlreadyRegistered, false));
        }
        self.inner.stats.registered.fetch_add(1, Ordering::Relaxed);
        self.bound(&state.identifier, now)
    }

    /// A refresh request for `session`: `session_id` is the
    /// `Sec-Secure-Session-Id` header's bytes, `response` the
    /// `Secure-Session-Response` header's, if any. Without a proof, a new
    /// challenge; with a proof that verifies and answers a pending challenge,
    /// a new bound cookie; with one that verifies but answers a used or
    /// expired challenge, a new challenge (`stale` says why).
    ///
    /// A proof that does not verify against the registered key — a bad
    /// signature, a key or another algorithm in it, not a DBSC JWT — ends
    /// the session (reason `dbsc_failed`): the holder of the session cookie
    /// is not the holder of the key.
    ///
    /// # Errors
    /// `Disabled`; `Refused(NotRegistered | SessionMismatch |
    /// MalformedHeader)`; `Refused { ended: true, .. }` as above;
    /// `RateLimited`; `Session(_)`.
    pub async fn refresh(
        &self,
        session: &SessionRecord,
        session_id: Option<&[u8]>,
        response: Option<&[u8]>,
    ) -> Result<Refresh, DbscError> {
        if !self.enabled() {
            return Err(DbscError::Disabled);
        }
        let Some(state) = &session.dbsc else {
            return Err(self.refuse(Refusal::NotRegistered, false));
        };
        let named = session_id
            .ok_or(Refusal::MalformedHeader)
            .and_then(header::read_value)
            .map_err(|r| self.refuse(r, false))?;
        if !same(&named, &state.identifier) {
            return Err(self.refuse(Refusal::SessionMismatch, false));
        }
        let Some(response) = response else {
            return self.challenge(session, None).await;
        };
        let policy = &self.inner.policy;
        let jti = match header::read_value(response).and_then(|jwt| {
            proof::refresh(&jwt, &state.key, policy.algorithms(), policy.refresh_path())
        }) {
            Ok(jti) => jti,
            // Signed by the registered key for another endpoint: not the key's
            // failure, so refused without ending the session.
            Err(r @ Refusal::WrongAudience) => return Err(self.refuse(r, false)),
            Err(r) => {
                self.inner
                    .manager
                    .end_id(&session.id, EndReason::DbscFailed)
                    .await?;
                self.inner.stats.ended.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    session = %session.id.short(),
                    refusal = r.as_str(),
                    "DBSC refresh proof failed: session ended"
                );
                return Err(self.refuse(r, true));
            }
        };
        let now = self.now();
        match self.consume(session, &jti, now).await? {
            Ok(identifier) => {
                self.inner.stats.refreshed.fetch_add(1, Ordering::Relaxed);
                Ok(Refresh::Refreshed(self.bound(&identifier, now)?))
            }
            Err(stale) => {
                self.inner.stats.count(stale);
                self.challenge(session, Some(stale)).await
            }
        }
    }

    /// Checks the bound cookie of an in-scope request of `session` (the
    /// value of the cookie named [`Dbsc::bound_cookie`], if the request had
    /// one). No store call. `Ok` when the session needs none: DBSC off, a
    /// session that did not register (with `enforce`: an anonymous one, or
    /// one still within its registration window).
    ///
    /// # Errors
    /// The [`Refusal`]: `BoundCookieMissing`, `BoundCookieInvalid`,
    /// `BoundCookieExpired`, `RegistrationRequired`.
    pub fn check(
        &self,
        session: &SessionRecord,
        bound_cookie: Option<&str>,
    ) -> Result<(), Refusal> {
        let policy = &self.inner.policy;
        match (policy.mode(), &session.dbsc) {
            (DbscMode::Off, _) => Ok(()),
            (_, Some(state)) => bound::check(
                &self.inner.keys,
                bound_cookie.ok_or(Refusal::BoundCookieMissing)?,
                &state.identifier,
                policy.bound_cookie_lifetime(),
                self.now(),
            ),
            (DbscMode::Enforce, None)
                if session.user_id.is_some()
                    && self.now() >= session.created_at.plus(policy.registration_window()) =>
            {
                Err(Refusal::RegistrationRequired)
            }
            (_, None) => Ok(()),
        }
    }

    /// [`Dbsc::check`], then the policy's answer to a refusal
    /// ([`DbscPolicy::on_missing`]): a refusal with its status, after
    /// ending the session (reason `dbsc_failed`) for
    /// [`MissingBoundCookie::EndSession`].
    ///
    /// # Errors
    /// `Refused { refusal, status, ended }`; `Session(_)` if ending the
    /// session failed.
    pub async fn enforce(
        &self,
        session: &SessionRecord,
        bound_cookie: Option<&str>,
    ) -> Result<(), DbscError> {
        let Err(refusal) = self.check(session, bound_cookie) else {
            return Ok(());
        };
        self.inner.stats.count(refusal);
        let on_missing = self.inner.policy.on_missing();
        let ended = on_missing == MissingBoundCookie::EndSession;
        if ended {
            self.inner
                .manager
                .end_id(&session.id, EndReason::DbscFailed)
                .await?;
            self.inner.stats.ended.fetch_add(1, Ordering::Relaxed);
        }
        Err(DbscError::Refused {
            refusal,
            status: on_missing.status(),
            ended,
        })
    }

    /// The session instructions for the DBSC session `identifier` (JSON):
    /// the refresh endpoint, the scope (this origin, minus the excluded
    /// paths) and the bound cookie's name and attributes — those of its
    /// `Set-Cookie`, `Max-Age` aside, as the browser requires.
    pub fn instructions(&self, identifier: &str) -> String {
        let policy = &self.inner.policy;
        let attributes = self.inner.cookie.attribute_string();
        let body = Instructions {
            session_identifier: identifier,
            refresh_url: policy.refresh_path(),
            scope: Scope {
                include_site: false,
                scope_specification: policy
                    .excluded_paths()
                    .iter()
                    .map(|path| ScopeRule {
                        kind: "exclude",
                        domain: "*",
                        path,
                    })
                    .collect(),
            },
            credentials: [Credential {
                kind: "cookie",
                name: self.inner.cookie.name(),
                attributes: &attributes,
            }],
        };
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// The `Set-Cookie` value that removes the bound cookie (logout).
    pub fn removal_header(&self) -> String {
        self.inner.cookie.removal_header().unwrap_or_default()
    }

    fn bound(&self, identifier: &str, now: Timestamp) -> Result<Bound, DbscError> {
        let cookie = bound::seal(&self.inner.keys, identifier, now)?;
        let set_cookie = self
            .inner
            .cookie
            .set_cookie_header(&cookie)
            .map_err(Error::Cookie)?;
        Ok(Bound {
            identifier: identifier.to_owned(),
            instructions: self.instructions(identifier),
            cookie,
            set_cookie,
        })
    }

    fn timing(&self) -> Timing {
        let policy = self.inner.manager.policy();
        Timing {
            now: self.now(),
            idle_timeout: policy.idle_timeout(),
            touch_interval: policy.touch_interval(),
            tombstone_ttl: policy.tombstone_ttl(),
        }
    }

    async fn swap(
        &self,
        id: &SessionId,
        expected: Option<&DbscState>,
        new: Option<&DbscState>,
    ) -> Result<bool, DbscError> {
        Ok(self
            .inner
            .manager
            .store()
            .swap_dbsc(id, expected, new, &self.timing())
            .await?)
    }

    /// The session's DBSC state as stored now.
    async fn reread(&self, id: &SessionId) -> Result<DbscState, DbscError> {
        match self
            .inner
            .manager
            .store()
            .load(id, LoadMode::Peek, &self.timing())
            .await?
        {
            Lookup::Live(record) => match record.dbsc {
                Some(state) => Ok(*state),
                None => Err(self.refuse(Refusal::NotRegistered, false)),
            },
            Lookup::Missing => Err(Error::NotFound.into()),
            Lookup::Ended { tombstone, .. } => Err(Error::Ended {
                reason: tombstone.reason,
            }
            .into()),
        }
    }

    /// Issues a refresh challenge: counted against the rate limit and
    /// recorded (hashed) in the session's state, in one compare-and-set.
    async fn challenge(
        &self,
        session: &SessionRecord,
        stale: Option<Refusal>,
    ) -> Result<Refresh, DbscError> {
        let policy = &self.inner.policy;
        let mut current = session
            .dbsc
            .as_deref()
            .cloned()
            .ok_or_else(|| self.refuse(Refusal::NotRegistered, false))?;
        for _ in 0..ATTEMPTS {
            let now = self.now();
            let mut next = current.pruned(now);
            if let Some(limit) = policy.refresh_limit() {
                let window_end = next.window_start.plus(limit.window);
                if now >= window_end {
                    next.window_start = now;
                    next.refreshes = 0;
                } else if next.refreshes >= limit.max {
                    self.inner
                        .stats
                        .rate_limited
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(DbscError::RateLimited {
                        retry_after: now.until(window_end),
                    });
                }
                next.refreshes += 1;
            }
            let challenge = random_challenge()?;
            next.challenges.push(PendingChallenge {
                hash: challenge_hash(&challenge),
                expires_at: now.plus(policy.challenge_lifetime()),
            });
            let excess = next.challenges.len().saturating_sub(MAX_PENDING_CHALLENGES);
            next.challenges.drain(..excess);
            if self.swap(&session.id, Some(&current), Some(&next)).await? {
                self.inner.stats.challenged.fetch_add(1, Ordering::Relaxed);
                let header = header::challenge(&challenge, &next.identifier)
                    .map_err(|r| DbscError::refused(r, false))?;
                return Ok(Refresh::Challenge { header, stale });
            }
            current = self.reread(&session.id).await?;
        }
        Err(Error::Conflict { current_version: 0 }.into())
    }

    /// Consumes the pending challenge `jti`: `Ok(Ok(identifier))` when this
    /// call removed it, `Ok(Err(stale))` when it was not pending (used,
    /// another session's, invented) or has expired.
    async fn consume(
        &self,
        session: &SessionRecord,
        jti: &str,
        now: Timestamp,
    ) -> Result<Result<String, Refusal>, DbscError> {
        let hash = challenge_hash(jti);
        let mut current = session
            .dbsc
            .as_deref()
            .cloned()
            .ok_or_else(|| self.refuse(Refusal::NotRegistered, false))?;
        // The record may predate the challenge (loaded before it was issued):
        // an unknown challenge is looked for once more in the store.
        let mut reread = false;
        for _ in 0..ATTEMPTS {
            let Some(i) = current.challenges.iter().position(|c| same(&c.hash, &hash)) else {
                if reread {
                    return Ok(Err(Refusal::UnknownChallenge));
                }
                reread = true;
                current = self.reread(&session.id).await?;
                continue;
            };
            if current.challenges[i].expires_at <= now {
                return Ok(Err(Refusal::ExpiredChallenge));
            }
            let mut next = current.clone();
            next.challenges.remove(i);
            next = next.pruned(now);
            next.refreshed_at = Some(now);
            if self.swap(&session.id, Some(&current), Some(&next)).await? {
                return Ok(Ok(next.identifier));
            }
            reread = true;
            current = self.reread(&session.id).await?;
        }
        Err(Error::Conflict { current_version: 0 }.into())
    }
}
