//! Reading the `Cookie` request header.
//!
//! Why a parser of our own: the session cookie is the one input every attacker can send, so the
//! parser must take anything (bytes that are not UTF-8, missing `=`, empty pairs, stray
//! whitespace, quoted values, several `Cookie` headers, as HTTP/2 sends them) without panicking
//! and without allocating. It works on bytes and borrows from the input.
//!
//! Why [`find_session_cookie`] refuses duplicates: a browser sends every cookie whose domain and
//! path match, and an attacker who controls a sibling subdomain (or a path) can plant a second
//! cookie with our name ("cookie tossing", session fixation). The server cannot tell which one
//! it issued, so two cookies with the session's name give [`CookieError::Ambiguous`], never a
//! guess. (`__Host-` cookies cannot be planted from a sibling domain, one more reason for that
//! default name.)
//!
//! Session tokens are read from the `Cookie` header only: never from a URL query (it leaks into
//! logs, history and `Referer`) and never from a form field (it would make login CSRF and
//! session fixation trivial). This module has no function that would do otherwise.
//!
//! Parsing follows RFC 6265 §5.4 as browsers send it: pairs separated by `;`, optional
//! whitespace (space, tab) around names and values, the value runs to the next `;`. A value
//! wrapped in double quotes is returned without them. A pair without `=` has no name we could
//! match and is skipped, as are empty pairs.

use super::CookieError;

/// One `name=value` pair from a `Cookie` header, borrowed from the header bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePair<'a> {
    /// The name, trimmed of whitespace.
    pub name: &'a [u8],
    /// The value, trimmed of whitespace and of one pair of surrounding double quotes.
    pub value: &'a [u8],
}

/// An iterator over the pairs of one `Cookie` header value; see [`parse_cookie_header`].
#[derive(Debug, Clone)]
pub struct CookiePairs<'a> {
    rest: &'a [u8],
}

/// Parses one `Cookie` header value into its pairs. Never fails: what is not a pair is skipped.
pub fn parse_cookie_header(header: &[u8]) -> CookiePairs<'_> {
    CookiePairs { rest: header }
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ows(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ows(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn unquote(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

impl<'a> Iterator for CookiePairs<'a> {
    type Item = CookiePair<'a>;

    fn next(&mut self) -> Option<CookiePair<'a>> {
        while !self.rest.is_empty() {
            let (pair, rest) = match self.rest.iter().position(|&b| b == b';') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let name = trim(&pair[..eq]);
            if name.is_empty() {
                continue;
            }
            let value = unquote(trim(&pair[eq + 1..]));
            return Some(CookiePair { name, value });
        }
        None
    }
}

/// Finds the session cookie named `name` among all `Cookie` header values of a request.
///
/// Takes every header value (`&str`, `&[u8]`, `http::HeaderValue`, ...) because HTTP/2 clients
/// may split cookies over several headers.
///
/// Returns `Ok(None)` when there is no such cookie, `Ok(Some(value))` when there is exactly one.
///
/// # Errors
/// - [`CookieError::Ambiguous`] when the name appears more than once (cookie tossing).
/// - [`CookieError::InvalidToken`] when the one value is not UTF-8 (no token of ours is).
pub fn find_session_cookie<'a, I, H>(
    header_values: I,
    name: &str,
) -> Result<Option<&'a str>, CookieError>
where
    I: IntoIterator<Item = &'a H>,
    H: AsRef<[u8]> + ?Sized + 'a,
{
    let mut found: Option<&'a [u8]> = None;
    let mut count = 0usize;
    for header in header_values {
        for pair in parse_cookie_header(header.as_ref()) {
            if pair.name == name.as_bytes() {
                count += 1;
                found = Some(pair.value);
            }
        }
    }
    match (count, found) {
        (0, _) | (_, None) => Ok(None),
        (1, Some(value)) => std::str::from_utf8(value)
            .map(Some)
            .map_err(|_| CookieError::InvalidToken),
        (count, Some(_)) => Err(CookieError::Ambiguous { count }),
    }
}
