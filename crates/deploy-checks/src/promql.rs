//! Rewriting the label matchers of every metric selector of a PromQL expression — to scope a
//! dashboard's or an alert's query to one release by hand, or to take a scope away — so a test
//! can compare what a query returns with and without its filters.
//!
//! A metric selector is a metric name that is neither a function, a keyword, a label of a
//! grouping clause (`by`, `on`, …) nor inside a string, a matcher list or a range, with its
//! `{…}` if any. Selectors without a metric name (`{__name__=~"…"}`) are left alone.

use std::fmt;

/// One label matcher, e.g. `job=~"a|b"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The label name.
    pub label: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// The value as written, quotes included.
    pub value: String,
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.label, self.op, self.value)
    }
}

/// Parses a matcher list such as `namespace="shop", job=~"a|b"` (no braces).
pub fn parse_matchers(text: &str) -> Vec<Matcher> {
    let mut matchers = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if start == i {
            break;
        }
        let label: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let op_start = i;
        while i < chars.len() && matches!(chars[i], '=' | '!' | '~') {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let value_start = i;
        i = end_of_string(&chars, i);
        matchers.push(Matcher {
            label,
            op,
            value: chars[value_start..i].iter().collect(),
        });
    }
    matchers
}

/// The index just past the string literal starting at `start` (escapes honoured in `"` and `'`).
fn end_of_string(chars: &[char], start: usize) -> usize {
    let Some(&quote) = chars.get(start) else {
        return start;
    };
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(chars.len())
}

/// `promql` with each metric selector's matchers passed through `rewrite(metric, matchers)`.
pub fn rewrite_selectors(promql: &str, mut rewrite: impl FnMut(&str, &mut Vec<Matcher>)) -> String {
    let chars: Vec<char> = promql.chars().collect();
    let mut out = String::new();
    let mut grouping = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            let end = end_of_string(&chars, i);
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '[' {
            let end = chars[i..]
                .iter()
                .position(|&c| c == ']')
                .map_or(chars.len(), |p| i + p + 1);
            out.extend(&chars[i..end]);
            i = end;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push_str(&word);
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let lower = word.to_ascii_lowercase();
            if crate::GROUPING.contains(&lower.as_str()) {
                grouping = true;
                continue;
            }
            let is_metric = !grouping
                && chars.get(next) != Some(&'(')
                && !crate::KEYWORDS.contains(&lower.as_str());
            if !is_metric {
                continue;
            }
            let mut matchers = Vec::new();
            if chars.get(next) == Some(&'{') {
                let mut end = next + 1;
                while end < chars.len() && chars[end] != '}' {
                    end = if matches!(chars[end], '"' | '\'' | '`') {
                        end_of_string(&chars, end)
                    } else {
                        end + 1
                    };
                }
                let inner: String = chars[next + 1..end.min(chars.len())].iter().collect();
                matchers = parse_matchers(&inner);
                i = (end + 1).min(chars.len());
            }
            let had_braces = i > next;
            rewrite(&word, &mut matchers);
            if !matchers.is_empty() || had_braces {
                let list: Vec<String> = matchers.iter().map(ToString::to_string).collect();
                out.push('{');
                out.push_str(&list.join(", "));
                out.push('}');
            }
        } else if c.is_ascii_digit() || c == '.' {
            // A number or a duration (`0.95`, `1e-9`, `5m`): its letters are not names.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                out.push(chars[i]);
                i += 1;
            }
        } else {
            if c == ')' {
                grouping = false;
            }
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `promql` with `scope` (a matcher list such as `namespace="shop", job=~"a|b"`) put first into
/// every metric selector.
pub fn with_matchers(promql: &str, scope: &str) -> String {
    let scope = parse_matchers(scope);
    rewrite_selectors(promql, |_, matchers| {
        let mut all = scope.clone();
        all.append(matchers);
        *matchers = all;
    })
}

/// `promql` with every matcher on one of `labels` taken out of every metric selector.
pub fn without_labels(promql: &str, labels: &[&str]) -> String {
    rewrite_selectors(promql, |_, matchers| {
        matchers.retain(|m| !labels.contains(&m.label.as_str()));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = r#"histogram_quantile(0.95, sum by (le, job) (rate(a_bucket{namespace=~"$ns", job=~"x|y", route!~"/a,b|\"q\""}[5m] offset 1m))) > 0.5 or sum(b) / clamp_min(sum(rate(c_total{job="x"}[1m])), 1e-9) unless on (job) up"#;

    #[test]
    fn scope_is_added_to_every_selector_and_nowhere_else() {
        let scoped = with_matchers(QUERY, r#"namespace="shop", job=~"a-x|a-y""#);
        assert_eq!(
            scoped,
            r#"histogram_quantile(0.95, sum by (le, job) (rate(a_bucket{namespace="shop", job=~"a-x|a-y", namespace=~"$ns", job=~"x|y", route!~"/a,b|\"q\""}[5m] offset 1m))) > 0.5 or sum(b{namespace="shop", job=~"a-x|a-y"}) / clamp_min(sum(rate(c_total{namespace="shop", job=~"a-x|a-y", job="x"}[1m])), 1e-9) unless on (job) up{namespace="shop", job=~"a-x|a-y"}"#
        );
    }

    #[test]
    fn namespace_and_job_matchers_can_be_taken_out() {
        let open = without_labels(QUERY, &["namespace", "job"]);
        assert_eq!(
            open,
            r#"histogram_quantile(0.95, sum by (le, job) (rate(a_bucket{route!~"/a,b|\"q\""}[5m] offset 1m))) > 0.5 or sum(b) / clamp_min(sum(rate(c_total{}[1m])), 1e-9) unless on (job) up"#
        );
    }

    #[test]
    fn matchers_are_parsed_with_commas_and_quotes_inside_values() {
        let parsed = parse_matchers(r#" a="1", b!~"x,\"y\"" ,c=~'z'"#);
        let text: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(text, [r#"a="1""#, r#"b!~"x,\"y\"""#, "c=~'z'"]);
    }
}
