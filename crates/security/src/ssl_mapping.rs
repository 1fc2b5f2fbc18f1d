//! `ssl.principal.mapping.rules`: Kafka's rules turning a client certificate's subject
//! (RFC 2253, see [`crate::x500`]) into a user name. The value is a list of `DEFAULT` and
//! `RULE:pattern/replacement/[LU]` separated by commas or newlines; `/` inside a pattern or
//! replacement is written `\/`. The first rule whose pattern matches the whole name
//! gives `replacement` (`$1`.. name the pattern's groups), lower-cased with `L`,
//! upper-cased with `U`; `DEFAULT` keeps the name. When no rule applies the client is not
//! authenticated.

use regex::Regex;

/// A rule list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error(
        "invalid ssl.principal.mapping.rules entry {0:?}: expected DEFAULT or RULE:pattern/replacement/[LU]"
    )]
    Syntax(String),
    #[error("invalid pattern in ssl.principal.mapping.rules {rule:?}: {reason}")]
    Pattern { rule: String, reason: String },
    #[error("no ssl.principal.mapping.rules rule applies to {0:?}")]
    NoMatch(String),
}

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        pattern: Regex,
        replacement: String,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// Parsed mapping rules.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

impl Default for PrincipalMapper {
    /// Kafka's default, `DEFAULT`.
    fn default() -> Self {
        PrincipalMapper {
            rules: vec![Rule::Default],
        }
    }
}

/// Splits `s` at unescaped `/`, keeping escapes other than `\/` as they are.
fn split_slashes(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('/') => parts.last_mut().map_or((), |p| p.push('/')),
                Some(n) => {
                    if let Some(p) = parts.last_mut() {
                        p.push('\\');
                        p.push(n);
                    }
                }
                None => parts.last_mut().map_or((), |p| p.push('\\')),
            },
            '/' => parts.push(String::new()),
            c => parts.last_mut().map_or((), |p| p.push(c)),
        }
    }
    parts
}

/// Splits the rule list at commas and newlines that are not inside a rule's
/// pattern or replacement (those are before the rule's third unescaped `/`).
fn split_rules(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut slashes = 0;
    let mut escaped = false;
    for c in s.chars() {
        let in_rule = cur.trim_start().starts_with("RULE:") && slashes < 2;
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '/' {
            slashes += 1;
        } else if (c == ',' || c == '\n') && !in_rule {
            out.push(std::mem::take(&mut cur));
            slashes = 0;
            continue;
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect()
}

/// A Java replacement string (`$1`, `\$`) as the regex crate's (`${1}`, `$$`).
fn java_replacement(r: &str) -> String {
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

impl PrincipalMapper {
    /// Parses a rule list (an empty one means `DEFAULT`).
    pub fn parse(rules: &str) -> Result<Self, MappingError> {
        let mut out = Vec::new();
        for text in split_rules(rules) {
            if text == "DEFAULT" {
                out.push(Rule::Default);
                continue;
            }
            let Some(body) = text.strip_prefix("RULE:") else {
                return Err(MappingError::Syntax(text));
            };
            let parts = split_slashes(body);
            let [pattern, replacement, flags] = parts.as_slice() else {
                return Err(MappingError::Syntax(text));
            };
            let case = match flags.trim() {
                "" => Case::Keep,
                "L" => Case::Lower,
                "U" => Case::Upper,
                _ => return Err(MappingError::Syntax(text)),
            };
            let pattern =
                Regex::new(&format!("^(?:{pattern})$")).map_err(|e| MappingError::Pattern {
                    rule: text.clone(),
                    reason: e.to_string(),
                })?;
            out.push(Rule::Replace {
                pattern,
                replacement: java_replacement(replacement),
                case,
            });
        }
        if out.is_empty() {
            return Ok(Self::default());
        }
        Ok(PrincipalMapper { rules: out })
    }

    /// The user name for the subject `dn`.
    pub fn map(&self, dn: &str) -> Result<String, MappingError> {
        for rule in &self.rules {
            match rule {
                Rule::Default => return Ok(dn.to_string()),
                Rule::Replace {
                    pattern,
                    replacement,
                    case,
                } => {
                    if !pattern.is_match(dn) {
                        continue;
                    }
                    let name = pattern.replace(dn, replacement.as_str()).into_owned();
                    return Ok(match case {
                        Case::Keep => name,
                        Case::Lower => name.to_lowercase(),
                        Case::Upper => name.to_uppercase(),
                    });
                }
            }
        }
        Err(MappingError::NoMatch(dn.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_documented_examples() {
        let m = PrincipalMapper::parse(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT",
        )
        .unwrap();
        assert_eq!(
            m.map("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .unwrap(),
            "serviceuser"
        );
        assert_eq!(
            m.map("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")
                .unwrap(),
            "adminuser@admin"
        );
        assert_eq!(m.map("CN=Client.One,O=x").unwrap(), "client.one");
        assert_eq!(m.map("O=nobody").unwrap(), "O=nobody");
    }

    #[test]
    fn default_slashes_case_and_no_match() {
        assert_eq!(
            PrincipalMapper::parse("").unwrap().map("CN=a").unwrap(),
            "CN=a"
        );
        let m = PrincipalMapper::parse("RULE:^CN=([^,]*).*$/users\\/$1/U").unwrap();
        assert_eq!(m.map("CN=bob,O=x").unwrap(), "USERS/BOB");
        assert_eq!(
            m.map("O=x").unwrap_err(),
            MappingError::NoMatch("O=x".into())
        );
        let m = PrincipalMapper::parse("RULE:CN=(.*)/$1x\\$/\nDEFAULT").unwrap();
        assert_eq!(m.map("CN=a").unwrap(), "ax$");
    }

    #[test]
    fn bad_rules_are_errors() {
        for bad in ["RULE:abc", "RULE:a/b/X", "NOPE", "RULE:(/x/"] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad:?}");
        }
    }
}
