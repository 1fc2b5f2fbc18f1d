//! One partition's entry as Metadata and DescribeTopicPartitions both answer it, from the
//! metadata image: the two responses' partition types have the same fields, so one macro
//! fills either.

/// `$ty` (`MetadataResponsePartition` or `DescribeTopicPartitionsResponsePartition`) for
/// partition `$p` (a `&PartitionImage`) of `$metadata` (a `&MetadataView`): the leader only
/// when its broker is alive (else -1), replicas on brokers that are not alive listed
/// offline, the error code NONE (each response decides what a missing leader answers).
macro_rules! partition_entry {
    ($ty:ident, $p:expr, $metadata:expr) => {{
        let (p, metadata): (
            &vltava_raft::PartitionImage,
            &$crate::metadata_view::MetadataView,
        ) = ($p, $metadata);
        $ty {
            error_code: $crate::error_codes::NONE,
            partition_index: p.partition,
            leader_id: metadata.image().alive_leader(p),
            leader_epoch: p.leader_epoch,
            replica_nodes: p.replicas.clone(),
            isr_nodes: p.isr.clone(),
            offline_replicas: metadata.image().offline_replicas(p),
            ..Default::default()
        }
    }};
}

pub(crate) use partition_entry;
