//! Structure-aware mutation of seed inputs.
//!
//! There is no coverage feedback (that needs the nightly toolchain's instrumentation): every case
//! starts again from a seed of the corpus and applies a few mutations drawn from the case's own
//! generator, so case `i` under `--seed s` is always the same bytes. What the fuzzer lacks in
//! feedback it makes up with knowledge of the formats:
//!
//! - **bytes**: bit flips, random and special bytes (quotes, brackets, `=`, `,`, line ends, a
//!   byte-order mark, NUL, multi-byte UTF-8), deleted, duplicated and truncated ranges;
//! - **numbers**: any run of digits (in a value, a duration string, a timestamp) replaced by an
//!   extreme (`0`, `-1`, `4294967296`, `18446744073709551615`, `1e308`, `nan`, `inf`, …) or
//!   scaled;
//! - **TOML**: a `key = value` line's value replaced by an extreme, a wrong type (`[]`, `{}`,
//!   `true`, a date), a huge string, or a value the corpus gives this key or another; keys
//!   renamed; lines and `[table]` headers deleted, duplicated, moved, or taken from another seed;
//! - **CSV**: rows deleted, duplicated (up to a hundred times), swapped or taken from another
//!   seed; fields replaced (extreme numbers, impossible datetimes, quotes, empty), added or
//!   removed; line ends switched between LF and CRLF, a byte-order mark, comments, blank lines;
//! - **splicing**: the start of one seed joined to the end of another at line boundaries.

use std::collections::HashMap;

use crate::rng::Rng;

/// The largest input a mutation may produce, bytes (longer ones are cut).
pub const MAX_INPUT_LEN: usize = 256 * 1024;

/// How a harness's inputs are written, which picks the mutations that apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TOML text: scenario files, measured, device and runtime profiles.
    Toml,
    /// CSV text: traces.
    Csv,
    /// Opaque bytes (e.g. protobuf): byte-level mutations and splicing only.
    Bytes,
}

/// Pieces of the corpus that mutations reuse: lines, keys, values, table headers, fields.
#[derive(Clone, Debug, Default)]
pub struct Dictionary {
    lines: Vec<Vec<u8>>,
    headers: Vec<Vec<u8>>,
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
    values_by_key: HashMap<Vec<u8>, Vec<Vec<u8>>>,
    fields: Vec<Vec<u8>>,
}

/// Extremes written as TOML values: numbers at and past the limits of the types serde reads
/// them into, wrong types, and strings that durations, byte sizes and names are parsed from.
const TOML_VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "0.0",
    "-0.0",
    "0.5",
    "1.0000000000000002",
    "255",
    "256",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "1e-308",
    "5e-324",
    "nan",
    "+inf",
    "-inf",
    "true",
    "false",
    "[]",
    "[[]]",
    "[1, 2, 3]",
    "[0]",
    "[\"a\", \"b\"]",
    "[1, \"a\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "1979-05-27",
    "\"\"",
    "\" \"",
    "\"0\"",
    "\"-1\"",
    "\"nan\"",
    "\"0s\"",
    "\"0ns\"",
    "\"1ns\"",
    "\"-1s\"",
    "\"1e30s\"",
    "\"1e-30s\"",
    "\"nan s\"",
    "\"inf ms\"",
    "\"18446744073709551615ns\"",
    "\"18446744073709551616ns\"",
    "\"9223372036854775807s\"",
    "\"584.6 years\"",
    "\"1h\"",
    "\"100000000h\"",
    "\"1.5\"",
    "\"0B\"",
    "\"1B\"",
    "\"1 TiB\"",
    "\"16 EiB\"",
    "\"17179869184 GiB\"",
    "\"18446744073709551615\"",
    "\"-1 MB\"",
    "\"1.5e300 GB\"",
    "\"1e-9 KB\"",
    "\"nan GB\"",
    "\".\"",
    "\"..\"",
    "\"x.toml\"",
    "\"x.csv\"",
    "\"\\u0000\"",
    "\"é\"",
    "\"\\\"\"",
    "'literal'",
    "\"\"\"multi\nline\"\"\"",
];

