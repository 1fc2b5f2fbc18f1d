//! Request frames captured from real Kafka clients by `tests/capture/capture.py`
//! (committed goldens in `testdata/captures/`, or a fresh capture), with the
//! manifest describing each one.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One message a captured Produce request carries.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: Vec<(String, Option<String>)>,
    pub timestamp: i64,
}

/// One captured request frame.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub client: String,
    pub client_version: String,
    pub codec: String,
    pub api_key: i16,
    pub api_version: i16,
    /// File of the whole frame, 4-byte size prefix included.
    pub frame: String,
    /// File of the first partition's records bytes (Produce only).
    pub records: Option<String>,
    #[serde(default)]
    pub messages: Vec<Message>,
}

/// A directory of captures and its manifest.
#[derive(Debug, Clone)]
pub struct Captures {
    pub dir: PathBuf,
    pub entries: Vec<Entry>,
}

impl Captures {
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join("manifest.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let entries =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Captures {
            dir: dir.to_path_buf(),
            entries,
        })
    }

    /// The whole frame of `e`, size prefix included.
    pub fn frame(&self, e: &Entry) -> Result<Vec<u8>, String> {
        let p = self.dir.join(&e.frame);
        std::fs::read(&p).map_err(|err| format!("{}: {err}", p.display()))
    }

    /// The records bytes of `e`, if it is a Produce capture.
    pub fn records(&self, e: &Entry) -> Result<Option<Vec<u8>>, String> {
        e.records
            .as_ref()
            .map(|r| {
                let p = self.dir.join(r);
                std::fs::read(&p).map_err(|err| format!("{}: {err}", p.display()))
            })
            .transpose()
    }
}

/// The committed goldens in `testdata/captures/`.
pub fn committed() -> Result<Captures, String> {
    Captures::load(&crate::workspace_root().join("testdata/captures"))
}

/// Runs the real clients against the fake broker now and loads what they sent.
/// Fails (never skips) when the Python environment is missing.
pub fn live() -> Result<Captures, String> {
    let python = crate::python()?;
    let out = crate::temp_dir("capture").map_err(|e| e.to_string())?;
    let script = crate::workspace_root().join("tests/capture/capture.py");
    let result = std::process::Command::new(&python)
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .output()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    if !result.status.success() {
        return Err(format!(
            "capture.py failed ({}):\n{}\n{}",
            result.status,
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    Captures::load(&out)
}
