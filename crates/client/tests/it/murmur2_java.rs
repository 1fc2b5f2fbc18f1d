//! The default partitioner picks the partition Java's client picks: murmur2
//! compared with kafka-python's port of Kafka's `Utils.murmur2` over many keys
//! (needs the project's Python environment; fails without it).
#![allow(clippy::unwrap_used)]

use vltava_client::producer::murmur2;
use vltava_client::producer::partitioner::partition_for_key;

#[test]
fn murmur2_matches_kafka_python_for_many_keys() {
    let python = vltava_testkit::python().expect("Python environment (run ./test.sh)");
    let mut keys: Vec<Vec<u8>> = (0..300).map(|i| format!("key-{i}").into_bytes()).collect();
    keys.push(Vec::new());
    keys.push(vec![0xff, 0x80, 0x7f, 0x00, 0x01]);
    keys.push("žluťoučký kůň".as_bytes().to_vec());
    for len in 0..12 {
        keys.push((0..len).map(|b| (b * 37 + 200) as u8).collect());
    }
    let hex: Vec<String> = keys
        .iter()
        .map(|k| k.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let script = r#"
import sys
from kafka.partitioner.default import murmur2
for line in sys.stdin.read().split():
    k = bytes.fromhex(line) if line != '-' else b''
    print(murmur2(k))
"#;
    let input: Vec<String> = hex
        .iter()
        .map(|h| {
            if h.is_empty() {
                "-".to_string()
            } else {
                h.clone()
            }
        })
        .collect();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.join("\n").as_bytes())?;
            child.wait_with_output()
        })
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().expect("number"))
        .collect();
    assert_eq!(theirs.len(), keys.len());
    for (k, t) in keys.iter().zip(&theirs) {
        // kafka-python returns the same 32 bits as an unsigned number.
        let ours = i64::from(murmur2(k) as u32);
        assert_eq!(ours, *t, "key {k:?}");
        for n in [1, 3, 6, 12, 50] {
            let java = (t & 0x7fff_ffff) % n;
            assert_eq!(i64::from(partition_for_key(k, n as i32)), java);
        }
    }
}
