//! The append worker both coordinator drivers hand their core's log appends
//! to (`__consumer_offsets` for the group driver, `__transaction_state` for
//! the transaction driver): one task per driver that writes the appends one
//! at a time in the order the driver queued them, awaits each one's commit
//! (later appends may be written meanwhile) and sends the outcomes back in
//! that same order. An append the driver could not queue was never written.

use std::collections::VecDeque;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::txn_driver::BoxFuture;

/// A log the worker writes to.
pub(crate) trait AppendLog: Send + 'static {
    /// One append as the driver queues it (its id included).
    type Append: Send + 'static;
    /// What the driver is told once the append is committed or failed.
    type Outcome: Send + 'static;

    /// Writes `append` after every earlier one: resolves once it is in the
    /// local log (or failed), to its commit.
    fn write(&mut self, append: Self::Append) -> BoxFuture<Committing<Self::Outcome>>;
}

/// A written append's commit: resolves to its outcome once the log commits
/// it (or fails it).
pub(crate) struct Committing<T>(pub(crate) BoxFuture<T>);

/// The driver's side of a running worker; dropping it stops the worker.
pub(crate) struct AppendQueue<A> {
    tx: mpsc::Sender<A>,
    task: JoinHandle<()>,
}

impl<A: Send + 'static> AppendQueue<A> {
    /// Starts the worker over `log`. At most `limit` appends wait to be
    /// written and at most `limit` more wait for their commit; outcomes go to
    /// `done` (the worker waits for room there).
    pub(crate) fn start<L>(log: L, limit: usize, done: mpsc::Sender<L::Outcome>) -> Self
    where
        L: AppendLog<Append = A>,
    {
        let (tx, rx) = mpsc::channel(limit);
        let task = tokio::spawn(run(log, rx, done, limit));
        AppendQueue { tx, task }
    }

    /// Queues `append` behind every earlier one, or gives it back unwritten
    /// when the queue is full (or the worker stopped): the driver must not
    /// wait for room, it is the task that drains the outcomes making room.
    pub(crate) fn try_push(&self, append: A) -> Result<(), A> {
        self.tx.try_send(append).map_err(|e| match e {
            mpsc::error::TrySendError::Full(a) | mpsc::error::TrySendError::Closed(a) => a,
        })
    }
}

impl<A> Drop for AppendQueue<A> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The worker: takes the next append while fewer than `limit` await their
/// commit, writes it, and reports the oldest commit first.
async fn run<L: AppendLog>(
    mut log: L,
    mut rx: mpsc::Receiver<L::Append>,
    done: mpsc::Sender<L::Outcome>,
    limit: usize,
) {
    let mut committing: VecDeque<Committing<L::Outcome>> = VecDeque::new();
    let mut open = true;
    while open || !committing.is_empty() {
        tokio::select! {
            biased;
            outcome = oldest(&mut committing) => {
                committing.pop_front();
                if done.send(outcome).await.is_err() {
                    return;
                }
            }
            next = rx.recv(), if open && committing.len() < limit => match next {
                Some(append) => committing.push_back(log.write(append).await),
                None => open = false,
            },
        }
    }
}

/// The commit of the oldest append written; never resolves when none is.
async fn oldest<T>(committing: &mut VecDeque<Committing<T>>) -> T {
    match committing.front_mut() {
        Some(commit) => (&mut commit.0).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::sync::oneshot;

    /// Records the order of writes; each commit resolves when its sender fires.
    struct Log {
        written: Arc<Mutex<Vec<u32>>>,
        commits: Arc<Mutex<Vec<oneshot::Sender<()>>>>,
    }

    impl AppendLog for Log {
        type Append = u32;
        type Outcome = u32;
        fn write(&mut self, n: u32) -> BoxFuture<Committing<u32>> {
            self.written.lock().expect("lock").push(n);
            let (tx, rx) = oneshot::channel();
            self.commits.lock().expect("lock").push(tx);
            let committed = async move {
                let _ = rx.await;
                n
            };
            Box::pin(std::future::ready(Committing(Box::pin(committed))))
        }
    }

    #[tokio::test]
    async fn writes_in_order_and_reports_commits_in_order() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let commits = Arc::new(Mutex::new(Vec::new()));
        let log = Log {
            written: written.clone(),
            commits: commits.clone(),
        };
        let (done_tx, mut done) = mpsc::channel(8);
        let q = AppendQueue::start(log, 2, done_tx);
        assert_eq!(q.try_push(0), Ok(()));
        assert_eq!(q.try_push(1), Ok(()));
        while written.lock().expect("lock").len() < 2 {
            tokio::task::yield_now().await;
        }
        // Two written and committing, two queued: the queue is full.
        assert_eq!(q.try_push(2), Ok(()));
        assert_eq!(q.try_push(3), Ok(()));
        assert_eq!(q.try_push(9), Err(9));
        tokio::task::yield_now().await;
        assert_eq!(written.lock().expect("lock").len(), 2);
        // The second commit first: still reported after the first.
        let second = commits.lock().expect("lock").remove(1);
        let _ = second.send(());
        let first = commits.lock().expect("lock").remove(0);
        let _ = first.send(());
        assert_eq!(done.recv().await, Some(0));
        assert_eq!(done.recv().await, Some(1));
        while written.lock().expect("lock").len() < 4 {
            tokio::task::yield_now().await;
        }
        for c in commits.lock().expect("lock").drain(..) {
            let _ = c.send(());
        }
        assert_eq!(done.recv().await, Some(2));
        assert_eq!(done.recv().await, Some(3));
        assert_eq!(*written.lock().expect("lock"), vec![0, 1, 2, 3]);
    }
}
