//! Kafka's mapping of a failed `__consumer_offsets` write to what the group's
//! clients are answered: too few replicas, a timed-out wait or a missing
//! partition are COORDINATOR_NOT_AVAILABLE; this broker no longer leading the
//! partition (or its disk failing) is NOT_COORDINATOR, so clients look the
//! coordinator up again. The answers of a failed write are prepared with
//! COORDINATOR_NOT_AVAILABLE; [`recode`] turns them into the mapped code.

use vltava_protocol::ResponseBody;

use crate::codes;

/// The code a group request gets when its write failed with `code`.
pub(crate) fn group_write_error(code: i16) -> i16 {
    match code {
        codes::NOT_LEADER_OR_FOLLOWER | codes::KAFKA_STORAGE_ERROR => codes::NOT_COORDINATOR,
        _ => codes::COORDINATOR_NOT_AVAILABLE,
    }
}

/// Replaces COORDINATOR_NOT_AVAILABLE in `body` (top level, per group, per
/// partition) with `to`.
pub(crate) fn recode(body: &mut ResponseBody, to: i16) {
    let swap = |c: &mut i16| {
        if *c == codes::COORDINATOR_NOT_AVAILABLE {
            *c = to;
        }
    };
    match body {
        ResponseBody::OffsetCommit(r) => r
            .topics
            .iter_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .for_each(|p| swap(&mut p.error_code)),
        ResponseBody::JoinGroup(r) => swap(&mut r.error_code),
        ResponseBody::SyncGroup(r) => swap(&mut r.error_code),
        ResponseBody::OffsetDelete(r) => {
            swap(&mut r.error_code);
            r.topics
                .iter_mut()
                .flat_map(|t| t.partitions.iter_mut())
                .for_each(|p| swap(&mut p.error_code));
        }
        ResponseBody::DeleteGroups(r) => r.results.iter_mut().for_each(|g| swap(&mut g.error_code)),
        _ => {}
    }
}
