//! Classic group membership: FindCoordinator, JoinGroup (with
//! MEMBER_ID_REQUIRED), the leader's assignment, SyncGroup, heartbeats in the
//! background (also enforcing `max.poll.interval.ms`), LeaveGroup.

use super::assignor::{self, Assignor, MemberSubscription, RebalanceProtocol, Tp};
use super::config::ConsumerConfig;
use crate::cluster::Cluster;
use crate::connection::Connection;
use crate::error::{ClientError, Result};
use crate::kafka_error::code;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vltava_protocol::ApiKey;
use vltava_protocol::messages::*;

/// Membership state shared with the heartbeat task.
#[derive(Debug)]
pub struct Membership {
    pub group_id: String,
    pub instance_id: Option<String>,
    pub member_id: Mutex<String>,
    pub generation: AtomicI64,
    pub rejoin_needed: AtomicBool,
    /// Milliseconds since `started` of the last `poll`.
    pub last_poll_ms: AtomicI64,
    pub started: Instant,
    pub stopped: AtomicBool,
}

impl Membership {
    pub fn member_id(&self) -> String {
        self.member_id.lock().map(|m| m.clone()).unwrap_or_default()
    }
    pub fn generation(&self) -> i32 {
        self.generation.load(Ordering::Acquire) as i32
    }
    pub fn touch_poll(&self) {
        self.last_poll_ms
            .store(self.started.elapsed().as_millis() as i64, Ordering::Release);
    }
}

/// What a completed join gave this member.
#[derive(Debug)]
pub struct JoinResult {
    pub assignment: Vec<Tp>,
    pub protocol: RebalanceProtocol,
}

pub async fn coordinator(cluster: &Cluster, group: &str) -> Result<Arc<Connection>> {
    crate::admin::coordinator(cluster, group).await
}

/// Joins (or rejoins) the group and returns this member's assignment.
pub async fn join(
    cluster: &Arc<Cluster>,
    cfg: &ConsumerConfig,
    m: &Membership,
    topics: &[String],
    owned: &[Tp],
) -> Result<JoinResult> {
    let mut attempt = 0u32;
    loop {
        match join_once(cluster, cfg, m, topics, owned).await {
            Ok(r) => return Ok(r),
            Err(e) => {
                let c = e.code();
                let retry = matches!(
                    c,
                    Some(code::REBALANCE_IN_PROGRESS)
                        | Some(code::UNKNOWN_MEMBER_ID)
                        | Some(code::ILLEGAL_GENERATION)
                        | Some(code::MEMBER_ID_REQUIRED)
                ) || e.is_retriable();
                if c == Some(code::UNKNOWN_MEMBER_ID) || c == Some(code::ILLEGAL_GENERATION) {
                    if let Ok(mut id) = m.member_id.lock() {
                        id.clear();
                    }
                    m.generation.store(-1, Ordering::Release);
                }
                if !retry || attempt >= 30 {
                    return Err(e);
                }
                tokio::time::sleep(cfg.client.backoff(attempt.min(3))).await;
                attempt += 1;
            }
        }
    }
}

