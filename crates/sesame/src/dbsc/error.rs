//! Why a DBSC step was refused, and the one mapping of each refusal to HTTP.
//!
//! Why one table here rather than in each transport: the browser reads DBSC
//! answers by status (a 403 carries a new challenge and is retried; any
//! other 4xx ends the browser's DBSC session; 429 and 5xx leave it alone), so
//! `sesame-tower` and `sesame serve` must answer alike; both use
//! [`DbscError::status`]. Every refusal has a stable snake_case code for
//! logs, metrics and JSON bodies, and none carries key material or tokens.

use std::time::Duration;

/// The precise reason a proof, a header or a bound cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// A DBSC header is missing or not what the protocol sends.
    MalformedHeader,
    /// The JWT is not three segments of base64url JSON within the size limit.
    MalformedJwt,
    /// The JWT's `typ` is not `dbsc+jwt`.
    WrongType,
    /// The JWT's `alg` is not one the policy allows (`none`, `HS256`, ...),
    /// or not the algorithm of the registered key.
    AlgorithmNotAllowed,
    /// The key's type does not go with the algorithm (an RSA key for ES256).
    AlgorithmKeyMismatch,
    /// The `jwk` is not a usable key: off the curve, a modulus out of range,
    /// bad encoding.
    InvalidKey,
    /// A registration without a `jwk`.
    MissingKey,
    /// A refresh proof that carries a key: the key comes from the
    /// registration only.
    KeyInRefresh,
    /// The JWT names a `crit` extension (none is understood).
    CriticalHeader,
    /// The signature does not verify with the key.
    BadSignature,
    /// The `jti` is not a challenge this server issued for this session and
    /// has not seen answered: replayed, from another session, or invented.
    UnknownChallenge,
    /// The `jti` is a challenge of this session whose time is up.
    ExpiredChallenge,
    /// The `authorization` claim is not the one sent with the registration
    /// header (or is present when none was sent, or absent when one was).
    WrongAuthorization,
    /// The `aud` claim names another endpoint.
    WrongAudience,
    /// A registration of a session that is already bound to a key.
    AlreadyRegistered,
    /// A refresh of a session that never registered.
    NotRegistered,
    /// The refresh names another DBSC session (`Sec-Secure-Session-Id`).
    SessionMismatch,
    /// An in-scope request of a bound session without a bound cookie.
    BoundCookieMissing,
    /// A bound cookie that is forged, tampered, or names another DBSC session.
    BoundCookieInvalid,
    /// An authentic bound cookie past its lifetime (the browser refreshes it;
    /// a thief cannot).
    BoundCookieExpired,
    /// With `enforce`: a logged-in session that did not register in time.
    RegistrationRequired,
}

impl Refusal {
    /// Every refusal, for metrics and exhaustive tests.
    pub const ALL: [Refusal; 21] = [
        Refusal::MalformedHeader,
        Refusal::MalformedJwt,
        Refusal::WrongType,
        Refusal::AlgorithmNotAllowed,
        Refusal::AlgorithmKeyMismatch,
        Refusal::InvalidKey,
        Refusal::MissingKey,
        Refusal::KeyInRefresh,
        Refusal::CriticalHeader,
        Refusal::BadSignature,
        Refusal::UnknownChallenge,
        Refusal::ExpiredChallenge,
        Refusal::WrongAuthorization,
        Refusal::WrongAudience,
        Refusal::AlreadyRegistered,
        Refusal::NotRegistered,
        Refusal::SessionMismatch,
        Refusal::BoundCookieMissing,
        Refusal::BoundCookieInvalid,
        Refusal::BoundCookieExpired,
        Refusal::RegistrationRequired,
    ];

