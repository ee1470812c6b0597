//! SCIM filters, parsed by the core into a [`Cond`] tree, rendered as parameterised SQL
//! over the indexed columns of directory users and groups: no value is ever spliced into
//! the text.

use vestibule_core::directory_sync::scim::{Cond, Field, Literal};
use vestibule_scim::filter::CompareOp;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern, keeping case.
fn like_escape_exact(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn column(f: Field) -> &'static str {
    match f {
        Field::Id => "id",
        Field::UserName => "u.user_name_key",
        Field::ExternalId => "external_id",
        Field::DisplayName => "display_name_key",
        Field::GivenName => "u.given_name_key",
        Field::FamilyName => "u.family_name_key",
        Field::Active => "u.active",
        Field::Created => "created_at",
        Field::LastModified => "updated_at",
        Field::EmailValue => "e.value_key",
        Field::EmailType => "e.type",
        Field::EmailPrimary => "e.is_primary",
        Field::MemberValue => "m.user_id",
    }
}

/// Renders `cond` for rows aliased `alias` (`u` or `g`), appending binds; placeholders
/// are numbered from `binds.len() + offset + 1`.
pub(crate) fn cond_sql(cond: &Cond, alias: &str, offset: usize, binds: &mut Vec<Bind>) -> String {
    let col = |f: Field| {
        let c = column(f);
        if c.contains('.') { c.to_owned() } else { format!("{alias}.{c}") }
    };
    let push = |b: Bind, binds: &mut Vec<Bind>| {
        binds.push(b);
        format!("${}", binds.len() + offset)
    };
    match cond {
        Cond::All => "1 = 1".into(),
        Cond::Present(f) => match f {
            Field::Id
            | Field::Active
            | Field::Created
            | Field::LastModified
            | Field::EmailPrimary
            | Field::MemberValue
            | Field::UserName => {
                format!("{} IS NOT NULL", col(*f))
            }
            _ => format!("({0} IS NOT NULL AND {0} <> '')", col(*f)),
        },
        Cond::Cmp(f, op, lit) => {
            let c = col(*f);
            let bind = match lit {
                Literal::Text(s) => Bind::Text(s.clone()),
                Literal::Int(i) => Bind::Int(*i),
                Literal::Bool(b) => Bind::Bool(*b),
            };
            let like = |pattern: String, binds: &mut Vec<Bind>| {
                let p = push(Bind::Text(pattern), binds);
                format!("{c} LIKE {p} ESCAPE '\\'")
            };
            let text = || match lit {
                Literal::Text(s) => like_escape_exact(s),
                _ => String::new(),
            };
            match op {
                CompareOp::Eq => format!("{c} = {}", push(bind, binds)),
                CompareOp::Ne => format!("({c} IS NULL OR {c} <> {})", push(bind, binds)),
                CompareOp::Co => like(format!("%{}%", text()), binds),
                CompareOp::Sw => like(format!("{}%", text()), binds),
                CompareOp::Ew => like(format!("%{}", text()), binds),
                CompareOp::Gt => format!("{c} > {}", push(bind, binds)),
                CompareOp::Ge => format!("{c} >= {}", push(bind, binds)),
                CompareOp::Lt => format!("{c} < {}", push(bind, binds)),
                CompareOp::Le => format!("{c} <= {}", push(bind, binds)),
            }
        }
        Cond::And(a, b) => format!("({} AND {})", cond_sql(a, alias, offset, binds), cond_sql(b, alias, offset, binds)),
        Cond::Or(a, b) => format!("({} OR {})", cond_sql(a, alias, offset, binds), cond_sql(b, alias, offset, binds)),
        Cond::Not(a) => format!("NOT ({})", cond_sql(a, alias, offset, binds)),
        Cond::AnyEmail(inner) => format!(
            "EXISTS (SELECT 1 FROM directory_user_emails e WHERE e.environment_id = {alias}.environment_id AND e.user_id = {alias}.id AND {})",
            cond_sql(inner, alias, offset, binds)
        ),
        Cond::AnyMember(inner) => format!(
            "EXISTS (SELECT 1 FROM directory_group_members m WHERE m.environment_id = {alias}.environment_id AND m.group_id = {alias}.id AND {})",
            cond_sql(inner, alias, offset, binds)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vestibule_core::directory_sync::scim::parse_filter;

    fn render(filter: &str, group: bool) -> (String, Vec<Bind>) {
        let cond = parse_filter(Some(filter), group).unwrap();
        let mut binds = Vec::new();
        let sql = cond_sql(&cond, if group { "g" } else { "u" }, 2, &mut binds);
        (sql, binds)
    }

    #[test]
    fn filters_become_parameterised_sql() {
        let (sql, binds) = render(r#"userName eq "Ada@X.com" and not (active eq false)"#, false);
        assert_eq!(sql, "(u.user_name_key = $3 AND NOT (u.active = $4))");
        assert_eq!(binds, [Bind::Text("ada@x.com".into()), Bind::Bool(false)]);
        let (sql, binds) = render(r#"emails[type eq "work" and value co "50%"] or externalId sw "a_""#, false);
        assert_eq!(
            sql,
            "(EXISTS (SELECT 1 FROM directory_user_emails e WHERE e.environment_id = u.environment_id AND e.user_id = u.id AND \
             (e.type = $3 AND e.value_key LIKE $4 ESCAPE '\\')) OR u.external_id LIKE $5 ESCAPE '\\')"
        );
        assert_eq!(binds, [Bind::Text("work".into()), Bind::Text("%50\\%%".into()), Bind::Text("a\\_%".into())]);
        let (sql, _) = render(r#"members[value eq "directory_user_1"] and displayName pr"#, true);
        assert!(sql.contains("m.user_id = $3") && sql.contains("g.display_name_key IS NOT NULL"), "{sql}");
        let (sql, binds) = render(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false);
        assert_eq!(sql, "u.updated_at > $3");
        assert_eq!(binds, [Bind::Int(1_305_261_754_000)]);
    }
}
