//! DBSC for tests: software keys that sign proofs as Chromium does, and the
//! store conformance cases of the DBSC state.
//!
//! [`SoftwareKey`] plays the browser: an ES256 key (fresh, random) or one of
//! two fixed RS256 test keys (2048 bits; generating RSA keys in a debug
//! build takes seconds, so they are constants — never use them for anything
//! but tests). It writes registration and refresh JWTs exactly as Chromium
//! 156 does: header `{"alg","typ":"dbsc+jwt"(,"jwk")}`, payload `{"jti"(,
//! "authorization")}`, ES256 signatures as raw `r‖s`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use rsa::signature::SignatureEncoding as _;
use serde_json::{Value, json};

use super::Harness;
use crate::cookie::{CookiePolicy, FernetKey, KeyRing};
use crate::dbsc::{
    Algorithm, Dbsc, DbscMode, DbscPolicy, DbscState, PendingChallenge, PublicJwk, Refresh,
};
use crate::policy::Policy;
use crate::store::{LoadMode, Lookup, Store};
use crate::{EndReason, Error, Timestamp};

/// RSA test key 1: modulus.
const RSA1_N: &str = concat!(
    "aa67332b7bde46c9c0b1a6db7d8a5d1743b0b75fab017b4e2b61fc34d61b527b04a3f1f71fce4124ce966def85b2af2b",
    "dea090036040bac815464510486086c35db8f80322de1ba00a95133e1ca3bcc32a44110db20c24062d919ffbcf46ff43",
    "a3920de52177d4b1b8288cd6ba8a24af60c0b1a98570b731c806379b52ddac67d2b8d4cbb5b6ef8e127fc09d07fec944",
    "ce3d7b5b4a899d385a02e713b18e148fa197b3184b3873dabb9c2ca06db104abeda27530de76e6204476f43d64c36f51",
    "d67e8b240ee34e350754560036c084045fd8437c8dc64681fd154e65d8130d5afb3b64b5525b5be760b8b9b72b6ae300",
    "5c0e1cf214b192feff62e9d41dfd3511",
);
/// RSA test key 1: private exponent.
const RSA1_D: &str = concat!(
    "1f422b1ad0f027601f1ef792cfe6afc8f2bbda078ca10af37df5cd840bba9b58c1b32951c1ddde09587433da7a561ad8",
    "1b50acda51afce13a2036febdabb0a3d9055bbf9274e43170a99ea1bbcb93489409997df414804dbb5443f6abbcd344a",
    "3e192ebf577259ebf7f24853a3886fce541b44fbe9e491566a70e9866e9f075effa2046635807edd1c116b5437caf773",
    "09d9102b44b85a677b10ebba1e5547cbf675d4405d082c9718d4cad3327707f0216d47eeff3faf1d897b6dd6ff528113",
    "75fc2f766e8ea4b4af81ec01cb4650b7e6834b520c721aa2c9be9937ee56332467741095cb5990a71c42bd97cd549576",
    "fe991ce64658f455824bcd19aa968699",
);
/// RSA test key 1: first prime.
const RSA1_P: &str = concat!(
    "d1082eb2b93c8f049b63cbdba8fc66beebcb1297530cecb3dcbeb390915df007941b8e0d47bc4c004a20e571818c2aaf",
    "27367015c23263a7ddba3a9d4bdd6f9efa0bbfa3601f2f75cb392712de14faffba761ac0e810cdbda70e5847c2fd28ea",
    "534357bd913cb0ce1e14545ab15bd976435690ba263a686c6d73f3ac6ed12d6f",
);
/// RSA test key 1: second prime.
const RSA1_Q: &str = concat!(
    "d0b1080be9e4f7f2a3a54647134dde333c2dcc75544bb04ee1ae872d392863893d5be3d5f6a784d6f69da784d6b78f84",
    "8f9f7b071c774f616eefacecc64985163d83ed63d98b734cb5a41daf4f6227bdc09d5c5d46a5dc7d8bb3ae21ab55d433",
    "7192c6304554130b042afa9f680919bb69acf430b51d75d113a160c3fdb3857f",
);
/// RSA test key 2: modulus.
const RSA2_N: &str = concat!(
    "973f70bc65eb81916a1ff5da29f5e1710fd39d6a5e1b18b4d27bfc5895b4974fa636414ecef574dc701754259d7b86f1",
    "d45d6a44870d9cca9148b1ffea4e0df40b45d94d8fb752bd1debc7bb0ea722e5bb536ea7e226db38746e160a107b2cac",
    "ff00bcd5bcf95dfb09d1d0bae3f51fb01cfcdecb87918f309c2f0e1e50cd8cac73ea7da57fff9dbeeabc6c64dbf3b6c2",
    "9c703f216f858c8806b3bc96bfa11ebf9c01fe837a4b3951f9f28976efae54c094f68990264b432709bab3fde449fd81",
    "59b038b02a4dde0411545c4a5a04098322833602d46fa1b4e6bc461983336f07db7799478998c3c40a9da8de21868e4e",
    "ef5a0a2ef5cabb115da56615b3e1d7ad",
);
/// RSA test key 2: private exponent.
const RSA2_D: &str = concat!(
    "0b3c9e5e90dfe7576b60067ef7e119a7b1ba5216a5f93363b3c39c62e4746f4d6e96d7514894f9e2aabd40f62e760ff7",
    "85848f319a2b0bbc0d012ea049c314cc4dce19afe67e833a23aff1bdd6ffd9dae188f84ea6c1a645d2789f508e1ae89d",
    "cdb03b5751dbe0fc96a52cf1c59fdf83d1138465f0a382d4e4b5a641e054f51f7999cc3e876be6a4d35a79b42e0d2ae8",
    "2d25e753e4151f301e2daf065d4284185ec73441be28641d9325358bb8635a21fc55a7db3b2592fcc4ce22072b7714a0",
    "2789ff7edb1bf733ae6eae6e358da75ad2afca7c50563dacd60e31411e789922734c3743f86dbb855fbdb2a17e34b2de",
    "f61509b3dde48021e15ff26ff3fc8f21",
);
/// RSA test key 2: first prime.
const RSA2_P: &str = concat!(
    "c9c4433a0c40f34707810fd1f5c804cb8eca55b53a26ac2fa5f083a59a7245cbd843d0c39b351150869c4d490ed49c6d",
    "505ed1b41fc4f013f78648f6fafb1a1ccd04fcc549df129d10c31431beccae81a6bfb944c5a67dad8a2d9c972b69cfe9",
    "c25d33593b2ad325f86d60500ed45a67eea116c5fb78b2d2983a27b3d98f0de9",
);
/// RSA test key 2: second prime.
const RSA2_Q: &str = concat!(
    "bfe6eed9406811381c7915aa342d6eb34729e8b289203e0699c45e527387a1db60140935fdc8e7cf6f8292fd098aab29",
    "c27b6be411d6d04bd02c2c13661d329d608c5e856c3eeec0c57387ab091c486bbd8ef4090aeb1aedc53cd5d0cd937cc8",
    "29e494ece721564bfbd6e1cef658c3aacdd3d44a07eb30726d9f9eeb7a800d25",
);

