//! `cargo xtask tidy`: checks that keep the tree and its code map true. Also run by
//! `cargo test` (the `the_repository_is_tidy` test below). The checks:
//!
//! 1. `header` ([`headers`]): every `.rs` file under `crates/` and `xtask/` starts with a
//!    non-empty `//!` line. Files whose first line is codegen's marker
//!    ([`headers::GENERATED_MARKER`]) are left to check 5.
//! 2. `markers` ([`markers`]): no to-do/fix-me markers and no `dbg!`, `todo!`,
//!    `unimplemented!` in non-test code of those files. Test code is a file under a
//!    `tests/`, `benches/` or `examples/` directory, a file declared by
//!    `#[cfg(test)] mod name;` (and the files under its module directory), and any item
//!    annotated `#[cfg(test)]` or `#[test]` ([`test_code`]). String literals are not
//!    searched; the macros are not searched in comments.
//! 3. `doc-paths` ([`doc_paths`], rules there): every path `docs/ARCHITECTURE.md` names in
//!    backticks exists, resolved against the crates its paragraph is about; a named
//!    `path::item` occurs in that file. Bare item names (`Log::append`) are not checked.
//! 4. `unsafe` ([`unsafe_code`]): a file using the `unsafe` keyword has a `// SAFETY:`
//!    comment and a `#[test]` or `#[cfg(test)]` module.
//! 5. `codegen` ([`regen`]): when `../shared/kafka-spec` exists beside the repository,
//!    regenerating the protocol code reproduces `crates/protocol/src/generated/` byte for
//!    byte; otherwise the check prints a note and is skipped.
//! 6. `error-codes` ([`error_codes`]): Kafka's error codes are defined only in the
//!    generated `vltava_protocol::error_codes` table; every other crate uses it.
//! 7. `unwrap` ([`unwraps`]): no `.unwrap()` in the non-test library code of the crates
//!    on an input path ([`unwraps::INPUT_CRATES`]); `.expect("why")` states an invariant.
//!
//! Generated files are exempt from checks 1, 2, 4 and 7.

mod doc_paths;
mod doc_spans;
mod error_codes;
mod headers;
mod lex;
mod markers;
mod regen;
mod repo_index;
mod test_code;
mod tree;
mod unsafe_code;
mod unwraps;
mod violation;

use anyhow::Context;
use std::collections::BTreeSet;
use std::path::Path;
use violation::Violation;

/// The code map whose paths check 3 verifies.
pub const ARCHITECTURE: &str = "docs/ARCHITECTURE.md";

/// Everything the checks found, and notes about checks skipped.
#[derive(Debug, Default)]
pub struct Report {
    pub violations: Vec<Violation>,
    pub notes: Vec<String>,
}

/// `cargo xtask tidy`: prints the report and fails if anything was found.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let report = check_repository(root)?;
    for note in &report.notes {
        println!("note: {note}");
    }
    for v in &report.violations {
        println!("{v}");
    }
    anyhow::ensure!(
        report.violations.is_empty(),
        "tidy: {} problem(s)",
        report.violations.len()
    );
    println!("tidy: all checks pass");
    Ok(())
}

pub fn check_repository(root: &Path) -> anyhow::Result<Report> {
    let tree = tree::load(root)?;
    let mut report = Report::default();
    report.violations.extend(check_rust_files(&tree.rust));
    if let Some((_, table)) = tree.rust.iter().find(|(p, _)| p == error_codes::TABLE) {
        let names = error_codes::names(table);
        report
            .violations
            .extend(error_codes::check(&tree.rust, &names));
    } else {
        report.notes.push(format!(
            "error-codes check skipped: {} not found",
            error_codes::TABLE
        ));
    }
    let doc_path = root.join(ARCHITECTURE);
    let doc = std::fs::read_to_string(&doc_path)
        .with_context(|| format!("reading {}", doc_path.display()))?;
    report.violations.extend(doc_paths::check(
        ARCHITECTURE,
        &doc,
        &tree.index,
        &tree.ignored,
    ));
    match regen::check(root)? {
        regen::Outcome::Checked(found) => report.violations.extend(found),
        regen::Outcome::Skipped(note) => report.notes.push(note),
    }
    Ok(report)
}

/// Checks 1, 2, 4 and 7 over (path, contents) pairs.
fn check_rust_files(files: &[(String, String)]) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut test_modules = BTreeSet::new();
    let mut views = Vec::new();
    for (path, text) in files {
        let v = lex::split(text);
        test_modules.extend(test_code::test_module_files(path, &v.code));
        views.push(v);
    }
    for ((path, text), v) in files.iter().zip(&views) {
        if headers::is_generated(text) {
            continue;
        }
        found.extend(headers::check(path, text));
        let test_file =
            test_code::is_test_path(path) || test_code::under_test_module(path, &test_modules);
        if !test_file {
            let test_lines = test_code::test_lines(&v.code);
            found.extend(markers::check(path, v, &test_lines));
            if unwraps::applies_to(path) {
                found.extend(unwraps::check(path, v, &test_lines));
            }
        }
        found.extend(unsafe_code::check(path, v));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_out_of_line_test_module_is_exempt_from_markers() {
        let files = [
            ("crates/a/src/lib.rs", "//! A.\n#[cfg(test)]\nmod tests;\n"),
            ("crates/a/src/tests.rs", "//! Tests.\nfn t() { dbg!(1); }\n"),
            ("crates/a/src/other.rs", "//! Other.\nfn t() { dbg!(1); }\n"),
        ]
        .map(|(p, t)| (p.to_string(), t.to_string()));
        let found = check_rust_files(&files);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "crates/a/src/other.rs");
    }

    #[test]
    fn the_repository_is_tidy() -> anyhow::Result<()> {
        let root = crate::workspace_root()?;
        let report = check_repository(&root)?;
        for note in &report.notes {
            println!("note: {note}");
        }
        let listing: Vec<String> = report.violations.iter().map(|v| v.to_string()).collect();
        assert!(listing.is_empty(), "tidy found:\n{}", listing.join("\n"));
        Ok(())
    }
}
