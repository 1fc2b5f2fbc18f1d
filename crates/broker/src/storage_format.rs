//! `vltava storage format`: writes Kafka's `meta.properties` (version 1, node
//! id, cluster id, directory id) into each log directory, and reads it back at
//! start-up. Also generates Kafka-style ids (22-character URL-safe base64 of 16
//! random bytes).

use std::path::Path;

use crate::config::parse_properties;

/// The file Kafka keeps a log directory's identity in.
pub const META_PROPERTIES: &str = "meta.properties";

/// What `meta.properties` says about a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    pub node_id: i32,
    pub directory_id: String,
}

/// Errors formatting or reading a log directory.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{0} is already formatted (use --ignore-formatted to skip it)")]
    AlreadyFormatted(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}: meta.properties lacks {1}")]
    Incomplete(String, &'static str),
    #[error("cannot get random bytes: {0}")]
    Random(String),
    #[error("invalid cluster id {0:?}: expected 22 characters of URL-safe base64")]
    BadClusterId(String),
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A random Kafka id (like `kafka-storage.sh random-uuid`).
pub fn random_id() -> Result<String, FormatError> {
    loop {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| FormatError::Random(e.to_string()))?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let id = b64url(&b);
        // As Kafka's Uuid.randomUuid: never one that starts with '-', which a command line
        // (`storage format -t <id>`) would take for an option.
        if !id.starts_with('-') {
            return Ok(id);
        }
    }
}

#[cfg(test)]
mod random_id_tests {
    #[test]
    fn random_ids_never_start_with_a_dash() {
        // A leading '-' comes with probability 1/64 per id: 4096 ids would show it.
        for _ in 0..4096 {
            let id = super::random_id().unwrap();
            assert!(!id.starts_with('-'), "{id}");
            assert!(super::valid_cluster_id(&id), "{id}");
        }
    }
}

/// Whether a cluster id has Kafka's shape.
pub fn valid_cluster_id(id: &str) -> bool {
    id.len() == 22
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Reads `meta.properties` of `dir`, `None` when the directory is not formatted.
pub fn read_meta(dir: &Path) -> Result<Option<MetaProperties>, FormatError> {
    let path = dir.join(META_PROPERTIES);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(FormatError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let p = parse_properties(&text);
    let shown = path.display().to_string();
    let cluster_id = p
        .get("cluster.id")
        .cloned()
        .ok_or_else(|| FormatError::Incomplete(shown.clone(), "cluster.id"))?;
    let node_id = p
        .get("node.id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| FormatError::Incomplete(shown.clone(), "node.id"))?;
    let directory_id = p.get("directory.id").cloned().unwrap_or_default();
    Ok(Some(MetaProperties {
        cluster_id,
        node_id,
        directory_id,
    }))
}

/// Formats `dir` for `cluster_id` and `node_id`. An already formatted directory
/// is an error unless `ignore_formatted`, in which case it is left as it is.
pub fn format_dir(
    dir: &Path,
    cluster_id: &str,
    node_id: i32,
    ignore_formatted: bool,
) -> Result<MetaProperties, FormatError> {
    if !valid_cluster_id(cluster_id) {
        return Err(FormatError::BadClusterId(cluster_id.to_string()));
    }
    if let Some(existing) = read_meta(dir)? {
        if ignore_formatted {
            return Ok(existing);
        }
        return Err(FormatError::AlreadyFormatted(dir.display().to_string()));
    }
    let io = |source| FormatError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let meta = MetaProperties {
        cluster_id: cluster_id.to_string(),
        node_id,
        directory_id: random_id()?,
    };
    let text = format!(
        "#\n#Written by vltava storage format\nnode.id={}\ndirectory.id={}\nversion=1\ncluster.id={}\n",
        meta.node_id, meta.directory_id, meta.cluster_id
    );
    let tmp = dir.join("meta.properties.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, dir.join(META_PROPERTIES)).map_err(io)?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_kafka_shape() {
        let id = random_id().unwrap();
        assert!(valid_cluster_id(&id), "{id}");
        assert_ne!(id, random_id().unwrap());
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert!(!valid_cluster_id("short"));
    }

    #[test]
    fn format_then_read_then_refuse_twice() {
        let d = tempfile::tempdir().unwrap();
        let id = random_id().unwrap();
        let m = format_dir(d.path(), &id, 3, false).unwrap();
        assert_eq!(read_meta(d.path()).unwrap(), Some(m.clone()));
        assert!(matches!(
            format_dir(d.path(), &id, 3, false),
            Err(FormatError::AlreadyFormatted(_))
        ));
        assert_eq!(format_dir(d.path(), &id, 3, true).unwrap(), m);
        assert!(format_dir(d.path(), "bad", 3, false).is_err());
    }
}
