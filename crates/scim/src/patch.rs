//! PATCH (RFC 7644 §3.5.2) on a JSON resource, plus resource normalization: attribute
//! names in their schema's spelling, booleans that arrive as strings made booleans,
//! `null` treated as unassigned. Identity providers' variants are accepted: Entra ID's
//! `Add`/`Replace`/`Remove`, operations without a path whose value is an object of
//! attributes (dotted or URN-qualified names included), filtered paths with a trailing
//! sub-attribute (`emails[type eq "work"].value`), and `add` through a filter that
//! matches nothing creating the value it describes.

use crate::filter::{self, AttrPath, CompValue, CompareOp, Filter, get_ci};
use crate::{ENTERPRISE_SCHEMA, ScimError};
use serde_json::{Map, Value};

/// Most operations in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attr {
    /// Its canonical spelling.
    pub name: &'static str,
    /// Whether it holds an array.
    pub multi: bool,
    /// Whether it is a boolean (strings `"True"`/`"False"` are converted).
    pub boolean: bool,
    /// Its sub-attributes, canonical spelling; empty for simple attributes.
    pub subs: &'static [&'static str],
}

const fn simple(name: &'static str) -> Attr {
    Attr { name, multi: false, boolean: false, subs: &[] }
}
const fn complex(name: &'static str, subs: &'static [&'static str]) -> Attr {
    Attr { name, multi: false, boolean: false, subs }
}
const fn multi(name: &'static str, subs: &'static [&'static str]) -> Attr {
    Attr { name, multi: true, boolean: false, subs }
}

const MULTI_SUBS: &[&str] = &["value", "display", "type", "primary", "$ref"];

/// The attributes of a resource type: its core schema and its extensions.
#[derive(Debug)]
pub struct Schema {
    /// The core schema URN.
    pub urn: &'static str,
    /// Core attributes.
    pub attrs: &'static [Attr],
    /// Extension schemas and their attributes.
    pub extensions: &'static [(&'static str, &'static [Attr])],
}

/// The User resource (core schema and the enterprise extension).
pub static USER: Schema = Schema {
    urn: crate::USER_SCHEMA,
    attrs: &[
        simple("userName"),
        complex("name", &["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"]),
        simple("displayName"),
        simple("nickName"),
        simple("profileUrl"),
        simple("title"),
        simple("userType"),
        simple("preferredLanguage"),
        simple("locale"),
        simple("timezone"),
        Attr { name: "active", multi: false, boolean: true, subs: &[] },
        simple("password"),
        simple("externalId"),
        multi("emails", MULTI_SUBS),
        multi("phoneNumbers", MULTI_SUBS),
        multi("ims", MULTI_SUBS),
        multi("photos", MULTI_SUBS),
        multi(
            "addresses",
            &["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"],
        ),
        multi("groups", MULTI_SUBS),
        multi("entitlements", MULTI_SUBS),
        multi("roles", MULTI_SUBS),
        multi("x509Certificates", MULTI_SUBS),
    ],
    extensions: &[(
        ENTERPRISE_SCHEMA,
        &[
            simple("employeeNumber"),
            simple("costCenter"),
            simple("organization"),
            simple("division"),
            simple("department"),
            complex("manager", &["value", "$ref", "displayName"]),
        ],
    )],
};

/// The Group resource.
pub static GROUP: Schema = Schema {
    urn: crate::GROUP_SCHEMA,
    attrs: &[simple("displayName"), simple("externalId"), multi("members", &["value", "$ref", "display", "type"])],
    extensions: &[],
};

/// Attributes the server owns; a PATCH may not touch them.
const READ_ONLY: &[&str] = &["id", "meta", "schemas", "groups"];

impl Schema {
    fn attr(&self, schema: Option<&str>, name: &str) -> Option<&'static Attr> {
        let attrs: &'static [Attr] = match schema {
            None => self.attrs,
            Some(s) if s.eq_ignore_ascii_case(self.urn) => self.attrs,
            Some(s) => self.extensions.iter().find(|(u, _)| u.eq_ignore_ascii_case(s))?.1,
        };
        attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn extension(&self, urn: &str) -> Option<&'static str> {
        self.extensions.iter().find(|(u, _)| u.eq_ignore_ascii_case(urn)).map(|(u, _)| *u)
    }
}

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`
    Add,
    /// `replace`
    Replace,
    /// `remove`
    Remove,
}

/// A PATCH path: `attr[.sub]` or `attr[filter][.sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with its sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value filter, if any.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a path; a malformed one is `invalidPath`.
    pub fn parse(s: &str) -> Result<PatchPath, ScimError> {
        let bad = || ScimError::bad("invalidPath", format!("'{s}' is not a valid PATCH path."));
        if s.len() > filter::MAX_LEN {
            return Err(bad());
        }
        let s = s.trim();
        match s.find('[') {
            None => {
                let attr = AttrPath::parse(s).ok_or_else(bad)?;
                Ok(PatchPath { attr, filter: None, sub: None })
            }
            Some(open) => {
                let close = s.rfind(']').ok_or_else(bad)?;
                if close < open {
                    return Err(bad());
                }
                let attr = AttrPath::parse(&s[..open]).ok_or_else(bad)?;
                if attr.sub.is_some() || attr.attr.is_empty() {
                    return Err(bad());
                }
                let inner = filter::parse_value_filter(&s[open + 1..close])
                    .map_err(|e| ScimError::bad("invalidPath", e.detail))?;
                let tail = &s[close + 1..];
                let sub = if tail.is_empty() {
                    None
                } else {
                    let name = tail.strip_prefix('.').ok_or_else(bad)?;
                    AttrPath::parse(name).filter(|p| p.schema.is_none() && p.sub.is_none()).ok_or_else(bad)?;
                    Some(name.to_owned())
                };
                Ok(PatchPath { attr, filter: Some(inner), sub })
            }
        }
    }
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` means the value is an object of attributes.
    pub path: Option<PatchPath>,
    /// The value (absent for most removes).
    pub value: Option<Value>,
}

/// Reads the `Operations` of a PATCH request body.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "A PATCH request needs an 'Operations' array."))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad("tooMany", format!("At most {MAX_OPERATIONS} operations per request.")));
    }
    let mut out = Vec::with_capacity(ops.len());
    for o in ops {
        let kind = match get_ci(o, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => OpKind::Add,
            Some("replace") => OpKind::Replace,
            Some("remove") => OpKind::Remove,
            _ => return Err(ScimError::bad("invalidSyntax", "Each operation's 'op' must be add, replace or remove.")),
        };
        let path = match get_ci(o, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.trim().is_empty() => None,
            Some(Value::String(p)) => Some(PatchPath::parse(p)?),
            Some(_) => return Err(ScimError::bad("invalidPath", "'path' must be a string.")),
        };
        let value = get_ci(o, "value").filter(|v| !v.is_null()).cloned();
        if kind == OpKind::Remove && path.is_none() {
            return Err(ScimError::bad("noTarget", "A remove operation needs a path."));
        }
        if kind != OpKind::Remove && value.is_none() {
            return Err(ScimError::bad("invalidValue", "An add or replace operation needs a value."));
        }
        out.push(Operation { op: kind, path, value });
    }
    Ok(out)
}

fn key_ci(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The object that holds `path`'s attribute: the resource, or an extension's object
/// (created when `create`).
fn container<'a>(
    resource: &'a mut Map<String, Value>, schema: &Schema, path: &AttrPath, create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    if path.is_core() || path.schema.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(schema.urn)) {
        return Ok(Some(resource));
    }
    let urn = path.schema.clone().unwrap_or_default();
    let key = key_ci(resource, &urn).or_else(|| schema.extension(&urn).map(str::to_owned)).unwrap_or(urn);
    if !resource.contains_key(&key) {
        if !create {
            return Ok(None);
        }
        resource.insert(key.clone(), Value::Object(Map::new()));
    }
    match resource.get_mut(&key) {
        Some(Value::Object(m)) => Ok(Some(m)),
        _ => Err(ScimError::bad("invalidValue", format!("'{key}' is not an object."))),
    }
}

fn check_path(schema: &Schema, path: &AttrPath) -> Result<Option<&'static Attr>, ScimError> {
    if READ_ONLY.iter().any(|r| path.is(r)) && path.is_core() {
        return Err(ScimError::bad("mutability", format!("'{}' is read-only.", path.attr)));
    }
    let known_schema = path.is_core() || schema.extension(path.schema.as_deref().unwrap_or("")).is_some();
    let attr = schema.attr(path.schema.as_deref().filter(|_| !path.is_core()), &path.attr);
    if known_schema && attr.is_none() {
        return Err(ScimError::bad("invalidPath", format!("'{}' is not an attribute of this resource.", path.attr)));
    }
    if let (Some(a), Some(sub)) = (attr, &path.sub)
        && !a.subs.iter().any(|s| s.eq_ignore_ascii_case(sub))
    {
        return Err(ScimError::bad("invalidPath", format!("'{}.{sub}' is not an attribute of this resource.", a.name)));
    }
    Ok(attr)
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                let key = key_ci(a, k).unwrap_or_else(|| k.clone());
                a.insert(key, v.clone());
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// The equality pairs of a filter made only of `eq` and `and` (used to create the value
/// an `add` through a filter describes).
fn eq_pairs(f: &Filter, out: &mut Vec<(String, Value)>) -> bool {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value } if path.sub.is_none() => {
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
                CompValue::Null => Value::Null,
            };
            out.push((path.attr.clone(), v));
            true
        }
        Filter::And(a, b) => eq_pairs(a, out) && eq_pairs(b, out),
        _ => false,
    }
}

/// Applies one operation to `resource` (a JSON object).
pub fn apply(resource: &mut Value, schema: &Schema, op: &Operation) -> Result<(), ScimError> {
    let Value::Object(res) = resource else {
        return Err(ScimError::bad("invalidValue", "The resource is not an object."));
    };
    match &op.path {
        None => {
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::bad(
                    "invalidValue",
                    "Without a path, the value must be an object of attributes.",
                ));
            };
            for (k, v) in values {
                // An extension's attributes arrive as one object under its URN.
                let is_ext = k.to_ascii_lowercase().starts_with("urn:")
                    && v.is_object()
                    && AttrPath::parse(k).is_some_and(|p| p.attr.is_empty() || schema.extension(k).is_some());
                if is_ext {
                    for (k2, v2) in v.as_object().into_iter().flatten() {
                        let path = AttrPath::parse(&format!("{k}:{k2}")).ok_or_else(|| {
                            ScimError::bad("invalidPath", format!("'{k2}' is not a valid attribute name."))
                        })?;
                        set_plain(res, schema, &path, op.op, v2.clone())?;
                    }
                    continue;
                }
                if READ_ONLY.iter().any(|r| k.eq_ignore_ascii_case(r)) {
                    continue;
                }
                let path = AttrPath::parse(k)
                    .ok_or_else(|| ScimError::bad("invalidPath", format!("'{k}' is not a valid attribute name.")))?;
                set_plain(res, schema, &path, op.op, v.clone())?;
            }
            Ok(())
        }
        Some(PatchPath { attr, filter: None, .. }) => {
            if attr.attr.is_empty() {
                // The whole extension object.
                let value = op.value.clone().unwrap_or(Value::Null);
                let urn = attr.schema.clone().unwrap_or_default();
                let key = key_ci(res, &urn).or_else(|| schema.extension(&urn).map(str::to_owned)).unwrap_or(urn);
                match op.op {
                    OpKind::Remove => {
                        res.remove(&key);
                    }
                    _ => merge(res.entry(key).or_insert_with(|| Value::Object(Map::new())), &value),
                }
                return Ok(());
            }
            match op.op {
                OpKind::Remove => {
                    check_path(schema, attr)?;
                    let Some(c) = container(res, schema, attr, false)? else { return Ok(()) };
                    let Some(key) = key_ci(c, &attr.attr) else { return Ok(()) };
                    match &attr.sub {
                        None => {
                            c.remove(&key);
                        }
                        Some(sub) => match c.get_mut(&key) {
                            Some(Value::Object(o)) => {
                                if let Some(k) = key_ci(o, sub) {
                                    o.remove(&k);
                                }
                            }
                            Some(Value::Array(items)) => {
                                for i in items.iter_mut().filter_map(Value::as_object_mut) {
                                    if let Some(k) = key_ci(i, sub) {
                                        i.remove(&k);
                                    }
                                }
                            }
                            _ => {}
                        },
                    }
                    Ok(())
                }
                kind => set_plain(res, schema, attr, kind, op.value.clone().unwrap_or(Value::Null)),
            }
        }
        Some(PatchPath { attr, filter: Some(f), sub }) => {
            let def = check_path(schema, attr)?;
            if let (Some(d), Some(s)) = (def, sub)
                && !d.subs.iter().any(|x| x.eq_ignore_ascii_case(s))
            {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("'{}.{s}' is not an attribute of this resource.", d.name),
                ));
            }
            let create = op.op != OpKind::Remove;
            let Some(c) = container(res, schema, attr, create)? else { return Ok(()) };
            let key = key_ci(c, &attr.attr).unwrap_or_else(|| def.map_or(attr.attr.clone(), |d| d.name.to_owned()));
            let items = match c.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items,
                _ => return Err(ScimError::bad("invalidPath", format!("'{key}' is not multi-valued."))),
            };
            let matching: Vec<usize> =
                items.iter().enumerate().filter(|(_, v)| filter::matches(f, v)).map(|(i, _)| i).collect();
            match op.op {
                OpKind::Remove => {
                    match sub {
                        None => {
                            let mut i = 0;
                            items.retain(|_| {
                                let keep = !matching.contains(&i);
                                i += 1;
                                keep
                            });
                        }
                        Some(s) => {
                            for &i in &matching {
                                if let Some(o) = items[i].as_object_mut()
                                    && let Some(k) = key_ci(o, s)
                                {
                                    o.remove(&k);
                                }
                            }
                        }
                    }
                    if items.is_empty() {
                        c.remove(&key);
                    }
                    Ok(())
                }
                kind => {
                    let value = op.value.clone().unwrap_or(Value::Null);
                    if matching.is_empty() {
                        let mut pairs = Vec::new();
                        if kind == OpKind::Replace && sub.is_none() || !eq_pairs(f, &mut pairs) {
                            return Err(ScimError::bad(
                                "noTarget",
                                format!("No value of '{}' matches the filter.", attr.attr),
                            ));
                        }
                        let mut created = Map::new();
                        for (k, v) in pairs {
                            created.insert(k, v);
                        }
                        let mut created = Value::Object(created);
                        match sub {
                            Some(s) => merge(&mut created, &serde_json::json!({ s.clone(): value })),
                            None => merge(&mut created, &value),
                        }
                        items.push(created);
                        return Ok(());
                    }
                    for &i in &matching {
                        match sub {
                            Some(s) => merge(&mut items[i], &serde_json::json!({ s.clone(): value.clone() })),
                            None if kind == OpKind::Replace && !value.is_object() => items[i] = value.clone(),
                            None => merge(&mut items[i], &value),
                        }
                    }
                    Ok(())
                }
            }
        }
    }
}

/// `add` or `replace` of a value at a filterless path.
fn set_plain(
    res: &mut Map<String, Value>, schema: &Schema, path: &AttrPath, kind: OpKind, value: Value,
) -> Result<(), ScimError> {
    let def = check_path(schema, path)?;
    let c = container(res, schema, path, true)?.expect("created");
    let key = key_ci(c, &path.attr).unwrap_or_else(|| def.map_or(path.attr.clone(), |d| d.name.to_owned()));
    if value.is_null() {
        // Setting null unassigns (RFC 7643 §2.5).
        match &path.sub {
            None => {
                c.remove(&key);
            }
            Some(sub) => {
                if let Some(Value::Object(o)) = c.get_mut(&key)
                    && let Some(k) = key_ci(o, sub)
                {
                    o.remove(&k);
                }
            }
        }
        return Ok(());
    }
    let is_multi = def.is_some_and(|d| d.multi) || matches!(c.get(&key), Some(Value::Array(_)));
    match &path.sub {
        Some(sub) => {
            let slot = c.entry(key).or_insert_with(|| Value::Object(Map::new()));
            match slot {
                Value::Object(o) => {
                    let k = key_ci(o, sub).unwrap_or_else(|| sub.clone());
                    o.insert(k, value);
                }
                Value::Array(items) => {
                    for i in items.iter_mut() {
                        merge(i, &serde_json::json!({ sub.clone(): value.clone() }));
                    }
                }
                other => *other = serde_json::json!({ sub.clone(): value }),
            }
        }
        None if is_multi => {
            let new: Vec<Value> = match value {
                Value::Array(a) => a,
                v => vec![v],
            };
            match kind {
                OpKind::Replace => {
                    c.insert(key, Value::Array(new));
                }
                _ => {
                    let slot = c.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = slot {
                        for v in new {
                            if !items.contains(&v) {
                                items.push(v);
                            }
                        }
                    }
                }
            }
        }
        None => {
            match c.get_mut(&key) {
                // Complex attributes: the given sub-attributes replace or add; others stay.
                Some(existing @ Value::Object(_)) if value.is_object() => merge(existing, &value),
                _ => {
                    c.insert(key, value);
                }
            }
        }
    }
    Ok(())
}

fn to_bool(v: &mut Value) {
    if let Value::String(s) = v {
        if s.eq_ignore_ascii_case("true") {
            *v = Value::Bool(true);
        } else if s.eq_ignore_ascii_case("false") {
            *v = Value::Bool(false);
        }
    }
}

fn normalize_attrs(obj: &mut Map<String, Value>, attrs: &[Attr]) {
    let keys: Vec<String> = obj.keys().cloned().collect();
    for k in keys {
        let Some(def) = attrs.iter().find(|a| a.name.eq_ignore_ascii_case(&k)) else { continue };
        let mut v = obj.remove(&k).unwrap_or(Value::Null);
        if v.is_null() {
            continue;
        }
        if def.boolean {
            to_bool(&mut v);
        }
        if def.multi && !v.is_array() {
            v = Value::Array(vec![v]);
        }
        let fix_subs = |item: &mut Value| {
            if let Value::Object(o) = item {
                let sub_keys: Vec<String> = o.keys().cloned().collect();
                for sk in sub_keys {
                    if let Some(canon) = def.subs.iter().find(|s| s.eq_ignore_ascii_case(&sk))
                        && let Some(mut sv) = o.remove(&sk)
                    {
                        if *canon == "primary" {
                            to_bool(&mut sv);
                        }
                        if !sv.is_null() {
                            o.insert((*canon).to_owned(), sv);
                        }
                    }
                }
            }
        };
        match &mut v {
            Value::Array(items) => {
                items.iter_mut().for_each(fix_subs);
                items.retain(|i| !i.is_null());
            }
            item => fix_subs(item),
        }
        obj.insert(def.name.to_owned(), v);
    }
}

/// Puts a resource in canonical form: schema spellings of attribute names, booleans as
/// booleans, `null` values dropped, server-owned attributes (`id`, `meta`) removed, the
/// write-only `password` (Okta sends one) never kept, and `schemas` listing the core
/// schema plus each extension present.
pub fn normalize(resource: &mut Value, schema: &Schema) {
    let Value::Object(obj) = resource else { return };
    for r in ["id", "meta", "schemas", "password", "groups"] {
        if let Some(k) = key_ci(obj, r) {
            obj.remove(&k);
        }
    }
    normalize_attrs(obj, schema.attrs);
    for (urn, attrs) in schema.extensions {
        if let Some(k) = key_ci(obj, urn)
            && let Some(mut ext) = obj.remove(&k)
        {
            if let Value::Object(e) = &mut ext {
                normalize_attrs(e, attrs);
                if e.is_empty() {
                    continue;
                }
            }
            obj.insert((*urn).to_owned(), ext);
        }
    }
    obj.retain(|_, v| !v.is_null());
    let mut schemas = vec![Value::String(schema.urn.to_owned())];
    for k in obj.keys() {
        if k.to_ascii_lowercase().starts_with("urn:") {
            schemas.push(Value::String(k.clone()));
        }
    }
    obj.insert("schemas".into(), Value::Array(schemas));
}

#[cfg(test)]
mod tests;
