//! Test support shared by the workspace: where the project-local Python
//! environment is, the real-client request captures, and the `vltava` binary
//! as a child process.

pub mod broker_process;
pub mod captures;
pub mod certs;
pub mod cluster;
pub mod ports;
pub mod rng;

use std::path::PathBuf;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}

/// The Python interpreter with the real Kafka clients installed: `VLTAVA_PYTHON`,
/// else `.tools/venv/bin/python`. Errors (never skips) when neither exists.
pub fn python() -> Result<PathBuf, String> {
    let path = std::env::var_os("VLTAVA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/venv/bin/python"));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "no Python client environment at {}: run ./test.sh (or scripts/python-env.sh) \
             first, or set VLTAVA_PYTHON",
            path.display()
        ))
    }
}

/// A fresh, empty directory under the system temp dir, named after `label`.
pub fn temp_dir(label: &str) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("vltava-{label}-{}-{n}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
