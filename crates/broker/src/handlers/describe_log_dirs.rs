//! DescribeLogDirs (key 35): the one log directory of this broker with the size
//! of each hosted partition (offset lag 0: no future replicas).

use std::collections::BTreeMap;

use vltava_protocol::messages::DescribeLogDirsRequest;
use vltava_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResponse, DescribeLogDirsResult, DescribeLogDirsTopic,
};

use crate::error_codes::NONE;
use crate::handlers::context::{Answer, RequestContext, respond};

/// Handles DescribeLogDirs.
pub async fn handle(cx: &RequestContext<'_>, req: DescribeLogDirsRequest) -> Answer {
    let broker = cx.broker;
    let wanted = |topic: &str, partition: i32| match &req.topics {
        None => true,
        Some(ts) => ts
            .iter()
            .any(|t| t.topic.as_str() == topic && t.partitions.contains(&partition)),
    };
    let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for p in broker.partitions.all() {
        if !wanted(&p.topic, p.index) {
            continue;
        }
        let size = p.log().size_in_bytes();
        topics
            .entry(p.topic.clone())
            .or_default()
            .push(DescribeLogDirsPartition {
                partition_index: p.index,
                partition_size: i64::try_from(size).unwrap_or(i64::MAX),
                offset_lag: 0,
                is_future_key: false,
                ..Default::default()
            });
    }
    let dir = broker
        .config
        .log_dirs
        .first()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let topics = topics
        .into_iter()
        .map(|(name, mut partitions)| {
            partitions.sort_by_key(|p| p.partition_index);
            DescribeLogDirsTopic {
                name: name.into(),
                partitions,
                ..Default::default()
            }
        })
        .collect();
    respond(DescribeLogDirsResponse {
        error_code: NONE,
        results: vec![DescribeLogDirsResult {
            error_code: NONE,
            log_dir: dir.into(),
            topics,
            ..Default::default()
        }],
        ..Default::default()
    })
}
