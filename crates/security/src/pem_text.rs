//! PEM text as Kafka's store keys deliver it (`ssl.keystore.key`,
//! `ssl.keystore.certificate.chain`, `ssl.truststore.certificates`): a properties file may put
//! a whole PEM section on one line (`\` continuations) or write `\n` escapes, which Kafka's
//! PEM reader accepts. [`normalize`] puts each section back into the shape PEM parsers read;
//! the broker's listeners and the client's connections both use it.

/// Each `-----BEGIN X-----` ... `-----END X-----` section on lines of its own, its base64
/// with whitespace and literal `\n` escapes removed and cut into 64-character lines; text
/// outside sections, and an unterminated section, are dropped.
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let end = format!("-----END {label}-----");
        let Some(body_end) = body.find(&end) else {
            break;
        };
        let b64: String = body[..body_end]
            .replace("\\n", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str(&end);
        out.push('\n');
        rest = &body[body_end + end.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn sections_on_one_line_are_rewrapped_and_junk_dropped() {
        let one_line = "-----BEGIN CERTIFICATE----- QUJD REVG\\nR0g= -----END CERTIFICATE----- junk -----BEGIN PRIVATE KEY-----SUpL-----END PRIVATE KEY-----";
        assert_eq!(
            normalize(one_line),
            "-----BEGIN CERTIFICATE-----\nQUJDREVGR0g=\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nSUpL\n-----END PRIVATE KEY-----\n"
        );
        assert_eq!(normalize("no pem here"), "");
        assert_eq!(normalize("-----BEGIN X----- unterminated"), "");
    }

    #[test]
    fn long_bodies_are_cut_into_64_character_lines() {
        let b64 = "A".repeat(100);
        let one_line = format!("-----BEGIN CERTIFICATE----- {b64} -----END CERTIFICATE-----");
        let out = normalize(&one_line);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 36);
        assert_eq!(lines[3], "-----END CERTIFICATE-----");
        let escaped = format!(
            "-----BEGIN X-----\\n{}\\n{}\\n-----END X-----",
            &b64[..50],
            &b64[50..]
        );
        assert_eq!(normalize(&escaped).lines().nth(1), Some(&b64[..64]));
    }
}
