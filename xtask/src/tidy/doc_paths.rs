//! Check 3: every path a document names in backticks exists.
//!
//! A code span is a path when, after an optional `./` and before an optional `::item`, it
//! is made only of letters, digits, `_`, `-`, `.` and `/`, and either contains a `/` or
//! ends in a source or document extension ([`EXTENSIONS`]) after a non-empty stem (`.rs`
//! alone is an extension, not a path). Absolute paths and `../` paths lie outside the
//! repository, and paths in directories the root `.gitignore` anchors (`/.tools`,
//! `/target`, ...) are made by runs, not committed: all three are skipped. A trailing `/` names a directory; a path without an
//! extension may name a module (`x.rs`, `x/mod.rs`) or a directory.
//!
//! A path resolves, in this order, when
//! 1. it exists relative to the repository root;
//! 2. a file or directory under a directory the same paragraph names by its root path
//!    (`tests/interop/` ... `test_acls.py`) ends with it, component by component;
//! 3. a file or directory in a crate the paragraph is about ends with it: crates named
//!    (`vltava-x`, `vltava_x` or `crates/x`) in its `##`/`###` headings or in the paragraph
//!    (`handlers/admin.rs` is `crates/broker/src/handlers/admin.rs` in a vltava-broker
//!    paragraph, `tests/it/acls.rs` its integration test);
//! 4. failing those, files in exactly one crate of the workspace end with it. Matches in
//!    several crates are ambiguous: the text must name the crate or write the path out.
//!
//! An `::item` after a path must occur as a word in the file (or, for a directory or
//! module directory, in a file under it). A paragraph is a list item or a block between
//! blank lines; fenced code blocks are not read.

use super::doc_spans::{self, Paragraph};
use super::lex;
use super::repo_index::{Crate, RepoIndex};
use super::violation::Violation;

/// Extensions that make a span a file path even without a `/`.
pub const EXTENSIONS: [&str; 11] = [
    "rs", "py", "toml", "sh", "md", "txt", "js", "json", "diff", "java", "go",
];

/// A path named by the document: the path, whether it names a directory, and the item
/// after `::` if any.
#[derive(Debug, PartialEq)]
struct Named {
    path: String,
    dir: bool,
    item: Option<String>,
}

/// `ignored` are the root-anchored `.gitignore` entries, without their leading `/`.
pub fn check(doc: &str, md: &str, repo: &RepoIndex, ignored: &[String]) -> Vec<Violation> {
    let mut found = Vec::new();
    for p in doc_spans::paragraphs(md) {
        let context = context_crates(&p, &repo.crates);
        let bases = paragraph_dirs(&p, repo, ignored);
        for span in &p.spans {
            let Some(named) = named_path(&span.text, ignored) else {
                continue;
            };
            if let Err(why) = resolve(&named, &bases, &context, repo) {
                let msg = format!("`{}`: {why}", span.text);
                found.push(Violation::new("doc-paths", doc, span.line, msg));
            }
        }
    }
    found
}

fn named_path(span: &str, ignored: &[String]) -> Option<Named> {
    let (path, item) = match span.split_once("::") {
        Some((p, i)) => (p, Some(i.to_string())),
        None => (span, None),
    };
    let path = path.strip_prefix("./").unwrap_or(path);
    let path_chars = |c: char| c.is_ascii_alphanumeric() || "_-./".contains(c);
    let outside = path.starts_with('/') || path.starts_with("../");
    if path.is_empty() || !path.chars().all(path_chars) || outside {
        return None;
    }
    let has_ext = match path.rsplit_once('.') {
        Some((stem, ext)) => !stem.is_empty() && EXTENSIONS.contains(&ext),
        None => false,
    };
    if !path.contains('/') && !has_ext {
        return None;
    }
    let first = path.split('/').next().unwrap_or(path);
    if ignored
        .iter()
        .any(|i| i == first || path.starts_with(&format!("{i}/")))
    {
        return None;
    }
    let item = item.filter(|i| i.chars().all(|c| c.is_alphanumeric() || c == '_'));
    Some(Named {
        path: path.trim_end_matches('/').to_string(),
        dir: path.ends_with('/'),
        item,
    })
}

fn context_crates<'a>(p: &Paragraph, crates: &'a [Crate]) -> Vec<&'a Crate> {
    let text = format!("{}\n{}", p.headings, p.text);
    crates
        .iter()
        .filter(|c| {
            let underscored = c.name.replace('-', "_");
            [c.name.as_str(), underscored.as_str(), c.dir.as_str()]
                .iter()
                .any(|n| mentions(&text, n))
        })
        .collect()
}

/// `name` occurs in `text` not continued by an identifier character or `-`.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let after = text[at + name.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}

/// The forms a named path may take on disk: (path, is a directory).
fn forms(n: &Named) -> Vec<(String, bool)> {
    let has_ext = n.path.rsplit('/').next().is_some_and(|f| f.contains('.'));
    if n.dir {
        vec![(n.path.clone(), true)]
    } else if has_ext {
        vec![(n.path.clone(), false)]
    } else {
        vec![
            (format!("{}.rs", n.path), false),
            (format!("{}/mod.rs", n.path), false),
            (n.path.clone(), true),
            (n.path.clone(), false),
        ]
    }
}

