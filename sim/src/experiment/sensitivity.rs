//! One-at-a-time sensitivity of a scenario's results to the profile parameters nobody measured.
//!
//! Device and runtime profiles tag each number with its source (`[datasheet]`, `[measured]`,
//! `[fitted: …]`, `[assumed]`) in the comment above it. [`tagged_parameters`] finds the
//! `[assumed]` and `[fitted …]` ones in a profile's text; [`scaled`] multiplies a value — a
//! number, or a quantity such as `"20GB/s"` or `"113us"` — by a factor; [`with_value`] gives the
//! profile text with one value replaced. `infscaler sensitivity` reruns a scenario with each
//! parameter ×0.5 and ×2 in turn and ranks them by how much they move each metric.

use std::collections::HashMap;

/// One step of a parameter's path in a TOML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A table key.
    Key(String),
    /// An element of an array of tables (`[[accelerators]]`), 0-based.
    Index(usize),
}

/// A parameter whose source tag says it was assumed or fitted.
#[derive(Clone, Debug, PartialEq)]
pub struct TaggedParameter {
    /// Where it is in the document.
    pub path: Vec<Step>,
    /// Its dotted name: `memory.bandwidth`, `accelerators[1].dense_efficiency`.
    pub name: String,
    /// The tag as written, without brackets: `assumed`, `fitted: §8a PyTorch rows`.
    pub tag: String,
    /// Its value in the document.
    pub value: toml::Value,
}

/// The `[assumed …]` and `[fitted …]` parameters of a profile's TOML `text`, in document order:
/// each key whose comment lines just above it (no blank line between) carry such a tag.
/// Returns an error naming the line when the text is not TOML.
pub fn tagged_parameters(text: &str) -> Result<Vec<TaggedParameter>, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut table: Vec<Step> = Vec::new();
    let mut arrays: HashMap<String, usize> = HashMap::new();
    let mut comments: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            comments.push(c);
            continue;
        }
        if t.is_empty() {
            comments.clear();
            continue;
        }
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim();
            let index = arrays.entry(name.to_string()).or_insert(0);
            table = keys(name);
            table.push(Step::Index(*index));
            *index += 1;
            comments.clear();
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = keys(name.trim());
            comments.clear();
            continue;
        }
        if let Some((key, _)) = t.split_once('=') {
            let key = key.trim().trim_matches('"');
            if let Some(tag) = comments.iter().find_map(|c| source_tag(c)) {
                let mut path = table.clone();
                path.push(Step::Key(key.to_string()));
                if let Some(value) = lookup(&doc, &path) {
                    out.push(TaggedParameter {
                        name: dotted(&path),
                        path,
                        tag,
                        value: value.clone(),
                    });
                }
            }
        }
        comments.clear();
    }
    Ok(out)
}

fn keys(dotted: &str) -> Vec<Step> {
    dotted
        .split('.')
        .map(|k| Step::Key(k.trim().trim_matches('"').to_string()))
        .collect()
}

/// `assumed`, `fitted: …` from a comment holding `[assumed …]` or `[fitted …]`.
fn source_tag(comment: &str) -> Option<String> {
    let start = ["[assumed", "[fitted"]
        .iter()
        .filter_map(|t| comment.find(t))
        .min()?;
    let rest = &comment[start + 1..];
    Some(rest.split(']').next().unwrap_or(rest).trim().to_string())
}

/// The dotted name of a path: `accelerators[1].dense_efficiency`.
pub fn dotted(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn lookup<'a>(doc: &'a toml::Table, path: &[Step]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else {
        return None;
    };
    let mut v = doc.get(k)?;
    for step in rest {
        v = match step {
            Step::Key(k) => v.as_table()?.get(k)?,
            Step::Index(i) => v.as_array()?.get(*i)?,
        };
    }
    Some(v)
}

