//! SCIM filters translated into [`Cond`], a small condition tree over the fields the
//! store indexes; the store turns it into parameterised SQL, so filters are evaluated by
//! the database.

use crate::directory_sync::fold;
use crate::kernel::time::Timestamp;
use vestibule_scim::ScimError;
use vestibule_scim::filter;
use vestibule_scim::filter::{AttrPath, CompValue, CompareOp, Filter};

/// A field the store can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The resource id.
    Id,
    /// `userName` (folded).
    UserName,
    /// `externalId` (case-exact).
    ExternalId,
    /// `displayName` (folded).
    DisplayName,
    /// `name.givenName` (folded).
    GivenName,
    /// `name.familyName` (folded).
    FamilyName,
    /// `active`.
    Active,
    /// `meta.created` (milliseconds).
    Created,
    /// `meta.lastModified` (milliseconds).
    LastModified,
    /// `emails.value` (folded), inside [`Cond::AnyEmail`].
    EmailValue,
    /// `emails.type` (folded), inside [`Cond::AnyEmail`].
    EmailType,
    /// `emails.primary`, inside [`Cond::AnyEmail`].
    EmailPrimary,
    /// `members.value`, inside [`Cond::AnyMember`].
    MemberValue,
}

/// A literal a field is compared with, already folded where the field is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// Text.
    Text(String),
    /// An integer (timestamps in milliseconds).
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A condition the store evaluates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Matches everything.
    All,
    /// `field op literal`; `ne` also matches an absent field.
    Cmp(Field, CompareOp, Literal),
    /// The field has a value.
    Present(Field),
    /// Both.
    And(Box<Cond>, Box<Cond>),
    /// Either.
    Or(Box<Cond>, Box<Cond>),
    /// Not.
    Not(Box<Cond>),
    /// Some email of the user matches.
    AnyEmail(Box<Cond>),
    /// Some member of the group matches.
    AnyMember(Box<Cond>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    User,
    Group,
    Email,
    Member,
}

fn unsupported(path: &AttrPath) -> ScimError {
    let name = match &path.sub {
        Some(s) => format!("{}.{s}", path.attr),
        None => path.attr.clone(),
    };
    ScimError::bad("invalidFilter", format!("Filtering on '{name}' is not supported."))
}

fn literal(field: Field, op: CompareOp, value: &CompValue, path: &AttrPath) -> std::result::Result<Literal, ScimError> {
    let bad = |why: &str| ScimError::bad("invalidFilter", format!("'{}': {why}", path.attr));
    match field {
        Field::Active | Field::EmailPrimary => match (op, value) {
            (CompareOp::Eq | CompareOp::Ne, CompValue::Bool(b)) => Ok(Literal::Bool(*b)),
            (CompareOp::Eq | CompareOp::Ne, CompValue::Str(s))
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Ok(Literal::Bool(s.eq_ignore_ascii_case("true")))
            }
            _ => Err(bad("a boolean compares with eq or ne and true or false.")),
        },
        Field::Created | Field::LastModified => match (op, value) {
            (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => {
                Err(bad("dates compare with eq, ne, gt, ge, lt or le."))
            }
            (_, CompValue::Str(s)) => {
                Timestamp::parse(s).map(|t| Literal::Int(t.millis())).ok_or_else(|| bad("not an RFC 3339 date-time."))
            }
            _ => Err(bad("dates are quoted RFC 3339 date-times.")),
        },
        _ => match value {
            CompValue::Str(s) => {
                let folded = !matches!(field, Field::Id | Field::ExternalId | Field::MemberValue);
                Ok(Literal::Text(if folded { fold(s) } else { s.clone() }))
            }
            CompValue::Num(n) => Ok(Literal::Text(n.to_string())),
            CompValue::Bool(_) => Err(bad("a text attribute does not compare with a boolean.")),
            CompValue::Null => Err(bad("null only compares with eq or ne.")),
        },
    }
}

/// Wraps a condition on a multi-valued attribute's values (`Cond::AnyEmail`, …).
type Wrap = fn(Box<Cond>) -> Cond;