/// Extremes written as CSV fields: numbers, datetimes that do not exist, quoting.
const CSV_FIELDS: &[&str] = &[
    "",
    " ",
    "0",
    "-0",
    "-1",
    "1",
    "0.5",
    "1e308",
    "1e-308",
    "1e400",
    "1e-400",
    "1e2147483647",
    "1e-2147483648",
    "NaN",
    "inf",
    "-inf",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999999999999999999",
    "0.00000000000000000000000000000000000000001",
    ".",
    "-",
    "+",
    "e5",
    "1e",
    "1.2.3",
    "2023-11-16 18:15:46.6805900",
    "2023-11-16T18:15:46Z",
    "2023-11-16 18:15:46",
    "2023-11-16 18:15:46.",
    "2023-11-16 18:15:46.12345678901234567890",
    "2023-02-29 00:00:00",
    "2024-02-29 23:59:59",
    "2023-13-01 00:00:00",
    "2023-00-10 00:00:00",
    "2023-01-32 00:00:00",
    "2023-01-01 24:00:00",
    "2023-01-01 23:59:60",
    "0000-01-01 00:00:00",
    "9999-12-31 23:59:59.999999999",
    "1677-09-21 00:12:43",
    "2262-04-11 23:47:17",
    "2262-04-12 00:00:00",
    "\"2023-11-16 18:15:46\"",
    "\"",
    "\"\"",
    "\"\"\"",
    "\"a,b\"",
    "TIMESTAMP",
    "ContextTokens",
    "GeneratedTokens",
    "HashOwner",
    "HashFunction",
    "1440",
    "1441",
    "é",
];

/// Numbers that replace a run of digits wherever it is.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "9",
    "10",
    "59",
    "60",
    "255",
    "256",
    "1023",
    "1024",
    "1025",
    "1439",
    "1440",
    "1441",
    "4096",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999999",
    "1e308",
    "1e-308",
    "1e400",
    "nan",
    "inf",
    "0.000000001",
];

/// Bytes inserted by the byte-level mutations: what separates or quotes tokens in TOML and CSV.
const SPECIAL: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "-",
    "+",
    "#",
    "\\",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\u{feff}",
    "\0",
    "é",
    "\u{1F4A5}",
    "\u{202e}",
    "e",
    "E",
    ":",
    "T",
    "Z",
];

fn is_line_end(b: u8) -> bool {
    b == b'\n'
}

