//! The observer: how a broker-only node (`process.roles=broker`) follows the metadata log
//! without being a voter, as Kafka's observers do. One task fetches `__cluster_metadata` from
//! the quorum leader over the controller channel (`metadata_fetch`: Fetch with the offset after
//! the last entry applied here; FetchSnapshot when that offset was compacted into the leader's
//! snapshot), applies each entry's records to its own `MetadataImage` with the same
//! `apply_record` the voters use, and publishes every new image on the watch channel a
//! `Controller` hands out. The leader is the one a fetch answer names; while none is known the
//! task tries the voters (and `controller.quorum.bootstrap.servers`) in turn. A second task
//! answers the driver commands a `Controller` sends: an observer never leads, so proposals,
//! heartbeats and DescribeQuorum fail locally and `forward` sends them to the leader.
//!
//! Its image is kept on disk (`observer_store`, at most every `SAVE_INTERVAL`): a restarted
//! observer resumes from that offset (the leader's snapshot first if its log no longer
//! reaches back that far).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use vltava_protocol::messages::FetchResponse;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::apply::{apply_record, replay};
use crate::config::Voter;
use crate::controller_rpc::RpcClient;
use crate::driver::Command;
use crate::error::{RaftError, codes};
use crate::image::MetadataImage;
use crate::metadata_fetch::{
    FetchedEntry, batches_to_entries, fetch_request, fetch_snapshot_request,
};
use crate::records::decode_batch;

/// How long the leader may hold a fetch that finds nothing new.
const FETCH_WAIT_MS: i32 = 500;
/// Limit of one fetch call (the leader's wait plus the round trip).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before trying another node after a failed fetch.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// The fetching half of an observer.
pub(crate) struct Observer {
    pub node_id: i32,
    pub voters: Vec<Voter>,
    /// Addresses to try (voters first, then `controller.quorum.bootstrap.servers`) while the
    /// leader is unknown.
    pub candidates: Vec<SocketAddr>,
    pub rpc: Arc<RpcClient>,
    pub image: MetadataImage,
    pub images: watch::Sender<Arc<MetadataImage>>,
    pub ready: Option<oneshot::Sender<Result<(), RaftError>>>,
    pub next_candidate: usize,
    /// Where the local copy lives, and the offset and time of the last one written.
    pub store: std::path::PathBuf,
    pub saved_offset: i64,
    pub saved_at: Option<tokio::time::Instant>,
}

