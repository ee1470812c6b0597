//! Request-body parsing helpers that turn a JSON object into typed fields while
//! collecting every invalid field, so one response names all of them.

use crate::kernel::error::{CoreError, FieldError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Reads typed fields out of a JSON object, remembering each problem.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    /// Problems found so far.
    pub errors: Vec<FieldError>,
}

/// An optional field that may also be explicitly `null` (to clear it on update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch<T> {
    /// The key was absent: leave the value alone.
    Keep,
    /// The key was `null`: clear the value.
    Clear,
    /// A new value.
    Set(T),
}

impl<'a> Fields<'a> {
    /// Starts reading `value`, which must be a JSON object.
    pub fn new(value: &'a Value) -> Result<Self, CoreError> {
        match value {
            Value::Object(obj) => Ok(Self { obj, prefix: String::new(), errors: Vec::new() }),
            _ => Err(CoreError::refused("invalid_request", "The request body must be a JSON object.".into())),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn fail(&mut self, name: &str, code: &str) {
        let field = self.path(name);
        self.errors.push(FieldError::new(field, code));
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// A required non-empty string of at most `max` characters, trimmed.
    pub fn required_string(&mut self, name: &str, max: usize) -> Option<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => {
                self.fail(name, "required");
                None
            }
            Some(_) => {
                let s = self.optional_string(name, max)?;
                if s.is_empty() {
                    self.fail(name, "required");
                    return None;
                }
                Some(s)
            }
        }
    }

    /// An optional string of at most `max` characters, trimmed.
    pub fn optional_string(&mut self, name: &str, max: usize) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => {
                let s = s.trim();
                if s.chars().count() > max {
                    self.fail(name, "too_long");
                    None
                } else {
                    Some(s.to_owned())
                }
            }
            _ => {
                self.fail(name, "invalid_type");
                None
            }
        }
    }

    /// An optional string taken exactly as sent (passwords are not trimmed).
    pub fn optional_string_raw(&mut self, name: &str, max: usize) -> Option<String> {
        match self.get(name)? {
            Value::String(s) if s.chars().count() <= max => Some(s.clone()),
            Value::String(_) => {
                self.fail(name, "too_long");
                None
            }
            _ => {
                self.fail(name, "invalid_type");
                None
            }
        }
    }

    /// An optional integer.
    pub fn optional_int(&mut self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Value::Number(n) if n.is_i64() => n.as_i64(),
            _ => {
                self.fail(name, "invalid_type");
                None
            }
        }
    }

    /// A string that may be absent, `null`, or set.
    pub fn patch_string(&mut self, name: &str, max: usize) -> Patch<String> {
        match self.obj.get(name) {
            None => Patch::Keep,
            Some(Value::Null) => Patch::Clear,
            Some(_) => self.optional_string(name, max).map_or(Patch::Keep, Patch::Set),
        }
    }

    /// An optional boolean.
    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.fail(name, "invalid_type");
                None
            }
        }
    }

    /// The array at `name`, if present and at most `max_items` long; a field error otherwise.
    fn array(&mut self, name: &str, max_items: usize) -> Option<&'a Vec<Value>> {
        let Value::Array(items) = self.get(name)? else {
            self.fail(name, "invalid_type");
            return None;
        };
        if items.len() > max_items {
            self.fail(name, "too_many_items");
            return None;
        }
        Some(items)
    }

    /// An optional array of strings.
    pub fn optional_strings(&mut self, name: &str, max_items: usize, max_len: usize) -> Option<Vec<String>> {
        let items = self.array(name, max_items)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if s.chars().count() <= max_len => out.push(s.trim().to_owned()),
                Value::String(_) => self.fail(&format!("{name}[{i}]"), "too_long"),
                _ => self.fail(&format!("{name}[{i}]"), "invalid_type"),
            }
        }
        Some(out)
    }

    /// An optional array of objects, each read by `each`.
    pub fn optional_objects<T>(
        &mut self, name: &str, max_items: usize, mut each: impl FnMut(&mut Fields<'a>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let items = self.array(name, max_items)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Value::Object(obj) = item else {
                self.fail(&format!("{name}[{i}]"), "invalid_type");
                continue;
            };
            let mut sub = Fields { obj, prefix: format!("{}{name}[{i}].", self.prefix), errors: Vec::new() };
            let parsed = each(&mut sub);
            self.errors.append(&mut sub.errors);
            out.extend(parsed);
        }
        Some(out)
    }

    /// WorkOS metadata: at most 50 string values, keys up to 40 and values up to 600
    /// characters. Absent keeps, `null` clears.
    pub fn metadata(&mut self, name: &str) -> Patch<BTreeMap<String, String>> {
        match self.obj.get(name) {
            None => Patch::Keep,
            Some(Value::Null) => Patch::Clear,
            Some(Value::Object(map)) => {
                let before = self.errors.len();
                if map.len() > 50 {
                    self.fail(name, "too_many_keys");
                }
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    if k.is_empty() || k.chars().count() > 40 {
                        self.fail(&format!("{name}.{k}"), "invalid_key");
                        continue;
                    }
                    match v {
                        Value::String(s) if s.chars().count() <= 600 => {
                            out.insert(k.clone(), s.clone());
                        }
                        Value::String(_) => self.fail(&format!("{name}.{k}"), "too_long"),
                        _ => self.fail(&format!("{name}.{k}"), "invalid_type"),
                    }
                }
                if self.errors.len() > before { Patch::Keep } else { Patch::Set(out) }
            }
            Some(_) => {
                self.fail(name, "invalid_type");
                Patch::Keep
            }
        }
    }

    /// A nested object read by `each`, whose fields are named `name.field`. Absent or
    /// `null` gives `None`, recorded as `required` when `required` is set.
    pub fn object<T>(
        &mut self, name: &str, required: bool, each: impl FnOnce(&mut Fields<'a>) -> Option<T>,
    ) -> Option<T> {
        match self.obj.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(name, "required");
                }
                None
            }
            Some(Value::Object(obj)) => {
                let mut sub = Fields { obj, prefix: format!("{}{name}.", self.prefix), errors: Vec::new() };
                let parsed = each(&mut sub);
                self.errors.append(&mut sub.errors);
                parsed
            }
            Some(_) => {
                self.fail(name, "invalid_type");
                None
            }
        }
    }

    /// The raw value of a field; `None` when absent or `null`.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.get(name)
    }

    /// Records a problem found by the caller's own check.
    pub fn invalid(&mut self, name: &str, code: &str) {
        self.fail(name, code);
    }

    /// Ends reading: the collected problems as one validation error, if any.
    pub fn finish(self) -> Result<(), CoreError> {
        if self.errors.is_empty() { Ok(()) } else { Err(CoreError::Invalid(self.errors)) }
    }
}

