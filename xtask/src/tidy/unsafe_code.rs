//! Check 4: `unsafe` (the keyword, in code) appears only in files that explain it with a
//! `// SAFETY:` comment and test it with a `#[test]` or a `#[cfg(test)]` module.

use super::lex::{self, Views};
use super::violation::Violation;

pub fn check(path: &str, views: &Views) -> Vec<Violation> {
    let Some(line) = views
        .code
        .lines()
        .position(|l| lex::has_word(l, "unsafe"))
        .map(|i| i + 1)
    else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let explained = views
        .comments
        .lines()
        .any(|l| l.trim_start().starts_with("// SAFETY:"));
    if !explained {
        let msg = "`unsafe` without a `// SAFETY:` comment in the file";
        found.push(Violation::new("unsafe", path, line, msg));
    }
    let compact: String = views.code.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("#[test]") && !compact.contains("#[cfg(test)]") {
        let msg = "`unsafe` in a file with no `#[test]` or `#[cfg(test)]` module";
        found.push(Violation::new("unsafe", path, line, msg));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> Vec<Violation> {
        check("a.rs", &lex::split(src))
    }

    #[test]
    fn unexplained_or_untested_unsafe_fails() {
        let bare = "fn f(p: *const u8) -> u8 { unsafe { *p } }\n";
        assert_eq!(run(bare).len(), 2);
        let explained = format!("// SAFETY: p is valid.\n{bare}");
        assert_eq!(run(&explained).len(), 1);
        let tested = format!("{bare}#[test]\nfn t() {{}}\n");
        assert_eq!(run(&tested).len(), 1);
    }

    #[test]
    fn explained_and_tested_unsafe_and_lookalikes_pass() {
        let ok = "// SAFETY: p is valid.\nfn f(p: *const u8) -> u8 { unsafe { *p } }\n#[cfg(test)]\nmod tests {}\n";
        assert!(run(ok).is_empty());
        let words = "#![forbid(unsafe_code)]\nconst K: &str = \"unsafe\"; // unsafe in prose\n";
        assert!(run(words).is_empty());
    }
}
