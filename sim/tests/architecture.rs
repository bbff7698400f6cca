//! The library's files depend on each other one way: lower layers (time, units, rng, hardware,
//! model, workload) never reach up to the serving and policy code, which never reaches up to the
//! scenario and the simulation.
//!
//! A text scan, not a compiler: every `crate::…`, `super::…` and `self::…` path outside comments,
//! string literals and `#[cfg(test)]` items is resolved to the longest module prefix that exists
//! as a file (`x.rs` or `x/mod.rs`), which gives a graph of files; any cycle in it fails, and so
//! does a cycle between top-level modules (the files of a folder taken together). Test code may
//! reach anywhere (a policy's tests run whole scenarios), so it is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files left out of the check, by their path below `sim/src` (none: every file is checked).
const EXCLUDED: &[&str] = &[];

#[test]
fn no_file_depends_on_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = file_graph(&src);
    assert!(
        graph.len() > 20,
        "the scan found only {} files under {}",
        graph.len(),
        src.display()
    );
    assert_acyclic(&graph, "files of sim/src");
}

/// Fails listing one cycle per strongly connected part of `graph`, if any.
fn assert_acyclic(graph: &Graph, what: &str) {
    let cycles = cycles(graph);
    assert!(
        cycles.is_empty(),
        "import cycles between the {what} (each line: one cycle, back to its start):\n{}",
        cycles
            .iter()
            .map(|c| format!("  {} -> {}", c.join(" -> "), c[0]))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_top_level_modules_depend_on_each_other_one_way() {
    // The same graph with every file merged into its top-level module (`model/cost.rs` and
    // `model/mod.rs` are both `model`): a file cycle is also a module cycle, and so is a pair
    // such as `model/cost.rs` → `hardware/profile.rs` with `hardware/mod.rs` → `model/mod.rs`.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let module = |file: &str| file.split('/').next().unwrap_or(file).to_string();
    let mut modules = Graph::new();
    for (file, uses) in file_graph(&src) {
        let from = module(&file);
        let targets: BTreeSet<String> = uses.iter().map(|u| module(u)).collect();
        let entry = modules.entry(from.clone()).or_default();
        entry.extend(targets.into_iter().filter(|t| *t != from));
    }
    assert_acyclic(&modules, "top-level modules of sim/src");
}

#[test]
fn the_cycle_finder_finds_cycles_and_only_cycles() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: Graph = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    // A chain and a diamond: no cycle.
    let acyclic = graph(&[("a", "b"), ("b", "c"), ("a", "d"), ("d", "c")]);
    assert!(cycles(&acyclic).is_empty());
    // Two files that use each other, and a three-file loop elsewhere.
    let cyclic = graph(&[
        ("a", "b"),
        ("b", "a"),
        ("b", "c"),
        ("x", "y"),
        ("y", "z"),
        ("z", "x"),
        ("z", "c"),
    ]);
    assert_eq!(
        cycles(&cyclic),
        vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["x".to_string(), "y".to_string(), "z".to_string()],
        ]
    );
}

