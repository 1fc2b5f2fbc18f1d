//! How raft messages travel between voters: the `Transport` trait the driver sends through,
//! a no-op transport for a one-voter quorum, and an in-memory network for tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use raft::eraftpb::Message;
use tokio::sync::mpsc;

use crate::config::node_id;

/// Capacity of each node's in-memory inbox; messages beyond it are dropped (raft retries).
pub const INBOX_CAPACITY: usize = 4096;

/// Sends raft messages to peers. Delivery may fail silently: raft retransmits.
pub trait Transport: Send + 'static {
    /// Sends one message to node `node_id(msg.to)`.
    fn send(&mut self, msg: Message);
}

/// The transport of a one-voter quorum: there is nobody to send to.
#[derive(Debug, Default)]
pub struct NoTransport;

impl Transport for NoTransport {
    fn send(&mut self, _msg: Message) {}
}

/// An in-memory network of tokio channels; links can be cut to simulate partitions.
#[derive(Debug, Clone, Default)]
pub struct InMemoryNetwork {
    inner: Arc<Mutex<NetState>>,
}

#[derive(Debug, Default)]
struct NetState {
    inboxes: HashMap<i32, mpsc::Sender<Message>>,
    isolated: Vec<i32>,
}

impl InMemoryNetwork {
    /// A new, empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Joins node `id`: returns its transport and its inbox.
    pub fn join(&self, id: i32) -> (InMemoryTransport, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        if let Ok(mut s) = self.inner.lock() {
            s.inboxes.insert(id, tx);
        }
        (
            InMemoryTransport {
                from: id,
                net: self.clone(),
            },
            rx,
        )
    }

    /// Cuts (true) or restores (false) every link of node `id`.
    pub fn isolate(&self, id: i32, isolated: bool) {
        if let Ok(mut s) = self.inner.lock() {
            s.isolated.retain(|x| *x != id);
            if isolated {
                s.isolated.push(id);
            }
        }
    }
}

/// One node's end of an [`InMemoryNetwork`].
#[derive(Debug)]
pub struct InMemoryTransport {
    from: i32,
    net: InMemoryNetwork,
}

impl Transport for InMemoryTransport {
    fn send(&mut self, msg: Message) {
        let to = node_id(msg.to);
        let Ok(s) = self.net.inner.lock() else { return };
        if s.isolated.contains(&self.from) || s.isolated.contains(&to) {
            return;
        }
        if let Some(tx) = s.inboxes.get(&to) {
            let _ = tx.try_send(msg);
        }
    }
}