async fn join_once(
    cluster: &Arc<Cluster>,
    cfg: &ConsumerConfig,
    m: &Membership,
    topics: &[String],
    owned: &[Tp],
) -> Result<JoinResult> {
    let conn = coordinator(cluster, &m.group_id).await?;
    let jv = conn.version(ApiKey::JoinGroup)?;
    let req = join_request(cfg, m, jv, topics, owned)?;
    // A join waits for the whole group: allow the rebalance timeout.
    let resp = tokio::time::timeout(
        cfg.max_poll_interval + Duration::from_secs(5),
        conn.send(req),
    )
    .await
    .map_err(|_| ClientError::Timeout("JoinGroup".into()))??;
    if resp.error_code == code::MEMBER_ID_REQUIRED {
        if let Ok(mut id) = m.member_id.lock() {
            *id = resp.member_id.to_string();
        }
        return Err(ClientError::kafka(
            code::MEMBER_ID_REQUIRED,
            "JoinGroup",
            None,
        ));
    }
    crate::error::check(
        resp.error_code,
        || format!("joining group {}", m.group_id),
        None,
    )?;
    if let Ok(mut id) = m.member_id.lock() {
        *id = resp.member_id.to_string();
    }
    m.generation
        .store(i64::from(resp.generation_id), Ordering::Release);
    let proto_name = resp
        .protocol_name
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let chosen = chosen_assignor(cfg, &proto_name)?;
    let mut assignments = Vec::new();
    if resp.leader == resp.member_id {
        assignments = leader_assign(cluster, chosen.as_ref(), &resp).await?;
    }
    let sv = conn.version(ApiKey::SyncGroup)?;
    let sync = sync_request(m, sv, &resp, &proto_name, assignments);
    let sresp = tokio::time::timeout(
        cfg.max_poll_interval + Duration::from_secs(5),
        conn.send(sync),
    )
    .await
    .map_err(|_| ClientError::Timeout("SyncGroup".into()))??;
    crate::error::check(
        sresp.error_code,
        || format!("syncing group {}", m.group_id),
        None,
    )?;
    m.rejoin_needed.store(false, Ordering::Release);
    Ok(JoinResult {
        assignment: assignor::decode_assignment(&sresp.assignment)?,
        protocol: chosen.protocol(),
    })
}

/// JoinGroup at version `jv`, offering every configured assignor with the member's
/// subscription and owned partitions.
fn join_request(
    cfg: &ConsumerConfig,
    m: &Membership,
    jv: i16,
    topics: &[String],
    owned: &[Tp],
) -> Result<JoinGroupRequest> {
    let metadata = assignor::encode_subscription(topics, owned, m.generation(), None)?;
    let protocols = cfg
        .assignors
        .iter()
        .map(|a| join_group_request::JoinGroupRequestProtocol {
            name: a.name().into(),
            metadata: metadata.clone(),
            ..Default::default()
        })
        .collect();
    Ok(JoinGroupRequest {
        group_id: m.group_id.as_str().into(),
        session_timeout_ms: cfg.session_timeout.as_millis() as i32,
        rebalance_timeout_ms: if jv >= 1 {
            cfg.max_poll_interval.as_millis() as i32
        } else {
            -1
        },
        member_id: m.member_id().as_str().into(),
        group_instance_id: if jv >= 5 {
            m.instance_id.as_deref().map(Into::into)
        } else {
            None
        },
        protocol_type: "consumer".into(),
        protocols,
        reason: None,
        ..Default::default()
    })
}

/// The configured assignor the group chose.
fn chosen_assignor(cfg: &ConsumerConfig, proto_name: &str) -> Result<Arc<dyn Assignor>> {
    cfg.assignors
        .iter()
        .find(|a| a.name() == proto_name)
        .cloned()
        .ok_or_else(|| {
            ClientError::Protocol(format!("group chose unknown assignor {proto_name:?}"))
        })
}

/// SyncGroup at version `sv` for the generation `resp` joined, with the leader's
/// `assignments` (none from a follower).
fn sync_request(
    m: &Membership,
    sv: i16,
    resp: &JoinGroupResponse,
    proto_name: &str,
    assignments: Vec<sync_group_request::SyncGroupRequestAssignment>,
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: m.group_id.as_str().into(),
        generation_id: resp.generation_id,
        member_id: resp.member_id.clone(),
        group_instance_id: if sv >= 3 {
            m.instance_id.as_deref().map(Into::into)
        } else {
            None
        },
        protocol_type: if sv >= 5 {
            Some("consumer".into())
        } else {
            None
        },
        protocol_name: if sv >= 5 {
            Some(proto_name.into())
        } else {
            None
        },
        assignments,
        ..Default::default()
    }
}

