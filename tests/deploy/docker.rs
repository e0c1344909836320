//! The Dockerfile: the README's build command in a named builder stage of at least the crate's
//! rust-version, a small runtime image, a non-root user; its facts (ports, user, environment)
//! for the compose and k8s checks.

use std::collections::BTreeMap;

use crate::{fail_all, read};

/// What the README's Deploy section gives as the build command, and the Dockerfile must run.
const BUILD_COMMAND: &str = "cargo build --release --locked";

/// Dockerfile facts: (EXPOSE ports, USER, ENV pairs, final image, builder image, builder RUNs).
pub(crate) struct Dockerfile {
    pub(crate) text: String,
    pub(crate) expose: Vec<u16>,
    pub(crate) user: String,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) stages: Vec<(String, Option<String>)>,
}

pub(crate) fn dockerfile() -> Dockerfile {
    let text = read("Dockerfile");
    // Continuation lines joined, comments dropped.
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let mut d = Dockerfile {
        text: joined.clone(),
        expose: Vec::new(),
        user: String::new(),
        env: BTreeMap::new(),
        stages: Vec::new(),
    };
    for line in joined.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("FROM") => {
                let image = words.next().unwrap_or_default().to_string();
                let alias = (words.next().is_some_and(|w| w.eq_ignore_ascii_case("as")))
                    .then(|| words.next().unwrap_or_default().to_string());
                d.stages.push((image, alias));
            }
            Some("EXPOSE") => d
                .expose
                .extend(words.filter_map(|p| p.split('/').next()?.parse::<u16>().ok())),
            Some("USER") => d.user = words.next().unwrap_or_default().to_string(),
            Some("ENV") => {
                for kv in words {
                    if let Some((k, v)) = kv.split_once('=') {
                        d.env.insert(k.to_string(), v.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    d
}

#[test]
fn dockerfile_builds_what_the_readme_builds() {
    let d = dockerfile();
    let mut problems = Vec::new();
    let readme = read("README.md");
    if !readme.contains(BUILD_COMMAND) {
        problems.push(format!(
            "README.md does not give the build command `{BUILD_COMMAND}`"
        ));
    }
    if !readme.contains("docs/deploy.md") {
        problems.push("README.md does not point to docs/deploy.md".into());
    }
    let (builder, alias) = d.stages.first().cloned().unwrap_or_default();
    let (runtime, _) = d.stages.last().cloned().unwrap_or_default();
    if d.stages.len() < 2 || alias.is_none() {
        problems.push(format!(
            "Dockerfile: a named builder stage and a runtime stage, has {:?}",
            d.stages
        ));
    }
    // The builder's Rust is at least the crate's rust-version.
    let cargo = read("Cargo.toml");
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap_or("\"0\"")
        .trim_matches('"')
        .to_string();
    let version = builder
        .strip_prefix("rust:")
        .unwrap_or_default()
        .split('-')
        .next()
        .unwrap_or_default()
        .to_string();
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    if !builder.starts_with("rust:") || parse(&version) < parse(&msrv) {
        problems.push(format!(
            "Dockerfile builder {builder}: a rust image of at least rust-version {msrv}"
        ));
    }
    if !(runtime.contains("-slim") || runtime.contains("distroless")) {
        problems.push(format!(
            "Dockerfile runtime image {runtime} is not a small one"
        ));
    }
    if !d
        .text
        .lines()
        .any(|l| l.starts_with("RUN") && l.contains(BUILD_COMMAND))
    {
        problems.push(format!("Dockerfile does not RUN `{BUILD_COMMAND}`"));
    }
    if !d.text.contains("target/release/acdstream")
        || !d
            .text
            .contains(&format!("--from={}", alias.clone().unwrap_or_default()))
    {
        problems.push(
            "Dockerfile: the runtime stage must copy the builder's target/release/acdstream".into(),
        );
    }
    if d.text.contains("COPY . .") {
        let ignore = read(".dockerignore");
        if !ignore
            .lines()
            .any(|l| l.trim().trim_end_matches('/') == "target")
        {
            problems.push(".dockerignore: target/ must stay out of the build context".into());
        }
    }
    let user = d.user.split(':').next().unwrap_or_default();
    if user.is_empty() || user == "0" || user == "root" {
        problems.push(format!(
            "Dockerfile USER {:?} is not a non-root user",
            d.user
        ));
    }
    if !d.text.contains("ENTRYPOINT [\"acdstream\"]") {
        problems.push("Dockerfile: ENTRYPOINT [\"acdstream\"]".into());
    }
    fail_all("Dockerfile", &problems);
}
