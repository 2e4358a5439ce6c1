//! The service directory (`boutique_proto::directory`) is the one place that
//! says who each service is and whom it calls; the tables written elsewhere
//! for people and tools are checked against it here, so they cannot drift:
//! the README's service table, ARCHITECTURE.md's call graph and the Helm
//! chart's service catalog (from which network policies and Istio rules are
//! generated).

use std::{collections::BTreeSet, fs, path::Path};

use boutique_proto::directory::{self, Protocol, ServiceInfo};

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The README row's first three cells for `service`, as the directory has them.
fn readme_row(service: &ServiceInfo) -> String {
    let api = match service.protocol {
        Protocol::Grpc(name) => format!("`{name}`"),
        Protocol::Http => "HTTP".to_owned(),
        Protocol::Worker => "worker".to_owned(),
    };
    format!(
        "| `boutique {}` | {} ({api}) | {} |",
        service.name, service.about, service.port
    )
}

#[test]
fn the_readme_lists_every_service_as_the_directory_does() {
    let readme = read("README.md");
    let rows: Vec<&str> = readme
        .lines()
        .filter(|line| line.starts_with("| `boutique "))
        .collect();
    for service in directory::ALL {
        let expected = readme_row(service);
        assert!(
            rows.iter().any(|row| row.starts_with(&expected)),
            "README.md has no row starting\n{expected}\n(rows: {rows:#?})"
        );
    }
}

#[test]
fn the_architecture_call_graph_is_the_directorys() {
    let architecture = read("ARCHITECTURE.md");
    for service in directory::ALL.iter().filter(|s| !s.calls.is_empty()) {
        let marker = format!("{} ──> ", service.name);
        let line = architecture
            .lines()
            .find(|line| line.contains(&marker))
            .unwrap_or_else(|| panic!("ARCHITECTURE.md has no call-graph line for {marker:?}"));
        let (_, callees) = line.split_once(&marker).unwrap_or_default();
        let drawn: BTreeSet<&str> = callees.split(',').map(str::trim).collect();
        let listed: BTreeSet<&str> = service.calls.iter().map(|s| s.name).collect();
        assert_eq!(drawn, listed, "the call graph of {}", service.name);
    }
}

/// One service of the Helm chart's catalog in `_helpers.tpl`.
#[derive(Debug, Default)]
struct HelmEntry {
    cmd: String,
    port: String,
    addr_env: Option<String>,
    calls: BTreeSet<String>,
}

/// Reads the `boutique.catalog` block: `name:` lines, then `  key: value` lines.
fn helm_catalog() -> Vec<(String, HelmEntry)> {
    let text = read("deploy/helm/boutique/templates/_helpers.tpl");
    let start = text
        .find(r#"define "boutique.catalog""#)
        .expect("the catalog block");
    let block = &text[start..];
    let block =
        &block[block.find('\n').unwrap_or_default()..block.find("{{- end").unwrap_or_default()];
    let mut entries: Vec<(String, HelmEntry)> = Vec::new();
    for line in block.lines().filter(|line| !line.trim().is_empty()) {
        if let Some(name) = line.strip_suffix(':').filter(|_| !line.starts_with(' ')) {
            entries.push((name.to_owned(), HelmEntry::default()));
            continue;
        }
        let (key, value) = line.trim().split_once(": ").expect("key: value");
        let entry = &mut entries.last_mut().expect("an entry").1;
        match key {
            "cmd" => entry.cmd = value.to_owned(),
            "port" => entry.port = value.to_owned(),
            "addrEnv" => entry.addr_env = Some(value.to_owned()),
            "calls" => {
                entry.calls = value
                    .trim_matches(['[', ']'])
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            _ => {}
        }
    }
    entries
}

#[test]
fn the_helm_catalog_is_the_directorys() {
    let helm = helm_catalog();
    assert_eq!(helm.len(), directory::ALL.len(), "{helm:#?}");
    for (name, entry) in &helm {
        let service = directory::find(name).unwrap_or_else(|| panic!("unknown {name}"));
        assert_eq!(name, service.upstream);
        assert_eq!(entry.cmd, service.name, "{name}");
        assert_eq!(entry.port, service.port.to_string(), "{name}");
        if service != &directory::FRONTEND {
            assert_eq!(entry.addr_env.as_deref(), Some(service.addr_var), "{name}");
        }
        let calls: BTreeSet<String> = service
            .calls
            .iter()
            .map(|s| s.upstream.to_owned())
            .collect();
        assert_eq!(entry.calls, calls, "{name}");
    }
}
