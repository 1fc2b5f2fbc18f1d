//! The schema model: Kafka's JSON message definitions parsed into typed structs
//! (versions, fields, types), with the comment lines stripped.

use anyhow::{Context, bail};
use serde_json::Value;
use std::path::Path;

/// An inclusive version range; empty when `lo > hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub lo: i16,
    pub hi: i16,
}

impl Versions {
    pub const NONE: Versions = Versions { lo: 1, hi: 0 };

    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s == "none" {
            return Ok(Self::NONE);
        }
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Versions {
                lo: lo.parse()?,
                hi: i16::MAX,
            });
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Ok(Versions {
                lo: lo.parse()?,
                hi: hi.parse()?,
            });
        }
        let v = s.parse()?;
        Ok(Versions { lo: v, hi: v })
    }
    pub fn is_empty(&self) -> bool {
        self.lo > self.hi
    }
    pub fn intersect(&self, o: Versions) -> Versions {
        Versions {
            lo: self.lo.max(o.lo),
            hi: self.hi.min(o.hi),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    String,
    Bytes,
    Records,
    Uuid,
    Struct(String),
    Array(Box<Type>),
}

impl Type {
    fn parse(s: &str) -> Type {
        if let Some(inner) = s.strip_prefix("[]") {
            return Type::Array(Box::new(Type::parse(inner)));
        }
        match s {
            "bool" => Type::Bool,
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "uint16" => Type::Uint16,
            "int32" => Type::Int32,
            "uint32" => Type::Uint32,
            "int64" => Type::Int64,
            "float64" => Type::Float64,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            "records" => Type::Records,
            "uuid" => Type::Uuid,
            other => Type::Struct(other.to_string()),
        }
    }
    /// The struct this type names, directly or as an array element.
    pub fn struct_name(&self) -> Option<&str> {
        match self {
            Type::Struct(n) => Some(n),
            Type::Array(inner) => inner.struct_name(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub versions: Versions,
    pub nullable: Versions,
    pub tagged: Versions,
    pub tag: Option<u32>,
    pub ignorable: bool,
    pub default: Option<String>,
    /// A field-level `flexibleVersions` (only RequestHeader.ClientId has one: "none").
    pub flexible_override: Option<Versions>,
    /// Fields of the struct this field declares inline, if any.
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct StructDef {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
    Header,
    Data,
    Metadata,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub name: String,
    pub kind: Kind,
    pub api_key: Option<i16>,
    pub valid: Versions,
    pub flexible: Versions,
    pub deprecated: Option<Versions>,
    pub listeners: Vec<String>,
    pub latest_version_unstable: bool,
    pub fields: Vec<Field>,
    pub common_structs: Vec<StructDef>,
}

/// Reads a schema file, dropping its `//` comment lines.
pub fn load(path: &Path) -> anyhow::Result<Schema> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let v: Value =
        serde_json::from_str(&json).with_context(|| format!("parsing {}", path.display()))?;
    parse_schema(&v).with_context(|| format!("in {}", path.display()))
}

fn str_field<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .with_context(|| format!("missing string {key}"))
}

fn parse_schema(v: &Value) -> anyhow::Result<Schema> {
    let kind = match str_field(v, "type")? {
        "request" => Kind::Request,
        "response" => Kind::Response,
        "header" => Kind::Header,
        "data" => Kind::Data,
        "metadata" => Kind::Metadata,
        other => bail!("unknown schema type {other}"),
    };
    let fields = parse_fields(v.get("fields"))?;
    let common_structs = v
        .get("commonStructs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| {
                    Ok(StructDef {
                        name: str_field(s, "name")?.to_string(),
                        fields: parse_fields(s.get("fields"))?,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(Schema {
        name: str_field(v, "name")?.to_string(),
        kind,
        api_key: v.get("apiKey").and_then(Value::as_i64).map(|k| k as i16),
        valid: Versions::parse(str_field(v, "validVersions")?)?,
        flexible: Versions::parse(str_field(v, "flexibleVersions")?)?,
        deprecated: v
            .get("deprecatedVersions")
            .and_then(Value::as_str)
            .map(Versions::parse)
            .transpose()?,
        listeners: v
            .get("listeners")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        latest_version_unstable: v
            .get("latestVersionUnstable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        fields,
        common_structs,
    })
}

fn parse_fields(v: Option<&Value>) -> anyhow::Result<Vec<Field>> {
    let Some(arr) = v.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    arr.iter().map(parse_field).collect()
}

fn parse_field(v: &Value) -> anyhow::Result<Field> {
    let name = str_field(v, "name")?.to_string();
    let opt_versions = |key: &str| -> anyhow::Result<Option<Versions>> {
        v.get(key)
            .and_then(Value::as_str)
            .map(Versions::parse)
            .transpose()
    };
    // A tagged field may leave out `versions`: it then exists in its tagged versions.
    let versions = match opt_versions("versions")? {
        Some(vs) => vs,
        None => opt_versions("taggedVersions")?
            .with_context(|| format!("field {name} has no versions"))?,
    };
    let default = match v.get("default") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) => Some("null".to_string()),
        Some(other) => Some(other.to_string()),
    };
    if v.get("taggedVersions").is_some() != v.get("tag").is_some() {
        bail!("field {name} must have both tag and taggedVersions or neither");
    }
    Ok(Field {
        ty: Type::parse(str_field(v, "type")?),
        versions,
        nullable: opt_versions("nullableVersions")?.unwrap_or(Versions::NONE),
        tagged: opt_versions("taggedVersions")?.unwrap_or(Versions::NONE),
        // Tags are numbers, but at least one schema writes one as a string ("0").
        tag: match v.get("tag") {
            None => None,
            Some(Value::Number(n)) => Some(n.as_u64().context("negative tag")? as u32),
            Some(Value::String(s)) => {
                Some(s.trim().parse().with_context(|| format!("bad tag {s:?}"))?)
            }
            Some(other) => bail!("bad tag {other}"),
        },
        ignorable: v.get("ignorable").and_then(Value::as_bool).unwrap_or(false),
        default,
        flexible_override: opt_versions("flexibleVersions")?,
        fields: parse_fields(v.get("fields"))?,
        name,
    })
}

impl Schema {
    /// Every struct the schema defines, nested ones included, top-level first.
    pub fn structs(&self) -> anyhow::Result<Vec<StructDef>> {
        let mut out = vec![StructDef {
            name: self.name.clone(),
            fields: self.fields.clone(),
        }];
        fn collect(fields: &[Field], out: &mut Vec<StructDef>) -> anyhow::Result<()> {
            for f in fields {
                if !f.fields.is_empty() {
                    let name =
                        f.ty.struct_name()
                            .context("inline fields on a non-struct field")?;
                    out.push(StructDef {
                        name: name.to_string(),
                        fields: f.fields.clone(),
                    });
                    collect(&f.fields, out)?;
                }
            }
            Ok(())
        }
        collect(&self.fields, &mut out)?;
        for cs in &self.common_structs {
            out.push(cs.clone());
            collect(&cs.fields, &mut out)?;
        }
        let mut seen = std::collections::HashSet::new();
        for s in &out {
            if !seen.insert(s.name.clone()) {
                bail!("struct {} defined twice in {}", s.name, self.name);
            }
        }
        Ok(out)
    }
}
