//! The `vltava` binary with its log dir on an 8 MiB tmpfs that fills up. The
//! tmpfs lives in a private mount namespace held by a `sleep` (`unshare -m`),
//! the broker runs in it through `nsenter`, and the test reaches it from
//! outside through `/proc/<holder>/root/<dir>` to put a ballast file there and
//! delete it. While the disk is full a Produce gets KAFKA_STORAGE_ERROR with a
//! message, the log says what ran out, Metadata, ListOffsets, the controller
//! (CreateTopics) and new connections keep working; once the ballast is gone
//! the broker serves writes again without a restart, and after a kill -9 and
//! a clean restart every acknowledged record is on disk exactly once, in
//! batches with good CRCs. The namespace is required: without it the test
//! fails, it does not skip.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use vltava_protocol::messages::MetadataRequest;
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, DecodeLimits};
use vltava_testkit::broker_process::BrokerProcess;

use crate::support::Client;

use vltava_protocol::error_codes::KAFKA_STORAGE_ERROR;
/// A value of about 1 KiB: the tmpfs fills after a few thousand.
const VALUE_LEN: usize = 1000;

/// An 8 MiB tmpfs mounted on `dir` in a mount namespace of its own, kept alive
/// by a `sleep` (so it outlives broker restarts).
struct Tmpfs {
    holder: Child,
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs -o size=8m vltava-test \"$0\" && echo mounted && exec sleep 600")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `unshare -m` (util-linux): {e}"));
        let mut line = String::new();
        let _ = BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line);
        if line.trim() != "mounted" {
            let _ = holder.kill();
            let out = holder.wait_with_output().unwrap();
            panic!(
                "this test needs a private mount namespace with a tmpfs (`unshare -m` and \
                 `mount -t tmpfs`, i.e. root or CAP_SYS_ADMIN); it could not make one: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Tmpfs { holder, dir }
    }

    /// The log dir as the broker sees it (inside the namespace).
    fn inside(&self) -> &Path {
        self.dir.path()
    }

    /// The log dir as seen from here (outside the namespace).
    fn outside(&self) -> PathBuf {
        let rel = self.dir.path().strip_prefix("/").unwrap();
        PathBuf::from(format!("/proc/{}/root", self.holder.id())).join(rel)
    }

    /// Fills the tmpfs with a ballast file until the kernel says ENOSPC.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.outside().join("ballast")).unwrap();
        let chunk = vec![0xa5u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
    }

    fn free(&self) {
        std::fs::remove_file(self.outside().join("ballast")).unwrap();
    }

    /// A script that runs the broker inside the namespace.
    fn broker_wrapper(&self, at: &Path) -> PathBuf {
        let path = at.join("vltava-in-tmpfs.sh");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nexec nsenter -t {} -m '{}' \"$@\"\n",
                self.holder.id(),
                env!("CARGO_BIN_EXE_vltava")
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn start(fs: &Tmpfs, wrapper: &Path) -> BrokerProcess {
    BrokerProcess::builder()
        .bin(wrapper)
        .override_property(format!("log.dirs={}", fs.inside().display()))
        .start()
        .unwrap()
}

fn record(seq: u32) -> Bytes {
    let mut value = format!("{seq:08}").into_bytes();
    value.resize(VALUE_LEN, b'.');
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    b.append(now, None, Some(&value), &[]).unwrap();
    b.build().unwrap()
}

/// The sequence numbers of the records in `<topic>-<partition>`'s `.log` files,
/// read from outside; every batch must be whole with a good CRC, offsets
/// contiguous from 0.
fn on_disk(fs: &Tmpfs, topic: &str, partition: i32) -> Vec<u32> {
    let dir = fs.outside().join(format!("{topic}-{partition}"));
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    let mut seqs = Vec::new();
    let mut next = 0i64;
    for log in logs {
        let bytes = std::fs::read(&log).unwrap();
        for b in BatchIter::new(&bytes) {
            let b = b.unwrap_or_else(|e| panic!("{}: {e}", log.display()));
            b.validate_crc().unwrap();
            let h = *b.header();
            assert_eq!(h.base_offset, next, "{}", log.display());
            next = h.next_offset();
            for r in b.records(&DecodeLimits::default()).unwrap() {
                let v = r.value.unwrap();
                seqs.push(std::str::from_utf8(&v[..8]).unwrap().parse().unwrap());
            }
        }
    }
    seqs
}

async fn metadata_ok(c: &mut Client, topics: usize) {
    let req = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(m.topics.len(), topics);
    assert!(m.topics.iter().all(|t| t.error_code == 0));
}

/// Produces to t-0 until the disk is full; returns the sequence numbers
/// acknowledged.
async fn produce_until_full(c: &mut Client, next: &mut u32, acked: &mut Vec<u32>) -> String {
    for _ in 0..20_000 {
        let r = c.produce_raw(9, "t", 0, record(*next)).await;
        *next += 1;
        match r.error_code {
            0 => acked.push(*next - 1),
            KAFKA_STORAGE_ERROR => return r.error_message.unwrap_or_default().to_string(),
            other => panic!("produce answered {other}: {:?}", r.error_message),
        }
    }
    panic!("the disk never filled");
}

#[tokio::test]
async fn a_full_disk_gives_storage_errors_and_loses_nothing_acknowledged() {
    let fs = Tmpfs::mount();
    let scratch = tempfile::tempdir().unwrap();
    let wrapper = fs.broker_wrapper(scratch.path());
    let broker = start(&fs, &wrapper);
    let stderr_path = broker.log_dir().parent().unwrap().join("stderr.log");
    let mut c = Client::connect_addr(broker.addr()).await;
    c.create_topic("t", 2).await;
    let (mut next, mut acked) = (0u32, Vec::new());
    for _ in 0..50 {
        assert_eq!(c.produce_raw(9, "t", 0, record(next)).await.error_code, 0);
        acked.push(next);
        next += 1;
    }

    // Full: the produce that does not fit, and every one after, is refused.
    fs.fill();
    let msg = produce_until_full(&mut c, &mut next, &mut acked).await;
    assert!(msg.contains("No space left"), "{msg}");
    let r = c.produce_raw(9, "t", 0, record(next)).await;
    next += 1;
    assert_eq!(r.error_code, KAFKA_STORAGE_ERROR);
    assert!(r.error_message.is_some());
    let logged = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        logged.contains("out of disk space (ENOSPC)"),
        "the log names what ran out:\n{logged}"
    );
    // The rest works: Metadata, ListOffsets, a new connection, the controller.
    let mut c2 = Client::connect_addr(broker.addr()).await;
    metadata_ok(&mut c2, 1).await;
    assert_eq!(c2.latest_offset("t", 0).await, (0, acked.len() as i64));
    assert_eq!(c2.latest_offset("t", 1).await, (0, 0));
    let created = c2.create_topic_answer("u", 1, 1, &[], 5000).await;
    assert_eq!(created.error_code, 0, "{:?}", created.error_message);
    metadata_ok(&mut c2, 2).await;

    // Space back: writes are served again without a restart.
    fs.free();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = c.produce_raw(9, "t", 0, record(next)).await;
        next += 1;
        if r.error_code == 0 {
            acked.push(next - 1);
            break;
        }
        assert_eq!(r.error_code, KAFKA_STORAGE_ERROR);
        assert!(Instant::now() < deadline, "t-0 never served writes again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(c.produce_raw(9, "t", 1, record(next)).await.error_code, 0);
    next += 1;
    assert_eq!(c.produce_raw(9, "u", 0, record(next)).await.error_code, 0);
    next += 1;

    // Full again, then kill -9: nothing acknowledged lost, nothing refused kept.
    fs.fill();
    produce_until_full(&mut c, &mut next, &mut acked).await;
    drop((c, c2));
    drop(broker); // SIGKILL
    fs.free();
    assert_eq!(
        on_disk(&fs, "t", 0),
        acked,
        "after kill -9, before recovery"
    );
    let broker = start(&fs, &wrapper);
    let mut c = Client::connect_addr(broker.addr()).await;
    metadata_ok(&mut c, 2).await;
    assert_eq!(c.latest_offset("t", 0).await, (0, acked.len() as i64));
    assert_eq!(c.produce_raw(9, "t", 0, record(next)).await.error_code, 0);
    acked.push(next);
    drop(c);
    broker.terminate(Duration::from_secs(20)).unwrap();
    assert_eq!(on_disk(&fs, "t", 0), acked, "after a clean stop");
    assert_eq!(on_disk(&fs, "t", 1).len(), 1);
    assert_eq!(on_disk(&fs, "u", 0).len(), 1);

    // A clean restart finds it all.
    let broker = start(&fs, &wrapper);
    let mut c = Client::connect_addr(broker.addr()).await;
    assert_eq!(c.latest_offset("t", 0).await, (0, acked.len() as i64));
    assert_eq!(c.latest_offset("u", 0).await, (0, 1));
    let unique: BTreeSet<u32> = acked.iter().copied().collect();
    assert_eq!(unique.len(), acked.len());
    drop(c);
    broker.terminate(Duration::from_secs(20)).unwrap();
}
