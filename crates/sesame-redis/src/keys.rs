//! The key layout, mirrored from `lua/lib.lua`.
//!
//! Every key starts with the store's prefix and carries a Redis Cluster hash
//! tag, so that each script touches one slot:
//!
//! | key | type | tag | holds |
//! | --- | --- | --- | --- |
//! | `{P}{bXX}s:<sid>` | hash | `bXX` (first two hex digits of the id) | a session or its tombstone |
//! | `{P}{bXX}exp` | sorted set | `bXX` | the bucket's expiry index: id → next deadline |
//! | `{P}{u<hex user>}idx` | sorted set | `u<hex user>` | a user's sessions: id → created |
//!
//! A session and the expiry index it is filed in share a slot (256 buckets),
//! so load, update, increment and the sweep are one script on one slot. A
//! user's index has a slot of its own; the operations that join the two
//! (create for a user, rotate, end, list, end all) are one script on a
//! standalone server and a documented sequence of one-slot scripts on a
//! cluster (see the crate docs).

use sesame::{SessionId, UserId};

/// Number of expiry buckets (hash tags `b00`..`bff`).
pub const BUCKETS: usize = 256;

/// The tag of the bucket a session id falls in: its first two hex digits.
pub fn bucket_of(sid_hex: &str) -> &str {
    &sid_hex[..2]
}

/// The hash of a session (or tombstone).
pub fn session(prefix: &str, id: &SessionId) -> String {
    let hex = id.to_hex();
    format!("{prefix}{{b{}}}s:{hex}", bucket_of(&hex))
}

/// The hash of a session given its id in hex.
pub fn session_hex(prefix: &str, hex: &str) -> String {
    format!("{prefix}{{b{}}}s:{hex}", bucket_of(hex))
}

/// The expiry index of bucket `n` (0..256).
pub fn expiry_bucket(prefix: &str, n: usize) -> String {
    format!("{prefix}{{b{n:02x}}}exp")
}

/// A user's index.
pub fn user_index(prefix: &str, user: &UserId) -> String {
    format!("{prefix}{{u{}}}idx", hex::encode(user.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_and_its_bucket_share_a_tag() {
        let id = SessionId::of_token("x");
        let hex = id.to_hex();
        let s = session("p:", &id);
        let n = usize::from_str_radix(&hex[..2], 16).unwrap();
        let e = expiry_bucket("p:", n);
        let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_owned();
        assert_eq!(tag(&s), tag(&e));
        assert_eq!(
            user_index("p:", &UserId::new("a}b").unwrap()),
            "p:{u617d62}idx"
        );
    }
}
