//! The group driver's append worker over an offsets log whose commits wait
//! for the test: appends are written in issue order while earlier commits
//! wait, and a partition elected again is read only once the appends of the
//! earlier term are done (the read sees them).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::driver::simple_commit;
use bytes::Bytes;
use tokio::sync::watch;
use vltava_coordinator::{
    BoxFuture, CoordinatorError, CoordinatorHandle, GroupConfig, OffsetsLog, codes, start_unowned,
};
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::*;
use vltava_protocol::{ApiKey, ResponseBody};

type Records = Arc<Mutex<Vec<(Bytes, Option<Bytes>)>>>;

/// One partition's records; commits resolve once `open` is true.
#[derive(Clone)]
struct GatedLog {
    records: Records,
    open: watch::Receiver<bool>,
}

impl OffsetsLog for GatedLog {
    fn append(
        &mut self,
        _: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError> {
        self.records.lock().expect("lock").extend(records);
        Ok(())
    }

    fn read_all(&mut self, _: i32) -> Result<Vec<(Bytes, Option<Bytes>)>, CoordinatorError> {
        Ok(self.records.lock().expect("lock").clone())
    }

    fn append_replicated(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
        _: Option<(i64, i16)>,
    ) -> BoxFuture<Result<(), CoordinatorError>> {
        let written = self.append(partition, records);
        let mut open = self.open.clone();
        Box::pin(async move {
            let _ = open.wait_for(|open| *open).await;
            written
        })
    }
}

/// The group's error and committed offset of t-0 (-1: none).
async fn fetch(h: &CoordinatorHandle) -> (i16, i64) {
    let req = OffsetFetchRequest {
        group_id: "g".into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]),
        ..Default::default()
    };
    match h.handle(ApiKey::OffsetFetch, 7, req.into()).await {
        ResponseBody::OffsetFetch(r) => {
            let offset = r.topics.first().and_then(|t| t.partitions.first());
            (r.error_code, offset.map_or(-1, |p| p.committed_offset))
        }
        other => panic!("{other:?}"),
    }
}

async fn commit_code(h: CoordinatorHandle, offset: i64) -> i16 {
    match h
        .handle(ApiKey::OffsetCommit, 8, simple_commit(offset).into())
        .await
    {
        ResponseBody::OffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_reelected_partition_is_read_after_its_unfinished_appends() {
    let (gate, open) = watch::channel(false);
    let log = GatedLog {
        records: Arc::default(),
        open,
    };
    let (h, _task) = start_unowned(GroupConfig::default(), log.clone(), 1);
    h.elect(0, 1);
    assert_eq!(fetch(&h).await, (codes::NONE, -1));

    // Two commits written in order, both waiting for their commit.
    let first = tokio::spawn(commit_code(h.clone(), 5));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let second = tokio::spawn(commit_code(h.clone(), 6));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(log.records.lock().expect("lock").len(), 2);

    // Elected again: the read waits for the two appends.
    h.resign(0, Some(2));
    h.elect(0, 3);
    assert_eq!(
        fetch(&h).await,
        (codes::COORDINATOR_LOAD_IN_PROGRESS, -1),
        "loading until the appends are done"
    );
    let _ = gate.send(true);
    assert_eq!(first.await.expect("answered"), codes::NONE);
    assert_eq!(second.await.expect("answered"), codes::NONE);
    assert_eq!(fetch(&h).await, (codes::NONE, 6), "the reload read both");
}