    /// A stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MalformedHeader => "malformed_header",
            Refusal::MalformedJwt => "malformed_jwt",
            Refusal::WrongType => "wrong_type",
            Refusal::AlgorithmNotAllowed => "algorithm_not_allowed",
            Refusal::AlgorithmKeyMismatch => "algorithm_key_mismatch",
            Refusal::InvalidKey => "invalid_key",
            Refusal::MissingKey => "missing_key",
            Refusal::KeyInRefresh => "key_in_refresh",
            Refusal::CriticalHeader => "critical_header",
            Refusal::BadSignature => "bad_signature",
            Refusal::UnknownChallenge => "unknown_challenge",
            Refusal::ExpiredChallenge => "expired_challenge",
            Refusal::WrongAuthorization => "wrong_authorization",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::AlreadyRegistered => "already_registered",
            Refusal::NotRegistered => "not_registered",
            Refusal::SessionMismatch => "session_mismatch",
            Refusal::BoundCookieMissing => "bound_cookie_missing",
            Refusal::BoundCookieInvalid => "bound_cookie_invalid",
            Refusal::BoundCookieExpired => "bound_cookie_expired",
            Refusal::RegistrationRequired => "registration_required",
        }
    }

    /// Whether a request was refused for its bound cookie (or its missing
    /// registration), as opposed to a registration or a refresh.
    pub fn is_bound_cookie(self) -> bool {
        matches!(
            self,
            Refusal::BoundCookieMissing
                | Refusal::BoundCookieInvalid
                | Refusal::BoundCookieExpired
                | Refusal::RegistrationRequired
        )
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DBSC step that did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbscError {
    /// DBSC is off in the policy.
    #[error("DBSC is not enabled")]
    Disabled,
    /// The step was refused. `ended` is true when the refusal also ended
    /// the session (reason `dbsc_failed`): a refresh proof that did not
    /// verify against the registered key, or a missing bound cookie under
    /// [`MissingBoundCookie::EndSession`](super::MissingBoundCookie::EndSession).
    #[error("DBSC refused: {refusal}")]
    Refused {
        /// Why.
        refusal: Refusal,
        /// The status to answer with (see [`DbscError::status`]).
        status: u16,
        /// The session was ended for it.
        ended: bool,
    },
    /// The session asked for refresh challenges faster than the policy's
    /// limit; retry after the given time.
    #[error("too many DBSC refreshes of this session")]
    RateLimited {
        /// When the window ends.
        retry_after: Duration,
    },
    /// The session itself could not be used (not found, ended, the store
    /// unavailable, ...).
    #[error(transparent)]
    Session(#[from] crate::Error),
}

impl DbscError {
    /// A refusal of a registration or refresh step, with its status: 400 for
    /// what the browser sent wrong, 401 for a refresh the session cannot
    /// take (not registered, another DBSC session, ended by this refusal),
    /// 409 for a second registration.
    pub(crate) fn refused(refusal: Refusal, ended: bool) -> Self {
        let status = match refusal {
            _ if ended => 401,
            Refusal::NotRegistered | Refusal::SessionMismatch => 401,
            Refusal::AlreadyRegistered => 409,
            _ => 400,
        };
        DbscError::Refused {
            refusal,
            status,
            ended,
        }
    }

    /// The HTTP status a transport answers with. Statuses the browser acts
    /// on: 401/400/409 end its DBSC session (a refresh the server will never
    /// accept), 429 and 5xx leave it to retry later; a 403 is only ever sent
    /// with a new challenge, never from here.
    ///
    /// # Examples
    /// ```
    /// use sesame::dbsc::DbscError;
    ///
    /// assert_eq!(DbscError::Disabled.status(), 404);
    /// assert_eq!(DbscError::Session(sesame::Error::NotFound).status(), 401);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            DbscError::Disabled => 404,
            DbscError::Refused { status, .. } => *status,
            DbscError::RateLimited { .. } => 429,
            DbscError::Session(e) => match e.kind() {
                crate::ErrorKind::Unauthenticated => 401,
                crate::ErrorKind::Conflict => 409,
                crate::ErrorKind::TooLarge => 413,
                crate::ErrorKind::InvalidInput => 400,
                crate::ErrorKind::Unprocessable => 422,
                crate::ErrorKind::Unavailable => 503,
                crate::ErrorKind::Internal => 500,
            },
        }
    }

    /// A stable snake_case code: the refusal's, `rate_limited`,
    /// `dbsc_disabled`, or the session error's [`crate::Error::code`].
    pub fn code(&self) -> &'static str {
        match self {
            DbscError::Disabled => "dbsc_disabled",
            DbscError::Refused { refusal, .. } => refusal.as_str(),
            DbscError::RateLimited { .. } => "rate_limited",
            DbscError::Session(e) => e.code(),
        }
    }

    /// The refusal, if this is one.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            DbscError::Refused { refusal, .. } => Some(*refusal),
            _ => None,
        }
    }

    /// Whether this refusal ended the session.
    pub fn ended_session(&self) -> bool {
        matches!(self, DbscError::Refused { ended: true, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in Refusal::ALL {
            assert!(seen.insert(r.as_str()), "{r:?}");
            assert!(
                r.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
    }

    #[test]
    fn statuses_follow_what_the_browser_does_with_them() {
        assert_eq!(
            DbscError::refused(Refusal::BadSignature, false).status(),
            400
        );
        assert_eq!(
            DbscError::refused(Refusal::BadSignature, true).status(),
            401
        );
        assert_eq!(
            DbscError::refused(Refusal::NotRegistered, false).status(),
            401
        );
        assert_eq!(
            DbscError::refused(Refusal::AlreadyRegistered, false).status(),
            409
        );
        let limited = DbscError::RateLimited {
            retry_after: Duration::from_secs(3),
        };
        assert_eq!((limited.status(), limited.code()), (429, "rate_limited"));
        let down = DbscError::Session(crate::Error::unavailable("x"));
        assert_eq!((down.status(), down.code()), (503, "store_unavailable"));
    }
}
