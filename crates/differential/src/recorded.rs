//! Recorded client sessions: the request frames real clients sent
//! (`testdata/captures/*.bin`: confluent-kafka and kafka-python, each compression codec —
//! their first ApiVersions, Metadata and Produce), decoded and sent again to each broker at
//! the version the client used. The topics they name are created first (with as many
//! partitions as their Produce needs), so both brokers answer from the same state.

use std::path::Path;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use vltava_protocol::RequestBody;
use vltava_protocol::frame::decode_request;

use crate::scenarios::{create_topics, wait_for_leaders};
use crate::session::Session;

/// The recorded frames in `dir`, by file name (so each client's ApiVersions, Metadata and
/// Produce come in that order).
fn frames(dir: &Path) -> Result<Vec<(String, Bytes)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "bin") {
            let bytes = std::fs::read(&path)?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The file holds the whole frame, size prefix included.
            out.push((name, Bytes::from(bytes).slice(4..)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Replays every recorded frame of `dir` on `s`.
pub async fn replay(s: &mut Session, dir: &Path) -> Result<()> {
    // What differs between any two brokers' ApiVersions answers is compared elsewhere
    // (`api_versions`); here only that each is answered without an error.
    s.ignore_also(&[
        "api_keys",
        "supported_features",
        "finalized_features",
        "finalized_features_epoch",
    ]);
    let frames = frames(dir)?;
    if frames.is_empty() {
        bail!("no recorded frames in {}", dir.display());
    }
    let mut requests = Vec::with_capacity(frames.len());
    for (name, frame) in &frames {
        let request = decode_request(frame).with_context(|| format!("decoding {name}"))?;
        requests.push((name, request));
    }
    // Every topic a recorded Produce writes, with the partitions it needs.
    let mut needed: Vec<(String, i32)> = Vec::new();
    for (_, request) in &requests {
        if let RequestBody::Produce(p) = &request.body {
            for t in &p.topic_data {
                let partitions = t
                    .partition_data
                    .iter()
                    .map(|d| d.index + 1)
                    .max()
                    .unwrap_or(1);
                match needed.iter_mut().find(|(n, _)| n == t.name.as_str()) {
                    Some((_, count)) => *count = (*count).max(partitions),
                    None => needed.push((t.name.as_str().to_owned(), partitions)),
                }
            }
        }
    }
    create_topics(s, &needed).await?;
    for (topic, partitions) in &needed {
        wait_for_leaders(s, topic, usize::try_from(*partitions).unwrap_or(1)).await?;
    }
    for (name, request) in requests {
        let version = request.api_version();
        match request.body {
            RequestBody::ApiVersions(r) => {
                s.send_at(name, r, version).await?;
            }
            RequestBody::Metadata(r) => {
                s.send_at(name, r, version).await?;
            }
            RequestBody::Produce(r) => {
                s.send_at(name, r, version).await?;
            }
            other => bail!("{name}: no replay for {:?}", other.api_key()),
        }
    }
    Ok(())
}
