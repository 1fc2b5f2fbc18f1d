//! Lists compared as sets: the elements of every list in a (normalised) `{:#?}` rendering
//! put in a canonical order. Kafka answers several APIs from hash maps (DescribeGroups,
//! CreatePartitions, AlterClientQuotas, a Produce's partitions...), so the order of their
//! answers' elements follows Java's hashing, which no client relies on; scenarios that send
//! requests naming many random resources compare them without it.

/// `text` with the elements of every multi-line list (`[` ... `]`) sorted, nested lists
/// first; everything else unchanged.
pub fn sort_lists(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len());
    for line in sorted(&lines) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn opens_list(line: &str) -> bool {
    line.ends_with('[')
}

fn closes(line: &str) -> bool {
    line.trim_start().starts_with([')', ']', '}'])
}

/// `lines` with every list's elements sorted (recursively).
fn sorted(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        out.push(line.to_owned());
        i += 1;
        if !opens_list(line) {
            continue;
        }
        // The list's body: the lines up to its closing `]` at the same indentation.
        let level = indent(line);
        let start = i;
        while i < lines.len() && !(indent(lines[i]) == level && closes(lines[i])) {
            i += 1;
        }
        out.extend(sorted_elements(&lines[start..i], level + 4));
    }
    out
}

/// The elements of one list body (each starts at indentation `level`), each sorted
/// inside, in sorted order.
fn sorted_elements(body: &[&str], level: usize) -> Vec<String> {
    let mut elements: Vec<Vec<String>> = Vec::new();
    let mut start = 0;
    for i in 1..=body.len() {
        let next_starts = body.get(i).is_none_or(|l| indent(l) == level && !closes(l));
        if next_starts {
            elements.push(sorted(&body[start..i]));
            start = i;
        }
    }
    elements.sort();
    elements.into_iter().flatten().collect()
}

#[cfg(test)]
#[allow(dead_code)] // the structs exist to be printed with Debug
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Item {
        name: &'static str,
        codes: Vec<i16>,
    }

    #[test]
    fn lists_in_any_order_render_the_same_and_different_contents_do_not() {
        let a = vec![
            Item {
                name: "b",
                codes: vec![3, 1],
            },
            Item {
                name: "a",
                codes: vec![2],
            },
        ];
        let b = vec![
            Item {
                name: "a",
                codes: vec![2],
            },
            Item {
                name: "b",
                codes: vec![1, 3],
            },
        ];
        let c = vec![
            Item {
                name: "a",
                codes: vec![2],
            },
            Item {
                name: "b",
                codes: vec![1, 4],
            },
        ];
        let (a, b, c) = (format!("{a:#?}"), format!("{b:#?}"), format!("{c:#?}"));
        assert_ne!(a, b);
        assert_eq!(sort_lists(&a), sort_lists(&b));
        assert_ne!(sort_lists(&a), sort_lists(&c));
        // Nothing is lost or added.
        assert_eq!(sort_lists(&a).lines().count(), a.lines().count());
    }

    #[test]
    fn empty_lists_and_scalars_are_unchanged() {
        let text = "X {\n    a: [],\n    b: 3,\n}\n";
        assert_eq!(sort_lists(text), text);
    }
}
