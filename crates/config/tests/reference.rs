//! The configuration reference (`docs/configuration.md`) and `default.toml` cannot drift apart:
//! every key of the defaults file is documented with its default and its environment variable,
//! and every documented key without a default says so.

use std::collections::BTreeMap;

use flowgate_config::DEFAULT_CONFIG;

/// `section.key` → value, for every leaf of the defaults file.
fn defaults() -> BTreeMap<String, toml::Value> {
    fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, toml::Value>) {
        match value {
            toml::Value::Table(table) if !table.is_empty() || prefix.is_empty() => {
                for (key, value) in table {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    flatten(&path, value, out);
                }
            }
            // A section whose keys are all commented out (`[otel]`) has no defaults.
            toml::Value::Table(_) if !prefix.contains('.') => {}
            leaf => {
                out.insert(prefix.to_owned(), leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    let table: toml::Table = toml::from_str(DEFAULT_CONFIG).unwrap();
    flatten("", &toml::Value::Table(table), &mut out);
    out
}

/// `key` → (environment variable cell, default cell) of the configuration reference's table.
fn documented() -> BTreeMap<String, (String, String)> {
    let reference = include_str!("../../../docs/configuration.md");
    let section = reference
        .split("\n## Configuration reference\n")
        .nth(1)
        .expect("a Configuration reference section")
        .split("\n## ")
        .next()
        .unwrap();
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<_> = line.split('|').map(str::trim).collect();
            let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            (key.contains('.') && cells.len() >= 5)
                .then(|| (key.to_owned(), (cells[2].to_owned(), cells[3].to_owned())))
        })
        .collect()
}

#[test]
fn every_default_is_documented_with_its_value_and_variable() {
    let documented = documented();
    for (key, value) in defaults() {
        let (variable, default) = documented.get(&key).unwrap_or_else(|| {
            panic!("{key} is in default.toml but not in docs/configuration.md's table")
        });
        let expected = match &value {
            toml::Value::String(s) => format!("`{s}`"),
            toml::Value::Array(items) if items.is_empty() => "empty".to_owned(),
            toml::Value::Table(table) if table.is_empty() => "empty".to_owned(),
            other => format!("`{other}`"),
        };
        assert!(
            default.starts_with(&expected),
            "{key}: docs/configuration.md says {default:?}, default.toml says {expected}"
        );
        let env = format!("FLOWGATE_{}", key.to_uppercase().replace('.', "__"));
        assert!(
            variable.contains(&env) || variable.contains("config file only"),
            "{key}: docs/configuration.md names {variable:?}, not {env}"
        );
    }
}

#[test]
fn every_documented_key_without_a_default_says_so() {
    let defaults = defaults();
    for (key, (_, default)) in documented() {
        if defaults.contains_key(&key) {
            continue;
        }
        assert!(
            ["unset", "empty", "—", "*", "the "]
                .iter()
                .any(|start| default.starts_with(start)),
            "{key} is documented with the default {default:?} but default.toml has none"
        );
    }
}
