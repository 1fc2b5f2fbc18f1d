//! Recognises test code: the line ranges of items under `#[cfg(test)]` or `#[test]` in a
//! file's code view, and the files that are test code as a whole.
//!
//! A file is test code when its path has a `tests`, `benches` or `examples` directory
//! component, or when a `#[cfg(test)] mod name;` declaration in its parent module names it
//! (then its directory's files are test code too).

use std::collections::BTreeSet;

/// Inclusive 1-based line ranges of test items in one file.
#[derive(Debug, Default)]
pub struct TestLines(Vec<(usize, usize)>);

impl TestLines {
    pub fn contains(&self, line: usize) -> bool {
        self.0.iter().any(|&(a, b)| a <= line && line <= b)
    }
}

/// A test item found in a code view: its line range and, for `mod name;`, the name.
struct TestItem {
    lines: (usize, usize),
    out_of_line_mod: Option<String>,
}

pub fn test_lines(code: &str) -> TestLines {
    TestLines(test_items(code).into_iter().map(|t| t.lines).collect())
}

/// Whether the path alone makes a file test code.
pub fn is_test_path(path: &str) -> bool {
    path.split('/')
        .any(|c| matches!(c, "tests" | "benches" | "examples"))
}

/// Files named by `#[cfg(test)] mod name;` in `path`'s code, as candidate repository paths
/// (`name.rs` and `name/mod.rs` in the module's directory).
pub fn test_module_files(path: &str, code: &str) -> Vec<String> {
    let dir = module_dir(path);
    test_items(code)
        .into_iter()
        .filter_map(|t| t.out_of_line_mod)
        .flat_map(|name| [format!("{dir}{name}.rs"), format!("{dir}{name}/mod.rs")])
        .collect()
}

/// Whether `path` is inside a test module file's directory or is such a file.
pub fn under_test_module(path: &str, test_files: &BTreeSet<String>) -> bool {
    test_files.iter().any(|t| {
        let stem = t
            .strip_suffix("mod.rs")
            .unwrap_or(t.trim_end_matches(".rs"));
        path == t || path.starts_with(&format!("{}/", stem.trim_end_matches('/')))
    })
}

/// The directory a module's `mod x;` children live in, with a trailing slash.
fn module_dir(path: &str) -> String {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    match file {
        "mod.rs" | "lib.rs" | "main.rs" => prefix,
        other => format!("{prefix}{}/", other.trim_end_matches(".rs")),
    }
}

fn test_items(code: &str) -> Vec<TestItem> {
    let bytes = code.as_bytes();
    let mut items = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[").map(|p| p + from) {
        let Some(attr_end) = close_of(bytes, at + 1, b'[', b']') else {
            break;
        };
        let attr: String = code[at + 2..attr_end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        from = attr_end + 1;
        if attr != "cfg(test)" && attr != "test" {
            continue;
        }
        let Some((end, name)) = item_end(code, attr_end + 1) else {
            break;
        };
        items.push(TestItem {
            lines: (line_of(code, at), line_of(code, end)),
            out_of_line_mod: name,
        });
        from = end + 1;
    }
    items
}

/// The end of the item starting after an attribute: its `;` or its closing brace. For
/// `mod name;` also the module's name.
fn item_end(code: &str, from: usize) -> Option<(usize, Option<String>)> {
    let bytes = code.as_bytes();
    let mut i = from;
    let mut depth = 0i32;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' if depth == 0 => return close_of(bytes, i, b'{', b'}').map(|e| (e, None)),
            b';' if depth == 0 => return Some((i, mod_name(&code[from..i]))),
            _ => {}
        }
        i += 1;
    }
    None
}

fn mod_name(item: &str) -> Option<String> {
    let words: Vec<&str> = item.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "mod")?;
    words.get(at + 1).map(|n| n.to_string())
}

/// The index of the bracket closing the one at `open`.
fn close_of(bytes: &[u8], open: usize, up: u8, down: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        if b == up {
            depth += 1;
        } else if b == down {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn line_of(code: &str, at: usize) -> usize {
    code[..at].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cfg_test_module_and_a_test_fn_are_test_lines() {
        let code = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() {}\n}\nfn c() {}\n#[test]\nfn d() {\n}\n";
        let t = test_lines(code);
        assert!(!t.contains(1));
        assert!(t.contains(2) && t.contains(4) && t.contains(5));
        assert!(!t.contains(6));
        assert!(t.contains(8) && t.contains(9));
    }

    #[test]
    fn out_of_line_test_modules_name_their_files() {
        let files = test_module_files("crates/a/src/x/elections.rs", "#[cfg(test)]\nmod tests;\n");
        assert_eq!(
            files,
            [
                "crates/a/src/x/elections/tests.rs",
                "crates/a/src/x/elections/tests/mod.rs"
            ]
        );
        let set: BTreeSet<String> = files.into_iter().collect();
        assert!(under_test_module("crates/a/src/x/elections/tests.rs", &set));
        assert!(!under_test_module("crates/a/src/x/elections.rs", &set));
        assert!(
            test_module_files("crates/a/src/lib.rs", "#[cfg(feature = \"x\")]\nmod y;").is_empty()
        );
    }

    #[test]
    fn paths_under_tests_benches_examples_are_test_code() {
        assert!(is_test_path("crates/a/tests/it/main.rs"));
        assert!(!is_test_path("crates/a/src/testing.rs"));
    }
}
