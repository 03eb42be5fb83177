//! A small reader of the repository's `Dockerfile`: its stages and their instructions, enough
//! to check targets, base images, ports and health checks against the rest of the repository.

use std::path::PathBuf;

use anyhow::Context;

/// One instruction: its keyword (upper case) and its arguments, continuation lines joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// `FROM`, `RUN`, `EXPOSE`, …
    pub keyword: String,
    /// Everything after the keyword, trimmed.
    pub args: String,
}

/// One build stage.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The image or earlier stage it starts from.
    pub base: String,
    /// Its `AS` name.
    pub name: Option<String>,
    /// Its instructions after `FROM`.
    pub instructions: Vec<Instruction>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// Instructions before the first `FROM` (global `ARG`s).
    pub preamble: Vec<Instruction>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// The repository's `Dockerfile`.
pub fn dockerfile_path() -> PathBuf {
    crate::repo_root().join("Dockerfile")
}

impl Dockerfile {
    /// Reads and parses the repository's `Dockerfile`.
    pub fn read() -> anyhow::Result<Self> {
        let path = dockerfile_path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Self::parse(&text))
    }

    /// Parses Dockerfile text: comments and blank lines dropped, `\` continuations joined.
    pub fn parse(text: &str) -> Self {
        let mut instructions = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
                continue;
            }
            if let Some(body) = trimmed.strip_suffix('\\') {
                current.push_str(body);
                current.push(' ');
                continue;
            }
            current.push_str(trimmed);
            let (keyword, args) = current
                .split_once(char::is_whitespace)
                .unwrap_or((&current, ""));
            instructions.push(Instruction {
                keyword: keyword.to_ascii_uppercase(),
                args: args.split_whitespace().collect::<Vec<_>>().join(" "),
            });
            current.clear();
        }
        let mut file = Self {
            preamble: Vec::new(),
            stages: Vec::new(),
        };
        for instruction in instructions {
            if instruction.keyword == "FROM" {
                let words: Vec<&str> = instruction
                    .args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let name = match words.as_slice() {
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                    _ => None,
                };
                file.stages.push(Stage {
                    base: words.first().copied().unwrap_or_default().to_owned(),
                    name,
                    instructions: Vec::new(),
                });
            } else if let Some(stage) = file.stages.last_mut() {
                stage.instructions.push(instruction);
            } else {
                file.preamble.push(instruction);
            }
        }
        file
    }

    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name.as_deref() == Some(name))
    }

    /// The chain of stages `name` builds on, `name` last, ending at an image.
    pub fn chain(&self, name: &str) -> Vec<&Stage> {
        let mut chain = Vec::new();
        let mut next = self.stage(name);
        while let Some(stage) = next {
            chain.push(stage);
            next = self.stage(&stage.base);
        }
        chain.reverse();
        chain
    }

    /// The image stage `name` finally starts from.
    pub fn base_image(&self, name: &str) -> Option<&str> {
        self.chain(name).first().map(|s| s.base.as_str())
    }

    /// Every instruction `keyword` in effect for stage `name` (its own and its base stages').
    pub fn effective(&self, name: &str, keyword: &str) -> Vec<&str> {
        self.chain(name)
            .into_iter()
            .flat_map(|s| &s.instructions)
            .filter(|i| i.keyword == keyword)
            .map(|i| i.args.as_str())
            .collect()
    }

    /// The ports stage `name` exposes.
    pub fn exposed_ports(&self, name: &str) -> Vec<u16> {
        self.effective(name, "EXPOSE")
            .into_iter()
            .flat_map(|args| args.split_whitespace())
            .filter_map(|p| p.trim_end_matches("/tcp").parse().ok())
            .collect()
    }

    /// The exec-form command of the `HEALTHCHECK` in effect for stage `name`.
    pub fn healthcheck_command(&self, name: &str) -> Option<Vec<String>> {
        let args = *self.effective(name, "HEALTHCHECK").last()?;
        let json = &args[args.find("CMD")? + 3..];
        serde_json::from_str(json.trim()).ok()
    }

    /// The exec-form `ENTRYPOINT` in effect for stage `name`.
    pub fn entrypoint(&self, name: &str) -> Option<Vec<String>> {
        serde_json::from_str(self.effective(name, "ENTRYPOINT").last()?).ok()
    }

    /// Every `RUN` of every stage.
    pub fn runs(&self) -> Vec<&str> {
        self.stages
            .iter()
            .flat_map(|s| &s.instructions)
            .filter(|i| i.keyword == "RUN")
            .map(|i| i.args.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_inherit_from_their_base_stages_and_continuations_are_joined() {
        let file = Dockerfile::parse(
            "ARG X=1\nFROM img:1 AS base\nEXPOSE 1\n# a comment\nUSER 2:2\n\nFROM base AS app\nEXPOSE 8000 \\\n    9464\nHEALTHCHECK --interval=5s \\\n  CMD [\"/app\", \"healthcheck\"]\nENTRYPOINT [\"/app\"]\n",
        );
        assert_eq!(file.preamble[0].keyword, "ARG");
        assert_eq!(file.base_image("app"), Some("img:1"));
        assert_eq!(file.exposed_ports("app"), [1, 8000, 9464]);
        assert_eq!(file.effective("app", "USER"), ["2:2"]);
        assert_eq!(
            file.healthcheck_command("app").unwrap(),
            ["/app", "healthcheck"]
        );
        assert_eq!(file.entrypoint("app").unwrap(), ["/app"]);
    }
}