/// A browser's key, in software.
pub enum SoftwareKey {
    /// ECDSA P-256.
    Es256(p256::ecdsa::SigningKey),
    /// RSA PKCS#1 v1.5, with its public key.
    Rs256(
        Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>,
        Box<rsa::RsaPublicKey>,
    ),
}

impl std::fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoftwareKey({})", self.algorithm().as_str())
    }
}

fn big(hex_text: &str) -> rsa::BigUint {
    rsa::BigUint::from_bytes_be(&hex::decode(hex_text).expect("constant hex"))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SoftwareKey {
    /// A fresh ES256 key.
    pub fn es256() -> Self {
        loop {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).expect("OS random number generator");
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&secret) {
                return SoftwareKey::Es256(key);
            }
        }
    }

    /// The first fixed RS256 test key.
    pub fn rs256() -> Self {
        Self::rsa(RSA1_N, RSA1_D, RSA1_P, RSA1_Q)
    }

    /// The second fixed RS256 test key (another key than [`SoftwareKey::rs256`]).
    pub fn rs256_other() -> Self {
        Self::rsa(RSA2_N, RSA2_D, RSA2_P, RSA2_Q)
    }

    fn rsa(n: &str, d: &str, p: &str, q: &str) -> Self {
        let private = rsa::RsaPrivateKey::from_components(
            big(n),
            rsa::BigUint::from(65_537u32),
            big(d),
            vec![big(p), big(q)],
        )
        .expect("a valid test key");
        let public = private.to_public_key();
        SoftwareKey::Rs256(
            Box::new(rsa::pkcs1v15::SigningKey::new(private)),
            Box::new(public),
        )
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SoftwareKey::Es256(_) => Algorithm::Es256,
            SoftwareKey::Rs256(..) => Algorithm::Rs256,
        }
    }

    /// Its public key as a JWK, as Chromium writes it.
    pub fn jwk(&self) -> Value {
        match self {
            SoftwareKey::Es256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64(point.x().expect("uncompressed")),
                    "y": b64(point.y().expect("uncompressed")),
                })
            }
            SoftwareKey::Rs256(_, public) => {
                use rsa::traits::PublicKeyParts as _;
                json!({
                    "kty": "RSA",
                    "n": b64(&public.n().to_bytes_be()),
                    "e": b64(&public.e().to_bytes_be()),
                })
            }
        }
    }

    /// The normalised key the server keeps after a registration by it.
    pub fn public(&self) -> PublicJwk {
        PublicJwk::from_jwk(&self.jwk(), self.algorithm()).expect("a valid key")
    }

    /// Signs `header.payload` (both JSON, base64url-encoded here) into a
    /// compact JWS.
    pub fn sign(&self, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes())
        );
        let signature: Vec<u8> = match self {
            SoftwareKey::Es256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
                sig.to_bytes().to_vec()
            }
            SoftwareKey::Rs256(key, _) => {
                rsa::signature::Signer::sign(key.as_ref(), input.as_bytes()).to_vec()
            }
        };
        format!("{input}.{}", b64(&signature))
    }

    /// A registration proof for `challenge` (and `authorization`, echoed
    /// when the registration header had one), the key in its header.
    pub fn registration(&self, challenge: &str, authorization: Option<&str>) -> String {
        let header =
            json!({"alg": self.algorithm().as_str(), "typ": "dbsc+jwt", "jwk": self.jwk()});
        let mut payload = json!({ "jti": challenge });
        if let Some(a) = authorization {
            payload["authorization"] = json!(a);
        }
        self.sign(&header, &payload)
    }

    /// A refresh proof for `challenge`: no key in its header.
    pub fn refresh(&self, challenge: &str) -> String {
        let header = json!({"alg": self.algorithm().as_str(), "typ": "dbsc+jwt"});
        self.sign(&header, &json!({ "jti": challenge }))
    }
}

