//! Leadership changes of an internal topic's partitions as both coordinator
//! drivers receive them: elections and resignations from the broker's
//! metadata listener, and the driver's own retries of a failed read, on one
//! channel the driver takes ahead of requests.

use std::time::Duration;

use tokio::sync::mpsc;

/// A leadership change, or a retry of a partition's load.
#[derive(Debug)]
pub(crate) enum Control {
    /// This broker leads `partition` at leader epoch `epoch`.
    Elect { partition: i32, epoch: i32 },
    /// This broker no longer leads `partition` (`epoch`: the new leader
    /// epoch, if known).
    Resign { partition: i32, epoch: Option<i32> },
    /// Read a partition being loaded at `epoch` again after a failed read.
    Retry { partition: i32, epoch: i32 },
}

/// The sending side, held by the handles and the driver.
#[derive(Clone, Debug)]
pub(crate) struct ControlSender(mpsc::UnboundedSender<Control>);

/// A control channel. Unbounded, because `elect`/`resign` are called
/// synchronously from the broker's metadata listener and a dropped election
/// would leave a partition unserved. What bounds it: one message per
/// leadership change of a partition (the metadata image's pace) plus at most
/// one pending `Retry` per loading partition, and the driver takes control
/// messages before anything else (`biased` select).
pub(crate) fn channel() -> (ControlSender, mpsc::UnboundedReceiver<Control>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ControlSender(tx), rx)
}

impl ControlSender {
    /// Tells the driver this broker leads `partition` at `epoch`.
    pub(crate) fn elect(&self, partition: i32, epoch: i32) {
        let _ = self.0.send(Control::Elect { partition, epoch });
    }

    /// Tells the driver this broker no longer leads `partition`.
    pub(crate) fn resign(&self, partition: i32, epoch: Option<i32>) {
        let _ = self.0.send(Control::Resign { partition, epoch });
    }

    /// Sends `Retry` for `partition` at `epoch` after `backoff`.
    pub(crate) fn retry_after(&self, partition: i32, epoch: i32, backoff: Duration) {
        let tx = self.0.clone();
        tokio::spawn(async move {
            tokio::time::sleep(backoff).await;
            let _ = tx.send(Control::Retry { partition, epoch });
        });
    }
}
