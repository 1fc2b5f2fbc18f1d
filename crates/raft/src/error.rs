//! `RaftError`: everything the quorum, its storage and the controller handle can fail with,
//! plus the Kafka error codes the controller answers with.

use std::path::PathBuf;

/// Errors of the metadata quorum and its storage.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    /// A file of the metadata directory could not be read or written.
    #[error("metadata dir io error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file of the metadata directory has content this version cannot use.
    #[error("corrupt metadata file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The directory belongs to another node or cluster.
    #[error("metadata dir {path} does not match the configuration: {reason}")]
    Mismatch { path: PathBuf, reason: String },
    /// The configuration cannot be used.
    #[error("invalid quorum configuration: {0}")]
    Config(String),
    /// raft-rs refused an operation.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// This node is not the active controller (Kafka's NOT_CONTROLLER).
    #[error("this node is not the active controller")]
    NotController,
    /// A proposal did not commit within its time limit.
    #[error("the proposal did not commit in time")]
    Timeout,
    /// The proposal was overwritten by a new leader before it committed.
    #[error("the proposal was lost in a leader change")]
    ProposalLost,
    /// A metadata record could not be encoded or decoded.
    #[error("metadata record codec: {0}")]
    Codec(String),
    /// An observer found no quorum leader to follow in time.
    #[error("the metadata quorum could not be reached: {0}")]
    Unreachable(String),
    /// The controller task is gone (shut down or failed).
    #[error("the controller has stopped")]
    Stopped,
    /// The request is too large or otherwise outside a limit.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The active controller answered with a Kafka error code.
    #[error("the controller answered error {code}: {message}")]
    Kafka { code: i16, message: String },
}

impl RaftError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RaftError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        RaftError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The Kafka error code a client sees for this failure.
    pub fn kafka_code(&self) -> i16 {
        match self {
            RaftError::NotController | RaftError::ProposalLost | RaftError::Stopped => {
                codes::NOT_CONTROLLER
            }
            RaftError::Timeout => codes::REQUEST_TIMED_OUT,
            RaftError::Limit(_) => codes::POLICY_VIOLATION,
            RaftError::Kafka { code, .. } => *code,
            _ => codes::UNKNOWN_SERVER_ERROR,
        }
    }
}

/// Kafka error codes the controller returns.
pub mod codes {
    pub use vltava_protocol::error_codes::*;
}
