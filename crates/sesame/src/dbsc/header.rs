//! The DBSC header fields, written and read.
//!
//! The server writes two: `Secure-Session-Registration` (on a login response)
//! and `Secure-Session-Challenge` (on a 403 to a refresh). They are HTTP
//! structured fields (RFC 9651): parameters are sf-strings, written here
//! quoted with `\` and `"` escaped, from visible ASCII only.
//!
//! It reads two: `Secure-Session-Response` (the JWT) and
//! `Sec-Secure-Session-Id`. Chromium 156 sends both bare, but the draft calls
//! them structured strings, so both forms are accepted: a quoted sf-string
//! (escapes resolved, any `;parameters` after it ignored) or a bare value.
//! What the value may hold is then checked by its reader (the JWT's
//! alphabet, the identifier's), so leniency here lets nothing odd through.

use super::error::Refusal;
use super::key::Algorithm;

/// `Secure-Session-Registration`: sent with a response (typically a login)
/// to ask the browser to register a key.
pub const REGISTRATION: &str = "Secure-Session-Registration";
/// `Secure-Session-Challenge`: a challenge for the next refresh proof.
pub const CHALLENGE: &str = "Secure-Session-Challenge";
/// `Secure-Session-Response`: the browser's signed JWT.
pub const RESPONSE: &str = "Secure-Session-Response";
/// `Sec-Secure-Session-Id`: the DBSC session a refresh is for.
pub const SESSION_ID: &str = "Sec-Secure-Session-Id";

/// The longest header value read (a JWT with a 4096-bit RSA key is ~1.4 KB).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// An sf-string: `"…"` with `\` and `"` escaped. `None` when `value` holds
/// anything but visible ASCII and spaces (an sf-string cannot carry it).
pub fn sf_string(value: &str) -> Option<String> {
    if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return None;
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

/// Reads an sf-string or a bare value (see the module docs).
///
/// # Errors
/// [`Refusal::MalformedHeader`] for an empty value, one over
/// [`MAX_HEADER_BYTES`], an unterminated or badly escaped string, or a bare
/// value with spaces, quotes, `;` or `,` in it.
pub fn read_value(raw: &[u8]) -> Result<String, Refusal> {
    if raw.len() > MAX_HEADER_BYTES {
        return Err(Refusal::MalformedHeader);
    }
    let text = std::str::from_utf8(raw).map_err(|_| Refusal::MalformedHeader)?;
    let text = text.trim_matches([' ', '\t']);
    let Some(rest) = text.strip_prefix('"') else {
        if text.is_empty()
            || !text
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\";,\\".contains(&b))
        {
            return Err(Refusal::MalformedHeader);
        }
        return Ok(text.to_owned());
    };
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    loop {
        match chars.next() {
            None => return Err(Refusal::MalformedHeader),
            Some('"') => break,
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\')) => out.push(c),
                _ => return Err(Refusal::MalformedHeader),
            },
            Some(c) if (' '..='~').contains(&c) => out.push(c),
            Some(_) => return Err(Refusal::MalformedHeader),
        }
    }
    let after = chars.as_str().trim_start_matches([' ', '\t']);
    if !(after.is_empty() || after.starts_with(';')) || out.is_empty() {
        return Err(Refusal::MalformedHeader);
    }
    Ok(out)
}

/// The `Secure-Session-Registration` value: the algorithms in order of
/// preference, the registration path, the challenge and, if any, the
/// authorization, e.g.
/// `(ES256 RS256);path="/dbsc/register";challenge="…";authorization="…"`.
///
/// # Errors
/// [`Refusal::MalformedHeader`] when a value cannot be an sf-string.
pub fn registration(
    algorithms: &[Algorithm],
    path: &str,
    challenge: &str,
    authorization: Option<&str>,
) -> Result<String, Refusal> {
    let quoted = |v: &str| sf_string(v).ok_or(Refusal::MalformedHeader);
    let names: Vec<&str> = algorithms.iter().map(|a| a.as_str()).collect();
    let mut out = format!(
        "({});path={};challenge={}",
        names.join(" "),
        quoted(path)?,
        quoted(challenge)?
    );
    if let Some(authorization) = authorization {
        out.push_str(";authorization=");
        out.push_str(&quoted(authorization)?);
    }
    Ok(out)
}

/// The `Secure-Session-Challenge` value: `"<challenge>";id="<identifier>"`.
///
/// # Errors
/// [`Refusal::MalformedHeader`] when a value cannot be an sf-string.
pub fn challenge(challenge: &str, identifier: &str) -> Result<String, Refusal> {
    let quoted = |v: &str| sf_string(v).ok_or(Refusal::MalformedHeader);
    Ok(format!("{};id={}", quoted(challenge)?, quoted(identifier)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_bare_values_both_read() {
        assert_eq!(read_value(b"abc.def-_").unwrap(), "abc.def-_");
        assert_eq!(read_value(b" \"abc.def\" ").unwrap(), "abc.def");
        assert_eq!(read_value(b"\"a\\\"b\\\\c\"").unwrap(), "a\"b\\c");
        assert_eq!(read_value(b"\"abc\";x=1").unwrap(), "abc");
        for bad in [
            &b""[..],
            b"\"\"",
            b"\"abc",
            b"\"a\\bc\"",
            b"\"abc\" x",
            b"a b",
            b"a;b",
            b"a,b",
            b"\"caf\xc3\xa9\"",
            b"\xff",
        ] {
            assert_eq!(read_value(bad), Err(Refusal::MalformedHeader), "{bad:?}");
        }
        assert_eq!(
            read_value(&vec![b'a'; MAX_HEADER_BYTES + 1]),
            Err(Refusal::MalformedHeader)
        );
    }

    #[test]
    fn written_headers_are_structured_fields() {
        let h = registration(
            &[Algorithm::Es256, Algorithm::Rs256],
            "/dbsc/register",
            "c1",
            Some("a\"uth"),
        )
        .unwrap();
        assert_eq!(
            h,
            "(ES256 RS256);path=\"/dbsc/register\";challenge=\"c1\";authorization=\"a\\\"uth\""
        );
        assert_eq!(
            registration(&[Algorithm::Rs256], "/r", "c", None).unwrap(),
            "(RS256);path=\"/r\";challenge=\"c\""
        );
        assert_eq!(challenge("c2", "id9").unwrap(), "\"c2\";id=\"id9\"");
        assert!(challenge("c\n", "id").is_err());
        // What the server writes, the server reads back.
        assert_eq!(
            read_value(sf_string("x\\y").unwrap().as_bytes()).unwrap(),
            "x\\y"
        );
    }
}
