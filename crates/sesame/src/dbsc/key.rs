//! The browser's public key: the JWK of a registration, normalised, and the
//! signature check of a proof.
//!
//! Why this is strict: the key is the whole of DBSC's security. A key is
//! taken only from a registration JWT (never from a refresh proof), must be
//! a P-256 point on the curve (ES256) or an RSA modulus of 2048 to 4096 bits
//! (RS256), and is stored normalised — only the members that define the key,
//! canonical base64url, RSA integers without leading zeros — so the stored
//! form is the same however the browser spelled it and holds nothing else
//! (a private `d` a broken client sent is never kept).
//!
//! The algorithm of a proof is the one registered with the key; it is never
//! taken from the proof alone ([`Algorithm`] has no `none` and no HMAC).
//!
//! Crates: RustCrypto's `p256` (ECDSA P-256 with SHA-256; a JWS signature is
//! the raw 64-byte `r‖s`, not DER) and `rsa` (PKCS#1 v1.5 with SHA-256). Both
//! verify with public data only, so the `rsa` advisory RUSTSEC-2023-0071
//! (a timing side channel of private-key operations) does not apply to them;
//! docs/DBSC.md says why these crates.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use serde_json::{Map, Value};

use super::error::Refusal;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds the cost of a verification).
pub const MAX_RSA_BITS: usize = 4096;

/// A signature algorithm DBSC uses. There is deliberately no `none` and no
/// HMAC variant: a proof naming one is refused before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl Algorithm {
    /// The JOSE name (`ES256`, `RS256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }

    /// The algorithm of a JOSE name; names are case-sensitive (RFC 7515).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Algorithm::Es256),
            "RS256" => Some(Algorithm::Rs256),
            _ => None,
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Algorithm::parse(s).ok_or_else(|| format!("unknown DBSC algorithm {s:?} (ES256, RS256)"))
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A registered public key, normalised.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicJwk {
    /// A P-256 point.
    Ec {
        /// The x coordinate, 32 bytes big-endian.
        x: [u8; 32],
        /// The y coordinate, 32 bytes big-endian.
        y: [u8; 32],
    },
    /// An RSA public key.
    Rsa {
        /// The modulus, big-endian, no leading zero.
        n: Vec<u8>,
        /// The public exponent, big-endian, no leading zero.
        e: Vec<u8>,
    },
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublicJwk::Ec { x, .. } => write!(f, "PublicJwk::Ec(x={}…)", hex::encode(&x[..4])),
            PublicJwk::Rsa { n, .. } => write!(f, "PublicJwk::Rsa({} bits)", n.len() * 8),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Canonical base64url without padding, as JWK members are (RFC 7518 §6).
fn unb64(text: &str, max: usize) -> Result<Vec<u8>, Refusal> {
    if text.len() > max.div_ceil(3) * 4 {
        return Err(Refusal::InvalidKey);
    }
    URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .map_err(|_| Refusal::InvalidKey)
}

fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refusal> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or(Refusal::InvalidKey)
}

