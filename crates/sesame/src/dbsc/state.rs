//! What a store keeps of a session's DBSC registration.
//!
//! One value, [`DbscState`], in the session record (`SessionRecord::dbsc`):
//! the DBSC session identifier the browser names in refreshes, the
//! registered public key, the refresh challenges issued and not yet
//! answered (as SHA-256 hashes with their expiry: a dump of the store holds
//! no usable challenge), and the refresh counter of the rate limit.
//!
//! Why one value changed by compare-and-set ([`Store::swap_dbsc`]): every
//! DBSC write — registering, issuing a challenge, consuming one — reads this
//! value, decides, and writes the next one only if nobody changed it in
//! between. That makes a challenge single-use across processes sharing a
//! store (of two refreshes answering it, one swap succeeds), a registration
//! happen once, and the rate limit count every refresh, with one store
//! operation each and nothing else in the record touched.
//!
//! Stores keep it as the compact JSON of [`DbscState::encode`] and compare
//! those bytes; encoding is deterministic (members in a fixed order), and
//! `encode(decode(s)) == s` for every `s` encode produced (a test checks it).
//!
//! [`Store::swap_dbsc`]: crate::Store::swap_dbsc

use serde::{Deserialize, Serialize};

use super::key::PublicJwk;
use crate::clock::Timestamp;
use crate::token::SessionId;

/// Refresh challenges kept per session; issuing one more drops the oldest.
pub const MAX_PENDING_CHALLENGES: usize = 4;

/// The largest encoded state a store is asked to keep (a 4096-bit RSA key
/// and four challenges take ~1.2 KB).
pub const MAX_ENCODED_BYTES: usize = 4096;

/// A refresh challenge issued and not yet answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChallenge {
    /// SHA-256 of the challenge, hex.
    #[serde(rename = "h")]
    pub hash: String,
    /// Answers after this instant are refused.
    #[serde(rename = "x")]
    pub expires_at: Timestamp,
}

/// A session's DBSC registration (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbscState {
    /// The DBSC session identifier: random, 22 characters of base64url.
    #[serde(rename = "id")]
    pub identifier: String,
    /// The registered public key; its type fixes the algorithm.
    #[serde(rename = "key")]
    pub key: PublicJwk,
    /// When the key was registered.
    #[serde(rename = "at")]
    pub registered_at: Timestamp,
    /// Challenges issued and not yet answered, oldest first.
    #[serde(rename = "ch", default, skip_serializing_if = "Vec::is_empty")]
    pub challenges: Vec<PendingChallenge>,
    /// Start of the current rate-limit window.
    #[serde(rename = "ws")]
    pub window_start: Timestamp,
    /// Refresh challenges issued in the current window.
    #[serde(rename = "n")]
    pub refreshes: u32,
    /// The last successful refresh, if any.
    #[serde(rename = "rf", default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<Timestamp>,
}

impl DbscState {
    /// The compact JSON a store keeps.
    pub fn encode(&self) -> String {
        // Plain structs of strings and integers always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored state back.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`] naming the session when it is not a state.
    pub fn decode(id: &SessionId, text: &str) -> crate::Result<Self> {
        serde_json::from_str(text).map_err(|e| crate::Error::Corrupt {
            id: id.short(),
            detail: format!("dbsc state: {e}"),
        })
    }

    /// The state without challenges past their time at `now`.
    pub(crate) fn pruned(&self, now: Timestamp) -> Self {
        let mut next = self.clone();
        next.challenges.retain(|c| c.expires_at > now);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DbscState {
        DbscState {
            identifier: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            key: PublicJwk::Rsa {
                n: vec![0xC3; 256],
                e: vec![1, 0, 1],
            },
            registered_at: Timestamp::from_millis(1),
            challenges: vec![PendingChallenge {
                hash: "ab".repeat(32),
                expires_at: Timestamp::from_millis(5),
            }],
            window_start: Timestamp::from_millis(2),
            refreshes: 3,
            refreshed_at: Some(Timestamp::from_millis(4)),
        }
    }

    #[test]
    fn encoding_round_trips_byte_for_byte() {
        let id = SessionId::of_token("t");
        for state in [sample(), {
            let mut s = sample();
            s.challenges.clear();
            s.refreshed_at = None;
            s.key = PublicJwk::Ec {
                x: [7; 32],
                y: [9; 32],
            };
            s
        }] {
            let text = state.encode();
            let back = DbscState::decode(&id, &text).unwrap();
            assert_eq!(back, state);
            assert_eq!(back.encode(), text);
            assert!(text.len() < MAX_ENCODED_BYTES);
        }
        assert!(matches!(
            DbscState::decode(&id, "{\"id\":1}"),
            Err(crate::Error::Corrupt { .. })
        ));
    }

    #[test]
    fn pruning_drops_expired_challenges_only() {
        let s = sample();
        assert_eq!(s.pruned(Timestamp::from_millis(4)).challenges.len(), 1);
        assert!(s.pruned(Timestamp::from_millis(5)).challenges.is_empty());
    }
}
