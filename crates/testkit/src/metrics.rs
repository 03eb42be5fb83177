//! Reading `/metrics` as Prometheus does: the text exposition format, parsed into samples.

use std::collections::BTreeMap;

/// One sample line: `name{label="value",…} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, with its `_total`, `_bucket`, `_sum` or `_count` suffix.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The text as served.
    pub text: String,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
    /// `# TYPE` of each metric family.
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses `text`; panics (naming the line) on anything that is not the text format.
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("bad TYPE line: {line}"));
                let previous = types.insert(name.to_owned(), kind.to_owned());
                assert!(previous.is_none(), "metric family {name} appears twice");
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                samples.push(parse_sample(line).unwrap_or_else(|| panic!("bad sample: {line}")));
            }
        }
        Self {
            text: text.to_owned(),
            samples,
            types,
        }
    }

    /// Samples named `name` whose labels include every pair of `labels`.
    pub fn matching(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample named `name` with `labels`; `None` if there is none, a panic
    /// if there are several.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.matching(name, labels);
        assert!(
            found.len() <= 1,
            "{name}{labels:?} matches several samples: {found:?}"
        );
        found.first().map(|s| s.value)
    }

    /// The sum of the samples named `name` with `labels` (0 when none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).iter().map(|s| s.value).sum()
    }

    /// Whether any sample is named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    /// Every distinct sample name.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.samples.iter().map(|s| s.name.as_str()).collect();
        names.dedup();
        names
    }
}

/// `GET url`, asserting a 200 in the text format, parsed.
pub async fn scrape(http: &reqwest::Client, url: &str) -> Scrape {
    let response = http.get(url).send().await.expect("/metrics answers");
    assert_eq!(response.status(), 200, "GET {url}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&response.text().await.expect("a text body"))
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => return None,
    };
    let mut labels = BTreeMap::new();
    let rest = if let Some(mut rest) = rest.strip_prefix('{') {
        loop {
            rest = rest.trim_start_matches(',');
            if let Some(after) = rest.strip_prefix('}') {
                break after;
            }
            let (key, after) = rest.split_once("=\"")?;
            let (value, after) = unescape_until_quote(after)?;
            labels.insert(key.to_owned(), value);
            rest = after;
        }
    } else {
        rest
    };
    // A timestamp may follow the value.
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn unescape_until_quote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_and_types_are_read() {
        let scrape = Scrape::parse(
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"uote\"} 3\n\
             b 2.5 1700000000\nc_bucket{le=\"+Inf\"} 4\n",
        );
        assert_eq!(scrape.value("a_total", &[("x", "1")]), Some(3.0));
        assert_eq!(scrape.value("a_total", &[("y", "q\"uote")]), Some(3.0));
        assert_eq!(scrape.value("b", &[]), Some(2.5));
        assert_eq!(scrape.value("c_bucket", &[("le", "+Inf")]), Some(4.0));
        assert_eq!(scrape.types["a_total"], "counter");
        assert_eq!(scrape.value("a_total", &[("x", "2")]), None);
    }
}
