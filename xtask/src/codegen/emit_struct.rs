//! Emits one Rust struct per schema struct: the type, its `Default`, `Decode`,
//! `Encode`, and (behind the `testing` feature) a seeded random generator that
//! only produces values valid at the requested version.

use super::names::field_ident;
use super::schema::{Field, Schema, StructDef, Type, Versions};
use anyhow::{Context, bail};
use std::fmt::Write;

/// A version condition as Rust code, simplified against the range it is asked in.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Always,
    Never,
    Expr(String),
}

/// The condition "version ∈ `vs`" for a version known to lie in `domain`.
pub fn cond(vs: Versions, domain: Versions) -> Cond {
    let r = vs.intersect(domain);
    if r.is_empty() {
        return Cond::Never;
    }
    if r == domain {
        return Cond::Always;
    }
    let mut parts = Vec::new();
    if r.lo > domain.lo {
        parts.push(format!("version >= {}", r.lo));
    }
    if r.hi < domain.hi {
        parts.push(format!("version <= {}", r.hi));
    }
    Cond::Expr(parts.join(" && "))
}

impl Cond {
    pub fn as_bool(&self) -> String {
        match self {
            Cond::Always => "true".into(),
            Cond::Never => "false".into(),
            Cond::Expr(e) => e.clone(),
        }
    }
}

struct Plan<'a> {
    f: &'a Field,
    ident: String,
    /// The decoder's local binding (prefixed, so no field can shadow `version`, `i`, ...).
    local: String,
    path: String,
    present: Cond,
    tag: Option<u32>,
    option: bool,
    /// "may be null here" as a bool expression, for a version where the field is present.
    null: String,
    flex: &'static str,
}

pub struct Ctx<'a> {
    pub schema: &'a Schema,
    pub valid: Versions,
    pub flexible: Cond,
    pub has_flexible: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(schema: &'a Schema) -> Self {
        let flexible = cond(schema.flexible, schema.valid);
        Ctx {
            schema,
            valid: schema.valid,
            has_flexible: flexible != Cond::Never,
            flexible,
        }
    }
}

fn plan<'a>(ctx: &Ctx<'_>, owner: &str, f: &'a Field) -> anyhow::Result<Plan<'a>> {
    let mut present_range = f.versions.intersect(ctx.valid);
    if f.tag.is_some() {
        present_range = present_range.intersect(f.tagged);
        if !ctx.has_flexible {
            bail!(
                "tagged field {owner}.{} in a schema with no flexible versions",
                f.name
            );
        }
    }
    let option = !f.nullable.is_empty()
        && !matches!(
            f.ty,
            Type::Bool
                | Type::Int8
                | Type::Int16
                | Type::Uint16
                | Type::Int32
                | Type::Uint32
                | Type::Int64
                | Type::Float64
                | Type::Uuid
        );
    let flex = if f.tag.is_some() {
        "true"
    } else if f.flexible_override == Some(Versions::NONE) {
        "false"
    } else if f.flexible_override.is_some() {
        bail!("unsupported field flexibleVersions on {owner}.{}", f.name)
    } else {
        "flexible"
    };
    Ok(Plan {
        f,
        ident: field_ident(&f.name),
        local: format!("f_{}", super::names::snake_case(&f.name)),
        path: format!("{owner}.{}", f.name),
        present: cond(present_range, ctx.valid),
        tag: f.tag,
        option,
        null: cond(f.nullable, present_range).as_bool(),
        flex,
    })
}

fn elem_rust(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Int8 => "i8".into(),
        Type::Int16 => "i16".into(),
        Type::Uint16 => "u16".into(),
        Type::Int32 => "i32".into(),
        Type::Uint32 => "u32".into(),
        Type::Int64 => "i64".into(),
        Type::Float64 => "f64".into(),
        Type::String => "SharedStr".into(),
        Type::Bytes | Type::Records => "Bytes".into(),
        Type::Uuid => "Uuid".into(),
        Type::Struct(n) => n.clone(),
        Type::Array(inner) => format!("Vec<{}>", elem_rust(inner)),
    }
}