/// Byte ranges of the lines of `data`, each with its line end.
fn line_spans(data: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if is_line_end(b) {
            spans.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < data.len() {
        spans.push((start, data.len()));
    }
    spans
}

fn trim_ascii(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// The key and value byte ranges of a TOML `key = value` line (value up to the line end).
fn toml_key_value(line: &[u8]) -> Option<((usize, usize), (usize, usize))> {
    let t = trim_ascii(line);
    if t.is_empty() || t[0] == b'#' || t[0] == b'[' {
        return None;
    }
    let eq = line.iter().position(|&b| b == b'=')?;
    let key_start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    let key_end = line[..eq]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(key_start, |i| i + 1);
    let mut value_start = eq + 1;
    while value_start < line.len() && line[value_start] == b' ' {
        value_start += 1;
    }
    let mut value_end = line.len();
    while value_end > value_start && matches!(line[value_end - 1], b'\n' | b'\r') {
        value_end -= 1;
    }
    Some(((key_start, key_end), (value_start, value_end)))
}

/// The byte ranges of the comma-separated fields of a CSV line (quotes respected), without the
/// line end.
fn csv_fields(line: &[u8]) -> Vec<(usize, usize)> {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let mut fields = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, &b) in line[..end].iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                fields.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push((start, end));
    fields
}

impl Dictionary {
    /// Collects the pieces of `corpus` (inputs written in `format`), plus `extra_values`
    /// (e.g. paths that exist in the harness's sandbox) as values every key may take.
    pub fn build(format: Format, corpus: &[Vec<u8>], extra_values: &[String]) -> Self {
        let mut d = Dictionary::default();
        for input in corpus {
            for (s, e) in line_spans(input) {
                let line = &input[s..e];
                let t = trim_ascii(line);
                if t.is_empty() || t.len() > 4096 {
                    continue;
                }
                match format {
                    Format::Toml => {
                        if t[0] == b'[' {
                            d.headers.push(t.to_vec());
                        } else if let Some(((ks, ke), (vs, ve))) = toml_key_value(line) {
                            let key = line[ks..ke].to_vec();
                            let value = line[vs..ve].to_vec();
                            d.keys.push(key.clone());
                            d.values.push(value.clone());
                            d.values_by_key.entry(key).or_default().push(value);
                            d.lines.push(t.to_vec());
                        }
                    }
                    Format::Csv => {
                        d.lines.push(t.to_vec());
                        for (fs, fe) in csv_fields(line).into_iter().take(16) {
                            d.fields.push(line[fs..fe].to_vec());
                        }
                    }
                    Format::Bytes => {}
                }
            }
        }
        for v in extra_values {
            d.values.push(format!("\"{v}\"").into_bytes());
            d.fields.push(v.clone().into_bytes());
        }
        for list in [
            &mut d.lines,
            &mut d.headers,
            &mut d.keys,
            &mut d.values,
            &mut d.fields,
        ] {
            list.sort();
            list.dedup();
        }
        for values in d.values_by_key.values_mut() {
            values.sort();
            values.dedup();
        }
        d
    }
}

/// Makes the inputs of one harness from its corpus.
#[derive(Clone, Debug)]
pub struct Mutator {
    format: Format,
    corpus: Vec<Vec<u8>>,
    dict: Dictionary,
    options: Vec<String>,
}

/// The prefix of the options line a harness may read its reader's options from (see
/// `harness::Options`).
pub const OPTIONS_PREFIX: &str = "# fuzz:";

impl Mutator {
    /// A mutator of inputs in `format` starting from the seeds of `corpus` (not empty).
    pub fn new(format: Format, corpus: Vec<Vec<u8>>, extra_values: &[String]) -> Self {
        assert!(!corpus.is_empty(), "a harness needs at least one seed");
        let dict = Dictionary::build(format, &corpus, extra_values);
        Mutator {
            format,
            corpus,
            dict,
            options: Vec::new(),
        }
    }

    /// The same mutator, also adding, removing and replacing these tokens (`key=value` or a
    /// flag) on the input's options line (`# fuzz: …`, written first when missing).
    pub fn with_options(mut self, options: &[&str]) -> Self {
        self.options = options.iter().map(|o| o.to_string()).collect();
        self
    }

    /// The seeds.
    pub fn corpus(&self) -> &[Vec<u8>] {
        &self.corpus
    }

    /// The input of one case: a seed and a few mutations, all drawn from `rng`. One case in
    /// sixty-four is a seed unchanged.
    pub fn generate(&self, rng: &mut Rng) -> Vec<u8> {
        let mut data = rng.pick(&self.corpus).clone();
        if rng.chance(1, 64) {
            return data;
        }
        let rounds = rng.small_count(10);
        for _ in 0..rounds {
            self.mutate_once(&mut data, rng);
            data.truncate(MAX_INPUT_LEN);
        }
        data
    }

    /// Applies one mutation chosen for the format.
    pub fn mutate_once(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        if !self.options.is_empty() && rng.chance(1, 5) {
            return self.options_mutation(data, rng);
        }
        let structured = match self.format {
            Format::Toml => 6,
            Format::Csv => 6,
            Format::Bytes => 0,
        };
        // Weights: byte-level 3, numbers 2, splicing 1, format-aware `structured`.
        let roll = rng.below(6 + structured);
        match roll {
            0..=2 => self.byte_mutation(data, rng),
            3 | 4 => {
                if !replace_number(data, rng) {
                    self.byte_mutation(data, rng);
                }
            }
            5 => self.splice(data, rng),
            _ => match self.format {
                Format::Toml => self.toml_mutation(data, rng),
                Format::Csv => self.csv_mutation(data, rng),
                Format::Bytes => self.byte_mutation(data, rng),
            },
        }
    }

    fn options_mutation(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let token = rng.pick(&self.options).clone();
        if !data.starts_with(OPTIONS_PREFIX.as_bytes()) {
            let line = format!("{OPTIONS_PREFIX} {token}\n");
            data.splice(0..0, line.into_bytes());
            return;
        }
        let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
        let line = String::from_utf8_lossy(&data[OPTIONS_PREFIX.len()..end]).into_owned();
        let mut tokens: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        match rng.below(4) {
            0 | 1 => tokens.push(token),
            2 if !tokens.is_empty() => {
                tokens.remove(rng.below(tokens.len()));
            }
            _ if !tokens.is_empty() => {
                let i = rng.below(tokens.len());
                tokens[i] = token;
            }
            _ => tokens.push(token),
        }
        let line = format!("{OPTIONS_PREFIX} {}", tokens.join(" "));
        data.splice(0..end, line.into_bytes());
    }

    fn byte_mutation(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = if rng.chance(1, 2) {
                    rng.range(0x20, 0x7e) as u8
                } else {
                    rng.next_u64() as u8
                };
            }
            2 | 3 => {
                let at = rng.below(len + 1);
                let token = rng.pick(SPECIAL).as_bytes();
                let n = if rng.chance(1, 8) {
                    rng.range(2, 64)
                } else {
                    1
                };
                data.splice(at..at, token.repeat(n));
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = rng.range(1, (len - at).min(64));
                data.drain(at..at + n);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = rng.range(1, (len - at).min(256));
                let chunk = data[at..at + n].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, chunk);
            }
            6 if len > 0 => {
                data.truncate(rng.below(len));
            }
            _ => {
                let at = rng.below(len + 1);
                let n = rng.range(1, 8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
        }
    }

    fn splice(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let other = rng.pick(&self.corpus);
        let mine = line_spans(data);
        let theirs = line_spans(other);
        if mine.is_empty() || theirs.is_empty() || self.format == Format::Bytes {
            let cut = rng.below(data.len() + 1);
            let from = rng.below(other.len() + 1);
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
            return;
        }
        if rng.chance(1, 2) {
            // The start of this input, the end of the other.
            let cut = mine[rng.below(mine.len())].0;
            let from = theirs[rng.below(theirs.len())].0;
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        } else {
            // A few lines of the other input inserted here.
            let at = mine[rng.below(mine.len())].0;
            let first = rng.below(theirs.len());
            let last = (first + rng.small_count(16)).min(theirs.len());
            let chunk = other[theirs[first].0..theirs[last - 1].1].to_vec();
            data.splice(at..at, chunk);
        }
    }

    fn toml_mutation(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let spans = line_spans(data);
        let kv: Vec<((usize, usize), (usize, usize))> = spans
            .iter()
            .filter_map(|&(s, e)| {
                toml_key_value(&data[s..e])
                    .map(|((ks, ke), (vs, ve))| ((s + ks, s + ke), (s + vs, s + ve)))
            })
            .collect();
        match rng.below(10) {
            // Replace a value (the most useful mutation: weighted 4 of 10).
            0..=3 if !kv.is_empty() => {
                let ((ks, ke), (vs, ve)) = *rng.pick(&kv);
                let key = data[ks..ke].to_vec();
                let value = self.toml_value(&key, &data[vs..ve], rng);
                data.splice(vs..ve, value);
            }
            // Rename a key.
            4 if !kv.is_empty() && !self.dict.keys.is_empty() => {
                let ((ks, ke), _) = *rng.pick(&kv);
                let key = rng.pick(&self.dict.keys).clone();
                data.splice(ks..ke, key);
            }
            // Delete, duplicate or move a line.
            5 if !spans.is_empty() => {
                let (s, e) = *rng.pick(&spans);
                let line = data[s..e].to_vec();
                match rng.below(3) {
                    0 => {
                        data.drain(s..e);
                    }
                    1 => {
                        data.splice(e..e, with_newline(line));
                    }
                    _ => {
                        data.drain(s..e);
                        let spans = line_spans(data);
                        let at = spans
                            .get(rng.below(spans.len() + 1))
                            .map_or(data.len(), |x| x.0);
                        data.splice(at..at, with_newline(line));
                    }
                }
            }
            // Insert a `key = value` line of the corpus.
            6 if !self.dict.lines.is_empty() => {
                let line = rng.pick(&self.dict.lines).clone();
                let at = spans
                    .get(rng.below(spans.len() + 1))
                    .map_or(data.len(), |x| x.0);
                data.splice(at..at, with_newline(line));
            }
            // Insert or replace a table header.
            7 if !self.dict.headers.is_empty() => {
                let header = rng.pick(&self.dict.headers).clone();
                let headers: Vec<(usize, usize)> = spans
                    .iter()
                    .copied()
                    .filter(|&(s, e)| trim_ascii(&data[s..e]).first() == Some(&b'['))
                    .collect();
                if !headers.is_empty() && rng.chance(1, 2) {
                    let (s, e) = *rng.pick(&headers);
                    data.splice(s..e, with_newline(header));
                } else {
                    let at = spans
                        .get(rng.below(spans.len() + 1))
                        .map_or(data.len(), |x| x.0);
                    data.splice(at..at, with_newline(header));
                }
            }
            // Delete a whole table: its header up to the next header.
            8 => {
                let headers: Vec<usize> = spans
                    .iter()
                    .enumerate()
                    .filter(|&(_, &(s, e))| trim_ascii(&data[s..e]).first() == Some(&b'['))
                    .map(|(i, _)| i)
                    .collect();
                if headers.is_empty() {
                    return self.byte_mutation(data, rng);
                }
                let k = rng.below(headers.len());
                let start = spans[headers[k]].0;
                let end = headers.get(k + 1).map_or(data.len(), |&i| spans[i].0);
                data.drain(start..end);
            }
            // Swap two lines.
            _ if spans.len() >= 2 => {
                let a = rng.below(spans.len());
                let b = rng.below(spans.len());
                let (a, b) = (a.min(b), a.max(b));
                if a != b {
                    let la = with_newline(data[spans[a].0..spans[a].1].to_vec());
                    let lb = with_newline(data[spans[b].0..spans[b].1].to_vec());
                    data.splice(spans[b].0..spans[b].1, la);
                    data.splice(spans[a].0..spans[a].1, lb);
                }
            }
            _ => self.byte_mutation(data, rng),
        }
    }

    /// A replacement for the value `old` of `key`.
    fn toml_value(&self, key: &[u8], old: &[u8], rng: &mut Rng) -> Vec<u8> {
        match rng.below(10) {
            0..=2 => rng.pick(TOML_VALUES).as_bytes().to_vec(),
            3 | 4 => match self.dict.values_by_key.get(key) {
                Some(values) => rng.pick(values).clone(),
                None => rng.pick(TOML_VALUES).as_bytes().to_vec(),
            },
            5 | 6 if !self.dict.values.is_empty() => rng.pick(&self.dict.values).clone(),
            7 => {
                let mut v = old.to_vec();
                if !replace_number(&mut v, rng) {
                    v = rng.pick(TOML_VALUES).as_bytes().to_vec();
                }
                v
            }
            8 => {
                // A huge string, or a huge array.
                let n = *rng.pick(&[256usize, 4096, 65_536]);
                if rng.chance(1, 2) {
                    let mut v = b"\"".to_vec();
                    v.extend(std::iter::repeat_n(b'A', n));
                    v.push(b'"');
                    v
                } else {
                    let item: &[u8] = if rng.chance(1, 2) { b"1, " } else { old };
                    let mut v = b"[".to_vec();
                    for _ in 0..(n / 64).max(2) {
                        v.extend_from_slice(item);
                        if item != b"1, " {
                            v.extend_from_slice(b", ");
                        }
                    }
                    v.push(b']');
                    v
                }
            }
            _ => {
                // Wrap the old value in an array, or unwrap a quoted one.
                if old.first() == Some(&b'"') && old.len() >= 2 {
                    old[1..old.len() - 1].to_vec()
                } else {
                    let mut v = b"[".to_vec();
                    v.extend_from_slice(old);
                    v.push(b']');
                    v
                }
            }
        }
    }

    fn csv_mutation(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let spans = line_spans(data);
        if spans.is_empty() {
            return self.byte_mutation(data, rng);
        }
        match rng.below(12) {
            // Replace a field.
            0..=3 => {
                let (s, e) = *rng.pick(&spans);
                let fields = csv_fields(&data[s..e]);
                let (fs, fe) = *rng.pick(&fields);
                let value = match rng.below(4) {
                    0 | 1 => rng.pick(CSV_FIELDS).as_bytes().to_vec(),
                    2 if !self.dict.fields.is_empty() => rng.pick(&self.dict.fields).clone(),
                    _ => {
                        let mut v = data[s + fs..s + fe].to_vec();
                        if !replace_number(&mut v, rng) {
                            v = rng.pick(CSV_FIELDS).as_bytes().to_vec();
                        }
                        v
                    }
                };
                data.splice(s + fs..s + fe, value);
            }
            // Delete a line, or a run of lines.
            4 => {
                let first = rng.below(spans.len());
                let last = (first + rng.small_count(32)).min(spans.len());
                data.drain(spans[first].0..spans[last - 1].1);
            }
            // Duplicate a line, up to a hundred times.
            5 => {
                let (s, e) = *rng.pick(&spans);
                let line = with_newline(data[s..e].to_vec());
                let times = if rng.chance(1, 4) {
                    rng.range(2, 100)
                } else {
                    1
                };
                data.splice(e..e, line.repeat(times));
            }
            // Swap two lines (out of time order).
            6 if spans.len() >= 2 => {
                let a = rng.below(spans.len());
                let b = rng.below(spans.len());
                let (a, b) = (a.min(b), a.max(b));
                if a != b {
                    let la = with_newline(data[spans[a].0..spans[a].1].to_vec());
                    let lb = with_newline(data[spans[b].0..spans[b].1].to_vec());
                    data.splice(spans[b].0..spans[b].1, la);
                    data.splice(spans[a].0..spans[a].1, lb);
                }
            }
            // Insert a line of the corpus.
            7 if !self.dict.lines.is_empty() => {
                let line = with_newline(rng.pick(&self.dict.lines).clone());
                let at = spans[rng.below(spans.len())].0;
                data.splice(at..at, line);
            }
            // Add or remove a field in one line, or in every line (a column).
            8 => {
                let every = rng.chance(1, 3);
                let add = rng.chance(1, 2);
                let column = rng.below(6);
                let value = rng.pick(CSV_FIELDS).as_bytes().to_vec();
                let chosen = rng.below(spans.len());
                for (k, &(s, e)) in spans.iter().enumerate().rev() {
                    if !every && k != chosen {
                        continue;
                    }
                    let fields = csv_fields(&data[s..e]);
                    let i = column.min(fields.len() - 1);
                    let (fs, fe) = fields[i];
                    if add {
                        let mut v = value.clone();
                        v.push(b',');
                        data.splice(s + fs..s + fs, v);
                    } else if fields.len() > 1 {
                        // The field and the comma after it (or before it, for the last one).
                        let (from, to) = if i + 1 < fields.len() {
                            (s + fs, s + fields[i + 1].0)
                        } else {
                            (s + fields[i - 1].1, s + fe)
                        };
                        data.drain(from..to);
                    }
                }
            }
            // Line ends: all LF ↔ CRLF, or one CR removed.
            9 => {
                if data.windows(2).any(|w| w == b"\r\n") {
                    data.retain(|&b| b != b'\r');
                } else {
                    let mut out = Vec::with_capacity(data.len() + spans.len());
                    for &b in data.iter() {
                        if b == b'\n' {
                            out.push(b'\r');
                        }
                        out.push(b);
                    }
                    *data = out;
                }
            }
            // A byte-order mark, a comment line or blank lines.
            10 => {
                let at = spans[rng.below(spans.len())].0;
                let inserted: &[u8] = match rng.below(4) {
                    0 => "\u{feff}".as_bytes(),
                    1 => b"# a comment, with a comma\n",
                    2 => b"\n\n",
                    _ => b"   \r\n",
                };
                let at = if rng.chance(1, 2) { 0 } else { at };
                data.splice(at..at, inserted.iter().copied());
            }
            // Quote a field, or unbalance its quotes.
            _ => {
                let (s, e) = *rng.pick(&spans);
                let fields = csv_fields(&data[s..e]);
                let (fs, fe) = *rng.pick(&fields);
                if rng.chance(1, 2) {
                    data.insert(s + fe, b'"');
                }
                data.insert(s + fs, b'"');
            }
        }
    }
}

