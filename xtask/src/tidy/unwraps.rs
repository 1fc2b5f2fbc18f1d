//! Check 7: no `.unwrap()` in the non-test code of the library crates that serve clients
//! and peers (their `src/`, not `main.rs` or `src/bin/`): bytes from a socket or a file must
//! never reach a bare `unwrap`. An operation that cannot fail states why with
//! `.expect("…")`; one that can fail returns a typed error.

use super::lex::Views;
use super::test_code::TestLines;
use super::violation::Violation;

/// The crates whose library code is on an input path (client, peer or disk bytes).
pub const INPUT_CRATES: [&str; 9] = [
    "protocol",
    "records",
    "storage",
    "broker",
    "coordinator",
    "raft",
    "replication",
    "security",
    "client",
];

/// Whether `path` is library code of one of [`INPUT_CRATES`].
pub fn applies_to(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("crates/") else {
        return false;
    };
    let Some((krate, inner)) = rest.split_once('/') else {
        return false;
    };
    INPUT_CRATES.contains(&krate)
        && inner.starts_with("src/")
        && inner != "src/main.rs"
        && !inner.starts_with("src/bin/")
}

/// `views` and `test_lines` are the file's; whole test files are not passed here.
pub fn check(path: &str, views: &Views, test_lines: &TestLines) -> Vec<Violation> {
    let mut found = Vec::new();
    for (n, code) in views.code.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if test_lines.contains(n) {
            continue;
        }
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains(".unwrap()") {
            let msg = "`.unwrap()` in library code: return a typed error, or say why it \
                       cannot fail with `.expect(\"…\")`";
            found.push(Violation::new("unwrap", path, n, msg));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::{lex, test_code};
    use super::*;

    fn run(src: &str) -> Vec<Violation> {
        let views = lex::split(src);
        let tests = test_code::test_lines(&views.code);
        check("crates/broker/src/a.rs", &views, &tests)
    }

    #[test]
    fn a_bare_unwrap_in_library_code_fails() {
        let found = run("//! A.\nfn f(b: &[u8]) -> u8 { *b.first().unwrap() }\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 2);
    }

    #[test]
    fn expect_tests_strings_and_comments_pass() {
        let ok = "//! A.\n// never .unwrap() here\nconst S: &str = \".unwrap()\";\n\
                  fn f(b: &[u8; 1]) -> u8 { *b.first().expect(\"one byte\") }\n\
                  #[cfg(test)]\nmod tests {\n    fn t() { Some(1).unwrap(); }\n}\n";
        assert!(run(ok).is_empty(), "{:?}", run(ok));
    }

    #[test]
    fn only_library_code_of_input_crates_is_checked() {
        assert!(applies_to("crates/storage/src/log.rs"));
        assert!(!applies_to("crates/broker/src/main.rs"));
        assert!(!applies_to("crates/broker/tests/it/main.rs"));
        assert!(!applies_to("crates/sim/src/world.rs"));
        assert!(!applies_to("xtask/src/main.rs"));
    }
}
