//! The `key=value` properties text format (`#`/`!` comments, `=` or `:`
//! separators, trailing-backslash continuation lines) and the `KAFKA_*`
//! environment variable naming rule.

use std::collections::BTreeMap;

/// Raw properties by name, later entries overriding earlier ones.
pub type Properties = BTreeMap<String, String>;

/// Parses Java-properties-style text (the subset `server.properties` uses).
pub fn parse_properties(text: &str) -> Properties {
    let mut out = Properties::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        insert_entry(&mut out, &entry);
    }
    if !pending.is_empty() {
        insert_entry(&mut out, &pending);
    }
    out
}

fn insert_entry(out: &mut Properties, entry: &str) {
    let split = entry.find(['=', ':']);
    let (k, v) = match split {
        Some(i) => (&entry[..i], &entry[i + 1..]),
        None => (entry, ""),
    };
    let k = k.trim();
    if !k.is_empty() {
        out.insert(k.to_string(), v.trim().to_string());
    }
}

/// Maps a `KAFKA_*` environment variable name to its property name the way
/// Kafka's container images do: drop `KAFKA_`, lower-case, `___` → `-`,
/// `__` → `_`, `_` → `.`. Returns `None` for other variables.
pub fn env_key_to_property(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KAFKA_")?;
    if rest.is_empty() {
        return None;
    }
    let lower = rest.to_ascii_lowercase();
    let mut out = String::with_capacity(lower.len());
    let b = lower.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_' {
            let run = b[i..].iter().take_while(|c| **c == b'_').count();
            match run {
                1 => out.push('.'),
                2 => out.push('_'),
                3 => out.push('-'),
                n => out.push_str(&"_".repeat(n)),
            }
            i += run;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comments_separators_and_continuations() {
        let p = parse_properties(
            "# c\n! c2\nnode.id=3\nlog.dirs : /a,\\\n  /b\nlisteners=PLAINTEXT://h:1\nempty\n",
        );
        assert_eq!(p["node.id"], "3");
        assert_eq!(p["log.dirs"], "/a,/b");
        assert_eq!(p["listeners"], "PLAINTEXT://h:1");
        assert_eq!(p["empty"], "");
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn env_names_map_like_kafka_images() {
        assert_eq!(
            env_key_to_property("KAFKA_LOG_DIRS").as_deref(),
            Some("log.dirs")
        );
        assert_eq!(
            env_key_to_property("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP").as_deref(),
            Some("listener.security.protocol.map")
        );
        assert_eq!(
            env_key_to_property("KAFKA_A__B___C").as_deref(),
            Some("a_b-c")
        );
        assert_eq!(env_key_to_property("PATH"), None);
        assert_eq!(env_key_to_property("KAFKA_"), None);
    }
}
