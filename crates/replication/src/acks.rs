//! `Acks`: how many replicas must have a produce request's records before it is answered.

use crate::error::ReplicaError;

/// A produce request's `acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// acks=0: no answer at all; the leader appends and moves on.
    None,
    /// acks=1: answered once the leader has appended.
    Leader,
    /// acks=-1 (all): answered once every in-sync replica has the records (the high
    /// watermark passed them), and refused when the ISR is below `min.insync.replicas`.
    All,
}

impl TryFrom<i16> for Acks {
    type Error = ReplicaError;

    fn try_from(acks: i16) -> Result<Self, Self::Error> {
        match acks {
            0 => Ok(Acks::None),
            1 => Ok(Acks::Leader),
            -1 => Ok(Acks::All),
            other => Err(ReplicaError::InvalidRequiredAcks(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_values_and_nothing_else() {
        assert_eq!(Acks::try_from(0), Ok(Acks::None));
        assert_eq!(Acks::try_from(1), Ok(Acks::Leader));
        assert_eq!(Acks::try_from(-1), Ok(Acks::All));
        assert_eq!(Acks::try_from(2), Err(ReplicaError::InvalidRequiredAcks(2)));
        assert_eq!(
            Acks::try_from(-2),
            Err(ReplicaError::InvalidRequiredAcks(-2))
        );
    }
}