fn field_of(scope: Scope, path: &AttrPath) -> std::result::Result<(Field, Option<Wrap>), ScimError> {
    if !path.is_core() {
        return Err(unsupported(path));
    }
    let attr = path.attr.to_ascii_lowercase();
    let sub = path.sub_lower();
    let f = match (scope, attr.as_str(), sub.as_deref()) {
        (Scope::User | Scope::Group, "id", None) => (Field::Id, None),
        (Scope::User | Scope::Group, "externalid", None) => (Field::ExternalId, None),
        (Scope::User | Scope::Group, "meta", Some("created")) => (Field::Created, None),
        (Scope::User | Scope::Group, "meta", Some("lastmodified")) => (Field::LastModified, None),
        (Scope::User | Scope::Group, "displayname", None) => (Field::DisplayName, None),
        (Scope::User, "username", None) => (Field::UserName, None),
        (Scope::User, "name", Some("givenname")) => (Field::GivenName, None),
        (Scope::User, "name", Some("familyname")) => (Field::FamilyName, None),
        (Scope::User, "active", None) => (Field::Active, None),
        (Scope::User, "emails", None | Some("value")) => (Field::EmailValue, Some(Cond::AnyEmail as Wrap)),
        (Scope::User, "emails", Some("type")) => (Field::EmailType, Some(Cond::AnyEmail as Wrap)),
        (Scope::User, "emails", Some("primary")) => (Field::EmailPrimary, Some(Cond::AnyEmail as Wrap)),
        (Scope::Group, "members", None | Some("value")) => (Field::MemberValue, Some(Cond::AnyMember as Wrap)),
        (Scope::Email, "value", None) => (Field::EmailValue, None),
        (Scope::Email, "type", None) => (Field::EmailType, None),
        (Scope::Email, "primary", None) => (Field::EmailPrimary, None),
        (Scope::Member, "value", None) => (Field::MemberValue, None),
        _ => return Err(unsupported(path)),
    };
    Ok(f)
}

fn translate(scope: Scope, f: &Filter) -> std::result::Result<Cond, ScimError> {
    Ok(match f {
        Filter::And(a, b) => Cond::And(Box::new(translate(scope, a)?), Box::new(translate(scope, b)?)),
        Filter::Or(a, b) => Cond::Or(Box::new(translate(scope, a)?), Box::new(translate(scope, b)?)),
        Filter::Not(a) => Cond::Not(Box::new(translate(scope, a)?)),
        Filter::Present(path) => {
            let (field, wrap) = field_of(scope, path)?;
            match wrap {
                Some(w) => w(Box::new(Cond::Present(field))),
                None => Cond::Present(field),
            }
        }
        Filter::Compare { path, op, value } => {
            let (field, wrap) = field_of(scope, path)?;
            let cond = match (op, value) {
                (CompareOp::Eq, CompValue::Null) => Cond::Not(Box::new(Cond::Present(field))),
                (CompareOp::Ne, CompValue::Null) => Cond::Present(field),
                _ => Cond::Cmp(field, *op, literal(field, *op, value, path)?),
            };
            match wrap {
                Some(w) => w(Box::new(cond)),
                None => cond,
            }
        }
        Filter::ValuePath { path, filter } => {
            let attr = path.attr.to_ascii_lowercase();
            match (scope, attr.as_str()) {
                (Scope::User, "emails") if path.is_core() => Cond::AnyEmail(Box::new(translate(Scope::Email, filter)?)),
                (Scope::Group, "members") if path.is_core() => {
                    Cond::AnyMember(Box::new(translate(Scope::Member, filter)?))
                }
                _ => return Err(unsupported(path)),
            }
        }
    })
}

/// Parses a `filter` parameter for Users (`group = false`) or Groups into a [`Cond`].
pub fn parse_filter(s: Option<&str>, group: bool) -> std::result::Result<Cond, ScimError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Cond::All),
        Some(s) => translate(if group { Scope::Group } else { Scope::User }, &filter::parse(s)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_translate_to_conditions() {
        let c = parse_filter(Some(r#"userName eq "Ada@Example.com""#), false).unwrap();
        assert_eq!(c, Cond::Cmp(Field::UserName, CompareOp::Eq, Literal::Text("ada@example.com".into())));
        let c = parse_filter(Some(r#"emails[type eq "Work" and value co "@x"]"#), false).unwrap();
        assert!(matches!(c, Cond::AnyEmail(_)));
        let c = parse_filter(Some(r#"externalId eq "AbC""#), false).unwrap();
        assert_eq!(c, Cond::Cmp(Field::ExternalId, CompareOp::Eq, Literal::Text("AbC".into())));
        assert_eq!(
            parse_filter(Some("active eq \"False\""), false).unwrap(),
            Cond::Cmp(Field::Active, CompareOp::Eq, Literal::Bool(false))
        );
        let c = parse_filter(Some(r#"members[value eq "directory_user_1"]"#), true).unwrap();
        assert!(matches!(c, Cond::AnyMember(_)));
        for bad in [
            "nickName eq \"x\"",
            "active gt true",
            "meta.created gt \"yesterday\"",
            "userName eq true",
            "members eq \"x\"",
        ] {
            let e = parse_filter(Some(bad), false).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
        assert_eq!(parse_filter(None, false).unwrap(), Cond::All);
    }
}