async fn leader_assign(
    cluster: &Arc<Cluster>,
    chosen: &dyn Assignor,
    resp: &JoinGroupResponse,
) -> Result<Vec<sync_group_request::SyncGroupRequestAssignment>> {
    let mut members = Vec::new();
    for mem in &resp.members {
        members.push(assignor::decode_subscription(
            mem.member_id.as_str(),
            mem.group_instance_id.as_deref(),
            &mem.metadata,
        )?);
    }
    let mut topics: Vec<String> = members
        .iter()
        .flat_map(|m: &MemberSubscription| m.topics.clone())
        .collect();
    topics.sort();
    topics.dedup();
    let meta = cluster.refresh(&topics).await?;
    let partitions: BTreeMap<String, i32> = topics
        .iter()
        .filter_map(|t| meta.partition_count(t).map(|n| (t.clone(), n as i32)))
        .collect();
    let result = chosen.assign(&members, &partitions);
    let mut out = Vec::new();
    for mem in &members {
        let parts = result.get(&mem.member_id).cloned().unwrap_or_default();
        out.push(sync_group_request::SyncGroupRequestAssignment {
            member_id: mem.member_id.as_str().into(),
            assignment: assignor::encode_assignment(&parts)?,
            ..Default::default()
        });
    }
    Ok(out)
}

/// Sends heartbeats until the membership stops; flags a rejoin when the
/// coordinator asks for one, and leaves the group when `poll` has not been
/// called for `max.poll.interval.ms`.
pub fn spawn_heartbeat(
    cluster: Arc<Cluster>,
    cfg: ConsumerConfig,
    m: Arc<Membership>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(cfg.heartbeat_interval).await;
            if m.stopped.load(Ordering::Acquire) {
                return;
            }
            let since_poll =
                m.started.elapsed().as_millis() as i64 - m.last_poll_ms.load(Ordering::Acquire);
            if since_poll > cfg.max_poll_interval.as_millis() as i64 {
                let _ = leave(&cluster, &m).await;
                m.rejoin_needed.store(true, Ordering::Release);
                continue;
            }
            if m.rejoin_needed.load(Ordering::Acquire) || m.generation() < 0 {
                continue;
            }
            let Ok(conn) = coordinator(&cluster, &m.group_id).await else {
                continue;
            };
            let v = conn.version(ApiKey::Heartbeat).unwrap_or(0);
            let req = HeartbeatRequest {
                group_id: m.group_id.as_str().into(),
                generation_id: m.generation(),
                member_id: m.member_id().as_str().into(),
                group_instance_id: if v >= 3 {
                    m.instance_id.as_deref().map(Into::into)
                } else {
                    None
                },
                ..Default::default()
            };
            match conn.send(req).await {
                Ok(r) if r.error_code == 0 => {}
                Ok(r) => {
                    if r.error_code == code::UNKNOWN_MEMBER_ID
                        || r.error_code == code::FENCED_INSTANCE_ID
                    {
                        if let Ok(mut id) = m.member_id.lock() {
                            id.clear();
                        }
                    }
                    m.rejoin_needed.store(true, Ordering::Release);
                }
                Err(_) => {}
            }
        }
    })
}

/// LeaveGroup (static members keep their slot until the session times out,
/// like the Java client, so they do not leave).
pub async fn leave(cluster: &Cluster, m: &Membership) -> Result<()> {
    let member = m.member_id();
    if member.is_empty() || m.instance_id.is_some() {
        return Ok(());
    }
    let conn = coordinator(cluster, &m.group_id).await?;
    let v = conn.version(ApiKey::LeaveGroup)?;
    let req = if v >= 3 {
        LeaveGroupRequest {
            group_id: m.group_id.as_str().into(),
            member_id: "".into(),
            members: vec![leave_group_request::MemberIdentity {
                member_id: member.as_str().into(),
                group_instance_id: None,
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        LeaveGroupRequest {
            group_id: m.group_id.as_str().into(),
            member_id: member.as_str().into(),
            ..Default::default()
        }
    };
    let _ = conn.send(req).await?;
    if let Ok(mut id) = m.member_id.lock() {
        id.clear();
    }
    m.generation.store(-1, Ordering::Release);
    Ok(())
}
