//! `meta.properties` of the metadata dir (as Kafka's: `version`, `cluster.id`, `node.id`):
//! written when a fresh dir is formatted, checked against the configuration when it is opened.

use std::path::Path;

use super::files::write_atomic;
use crate::error::RaftError;

/// File name inside the metadata dir.
pub const FILE_NAME: &str = "meta.properties";

/// The identity of a formatted metadata dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    pub node_id: i32,
}

/// Reads `meta.properties`, or `None` if the dir is not formatted.
pub fn read(dir: &Path) -> Result<Option<MetaProperties>, RaftError> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RaftError::io(&path, e)),
    };
    let mut cluster_id = None;
    let mut node_id = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "cluster.id" => cluster_id = Some(v.trim().to_string()),
                "node.id" => node_id = v.trim().parse::<i32>().ok(),
                _ => {}
            }
        }
    }
    match (cluster_id, node_id) {
        (Some(cluster_id), Some(node_id)) => Ok(Some(MetaProperties {
            cluster_id,
            node_id,
        })),
        _ => Err(RaftError::corrupt(path, "missing cluster.id or node.id")),
    }
}

/// Writes `meta.properties` atomically.
pub fn write(dir: &Path, meta: &MetaProperties) -> Result<(), RaftError> {
    let text = format!(
        "#Written by vltava-raft\nversion=1\ncluster.id={}\nnode.id={}\n",
        meta.cluster_id, meta.node_id
    );
    write_atomic(&dir.join(FILE_NAME), text.as_bytes())
}
