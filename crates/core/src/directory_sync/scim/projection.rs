//! `attributes` and `excludedAttributes`: which attributes of a resource a SCIM client
//! asked to see (RFC 7644 §3.4.2.5).

use serde_json::{Map, Value};
use vestibule_scim::ScimError;
use vestibule_scim::filter::AttrPath;

/// `attributes` / `excludedAttributes` of a request, parsed.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// Only these (plus `id` and `schemas`).
    pub attributes: Vec<AttrPath>,
    /// Never these.
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// Parses the two comma-separated lists.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> std::result::Result<Projection, ScimError> {
        let list = |s: Option<&str>| -> std::result::Result<Vec<AttrPath>, ScimError> {
            s.unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .take(100)
                .map(|a| {
                    AttrPath::parse(a)
                        .ok_or_else(|| ScimError::bad("invalidValue", format!("'{a}' is not an attribute path.")))
                })
                .collect()
        };
        Ok(Projection { attributes: list(attributes)?, excluded: list(excluded)? })
    }

    fn key_of<'a>(obj: &'a Map<String, Value>, path: &AttrPath) -> Option<(Option<&'a String>, &'a String)> {
        if path.is_core() {
            let k = obj.keys().find(|k| k.eq_ignore_ascii_case(&path.attr))?;
            Some((None, k))
        } else {
            let urn = path.schema.as_deref()?;
            let ext = obj.keys().find(|k| k.eq_ignore_ascii_case(urn))?;
            if path.attr.is_empty() {
                return Some((None, ext));
            }
            let inner = obj.get(ext)?.as_object()?.keys().find(|k| k.eq_ignore_ascii_case(&path.attr))?;
            Some((Some(ext), inner))
        }
    }

    /// Applies the projection to a resource's JSON.
    pub fn apply(&self, v: Value) -> Value {
        let Value::Object(mut obj) = v else { return v };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for always in ["schemas", "id"] {
                if let Some(x) = obj.get(always) {
                    out.insert(always.into(), x.clone());
                }
            }
            for p in &self.attributes {
                let Some((ext, key)) = Self::key_of(&obj, p) else { continue };
                let (ext, key) = (ext.cloned(), key.clone());
                match ext {
                    None => {
                        let val = obj[&key].clone();
                        let val = match (&p.sub, val) {
                            (Some(sub), Value::Object(o)) => {
                                let kept: Map<String, Value> =
                                    o.into_iter().filter(|(k, _)| k.eq_ignore_ascii_case(sub)).collect();
                                let mut merged = out.get(&key).and_then(Value::as_object).cloned().unwrap_or_default();
                                merged.extend(kept);
                                Value::Object(merged)
                            }
                            (Some(sub), Value::Array(items)) => Value::Array(
                                items
                                    .into_iter()
                                    .map(|i| match i {
                                        Value::Object(o) => Value::Object(
                                            o.into_iter().filter(|(k, _)| k.eq_ignore_ascii_case(sub)).collect(),
                                        ),
                                        other => other,
                                    })
                                    .collect(),
                            ),
                            (_, v) => v,
                        };
                        out.insert(key, val);
                    }
                    Some(ext) => {
                        let val = obj[&ext][&key].clone();
                        let slot = out.entry(ext).or_insert_with(|| Value::Object(Map::new()));
                        slot[&key] = val;
                    }
                }
            }
            obj = out;
        }
        for p in &self.excluded {
            if ["id", "schemas"].iter().any(|a| p.is(a)) && p.is_core() {
                continue;
            }
            let Some((ext, key)) = Self::key_of(&obj, p) else { continue };
            let (ext, key) = (ext.cloned(), key.clone());
            match (ext, &p.sub) {
                (None, None) => {
                    obj.remove(&key);
                }
                (None, Some(sub)) => {
                    if let Some(Value::Object(o)) = obj.get_mut(&key) {
                        o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                    }
                }
                (Some(ext), _) => {
                    if let Some(Value::Object(o)) = obj.get_mut(&ext) {
                        o.remove(&key);
                    }
                }
            }
        }
        Value::Object(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projections_keep_and_drop() {
        let v = json!({"schemas": ["s"], "id": "1", "userName": "a", "name": {"givenName": "A", "familyName": "B"}, "title": "t",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d", "division": "v"}});
        let p = Projection::parse(
            Some("userName,name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        )
        .unwrap();
        assert_eq!(
            p.apply(v.clone()),
            json!({"schemas": ["s"], "id": "1", "userName": "a", "name": {"givenName": "A"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}})
        );
        let p = Projection::parse(None, Some("title,name.familyName,id")).unwrap();
        let out = p.apply(v);
        assert!(out.get("title").is_none());
        assert_eq!(out["name"], json!({"givenName": "A"}));
        assert_eq!(out["id"], json!("1"));
    }
}
