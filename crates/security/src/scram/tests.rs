//! SCRAM tests: RFC 7677's SHA-256 exchange byte for byte, SHA-512 and escaped names
//! through the crate's own client, unknown users, malformed messages, and arbitrary bytes
//! into `step`.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::crypto::credential_from_password;
use super::error::ScramError;
use super::messages::{b64, escape_saslname, unb64, unescape_saslname};
use super::*;
use crate::KafkaPrincipal;
use crate::sasl::SaslStep;

type Store = HashMap<(String, ScramMechanism), ScramCredential>;

fn lookup(store: Store) -> impl ScramCredentialLookup {
    move |user: &str, m: ScramMechanism| store.get(&(user.to_string(), m)).cloned()
}

fn secret() -> UnknownUserSecret {
    UnknownUserSecret::new([7; 32])
}

fn store_with(user: &str, m: ScramMechanism, password: &str, iterations: i32) -> Store {
    let mut s = Store::new();
    s.insert(
        (user.to_string(), m),
        credential_from_password(m, password.as_bytes(), b"some salt bytes", iterations),
    );
    s
}

fn challenge(step: Result<SaslStep, ScramError>) -> Vec<u8> {
    match step {
        Ok(SaslStep::Challenge(c)) => c,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

// RFC 7677 section 3.
const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_store() -> Store {
    let salt = unb64("W22ZaJ0SNY7soEsUEjb6gQ==", "salt").unwrap();
    let mut s = Store::new();
    s.insert(
        ("user".to_string(), ScramMechanism::Sha256),
        credential_from_password(ScramMechanism::Sha256, b"pencil", &salt, 4096),
    );
    s
}

#[test]
fn rfc7677_sha256_exchange_server_side() {
    let mut server = ScramServer::with_nonce(
        ScramMechanism::Sha256,
        lookup(rfc_store()),
        RFC_SERVER_NONCE,
        secret(),
    )
    .unwrap();
    let first = challenge(server.exchange(RFC_CLIENT_FIRST.as_bytes()));
    assert_eq!(String::from_utf8(first).unwrap(), RFC_SERVER_FIRST);
    match server.exchange(RFC_CLIENT_FINAL.as_bytes()) {
        Ok(SaslStep::Done {
            response,
            principal,
        }) => {
            assert_eq!(String::from_utf8(response).unwrap(), RFC_SERVER_FINAL);
            assert_eq!(principal, KafkaPrincipal::user("user"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.exchange(b"again"), Err(ScramError::IllegalState));
}

#[test]
fn rfc7677_sha256_exchange_client_side() {
    let mut client = ScramClient::with_nonce(
        ScramMechanism::Sha256,
        "user",
        b"pencil",
        "rOprNGfwEbeRWgbNEkqO",
    )
    .unwrap();
    assert_eq!(client.client_first(), RFC_CLIENT_FIRST.as_bytes());
    let last = client.client_final(RFC_SERVER_FIRST.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(last).unwrap(), RFC_CLIENT_FINAL);
    client.server_final(RFC_SERVER_FINAL.as_bytes()).unwrap();
}

/// Runs a whole exchange; the principal on success.
fn exchange(
    m: ScramMechanism,
    store: Store,
    user: &str,
    password: &str,
) -> Result<KafkaPrincipal, ScramError> {
    let mut server = ScramServer::new(m, lookup(store), b"server nonce bytes", secret());
    let mut client = ScramClient::new(m, user, password.as_bytes(), b"client nonce bytes");
    let first = challenge(server.exchange(&client.client_first()));
    let last = client.client_final(&first).unwrap();
    match server.exchange(&last)? {
        SaslStep::Done {
            response,
            principal,
        } => {
            client.server_final(&response).unwrap();
            Ok(principal)
        }
        SaslStep::Challenge(c) => panic!("unexpected challenge {c:?}"),
    }
}

#[test]
fn sha512_round_trip_with_the_crates_client() {
    let m = ScramMechanism::Sha512;
    let store = store_with("alice", m, "alice-secret", 8192);
    assert_eq!(
        exchange(m, store.clone(), "alice", "alice-secret"),
        Ok(KafkaPrincipal::user("alice"))
    );
    assert_eq!(
        exchange(m, store.clone(), "alice", "alice-secreT"),
        Err(ScramError::InvalidCredentials)
    );
    // A SHA-256 server does not accept the SHA-512 credential.
    let mut s256 = store;
    let c = s256.remove(&("alice".to_string(), m)).unwrap();
    s256.insert(("alice".to_string(), ScramMechanism::Sha256), c);
    assert_eq!(
        exchange(ScramMechanism::Sha256, s256, "alice", "alice-secret"),
        Err(ScramError::InvalidCredentials)
    );
}

#[test]
fn names_with_commas_and_equals_are_escaped_and_authenticate() {
    assert_eq!(escape_saslname("a,b=c"), "a=2Cb=3Dc");
    assert_eq!(unescape_saslname("a=2Cb=3Dc").unwrap(), "a,b=c");
    assert_eq!(unescape_saslname("=3D=2C").unwrap(), "=,");
    assert_eq!(unescape_saslname("žluťoučký").unwrap(), "žluťoučký");
    for bad in ["", "a=", "a=2", "a=2c", "a=41", "=", "a\0b"] {
        assert!(unescape_saslname(bad).is_err(), "{bad:?}");
    }
    let m = ScramMechanism::Sha256;
    let user = "CN=alice,O=org";
    assert_eq!(
        exchange(m, store_with(user, m, "pw", 4096), user, "pw"),
        Ok(KafkaPrincipal::user(user))
    );
}

#[test]
fn an_unknown_user_gets_a_stable_stand_in_salt_and_fails_like_a_wrong_password() {
    let m = ScramMechanism::Sha256;
    let first_for = |secret: UnknownUserSecret, user: &str| {
        let mut s = ScramServer::new(m, lookup(Store::new()), b"n", secret);
        let c = challenge(s.exchange(format!("n,,n={user},r=abc").as_bytes()));
        let text = String::from_utf8(c).unwrap();
        text.split_once(',').unwrap().1.to_string()
    };
    let a = first_for(secret(), "mallory");
    assert_eq!(a, first_for(secret(), "mallory"));
    assert_ne!(a, first_for(secret(), "trent"));
    assert_ne!(a, first_for(UnknownUserSecret::new([8; 32]), "mallory"));
    assert!(a.ends_with(",i=4096"), "{a}");
    assert_eq!(
        exchange(m, Store::new(), "mallory", "anything"),
        Err(ScramError::InvalidCredentials)
    );
    let fake = secret().credential("mallory", m);
    assert_eq!(fake.stored_key.len(), m.hash_len());
}

#[test]
fn token_auth_has_no_credentials_and_low_iterations_are_refused() {
    let m = ScramMechanism::Sha256;
    let store = store_with("alice", m, "pw", 4096);
    let mut server = ScramServer::new(m, lookup(store), b"n", secret());
    let mut client = ScramClient::new(m, "alice", b"pw", b"c").with_extension("tokenauth", "true");
    let first = challenge(server.exchange(&client.client_first()));
    let last = client.client_final(&first).unwrap();
    assert_eq!(server.exchange(&last), Err(ScramError::InvalidCredentials));

    let weak = store_with("bob", m, "pw", 1000);
    let mut server = ScramServer::new(m, lookup(weak), b"n", secret());
    assert!(matches!(
        server.exchange(b"n,,n=bob,r=abc"),
        Err(ScramError::Refused(_))
    ));
}

#[test]
fn malformed_client_first_messages_are_errors() {
    let m = ScramMechanism::Sha256;
    let cases: &[&[u8]] = &[
        b"",
        b"n",
        b"n,",
        b"n,,",
        b"y,,n=alice,r=abc",
        b"p=tls-unique,,n=alice,r=abc",
        b"x,,n=alice,r=abc",
        b"n,,r=abc",
        b"n,,n=alice",
        b"n,,n=,r=abc",
        b"n,,n=alice,r=",
        b"n,,n=alice,r=a b",
        b"n,,n=al=ice,r=abc",
        b"n,,m=ext,n=alice,r=abc",
        b"n,,n=alice,r=abc,",
        b"n,,n=alice,r=abc,1x=y",
        b"n,,n=alice,r=abc,k=",
        b"n,,n=alice,r=abc,novalue",
        b"n,x=y,n=alice,r=abc",
        b"n,a=bob,n=alice,r=abc",
        b"n,,n=\xff\xfe,r=abc",
        b"\0\0\0\0",
    ];
    for case in cases {
        let store = store_with("alice", m, "pw", 4096);
        let mut server = ScramServer::new(m, lookup(store), b"n", secret());
        let r = server.exchange(case);
        assert!(r.is_err(), "{:?} gave {r:?}", String::from_utf8_lossy(case));
        assert_eq!(
            server.exchange(b"n,,n=alice,r=abc"),
            Err(ScramError::IllegalState)
        );
    }
    let mut server = ScramServer::new(m, lookup(Store::new()), b"n", secret());
    let big = vec![b'a'; MAX_TOKEN_BYTES + 1];
    assert!(matches!(
        server.exchange(&big),
        Err(ScramError::TooLarge { .. })
    ));
    // The authorization id may repeat the user name; extensions are kept.
    let mut server = ScramServer::new(m, lookup(Store::new()), b"n", secret());
    challenge(server.exchange(b"n,a=alice,n=alice,r=abc,tokenauth=false,x=1"));
}

#[test]
fn malformed_client_final_messages_are_errors() {
    let m = ScramMechanism::Sha256;
    let start = || {
        let store = store_with("alice", m, "pw", 4096);
        let mut server = ScramServer::new(m, lookup(store), b"n", secret());
        let mut client = ScramClient::new(m, "alice", b"pw", b"c");
        let first = challenge(server.exchange(&client.client_first()));
        let good = String::from_utf8(client.client_final(&first).unwrap()).unwrap();
        (server, good)
    };
    let (_, good) = start();
    let (without_proof, proof) = good.rsplit_once(",p=").unwrap();
    let nonce = without_proof.split(',').nth(1).unwrap();
    let cases = vec![
        String::new(),
        "c=biws".to_string(),
        format!("{without_proof}"),
        format!("{without_proof},p="),
        format!("{without_proof},p=!!!"),
        format!("{without_proof},p={}", b64(&[1, 2, 3])),
        format!("c=biws,{nonce}x,p={proof}"),
        format!("c=biws,r=other,p={proof}"),
        format!("c=eSws,{nonce},p={proof}"),
        format!("c=@@,{nonce},p={proof}"),
        format!("r=x,c=biws,p={proof}"),
        format!("c=biws,{nonce},bad ext,p={proof}"),
        format!("{without_proof},p={}", b64(&[0u8; 32])),
    ];
    for case in cases {
        let (mut server, _) = start();
        let r = server.exchange(case.as_bytes());
        assert!(r.is_err(), "{case:?} gave {r:?}");
        assert_eq!(
            server.exchange(good.as_bytes()),
            Err(ScramError::IllegalState)
        );
    }
    let (mut server, _) = start();
    assert!(matches!(
        server.exchange(good.as_bytes()),
        Ok(SaslStep::Done { .. })
    ));
}

#[test]
fn mechanisms_have_kafkas_codes_names_and_limits() {
    assert_eq!(ScramMechanism::from_code(1), Some(ScramMechanism::Sha256));
    assert_eq!(ScramMechanism::from_code(2), Some(ScramMechanism::Sha512));
    assert_eq!(ScramMechanism::from_code(0), None);
    assert_eq!(
        ScramMechanism::from_name("SCRAM-SHA-512"),
        Some(ScramMechanism::Sha512)
    );
    assert_eq!(ScramMechanism::from_name("scram-sha-512"), None);
    assert_eq!(ScramMechanism::Sha256.min_iterations(), 4096);
    assert_eq!(ScramMechanism::Sha512.max_iterations(), 16384);
    let c = credential_from_password(ScramMechanism::Sha512, b"pw", b"salt", 4096);
    assert_eq!((c.stored_key.len(), c.server_key.len()), (64, 64));
    assert!(!format!("{c:?}").contains("stored_key"));
}

/// alice's credentials, derived once (PBKDF2 is slow in test builds).
fn alice(m: ScramMechanism) -> Store {
    static STORES: OnceLock<[Store; 2]> = OnceLock::new();
    let stores =
        STORES.get_or_init(|| ScramMechanism::ALL.map(|m| store_with("alice", m, "pw", 4096)));
    stores[usize::from(m == ScramMechanism::Sha512)].clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_nor_authenticate(
        first in proptest::collection::vec(any::<u8>(), 0..200),
        last in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let m = ScramMechanism::Sha256;
        let store = alice(m);
        let mut server = ScramServer::new(m, lookup(store.clone()), b"n", secret());
        let r = server.exchange(&first);
        prop_assert!(!matches!(r, Ok(SaslStep::Done { .. })), "authenticated");
        let r = server.exchange(&last);
        prop_assert!(!matches!(r, Ok(SaslStep::Done { .. })), "authenticated");

        // After a valid first message, arbitrary final bytes never authenticate.
        let mut server = ScramServer::new(m, lookup(store), b"n", secret());
        challenge(server.exchange(b"n,,n=alice,r=abc"));
        prop_assert!(server.exchange(&last).is_err());
    }

    #[test]
    fn printable_client_final_shapes_never_authenticate(
        nonce in "[!-+--~]{1,20}",
        proof in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let m = ScramMechanism::Sha512;
        let store = alice(m);
        let mut server = ScramServer::new(m, lookup(store), b"n", secret());
        let first = String::from_utf8(challenge(server.exchange(format!("n,,n=alice,r={nonce}").as_bytes()))).unwrap();
        let full_nonce = first.split(',').next().unwrap().trim_start_matches("r=").to_string();
        let last = format!("c=biws,r={full_nonce},p={}", b64(&proof));
        prop_assert_eq!(server.exchange(last.as_bytes()), Err(ScramError::InvalidCredentials));
    }
}