/// The value of the structured-field parameter `name` (`name="value"`) in a
/// DBSC header such as `Secure-Session-Registration`; `challenge` also reads
/// the bare leading string of a `Secure-Session-Challenge`.
pub fn header_param(header: &str, name: &str) -> Option<String> {
    if name == "challenge" && header.starts_with('"') {
        return crate::dbsc::header::read_value(header.as_bytes()).ok();
    }
    let start = header.find(&format!(";{name}=\""))? + name.len() + 3;
    let rest = &header[start..];
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

/// A DBSC engine in `mode` over the harness's manager, with a fresh cookie
/// key and the strict cookie policy.
pub fn engine(h: &Harness, policy: DbscPolicy) -> Dbsc {
    let keys = KeyRing::new(FernetKey::generate().expect("OS random number generator"));
    Dbsc::new(h.manager.clone(), keys, &CookiePolicy::new(), policy).expect("a valid policy")
}

/// Registers `key` for the harness user's new session; returns its token,
/// record and the bound cookie value.
pub async fn registered(
    h: &Harness,
    dbsc: &Dbsc,
    key: &SoftwareKey,
) -> (crate::SessionToken, crate::SessionRecord, String) {
    let created = h.create(Some(&h.user)).await;
    let offer = dbsc
        .offer(&created.session, Some("conformance"))
        .expect("offer")
        .expect("DBSC is on");
    let challenge = header_param(&offer, "challenge").expect("a challenge");
    let proof = key.registration(&challenge, Some("conformance"));
    let bound = dbsc
        .register(&created.session, proof.as_bytes())
        .await
        .expect("registration");
    let record = h.session(&created.token).await;
    (created.token, record, bound.cookie)
}

fn state(identifier: &str, challenges: usize) -> DbscState {
    DbscState {
        identifier: identifier.to_owned(),
        key: SoftwareKey::rs256().public(),
        registered_at: Timestamp::from_millis(1_000),
        challenges: (0..challenges)
            .map(|i| PendingChallenge {
                hash: format!("{i:064x}"),
                expires_at: Timestamp::from_millis(9_000 + i as u64),
            })
            .collect(),
        window_start: Timestamp::from_millis(1_000),
        refreshes: challenges as u32,
        refreshed_at: None,
    }
}

/// `swap_dbsc` is a compare-and-set on the DBSC state alone: it applies
/// only from the expected state, changes neither data nor version, and
/// refuses ended, expired and unknown sessions.
pub async fn dbsc_swap_is_compare_and_set(store: Arc<dyn Store>) {
    let h = Harness::new(store.clone(), Policy::default());
    let created = h.create(Some(&h.user)).await;
    let id = created.session.id;
    let t = h.manager_timing();
    let s1 = state("AAAAAAAAAAAAAAAAAAAAAA", 0);
    let s2 = state("AAAAAAAAAAAAAAAAAAAAAA", 3);
    assert!(store.swap_dbsc(&id, None, Some(&s1), &t).await.unwrap());
    assert!(
        !store.swap_dbsc(&id, None, Some(&s2), &t).await.unwrap(),
        "from a stale None"
    );
    let record = h.session(&created.token).await;
    assert_eq!(record.dbsc.as_deref(), Some(&s1));
    assert_eq!(record.version, created.session.version, "not a data change");
    assert!(
        !store
            .swap_dbsc(&id, Some(&s2), Some(&s1), &t)
            .await
            .unwrap()
    );
    assert!(
        store
            .swap_dbsc(&id, Some(&s1), Some(&s2), &t)
            .await
            .unwrap()
    );
    assert_eq!(h.session(&created.token).await.dbsc.as_deref(), Some(&s2));
    assert!(store.swap_dbsc(&id, Some(&s2), None, &t).await.unwrap());
    assert_eq!(h.session(&created.token).await.dbsc, None);
    // Not a live session: refused, whatever the states.
    let unknown = crate::SessionToken::generate().unwrap().id();
    assert!(matches!(
        store.swap_dbsc(&unknown, None, Some(&s1), &t).await,
        Err(Error::NotFound)
    ));
    h.manager.end_id(&id, EndReason::LoggedOut).await.unwrap();
    assert!(matches!(
        store.swap_dbsc(&id, None, Some(&s1), &t).await,
        Err(Error::Ended {
            reason: EndReason::LoggedOut
        })
    ));
    let other = h.create(None).await;
    h.clock
        .advance(Policy::default().idle_timeout() + Duration::from_secs(1));
    let t = h.manager_timing();
    assert!(matches!(
        store
            .swap_dbsc(&other.session.id, None, Some(&s1), &t)
            .await,
        Err(Error::Ended { .. })
    ));
}

/// The DBSC state travels with the session: loaded, listed, and carried to
/// the new id by renewal and login rotations; ending the session drops it.
pub async fn dbsc_state_survives_rotation(store: Arc<dyn Store>) {
    let h = Harness::new(store.clone(), Policy::default());
    let created = h.create(None).await;
    let t = h.manager_timing();
    let s = state("BBBBBBBBBBBBBBBBBBBBBB", 2);
    assert!(
        store
            .swap_dbsc(&created.session.id, None, Some(&s), &t)
            .await
            .unwrap()
    );
    let logged_in = h
        .manager
        .login(created.token.expose(), &h.user)
        .await
        .unwrap();
    assert_eq!(logged_in.session.dbsc.as_deref(), Some(&s));
    let rotated = h.manager.rotate(logged_in.token.expose()).await.unwrap();
    assert_eq!(h.session(&rotated.token).await.dbsc.as_deref(), Some(&s));
    let listed = h.manager.list_user(&h.user).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].dbsc.as_deref(), Some(&s));
    // The old ids are tombstones: nothing to swap there.
    let t = h.manager_timing();
    assert!(
        store
            .swap_dbsc(&created.session.id, Some(&s), None, &t)
            .await
            .is_err()
    );
    match store
        .load(&rotated.session.id, LoadMode::Peek, &t)
        .await
        .unwrap()
    {
        Lookup::Live(r) => assert_eq!(r.dbsc.as_deref(), Some(&s)),
        other => panic!("not live: {other:?}"),
    }
}