impl PublicJwk {
    /// Reads a JWK (the `jwk` member of a registration's header) for
    /// `alg`: `{"kty":"EC","crv":"P-256","x":…,"y":…}` for ES256,
    /// `{"kty":"RSA","n":…,"e":…}` for RS256. Other members are ignored, except
    /// an `alg` that names another algorithm.
    ///
    /// # Errors
    /// [`Refusal::InvalidKey`] for anything that is not such a key (a point
    /// off the curve, a modulus out of range, bad base64url),
    /// [`Refusal::AlgorithmKeyMismatch`] when the key's type is not the
    /// algorithm's.
    pub fn from_jwk(jwk: &Value, alg: Algorithm) -> Result<Self, Refusal> {
        let jwk = jwk.as_object().ok_or(Refusal::InvalidKey)?;
        if let Some(named) = jwk.get("alg")
            && named.as_str() != Some(alg.as_str())
        {
            return Err(Refusal::AlgorithmKeyMismatch);
        }
        let key = match (member(jwk, "kty")?, alg) {
            ("EC", Algorithm::Es256) => {
                if member(jwk, "crv")? != "P-256" {
                    return Err(Refusal::InvalidKey);
                }
                let coordinate = |name| -> Result<[u8; 32], Refusal> {
                    <[u8; 32]>::try_from(unb64(member(jwk, name)?, 32)?)
                        .map_err(|_| Refusal::InvalidKey)
                };
                PublicJwk::Ec {
                    x: coordinate("x")?,
                    y: coordinate("y")?,
                }
            }
            ("RSA", Algorithm::Rs256) => PublicJwk::Rsa {
                n: strip_zeros(unb64(member(jwk, "n")?, MAX_RSA_BITS / 8 + 1)?),
                e: strip_zeros(unb64(member(jwk, "e")?, 8)?),
            },
            ("EC" | "RSA", _) => return Err(Refusal::AlgorithmKeyMismatch),
            _ => return Err(Refusal::InvalidKey),
        };
        key.verifier()?;
        Ok(key)
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicJwk::Ec { .. } => Algorithm::Es256,
            PublicJwk::Rsa { .. } => Algorithm::Rs256,
        }
    }

    /// The normalised JWK as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn verifier(&self) -> Result<Verifier, Refusal> {
        match self {
            PublicJwk::Ec { x, y } => {
                let mut sec1 = [0u8; 65];
                sec1[0] = 0x04;
                sec1[1..33].copy_from_slice(x);
                sec1[33..].copy_from_slice(y);
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(Verifier::Es256)
                    .map_err(|_| Refusal::InvalidKey)
            }
            PublicJwk::Rsa { n, e } => {
                let bits = bit_length(n);
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || e.is_empty() {
                    return Err(Refusal::InvalidKey);
                }
                let key = rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(n),
                    rsa::BigUint::from_bytes_be(e),
                )
                .map_err(|_| Refusal::InvalidKey)?;
                Ok(Verifier::Rs256(
                    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key),
                    n.len(),
                ))
            }
        }
    }

    /// Checks a JWS signature (`signature` over `signing_input`, i.e.
    /// `header.payload` as sent) made with this key.
    ///
    /// # Errors
    /// [`Refusal::BadSignature`] when it does not verify (including an ES256
    /// signature that is not 64 raw bytes, or an RS256 one of the wrong length).
    pub fn verify(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), Refusal> {
        match self.verifier()? {
            Verifier::Es256(key) => {
                if signature.len() != 64 {
                    return Err(Refusal::BadSignature);
                }
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| Refusal::BadSignature)?;
                key.verify(signing_input, &sig)
                    .map_err(|_| Refusal::BadSignature)
            }
            Verifier::Rs256(key, len) => {
                if signature.len() != len {
                    return Err(Refusal::BadSignature);
                }
                let sig = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|_| Refusal::BadSignature)?;
                rsa::signature::Verifier::verify(&key, signing_input, &sig)
                    .map_err(|_| Refusal::BadSignature)
            }
        }
    }
}

enum Verifier {
    Es256(p256::ecdsa::VerifyingKey),
    Rs256(rsa::pkcs1v15::VerifyingKey<sha2::Sha256>, usize),
}

fn strip_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
    }
}

/// Written with its members in a fixed order by a plain struct (not a
/// `serde_json::Value`, whose order depends on a cargo feature), so the
/// stored bytes are the same in every build.
impl serde::Serialize for PublicJwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Ec {
            kty: &'static str,
            crv: &'static str,
            x: String,
            y: String,
        }
        #[derive(serde::Serialize)]
        struct Rsa {
            kty: &'static str,
            n: String,
            e: String,
        }
        match self {
            PublicJwk::Ec { x, y } => Ec {
                kty: "EC",
                crv: "P-256",
                x: b64(x),
                y: b64(y),
            }
            .serialize(s),
            PublicJwk::Rsa { n, e } => Rsa {
                kty: "RSA",
                n: b64(n),
                e: b64(e),
            }
            .serialize(s),
        }
    }
}

