//! Property test: for every generated schema (every request and response of
//! every API key, the headers, the data types, the metadata and coordinator
//! records) at every valid version, random values valid at that version
//! survive encode → decode → encode unchanged, and `encoded_len` is exact.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use vltava_protocol::SCHEMAS;
use vltava_protocol::testing::Gen;

const CASES_PER_VERSION: u32 = 64;

#[test]
fn every_schema_every_version_round_trips() {
    let mut checked = 0usize;
    for schema in SCHEMAS {
        for version in schema.min_version..=schema.max_version {
            let mut runner = TestRunner::new(Config {
                cases: CASES_PER_VERSION,
                failure_persistence: None,
                ..Config::default()
            });
            let result = runner.run(&any::<u64>(), |seed| {
                (schema.roundtrip)(&mut Gen::new(seed), version).map_err(TestCaseError::fail)
            });
            if let Err(e) = result {
                panic!("{} ({}) v{version}: {e}", schema.name, schema.group);
            }
            checked += 1;
        }
    }
    // 88 APIs × 2 plus headers, data types and records: make sure none went missing.
    assert!(
        SCHEMAS.len() >= 248,
        "only {} schemas generated",
        SCHEMAS.len()
    );
    assert!(checked >= 750, "only {checked} schema versions checked");
}

#[test]
fn every_api_key_has_request_and_response_schemas() {
    for key in vltava_protocol::ApiKey::ALL {
        for suffix in ["Request", "Response"] {
            let name = format!("{}{suffix}", key.name());
            let s = SCHEMAS
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(s.api_key, Some(key.as_i16()));
            assert_eq!(
                (s.min_version, s.max_version),
                (key.min_version(), key.max_version())
            );
        }
    }
    assert_eq!(vltava_protocol::ApiKey::ALL.len(), 88, "API keys 0-87");
}
