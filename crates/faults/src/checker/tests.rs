//! Hand-made histories: for every anomaly class one that has it (the check must count it)
//! and one without it (the check must stay silent).

use super::{Class, Report, check};
use crate::history::{Op, OpFn, OpType, Position, Record};

/// Builds a history line by line, numbering the lines.
#[derive(Default)]
struct H {
    ops: Vec<Op>,
}

fn rec(partition: Option<i32>, offset: Option<i64>, value: &str) -> Record {
    Record {
        topic: "t".into(),
        partition,
        offset,
        key: None,
        value: value.into(),
        producer: None,
    }
}

impl H {
    fn push(&mut self, mut op: Op) -> &mut Self {
        op.index = self.ops.len() as u64;
        op.time = op.index;
        self.ops.push(op);
        self
    }

    fn invoke(&mut self, p: &str, value: &str, idempotent: bool) -> &mut Self {
        let mut op = Op::new(p, OpType::Invoke, OpFn::Send);
        op.sends.push(rec(None, None, value));
        op.idempotent = idempotent;
        self.push(op)
    }

    fn ok(&mut self, p: &str, value: &str, partition: i32, offset: i64, idem: bool) -> &mut Self {
        let mut op = Op::new(p, OpType::Ok, OpFn::Send);
        op.sends.push(rec(Some(partition), Some(offset), value));
        op.idempotent = idem;
        self.push(op)
    }

    fn info(&mut self, p: &str, value: &str) -> &mut Self {
        let mut op = Op::new(p, OpType::Info, OpFn::Send);
        op.sends.push(rec(None, None, value));
        self.push(op)
    }

    /// A send acknowledged at partition/offset (invoke then ok).
    fn send(&mut self, p: &str, value: &str, partition: i32, offset: i64, idem: bool) -> &mut Self {
        self.invoke(p, value, idem)
            .ok(p, value, partition, offset, idem)
    }

    /// A transaction of `(value, partition, offset)`; `kind` ok = committed, fail = aborted.
    fn txn(&mut self, p: &str, sends: &[(&str, i32, i64)], kind: OpType) -> &mut Self {
        let mut invoke = Op::new(p, OpType::Invoke, OpFn::Txn);
        invoke.idempotent = true;
        invoke.sends = sends.iter().map(|(v, _, _)| rec(None, None, v)).collect();
        self.push(invoke);
        let mut done = Op::new(p, kind, OpFn::Txn);
        done.idempotent = true;
        done.sends = sends
            .iter()
            .map(|(v, p, o)| rec(Some(*p), Some(*o), v))
            .collect();
        self.push(done)
    }

    fn poll(&mut self, p: &str, reads: &[(i32, i64, &str)], read_committed: bool) -> &mut Self {
        let mut op = Op::new(p, OpType::Ok, OpFn::Poll);
        op.reads = reads
            .iter()
            .map(|(p, o, v)| rec(Some(*p), Some(*o), v))
            .collect();
        op.read_committed = read_committed;
        self.push(op)
    }

    fn complete(&mut self, reads: &[(i32, i64, &str)], ends: &[(i32, i64)]) -> &mut Self {
        let mut op = Op::new("final", OpType::Ok, OpFn::Poll);
        op.reads = reads
            .iter()
            .map(|(p, o, v)| rec(Some(*p), Some(*o), v))
            .collect();
        op.complete = true;
        op.ends = ends
            .iter()
            .map(|(p, o)| Position {
                topic: "t".into(),
                partition: *p,
                offset: *o,
            })
            .collect();
        self.push(op)
    }

    /// A complete read returning every acknowledged value at its acknowledged offset.
    fn read_all(&mut self) -> &mut Self {
        let mut reads: Vec<(i32, i64, String)> = Vec::new();
        for op in &self.ops {
            if matches!(op.f, OpFn::Send | OpFn::Txn) && op.kind == OpType::Ok {
                for r in &op.sends {
                    if let (Some(p), Some(o)) = (r.partition, r.offset) {
                        reads.push((p, o, r.value.clone()));
                    }
                }
            }
        }
        reads.sort();
        let mut ends: Vec<(i32, i64)> = Vec::new();
        for (p, o, _) in &reads {
            match ends.iter_mut().find(|e| e.0 == *p) {
                Some(e) => e.1 = e.1.max(o + 1),
                None => ends.push((*p, o + 1)),
            }
        }
        let reads: Vec<(i32, i64, &str)> =
            reads.iter().map(|(p, o, v)| (*p, *o, v.as_str())).collect();
        let ops = self.complete(&reads, &ends).ops.len();
        assert!(ops > 0);
        self
    }

