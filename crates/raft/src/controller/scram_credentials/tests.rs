//! AlterUserScramCredentials rules, records, apply and snapshot.

use vltava_protocol::messages::AlterUserScramCredentialsRequest;
use vltava_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use vltava_security::scram::crypto::{credential_from_password, salted_password};

use super::alter_user_scram_credentials;
use crate::apply::{image_to_records, replay};
use crate::controller::test_image::apply_all;
use crate::error::codes;
use crate::image::{MetadataImage, ScramMechanism};
use crate::records::{MetadataRecord, decode_batch, encode_batch};

const SALT: &[u8] = b"0123456789abcdef";

fn upsert(name: &str, mechanism: i8, iterations: i32) -> ScramCredentialUpsertion {
    let m = ScramMechanism::from_code(mechanism).unwrap_or(ScramMechanism::Sha256);
    ScramCredentialUpsertion {
        name: name.into(),
        mechanism,
        iterations,
        salt: SALT.to_vec().into(),
        salted_password: salted_password(m, b"secret", SALT, 4096).into(),
        ..Default::default()
    }
}

fn delete(name: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion {
        name: name.into(),
        mechanism,
        ..Default::default()
    }
}

fn run(
    img: &mut MetadataImage,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Vec<(String, i16)> {
    let req = AlterUserScramCredentialsRequest {
        deletions,
        upsertions,
        ..Default::default()
    };
    let (resp, recs) = alter_user_scram_credentials(img, &req);
    apply_all(img, &recs);
    resp.results
        .iter()
        .map(|r| {
            assert_eq!(r.error_code == codes::NONE, r.error_message.is_none());
            (r.user.to_string(), r.error_code)
        })
        .collect()
}

fn ok(user: &str) -> (String, i16) {
    (user.to_string(), codes::NONE)
}

#[test]
fn an_upsertion_stores_keys_derived_from_the_salted_password() {
    let mut img = MetadataImage::empty("c");
    assert_eq!(
        run(&mut img, vec![], vec![upsert("alice", 1, 8192)]),
        vec![ok("alice")]
    );
    assert_eq!(
        run(&mut img, vec![], vec![upsert("alice", 2, 4096)]),
        vec![ok("alice")]
    );
    let c = img
        .scram_credential("alice", ScramMechanism::Sha256)
        .unwrap();
    // Stored with the request's iteration count; the keys come from the salted password.
    let expected = credential_from_password(ScramMechanism::Sha256, b"secret", SALT, 4096);
    assert_eq!(c.iterations, 8192);
    assert_eq!(
        (&c.stored_key, &c.server_key, &c.salt),
        (&expected.stored_key, &expected.server_key, &expected.salt)
    );
    assert_eq!(
        img.scram_credential("alice", ScramMechanism::Sha512)
            .unwrap()
            .stored_key
            .len(),
        64
    );

    // Snapshot content rebuilds it; the records survive the log's framing.
    let recs = image_to_records(&img);
    let decoded = decode_batch(&encode_batch(&recs).unwrap()).unwrap();
    assert_eq!(decoded, recs);
    let mut rebuilt = MetadataImage::empty("c");
    replay(&mut rebuilt, &decoded);
    assert_eq!(rebuilt.scram_credentials, img.scram_credentials);
    let framed = recs
        .iter()
        .find(|r| matches!(r, MetadataRecord::UserScramCredential(_)))
        .unwrap()
        .encode_framed()
        .unwrap();
    assert_eq!(&framed[..3], &[1, 11, 0]);

    // An upsertion replaces; a deletion removes one mechanism, then the user.
    assert_eq!(
        run(&mut img, vec![], vec![upsert("alice", 1, 4096)]),
        vec![ok("alice")]
    );
    assert_eq!(
        img.scram_credential("alice", ScramMechanism::Sha256)
            .unwrap()
            .iterations,
        4096
    );
    assert_eq!(
        run(&mut img, vec![delete("alice", 1)], vec![]),
        vec![ok("alice")]
    );
    assert!(
        img.scram_credential("alice", ScramMechanism::Sha256)
            .is_none()
    );
    let remove = MetadataRecord::RemoveUserScramCredential(Default::default());
    assert_eq!(remove.type_and_version(), (22, 0));
    assert_eq!(
        run(&mut img, vec![delete("alice", 2)], vec![]),
        vec![ok("alice")]
    );
    assert!(img.scram_credentials.is_empty());
}

#[test]
fn kafkas_errors() {
    let mut img = MetadataImage::empty("c");
    let got = run(
        &mut img,
        vec![delete("ghost", 1), delete("bad", 0)],
        vec![
            upsert("few", 1, 4095),
            upsert("many", 2, 16385),
            upsert("", 1, 4096),
            upsert("weird", 3, 4096),
            upsert("min", 1, 4096),
            upsert("max", 2, 16384),
        ],
    );
    assert_eq!(
        got,
        vec![
            ("ghost".into(), codes::RESOURCE_NOT_FOUND),
            ("bad".into(), codes::UNSUPPORTED_SASL_MECHANISM),
            ("few".into(), codes::UNACCEPTABLE_CREDENTIAL),
            ("many".into(), codes::UNACCEPTABLE_CREDENTIAL),
            (String::new(), codes::UNACCEPTABLE_CREDENTIAL),
            ("weird".into(), codes::UNSUPPORTED_SASL_MECHANISM),
            ok("min"),
            ok("max"),
        ]
    );
    assert_eq!(img.scram_credentials.len(), 2);

    let mut short = upsert("short", 2, 4096);
    short.salted_password = vec![1; 32].into();
    let mut saltless = upsert("saltless", 1, 4096);
    saltless.salt = Default::default();
    let got = run(&mut img, vec![], vec![short, saltless]);
    assert!(
        got.iter()
            .all(|(_, c)| *c == codes::UNACCEPTABLE_CREDENTIAL),
        "{got:?}"
    );
}

#[test]
fn one_user_twice_in_a_request_is_a_duplicate_whatever_the_mechanism() {
    let mut img = MetadataImage::empty("c");
    run(&mut img, vec![], vec![upsert("bob", 1, 4096)]);
    let got = run(
        &mut img,
        vec![delete("bob", 1), delete("carol", 1), delete("carol", 2)],
        vec![
            upsert("alice", 1, 4096),
            upsert("alice", 2, 4096),
            upsert("bob", 2, 4096),
            upsert("dave", 1, 4096),
        ],
    );
    assert_eq!(
        got,
        vec![
            ("bob".into(), codes::DUPLICATE_RESOURCE),
            // carol's first deletion already failed: the user keeps that error.
            ("carol".into(), codes::RESOURCE_NOT_FOUND),
            ("alice".into(), codes::DUPLICATE_RESOURCE),
            ok("dave"),
        ]
    );
    // Nothing of the refused users changed.
    assert!(
        img.scram_credential("bob", ScramMechanism::Sha256)
            .is_some()
    );
    assert!(
        img.scram_credential("bob", ScramMechanism::Sha512)
            .is_none()
    );
    assert!(!img.scram_credentials.contains_key("alice"));
    assert!(img.scram_credentials.contains_key("dave"));
}
