//! Unit tests of `--add-scram`: Kafka's syntax, the refusals, the file round trip.

use super::*;
use vltava_security::scram::crypto::credential_from_password;

const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";

#[test]
fn a_password_is_salted_and_hashed_as_a_scram_server_expects() {
    let c = parse_add_scram(&format!(
        "SCRAM-SHA-256=[name=\"alice\",password=\"pencil\",salt=\"{SALT}\",iterations=4096]"
    ))
    .unwrap();
    let salt = unb64(SALT, "salt").unwrap();
    let want = credential_from_password(ScramMechanism::Sha256, b"pencil", &salt, 4096);
    assert_eq!(c.name, "alice");
    assert_eq!((c.salt.clone(), c.iterations), (salt.clone(), 4096));
    assert_eq!(
        (c.stored_key.clone(), c.server_key.clone()),
        (want.stored_key, want.server_key)
    );
    // The same credential given as salt + salted password (KIP-900's second form).
    let sp = salted_password(ScramMechanism::Sha256, b"pencil", &salt, 4096);
    let c2 = parse_add_scram(&format!(
        "SCRAM-SHA-256=[name=alice,iterations=4096,salt=\"{SALT}\",saltedpassword=\"{}\"]",
        b64(&sp)
    ))
    .unwrap();
    assert_eq!(c, c2);
}

#[test]
fn defaults_random_salt_and_4096_iterations() {
    let a = parse_add_scram("SCRAM-SHA-512=[name=admin,password=admin-secret]").unwrap();
    let b = parse_add_scram("SCRAM-SHA-512=[name=admin,password=admin-secret]").unwrap();
    assert_eq!(a.iterations, DEFAULT_ITERATIONS);
    assert_eq!(a.mechanism, ScramMechanism::Sha512);
    assert_eq!(a.salt.len(), 32);
    assert_ne!(a.salt, b.salt);
    assert_eq!(a.server_key.len(), 64);
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    for (arg, reason) in [
        ("SCRAM-SHA-1=[name=a,password=b]", "unknown mechanism"),
        ("SCRAM-SHA-256=name=a,password=b", "[...]"),
        ("SCRAM-SHA-256=[password=b]", "name=... is required"),
        (
            "SCRAM-SHA-256=[name=a]",
            "password=... or saltedpassword=...",
        ),
        (
            "SCRAM-SHA-256=[name=a,password=b,saltedpassword=AAAA,salt=AAAA]",
            "not both",
        ),
        ("SCRAM-SHA-256=[name=a,saltedpassword=AAAA]", "needs salt"),
        (
            "SCRAM-SHA-256=[name=a,saltedpassword=AAAA,salt=AAAA]",
            "holds 3 bytes",
        ),
        (
            "SCRAM-SHA-256=[name=a,password=b,iterations=100]",
            "outside 4096..=16384",
        ),
        (
            "SCRAM-SHA-256=[name=a,password=b,iterations=x]",
            "not a number",
        ),
        ("SCRAM-SHA-256=[name=a,password=b,user=c]", "unknown key"),
        ("SCRAM-SHA-256=[name=a,name=b,password=b]", "twice"),
        ("SCRAM-SHA-256=[name=a,password=\"b]", "unterminated"),
    ] {
        let e = parse_add_scram(arg).unwrap_err().to_string();
        assert!(e.contains(reason), "{arg}: {e}");
    }
    let twice = [
        "SCRAM-SHA-256=[name=a,password=b]".to_string(),
        "SCRAM-SHA-256=[name=a,password=c]".to_string(),
    ];
    assert!(parse_all(&twice).unwrap_err().to_string().contains("twice"));
    let both = [
        "SCRAM-SHA-256=[name=a,password=b]".to_string(),
        "SCRAM-SHA-512=[name=a,password=b]".to_string(),
    ];
    assert_eq!(parse_all(&both).unwrap().len(), 2);
}

#[test]
fn a_quoted_password_may_hold_commas_and_brackets() {
    let c = parse_add_scram("SCRAM-SHA-256=[name=a,password=\"x,y]=z\"]").unwrap();
    let want = credential_from_password(ScramMechanism::Sha256, b"x,y]=z", &c.salt, 4096);
    assert_eq!(c.stored_key, want.stored_key);
}

#[test]
fn the_file_round_trips_into_records() {
    let d = tempfile::tempdir().unwrap();
    assert!(read_records(d.path()).unwrap().is_empty());
    let creds = parse_all(&[
        "SCRAM-SHA-512=[name=admin,password=admin-secret]".to_string(),
        "SCRAM-SHA-256=[name=\"a b\",password=p]".to_string(),
    ])
    .unwrap();
    write(d.path(), &creds).unwrap();
    let records = read_records(d.path()).unwrap();
    assert_eq!(records.len(), 2);
    let MetadataRecord::UserScramCredential(r) = &records[0] else {
        panic!("{records:?}");
    };
    assert_eq!(r.name.as_str(), "admin");
    assert_eq!(r.mechanism, 2);
    assert_eq!(r.iterations, 4096);
    assert_eq!(&r.server_key[..], &creds[0].server_key[..]);
    let MetadataRecord::UserScramCredential(r) = &records[1] else {
        panic!("{records:?}");
    };
    assert_eq!(r.name.as_str(), "a b");
    std::fs::write(d.path().join(BOOTSTRAP_FILE), "SCRAM-SHA-256 x\n").unwrap();
    assert!(read_records(d.path()).is_err());
}
