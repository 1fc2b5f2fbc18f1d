//! Splits Rust source into two views of equal lines: code (comments and literal contents
//! blanked) and comments (everything but comment text blanked), so checks can search
//! one without being fooled by the other.

/// The two views of one source text; line `n` of each is line `n` of the source.
#[derive(Debug)]
pub struct Views {
    pub code: String,
    pub comments: String,
}

/// What the lexer is inside of at one character.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Code,
    Comment,
    Literal,
}

pub fn split(src: &str) -> Views {
    let chars: Vec<char> = src.chars().collect();
    let mut kinds = vec![Kind::Code; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let end = line_end(&chars, i);
            kinds[i..end].fill(Kind::Comment);
            i = end;
        } else if c == '/' && next == Some('*') {
            let end = block_comment_end(&chars, i);
            kinds[i..end].fill(Kind::Comment);
            i = end;
        } else if c == '"' {
            let end = string_end(&chars, i + 1);
            fill_inside(&mut kinds, i, end);
            i = end;
        } else if let Some((open, hashes)) = raw_string_start(&chars, i) {
            let end = raw_string_end(&chars, open + 1, hashes);
            kinds[open + 1..end.saturating_sub(1 + hashes).max(open + 1)].fill(Kind::Literal);
            i = end;
        } else if c == '\'' {
            match char_literal_end(&chars, i) {
                Some(end) => {
                    fill_inside(&mut kinds, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    Views {
        code: render(&chars, &kinds, Kind::Code),
        comments: render(&chars, &kinds, Kind::Comment),
    }
}

fn render(chars: &[char], kinds: &[Kind], keep: Kind) -> String {
    chars
        .iter()
        .zip(kinds)
        .map(|(&c, &k)| if c == '\n' || k == keep { c } else { ' ' })
        .collect()
}

/// Marks a literal's contents, keeping its first and last characters (the quotes) as code.
fn fill_inside(kinds: &mut [Kind], start: usize, end: usize) {
    if end > start + 2 {
        kinds[start + 1..end - 1].fill(Kind::Literal);
    }
}

fn line_end(chars: &[char], from: usize) -> usize {
    chars[from..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |p| from + p)
}

fn block_comment_end(chars: &[char], from: usize) -> usize {
    let mut depth = 0usize;
    let mut i = from;
    while i + 1 < chars.len() {
        match (chars[i], chars[i + 1]) {
            ('/', '*') => {
                depth += 1;
                i += 2;
            }
            ('*', '/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index after the closing quote of a string whose contents start at `from`.
fn string_end(chars: &[char], from: usize) -> usize {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `r"`, `r#"`, `br#"`, `cr"`: the index of the opening quote and the number of hashes.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    if chars[i] != 'r' {
        return None;
    }
    let prefix_ok = match i.checked_sub(1).map(|p| chars[p]) {
        None => true,
        Some('b' | 'c') => i < 2 || !is_ident(chars[i - 2]),
        Some(p) => !is_ident(p),
    };
    if !prefix_ok {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    let quote = i + 1 + hashes;
    (chars.get(quote) == Some(&'"')).then_some((quote, hashes))
}

fn raw_string_end(chars: &[char], from: usize, hashes: usize) -> usize {
    let mut i = from;
    while i < chars.len() {
        if chars[i] == '"' && chars[i + 1..].iter().take_while(|&&c| c == '#').count() >= hashes {
            return i + 1 + hashes;
        }
        i += 1;
    }
    chars.len()
}

/// The end of a character literal starting at `i`, or `None` for a lifetime or label.
fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1) {
        Some('\\') => {
            // The escaped character may itself be a quote: search after it.
            let close = chars
                .get(i + 3..)?
                .iter()
                .take(10)
                .position(|&c| c == '\'')?;
            Some(i + 3 + close + 1)
        }
        Some(_) if chars.get(i + 2) == Some(&'\'') => Some(i + 3),
        _ => None,
    }
}

/// Whether `word` occurs in `text` as a whole identifier.
pub fn has_word(text: &str, word: &str) -> bool {
    word_positions(text, word).next().is_some()
}

/// Byte offsets where `word` occurs in `text` not preceded or followed by an identifier
/// character.
pub fn word_positions<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(word).filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let bounded = !before.is_some_and(is_ident) && !after.is_some_and(is_ident);
        bounded.then_some(at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_comments_are_separated_from_code() {
        let v = split(
            "let s = \"unsafe // x\"; // note\nlet c = '\"'; let l: &'a str = r#\"a\"b\"#;\n\
             let q = '\\''; let u = '\\u{7f}'; // end\n",
        );
        assert!(v.comments.contains("end"));
        assert!(!v.code.contains("unsafe"));
        assert!(!v.code.contains("note"));
        assert!(v.comments.contains("note"));
        assert!(!v.comments.contains("unsafe"));
        assert!(v.code.contains("&'a str"));
        assert!(!v.code.contains('b'));
        assert_eq!(v.code.lines().count(), 3);
    }

    #[test]
    fn nested_block_comments_end_at_the_outer_close() {
        let v = split("/* a /* b */ c */ fn f() {}");
        assert!(v.comments.contains(" c "));
        assert!(v.code.contains("fn f()"));
    }

    #[test]
    fn words_respect_identifier_boundaries() {
        assert!(has_word("unsafe { x }", "unsafe"));
        assert!(!has_word("#![forbid(unsafe_code)]", "unsafe"));
    }
}