#[test]
fn paths_are_read_from_code_only_and_resolved_to_files() {
    let files: BTreeSet<Vec<String>> = [
        vec![],
        vec!["time".to_string()],
        vec!["policy".to_string()],
        vec!["policy".to_string(), "kpa".to_string()],
        vec!["hardware".to_string()],
        vec!["hardware".to_string(), "profile".to_string()],
    ]
    .into_iter()
    .collect();
    let code = r#"
        //! Uses [`crate::hardware`] in a comment only.
        use super::{Action, kpa::Kpa};
        use crate::hardware::{AcceleratorKind, profile::{DeviceProfile, Memory}};
        /* crate::policy in a block comment */
        fn f() -> crate::time::SimTime { let s = "crate::policy::kpa"; Default::default() }
        #[cfg(test)]
        mod tests {
            use crate::scenario::Scenario;
        }
        #[cfg(test)]
        mod more_tests;
    "#;
    let module = vec!["policy".to_string(), "knative".to_string()];
    let scan = scan(code);
    assert_eq!(scan.test_modules, vec!["more_tests".to_string()]);
    let used: BTreeSet<String> = scan
        .paths
        .iter()
        .filter_map(|p| resolve(&module, p, &files))
        .map(|m| m.join("/"))
        .collect();
    let expected: BTreeSet<String> = [
        "policy",
        "policy/kpa",
        "hardware",
        "hardware/profile",
        "time",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(used, expected);
}

/// Files (by module path joined with `/`, the crate root being `lib`) and the files each uses.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The dependency graph of the files below `src`, without the excluded ones and test modules.
fn file_graph(src: &Path) -> Graph {
    let mut files = BTreeMap::new();
    collect_files(src, src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.keys().cloned().collect();
    let scans: BTreeMap<Vec<String>, Scan> = files
        .iter()
        .map(|(module, path)| {
            let text = std::fs::read_to_string(path).expect("a readable source file");
            (module.clone(), scan(&text))
        })
        .collect();
    // Modules declared `#[cfg(test)] mod x;` are test code, and so is everything below them.
    let test_roots: Vec<Vec<String>> = scans
        .iter()
        .flat_map(|(module, scan)| {
            scan.test_modules.iter().map(move |name| {
                let mut child = module.clone();
                child.push(name.clone());
                child
            })
        })
        .collect();
    let name = |module: &[String]| {
        if module.is_empty() {
            "lib".to_string()
        } else {
            module.join("/")
        }
    };
    let kept = |module: &[String]| {
        let file = files[module]
            .strip_prefix(src)
            .expect("below src")
            .to_string_lossy()
            .replace('\\', "/");
        !EXCLUDED.iter().any(|e| file.starts_with(e))
            && !test_roots.iter().any(|t| module.starts_with(t))
    };
    let mut graph = Graph::new();
    for (module, scan) in &scans {
        if !kept(module) {
            continue;
        }
        let uses = graph.entry(name(module)).or_default();
        for path in &scan.paths {
            if let Some(target) = resolve(module, path, &modules)
                && target != *module
                && kept(&target)
            {
                uses.insert(name(&target));
            }
        }
    }
    graph
}

/// Every `.rs` file below `dir`, keyed by its module path (`lib.rs` → `[]`, `a/mod.rs` → `[a]`,
/// `a/b.rs` → `[a, b]`).
fn collect_files(src: &Path, dir: &Path, files: &mut BTreeMap<Vec<String>, PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("a readable source directory")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(src, &path, files);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path
            .strip_prefix(src)
            .expect("below src")
            .with_extension("");
        let mut module: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module
            .last()
            .is_some_and(|last| last == "mod" || last == "lib")
        {
            module.pop();
        }
        files.insert(module, path);
    }
}

/// What a file's code refers to.
#[derive(Debug, Default)]
struct Scan {
    /// Paths starting with `crate`, `super` or `self`, as segments (use trees expanded).
    paths: Vec<Vec<String>>,
    /// Names of the child modules declared `#[cfg(test)] mod name;`.
    test_modules: Vec<String>,
}

/// Reads the paths out of a file's code: comments and string literals are blanked, and items
/// under `#[cfg(test)]` are skipped (a test module in another file is recorded by name).
fn scan(text: &str) -> Scan {
    let code = strip_comments_and_strings(text);
    let code = code.as_bytes();
    let mut scan = Scan::default();
    let mut i = 0;
    while i < code.len() {
        if code[i..].starts_with(b"#[cfg(test)]") {
            i = skip_test_item(code, i + b"#[cfg(test)]".len(), &mut scan.test_modules);
            continue;
        }
        let boundary = i == 0 || !is_ident(code[i - 1]) && code[i - 1] != b':';
        let starts = [&b"crate::"[..], b"super::", b"self::"]
            .iter()
            .any(|p| code[i..].starts_with(p));
        if boundary && starts {
            let mut prefix = Vec::new();
            i = read_tree(code, i, &mut prefix, &mut scan.paths);
            continue;
        }
        i += 1;
    }
    scan
}

/// Skips the item that follows a `#[cfg(test)]` attribute at `i`, returning where it ends; a
/// `mod name;` is recorded as a test module.
fn skip_test_item(code: &[u8], mut i: usize, test_modules: &mut Vec<String>) -> usize {
    let start = i;
    while i < code.len() && code[i] != b';' && code[i] != b'{' {
        i += 1;
    }
    if i >= code.len() {
        return i;
    }
    if code[i] == b';' {
        let item = String::from_utf8_lossy(&code[start..i]);
        let words: Vec<&str> = item.split_whitespace().collect();
        if let Some(pos) = words.iter().position(|w| *w == "mod")
            && let Some(name) = words.get(pos + 1)
        {
            test_modules.push(name.to_string());
        }
        return i + 1;
    }
    let mut depth = 0usize;
    while i < code.len() {
        match code[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Reads a path (or a use tree `a::{b, c::{d, e}}`) at `i` below `prefix`, pushing every full
/// path to `out`; returns where it ends.
fn read_tree(
    code: &[u8],
    mut i: usize,
    prefix: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let depth = prefix.len();
    loop {
        i = skip_space(code, i);
        let start = i;
        while i < code.len() && is_ident(code[i]) {
            i += 1;
        }
        if i > start {
            prefix.push(String::from_utf8_lossy(&code[start..i]).into_owned());
        } else if i < code.len() && code[i] == b'{' {
            i += 1;
            loop {
                i = skip_space(code, i);
                if code.get(i) == Some(&b'}') {
                    i += 1;
                    break;
                }
                i = read_tree(code, i, prefix, out);
                i = skip_space(code, i);
                match code.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => break,
                }
            }
            prefix.truncate(depth);
            return i;
        }
        let after = skip_space(code, i);
        if code[after..].starts_with(b"::") {
            i = after + 2;
            continue;
        }
        break;
    }
    if prefix.len() > depth {
        out.push(prefix.clone());
    }
    prefix.truncate(depth);
    i
}

fn skip_space(code: &[u8], mut i: usize) -> usize {
    while i < code.len() && code[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The file a path in `module` refers to: `crate`, `super` and `self` made absolute, then the
/// longest prefix that is a file's module. `None` for a path that leaves the crate.
fn resolve(
    module: &[String],
    path: &[String],
    files: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut absolute: Vec<String> = Vec::new();
    let mut segments = path.iter().peekable();
    match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
        }
        Some("self") => {
            segments.next();
            absolute = module.to_vec();
        }
        Some("super") => {
            absolute = module.to_vec();
            while segments.peek().is_some_and(|s| *s == "super") {
                segments.next();
                absolute.pop()?;
            }
        }
        _ => return None,
    }
    absolute.extend(segments.cloned());
    (0..=absolute.len())
        .rev()
        .map(|n| absolute[..n].to_vec())
        .find(|prefix| files.contains(prefix))
}

/// The cycles of a graph: one per strongly connected component of more than one file, as the
/// files of a shortest cycle through the component's first file, in order.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut assigned: BTreeSet<&String> = BTreeSet::new();
    for start in graph.keys() {
        if assigned.contains(start) {
            continue;
        }
        let component: BTreeSet<&String> = reachable(graph, start)
            .intersection(&reaching(graph, start))
            .copied()
            .collect();
        assigned.extend(component.iter().copied());
        if component.len() > 1 {
            found.push(shortest_cycle(graph, start, &component));
        }
    }
    found
}

fn reachable<'a>(graph: &'a Graph, start: &'a String) -> BTreeSet<&'a String> {
    let mut seen = BTreeSet::from([start]);
    let mut stack = vec![start];
    while let Some(node) = stack.pop() {
        for next in graph.get(node).into_iter().flatten() {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    seen
}

fn reaching<'a>(graph: &'a Graph, target: &'a String) -> BTreeSet<&'a String> {
    let mut seen = BTreeSet::from([target]);
    loop {
        let before = seen.len();
        for (node, uses) in graph {
            if uses.iter().any(|u| seen.contains(u)) {
                seen.insert(node);
            }
        }
        if seen.len() == before {
            return seen;
        }
    }
}

/// A shortest path from `start` back to itself inside `component` (breadth first).
fn shortest_cycle(graph: &Graph, start: &String, component: &BTreeSet<&String>) -> Vec<String> {
    let mut parent: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flatten() {
            if !component.contains(next) {
                continue;
            }
            if next == start {
                let mut path = vec![node.clone()];
                let mut at = node;
                while at != start {
                    at = parent[at];
                    path.push(at.clone());
                }
                path.reverse();
                return path;
            }
            if !parent.contains_key(next) && next != start {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    unreachable!("a strongly connected component of more than one file has a cycle")
}

/// The text with comments replaced by spaces and string and character literals emptied, so
/// that only code is scanned (line breaks are kept).
fn strip_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push(b'\n');
                    }
                    i += 1;
                }
            }
        } else if b[i] == b'r'
            && (i == 0 || !is_ident(b[i - 1]) || b[i - 1] == b'b')
            && raw_string_hashes(b, i).is_some()
        {
            let hashes = raw_string_hashes(b, i).unwrap_or(0);
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i += 2 + hashes;
            while i < b.len() && !b[i..].starts_with(&close) {
                if b[i] == b'\n' {
                    out.push(b'\n');
                }
                i += 1;
            }
            i += close.len();
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push(b'\n');
                }
                i += 1;
            }
            i += 1;
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'\'' && is_char_literal(b, i) {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.extend_from_slice(b"' '");
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// At `i` (an `r`): the number of `#` of a raw string literal `r#…"`, if one starts there.
fn raw_string_hashes(b: &[u8], i: usize) -> Option<usize> {
    let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
    (b.get(i + 1 + hashes) == Some(&b'"')).then_some(hashes)
}

/// Whether the `'` at `i` opens a character literal (`'a'`, `'\n'`, `'\''`) rather than a
/// lifetime or label.
fn is_char_literal(b: &[u8], i: usize) -> bool {
    match b.get(i + 1) {
        Some(b'\\') => true,
        Some(_) => {
            // One character, possibly several UTF-8 bytes, then the closing quote.
            let rest = &b[i + 1..];
            let len = match rest[0] {
                c if c < 0x80 => 1,
                c if c >= 0xF0 => 4,
                c if c >= 0xE0 => 3,
                _ => 2,
            };
            rest.get(len) == Some(&b'\'')
        }
        None => false,
    }
}
