//! Group administration: DescribeGroups, ListGroups, DeleteGroups.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::consumer_group_describe_response::DescribedGroup as ConsumerDescribedGroup;
use vltava_protocol::messages::delete_groups_response::DeletableGroupResult;
use vltava_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use vltava_protocol::messages::list_groups_response::ListedGroup;
use vltava_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DeleteGroupsRequest,
    DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, ListGroupsRequest,
    ListGroupsResponse,
};

use crate::codes;
use crate::coordinator::{AfterAppend, Effect, GroupCoordinator};
use crate::group::GroupState;
use crate::records::{group_metadata_record, offset_commit_record};

/// Group type of every group this coordinator runs (ListGroups v5).
pub const CLASSIC_GROUP_TYPE: &str = "classic";

/// DescribeGroups' authorized operations of a group when every operation is allowed:
/// READ (3), DELETE (6), DESCRIBE (8), DESCRIBE_CONFIGS (10) and ALTER_CONFIGS (11) — the
/// group operations of Kafka 4 (group configs, KIP-848), found by the differential test.
pub const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

impl GroupCoordinator {
    /// ConsumerGroupDescribe (KIP-848) for a coordinator that runs only
    /// classic groups: every group is GROUP_ID_NOT_FOUND, as Kafka answers
    /// for a classic group, so clients fall back to DescribeGroups.
    pub(crate) fn consumer_group_describe(
        &mut self,
        request_id: u64,
        req: ConsumerGroupDescribeRequest,
        out: &mut Vec<Effect>,
    ) {
        let groups = req
            .group_ids
            .iter()
            .map(|gid| {
                // An empty id is INVALID_GROUP_ID before any lookup, as in Kafka (found by
                // the differential test, `every_api`).
                let (code, message) = if gid.is_empty() {
                    (codes::INVALID_GROUP_ID, None)
                } else if let Some(code) = self.group_error(gid) {
                    (code, None)
                } else if self.groups.contains_key(gid.as_str()) {
                    (
                        codes::GROUP_ID_NOT_FOUND,
                        Some(format!("Group {gid} is not a consumer group.")),
                    )
                } else {
                    (
                        codes::GROUP_ID_NOT_FOUND,
                        Some(format!("Group {gid} not found.")),
                    )
                };
                ConsumerDescribedGroup {
                    error_code: code,
                    error_message: message.map(Into::into),
                    group_id: gid.clone(),
                    ..Default::default()
                }
            })
            .collect();
        out.push(Effect::Respond {
            request_id,
            body: ResponseBody::ConsumerGroupDescribe(ConsumerGroupDescribeResponse {
                groups,
                ..Default::default()
            }),
        });
    }

    pub(crate) fn describe_groups(
        &mut self,
        request_id: u64,
        version: i16,
        req: DescribeGroupsRequest,
        out: &mut Vec<Effect>,
    ) {
        let groups = req
            .groups
            .iter()
            .map(|gid| {
                let mut d = DescribedGroup {
                    group_id: gid.clone(),
                    ..Default::default()
                };
                if let Some(code) = self.group_error(gid) {
                    d.error_code = code;
                    return d;
                }
                // Only for groups answered without an error, as Kafka fills them.
                if version >= 3 && req.include_authorized_operations {
                    d.authorized_operations = GROUP_AUTHORIZED_OPERATIONS;
                }
                let Some(g) = self.groups.get(gid.as_str()) else {
                    d.group_state = GroupState::Dead.name().into();
                    return d;
                };
                d.group_state = g.state.name().into();
                d.protocol_type = g.protocol_type.as_deref().unwrap_or("").into();
                let stable = g.state == GroupState::Stable;
                let protocol = g.protocol_name.clone().unwrap_or_default();
                if stable {
                    d.protocol_data = protocol.as_str().into();
                }
                d.members = g
                    .join_order
                    .iter()
                    .filter_map(|id| g.members.get(id))
                    .map(|m| DescribedGroupMember {
                        member_id: m.member_id.as_str().into(),
                        group_instance_id: if version >= 4 {
                            m.group_instance_id.as_deref().map(Into::into)
                        } else {
                            None
                        },
                        client_id: m.client_id.as_str().into(),
                        client_host: m.client_host.as_str().into(),
                        member_metadata: if stable {
                            m.metadata(&protocol)
                        } else {
                            Default::default()
                        },
                        member_assignment: if stable {
                            m.assignment.clone()
                        } else {
                            Default::default()
                        },
                        ..Default::default()
                    })
                    .collect();
                d
            })
            .collect();
        out.push(Effect::Respond {
            request_id,
            body: ResponseBody::DescribeGroups(DescribeGroupsResponse {
                groups,
                ..Default::default()
            }),
        });
    }

