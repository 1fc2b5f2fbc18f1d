//! Delivery results: one shared outcome per batch, and a [`DeliveryFuture`] per
//! record that reads its partition and offset from its batch's outcome (the batch's
//! base offset plus the record's index), so a record costs a reference count, not a
//! channel of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use super::RecordMetadata;
use crate::error::{ClientError, Result};

/// How a batch ended: acknowledged (base offset, log append time; -1 when the
/// broker did not say) or failed.
type Outcome = std::result::Result<(i64, i64), ClientError>;

/// What a batch and the futures of its records share.
#[derive(Debug)]
struct Shared {
    topic: Arc<str>,
    partition: i32,
    outcome: OnceLock<Outcome>,
    /// Futures polled before the outcome was set; woken when it is.
    wakers: Mutex<Vec<Waker>>,
}

/// The batch's side: sets the outcome once. Dropped unset (the producer went away
/// with the batch), its records fail with [`ClientError::Closed`].
#[derive(Debug)]
pub(super) struct BatchOutcome(Arc<Shared>);

impl BatchOutcome {
    pub(super) fn new(topic: Arc<str>, partition: i32) -> Self {
        BatchOutcome(Arc::new(Shared {
            topic,
            partition,
            outcome: OnceLock::new(),
            wakers: Mutex::new(Vec::new()),
        }))
    }

    /// The future of the record at `index` in the batch, appended with `timestamp`.
    pub(super) fn future(&self, index: u32, timestamp: i64) -> DeliveryFuture {
        DeliveryFuture {
            shared: Arc::clone(&self.0),
            index,
            timestamp,
        }
    }

    /// The batch was written at `base_offset` (-1 with `acks=0`).
    pub(super) fn succeed(&self, base_offset: i64, append_time: i64) {
        self.set(Ok((base_offset, append_time)));
    }

    pub(super) fn fail(&self, e: ClientError) {
        self.set(Err(e));
    }

    fn set(&self, outcome: Outcome) {
        if self.0.outcome.set(outcome).is_err() {
            return;
        }
        let wakers = match self.0.wakers.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for w in wakers {
            w.wake();
        }
    }
}

impl Drop for BatchOutcome {
    fn drop(&mut self) {
        if self.0.outcome.get().is_none() {
            self.set(Err(ClientError::Closed));
        }
    }
}

/// A record's delivery result, once the broker acknowledged (or it failed).
#[derive(Debug)]
pub struct DeliveryFuture {
    shared: Arc<Shared>,
    index: u32,
    timestamp: i64,
}

impl DeliveryFuture {
    /// The result if the record's batch has already ended, without waiting.
    pub fn try_result(&self) -> Option<Result<RecordMetadata>> {
        self.shared.outcome.get().map(|o| self.result(o))
    }

    fn result(&self, outcome: &Outcome) -> Result<RecordMetadata> {
        let (base, append_time) = outcome.as_ref().map_err(copy_error)?;
        Ok(RecordMetadata {
            topic: self.shared.topic.to_string(),
            partition: self.shared.partition,
            offset: if *base >= 0 {
                base + i64::from(self.index)
            } else {
                -1
            },
            timestamp: if *append_time >= 0 {
                *append_time
            } else {
                self.timestamp
            },
        })
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(r) = self.try_result() {
            return Poll::Ready(r);
        }
        let mut wakers = match self.shared.wakers.lock() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        // Checked again under the lock: the outcome is set before the wakers are
        // taken, so either it is visible now or this waker will be woken.
        if let Some(r) = self.try_result() {
            return Poll::Ready(r);
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The batch's error for one of its records (errors are not `Clone`: the broker's
/// code, timeouts and closing keep their kind, others their message).
pub(super) fn copy_error(e: &ClientError) -> ClientError {
    match e {
        ClientError::Kafka {
            code,
            context,
            message,
        } => ClientError::Kafka {
            code: *code,
            context: context.clone(),
            message: message.clone(),
        },
        ClientError::Timeout(m) => ClientError::Timeout(m.clone()),
        ClientError::Closed => ClientError::Closed,
        _ => ClientError::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_or_never(f: &mut DeliveryFuture) -> Option<Result<RecordMetadata>> {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(f).poll(&mut cx) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    }

    #[test]
    fn each_record_gets_base_plus_its_index() {
        let b = BatchOutcome::new("t".into(), 3);
        let mut f0 = b.future(0, 10);
        let mut f2 = b.future(2, 12);
        assert!(now_or_never(&mut f0).is_none());
        b.succeed(100, -1);
        let m = now_or_never(&mut f2).expect("ready").expect("ok");
        assert_eq!((m.topic.as_str(), m.partition, m.offset), ("t", 3, 102));
        assert_eq!(m.timestamp, 12, "create time when no append time");
        assert_eq!(f0.try_result().expect("ready").expect("ok").offset, 100);
    }

    #[test]
    fn append_time_and_acks_zero() {
        let b = BatchOutcome::new("t".into(), 0);
        let f = b.future(5, 10);
        b.succeed(-1, 777);
        let m = f.try_result().expect("ready").expect("ok");
        assert_eq!((m.offset, m.timestamp), (-1, 777));
    }

    #[tokio::test]
    async fn a_waiting_future_is_woken_and_failures_keep_their_kind() {
        let b = BatchOutcome::new("t".into(), 0);
        let f = b.future(0, 0);
        let waiter = tokio::spawn(f);
        tokio::task::yield_now().await;
        b.fail(ClientError::kafka(6, "ctx", None));
        let r = waiter.await.expect("join");
        assert!(matches!(r, Err(ClientError::Kafka { code: 6, .. })));
    }

    #[test]
    fn a_dropped_batch_fails_its_records_as_closed() {
        let b = BatchOutcome::new("t".into(), 0);
        let f = b.future(0, 0);
        drop(b);
        assert!(matches!(f.try_result(), Some(Err(ClientError::Closed))));
    }
}
