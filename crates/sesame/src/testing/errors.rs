//! Errors for transports' tests: one of every variant, so a test can check
//! that each [`ErrorKind`](crate::ErrorKind) is answered as documented.

use crate::cookie::CookieError;
use crate::error::Error;
use crate::lifecycle::EndReason;
use crate::policy::{PolicyError, PolicySetting};

/// One error of every [`Error`] variant (both end-reason families), for
/// transports' tests that check how each is answered.
pub fn every_error() -> Vec<Error> {
    vec![
        Error::InvalidToken,
        Error::InvalidSessionId,
        Error::NotFound,
        Error::Ended {
            reason: EndReason::LoggedOut,
        },
        Error::Ended {
            reason: EndReason::IdleTimeout,
        },
        Error::Conflict { current_version: 3 },
        Error::LimitReached,
        Error::StoreFull,
        Error::DataTooLarge { size: 9, limit: 2 },
        Error::InvalidUserId("empty"),
        Error::InvalidKey("empty"),
        Error::Serialization("secret detail".into()),
        Error::NotAnInteger { key: "n".into() },
        Error::Config("secret detail".into()),
        Error::Policy(PolicyError::new(PolicySetting::IdleTimeout, "idle_timeout")),
        Error::unavailable(std::io::Error::other("secret detail")),
        Error::Corrupt {
            id: "abc".into(),
            detail: "secret detail".into(),
        },
        Error::Cookie(CookieError::InvalidToken),
        Error::Internal("secret detail".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn every_kind_has_an_error() {
        let kinds: Vec<ErrorKind> = every_error().iter().map(Error::kind).collect();
        for kind in ErrorKind::ALL {
            assert!(kinds.contains(&kind), "no sample error of kind {kind:?}");
        }
    }
}
