//! A small harness run against the real `vltava` binary (three nodes, two faults, the
//! vltava-client workloads only; about 20 s): the history it records must check valid,
//! and the same history with one acknowledged value removed from every read, or with a
//! complete read reordered, must not.

use std::time::Duration;
use vltava_faults::checker::{Class, check};
use vltava_faults::faults::FaultKind;
use vltava_faults::harness::{self, Config};
use vltava_faults::history::{self, OpFn, OpType};

#[test]
fn a_small_run_checks_valid_and_tampering_with_its_history_is_caught() {
    let dir = vltava_testkit::temp_dir("faults-it").expect("temp dir");
    let mut cfg = Config::short(dir.clone());
    cfg.faults = 2;
    cfg.max_duration = Duration::from_secs(60);
    cfg.kinds = vec![FaultKind::Kill, FaultKind::Restart];
    cfg.python = false;
    let outcome = harness::run(&cfg).expect("harness run");
    assert_eq!(outcome.faults.events.len(), 2);
    assert!(outcome.report.valid(), "{}", outcome.report);
    assert!(outcome.report.stats.sends_ok > 100, "{}", outcome.report);
    assert_eq!(outcome.report.stats.partitions_read_completely, 6);
    // The faults are in the history (nemesis invoke/ok) and in the report.
    let healed: u64 = outcome.report.stats.faults.values().sum();
    assert_eq!(healed, 2, "{}", outcome.report);

    let ops = history::read_file(&outcome.history).expect("history");
    assert_eq!(check(&ops).anomalies(), 0);

    // Drop one acknowledged value (one below its partition's end) from every read.
    let victim = ops
        .iter()
        .filter(|o| o.f == OpFn::Send && o.kind == OpType::Ok)
        .flat_map(|o| o.sends.iter())
        .find(|r| r.offset == Some(0))
        .map(|r| r.value.clone())
        .expect("an acknowledged value at offset 0");
    let mut lost = ops.clone();
    for op in &mut lost {
        op.reads.retain(|r| r.value != victim);
    }
    let report = check(&lost);
    assert_eq!(report.count(Class::LostWrite), 1, "{report}");

    // Reverse one complete read: the final reader goes backwards.
    let mut reordered = ops.clone();
    let complete = reordered
        .iter_mut()
        .find(|o| o.complete && o.reads.len() > 1)
        .expect("a complete read with records");
    complete.reads.reverse();
    let report = check(&reordered);
    assert!(report.count(Class::NonmonotonicPoll) > 0, "{report}");
    let _ = std::fs::remove_dir_all(dir);
}