    fn assign(&mut self, p: &str) -> &mut Self {
        self.push(Op::new(p, OpType::Ok, OpFn::Assign))
    }

    fn check(&self) -> Report {
        check(&self.ops)
    }
}

/// Asserts that `class` was found `n` times and every other class never.
fn only(report: &Report, class: Class, n: u64) {
    for c in Class::ALL {
        let want = if c == class { n } else { 0 };
        assert_eq!(report.count(c), want, "{}:\n{report}", c.name());
    }
    if n > 0 {
        assert!(report.example(class).is_some());
        assert!(!report.valid());
    }
}

fn clean(report: &Report) {
    assert!(report.valid(), "{report}");
    assert_eq!(report.anomalies(), 0);
}

#[test]
fn a_clean_history_with_every_kind_of_operation_is_valid() {
    let mut h = H::default();
    h.send("p1", "a", 0, 0, true)
        .send("p1", "b", 0, 1, true)
        .send("p1", "c", 0, 2, true)
        .send("p2", "d", 1, 0, false)
        .txn("p3", &[("e", 1, 1)], OpType::Ok)
        .txn("p3", &[("f", 1, 3)], OpType::Fail)
        .assign("c1")
        .poll("c1", &[(0, 0, "a"), (0, 1, "b")], true)
        .poll("c1", &[(0, 2, "c"), (1, 0, "d"), (1, 1, "e")], true)
        .complete(
            &[
                (0, 0, "a"),
                (0, 1, "b"),
                (0, 2, "c"),
                (1, 0, "d"),
                (1, 1, "e"),
                (1, 3, "f"),
            ],
            &[(0, 3), (1, 5)],
        );
    let report = h.check();
    clean(&report);
    assert_eq!(report.stats.sends_ok, 5);
    assert_eq!(report.stats.txns_aborted, 1);
    assert_eq!(report.stats.partitions_read_completely, 2);
    assert!(report.to_string().contains("verdict: valid"));
}

#[test]
fn lost_write_is_an_acknowledged_value_a_complete_read_passed_over() {
    let mut lost = H::default();
    lost.send("p1", "a", 0, 0, true)
        .send("p1", "b", 0, 1, true)
        .complete(&[(0, 0, "a")], &[(0, 2)]);
    let report = lost.check();
    only(&report, Class::LostWrite, 1);
    assert!(
        report
            .example(Class::LostWrite)
            .is_some_and(|e| e.contains("t-0@1"))
    );

    let mut later_read = H::default();
    later_read
        .send("p1", "a", 0, 0, true)
        .send("p1", "b", 0, 1, true)
        .send("p1", "c", 0, 2, true)
        .poll("c1", &[(0, 0, "a")], false)
        .poll("c1", &[(0, 2, "c")], false);
    // b was passed by a later read (poll skip too: the consumer jumped over it).
    assert_eq!(later_read.check().count(Class::LostWrite), 1);

    let mut ok = H::default();
    ok.send("p1", "a", 0, 0, true)
        .send("p1", "b", 0, 1, true)
        .complete(&[(0, 0, "a"), (0, 1, "b")], &[(0, 2)]);
    clean(&ok.check());
}

#[test]
fn unseen_is_acknowledged_but_beyond_every_read() {
    let mut h = H::default();
    h.send("p1", "a", 0, 0, true)
        .send("p1", "b", 0, 1, true)
        .complete(&[(0, 0, "a")], &[(0, 1)]);
    only(&h.check(), Class::Unseen, 1);

    let mut ok = H::default();
    ok.send("p1", "a", 0, 0, true)
        .info("p1", "never-acked")
        .complete(&[(0, 0, "a")], &[(0, 1)]);
    clean(&ok.check());
}

