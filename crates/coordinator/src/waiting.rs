//! The requests a coordinator driver holds unanswered, by the request id the
//! core knows them by, up to a limit past which new requests are turned away.

use std::collections::HashMap;

use tokio::sync::oneshot;
use vltava_protocol::ResponseBody;

/// Requests waiting for their response.
#[derive(Debug)]
pub(crate) struct Waiting {
    next_id: u64,
    replies: HashMap<u64, oneshot::Sender<ResponseBody>>,
    limit: usize,
}

impl Waiting {
    /// No request waiting; at most `limit` at once.
    pub(crate) fn new(limit: usize) -> Self {
        Waiting {
            next_id: 1,
            replies: HashMap::new(),
            limit,
        }
    }

    /// A fresh request id for `reply`, or `reply` back when `limit` requests
    /// already wait (the caller answers it COORDINATOR_NOT_AVAILABLE).
    pub(crate) fn admit(
        &mut self,
        reply: oneshot::Sender<ResponseBody>,
    ) -> Result<u64, oneshot::Sender<ResponseBody>> {
        if self.replies.len() >= self.limit {
            return Err(reply);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.replies.insert(id, reply);
        Ok(id)
    }

    /// Answers request `id` with `body` (nothing when it is not waiting).
    pub(crate) fn respond(&mut self, id: u64, body: ResponseBody) {
        if let Some(reply) = self.replies.remove(&id) {
            let _ = reply.send(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit() {
        let mut w = Waiting::new(1);
        let (tx, mut rx) = oneshot::channel();
        let id = w.admit(tx).expect("room");
        let (tx2, _rx2) = oneshot::channel();
        assert!(w.admit(tx2).is_err());
        w.respond(id, ResponseBody::ApiVersions(Default::default()));
        assert!(rx.try_recv().is_ok());
        let (tx3, _rx3) = oneshot::channel();
        assert_eq!(w.admit(tx3).ok(), Some(2));
    }
}