fn rust_type(p: &Plan<'_>) -> String {
    let t = elem_rust(&p.f.ty);
    if p.option { format!("Option<{t}>") } else { t }
}

fn parse_int(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16)?
    } else {
        body.parse()?
    };
    Ok(if neg { -v } else { v })
}

fn default_expr(p: &Plan<'_>) -> anyhow::Result<String> {
    let f = p.f;
    let d = f.default.as_deref();
    let is_null = matches!(d, Some("null") | Some("None"));
    if is_null {
        if !p.option {
            bail!("null default on non-nullable {}", p.path);
        }
        return Ok("None".into());
    }
    let base = match (&f.ty, d) {
        (Type::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
            "true" => "true".to_string(),
            "false" => "false".to_string(),
            other => bail!("bad bool default {other} on {}", p.path),
        },
        (Type::Bool, None) => "false".into(),
        (
            Type::Int8 | Type::Int16 | Type::Uint16 | Type::Int32 | Type::Uint32 | Type::Int64,
            Some(v),
        ) => parse_int(v)
            .with_context(|| format!("default of {}", p.path))?
            .to_string(),
        (
            Type::Int8 | Type::Int16 | Type::Uint16 | Type::Int32 | Type::Uint32 | Type::Int64,
            None,
        ) => "0".into(),
        (Type::Float64, Some(v)) => format!("{:?}", v.parse::<f64>()?),
        (Type::Float64, None) => "0.0".into(),
        (Type::String, Some(v)) => format!("SharedStr::from_static({v:?})"),
        (Type::String, None) => "SharedStr::default()".into(),
        (Type::Bytes, None) => "Bytes::new()".into(),
        (Type::Records, None) => {
            if p.option {
                return Ok("None".into());
            }
            "Bytes::new()".into()
        }
        (Type::Uuid, None) => "Uuid::ZERO".into(),
        (Type::Array(inner), None) => format!("Vec::<{}>::new()", elem_rust(inner)),
        (Type::Struct(n), None) => format!("{n}::default()"),
        (t, Some(v)) => bail!("unsupported default {v} for {t:?} on {}", p.path),
    };
    Ok(if p.option {
        format!("Some({base})")
    } else {
        base
    })
}

fn fixed_size(ty: &Type) -> Option<usize> {
    Some(match ty {
        Type::Bool | Type::Int8 => 1,
        Type::Int16 | Type::Uint16 => 2,
        Type::Int32 | Type::Uint32 => 4,
        Type::Int64 | Type::Float64 => 8,
        Type::Uuid => 16,
        _ => return None,
    })
}

fn prim_fn(ty: &Type) -> &'static str {
    match ty {
        Type::Bool => "bool",
        Type::Int8 => "i8",
        Type::Int16 => "i16",
        Type::Uint16 => "u16",
        Type::Int32 => "i32",
        Type::Uint32 => "u32",
        Type::Int64 => "i64",
        Type::Float64 => "f64",
        _ => "",
    }
}

/// A nom parser expression (a `PResult`, no `?`) reading one value of `ty` from `i`.
fn read_expr(ty: &Type, option: bool, null: &str, flex: &str) -> String {
    match ty {
        Type::String if option => format!("read::opt_string(i, src, {flex}, {null})"),
        Type::String => format!("read::string(i, src, {flex})"),
        Type::Bytes | Type::Records if option => format!("read::opt_bytes(i, src, {flex}, {null})"),
        Type::Bytes | Type::Records => format!("read::bytes(i, src, {flex})"),
        Type::Uuid => "read::uuid(i)".into(),
        Type::Struct(n) if option => {
            format!("read::opt_struct(i, {null}, |i| {n}::read(i, src, version))")
        }
        Type::Struct(n) => format!("{n}::read(i, src, version)"),
        Type::Array(inner)
            if fixed_size(inner).is_some() && **inner != Type::Bool && **inner != Type::Uuid =>
        {
            let conv = format!("{}::from_be_bytes", elem_rust(inner));
            if option {
                format!("read::fixed_array(i, {flex}, {null}, {conv})")
            } else {
                format!(
                    "read::fixed_array(i, {flex}, false, {conv}).map(|(i, v)| (i, v.unwrap_or_default()))"
                )
            }
        }
        Type::Array(inner) => {
            let elem = read_expr(inner, false, "false", flex);
            if option {
                format!("read::opt_array(i, {flex}, {null}, |i| {elem})")
            } else {
                format!("read::array(i, {flex}, |i| {elem})")
            }
        }
        prim => format!("read::{}(i)", prim_fn(prim)),
    }
}

