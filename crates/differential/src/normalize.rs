//! A response as comparable text: its pretty `Debug` form, with the value of every field
//! that legitimately differs between two clusters (ids, addresses, throttle times, free-text
//! error messages) replaced by `_`. Everything else — error codes, offsets, counts, records,
//! configs — stays, so two brokers' transcripts differ only where their behaviour does.

/// Fields whose values differ between any two clusters, whatever the broker.
pub const IGNORED_FIELDS: &[&str] = &[
    "throttle_time_ms",
    "cluster_id",
    "host",
    "port",
    "topic_id",
    "member_id",
    "leader",
    "producer_id",
    "error_message",
    "log_append_time_ms",
    "current_leader",
    "node_endpoints",
    "transaction_start_time_ms",
];

/// `debug` (a `{:#?}` rendering) with the values of [`IGNORED_FIELDS`] replaced by `_`,
/// nested values (`Some(` ... `)`, lists, structs) included.
pub fn normalize(debug: &str) -> String {
    normalize_also(debug, &[])
}

/// As [`normalize`], with the fields `also` ignored too.
pub fn normalize_also(debug: &str, also: &[&str]) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut lines = debug.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let ignored = trimmed
            .split_once(": ")
            .filter(|(name, _)| IGNORED_FIELDS.contains(name) || also.contains(name));
        let Some((name, value)) = ignored else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        out.push_str(indent);
        out.push_str(name);
        out.push_str(": _,\n");
        if value.ends_with('(') || value.ends_with('[') || value.ends_with('{') {
            // Skip the nested lines up to the closing one at this indentation.
            for inner in lines.by_ref() {
                let t = inner.trim_start();
                if inner.len() - t.len() == indent.len() && t.starts_with([')', ']', '}']) {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(dead_code)] // the structs exist to be printed with Debug
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Inner {
        host: String,
        error_code: i16,
    }

    #[derive(Debug)]
    struct Outer {
        throttle_time_ms: i32,
        error_message: Option<String>,
        brokers: Vec<Inner>,
        node_endpoints: Vec<Inner>,
        offset: i64,
    }

    #[test]
    fn ignored_fields_lose_their_values_and_the_rest_stays() {
        let v = Outer {
            throttle_time_ms: 7,
            error_message: Some("broker-specific words".into()),
            brokers: vec![Inner {
                host: "127.0.0.1".into(),
                error_code: 3,
            }],
            node_endpoints: vec![Inner {
                host: "h".into(),
                error_code: 0,
            }],
            offset: 42,
        };
        let text = normalize(&format!("{v:#?}"));
        assert_eq!(
            text,
            "Outer {\n    throttle_time_ms: _,\n    error_message: _,\n    brokers: [\n        \
             Inner {\n            host: _,\n            error_code: 3,\n        },\n    ],\n    \
             node_endpoints: _,\n    offset: 42,\n}\n"
        );
    }

    #[test]
    fn two_answers_that_differ_only_in_ignored_fields_compare_equal() {
        let a = Inner {
            host: "a".into(),
            error_code: 0,
        };
        let b = Inner {
            host: "b".into(),
            error_code: 0,
        };
        let c = Inner {
            host: "a".into(),
            error_code: 6,
        };
        assert_eq!(normalize(&format!("{a:#?}")), normalize(&format!("{b:#?}")));
        assert_ne!(normalize(&format!("{a:#?}")), normalize(&format!("{c:#?}")));
    }
}
