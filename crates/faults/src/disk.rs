//! Disk-full faults. Each node's data dir (its partitions and its metadata log) is a tmpfs
//! of [`DISK_BYTES`] in a private mount namespace, held for the whole run by a `sleep`
//! started with `unshare -m` (root or CAP_SYS_ADMIN needed); every process of the node
//! runs in that namespace through `nsenter` ([`TestCluster::start_with_voters_and_prefix`]),
//! so the file system outlives kills and restarts of the node, and the harness reaches it
//! through `/proc/<holder>/root`. The fault writes a ballast file until the file system is
//! full (ENOSPC) and deletes it to heal. When the namespace vanishes with its holder, so
//! does the data: a kept cluster (`VLTAVA_KEEP_CLUSTER`) keeps only the node logs.
//!
//! [`TestCluster::start_with_voters_and_prefix`]: vltava_testkit::cluster::TestCluster::start_with_voters_and_prefix

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Size of each node's file system: far above what a long run writes to one node
/// (about 5 MB a minute), so only the ballast ever fills it.
pub const DISK_BYTES: u64 = 1 << 30;
/// The ballast file's name in a node's data dir.
const BALLAST: &str = "disk-full-ballast";
/// Bytes per ballast write.
const CHUNK: usize = 1 << 20;

/// Why a node's file system could not be made, filled or freed.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("starting the mount namespace holder (unshare): {0}")]
    Spawn(#[source] std::io::Error),
    #[error(
        "no tmpfs in a private mount namespace (`unshare -m`, `mount -t tmpfs`: root or \
         CAP_SYS_ADMIN needed): {0}"
    )]
    NoNamespace(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One node's namespace holder.
#[derive(Debug)]
struct Holder {
    child: Child,
    data_dir: PathBuf,
}

impl Holder {
    /// The data dir as seen from outside the namespace.
    fn outside(&self, name: &str) -> PathBuf {
        let inner = self.data_dir.strip_prefix("/").unwrap_or(&self.data_dir);
        Path::new("/proc")
            .join(self.child.id().to_string())
            .join("root")
            .join(inner)
            .join(name)
    }
}

/// The nodes' file systems, by node index.
#[derive(Debug)]
pub struct NodeDisks {
    /// Size of each.
    bytes: u64,
    holders: Vec<Option<Holder>>,
}

impl NodeDisks {
    /// File systems of `bytes` each ([`DISK_BYTES`] in the harness), none made yet.
    pub fn new(bytes: u64) -> NodeDisks {
        NodeDisks {
            bytes,
            holders: Vec::new(),
        }
    }

    /// Mounts node `node`'s tmpfs on `data_dir` (made if missing) and returns the command
    /// prefix its processes run under.
    pub fn mount(&mut self, node: usize, data_dir: &Path) -> Result<Vec<String>, DiskError> {
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mkdir -p \"$0\" && mount -t tmpfs -o size={} vltava-faults \"$0\" \
                 && echo mounted && exec sleep infinity",
                self.bytes
            ))
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(DiskError::Spawn)?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "mounted" {
            let _ = child.kill();
            let out = child.wait_with_output().map_err(DiskError::Spawn)?;
            return Err(DiskError::NoNamespace(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        let prefix = vec![
            "nsenter".to_string(),
            "-t".to_string(),
            child.id().to_string(),
            "-m".to_string(),
            "--".to_string(),
        ];
        if self.holders.len() <= node {
            self.holders.resize_with(node + 1, || None);
        }
        self.holders[node] = Some(Holder {
            child,
            data_dir: data_dir.to_path_buf(),
        });
        Ok(prefix)
    }

    /// Fills node `node`'s file system with the ballast until it is full; returns the
    /// ballast's size.
    pub fn fill(&self, node: usize) -> Result<u64, DiskError> {
        let Some(h) = self.holders.get(node).and_then(Option::as_ref) else {
            return Ok(0);
        };
        let path = h.outside(BALLAST);
        let io = |what, source| DiskError::Io {
            what,
            path: path.clone(),
            source,
        };
        let mut f = std::fs::File::create(&path).map_err(|e| io("creating", e))?;
        let chunk = vec![0xa5u8; CHUNK];
        let mut written = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => return Ok(written),
                Ok(n) => written += n as u64,
                Err(e) if is_full(&e) => return Ok(written),
                Err(e) => return Err(io("writing", e)),
            }
        }
    }

    /// Deletes node `node`'s ballast.
    pub fn free(&self, node: usize) -> Result<(), DiskError> {
        let Some(h) = self.holders.get(node).and_then(Option::as_ref) else {
            return Ok(());
        };
        let path = h.outside(BALLAST);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DiskError::Io {
                what: "deleting",
                path,
                source,
            }),
        }
    }
}

/// ENOSPC, or EDQUOT.
fn is_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28) | Some(122))
}

/// The holders' `sleep`s end, and with them (once the nodes are gone too) the namespaces
/// and their file systems.
impl Drop for NodeDisks {
    fn drop(&mut self) {
        for h in self.holders.iter_mut().flatten() {
            let _ = h.child.kill();
            let _ = h.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs a private mount namespace (root or CAP_SYS_ADMIN), as the harness does: without
    /// one it fails, it does not skip.
    #[test]
    fn a_node_disk_fills_up_and_frees_again() {
        let dir = vltava_testkit::temp_dir("faults-disk").expect("temp dir");
        let data = dir.join("data");
        const BYTES: u64 = 16 << 20;
        let mut disks = NodeDisks::new(BYTES);
        let prefix = disks.mount(0, &data).expect("a tmpfs in a mount namespace");
        // A process run under the prefix writes into the tmpfs, not into `data` outside.
        let mut cmd = Command::new(&prefix[0]);
        cmd.args(&prefix[1..])
            .args(["sh", "-c", "echo hello > \"$0\"/note"])
            .arg(&data);
        assert!(cmd.status().expect("nsenter").success());
        assert!(!data.join("note").exists(), "written outside the namespace");
        let holder = disks.holders[0].as_ref().expect("holder");
        let note = std::fs::read_to_string(holder.outside("note")).expect("note in the tmpfs");
        assert_eq!(note, "hello\n");
        let filled = disks.fill(0).expect("fill");
        assert!(
            filled > BYTES - (1 << 20) && filled <= BYTES,
            "ballast of {filled} bytes"
        );
        // Full: another write fails with ENOSPC.
        let err = std::fs::write(holder.outside("more"), vec![1u8; 1 << 20]).expect_err("full");
        assert!(is_full(&err), "{err}");
        disks.free(0).expect("free");
        std::fs::write(holder.outside("more"), vec![1u8; 1 << 20]).expect("space again");
        drop(disks);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
