//! The error-code table: Kafka's `error-codes.tsv` (code, name) as one `pub const` per
//! code and a lookup from code to name, written to `generated/error_codes.rs`. Every crate
//! takes its error codes from there, so a code is written in one place.

use anyhow::{Context, bail};
use std::fmt::Write;
use std::path::Path;

/// Reads `(code, NAME)` pairs from the tab-separated table (a header line first).
pub fn load(path: &Path) -> anyhow::Result<Vec<(i16, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let Some((code, name)) = line.split_once('\t') else {
            bail!("{}:{}: expected code<TAB>name", path.display(), n + 1);
        };
        let code: i16 = code
            .trim()
            .parse()
            .with_context(|| format!("{}:{}: bad code", path.display(), n + 1))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            bail!("{}:{}: bad name {name:?}", path.display(), n + 1);
        }
        out.push((code, name.to_string()));
    }
    out.sort();
    Ok(out)
}

/// The module's text.
pub fn emit(header: &str, codes: &[(i16, String)]) -> anyhow::Result<String> {
    let mut s = format!(
        "{header}//! Kafka's error codes, one constant per code with Kafka's name, and [`name`]\n//! to look a code up.\n\n"
    );
    for (code, name) in codes {
        writeln!(s, "pub const {name}: i16 = {code};")?;
    }
    s.push_str(
        "\n/// Every code with its name, in code order.\npub const ALL: &[(i16, &str)] = &[\n",
    );
    for (code, name) in codes {
        writeln!(s, "    ({code}, {name:?}),")?;
    }
    s.push_str("];\n\n/// Kafka's name of `code`, if Kafka defines it.\npub fn name(code: i16) -> Option<&'static str> {\n    ALL.binary_search_by_key(&code, |(c, _)| *c).ok().map(|i| ALL[i].1)\n}\n");
    Ok(s)
}
