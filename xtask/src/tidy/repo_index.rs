//! An in-memory index of the repository for the docs check: every file path, the
//! directories they imply, the workspace's crates, and the text of source files.

use std::collections::{BTreeMap, BTreeSet};

/// A crate under `crates/`: its directory (`crates/broker`) and package name
/// (`vltava-broker`).
#[derive(Debug, Clone)]
pub struct Crate {
    pub dir: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct RepoIndex {
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
    pub crates: Vec<Crate>,
    texts: BTreeMap<String, String>,
}

impl RepoIndex {
    /// `files` are repository-relative, `/`-separated; `texts` holds the contents of the
    /// files whose items the docs may name.
    pub fn new(
        files: impl IntoIterator<Item = String>,
        crates: Vec<Crate>,
        texts: BTreeMap<String, String>,
    ) -> Self {
        let files: BTreeSet<String> = files.into_iter().collect();
        let mut dirs = BTreeSet::new();
        for f in &files {
            let mut rest = f.as_str();
            while let Some((parent, _)) = rest.rsplit_once('/') {
                dirs.insert(parent.to_string());
                rest = parent;
            }
        }
        RepoIndex {
            files,
            dirs,
            crates,
            texts,
        }
    }

    pub fn is_file(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains(path.trim_end_matches('/'))
    }

    /// Files (or directories, when `dir`) under `base/` whose path ends with `/tail`.
    pub fn ending_with(&self, base: &str, tail: &str, dir: bool) -> Vec<String> {
        let prefix = format!("{}/", base.trim_end_matches('/'));
        let suffix = format!("/{}", tail.trim_end_matches('/'));
        let set = if dir { &self.dirs } else { &self.files };
        set.range(prefix.clone()..)
            .take_while(|p| p.starts_with(&prefix))
            .filter(|p| p.ends_with(&suffix))
            .cloned()
            .collect()
    }

    /// The texts of `path` itself or, for a directory, of every indexed file under it.
    pub fn texts_at<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.texts
            .iter()
            .filter(move |(p, _)| p.as_str() == path || p.starts_with(&prefix))
            .map(|(_, t)| t.as_str())
    }
}