#[test]
fn duplicate_counts_only_under_idempotence() {
    let mut idem = H::default();
    idem.send("p1", "a", 0, 0, true)
        .complete(&[(0, 0, "a"), (0, 1, "a")], &[(0, 2)]);
    let report = idem.check();
    only(&report, Class::Duplicate, 1);
    assert!(
        report
            .example(Class::Duplicate)
            .is_some_and(|e| e.contains("t-0@1"))
    );

    let mut plain = H::default();
    plain
        .send("p2", "a", 0, 0, false)
        .complete(&[(0, 0, "a"), (0, 1, "a")], &[(0, 2)]);
    let report = plain.check();
    clean(&report);
    assert_eq!(report.allowed_duplicates(), 1);
}

#[test]
fn nemesis_faults_are_counted_per_kind_in_the_report() {
    let mut h = H::default();
    for (kind, node) in [("kill", 0), ("kill", 2), ("pause", 1)] {
        for t in [OpType::Invoke, OpType::Ok] {
            let mut op = Op::new("nemesis", t, OpFn::Fault);
            op.fault = Some(kind.into());
            op.node = Some(node);
            h.push(op);
        }
    }
    h.send("p1", "a", 0, 0, true)
        .complete(&[(0, 0, "a")], &[(0, 1)]);
    let report = h.check();
    clean(&report);
    assert_eq!(report.stats.faults.get("kill"), Some(&2));
    assert_eq!(report.stats.faults.get("pause"), Some(&1));
    assert!(
        report.to_string().contains("faults: 2 kill, 1 pause"),
        "{report}"
    );
}

#[test]
fn an_abandoned_client_is_counted_and_its_open_send_stays_unknown() {
    let mut h = H::default();
    h.send("p1", "a", 0, 0, true).invoke("p1", "b", true);
    let mut stall = Op::new("p1", OpType::Info, OpFn::Stall);
    stall.error = Some("no progress for 60 s".into());
    h.push(stall);
    h.send("p2", "c", 0, 1, true)
        .complete(&[(0, 0, "a"), (0, 1, "c")], &[(0, 2)]);
    let report = h.check();
    clean(&report);
    assert_eq!(report.stats.client_stalls, 1);
    assert_eq!(report.stats.sends_unknown, 1);
    assert!(
        report
            .to_string()
            .contains("abandoned after a stall (stuck in the client library; no anomaly): 1, first: p1: no progress for 60 s"),
        "{report}"
    );
}

#[test]
fn an_idempotent_copy_under_a_new_epoch_is_counted_apart() {
    // (offset, producer id, epoch) of two copies of "a"; `None`: the reader did not say.
    let history = |copies: [(i64, Option<(i64, i16)>); 2]| {
        let mut h = H::default();
        h.send("p1", "a", 0, 0, true);
        let mut op = Op::new("final", OpType::Ok, OpFn::Poll);
        op.reads = copies
            .iter()
            .map(|(o, producer)| Record {
                producer: *producer,
                ..rec(Some(0), Some(*o), "a")
            })
            .collect();
        op.complete = true;
        op.ends.push(Position {
            topic: "t".into(),
            partition: 0,
            offset: 2,
        });
        h.push(op);
        h.check()
    };
    let bumped = history([(0, Some((7, 1))), (1, Some((7, 3)))]);
    clean(&bumped);
    let (n, example) = bumped.epoch_duplicates();
    assert_eq!(n, 1);
    assert!(example.is_some_and(|e| e.contains("t-0@1 (producer 7 epoch 3)")));
    // One epoch: the broker's sequence check should have refused the second copy.
    only(
        &history([(0, Some((7, 1))), (1, Some((7, 1)))]),
        Class::Duplicate,
        1,
    );
    // Another producer id, or a copy whose batch is unknown: not explained by a bump.
    only(
        &history([(0, Some((7, 1))), (1, Some((8, 2)))]),
        Class::Duplicate,
        1,
    );
    only(
        &history([(0, Some((7, 1))), (1, None)]),
        Class::Duplicate,
        1,
    );
}