/// Statements writing the value at place `val` (e.g. `self.x`).
fn write_stmt(ty: &Type, option: bool, val: &str, null: &str, flex: &str, path: &str) -> String {
    match ty {
        Type::String if option => {
            format!("write::opt_string(out, {val}.as_ref(), {flex}, {null}, {path:?}, version)?;")
        }
        Type::String => format!("write::string(out, &{val}, {flex}, {path:?})?;"),
        Type::Bytes | Type::Records if option => {
            format!("write::opt_bytes(out, {val}.as_deref(), {flex}, {null}, {path:?}, version)?;")
        }
        Type::Bytes | Type::Records => format!("write::bytes(out, &{val}, {flex}, {path:?})?;"),
        Type::Uuid => format!("write::uuid(out, &{val});"),
        Type::Struct(_) if option => format!(
            "write::opt_struct(out, {val}.as_ref(), {null}, {path:?}, version, |out, s| s.write(out, version))?;"
        ),
        Type::Struct(_) => format!("{val}.write(out, version)?;"),
        Type::Array(inner) => {
            let elem_val = if fixed_size(inner).is_some() && !matches!(**inner, Type::Uuid) {
                "*e"
            } else {
                "(*e)"
            };
            let elem = write_stmt(inner, false, elem_val, "false", flex, path);
            if option {
                format!(
                    "match {val}.as_ref() {{ Some(v) => {{ write::array_len(out, Some(v.len()), {flex}, {path:?})?; for e in v.iter() {{ {elem} }} }} None => write::null_array(out, {flex}, {null}, {path:?}, version)?, }}"
                )
            } else {
                format!(
                    "write::array_len(out, Some({val}.len()), {flex}, {path:?})?; for e in {val}.iter() {{ {elem} }}"
                )
            }
        }
        prim => format!("write::{}(out, {val});", prim_fn(prim)),
    }
}

/// A `usize` expression: the encoded size of the value at place `val`.
fn len_expr(ty: &Type, option: bool, val: &str, null: &str, flex: &str) -> String {
    match ty {
        Type::String if option => format!("write::nullable_string_len({val}.as_ref(), {flex})"),
        Type::String => format!("write::string_len(&{val}, {flex})"),
        Type::Bytes | Type::Records if option => {
            format!("write::nullable_bytes_len({val}.as_deref(), {flex})")
        }
        Type::Bytes | Type::Records => format!("write::bytes_len(&{val}, {flex})"),
        Type::Struct(_) if option => {
            format!("write::opt_struct_len({val}.as_ref(), {null}, |s| s.encoded_len(version))")
        }
        Type::Struct(_) => format!("{val}.encoded_len(version)"),
        Type::Array(inner) => {
            let elems = |v: &str| match fixed_size(inner) {
                Some(n) => format!("{v}.len() * {n}"),
                None => format!(
                    "{v}.iter().map(|e| {}).sum::<usize>()",
                    len_expr(inner, false, "(*e)", "false", flex)
                ),
            };
            if option {
                format!(
                    "{val}.as_ref().map_or(write::array_len_len(None, {flex}), |v| write::array_len_len(Some(v.len()), {flex}) + {})",
                    elems("v")
                )
            } else {
                format!(
                    "write::array_len_len(Some({val}.len()), {flex}) + {}",
                    elems(val)
                )
            }
        }
        other => fixed_size(other).map(|n| n.to_string()).unwrap_or_default(),
    }
}

