//! The `vltava` binary under a low open-file limit (`ulimit -n`, soft and hard):
//! partition logs that would eat into the descriptors kept for connections are
//! not opened, requests for them get KAFKA_STORAGE_ERROR with a message while
//! Metadata, CreateTopics and new connections keep working, and once
//! descriptors are free again (a topic deleted) the broker opens and serves them,
//! with nothing acknowledged lost.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use vltava_protocol::messages::{DeleteTopicsRequest, MetadataRequest};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig};
use vltava_testkit::broker_process::BrokerProcess;

use crate::support::Client;

use vltava_protocol::error_codes::KAFKA_STORAGE_ERROR;
use vltava_protocol::error_codes::NOT_LEADER_OR_FOLLOWER;

fn record() -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    b.append(now, None, Some(b"kept"), &[]).unwrap();
    b.build().unwrap()
}

async fn log_end(c: &mut Client, topic: &str, partition: i32) -> (i16, i64) {
    c.latest_offset(topic, partition).await
}

#[tokio::test]
async fn a_low_descriptor_limit_gives_storage_errors_not_a_dead_broker() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("vltava-ulimit.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nulimit -n 256 || exit 97\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_vltava")
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms).unwrap();
    let broker = BrokerProcess::builder().bin(&wrapper).start().unwrap();
    let mut c = Client::connect_addr(broker.addr()).await;

    // 256 descriptors, 64 kept free: about 160 logs fit. `a` takes 100.
    c.create_topic("a", 100).await;
    c.create_topic("b", 100).await;
    let r = c.produce_raw(9, "a", 0, record()).await;
    assert_eq!(r.error_code, 0);
    let r = c.produce_raw(9, "b", 0, record()).await;
    assert_eq!(r.error_code, 0, "the first logs of b fit");
    let r = c.produce_raw(9, "b", 99, record()).await;
    assert_eq!(r.error_code, KAFKA_STORAGE_ERROR);
    let msg = r.error_message.as_deref().unwrap_or_default().to_string();
    assert!(msg.contains("ulimit"), "{msg}");
    assert_eq!(log_end(&mut c, "b", 99).await.0, KAFKA_STORAGE_ERROR);

    // The rest of the broker works: metadata, the controller, new connections.
    let mut c2 = Client::connect_addr(broker.addr()).await;
    let req = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c2.call(12, RequestBody::from(req)).await else {
        panic!()
    };
    assert!(m.topics.iter().all(|t| t.error_code == 0));
    assert_eq!(m.topics.len(), 2);
    c2.create_topic("c", 1).await;

    // Free descriptors: b's remaining logs open and serve.
    let del = DeleteTopicsRequest {
        topic_names: vec!["a".into()],
        timeout_ms: 5000,
        ..Default::default()
    };
    let ResponseBody::DeleteTopics(d) = c.call(4, RequestBody::from(del)).await else {
        panic!()
    };
    assert_eq!(d.responses[0].error_code, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = c.produce_raw(9, "b", 99, record()).await;
        if r.error_code == 0 {
            break;
        }
        // Once the log opens, its replica follows at the next metadata pass: between the
        // two the partition answers NOT_LEADER_OR_FOLLOWER, retriable like the storage error.
        assert!(
            [KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER].contains(&r.error_code),
            "{}",
            r.error_code
        );
        assert!(Instant::now() < deadline, "b-99 was never opened");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        log_end(&mut c, "b", 0).await,
        (0, 1),
        "acknowledged record kept"
    );
    assert_eq!(log_end(&mut c, "b", 99).await, (0, 1));
    assert_eq!(log_end(&mut c, "c", 0).await, (0, 0));
    drop((c, c2));
    broker.terminate(Duration::from_secs(20)).unwrap();
}