fn lookup_mut<'a>(doc: &'a mut toml::Table, path: &[Step]) -> Option<&'a mut toml::Value> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else {
        return None;
    };
    let mut v = doc.get_mut(k)?;
    for step in rest {
        v = match step {
            Step::Key(k) => v.as_table_mut()?.get_mut(k)?,
            Step::Index(i) => v.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(v)
}

/// `value` × `factor`: an integer (rounded), a float, or a quantity string whose leading number
/// is scaled and unit kept (`"20GB/s"` × 2 = `"40GB/s"`). `None` for anything else, and for a
/// value of 0 (scaling it changes nothing).
pub fn scaled(value: &toml::Value, factor: f64) -> Option<toml::Value> {
    match value {
        toml::Value::Integer(0) => None,
        toml::Value::Integer(i) => Some(toml::Value::Integer(
            (*i as f64 * factor).round().max(1.0) as i64,
        )),
        toml::Value::Float(x) if *x == 0.0 => None,
        toml::Value::Float(x) => Some(toml::Value::Float(x * factor)),
        toml::Value::String(s) => {
            let s = s.trim();
            let end = s
                .char_indices()
                .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
                .map_or(s.len(), |(i, _)| i);
            let number: f64 = s[..end].parse().ok()?;
            (number != 0.0)
                .then(|| toml::Value::String(format!("{}{}", number * factor, &s[end..])))
        }
        _ => None,
    }
}

/// The profile `text` with the value at `path` replaced (as TOML re-serialised: comments are
/// not kept). `None` when the path is not in it.
pub fn with_value(text: &str, path: &[Step], value: toml::Value) -> Option<String> {
    let mut doc: toml::Table = toml::from_str(text).ok()?;
    *lookup_mut(&mut doc, path)? = value;
    toml::to_string(&doc).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
# A profile.
name = "x"

[memory]
# [datasheet] 136.5 GB/s.
peak = "136.5GB/s"
# [assumed] the share sustained.
# More words.
bandwidth = "20GB/s"

# [assumed] a comment cut off by a blank line.

reserved = "2GiB"

[[accelerators]]
name = "cpu"
# [fitted: §8a rows] per operator.
launch_overhead = "5us"
[[accelerators]]
name = "gpu"
# [assumed]
dense_efficiency = 0.4
# [measured] by hil profile.
cores = 8
"#;

    #[test]
    fn finds_the_assumed_and_fitted_parameters_with_their_paths() {
        let found = tagged_parameters(TEXT).unwrap();
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|p| (p.name.as_str(), p.tag.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("memory.bandwidth", "assumed"),
                ("accelerators[0].launch_overhead", "fitted: §8a rows"),
                ("accelerators[1].dense_efficiency", "assumed"),
            ]
        );
        assert_eq!(found[2].value, toml::Value::Float(0.4));
    }

    #[test]
    fn scales_numbers_and_quantities_and_rewrites_the_text() {
        let v = |s: &str| toml::Value::String(s.into());
        assert_eq!(scaled(&v("20GB/s"), 2.0), Some(v("40GB/s")));
        assert_eq!(scaled(&v("24.5us"), 0.5), Some(v("12.25us")));
        assert_eq!(scaled(&v("0MiB"), 2.0), None);
        assert_eq!(
            scaled(&toml::Value::Float(0.4), 0.5),
            Some(toml::Value::Float(0.2))
        );
        assert_eq!(
            scaled(&toml::Value::Integer(3), 0.5),
            Some(toml::Value::Integer(2))
        );
        assert_eq!(scaled(&toml::Value::Boolean(true), 2.0), None);
        let found = tagged_parameters(TEXT).unwrap();
        let text = with_value(TEXT, &found[2].path, toml::Value::Float(0.8)).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            doc["accelerators"][1]["dense_efficiency"],
            toml::Value::Float(0.8)
        );
        assert_eq!(doc["memory"]["bandwidth"], v("20GB/s"));
        assert_eq!(with_value(TEXT, &[Step::Key("nope".into())], v("1")), None);
    }

    #[test]
    fn every_builtin_profile_has_tagged_parameters_that_scale() {
        for text in [
            include_str!("../../../hwprofiles/xavier-agx.toml"),
            include_str!("../../../hwprofiles/runtimes/pytorch.toml"),
        ] {
            let found = tagged_parameters(text).unwrap();
            assert!(found.len() >= 4, "{found:?}");
            assert!(found.iter().any(|p| scaled(&p.value, 2.0).is_some()));
        }
    }
}
