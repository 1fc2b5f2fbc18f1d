//! Checks over what each consumer's polls returned, in order: nonmonotonic polls, poll
//! skips and aborted reads (G1a).

use super::model::{Model, Tp};
use super::{Class, Findings};
use crate::history::{Op, OpFn, OpType};
use std::collections::HashMap;

/// Runs the poll checks over `ops` (in history order).
pub fn check(model: &Model, ops: &[Op], findings: &mut Findings) {
    // Per process: the last offset it polled per partition since its last assignment.
    let mut last: HashMap<&str, HashMap<Tp, i64>> = HashMap::new();
    for op in ops {
        match (op.f, op.kind) {
            (OpFn::Assign, _) => {
                last.remove(op.process.as_str());
            }
            (OpFn::Poll, OpType::Ok) => {
                let mine = last.entry(op.process.as_str()).or_default();
                for r in &op.reads {
                    let (Some(p), Some(o)) = (r.partition, r.offset) else {
                        continue;
                    };
                    let tp = (r.topic.clone(), p);
                    if op.read_committed
                        && model
                            .sends
                            .get(r.value.as_str())
                            .is_some_and(|s| s.aborted())
                    {
                        findings.add(Class::AbortedRead, || {
                            format!(
                                "{} (read_committed) read {} at {}-{}@{o}, written by an \
                                 aborted transaction",
                                op.process, r.value, tp.0, tp.1
                            )
                        });
                    }
                    if let Some(prev) = mine.get(&tp).copied() {
                        if o <= prev {
                            findings.add(Class::NonmonotonicPoll, || {
                                format!(
                                    "{} polled {}-{}@{prev}, then offset {o} ({})",
                                    op.process, tp.0, tp.1, r.value
                                )
                            });
                        } else if let Some((skipped, value)) =
                            skipped_value(model, &tp, prev, o, op.read_committed)
                        {
                            findings.add(Class::PollSkip, || {
                                format!(
                                    "{} polled {}-{}@{prev}, then offset {o}, skipping {value} \
                                     at offset {skipped}",
                                    op.process, tp.0, tp.1
                                )
                            });
                        }
                    }
                    mine.insert(tp, o);
                }
            }
            _ => {}
        }
    }
}

/// The first offset strictly between `from` and `to` holding a value the consumer should
/// have returned (for read_committed: not of an aborted or undecided transaction).
fn skipped_value<'m>(
    model: &'m Model,
    tp: &Tp,
    from: i64,
    to: i64,
    read_committed: bool,
) -> Option<(i64, &'m str)> {
    let offsets = model.log.get(tp)?;
    offsets
        .range(from + 1..to)
        .flat_map(|(o, values)| values.iter().map(move |v| (*o, v.as_str())))
        .find(|(_, v)| !read_committed || model.sends.get(*v).is_none_or(|s| s.committed_visible()))
}