fn random_expr(ty: &Type, option: bool, null: &str) -> String {
    let base = |t: &Type| -> String {
        match t {
            Type::String => "g.string()".into(),
            Type::Bytes | Type::Records => "g.bytes()".into(),
            Type::Uuid => "g.uuid()".into(),
            Type::Struct(n) => format!("{n}::random(g, version)"),
            Type::Array(inner) => format!("g.vec(|g| {})", random_expr(inner, false, "false")),
            prim => format!("g.{}()", prim_fn(prim)),
        }
    };
    if option {
        format!("g.maybe({null}, |g| {})", base(ty))
    } else {
        base(ty)
    }
}

fn versions_doc(v: Versions) -> String {
    if v.is_empty() {
        "none".into()
    } else if v.hi == i16::MAX {
        format!("{}+", v.lo)
    } else if v.lo == v.hi {
        format!("{}", v.lo)
    } else {
        format!("{}-{}", v.lo, v.hi)
    }
}

/// Emits the struct `s` of schema `ctx.schema`.
pub fn emit(ctx: &Ctx<'_>, s: &StructDef, out: &mut String) -> anyhow::Result<()> {
    let name = &s.name;
    let plans = s
        .fields
        .iter()
        .map(|f| plan(ctx, name, f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let is_top = *name == ctx.schema.name;
    let utf = if ctx.has_flexible {
        "\n    /// Tagged fields this code does not know, kept so they survive re-encoding.\n    pub unknown_tagged_fields: Vec<RawTaggedField>,"
    } else {
        ""
    };

    // Type.
    if is_top {
        writeln!(
            out,
            "/// `{name}`, valid versions {}, flexible versions {}.",
            versions_doc(ctx.valid),
            versions_doc(ctx.schema.flexible)
        )?;
    } else {
        writeln!(out, "/// `{name}`, a struct within `{}`.", ctx.schema.name)?;
    }
    writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub struct {name} {{"
    )?;
    for p in &plans {
        let mut doc = format!("`{}`: versions {}", p.f.name, versions_doc(p.f.versions));
        if !p.f.nullable.is_empty() {
            let _ = write!(doc, ", nullable {}", versions_doc(p.f.nullable));
        }
        if let Some(t) = p.tag {
            let _ = write!(doc, ", tag {t}");
        }
        if p.f.ignorable {
            doc.push_str(", ignorable");
        }
        if let Some(d) = &p.f.default {
            let _ = write!(doc, ", default {d}");
        }
        writeln!(
            out,
            "    /// {doc}.\n    pub {}: {},",
            p.ident,
            rust_type(p)
        )?;
    }
    writeln!(out, "{utf}\n}}\n")?;

    // Default.
    writeln!(
        out,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        {name} {{"
    )?;
    for p in &plans {
        writeln!(out, "            {}: {},", p.ident, default_expr(p)?)?;
    }
    if ctx.has_flexible {
        writeln!(out, "            unknown_tagged_fields: Vec::new(),")?;
    }
    writeln!(out, "        }}\n    }}\n}}\n")?;

    let flexible_let = format!("let flexible = {};", ctx.flexible.as_bool());

    // Decode.
    writeln!(
        out,
        "impl Decode for {name} {{\n    fn read<'a>(i: &'a [u8], src: &Source<'_>, version: i16) -> PResult<'a, Self> {{"
    )?;
    writeln!(out, "        {flexible_let}")?;
    for p in &plans {
        if p.tag.is_some() {
            writeln!(out, "        let mut {} = {};", p.local, default_expr(p)?)?;
            continue;
        }
        let re = read_expr(&p.f.ty, p.option, &p.null, p.flex);
        match &p.present {
            Cond::Always => writeln!(out, "        let (i, {}) = {re}?;", p.local)?,
            Cond::Never => writeln!(out, "        let {} = {};", p.local, default_expr(p)?)?,
            Cond::Expr(c) => writeln!(
                out,
                "        let (i, {}) = if {c} {{ {re}? }} else {{ (i, {}) }};",
                p.local,
                default_expr(p)?
            )?,
        }
    }
    if ctx.has_flexible {
        writeln!(out, "        let mut unknown_tagged_fields = Vec::new();")?;
        writeln!(
            out,
            "        let i = if flexible {{\n            let (mut i, n) = read::uvarint(i)?;\n            for _ in 0..n {{\n                let (rest, (tag, data)) = read::tagged_field(i)?;\n                i = rest;\n                match tag {{"
        )?;
        for p in plans.iter().filter(|p| p.tag.is_some()) {
            let re = read_expr(&p.f.ty, p.option, &p.null, "true");
            let guard = match &p.present {
                Cond::Always => String::new(),
                Cond::Never => continue,
                Cond::Expr(c) => format!(" if {c}"),
            };
            writeln!(
                out,
                "                    {}{guard} => {} = read::tagged_value(data, tag, |i| {re})?,",
                p.tag.unwrap_or_default(),
                p.local
            )?;
        }
        writeln!(
            out,
            "                    _ => unknown_tagged_fields.push(RawTaggedField {{ tag, data: src.bytes(data) }}),\n                }}\n            }}\n            i\n        }} else {{\n            i\n        }};"
        )?;
    }
    let mut idents: Vec<String> = plans
        .iter()
        .map(|p| format!("{}: {}", p.ident, p.local))
        .collect();
    if ctx.has_flexible {
        idents.push("unknown_tagged_fields".into());
    }
    writeln!(
        out,
        "        Ok((i, {name} {{ {} }}))\n    }}\n}}\n",
        idents.join(", ")
    )?;

    // Encode.
    writeln!(
        out,
        "impl Encode for {name} {{\n    fn write(&self, out: &mut BytesMut, version: i16) -> Result<(), EncodeError> {{"
    )?;
    writeln!(out, "        {flexible_let}")?;
    let not_default = |p: &Plan<'_>| -> anyhow::Result<String> {
        Ok(format!("self.{} != {}", p.ident, default_expr(p)?))
    };
    let reject = |p: &Plan<'_>| {
        format!(
            "return Err(EncodeError::FieldNotInVersion {{ field: {:?}, version }});",
            p.path
        )
    };
    for p in &plans {
        let val = format!("self.{}", p.ident);
        if p.tag.is_some() {
            // Tagged fields are written in the tag section; here only reject unsupported values.
            if !p.f.ignorable && p.present != Cond::Always {
                let absent = match &p.present {
                    Cond::Never => "true".to_string(),
                    Cond::Expr(c) => format!("!({c})"),
                    Cond::Always => unreachable!(),
                };
                writeln!(
                    out,
                    "        if {absent} && {} {{ {} }}",
                    not_default(p)?,
                    reject(p)
                )?;
            }
            continue;
        }
        let ws = write_stmt(&p.f.ty, p.option, &val, &p.null, p.flex, &p.path);
        match (&p.present, p.f.ignorable) {
            (Cond::Always, _) => writeln!(out, "        {ws}")?,
            (Cond::Never, true) => {}
            (Cond::Never, false) => {
                writeln!(out, "        if {} {{ {} }}", not_default(p)?, reject(p))?
            }
            (Cond::Expr(c), true) => writeln!(out, "        if {c} {{ {ws} }}")?,
            (Cond::Expr(c), false) => writeln!(
                out,
                "        if {c} {{ {ws} }} else if {} {{ {} }}",
                not_default(p)?,
                reject(p)
            )?,
        }
    }
    let tagged: Vec<&Plan<'_>> = plans
        .iter()
        .filter(|p| p.tag.is_some() && p.present != Cond::Never)
        .collect();
    let mut sorted = tagged.clone();
    sorted.sort_by_key(|p| p.tag);
    let tag_written = |p: &Plan<'_>| -> anyhow::Result<String> {
        Ok(match &p.present {
            Cond::Expr(c) => format!("{c} && {}", not_default(p)?),
            _ => not_default(p)?,
        })
    };
    if ctx.has_flexible {
        writeln!(
            out,
            "        if flexible {{\n            let mut n = self.unknown_tagged_fields.len();"
        )?;
        for p in &sorted {
            writeln!(out, "            if {} {{ n += 1; }}", tag_written(p)?)?;
        }
        writeln!(out, "            write::uvarint(out, n as u32);")?;
        if !sorted.is_empty() {
            writeln!(
                out,
                "            let mut unknown = self.unknown_tagged_fields.iter().peekable();"
            )?;
        } else {
            writeln!(
                out,
                "            let unknown = self.unknown_tagged_fields.iter();"
            )?;
        }
        for p in &sorted {
            let val = format!("self.{}", p.ident);
            let tag = p.tag.unwrap_or_default();
            writeln!(
                out,
                "            if {} {{\n                write::unknown_tags_before(out, &mut unknown, {tag})?;\n                write::tag_header(out, {tag}, {}, {:?})?;\n                {}\n            }}",
                tag_written(p)?,
                len_expr(&p.f.ty, p.option, &val, &p.null, "true"),
                p.path,
                write_stmt(&p.f.ty, p.option, &val, &p.null, "true", &p.path)
            )?;
        }
        writeln!(
            out,
            "            for f in unknown {{ write::raw_tagged_field(out, f)?; }}\n        }}"
        )?;
    }
    writeln!(out, "        Ok(())\n    }}\n")?;

    writeln!(
        out,
        "    fn encoded_len(&self, version: i16) -> usize {{\n        {flexible_let}\n        let mut len = 0usize;"
    )?;
    for p in &plans {
        if p.tag.is_some() {
            continue;
        }
        let le = len_expr(
            &p.f.ty,
            p.option,
            &format!("self.{}", p.ident),
            &p.null,
            p.flex,
        );
        match &p.present {
            Cond::Always => writeln!(out, "        len += {le};")?,
            Cond::Never => {}
            Cond::Expr(c) => writeln!(out, "        if {c} {{ len += {le}; }}")?,
        }
    }
    if ctx.has_flexible {
        writeln!(
            out,
            "        if flexible {{\n            let mut n = self.unknown_tagged_fields.len();\n            len += write::raw_tagged_fields_len(&self.unknown_tagged_fields);"
        )?;
        for p in &sorted {
            let le = len_expr(
                &p.f.ty,
                p.option,
                &format!("self.{}", p.ident),
                &p.null,
                "true",
            );
            writeln!(
                out,
                "            if {} {{ n += 1; let s = {le}; len += write::tag_header_len({}, s) + s; }}",
                tag_written(p)?,
                p.tag.unwrap_or_default()
            )?;
        }
        writeln!(
            out,
            "            len += write::uvarint_len(n as u32);\n        }}"
        )?;
    }
    writeln!(out, "        let _ = flexible;\n        len\n    }}\n}}\n")?;

    // Random values for property tests.
    writeln!(
        out,
        "#[cfg(feature = \"testing\")]\nimpl crate::testing::Random for {name} {{\n    fn random(g: &mut crate::testing::Gen, version: i16) -> Self {{"
    )?;
    writeln!(
        out,
        "        use crate::testing::Random as _;\n        let _ = version;"
    )?;
    writeln!(out, "        {name} {{")?;
    for p in &plans {
        let re = random_expr(&p.f.ty, p.option, &p.null);
        let v = match &p.present {
            Cond::Always => re,
            Cond::Never => default_expr(p)?,
            Cond::Expr(c) => format!("if {c} {{ {re} }} else {{ {} }}", default_expr(p)?),
        };
        writeln!(out, "            {}: {v},", p.ident)?;
    }
    if ctx.has_flexible {
        writeln!(
            out,
            "            unknown_tagged_fields: if {} {{ g.unknown_tagged_fields() }} else {{ Vec::new() }},",
            ctx.flexible.as_bool()
        )?;
    }
    writeln!(out, "        }}\n    }}\n}}\n")?;
    Ok(())
}