impl Observer {
    /// Fetches until the task is aborted.
    pub(crate) async fn run(mut self) {
        loop {
            let Some(addr) = self.target() else {
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            };
            let version = ApiKey::Fetch.max_version();
            let req = fetch_request(
                version,
                &self.image.cluster_id,
                self.node_id,
                self.image.offset,
                FETCH_WAIT_MS,
            );
            match self
                .rpc
                .call(addr, RequestBody::from(req), version, CALL_TIMEOUT)
                .await
            {
                Ok(ResponseBody::Fetch(resp)) => {
                    if !self.on_fetch(addr, resp).await {
                        tokio::time::sleep(RETRY_BACKOFF).await;
                    }
                }
                _ => {
                    self.set_leader(-1);
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
        }
    }

    /// The known leader's controller listener, else the next candidate (`None` only without
    /// any, which `start_observer` refuses).
    fn target(&mut self) -> Option<SocketAddr> {
        let leader = self.image.controller_id;
        if let Some(v) = self.voters.iter().find(|v| v.id == leader) {
            return Some(v.addr);
        }
        let i = self.next_candidate % self.candidates.len().max(1);
        self.next_candidate = self.next_candidate.wrapping_add(1);
        self.candidates.get(i).copied()
    }

    /// Handles one fetch answer; `false` when the caller should back off before the next.
    async fn on_fetch(&mut self, addr: SocketAddr, resp: FetchResponse) -> bool {
        if resp.error_code == codes::INCONSISTENT_CLUSTER_ID {
            // Another cluster's quorum: never follow it; a start fails at once.
            if let Some(r) = self.ready.take() {
                let _ = r.send(Err(RaftError::Kafka {
                    code: codes::INCONSISTENT_CLUSTER_ID,
                    message: format!(
                        "the controller at {addr} serves another cluster than {}",
                        self.image.cluster_id
                    ),
                }));
            }
            self.set_leader(-1);
            return false;
        }
        let Some(p) = resp
            .responses
            .first()
            .and_then(|t| t.partitions.first())
            .filter(|_| resp.error_code == codes::NONE)
        else {
            self.set_leader(-1);
            return false;
        };
        if p.error_code == codes::NOT_LEADER_OR_FOLLOWER {
            let named = p.current_leader.leader_id;
            let known = self.voters.iter().any(|v| v.id == named);
            // Go straight to the leader it names; without one, try the next node after a pause.
            self.set_leader(if known { named } else { -1 });
            return known && self.voters.iter().any(|v| v.id == named && v.addr != addr);
        }
        if p.error_code != codes::NONE {
            self.set_leader(-1);
            return false;
        }
        self.set_leader(p.current_leader.leader_id);
        if p.snapshot_id.end_offset >= 0 {
            return self
                .load_snapshot(addr, p.snapshot_id.end_offset, p.snapshot_id.epoch)
                .await;
        }
        let entries = match p.records.as_deref().map(batches_to_entries) {
            Some(Ok(e)) => e,
            // A broken answer: ask again (from the same offset) after a pause.
            Some(Err(_)) => return false,
            None => Vec::new(),
        };
        if self.apply(&entries) {
            self.publish();
        }
        // Also after a quiet answer (one at least every FETCH_WAIT_MS), so the last change
        // reaches the copy once the interval has passed.
        self.maybe_save(false).await;
        if self.image.offset >= p.high_watermark {
            if let Some(r) = self.ready.take() {
                let _ = r.send(Ok(()));
            }
        }
        true
    }

    /// Applies the entries that continue this image; whether any did.
    fn apply(&mut self, entries: &[FetchedEntry]) -> bool {
        let mut changed = false;
        for e in entries {
            if e.index as i64 != self.image.offset + 1 {
                break;
            }
            if let Some(data) = e.data.as_ref().filter(|d| !d.is_empty()) {
                // An entry that does not decode changes nothing (as on the voters).
                if let Ok(records) = decode_batch(data) {
                    for r in &records {
                        apply_record(&mut self.image, r);
                    }
                }
            }
            self.image.offset = e.index as i64;
            changed = true;
        }
        changed
    }

    /// Replaces the image with the leader's snapshot.
    async fn load_snapshot(&mut self, addr: SocketAddr, end_offset: i64, epoch: i32) -> bool {
        let req = fetch_snapshot_request(self.node_id, end_offset, epoch);
        let version = ApiKey::FetchSnapshot.max_version();
        let resp = match self
            .rpc
            .call(addr, RequestBody::from(req), version, CALL_TIMEOUT)
            .await
        {
            Ok(ResponseBody::FetchSnapshot(r)) => r,
            _ => return false,
        };
        let Some(p) = resp.topics.first().and_then(|t| t.partitions.first()) else {
            return false;
        };
        if p.error_code != codes::NONE
            || p.position != 0
            || p.size != p.unaligned_records.len() as i64
        {
            return false;
        }
        let Ok(records) = decode_batch(&p.unaligned_records) else {
            return false;
        };
        let mut image = MetadataImage::empty(&self.image.cluster_id);
        replay(&mut image, &records);
        image.offset = p.snapshot_id.end_offset;
        image.controller_id = self.image.controller_id;
        self.image = image;
        self.publish();
        self.maybe_save(true).await;
        true
    }

    /// Rewrites the local copy when the image moved since the last one, at most every
    /// `SAVE_INTERVAL` unless `now`. A failed write leaves the old copy (only a longer
    /// catch-up after a restart).
    async fn maybe_save(&mut self, now: bool) {
        let due = now
            || self
                .saved_at
                .is_none_or(|t| t.elapsed() >= crate::observer_store::SAVE_INTERVAL);
        if !due || self.image.offset == self.saved_offset {
            return;
        }
        let Ok(bytes) = crate::observer_store::encode(&self.image) else {
            return;
        };
        let path = self.store.clone();
        let written =
            tokio::task::spawn_blocking(move || crate::observer_store::save(&path, &bytes)).await;
        if matches!(written, Ok(Ok(()))) {
            self.saved_offset = self.image.offset;
        }
        self.saved_at = Some(tokio::time::Instant::now());
    }

    fn set_leader(&mut self, leader: i32) {
        if self.image.controller_id != leader {
            self.image.controller_id = leader;
            self.publish();
        }
    }

    fn publish(&self) {
        self.images.send_replace(Arc::new(self.image.clone()));
    }
}

/// Answers the commands a `Controller` handle sends: an observer runs no controller. Stops
/// the fetcher on shutdown (or when every handle is gone).
pub(crate) async fn serve_commands(mut commands: mpsc::Receiver<Command>, fetcher: JoinHandle<()>) {
    while let Some(cmd) = commands.recv().await {
        match cmd {
            Command::Propose { done, .. } => {
                let _ = done.send(Err(RaftError::NotController));
            }
            Command::DescribeQuorum(reply) => {
                let _ = reply.send(None);
            }
            Command::Heartbeat(_, reply) => {
                let _ = reply.send(Err(RaftError::NotController));
            }
            Command::ReadApplied { reply, .. } => {
                let _ = reply.send(Err(RaftError::NotController));
            }
            Command::Shutdown(ack) => {
                fetcher.abort();
                let _ = fetcher.await;
                let _ = ack.send(());
                return;
            }
        }
    }
    fetcher.abort();
}
