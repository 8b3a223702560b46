//! `[sources]`: extra apt repositories and keys, a snapshot archive, a PyPI index and an
//! npm registry, each URL checked for its scheme and credentials.

use std::ops::Range;

use toml_edit::TableLike;

use super::ctx::*;
use super::*;

impl Ctx<'_> {
    /// `[sources]`: apt lines, key files and index URLs, each checked for its form.
    pub(super) fn sources(&mut self, t: &dyn TableLike) -> Sources {
        const KEYS: &[&str] = &[
            "apt",
            "apt_keys",
            "apt_snapshot",
            "pypi_index",
            "npm_registry",
        ];
        self.check_keys(t, "sources", KEYS);
        let mut sources = Sources::default();
        for (key, item) in entries(t) {
            let span = item.span().or_else(|| key.span());
            match key.get() {
                "apt" => {
                    sources.apt = self.strings(
                        key,
                        item,
                        "sources",
                        "[\"deb [trusted=yes] http://127.0.0.1:8080/ ./\"]",
                    );
                    for line in &sources.apt {
                        match deb_line_url(line) {
                            Some(url) => self.check_url(span.clone(), "apt", url),
                            None => self.error(
                                span.clone(),
                                format!("`{line}` in [sources] `apt` is not a one-line `deb` entry"),
                                "write `deb [options] URL suite [components]`, e.g. `deb http://mirror.internal/debian bookworm main`".into(),
                            ),
                        }
                    }
                }
                "apt_keys" => {
                    sources.apt_keys = self.strings(key, item, "sources", "[\"keys/mirror.asc\"]");
                }
                name @ ("apt_snapshot" | "pypi_index" | "npm_registry") => {
                    let example = match name {
                        "apt_snapshot" => {
                            "\"https://snapshot.debian.org/archive/debian/20250101T000000Z/\""
                        }
                        "pypi_index" => "\"https://pypi.internal/simple/\"",
                        _ => "\"https://npm.internal/\"",
                    };
                    let Some(url) = self.string(key, item, "sources", example) else {
                        continue;
                    };
                    self.check_url(span, name, url);
                    let url = Some(url.to_string());
                    match name {
                        "apt_snapshot" => sources.apt_snapshot = url,
                        "pypi_index" => sources.pypi_index = url,
                        _ => sources.npm_registry = url,
                    }
                }
                _ => {}
            }
        }
        sources
    }

    /// A source URL is `http://`, `https://` or `file:` and names no credentials: those
    /// would be written into the lock and build logs.
    pub(super) fn check_url(&mut self, span: Option<Range<usize>>, key: &str, url: &str) {
        let rest = ["http://", "https://", "file:"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme));
        match rest {
            None => self.error(
                span,
                format!("`{url}` in [sources] `{key}` is not an http, https or file URL"),
                "write a URL such as `https://mirror.internal/debian`".into(),
            ),
            Some(rest) if rest.split('/').next().is_some_and(|host| host.contains('@')) => self.error(
                span,
                format!("`{key}` in [sources] names credentials in its URL"),
                "remove the user and password from the URL; give them to apt, pip or npm through their own configuration (auth.conf, netrc, .npmrc)".into(),
            ),
            Some(_) => {}
        }
    }
}
