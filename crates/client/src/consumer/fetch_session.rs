//! The client side of incremental fetch sessions (KIP-227), one per leader: the
//! first Fetch lists every partition and asks for a session; later ones (epoch
//! 1, 2, ...) list only partitions whose fetch offset changed, plus the
//! partitions to forget (no longer fetchable: paused, buffered, unassigned). A
//! session error or a failed request drops the session; the next Fetch is full.

use std::collections::BTreeMap;

use super::Tp;

/// `session_epoch` of a full Fetch that asks for a new session.
const NEW_SESSION_EPOCH: i32 = 0;
/// `session_epoch` of a Fetch without a session.
const NO_SESSION_EPOCH: i32 = -1;
/// Fetch versions before 7 have no sessions.
pub(crate) const MIN_SESSION_VERSION: i16 = 7;
/// Highest epoch before it wraps back to 1, as Kafka's `nextEpoch` does.
const MAX_EPOCH: i32 = i32::MAX;

/// What one Fetch sends under the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionFetch {
    pub session_id: i32,
    pub session_epoch: i32,
    /// Partitions (with fetch offsets) the request lists.
    pub send: Vec<(Tp, i64)>,
    /// Partitions the broker should drop from the session.
    pub forget: Vec<Tp>,
}

/// One leader's session, as this client last agreed it with the broker.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    /// 0 while there is none.
    id: i32,
    /// Epoch of the next request (1 after the session was created).
    next_epoch: i32,
    /// Partitions in the session and the fetch offset the broker holds for each.
    parts: BTreeMap<Tp, i64>,
    /// The request in flight, to apply once it succeeds.
    in_flight: Option<SessionFetch>,
}

impl FetchSession {
    /// The request for fetching `want` (partition, fetch offset). Without sessions
    /// (`supported` false: Fetch below v7) every request is full and sessionless.
    pub(crate) fn build(&mut self, want: &[(Tp, i64)], supported: bool) -> SessionFetch {
        let fetch = if !supported {
            self.reset();
            SessionFetch {
                session_id: 0,
                session_epoch: NO_SESSION_EPOCH,
                send: want.to_vec(),
                forget: Vec::new(),
            }
        } else if self.id == 0 {
            SessionFetch {
                session_id: 0,
                session_epoch: NEW_SESSION_EPOCH,
                send: want.to_vec(),
                forget: Vec::new(),
            }
        } else {
            let wanted: BTreeMap<&Tp, i64> = want.iter().map(|(tp, o)| (tp, *o)).collect();
            SessionFetch {
                session_id: self.id,
                session_epoch: self.next_epoch,
                send: want
                    .iter()
                    .filter(|(tp, o)| self.parts.get(tp) != Some(o))
                    .cloned()
                    .collect(),
                forget: self
                    .parts
                    .keys()
                    .filter(|tp| !wanted.contains_key(tp))
                    .cloned()
                    .collect(),
            }
        };
        self.in_flight = Some(fetch.clone());
        fetch
    }

    /// Applies the answer to the request in flight: the broker's top-level error
    /// code and session id. Returns whether the error was a session error (then
    /// the session is gone and the caller simply fetches again).
    pub(crate) fn complete(&mut self, error_code: i16, session_id: i32) -> bool {
        let Some(sent) = self.in_flight.take() else {
            return false;
        };
        if error_code != 0 {
            self.reset();
            return matches!(
                error_code,
                crate::kafka_error::code::FETCH_SESSION_ID_NOT_FOUND
                    | crate::kafka_error::code::INVALID_FETCH_SESSION_EPOCH
            );
        }
        match sent.session_epoch {
            NO_SESSION_EPOCH => {}
            NEW_SESSION_EPOCH => {
                self.parts = sent.send.into_iter().collect();
                self.id = session_id;
                self.next_epoch = 1;
                if session_id == 0 {
                    // The broker keeps no session for us (its cache is full).
                    self.parts.clear();
                }
            }
            epoch => {
                for tp in &sent.forget {
                    self.parts.remove(tp);
                }
                self.parts.extend(sent.send);
                self.next_epoch = if epoch == MAX_EPOCH { 1 } else { epoch + 1 };
            }
        }
        false
    }

