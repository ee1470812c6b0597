//! The may-import rules of `docs/ARCHITECTURE.md`, checked against `cargo metadata`: a
//! crate that gains a dependency it may not have fails here, in CI, before review.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each workspace crate and the workspace crates its normal (non-dev) dependencies may name.
const MAY_IMPORT: &[(&str, &[&str])] = &[
    ("vestibule-ids", &[]),
    ("vestibule-scim", &[]),
    ("vestibule-saml", &[]),
    ("vestibule-core", &["vestibule-ids", "vestibule-scim", "vestibule-saml"]),
    ("vestibule-store", &["vestibule-core", "vestibule-ids", "vestibule-scim"]),
    ("vestibule-server", &["vestibule-core", "vestibule-store", "vestibule-ids", "vestibule-scim"]),
    ("vestibule-client", &[]),
    ("vestibule", &["vestibule-server", "vestibule-core", "vestibule-store", "vestibule-client"]),
    ("vestibule-test-support", &["vestibule-server", "vestibule-store", "vestibule-core"]),
    ("vestibule-bench-baseline", &[]),
];

/// Outside crates a workspace crate must not depend on: HTTP and SQL stay out of the core,
/// SQL out of the server (it reaches the database through the store's traits only).
const MUST_NOT_IMPORT: &[(&str, &[&str])] = &[
    ("vestibule-core", &["axum", "axum-core", "hyper", "http", "tower", "tower-http", "sqlx", "reqwest", "lettre"]),
    ("vestibule-store", &["axum", "hyper", "tower", "reqwest"]),
    ("vestibule-server", &["sqlx"]),
    ("vestibule-scim", &["axum", "sqlx", "reqwest", "tokio"]),
    ("vestibule-saml", &["axum", "sqlx", "reqwest", "tokio"]),
    ("vestibule-ids", &["axum", "sqlx", "reqwest", "tokio"]),
];

/// Each workspace package with the names of its normal dependencies.
fn workspace() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let mut crates = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null()) // normal dependencies; dev and build ones are `"dev"`/`"build"`
            .map(|d| d["name"].as_str().expect("dependency name").to_owned())
            .collect();
        crates.insert(p["name"].as_str().expect("package name").to_owned(), deps);
    }
    crates
}

#[test]
fn every_workspace_crate_has_a_rule() {
    let crates = workspace();
    let ruled: BTreeSet<&str> = MAY_IMPORT.iter().map(|(c, _)| *c).collect();
    let found: BTreeSet<&str> = crates.keys().map(String::as_str).collect();
    assert_eq!(found, ruled, "a crate was added or renamed: give it a line in MAY_IMPORT and in docs/ARCHITECTURE.md");
}

#[test]
fn workspace_crates_import_only_what_they_may() {
    let crates = workspace();
    let mut wrong = Vec::new();
    for (name, deps) in &crates {
        let allowed: &[&str] = MAY_IMPORT.iter().find(|(c, _)| c == name).map_or(&[], |(_, a)| a);
        for dep in deps.iter().filter(|d| d.starts_with("vestibule-")) {
            if !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{name} -> {dep}"));
            }
        }
        if let Some((_, banned)) = MUST_NOT_IMPORT.iter().find(|(c, _)| c == name) {
            for dep in deps.iter().filter(|d| banned.contains(&d.as_str())) {
                wrong.push(format!("{name} -> {dep} (banned)"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against docs/ARCHITECTURE.md: {wrong:?}");
}

#[test]
fn the_rules_match_the_architecture_page() {
    // The page's table lists the same rules, so that the picture a reader gets is the one
    // this test enforces.
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md");
    for (name, allowed) in MAY_IMPORT {
        let row = page
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` ")))
            .unwrap_or_else(|| panic!("docs/ARCHITECTURE.md has no row for `{name}`"));
        let listed: BTreeSet<&str> =
            row.split('`').skip(3).step_by(2).filter(|s| s.starts_with("vestibule-")).collect();
        let want: BTreeSet<&str> = allowed.iter().copied().collect();
        assert_eq!(listed, want, "docs/ARCHITECTURE.md row for `{name}`: {row}");
    }
}
