//! User ids: who a session belongs to.

use std::fmt;
use std::sync::Arc;

use crate::Error;

/// Longest accepted user id, in bytes.
pub const MAX_USER_ID_LEN: usize = 256;

/// The id of the user a session belongs to: 1 to 256 bytes of UTF-8.
///
/// Cheap to clone; compared and hashed by value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Arc<str>);

impl UserId {
    /// Validates and wraps a user id.
    pub fn new(id: impl AsRef<str>) -> Result<Self, Error> {
        let id = id.as_ref();
        if id.is_empty() {
            return Err(Error::InvalidUserId("empty"));
        }
        if id.len() > MAX_USER_ID_LEN {
            return Err(Error::InvalidUserId("longer than 256 bytes"));
        }
        if id.chars().any(char::is_control) {
            return Err(Error::InvalidUserId("contains control characters"));
        }
        Ok(Self(Arc::from(id)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({:?})", &*self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        UserId::new(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        assert!(UserId::new("alice").is_ok());
        assert!(UserId::new("x".repeat(256)).is_ok());
        assert!(matches!(UserId::new(""), Err(Error::InvalidUserId(_))));
        assert!(matches!(
            UserId::new("x".repeat(257)),
            Err(Error::InvalidUserId(_))
        ));
        assert!(matches!(UserId::new("a\nb"), Err(Error::InvalidUserId(_))));
    }
}