/// The dotted path of the first string (or object key) in `v` that holds a NUL character,
/// if any. PostgreSQL cannot store one in text, and no WorkOS field carries one, so every
/// engine refuses it at the edge with the same field error.
pub fn nul_path(v: &Value) -> Option<String> {
    fn walk(v: &Value, path: &mut String) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\0"));
                let found = k.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_problem() {
        let v = json!({"name": 5, "domains": ["a.com", 3], "metadata": {"k": 1}});
        let mut f = Fields::new(&v).unwrap();
        assert_eq!(f.required_string("name", 10), None);
        f.optional_strings("domains", 10, 255);
        assert_eq!(f.metadata("metadata"), Patch::Keep);
        let Err(CoreError::Invalid(errs)) = f.finish() else { panic!("expected validation error") };
        let fields: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(fields, [("name", "invalid_type"), ("domains[1]", "invalid_type"), ("metadata.k", "invalid_type")]);
    }

    #[test]
    fn metadata_limits() {
        let big: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        let v = json!({"metadata": big, "m2": {"x".repeat(41): "v"}, "m3": {"k": "v".repeat(601)}, "m4": null});
        let mut f = Fields::new(&v).unwrap();
        assert_eq!(f.metadata("metadata"), Patch::Keep);
        assert_eq!(f.metadata("m2"), Patch::Keep);
        assert_eq!(f.metadata("m3"), Patch::Keep);
        assert_eq!(f.metadata("m4"), Patch::Clear);
        assert_eq!(f.errors.len(), 3);
    }

    #[test]
    fn non_object_body_is_bad_request() {
        assert!(matches!(Fields::new(&json!([1])), Err(CoreError::Refused { .. })));
    }

    #[test]
    fn nul_characters_are_found_with_their_path() {
        assert_eq!(nul_path(&json!({"name": "ok", "list": ["a", "b"]})), None);
        assert_eq!(nul_path(&json!({"name": "a\0b"})).as_deref(), Some("name"));
        assert_eq!(nul_path(&json!({"metadata": {"k": "v\0"}})).as_deref(), Some("metadata.k"));
        assert_eq!(nul_path(&json!({"emails": [{"value": "x"}, {"value": "\0"}]})).as_deref(), Some("emails[1].value"));
        assert!(nul_path(&json!({"k\0": 1})).is_some());
    }
}
