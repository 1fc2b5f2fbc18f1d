//! One finding of a tidy check: where it is and what is wrong.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The check's name, as `cargo xtask tidy` prints it.
    pub check: &'static str,
    /// Repository-relative path, `/`-separated.
    pub path: String,
    /// 1-based line, or 0 when the finding is about the whole file.
    pub line: usize,
    pub message: String,
}

impl Violation {
    pub fn new(check: &'static str, path: &str, line: usize, message: impl Into<String>) -> Self {
        Violation {
            check,
            path: path.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}:{}: {}",
            self.check, self.path, self.line, self.message
        )
    }
}
