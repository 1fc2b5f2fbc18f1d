//! Kafka's `sasl.jaas.config` value, one JAAS login module entry:
//! `<LoginModule class> <flag> key="value" key2=value2;` (as in
//! `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin"
//! password="admin-secret" user_alice="alice-secret";`). Values are bare words or
//! double-quoted strings with `\` escapes; the trailing `;` is required, as Java's parser
//! requires it.

use std::collections::BTreeMap;

/// The class of Kafka's PLAIN login module.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
/// The prefix of PLAIN's user options (`user_alice="secret"`).
pub const PLAIN_USER_PREFIX: &str = "user_";

/// A login module's control flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFlag {
    Required,
    Requisite,
    Sufficient,
    Optional,
}

/// One parsed login module entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module's class name.
    pub login_module: String,
    pub flag: ControlFlag,
    /// Its options, in key order.
    pub options: BTreeMap<String, String>,
}

impl JaasEntry {
    /// PLAIN's users: each `user_<name>` option, by name.
    pub fn plain_users(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(PLAIN_USER_PREFIX)
                    .filter(|n| !n.is_empty())
                    .map(|n| (n.to_string(), v.clone()))
            })
            .collect()
    }
}

/// A `sasl.jaas.config` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JAAS configuration at character {at}: {reason}")]
pub struct JaasError {
    pub at: usize,
    pub reason: String,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn err(&self, reason: &str) -> JaasError {
        JaasError {
            at: self.i,
            reason: reason.to_string(),
        }
    }
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    /// A bare word: anything up to whitespace, `=`, `;` or `"`.
    fn word(&mut self) -> &str {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || c == b'=' || c == b';' || c == b'"' {
                break;
            }
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }
    fn quoted(&mut self) -> Result<String, JaasError> {
        // At the opening quote.
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted value")),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(c) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    out.push(c);
                    self.i += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.err("value is not UTF-8"))
    }
}

/// Parses one login module entry (a `KafkaServer { ... };` wrapper, as in a JAAS file, is
/// accepted around it).
pub fn parse(text: &str) -> Result<JaasEntry, JaasError> {
    let mut body = text.trim();
    if let Some(open) = body.find('{') {
        let close = body.rfind('}').ok_or_else(|| JaasError {
            at: open,
            reason: "'{' without '}'".into(),
        })?;
        body = &body[open + 1..close];
    }
    let mut c = Cursor {
        s: body.as_bytes(),
        i: 0,
    };
    c.skip_ws();
    let login_module = c.word().to_string();
    if login_module.is_empty() {
        return Err(c.err("expected a login module class name"));
    }
    c.skip_ws();
    let flag = match c.word().to_ascii_lowercase().as_str() {
        "required" => ControlFlag::Required,
        "requisite" => ControlFlag::Requisite,
        "sufficient" => ControlFlag::Sufficient,
        "optional" => ControlFlag::Optional,
        _ => {
            return Err(
                c.err("expected a control flag (required, requisite, sufficient, optional)")
            );
        }
    };
    let mut options = BTreeMap::new();
    loop {
        c.skip_ws();
        match c.peek() {
            None => return Err(c.err("expected ';' at the end of the login module")),
            Some(b';') => {
                c.i += 1;
                break;
            }
            Some(_) => {}
        }
        let key = c.word().to_string();
        if key.is_empty() {
            return Err(c.err("expected an option name"));
        }
        c.skip_ws();
        if c.peek() != Some(b'=') {
            return Err(c.err(&format!("expected '=' after option {key}")));
        }
        c.i += 1;
        c.skip_ws();
        let value = match c.peek() {
            Some(b'"') => c.quoted()?,
            _ => {
                let w = c.word().to_string();
                if w.is_empty() {
                    return Err(c.err(&format!("expected a value for option {key}")));
                }
                w
            }
        };
        options.insert(key, value);
    }
    c.skip_ws();
    if c.peek().is_some() {
        return Err(c.err("more than one login module (sasl.jaas.config holds exactly one)"));
    }
    Ok(JaasEntry {
        login_module,
        flag,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafkas_plain_example() {
        let e = parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";"#,
        )
        .unwrap();
        assert_eq!(e.login_module, PLAIN_LOGIN_MODULE);
        assert_eq!(e.flag, ControlFlag::Required);
        assert_eq!(e.options["username"], "admin");
        let users = e.plain_users();
        assert_eq!(users.len(), 2);
        assert_eq!(users["alice"], "alice-secret");
    }

    #[test]
    fn bare_values_escapes_and_wrappers() {
        let e = parse("KafkaServer {\n  a.B  optional\n k=v  q=\"x \\\" y;z\"\n ;\n};").unwrap();
        assert_eq!(e.login_module, "a.B");
        assert_eq!(e.flag, ControlFlag::Optional);
        assert_eq!(e.options["k"], "v");
        assert_eq!(e.options["q"], "x \" y;z");
    }

    #[test]
    fn broken_configs_are_errors() {
        for bad in [
            "",
            "a.B",
            "a.B required",
            "a.B maybe;",
            "a.B required k;",
            "a.B required k=;",
            "a.B required k=\"open;",
            "a.B required; c.D required;",
            "X { a.B required;",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse("a.B required;").unwrap().options.is_empty());
    }
}