/// Registration and refresh through the engine, with every store: the
/// registration binds once, a refresh challenge is answered once — 16
/// concurrent answers with the same valid proof, exactly one bound cookie —
/// and a proof signed by another key ends the session.
pub async fn dbsc_challenges_are_single_use(store: Arc<dyn Store>) {
    let h = Harness::new(store, Policy::default());
    let dbsc = engine(&h, DbscPolicy::new(DbscMode::Offer));
    let key = SoftwareKey::es256();
    // Two registrations racing with one ticket: one binds.
    let created = h.create(Some(&h.user)).await;
    let offer = dbsc.offer(&created.session, None).unwrap().unwrap();
    let ticket = header_param(&offer, "challenge").unwrap();
    let proofs = [
        key.registration(&ticket, None),
        SoftwareKey::es256().registration(&ticket, None),
    ];
    let (a, b) = tokio::join!(
        dbsc.register(&created.session, proofs[0].as_bytes()),
        dbsc.register(&created.session, proofs[1].as_bytes())
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} {b:?}");
    let winner = if a.is_ok() { &proofs[0] } else { &proofs[1] };
    let record = h.session(&created.token).await;
    let state = record.dbsc.clone().expect("bound");
    let winner_key = PublicJwk::from_jwk(
        &serde_json::from_slice::<Value>(
            &URL_SAFE_NO_PAD
                .decode(winner.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()["jwk"],
        Algorithm::Es256,
    )
    .unwrap();
    assert_eq!(state.key, winner_key);
    // A third registration is refused: bound already.
    let again = dbsc.register(&record, proofs[0].as_bytes()).await;
    assert_eq!(again.unwrap_err().status(), 409);

    // Refresh: one challenge, 16 answers at once, one winner.
    let (_, record, _) = registered(&h, &dbsc, &key).await;
    let id = record.dbsc.as_ref().unwrap().identifier.clone();
    let Refresh::Challenge {
        header,
        stale: None,
    } = dbsc
        .refresh(&record, Some(id.as_bytes()), None)
        .await
        .unwrap()
    else {
        panic!("a challenge");
    };
    let proof = key.refresh(&header_param(&header, "challenge").unwrap());
    let record = Arc::new(record);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (dbsc, record, proof, id) =
                (dbsc.clone(), record.clone(), proof.clone(), id.clone());
            tokio::spawn(async move {
                dbsc.refresh(&record, Some(id.as_bytes()), Some(proof.as_bytes()))
                    .await
            })
        })
        .collect();
    let mut refreshed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Refresh::Refreshed(_)) => refreshed += 1,
            Ok(Refresh::Challenge { stale: Some(_), .. }) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(refreshed, 1, "a challenge is single-use");

    // A proof by another key ends the session, for the next request too.
    let (token, record, _) = registered(&h, &dbsc, &key).await;
    let Refresh::Challenge { header, .. } = dbsc
        .refresh(
            &record,
            Some(record.dbsc.as_ref().unwrap().identifier.as_bytes()),
            None,
        )
        .await
        .unwrap()
    else {
        panic!("a challenge");
    };
    let forged = SoftwareKey::es256().refresh(&header_param(&header, "challenge").unwrap());
    let err = dbsc
        .refresh(
            &record,
            Some(record.dbsc.as_ref().unwrap().identifier.as_bytes()),
            Some(forged.as_bytes()),
        )
        .await
        .unwrap_err();
    assert!(err.ended_session(), "{err:?}");
    assert!(matches!(
        h.manager.load(token.expose(), &h.device).await,
        Err(Error::Ended {
            reason: EndReason::DbscFailed
        })
    ));
    assert!(h.events.end_reasons().contains(&EndReason::DbscFailed));
}
