//! Reads a Markdown document into paragraphs (a list item or a blank-line separated
//! block, outside fenced code) with their headings and their backtick code spans.

/// One paragraph: the `##` and `###` headings above it, its text and its code spans.
#[derive(Debug)]
pub struct Paragraph {
    pub headings: String,
    pub text: String,
    pub spans: Vec<Span>,
}

/// One backtick code span and the 1-based line it starts on.
#[derive(Debug)]
pub struct Span {
    pub line: usize,
    pub text: String,
}

pub fn paragraphs(md: &str) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let (mut h2, mut h3) = (String::new(), String::new());
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut fenced = false;
    for (i, line) in md.lines().enumerate() {
        let n = i + 1;
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            flush(&mut out, &mut lines, &h2, &h3);
            continue;
        }
        if fenced {
            continue;
        }
        let starts_item = line.starts_with("- ") || line.starts_with("* ");
        if line.trim().is_empty() || line.starts_with('#') || starts_item {
            flush(&mut out, &mut lines, &h2, &h3);
        }
        if let Some(h) = line.strip_prefix("### ") {
            h3 = h.to_string();
        } else if let Some(h) = line.strip_prefix("## ") {
            h2 = h.to_string();
            h3.clear();
        } else if !line.trim().is_empty() {
            lines.push((n, line));
        }
    }
    flush(&mut out, &mut lines, &h2, &h3);
    out
}

fn flush(out: &mut Vec<Paragraph>, lines: &mut Vec<(usize, &str)>, h2: &str, h3: &str) {
    if lines.is_empty() {
        return;
    }
    let text = lines.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
    out.push(Paragraph {
        headings: format!("{h2}\n{h3}"),
        spans: spans(lines),
        text,
    });
    lines.clear();
}

/// Code spans of single backticks; a span may continue onto the next line.
fn spans(lines: &[(usize, &str)]) -> Vec<Span> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for &(n, line) in lines {
        for (k, piece) in line.split('`').enumerate() {
            if k > 0 {
                open = match open.take() {
                    Some((start, text)) => {
                        found.push(Span { line: start, text });
                        None
                    }
                    None => Some((n, String::new())),
                };
            }
            if let Some((_, text)) = open.as_mut() {
                text.push_str(piece);
            }
        }
        if let Some((_, text)) = open.as_mut() {
            text.push(' ');
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_carry_headings_and_spans() {
        let md = "## vltava-x\n\nIntro `a.rs` and `b\nc`.\n- item `d/`\n```\n`e.rs`\n```\n### Sub\ntext `f`\n";
        let ps = paragraphs(md);
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[0].spans.len(), 2);
        assert_eq!(ps[0].spans[1].text, "b c");
        assert_eq!(ps[0].spans[1].line, 3);
        assert_eq!(ps[1].spans[0].text, "d/");
        assert_eq!(ps[2].headings, "vltava-x\nSub");
    }
}
