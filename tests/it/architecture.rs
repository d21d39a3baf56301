//! ARCHITECTURE.md is the map of the crate: its `layer N name: module …` lines list every
//! module of `src/`, lowest first. This test fails when a module imports one listed after it
//! (a higher layer, or later in its own), or when a file of `src/` is on no line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Module paths in the order ARCHITECTURE.md lists them, with their layer.
fn layer_map() -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("layer ") else {
            continue;
        };
        let (head, modules) = rest.split_once(':').expect("layer N name: modules");
        let layer: usize = head.split_whitespace().next().unwrap().parse().unwrap();
        for m in modules.split_whitespace() {
            out.push((m.to_string(), layer));
        }
    }
    assert!(
        out.len() > 20,
        "ARCHITECTURE.md lists too few modules: {out:?}"
    );
    out
}

/// The module path of a file under `src/` (`backend/gpu/mod.rs` → `backend::gpu`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(root().join("src")).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The position in the map of the most specific entry that `path` falls under.
fn position(map: &[(String, usize)], path: &str) -> Option<usize> {
    map.iter()
        .enumerate()
        .filter(|(_, (m, _))| path == m || path.starts_with(&format!("{m}::")))
        .max_by_key(|(_, (m, _))| m.len())
        .map(|(i, _)| i)
}

/// The code of a file without its comments and its `#[cfg(test)]` section.
fn code(text: &str) -> String {
    let body = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifier path segments after `at` in `s` (`a::b::C` → ["a", "b", "C"]); stops at `{`.
fn segments(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in s.split("::") {
        let ident: String = seg
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        let whole = ident.len() == seg.len();
        out.push(ident);
        if !whole {
            break;
        }
    }
    out
}

/// Every module path that `code` reaches through `crate::…` or `super::…` (grouped imports
/// `crate::{a, b::c}` included), given the importing module `me`.
fn imports(code: &str, me: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |base: Vec<String>, rest: &str| {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let mut p = base.clone();
                        p.extend(segments(item.trim()));
                        out.push(p.join("::"));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            let mut p = base.clone();
            p.extend(segments(item.trim()));
            out.push(p.join("::"));
        } else {
            let mut p = base;
            p.extend(segments(rest));
            out.push(p.join("::"));
        }
    };
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        push(Vec::new(), &code[i + "crate::".len()..]);
    }
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut base: Vec<String> = me.split("::").map(String::from).collect();
        base.pop();
        push(base, &code[i + "super::".len()..]);
    }
    out.retain(|p| !p.is_empty());
    out
}

fn library_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "cli") {
                library_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("lib.rs" | "main.rs")
            )
        {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_higher_layer_and_every_module_is_on_the_map() {
    let map = layer_map();
    let mut files = Vec::new();
    library_files(&root().join("src"), &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut checked = BTreeMap::new();
    for file in &files {
        let me = module_of(file);
        let Some(mine) = position(&map, &me) else {
            problems.push(format!(
                "{me} ({}) is on no layer line of ARCHITECTURE.md",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let mut n = 0;
        for target in imports(&code(&text), &me) {
            let Some(theirs) = position(&map, &target) else {
                problems.push(format!("{me} imports {target}, which is on no layer line"));
                continue;
            };
            n += 1;
            if theirs > mine && !map[theirs].0.starts_with(&format!("{}::", map[mine].0)) {
                problems.push(format!(
                    "{me} (layer {}) imports {target} ({}, layer {}), listed after it",
                    map[mine].1, map[theirs].0, map[theirs].1
                ));
            }
        }
        checked.insert(me, n);
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.join("\n")
    );
    // The parser really sees the imports: the EM loop imports at least five modules.
    assert!(checked["em"] >= 5, "{checked:?}");
}

#[test]
fn the_import_parser_reads_grouped_and_relative_paths() {
    let found = imports(
        "use crate::{a::B, c::{d, e}};\nuse super::f::G;\nlet x = crate::h::i(1);",
        "m::n",
    );
    assert_eq!(found, ["a::B", "c", "h::i", "m::f::G"]);
    let map = vec![("a".to_string(), 0), ("a::b".to_string(), 1)];
    assert_eq!(position(&map, "a::b::C"), Some(1));
    assert_eq!(position(&map, "a::x"), Some(0));
    assert_eq!(position(&map, "ab"), None);
}
