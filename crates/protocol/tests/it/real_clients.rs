//! Golden tests on bytes real clients sent: every ApiVersions, Metadata and
//! Produce request confluent-kafka (librdkafka) and kafka-python sent to a fake
//! broker decodes here, carries what the client put in it, and re-encodes
//! byte-identical. Runs over the committed goldens and over a fresh capture.

use bytes::BytesMut;
use vltava_protocol::frame::{DEFAULT_MAX_FRAME, decode_request, encode_request, split_frame};
use vltava_protocol::{ApiKey, RequestBody};
use vltava_testkit::captures::{self, Captures};

fn check_all(c: &Captures) -> usize {
    let mut checked = 0;
    for e in &c.entries {
        let what = format!(
            "{} ({} {}) {}",
            e.frame, e.client, e.client_version, e.codec
        );
        let wire = c.frame(e).unwrap_or_else(|err| panic!("{what}: {err}"));
        let mut buf = BytesMut::from(&wire[..]);
        let frame = split_frame(&mut buf, DEFAULT_MAX_FRAME)
            .unwrap_or_else(|err| panic!("{what}: {err}"))
            .unwrap_or_else(|| panic!("{what}: incomplete frame"));
        assert!(buf.is_empty(), "{what}: bytes after the frame");
        let req = decode_request(&frame).unwrap_or_else(|err| panic!("{what}: decode: {err}"));
        assert_eq!(req.api_key.as_i16(), e.api_key, "{what}");
        assert_eq!(req.api_version(), e.api_version, "{what}");
        assert!(
            req.header.client_id.as_ref().is_some_and(|c| !c.is_empty()),
            "{what}: client id"
        );

        match &req.body {
            RequestBody::ApiVersions(b) if e.api_version >= 3 => {
                assert!(!b.client_software_name.is_empty(), "{what}: software name");
                assert!(
                    !b.client_software_version.is_empty(),
                    "{what}: software version"
                );
            }
            RequestBody::Metadata(m) => {
                let topics = m
                    .topics
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: all-topics request"));
                assert!(
                    topics
                        .iter()
                        .any(|t| t.name.as_deref() == Some("capture-topic")),
                    "{what}: {topics:?}"
                );
            }
            RequestBody::Produce(p) => {
                let topic = p
                    .topic_data
                    .first()
                    .unwrap_or_else(|| panic!("{what}: no topic"));
                assert_eq!(topic.name, "capture-topic", "{what}");
                let part = topic
                    .partition_data
                    .first()
                    .unwrap_or_else(|| panic!("{what}: no partition"));
                let records = c
                    .records(e)
                    .unwrap_or_else(|err| panic!("{what}: {err}"))
                    .unwrap_or_default();
                assert_eq!(
                    part.records.as_deref(),
                    Some(&records[..]),
                    "{what}: records bytes"
                );
                assert!(records.len() > 61, "{what}: a whole batch");
                // Zero-copy: the records share the frame's memory.
                let rec = part
                    .records
                    .as_ref()
                    .map(|r| r.as_ptr())
                    .unwrap_or(std::ptr::null());
                let range = frame.as_ptr_range();
                assert!(range.contains(&rec), "{what}: records were copied");
            }
            _ => {}
        }
        let again = encode_request(&req.header, &req.body)
            .unwrap_or_else(|err| panic!("{what}: encode: {err}"));
        assert_eq!(&again[..], &wire[..], "{what}: re-encoding differs");
        checked += 1;
    }
    checked
}

fn assert_coverage(c: &Captures) {
    for client in ["confluent-kafka", "kafka-python"] {
        for key in [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce] {
            assert!(
                c.entries
                    .iter()
                    .any(|e| e.client == client && e.api_key == key.as_i16()),
                "no {key:?} capture from {client}"
            );
        }
    }
}

#[test]
fn committed_goldens_decode_and_reencode_identically() {
    let c = captures::committed().expect("committed goldens");
    assert_coverage(&c);
    assert_eq!(check_all(&c), c.entries.len());
}

#[test]
fn fresh_capture_from_real_clients_decodes_and_reencodes_identically() {
    let c = captures::live().expect("live capture (run ./test.sh to install the clients)");
    assert_coverage(&c);
    assert_eq!(check_all(&c), c.entries.len());
}