    /// The request failed without an answer: start over with a full Fetch.
    pub(crate) fn fail(&mut self) {
        self.reset();
    }

    fn reset(&mut self) {
        self.id = 0;
        self.next_epoch = 0;
        self.parts.clear();
        self.in_flight = None;
    }

    /// The session id, 0 without one.
    #[cfg(test)]
    pub(crate) fn id(&self) -> i32 {
        self.id
    }

    /// (session id, epoch of the next request) while a session is open.
    pub(crate) fn state(&self) -> Option<(i32, i32)> {
        (self.id != 0).then_some((self.id, self.next_epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> Tp {
        ("t".to_string(), p)
    }

    #[test]
    fn full_then_incremental_then_forget() {
        let mut s = FetchSession::default();
        let first = s.build(&[(tp(0), 0), (tp(1), 5)], true);
        assert_eq!((first.session_id, first.session_epoch), (0, 0));
        assert_eq!(first.send.len(), 2);
        assert!(!s.complete(0, 42));
        assert_eq!(s.id(), 42);

        // Only partition 0 moved.
        let second = s.build(&[(tp(0), 10), (tp(1), 5)], true);
        assert_eq!((second.session_id, second.session_epoch), (42, 1));
        assert_eq!(second.send, vec![(tp(0), 10)]);
        assert!(second.forget.is_empty());
        s.complete(0, 42);

        // Partition 1 is no longer fetchable (say, buffered): forget it.
        let third = s.build(&[(tp(0), 10)], true);
        assert_eq!(third.session_epoch, 2);
        assert!(third.send.is_empty());
        assert_eq!(third.forget, vec![tp(1)]);
        s.complete(0, 42);

        // It comes back: listed again with its offset.
        let fourth = s.build(&[(tp(0), 10), (tp(1), 7)], true);
        assert_eq!(fourth.session_epoch, 3);
        assert_eq!(fourth.send, vec![(tp(1), 7)]);
    }

    #[test]
    fn session_errors_and_failures_start_over() {
        let mut s = FetchSession::default();
        s.build(&[(tp(0), 0)], true);
        s.complete(0, 9);
        s.build(&[(tp(0), 3)], true);
        assert!(s.complete(crate::kafka_error::code::INVALID_FETCH_SESSION_EPOCH, 0));
        assert_eq!(s.id(), 0);
        let full = s.build(&[(tp(0), 3)], true);
        assert_eq!((full.session_id, full.session_epoch), (0, 0));
        s.complete(0, 11);
        s.build(&[(tp(0), 4)], true);
        s.fail();
        assert_eq!(s.build(&[(tp(0), 4)], true).session_epoch, 0);
    }

    #[test]
    fn unanswered_or_refused_sessions_stay_full() {
        let mut s = FetchSession::default();
        // The broker created no session (id 0): every request stays full.
        s.build(&[(tp(0), 0)], true);
        s.complete(0, 0);
        let again = s.build(&[(tp(0), 1)], true);
        assert_eq!((again.session_id, again.session_epoch), (0, 0));
        // Old brokers: sessionless.
        let old = s.build(&[(tp(0), 1)], false);
        assert_eq!((old.session_id, old.session_epoch), (0, -1));
        assert!(!s.complete(0, 0));
        assert_eq!(s.id(), 0);
    }

    #[test]
    fn epochs_wrap_to_one() {
        let mut s = FetchSession::default();
        s.build(&[(tp(0), 0)], true);
        s.complete(0, 5);
        s.next_epoch = MAX_EPOCH;
        assert_eq!(s.build(&[(tp(0), 1)], true).session_epoch, MAX_EPOCH);
        s.complete(0, 5);
        assert_eq!(s.build(&[(tp(0), 2)], true).session_epoch, 1);
    }
}