#[test]
fn inconsistent_offsets_is_one_offset_with_two_values() {
    let mut h = H::default();
    h.send("p1", "a", 0, 0, false)
        .invoke("p2", "b", false)
        .info("p2", "b")
        .poll("c1", &[(0, 0, "b")], false);
    let report = h.check();
    // a is also never read although a read reached its offset: a lost write besides.
    assert_eq!(report.count(Class::InconsistentOffsets), 1, "{report}");
    assert!(
        report
            .example(Class::InconsistentOffsets)
            .is_some_and(|e| e.contains("t-0@0") && e.contains('a') && e.contains('b'))
    );

    let mut two_readers = H::default();
    two_readers
        .poll("c1", &[(0, 0, "x")], false)
        .poll("c2", &[(0, 0, "y")], false);
    only(&two_readers.check(), Class::InconsistentOffsets, 1);

    let mut ok = H::default();
    ok.send("p1", "a", 0, 0, false)
        .poll("c1", &[(0, 0, "a")], false)
        .poll("c2", &[(0, 0, "a")], false);
    clean(&ok.check());
}

#[test]
fn nonmonotonic_send_is_a_later_send_at_a_lower_offset() {
    let mut h = H::default();
    h.send("p1", "a", 0, 5, false)
        .send("p1", "b", 0, 3, false)
        .read_all();
    only(&h.check(), Class::NonmonotonicSend, 1);

    // Concurrent sends of a plain producer may land in either order.
    let mut concurrent = H::default();
    concurrent
        .invoke("p1", "a", false)
        .invoke("p1", "b", false)
        .ok("p1", "b", 0, 3, false)
        .ok("p1", "a", 0, 5, false)
        .read_all();
    clean(&concurrent.check());

    // Other partitions and other processes do not count.
    let mut ok = H::default();
    ok.send("p1", "a", 0, 5, false)
        .send("p1", "b", 1, 3, false)
        .send("p2", "c", 0, 4, false)
        .send("p1", "d", 0, 6, false)
        .read_all();
    clean(&ok.check());
}

#[test]
fn per_producer_reorder_is_pipelined_idempotent_sends_out_of_issue_order() {
    let mut h = H::default();
    h.invoke("p1", "a", true)
        .invoke("p1", "b", true)
        .ok("p1", "b", 0, 0, true)
        .ok("p1", "a", 0, 1, true)
        .read_all();
    let report = h.check();
    only(&report, Class::PerProducerReorder, 1);
    assert!(
        report
            .example(Class::PerProducerReorder)
            .is_some_and(|e| e.contains("offsets 1 and 0"))
    );

    // Positions known only from reads count as well.
    let mut read = H::default();
    read.invoke("p1", "a", true)
        .invoke("p1", "b", true)
        .info("p1", "a")
        .info("p1", "b")
        .poll("c1", &[(0, 0, "b"), (0, 1, "a")], false);
    assert_eq!(read.check().count(Class::PerProducerReorder), 1);

    // A plain producer promises no order for pipelined sends.
    let mut plain = H::default();
    plain
        .invoke("p1", "a", false)
        .invoke("p1", "b", false)
        .ok("p1", "b", 0, 0, false)
        .ok("p1", "a", 0, 1, false)
        .read_all();
    clean(&plain.check());

    let mut ok = H::default();
    ok.invoke("p1", "a", true)
        .invoke("p1", "b", true)
        .ok("p1", "a", 0, 0, true)
        .ok("p1", "b", 0, 1, true)
        .read_all();
    clean(&ok.check());
}

#[test]
fn per_producer_reorder_judges_a_value_by_its_first_copy() {
    // "a" landed at 0, then an epoch bump re-sent it; its acknowledgement names the copy
    // at 2, after "b". The first copies are in issue order: no reorder.
    let mut bumped = H::default();
    bumped
        .invoke("p1", "a", true)
        .invoke("p1", "b", true)
        .ok("p1", "b", 0, 1, true)
        .ok("p1", "a", 0, 2, true)
        .poll("c1", &[(0, 0, "a"), (0, 1, "b"), (0, 2, "a")], false);
    assert_eq!(bumped.check().count(Class::PerProducerReorder), 0);

    // Without the early copy the same acknowledgements are a reorder.
    let mut reordered = H::default();
    reordered
        .invoke("p1", "a", true)
        .invoke("p1", "b", true)
        .ok("p1", "b", 0, 1, true)
        .ok("p1", "a", 0, 2, true)
        .poll("c1", &[(0, 1, "b"), (0, 2, "a")], false);
    assert_eq!(reordered.check().count(Class::PerProducerReorder), 1);
}

