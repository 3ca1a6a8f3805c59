//! The DBSC proof: a compact JWS (RFC 7515) read into its parts.
//!
//! Only the syntax is checked here — three segments of canonical base64url
//! without padding, a JSON object header and payload (duplicate members
//! refused, so a reader cannot be fooled about which `alg` counts), the size
//! bound. What the members must be (`typ`, `alg`, the key, the claims) is
//! [`super::proof`]'s job. The signature is checked over the segments as
//! sent (`header.payload`), never over a re-encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use super::error::Refusal;

/// The largest JWT read, in bytes.
pub const MAX_JWT_BYTES: usize = 8 * 1024;

/// The protected header of a proof.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Header {
    /// The algorithm the sender claims.
    #[serde(default)]
    pub alg: Option<String>,
    /// Must be `dbsc+jwt`.
    #[serde(default)]
    pub typ: Option<String>,
    /// The public key (registration only).
    #[serde(default)]
    pub jwk: Option<Value>,
    /// Extensions the recipient must understand; none is.
    #[serde(default)]
    pub crit: Option<Value>,
}

/// The claims of a proof.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Claims {
    /// The challenge answered.
    #[serde(default)]
    pub jti: Option<String>,
    /// The authorization of the registration header, echoed.
    #[serde(default)]
    pub authorization: Option<String>,
    /// The audience, when the browser sends one.
    #[serde(default)]
    pub aud: Option<Audience>,
}

/// `aud`: one string or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    pub fn values(&self) -> &[String] {
        match self {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Many(many) => many,
        }
    }
}

/// A decoded JWS.
#[derive(Debug)]
pub(crate) struct Jws {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: String,
    pub header: Header,
    pub claims: Claims,
    pub signature: Vec<u8>,
}

fn segment(text: &str) -> Result<Vec<u8>, Refusal> {
    URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .map_err(|_| Refusal::MalformedJwt)
}

fn object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    if bytes.first() != Some(&b'{') {
        return Err(Refusal::MalformedJwt);
    }
    serde_json::from_slice(bytes).map_err(|_| Refusal::MalformedJwt)
}

/// Splits and decodes a compact JWS.
///
/// # Errors
/// [`Refusal::MalformedJwt`] for anything that is not one.
pub(crate) fn decode(jwt: &str) -> Result<Jws, Refusal> {
    if jwt.len() > MAX_JWT_BYTES {
        return Err(Refusal::MalformedJwt);
    }
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::MalformedJwt);
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(Refusal::MalformedJwt);
    }
    Ok(Jws {
        signing_input: jwt[..h.len() + 1 + p.len()].to_owned(),
        header: object(&segment(h)?)?,
        claims: object(&segment(p)?)?,
        signature: segment(s)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn a_compact_jws_decodes() {
        let jwt = format!(
            "{}.{}.{}",
            enc(r#"{"alg":"ES256","typ":"dbsc+jwt","x":1}"#),
            enc(r#"{"jti":"c","aud":["a","b"],"extra":true}"#),
            enc("sig")
        );
        let jws = decode(&jwt).unwrap();
        assert_eq!(jws.header.alg.as_deref(), Some("ES256"));
        assert_eq!(jws.claims.jti.as_deref(), Some("c"));
        assert_eq!(jws.claims.aud.unwrap().values(), ["a", "b"]);
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.signing_input, jwt[..jwt.rfind('.').unwrap()]);
    }

    #[test]
    fn anything_else_is_malformed() {
        let h = enc(r#"{"alg":"ES256"}"#);
        let p = enc(r#"{"jti":"c"}"#);
        let s = enc("sig");
        let bad = [
            String::new(),
            format!("{h}.{p}"),
            format!("{h}.{p}.{s}.{s}"),
            format!("{h}.{p}."),
            format!("{h}={}.{p}.{s}", ""),
            format!("{}.{p}.{s}", enc("[1]")),
            format!("{}.{p}.{s}", enc(r#"{"alg":"ES256","alg":"none"}"#)),
            format!("{h}.{}.{s}", enc("not json")),
            format!("{h}.{}.{s}", enc(r#"{"jti":5}"#)),
            format!("{h}.{p}.{s}+"),
            format!("{h}.{p}.{}", "A".repeat(MAX_JWT_BYTES)),
        ];
        for jwt in bad {
            assert_eq!(decode(&jwt).unwrap_err(), Refusal::MalformedJwt, "{jwt}");
        }
    }
}
