//! Checking a proof: what the JWT must say, and who must have signed it.
//!
//! The rules, for both kinds of proof: `typ` is `dbsc+jwt`; no `crit`
//! extension; the algorithm is in the policy's allow-list (there is no way to
//! allow `none` or HMAC); the signature verifies over the segments as sent;
//! `aud`, when the browser sends one, names the endpoint the proof was posted
//! to; `jti` is present (the caller checks it is the right challenge).
//!
//! - A **registration** carries its key in the header (`jwk`), of the type
//!   its `alg` names, and is signed by it: proof of possession.
//! - A **refresh** carries no key (one that does is refused: the key comes
//!   from the registration only) and must use the registered key's
//!   algorithm and be signed by that key.

use super::error::Refusal;
use super::jwt::{self, Claims, Header, Jws};
use super::key::{Algorithm, PublicJwk};

/// The `typ` of a DBSC proof.
pub const PROOF_TYPE: &str = "dbsc+jwt";

/// A registration proof that verified.
#[derive(Debug)]
pub(crate) struct Registration {
    /// The key it was signed with.
    pub key: PublicJwk,
    /// The challenge (registration ticket) it answers.
    pub jti: String,
    /// The authorization it echoes.
    pub authorization: Option<String>,
}

fn common(header: &Header) -> Result<(), Refusal> {
    // A media type: compared without regard to ASCII case (RFC 7515 §4.1.9).
    match &header.typ {
        Some(typ) if typ.eq_ignore_ascii_case(PROOF_TYPE) => {}
        _ => return Err(Refusal::WrongType),
    }
    if header.crit.is_some() {
        return Err(Refusal::CriticalHeader);
    }
    Ok(())
}

fn algorithm(header: &Header, allowed: &[Algorithm]) -> Result<Algorithm, Refusal> {
    header
        .alg
        .as_deref()
        .and_then(Algorithm::parse)
        .filter(|alg| allowed.contains(alg))
        .ok_or(Refusal::AlgorithmNotAllowed)
}

/// `aud`, when present, must name `endpoint`: the path itself, or an
/// absolute URL whose path it is.
fn audience(claims: &Claims, endpoint: &str) -> Result<(), Refusal> {
    let Some(aud) = &claims.aud else {
        return Ok(());
    };
    let names = |value: &str| {
        let path = match value.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => value,
        };
        let path = path.split(['?', '#']).next().unwrap_or(path);
        path == endpoint
    };
    if aud.values().iter().any(|v| names(v)) {
        Ok(())
    } else {
        Err(Refusal::WrongAudience)
    }
}

fn jti(claims: &Claims) -> Result<String, Refusal> {
    claims
        .jti
        .clone()
        .filter(|j| !j.is_empty())
        .ok_or(Refusal::UnknownChallenge)
}

fn signed(jws: &Jws, key: &PublicJwk) -> Result<(), Refusal> {
    key.verify(jws.signing_input.as_bytes(), &jws.signature)
}

/// Verifies a registration proof posted to `endpoint`.
///
/// # Errors
/// The first rule broken, as a [`Refusal`].
pub(crate) fn registration(
    jwt: &str,
    allowed: &[Algorithm],
    endpoint: &str,
) -> Result<Registration, Refusal> {
    let jws = jwt::decode(jwt)?;
    common(&jws.header)?;
    let alg = algorithm(&jws.header, allowed)?;
    let jwk = jws.header.jwk.as_ref().ok_or(Refusal::MissingKey)?;
    let key = PublicJwk::from_jwk(jwk, alg)?;
    signed(&jws, &key)?;
    audience(&jws.claims, endpoint)?;
    Ok(Registration {
        jti: jti(&jws.claims)?,
        authorization: jws.claims.authorization,
        key,
    })
}

/// Verifies a refresh proof posted to `endpoint` against the registered
/// `key`; returns the challenge it answers.
///
/// # Errors
/// The first rule broken, as a [`Refusal`].
pub(crate) fn refresh(
    jwt: &str,
    key: &PublicJwk,
    allowed: &[Algorithm],
    endpoint: &str,
) -> Result<String, Refusal> {
    let jws = jwt::decode(jwt)?;
    common(&jws.header)?;
    if algorithm(&jws.header, allowed)? != key.algorithm() {
        return Err(Refusal::AlgorithmNotAllowed);
    }
    if jws.header.jwk.is_some() {
        return Err(Refusal::KeyInRefresh);
    }
    signed(&jws, key)?;
    audience(&jws.claims, endpoint)?;
    jti(&jws.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_names_the_endpoint_by_path_or_url() {
        let claims = |aud: serde_json::Value| -> Claims {
            serde_json::from_value(serde_json::json!({ "aud": aud })).unwrap()
        };
        let ok = |aud| audience(&claims(aud), "/dbsc/register");
        assert_eq!(ok(serde_json::json!("/dbsc/register")), Ok(()));
        assert_eq!(
            ok(serde_json::json!("https://app.example:8443/dbsc/register")),
            Ok(())
        );
        assert_eq!(
            ok(serde_json::json!(["x", "https://a/dbsc/register?x=1"])),
            Ok(())
        );
        assert_eq!(
            ok(serde_json::json!("https://a/dbsc/refresh")),
            Err(Refusal::WrongAudience)
        );
        assert_eq!(
            ok(serde_json::json!("https://a")),
            Err(Refusal::WrongAudience)
        );
        assert_eq!(ok(serde_json::json!([])), Err(Refusal::WrongAudience));
        assert_eq!(audience(&Claims::default(), "/x"), Ok(()));
    }
}
