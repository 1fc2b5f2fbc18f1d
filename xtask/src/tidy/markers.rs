//! Check 2: no to-do or fix-me markers (the upper-case words, in code or comments) and no
//! `dbg!`, `todo!` or `unimplemented!` calls (in code) outside test code. String literals
//! are not searched. Test code is what [`super::test_code`] recognises.

use super::lex::{self, Views};
use super::test_code::TestLines;
use super::violation::Violation;

/// Spelled in pieces so this file does not flag itself.
const WORDS: [&str; 2] = [concat!("TO", "DO"), concat!("FIX", "ME")];
const MACROS: [&str; 3] = ["dbg", "todo", "unimplemented"];

/// `views` and `test_lines` are the file's; a file that is test code as a whole is not
/// passed here at all.
pub fn check(path: &str, views: &Views, test_lines: &TestLines) -> Vec<Violation> {
    let mut found = Vec::new();
    let lines = views.code.lines().zip(views.comments.lines());
    for (n, (code, comment)) in lines.enumerate().map(|(i, l)| (i + 1, l)) {
        if test_lines.contains(n) {
            continue;
        }
        for word in WORDS {
            if code.contains(word) || comment.contains(word) {
                let msg = format!("`{word}` marker: resolve it or say plainly what is not done");
                found.push(Violation::new("markers", path, n, msg));
            }
        }
        for mac in MACROS {
            let called = lex::word_positions(code, mac)
                .any(|at| code[at + mac.len()..].trim_start().starts_with('!'));
            if called {
                let msg = format!("`{mac}!` outside test code");
                found.push(Violation::new("markers", path, n, msg));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::test_code::test_lines;
    use super::*;

    fn run(src: &str) -> Vec<Violation> {
        let views = lex::split(src);
        let tests = test_lines(&views.code);
        check("lib.rs", &views, &tests)
    }

    #[test]
    fn markers_and_debug_macros_in_library_code_fail() {
        let marker = concat!("// ", "TO", "DO", ": later\nfn f() {}\n");
        assert_eq!(run(marker).len(), 1);
        assert_eq!(run("fn f() { dbg!(1); }\n").len(), 1);
        assert_eq!(run("fn f() -> u8 { todo!() }\n").len(), 1);
        assert_eq!(run("fn f() -> u8 { unimplemented! () }\n").len(), 1);
    }

    #[test]
    fn test_code_strings_and_lookalikes_pass() {
        let src = concat!(
            "fn f() { let s = \"",
            "TO",
            "DO",
            " dbg!(x)\"; my_todo!(); }\n",
            "// dbg!(x) in a comment is prose\n",
            "#[cfg(test)]\nmod tests {\n    fn g() { dbg!(1); todo!() }\n}\n"
        );
        assert_eq!(run(src), Vec::new());
    }
}
