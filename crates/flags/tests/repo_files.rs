//! The repository's flag file against the code and the docs: it parses, it
//! holds exactly the flags of `boutique_flags::names` (every one off), the
//! table in docs/flags.md lists exactly those, and the copies the Helm chart
//! and the kustomize component ship are the same file.

use std::{collections::BTreeSet, path::PathBuf};

use boutique_flags::{
    FlagFile,
    names::{self, ERRORS_PREFIX, GRPC_SERVICES, Kind, LATENCY_PREFIX},
};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const FILE: &str = "deploy/flags/boutique.flagd.json";

#[test]
fn the_flag_file_holds_every_flag_off() {
    let file = FlagFile::parse(read(FILE).as_bytes()).unwrap();
    let in_file: BTreeSet<String> = file.flags.keys().cloned().collect();
    let known: BTreeSet<String> = names::all_flags()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(in_file, known, "{FILE} and boutique_flags::names differ");
    for (name, kind) in names::all_flags() {
        let flag = &file.flags[&name];
        assert!(!flag.may_be_on(), "{name} is on in {FILE}");
        assert!(
            flag.variants.contains_key("off"),
            "{name} has no `off` variant"
        );
        for value in flag.variants.values() {
            let right_kind = match kind {
                Kind::Bool => value.is_boolean(),
                Kind::Number => value.is_number(),
            };
            assert!(right_kind, "{name}: {value} is not a {kind:?}");
        }
    }
}

#[test]
fn the_docs_table_lists_exactly_the_flags() {
    let docs = read("docs/flags.md");
    let mut listed = BTreeSet::new();
    for line in docs.lines().filter(|line| line.starts_with("| `")) {
        let name = line.trim_start_matches("| `").split('`').next().unwrap();
        listed.insert(name.to_owned());
    }
    let mut expected: BTreeSet<String> = names::CATALOGUE
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    expected.insert(format!("{LATENCY_PREFIX}<service>"));
    expected.insert(format!("{ERRORS_PREFIX}<service>"));
    assert_eq!(
        listed, expected,
        "docs/flags.md's table and boutique_flags::names differ"
    );
    for service in GRPC_SERVICES {
        assert!(
            docs.contains(&format!("`{service}`")),
            "docs/flags.md does not name {service}"
        );
    }
}

#[test]
fn the_shipped_copies_are_the_flag_file() {
    let source: Value = serde_json::from_str(&read(FILE)).unwrap();
    for copy in [
        "deploy/helm/boutique/files/flags/boutique.flagd.json",
        "deploy/kubernetes/components/flags/boutique.flagd.json",
    ] {
        let copied: Value = serde_json::from_str(&read(copy)).unwrap();
        assert_eq!(copied, source, "{copy} differs from {FILE}: copy it again");
    }
}
