//! The repository's collector configs (`infra/collector/*.yaml`) made runnable on this
//! machine: each address moved to a local one, as text, so everything else is the file
//! byte for byte; then checked, parsed, that nothing but the named keys changed.

use std::collections::{BTreeMap, BTreeSet};

use crate::cfn::{self, read_infra_file};

/// One change to a config.
#[derive(Debug, Clone)]
pub enum Edit {
    /// The scalar at `path` (mapping keys) becomes `value`.
    Value(&'static [&'static str], String),
    /// The text `from`, which must occur exactly once, becomes `to`; only leaves under
    /// `under` may change by it.
    Text {
        under: &'static [&'static str],
        from: String,
        to: String,
    },
}

/// `infra/{file}` with `edits` made, checked to differ from it only where they say.
pub fn edited(file: &str, edits: &[Edit]) -> String {
    let original = read_infra_file(file);
    let tree: cfn::Value = serde_norway::from_str(&original).expect("YAML");
    let mut text = original.clone();
    for edit in edits {
        let (from, to) = match edit {
            Edit::Value(path, value) => {
                let key = path.last().expect("a key");
                let old = path
                    .iter()
                    .try_fold(&tree, |node, key| child(node, key))
                    .and_then(cfn::scalar_text)
                    .unwrap_or_else(|| panic!("infra/{file}: no {}", path.join(".")));
                (format!("{key}: {old}"), format!("{key}: {value}"))
            }
            Edit::Text { from, to, .. } => (from.clone(), to.clone()),
        };
        assert_eq!(
            text.matches(&from).count(),
            1,
            "infra/{file}: {from:?} is expected exactly once"
        );
        text = text.replacen(&from, &to, 1);
    }

    let after: cfn::Value = serde_norway::from_str(&text).expect("still YAML");
    let (before, after) = (leaves(&tree), leaves(&after));
    let allowed: Vec<Vec<String>> = edits
        .iter()
        .map(|edit| match edit {
            Edit::Value(path, _) | Edit::Text { under: path, .. } => {
                path.iter().map(|k| (*k).to_owned()).collect()
            }
        })
        .collect();
    let stray: BTreeSet<&Vec<String>> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .filter(|path| !allowed.iter().any(|prefix| path.starts_with(prefix)))
        .collect();
    assert!(
        stray.is_empty(),
        "infra/{file}: only the endpoints may change, not {stray:?}"
    );
    text
}

/// A mapping's value by key, or a sequence's item by index.
fn child<'a>(node: &'a cfn::Value, key: &str) -> Option<&'a cfn::Value> {
    match node {
        cfn::Value::Sequence(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => node.get(key),
    }
}

/// Every scalar of a YAML tree by its path (mapping keys, sequence indices).
fn leaves(value: &cfn::Value) -> BTreeMap<Vec<String>, cfn::Value> {
    fn walk(
        value: &cfn::Value,
        path: &mut Vec<String>,
        out: &mut BTreeMap<Vec<String>, cfn::Value>,
    ) {
        match value {
            cfn::Value::Mapping(map) => {
                for (key, child) in map {
                    path.push(cfn::scalar_text(key).expect("scalar keys"));
                    walk(child, path, out);
                    path.pop();
                }
            }
            cfn::Value::Sequence(items) => {
                for (index, child) in items.iter().enumerate() {
                    path.push(index.to_string());
                    walk(child, path, out);
                    path.pop();
                }
            }
            scalar => {
                out.insert(path.clone(), scalar.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}