#[test]
fn nonmonotonic_poll_is_a_consumer_going_back_without_reassignment() {
    let mut h = H::default();
    h.poll("c1", &[(0, 0, "a"), (0, 1, "b")], false)
        .poll("c1", &[(0, 1, "b")], false);
    only(&h.check(), Class::NonmonotonicPoll, 1);

    let mut reassigned = H::default();
    reassigned
        .poll("c1", &[(0, 0, "a"), (0, 1, "b")], false)
        .assign("c1")
        .poll("c1", &[(0, 1, "b")], false);
    clean(&reassigned.check());

    let mut other_consumer = H::default();
    other_consumer
        .poll("c1", &[(0, 0, "a"), (0, 1, "b")], false)
        .poll("c2", &[(0, 0, "a")], false);
    clean(&other_consumer.check());
}

#[test]
fn poll_skip_is_jumping_over_a_value_the_consumer_should_see() {
    let mut h = H::default();
    h.send("p1", "a", 0, 0, true)
        .send("p1", "b", 0, 1, true)
        .send("p1", "c", 0, 2, true)
        .poll("c1", &[(0, 0, "a")], false)
        .poll("c1", &[(0, 2, "c")], false)
        .complete(&[(0, 0, "a"), (0, 1, "b"), (0, 2, "c")], &[(0, 3)]);
    let report = h.check();
    only(&report, Class::PollSkip, 1);
    assert!(
        report
            .example(Class::PollSkip)
            .is_some_and(|e| e.contains("b at offset 1"))
    );

    // read_committed consumers skip aborted values (and transaction markers).
    let mut aborted = H::default();
    aborted
        .send("p1", "a", 0, 0, true)
        .txn("p3", &[("x", 0, 1)], OpType::Fail)
        .send("p1", "c", 0, 3, true)
        .poll("c1", &[(0, 0, "a")], true)
        .poll("c1", &[(0, 3, "c")], true)
        .complete(&[(0, 0, "a"), (0, 1, "x"), (0, 3, "c")], &[(0, 4)]);
    clean(&aborted.check());

    // The same jump is a skip for a read_uncommitted consumer.
    let mut uncommitted = H::default();
    uncommitted
        .send("p1", "a", 0, 0, true)
        .txn("p3", &[("x", 0, 1)], OpType::Fail)
        .send("p1", "c", 0, 3, true)
        .poll("c1", &[(0, 0, "a")], false)
        .poll("c1", &[(0, 3, "c")], false)
        .complete(&[(0, 0, "a"), (0, 1, "x"), (0, 3, "c")], &[(0, 4)]);
    only(&uncommitted.check(), Class::PollSkip, 1);
}

#[test]
fn aborted_read_is_read_committed_seeing_an_aborted_transaction() {
    let mut h = H::default();
    h.txn("p3", &[("x", 0, 0)], OpType::Fail)
        .poll("c1", &[(0, 0, "x")], true);
    let report = h.check();
    only(&report, Class::AbortedRead, 1);
    assert!(
        report
            .example(Class::AbortedRead)
            .is_some_and(|e| e.contains("t-0@0"))
    );

    let mut uncommitted = H::default();
    uncommitted
        .txn("p3", &[("x", 0, 0)], OpType::Fail)
        .poll("c1", &[(0, 0, "x")], false);
    clean(&uncommitted.check());

    let mut committed = H::default();
    committed
        .txn("p3", &[("x", 0, 0)], OpType::Ok)
        .poll("c1", &[(0, 0, "x")], true);
    clean(&committed.check());
}

#[test]
fn a_value_sent_twice_makes_the_history_malformed() {
    let mut h = H::default();
    h.send("p1", "a", 0, 0, false).send("p2", "a", 0, 1, false);
    let report = h.check();
    assert!(!report.valid());
    assert_eq!(report.warnings.len(), 1, "{report}");
}