    pub(crate) fn list_groups(
        &mut self,
        request_id: u64,
        version: i16,
        req: ListGroupsRequest,
        out: &mut Vec<Effect>,
    ) {
        if self.is_loading() {
            out.push(Effect::Respond {
                request_id,
                body: ResponseBody::ListGroups(ListGroupsResponse {
                    error_code: codes::COORDINATOR_LOAD_IN_PROGRESS,
                    ..Default::default()
                }),
            });
            return;
        }
        let states: Vec<String> = if version >= 4 {
            req.states_filter.iter().map(|s| s.to_lowercase()).collect()
        } else {
            Vec::new()
        };
        let types: Vec<String> = if version >= 5 {
            req.types_filter.iter().map(|s| s.to_lowercase()).collect()
        } else {
            Vec::new()
        };
        let type_ok = types.is_empty() || types.iter().any(|t| t == CLASSIC_GROUP_TYPE);
        let mut groups: Vec<ListedGroup> = if type_ok {
            self.groups
                .values()
                .filter(|g| g.state != GroupState::Dead)
                .filter(|g| states.is_empty() || states.contains(&g.state.name().to_lowercase()))
                .map(|g| ListedGroup {
                    group_id: g.id.as_str().into(),
                    protocol_type: g.protocol_type.as_deref().unwrap_or("").into(),
                    group_state: if version >= 4 {
                        g.state.name().into()
                    } else {
                        Default::default()
                    },
                    group_type: if version >= 5 {
                        CLASSIC_GROUP_TYPE.into()
                    } else {
                        Default::default()
                    },
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        };
        groups.sort_by(|a, b| a.group_id.as_str().cmp(b.group_id.as_str()));
        out.push(Effect::Respond {
            request_id,
            body: ResponseBody::ListGroups(ListGroupsResponse {
                groups,
                ..Default::default()
            }),
        });
    }

    pub(crate) fn delete_groups(
        &mut self,
        request_id: u64,
        _version: i16,
        req: DeleteGroupsRequest,
        out: &mut Vec<Effect>,
    ) {
        let mut results = Vec::with_capacity(req.groups_names.len());
        let mut appends = Vec::new();
        for (index, gid) in req.groups_names.iter().enumerate() {
            let code = if let Some(code) = self.group_error(gid) {
                code
            } else {
                match self.groups.get_mut(gid.as_str()) {
                    None => codes::GROUP_ID_NOT_FOUND,
                    Some(g) if g.state == GroupState::Dead => codes::GROUP_ID_NOT_FOUND,
                    Some(g) if g.state != GroupState::Empty => codes::NON_EMPTY_GROUP,
                    Some(g) => {
                        let mut records = Vec::new();
                        for (t, p) in g.offsets.keys() {
                            if let Ok(rec) = offset_commit_record(&g.id, t, *p, None) {
                                records.push(rec);
                            }
                        }
                        if let Ok(rec) = group_metadata_record(&g.id, None) {
                            records.push(rec);
                        }
                        // Dead until its tombstones are written.
                        g.state = GroupState::Dead;
                        appends.push((g.id.clone(), index, records));
                        codes::NONE
                    }
                }
            };
            results.push(DeletableGroupResult {
                group_id: gid.clone(),
                error_code: code,
                ..Default::default()
            });
        }
        let resp = DeleteGroupsResponse {
            results,
            ..Default::default()
        };
        if appends.is_empty() {
            out.push(Effect::Respond {
                request_id,
                body: ResponseBody::DeleteGroups(resp),
            });
            return;
        }
        // Groups live on different partitions: one append each; the
        // response goes out when the last one is done.
        self.pending_deletes
            .insert(request_id, (resp, appends.len()));
        for (gid, index, records) in appends {
            let after = AfterAppend::GroupDeleted {
                group: gid.clone(),
                request_id,
                index,
            };
            self.append(&gid, records, after, out);
        }
    }
}
