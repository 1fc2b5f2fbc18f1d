//! Checks over the order of one producer's sends: nonmonotonic sends (a send invoked after
//! an acknowledged one landed before it) and per-producer reorder (an idempotent
//! producer's pipelined values of one partition out of issue order).

use super::model::{Model, Outcome, Tp};
use super::{Class, Findings};
use crate::history::{Op, OpFn, OpType};
use std::collections::{BTreeMap, HashMap};

/// Runs the order checks over `ops` (in history order).
pub fn check(model: &Model, ops: &[Op], findings: &mut Findings) {
    nonmonotonic_send(ops, findings);
    per_producer_reorder(model, findings);
}

fn nonmonotonic_send(ops: &[Op], findings: &mut Findings) {
    // Per process: the highest acknowledged offset per partition so far.
    let mut done: HashMap<&str, HashMap<Tp, (i64, &str)>> = HashMap::new();
    // Per value: what its process had acknowledged when the value was invoked.
    let mut before: HashMap<&str, HashMap<Tp, (i64, &str)>> = HashMap::new();
    for op in ops {
        if !matches!(op.f, OpFn::Send | OpFn::Txn) {
            continue;
        }
        match op.kind {
            OpType::Invoke => {
                let seen = done.get(op.process.as_str()).cloned().unwrap_or_default();
                for r in &op.sends {
                    before.insert(r.value.as_str(), seen.clone());
                }
            }
            OpType::Ok => {
                for r in &op.sends {
                    let (Some(p), Some(o)) = (r.partition, r.offset) else {
                        continue;
                    };
                    if o < 0 {
                        continue;
                    }
                    let tp = (r.topic.clone(), p);
                    if let Some((prev, prev_value)) =
                        before.get(r.value.as_str()).and_then(|b| b.get(&tp))
                    {
                        if *prev >= o {
                            findings.add(Class::NonmonotonicSend, || {
                                format!(
                                    "{}: {prev_value} was acknowledged at {}-{}@{prev}, then \
                                     {} (sent after that) at offset {o}",
                                    op.process, tp.0, tp.1, r.value
                                )
                            });
                        }
                    }
                    let entry = done
                        .entry(op.process.as_str())
                        .or_default()
                        .entry(tp)
                        .or_insert((o, r.value.as_str()));
                    if o > entry.0 {
                        *entry = (o, r.value.as_str());
                    }
                }
            }
            OpType::Fail | OpType::Info => {}
        }
    }
}

/// One idempotent producer's values in one partition: (issue order, offset, value).
type Lane<'m> = Vec<((u64, usize), i64, &'m str)>;

fn per_producer_reorder(model: &Model, findings: &mut Findings) {
    let mut lanes: BTreeMap<(&str, Tp), Lane> = BTreeMap::new();
    for (value, info) in &model.sends {
        if !info.idempotent || info.outcome == Outcome::Fail {
            continue;
        }
        // The value's first copy: a client's epoch bump re-sends values that may already
        // be in the log, and the acknowledgement then names the later copy.
        let position = info
            .ack
            .iter()
            .chain(
                model
                    .read_positions
                    .get(value.as_str())
                    .into_iter()
                    .flatten(),
            )
            .min_by_key(|(_, offset)| *offset)
            .cloned();
        let Some((tp, offset)) = position else {
            continue;
        };
        lanes.entry((info.process.as_str(), tp)).or_default().push((
            (info.invoke_index, info.seq),
            offset,
            value.as_str(),
        ));
    }
    for ((process, tp), mut lane) in lanes {
        lane.sort();
        for pair in lane.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.1 < a.1 {
                findings.add(Class::PerProducerReorder, || {
                    format!(
                        "{process} issued {} before {} to {}-{}, but they sit at offsets {} \
                         and {}",
                        a.2, b.2, tp.0, tp.1, a.1, b.1
                    )
                });
            }
        }
    }
}