/// `line` ending with a line end.
fn with_newline(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
    line
}

/// Replaces one run of digits (with its sign, fraction and exponent) by an extreme or a scaled
/// value; false when `data` has no digits.
pub fn replace_number(data: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i].is_ascii_digit() {
            let start = if i > 0 && data[i - 1] == b'-' {
                i - 1
            } else {
                i
            };
            let mut end = i;
            while end < data.len()
                && (data[end].is_ascii_digit()
                    || data[end] == b'.'
                    || ((data[end] == b'e' || data[end] == b'E')
                        && data
                            .get(end + 1)
                            .is_some_and(|c| c.is_ascii_digit() || *c == b'-')))
            {
                end += if data[end] == b'e' || data[end] == b'E' {
                    2
                } else {
                    1
                };
            }
            runs.push((start, end.min(data.len())));
            i = end.max(i + 1);
        } else {
            i += 1;
        }
        if runs.len() >= 4096 {
            break;
        }
    }
    if runs.is_empty() {
        return false;
    }
    let (s, e) = *rng.pick(&runs);
    let old = std::str::from_utf8(&data[s..e]).unwrap_or("0");
    let new = match rng.below(4) {
        0 | 1 => rng.pick(NUMBERS).to_string(),
        2 => match old.parse::<i128>() {
            Ok(n) => match rng.below(5) {
                0 => n.saturating_add(1).to_string(),
                1 => n.saturating_sub(1).to_string(),
                2 => n.saturating_mul(1000).to_string(),
                3 => (-n).to_string(),
                _ => (n / 1000).to_string(),
            },
            Err(_) => match old.parse::<f64>() {
                Ok(x) => format!("{}", x * [1e-9, 0.5, 2.0, 1e9, -1.0][rng.below(5)]),
                Err(_) => rng.pick(NUMBERS).to_string(),
            },
        },
        _ => {
            // Many digits.
            let n = *rng.pick(&[20usize, 40, 400]);
            "9".repeat(n)
        }
    };
    data.splice(s..e, new.into_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let corpus = vec![
            b"a = 1\n[t]\nb = \"60s\"\nc = [1, 2]\n".to_vec(),
            b"x = true\n".to_vec(),
        ];
        let m = Mutator::new(Format::Toml, corpus.clone(), &["p.csv".into()]);
        let gen_case = |i| m.generate(&mut Rng::for_case(7, "t", i));
        assert_eq!(gen_case(3), gen_case(3));
        let distinct: std::collections::HashSet<Vec<u8>> = (0..200).map(gen_case).collect();
        assert!(distinct.len() > 150, "{} distinct", distinct.len());

        let csv = vec![b"TIMESTAMP,A\n2023-11-16 18:15:46.68,1\n2023-11-16 18:15:47,2\n".to_vec()];
        let m = Mutator::new(Format::Csv, csv, &[]);
        for i in 0..2000 {
            let input = m.generate(&mut Rng::for_case(1, "c", i));
            assert!(input.len() <= MAX_INPUT_LEN);
        }
    }

    #[test]
    fn key_values_and_fields_are_found() {
        let line = b"  rate_per_s = 10.0 # comment\r\n";
        let ((ks, ke), (vs, ve)) = toml_key_value(line).unwrap();
        assert_eq!(&line[ks..ke], b"rate_per_s");
        assert_eq!(&line[vs..ve], b"10.0 # comment");
        let line = b"a,\"b,c\",d\r\n";
        let f: Vec<&[u8]> = csv_fields(line).iter().map(|&(s, e)| &line[s..e]).collect();
        assert_eq!(f, [&b"a"[..], b"\"b,c\"", b"d"]);
    }
}
