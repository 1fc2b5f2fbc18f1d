//! Check 6: Kafka's error codes are written in one place, the generated
//! `vltava_protocol::error_codes` table. Any other `const NAME: i16 = ...` whose NAME is one
//! of Kafka's error names (test code included) is a violation: take the code from the table
//! (`use vltava_protocol::error_codes::NAME`).

use super::lex;
use super::violation::Violation;
use std::collections::BTreeSet;

/// The generated table, relative to the repository root.
pub const TABLE: &str = "crates/protocol/src/generated/error_codes.rs";

/// The error names the table defines (`pub const NAME: i16 = code;` lines).
pub fn names(table: &str) -> BTreeSet<String> {
    table
        .lines()
        .filter_map(|l| l.strip_prefix("pub const "))
        .filter_map(|l| l.split_once(": i16 ="))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Constants of `names` defined in `files` (path, contents), the table itself excepted.
pub fn check(files: &[(String, String)], names: &BTreeSet<String>) -> Vec<Violation> {
    let mut found = Vec::new();
    for (path, text) in files {
        if path == TABLE {
            continue;
        }
        let code = lex::split(text).code;
        for (n, line) in code.lines().enumerate() {
            let Some(at) = line.find("const ") else {
                continue;
            };
            let rest = &line[at + "const ".len()..];
            let Some((name, _)) = rest.split_once(": i16") else {
                continue;
            };
            if names.contains(name.trim()) {
                let msg = format!(
                    "error code `{}` defined again: use vltava_protocol::error_codes::{}",
                    name.trim(),
                    name.trim()
                );
                found.push(Violation::new("error-codes", path, n + 1, msg));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_definition_of_a_kafka_code_is_found() {
        let table =
            "// Generated\npub const NONE: i16 = 0;\npub const NOT_COORDINATOR: i16 = 16;\n";
        let names = names(table);
        let files = vec![
            (TABLE.to_string(), table.to_string()),
            (
                "crates/x/src/a.rs".to_string(),
                "//! A.\npub const NOT_COORDINATOR: i16 = 16;\nconst LIMIT: i16 = 3;\n"
                    .to_string(),
            ),
            (
                "crates/x/src/b.rs".to_string(),
                "//! B.\n// const NONE: i16 = 0; in a comment\nuse vltava_protocol::error_codes::NONE;\n"
                    .to_string(),
            ),
        ];
        let found = check(&files, &names);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].to_string().contains("crates/x/src/a.rs"));
    }
}
