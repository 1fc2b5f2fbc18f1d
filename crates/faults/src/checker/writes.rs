//! Checks over where values ended up: lost writes, unseen values, duplicates and
//! inconsistent offsets.

use super::model::{Model, Tp};
use super::{Class, Findings};
use std::collections::BTreeSet;

fn at(tp: &Tp, offset: i64) -> String {
    format!("{}-{}@{}", tp.0, tp.1, offset)
}

/// Runs the write checks.
pub fn check(model: &Model, findings: &mut Findings) {
    lost_and_unseen(model, findings);
    duplicates(model, findings);
    inconsistent_offsets(model, findings);
}

fn lost_and_unseen(model: &Model, findings: &mut Findings) {
    let mut acked: Vec<_> = model
        .sends
        .iter()
        .filter(|(_, s)| s.acknowledged())
        .collect();
    acked.sort_by_key(|(_, s)| (s.invoke_index, s.seq));
    for (value, info) in acked {
        if model.read_positions.contains_key(value.as_str()) {
            continue;
        }
        let Some((tp, offset)) = &info.ack else {
            // Acknowledged without a position (acks=0): nothing to compare against.
            continue;
        };
        let read_max = model.read_max.get(tp).copied();
        let end = model.complete_end.get(tp).copied();
        let passed_by_read = read_max.is_some_and(|m| m > *offset);
        let passed_by_end = end.is_some_and(|e| e > *offset);
        if passed_by_read || passed_by_end {
            findings.add(Class::LostWrite, || {
                format!(
                    "value {value} (from {}) acknowledged at {}, never read; reads of {}-{} \
                     reached offset {} (complete read end {})",
                    info.process,
                    at(tp, *offset),
                    tp.0,
                    tp.1,
                    read_max.map_or("none".into(), |m| m.to_string()),
                    end.map_or("none".into(), |e| e.to_string()),
                )
            });
        } else {
            findings.add(Class::Unseen, || {
                format!(
                    "value {value} (from {}) acknowledged at {}, never read; no read of the \
                     partition reached it (complete read end {})",
                    info.process,
                    at(tp, *offset),
                    end.map_or("none".into(), |e| e.to_string()),
                )
            });
        }
    }
}

fn duplicates(model: &Model, findings: &mut Findings) {
    let mut values: Vec<_> = model.read_positions.iter().collect();
    values.sort_by(|a, b| a.0.cmp(b.0));
    for (value, positions) in values {
        let mut all = positions.clone();
        let info = model.sends.get(value.as_str());
        if let Some((tp, o)) = info.and_then(|i| i.ack.clone()) {
            all.insert((tp, o));
        }
        if all.len() < 2 {
            continue;
        }
        let located = || {
            let at: Vec<String> = all
                .iter()
                .map(|(tp, o)| match model.producers.get(&(tp.clone(), *o)) {
                    Some((id, epoch)) => format!("{} (producer {id} epoch {epoch})", at(tp, *o)),
                    None => at(tp, *o),
                })
                .collect();
            at.join(", ")
        };
        if !info.is_some_and(|i| i.idempotent) {
            findings.allowed_duplicates += 1;
        } else if across_epochs(model, &all) {
            findings.epoch_duplicates += 1;
            if findings.epoch_duplicate_example.is_none() {
                findings.epoch_duplicate_example = Some(format!(
                    "value {value} of {} at {}",
                    info.map_or("?", |i| i.process.as_str()),
                    located()
                ));
            }
        } else {
            findings.add(Class::Duplicate, || {
                format!(
                    "value {value} of idempotent producer {} at {}",
                    info.map_or("?", |i| i.process.as_str()),
                    located()
                )
            });
        }
    }
}

/// Every copy is known to sit in a batch of its own producer epoch (one producer id, no
/// epoch twice): the client bumped its epoch and sent the value again. Sequence numbers
/// start over with each epoch, so no broker can tell such a copy from a new value.
fn across_epochs(model: &Model, copies: &BTreeSet<(Tp, i64)>) -> bool {
    let mut ids = BTreeSet::new();
    let mut epochs = BTreeSet::new();
    for (tp, o) in copies {
        let Some((id, epoch)) = model.producers.get(&(tp.clone(), *o)) else {
            return false;
        };
        if *id < 0 || !epochs.insert(*epoch) {
            return false;
        }
        ids.insert(*id);
    }
    ids.len() == 1
}

fn inconsistent_offsets(model: &Model, findings: &mut Findings) {
    for (tp, offsets) in &model.log {
        for (offset, values) in offsets {
            if values.len() > 1 {
                findings.add(Class::InconsistentOffsets, || {
                    let v: Vec<&str> = values.iter().map(String::as_str).collect();
                    format!(
                        "{} holds {} values: {}",
                        at(tp, *offset),
                        v.len(),
                        v.join(", ")
                    )
                });
            }
        }
    }
}