fn resolve(
    n: &Named,
    bases: &[String],
    context: &[&Crate],
    repo: &RepoIndex,
) -> Result<(), String> {
    let forms = forms(n);
    let at_root = at_root(&forms, repo);
    if !at_root.is_empty() {
        return check_item(n, &at_root, repo);
    }
    let under = |base: &str| -> Vec<String> {
        forms
            .iter()
            .flat_map(|(p, dir)| repo.ending_with(base, p, *dir))
            .collect()
    };
    let in_bases: Vec<String> = bases.iter().flat_map(|b| under(b)).collect();
    if !in_bases.is_empty() {
        return check_item(n, &in_bases, repo);
    }
    let in_context: Vec<String> = context.iter().flat_map(|c| under(&c.dir)).collect();
    if !in_context.is_empty() {
        return check_item(n, &in_context, repo);
    }
    let matched: Vec<(&str, Vec<String>)> = repo
        .crates
        .iter()
        .map(|c| (c.name.as_str(), under(&c.dir)))
        .filter(|(_, hits)| !hits.is_empty())
        .collect();
    match matched.as_slice() {
        [] => Err("no such path in the repository or any crate".into()),
        [(_, hits)] => check_item(n, hits, repo),
        _ => {
            let names: Vec<&str> = matched.iter().map(|(c, _)| *c).collect();
            Err(format!(
                "ambiguous (in {}); name the crate or write the path out",
                names.join(", ")
            ))
        }
    }
}

/// The forms that exist relative to the repository root.
fn at_root(forms: &[(String, bool)], repo: &RepoIndex) -> Vec<String> {
    forms
        .iter()
        .filter(|(p, dir)| {
            if *dir {
                repo.is_dir(p)
            } else {
                repo.is_file(p)
            }
        })
        .map(|(p, _)| p.clone())
        .collect()
}

/// Directories the paragraph names by their root-relative path.
fn paragraph_dirs(p: &Paragraph, repo: &RepoIndex, ignored: &[String]) -> Vec<String> {
    p.spans
        .iter()
        .filter_map(|s| named_path(&s.text, ignored))
        .flat_map(|n| at_root(&forms(&n), repo))
        .filter(|p| repo.is_dir(p))
        .collect()
}

fn check_item(n: &Named, paths: &[String], repo: &RepoIndex) -> Result<(), String> {
    let Some(item) = &n.item else {
        return Ok(());
    };
    let module_dirs = paths.iter().map(|p| {
        p.strip_suffix("/mod.rs")
            .or_else(|| p.strip_suffix(".rs"))
            .unwrap_or(p)
            .to_string()
    });
    let places: Vec<String> = paths.iter().cloned().chain(module_dirs).collect();
    let found = places
        .iter()
        .any(|p| repo.texts_at(p).any(|t| lex::has_word(t, item)));
    if found {
        Ok(())
    } else {
        Err(format!("`{item}` does not occur in {}", paths.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn repo() -> RepoIndex {
        let files = [
            "crates/broker/src/handlers/admin.rs",
            "crates/broker/src/handlers/session.rs",
            "crates/broker/tests/it/quotas.rs",
            "crates/raft/src/controller/elections.rs",
            "crates/raft/src/storage/reserve.rs",
            "crates/raft/tests/it/quotas.rs",
            "tests/interop/test_acls.py",
            "test.sh",
        ];
        let crates = ["broker", "raft"]
            .map(|c| Crate {
                dir: format!("crates/{c}"),
                name: format!("vltava-{c}"),
            })
            .to_vec();
        let mut texts = BTreeMap::new();
        texts.insert(
            "crates/raft/src/controller/elections.rs".to_string(),
            "fn then_unclean_elections() {}".to_string(),
        );
        texts.insert(
            "tests/interop/test_acls.py".to_string(),
            "def test_x():\n    pass\n".to_string(),
        );
        RepoIndex::new(files.map(String::from), crates, texts)
    }

    fn run(md: &str) -> Vec<Violation> {
        check("ARCH.md", md, &repo(), &[".tools".to_string()])
    }

    #[test]
    fn existing_paths_resolve() {
        let md = "## vltava-broker\n\n`handlers/admin.rs`, `session.rs`, `tests/it/quotas.rs`, \
                  `crates/broker/src/handlers/`, `./test.sh`, `.tools/venv`, `/dev/shm`, \
                  `tests/interop/test_acls.py::test_x`, `Log::append`, `a = b/c`, `.rs`, \
                  `../shared/spec`.\n\n\
                  ## Other\n\nIn vltava-raft `storage/reserve` and \
                  `controller/elections::then_unclean_elections`.\n";
        assert_eq!(run(md), Vec::new());
    }

    #[test]
    fn stale_ambiguous_and_missing_items_fail() {
        let md = "## vltava-broker\n\n`handlers/gone.rs` and `controller/gone.rs`.\n\n\
                  ## Invariants\n\n`tests/it/quotas.rs`.\n\n`crates/raft/src/controller/elections.rs::gone`.\n";
        let found = run(md);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[2].message.contains("ambiguous"));
        assert_eq!(found[0].line, 3);
    }
}
