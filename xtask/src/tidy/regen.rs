//! Check 5: the committed generated protocol code is what `cargo xtask codegen` makes
//! from `../shared/kafka-spec` (relative to the repository root). The schemas are absent
//! on CI machines: then the check is skipped with a note.

use super::violation::Violation;
use crate::codegen;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;

/// Where the committed generated code lives, relative to the repository root.
pub const GENERATED_DIR: &str = "crates/protocol/src/generated";
/// Where the schemas are looked for, relative to the repository root.
pub const SPEC_DIR: &str = "../shared/kafka-spec";

/// What the check did.
#[derive(Debug)]
pub enum Outcome {
    Checked(Vec<Violation>),
    /// The schemas are absent; the note says so.
    Skipped(String),
}

/// Regenerates into a scratch directory under the root's ignored `target/` (so rustfmt
/// reads the same configuration as for the committed files) and compares.
pub fn check(root: &Path) -> anyhow::Result<Outcome> {
    let spec = root.join(SPEC_DIR);
    if !spec.is_dir() {
        let note = format!("codegen check skipped: {} not found", spec.display());
        return Ok(Outcome::Skipped(note));
    }
    let scratch = root
        .join("target")
        .join(format!("tidy-codegen-{}", std::process::id()));
    let outcome = codegen::run(&spec, &scratch)
        .context("regenerating the protocol code")
        .and_then(|()| Ok((read_tree(&root.join(GENERATED_DIR))?, read_tree(&scratch)?)));
    let cleanup = std::fs::remove_dir_all(&scratch);
    let (committed, regenerated) = outcome?;
    cleanup.with_context(|| format!("removing {}", scratch.display()))?;
    Ok(Outcome::Checked(compare(&committed, &regenerated)))
}

/// Differences between the committed files and the regenerated ones, by relative path.
pub fn compare(
    committed: &BTreeMap<String, String>,
    regenerated: &BTreeMap<String, String>,
) -> Vec<Violation> {
    let mut found = Vec::new();
    let at = |rel: &str| format!("{GENERATED_DIR}/{rel}");
    for (rel, text) in regenerated {
        match committed.get(rel) {
            None => found.push(Violation::new(
                "codegen",
                &at(rel),
                0,
                "generated but not committed",
            )),
            Some(old) if old != text => {
                let line = first_difference(old, text);
                found.push(Violation::new(
                    "codegen",
                    &at(rel),
                    line,
                    "differs from what codegen makes",
                ));
            }
            Some(_) => {}
        }
    }
    for rel in committed.keys().filter(|r| !regenerated.contains_key(*r)) {
        found.push(Violation::new(
            "codegen",
            &at(rel),
            0,
            "committed but no longer generated",
        ));
    }
    found
}

fn first_difference(a: &str, b: &str) -> usize {
    let same = a.lines().zip(b.lines()).take_while(|(x, y)| x == y).count();
    same + 1
}

fn read_tree(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    read_into(dir, "", &mut out)?;
    Ok(out)
}

fn read_into(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
    let here = dir.join(rel);
    for entry in std::fs::read_dir(&here).with_context(|| format!("reading {}", here.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type()?.is_dir() {
            read_into(dir, &path, out)?;
        } else {
            let text = std::fs::read_to_string(dir.join(&path))
                .with_context(|| format!("reading {path}"))?;
            out.insert(path, text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn edited_missing_and_extra_files_fail() {
        let committed = tree(&[("a.rs", "x\ny\n"), ("old.rs", "")]);
        let regenerated = tree(&[("a.rs", "x\nz\n"), ("new.rs", "")]);
        let found = compare(&committed, &regenerated);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].line, 2);
    }

    #[test]
    fn absent_schemas_skip_with_a_note() -> anyhow::Result<()> {
        let root = std::env::temp_dir()
            .join(format!("tidy-skip-{}", std::process::id()))
            .join("repo");
        std::fs::create_dir_all(&root)?;
        let outcome = check(&root);
        std::fs::remove_dir_all(root.parent().unwrap_or(&root))?;
        assert!(matches!(outcome?, Outcome::Skipped(note) if note.contains("kafka-spec")));
        Ok(())
    }

    #[test]
    fn identical_trees_pass() {
        let t = tree(&[("a.rs", "x\n"), ("m/mod.rs", "y\n")]);
        assert!(compare(&t, &t).is_empty());
    }
}
