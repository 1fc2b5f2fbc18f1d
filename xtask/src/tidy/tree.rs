//! Reads the repository from disk into what the checks take: the Rust files under
//! `crates/` and `xtask/`, the index of every file for the docs check, and the
//! root-anchored `.gitignore` entries.

use super::repo_index::{Crate, RepoIndex};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;

/// Directory names never walked wherever they are: build output, dependencies, caches.
const SKIPPED_DIRS: [&str; 4] = [".git", "target", "node_modules", "__pycache__"];

/// Extensions of files whose text the docs check may search for a named item.
const TEXT_EXTENSIONS: [&str; 6] = ["rs", "py", "js", "java", "go", "sh"];

#[derive(Debug)]
pub struct Tree {
    /// (repository-relative path, contents) of every `.rs` file under `crates/` and `xtask/`.
    pub rust: Vec<(String, String)>,
    pub index: RepoIndex,
    /// Root-anchored `.gitignore` entries, without the leading `/`.
    pub ignored: Vec<String>,
}

pub fn load(root: &Path) -> anyhow::Result<Tree> {
    let ignored = anchored_ignores(root)?;
    let mut files = Vec::new();
    walk(root, "", &ignored, &mut files)?;
    let mut rust = Vec::new();
    let mut texts = BTreeMap::new();
    for f in &files {
        let ext = f.rsplit_once('.').map_or("", |(_, e)| e);
        if !TEXT_EXTENSIONS.contains(&ext) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(f)) else {
            continue;
        };
        if ext == "rs" && (f.starts_with("crates/") || f.starts_with("xtask/")) {
            rust.push((f.clone(), text.clone()));
        }
        texts.insert(f.clone(), text);
    }
    let crates = crates(root)?;
    Ok(Tree {
        rust,
        index: RepoIndex::new(files, crates, texts),
        ignored,
    })
}

fn anchored_ignores(root: &Path) -> anyhow::Result<Vec<String>> {
    let path = root.join(".gitignore");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('/'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect())
}

fn walk(root: &Path, rel: &str, ignored: &[String], out: &mut Vec<String>) -> anyhow::Result<()> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if ignored.contains(&path) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(root, &path, ignored, out)?;
            }
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Every `crates/*` directory with a manifest, and its package name.
fn crates(root: &Path) -> anyhow::Result<Vec<Crate>> {
    let mut found = Vec::new();
    let dir = root.join("crates");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_string())
            .with_context(|| format!("no package name in {}", manifest.display()))?;
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        found.push(Crate {
            dir: format!("crates/{dir_name}"),
            name,
        });
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(found)
}
