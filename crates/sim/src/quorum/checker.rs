//! `QuorumChecker`: the metadata quorum's invariants, checked after every step.
//!
//! - election safety: at most one leader per raft term;
//! - state machine safety: every node applies, at each log index, the entry of the same
//!   term (index and term name one entry, by raft's log matching), and a node's applied
//!   index never goes back within one incarnation;
//! - durability: a proposal the controller acknowledged (its node applied it at the index
//!   and term it was given) is committed for good: every node that applies that index
//!   applies it, and after quiescing every node's image holds it;
//! - convergence: after quiescing there is one leader and every node has the same image.

use std::collections::BTreeMap;

use vltava_raft::MetadataImage;

use crate::Violation;

/// What the checker remembers between steps.
#[derive(Debug, Default)]
pub struct QuorumChecker {
    leader_of_term: BTreeMap<u64, i32>,
    committed_term: BTreeMap<u64, u64>,
    applied_index: BTreeMap<(i32, u32), u64>,
    acked: BTreeMap<u64, (u64, String)>,
}

impl QuorumChecker {
    /// `node` considers itself leader in `term`.
    pub fn on_leader(&mut self, node: i32, term: u64) -> Result<(), Violation> {
        let holder = *self.leader_of_term.entry(term).or_insert(node);
        if holder != node {
            return Err(Violation(format!(
                "nodes {holder} and {node} both lead term {term}"
            )));
        }
        Ok(())
    }

    /// `node` (in its `incarnation`) applied the entry at `index` of `term`.
    pub fn on_applied(
        &mut self,
        node: i32,
        incarnation: u32,
        index: u64,
        term: u64,
    ) -> Result<(), Violation> {
        let known = *self.committed_term.entry(index).or_insert(term);
        if known != term {
            return Err(Violation(format!(
                "node {node} applied index {index} of term {term}, but term {known}'s entry was applied there before"
            )));
        }
        let last = self.applied_index.entry((node, incarnation)).or_insert(0);
        if index < *last {
            return Err(Violation(format!(
                "node {node} applied index {index} after {last}"
            )));
        }
        *last = index;
        Ok(())
    }

    /// The controller acknowledged the proposal of topic `name` at `index` in `term`.
    pub fn on_acked(&mut self, index: u64, term: u64, name: String) -> Result<(), Violation> {
        if let Some(&known) = self.committed_term.get(&index)
            && known != term
        {
            return Err(Violation(format!(
                "{name} acknowledged at index {index} term {term}, but index {index} holds term {known}"
            )));
        }
        self.acked.insert(index, (term, name));
        Ok(())
    }

    /// Acknowledged proposals so far.
    pub fn acked(&self) -> usize {
        self.acked.len()
    }

    /// After quiescing: `images` (one per node, all up) are equal but for each node's view
    /// of the controller, and hold every acknowledged topic; `leaders` is how many nodes
    /// lead.
    pub fn check_final(&self, images: &[MetadataImage], leaders: usize) -> Result<(), Violation> {
        if leaders != 1 {
            return Err(Violation(format!("{leaders} leaders after quiescing")));
        }
        let normalized: Vec<MetadataImage> = images
            .iter()
            .map(|i| MetadataImage {
                controller_id: -1,
                ..i.clone()
            })
            .collect();
        if let Some(first) = normalized.first() {
            for (n, other) in normalized.iter().enumerate().skip(1) {
                if other != first {
                    return Err(Violation(format!(
                        "images differ after quiescing: node 0 at offset {}, node {n} at offset {}",
                        first.offset, other.offset
                    )));
                }
            }
            for (index, (term, name)) in &self.acked {
                if !first.topics.contains_key(name) {
                    return Err(Violation(format!(
                        "{name}, acknowledged at index {index} term {term}, is not in the image"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_leaders_in_one_term_is_a_violation() {
        let mut c = QuorumChecker::default();
        assert!(c.on_leader(0, 3).is_ok());
        assert!(c.on_leader(0, 3).is_ok());
        assert!(c.on_leader(1, 4).is_ok());
        assert!(c.on_leader(1, 3).is_err());
    }

    #[test]
    fn two_terms_applied_at_one_index_is_a_violation() {
        let mut c = QuorumChecker::default();
        assert!(c.on_applied(0, 0, 5, 2).is_ok());
        assert!(c.on_applied(1, 0, 5, 2).is_ok());
        assert!(c.on_applied(2, 0, 5, 3).is_err());
    }

    #[test]
    fn applied_index_going_back_in_one_incarnation_is_a_violation() {
        let mut c = QuorumChecker::default();
        assert!(c.on_applied(0, 0, 5, 2).is_ok());
        assert!(
            c.on_applied(0, 1, 3, 2).is_ok(),
            "a restart applies from its snapshot again"
        );
        assert!(c.on_applied(0, 1, 2, 2).is_err());
    }

    #[test]
    fn an_acknowledged_proposal_must_stay_committed_and_reach_every_image() {
        let mut c = QuorumChecker::default();
        assert!(c.on_applied(0, 0, 7, 2).is_ok());
        assert!(
            c.on_acked(7, 3, "t1".into()).is_err(),
            "index 7 holds term 2"
        );
        assert!(c.on_acked(7, 2, "t1".into()).is_ok());
        let mut image = MetadataImage::empty("sim");
        image.offset = 7;
        assert!(
            c.check_final(&[image.clone(), image.clone()], 1).is_err(),
            "t1 missing"
        );
        image.topics.insert(
            "t1".into(),
            vltava_raft::TopicImage {
                name: "t1".into(),
                id: vltava_protocol::Uuid::from_u128(1),
                partitions: Default::default(),
            },
        );
        let mut other = image.clone();
        other.controller_id = 2;
        assert!(c.check_final(&[image.clone(), other], 1).is_ok());
        assert!(c.check_final(&[image.clone(), image.clone()], 2).is_err());
        let mut behind = image.clone();
        behind.offset = 6;
        assert!(c.check_final(&[image, behind], 1).is_err());
    }
}