/// Reading a stored key back checks its shape only (the curve and the
/// modulus were checked at registration, and are again by every
/// [`PublicJwk::verify`]), so a load of a bound session does not pay for a
/// point validation.
impl<'de> serde::Deserialize<'de> for PublicJwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Stored {
            kty: String,
            #[serde(default)]
            x: Option<String>,
            #[serde(default)]
            y: Option<String>,
            #[serde(default)]
            n: Option<String>,
            #[serde(default)]
            e: Option<String>,
        }
        let bad = |what: &str| serde::de::Error::custom(format!("stored DBSC key: {what}"));
        let s = Stored::deserialize(d)?;
        let bytes = |v: Option<String>, max: usize| {
            v.ok_or_else(|| bad("member missing"))
                .and_then(|v| unb64(&v, max).map_err(|_| bad("not base64url")))
        };
        match s.kty.as_str() {
            "EC" => {
                let x = <[u8; 32]>::try_from(bytes(s.x, 32)?).map_err(|_| bad("x"))?;
                let y = <[u8; 32]>::try_from(bytes(s.y, 32)?).map_err(|_| bad("y"))?;
                Ok(PublicJwk::Ec { x, y })
            }
            "RSA" => Ok(PublicJwk::Rsa {
                n: bytes(s.n, MAX_RSA_BITS / 8)?,
                e: bytes(s.e, 8)?,
            }),
            _ => Err(bad("kty")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_exact() {
        assert_eq!(Algorithm::parse("ES256"), Some(Algorithm::Es256));
        assert_eq!(Algorithm::parse("RS256"), Some(Algorithm::Rs256));
        for bad in ["none", "HS256", "es256", "ES384", "", "RS256 "] {
            assert_eq!(Algorithm::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ec_keys_must_be_points_on_the_curve() {
        let key = |x: &str, y: &str| {
            PublicJwk::from_jwk(
                &serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                Algorithm::Es256,
            )
        };
        // The spec's example key.
        let ok = key(
            "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI",
            "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE",
        );
        assert!(ok.is_ok(), "{ok:?}");
        // y changed: off the curve.
        assert_eq!(
            key(
                "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI",
                "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWF"
            ),
            Err(Refusal::InvalidKey)
        );
        // Short coordinate, padding, not base64url.
        assert_eq!(key("AAAA", "AAAA"), Err(Refusal::InvalidKey));
        assert_eq!(
            key(
                "6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI=",
                "IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE"
            ),
            Err(Refusal::InvalidKey)
        );
        // Another curve, an RSA key for ES256, an unknown type.
        assert_eq!(
            PublicJwk::from_jwk(
                &serde_json::json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
                Algorithm::Es256
            ),
            Err(Refusal::InvalidKey)
        );
        assert_eq!(
            PublicJwk::from_jwk(
                &serde_json::json!({"kty": "RSA", "n": "AA", "e": "AQAB"}),
                Algorithm::Es256
            ),
            Err(Refusal::AlgorithmKeyMismatch)
        );
        assert_eq!(
            PublicJwk::from_jwk(
                &serde_json::json!({"kty": "oct", "k": "AA"}),
                Algorithm::Es256
            ),
            Err(Refusal::InvalidKey)
        );
        assert_eq!(
            PublicJwk::from_jwk(&serde_json::json!("EC"), Algorithm::Es256),
            Err(Refusal::InvalidKey)
        );
    }

    #[test]
    fn rsa_keys_must_be_2048_to_4096_bits() {
        let n = |bytes: usize| b64(&vec![0xC3; bytes]);
        let key = |n: String, e: &str| {
            PublicJwk::from_jwk(
                &serde_json::json!({"kty": "RSA", "n": n, "e": e}),
                Algorithm::Rs256,
            )
        };
        assert!(key(n(256), "AQAB").is_ok());
        assert!(key(n(512), "AQAB").is_ok());
        assert_eq!(key(n(255), "AQAB"), Err(Refusal::InvalidKey));
        assert_eq!(key(n(513), "AQAB"), Err(Refusal::InvalidKey));
        assert_eq!(key(n(256), ""), Err(Refusal::InvalidKey));
        // Leading zeros are not bits: 255 significant bytes is too short.
        let mut padded = vec![0u8];
        padded.extend(vec![0xC3; 255]);
        assert_eq!(key(b64(&padded), "AQAB"), Err(Refusal::InvalidKey));
        // A leading zero byte on a full-size modulus is dropped when normalised.
        let mut full = vec![0u8];
        full.extend(vec![0xC3; 256]);
        let k = key(b64(&full), "AAEAAQ").unwrap();
        assert_eq!(k.to_json()["n"], n(256));
        assert_eq!(k.to_json()["e"], "AQAB");
    }
}
