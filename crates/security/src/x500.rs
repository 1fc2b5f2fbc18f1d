//! The subject of an X.509 certificate (DER) as Java's `X500Principal.getName()` writes it
//! (RFC 2253): relative distinguished names from the last to the first, `,` between them,
//! `+` inside a multi-valued one; CN, C, L, ST, O, OU, STREET, DC and UID by keyword, other
//! attributes as `<dotted OID>=#<hex of the DER value>`; `,=+<>#;"\` escaped with `\`, and
//! a leading or trailing space. This is the name Kafka's SSL principal starts from.
//!
//! Only as much DER as the path to the subject needs is read, with every length checked.

use std::fmt::Write as _;

/// A certificate whose subject cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed certificate: {0}")]
pub struct BadCertificate(pub &'static str);

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// One DER element: (tag, content, whole encoding, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn tlv(input: &[u8]) -> Result<Tlv<'_>, BadCertificate> {
    let (&tag, rest) = input.split_first().ok_or(BadCertificate("truncated"))?;
    if tag & 0x1f == 0x1f {
        return Err(BadCertificate("multi-byte tags are not used in a subject"));
    }
    let (&first, rest) = rest.split_first().ok_or(BadCertificate("truncated"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(BadCertificate("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(BadCertificate("truncated"));
    }
    let header = input.len() - rest.len();
    Ok((tag, &rest[..len], &input[..header + len], &rest[len..]))
}

fn expect(input: &[u8], want: u8) -> Result<(&[u8], &[u8]), BadCertificate> {
    let (tag, content, _, rest) = tlv(input)?;
    if tag != want {
        return Err(BadCertificate("unexpected element"));
    }
    Ok((content, rest))
}

/// The DER of the subject Name of a DER certificate.
pub fn subject_der(cert: &[u8]) -> Result<&[u8], BadCertificate> {
    let (certificate, _) = expect(cert, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.3;
    }
    // serialNumber, signature, issuer, validity
    for _ in 0..4 {
        rest = tlv(rest)?.3;
    }
    let (tag, _, whole, _) = tlv(rest)?;
    if tag != SEQUENCE {
        return Err(BadCertificate("subject is not a sequence"));
    }
    Ok(whole)
}

/// The RFC 2253 subject name of a DER certificate.
pub fn subject_name(cert: &[u8]) -> Result<String, BadCertificate> {
    name_to_rfc2253(subject_der(cert)?)
}

fn keyword(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x09] => "STREET",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

fn dotted(oid: &[u8]) -> Result<String, BadCertificate> {
    let (&first, rest) = oid.split_first().ok_or(BadCertificate("empty OID"))?;
    let mut out = format!("{}.{}", first / 40, first % 40);
    let mut acc: u64 = 0;
    for &b in rest {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if acc > u64::MAX >> 8 {
            return Err(BadCertificate("OID arc too large"));
        }
        if b & 0x80 == 0 {
            let _ = write!(out, ".{acc}");
            acc = 0;
        }
    }
    Ok(out)
}

/// The text of a string-typed attribute value, or `None` for other types.
fn string_value(tag: u8, content: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, T61String (read as Latin-1 when not UTF-8)
        0x0c | 0x13 | 0x16 => std::str::from_utf8(content).ok().map(str::to_string),
        0x14 => Some(
            std::str::from_utf8(content)
                .map(str::to_string)
                .unwrap_or_else(|_| content.iter().map(|b| char::from(*b)).collect()),
        ),
        // BMPString: UTF-16BE
        0x1e if content.len() % 2 == 0 => {
            let units: Vec<u16> = content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UTF-32BE
        0x1c if content.len() % 4 == 0 => content
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

fn escape(value: &str, out: &mut String) {
    let n = value.chars().count();
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i + 1 == n);
        if ",=+<>#;\"\\".contains(c) || edge_space {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A DER Name as RFC 2253 text.
pub fn name_to_rfc2253(name: &[u8]) -> Result<String, BadCertificate> {
    let (mut rdns, _) = expect(name, SEQUENCE)?;
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (set, rest) = expect(rdns, SET)?;
        rdns = rest;
        let mut avas = Vec::new();
        let mut items = set;
        while !items.is_empty() {
            let (ava, rest) = expect(items, SEQUENCE)?;
            items = rest;
            let (oid, value) = expect(ava, OID)?;
            let (tag, content, whole, _) = tlv(value)?;
            let mut text = String::new();
            let shown = keyword(oid).and_then(|k| string_value(tag, content).map(|v| (k, v)));
            match shown {
                Some((k, v)) => {
                    text.push_str(k);
                    text.push('=');
                    escape(&v, &mut text);
                }
                None => {
                    text.push_str(&dotted(oid)?);
                    text.push_str("=#");
                    for b in whole {
                        let _ = write!(text, "{b:02x}");
                    }
                }
            }
            avas.push(text);
        }
        parts.push(avas.join("+"));
    }
    parts.reverse();
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    fn ava(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        der(SEQUENCE, &[der(OID, oid), der(tag, value)].concat())
    }

    fn rdn(avas: &[Vec<u8>]) -> Vec<u8> {
        der(SET, &avas.concat())
    }

    #[test]
    fn names_print_last_rdn_first_with_kafkas_keywords() {
        let name = der(
            SEQUENCE,
            &[
                rdn(&[ava(&[0x55, 4, 6], 0x13, b"CZ")]),
                rdn(&[ava(&[0x55, 4, 10], 0x0c, b"Acme, Inc")]),
                rdn(&[
                    ava(&[0x55, 4, 11], 0x0c, b"eng"),
                    ava(&[0x55, 4, 11], 0x0c, b"ops"),
                ]),
                rdn(&[ava(&[0x55, 4, 3], 0x0c, b" client=1 ")]),
            ]
            .concat(),
        );
        assert_eq!(
            name_to_rfc2253(&name).unwrap(),
            r"CN=\ client\=1\ ,OU=eng+OU=ops,O=Acme\, Inc,C=CZ"
        );
    }

    #[test]
    fn unknown_attributes_are_hex() {
        // emailAddress 1.2.840.113549.1.9.1 as IA5String "a@b"
        let oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
        let name = der(SEQUENCE, &rdn(&[ava(&oid, 0x16, b"a@b")]));
        assert_eq!(
            name_to_rfc2253(&name).unwrap(),
            "1.2.840.113549.1.9.1=#1603614062"
        );
    }

    #[test]
    fn the_subject_is_found_in_a_certificate() {
        let subject = der(SEQUENCE, &rdn(&[ava(&[0x55, 4, 3], 0x0c, b"client")]));
        let issuer = der(SEQUENCE, &rdn(&[ava(&[0x55, 4, 3], 0x0c, b"ca")]));
        let tbs = der(
            SEQUENCE,
            &[
                der(0xa0, &der(0x02, &[2])),
                der(0x02, &[1]),
                der(SEQUENCE, &der(OID, &[0x2a])),
                issuer,
                der(SEQUENCE, &[]),
                subject,
                der(SEQUENCE, &[]),
            ]
            .concat(),
        );
        let cert = der(
            SEQUENCE,
            &[tbs, der(SEQUENCE, &[]), der(0x03, &[0])].concat(),
        );
        assert_eq!(subject_name(&cert).unwrap(), "CN=client");
        for cut in 0..cert.len() {
            assert!(subject_name(&cert[..cut]).is_err(), "truncated at {cut}");
        }
        assert!(subject_name(b"garbage").is_err());
    }
}
