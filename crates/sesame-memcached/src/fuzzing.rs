//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not a
//! public API, hidden from the docs).
//!
//! Why here: the reply parser is private to the client, and the fuzz target
//! must run exactly the code a command runs on a server's answer. The reply
//! is served from memory, so the exchange never waits and one poll finishes
//! it; no runtime is needed and a run costs microseconds.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use crate::client::{ClientError, Expect, Item, Reply, exchange};

/// What [`parse_reply`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The items of a `gets` answer, in order, up to `END`.
    Values(Vec<(String, Item)>),
    /// The one line of any other answer, without its `\r\n`.
    Line(String),
}

/// Reads `reply` as the server's answer to a `gets` (`values`) or to a
/// one-line command (`set`, `delete`, `version`, ...), exactly as the client
/// does.
///
/// # Errors
/// The [`ClientError`] the client would return for this answer.
///
/// # Panics
/// If the exchange waits, which an in-memory reply cannot make it do.
pub fn parse_reply(reply: &[u8], values: bool) -> Result<Parsed, ClientError> {
    let expect = if values { Expect::Values } else { Expect::Line };
    let mut conn = tokio::io::join(reply, tokio::io::sink());
    let work = exchange(&mut conn, b"", &expect, "fuzz");
    let mut work = std::pin::pin!(work);
    match work.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(Reply::Values(items))) => Ok(Parsed::Values(items)),
        Poll::Ready(Ok(Reply::Line(line))) => Ok(Parsed::Line(line)),
        Poll::Ready(Err(e)) => Err(e),
        Poll::Pending => panic!("an in-memory reply never waits"),
    }
}
