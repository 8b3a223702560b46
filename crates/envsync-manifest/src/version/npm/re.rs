//! node-semver's regular expressions (`internal/re.js`), built from the same tokens in
//! their length-limited "safe" forms, and the choice of which compiled set to use.

use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};

use super::MAX_LENGTH;

/// node-semver's regular expressions, in their "safe" (length-limited) form.
#[derive(Debug)]
pub(super) struct Res {
    pub(super) full: Regex,
    pub(super) build: Regex,
    pub(super) build_strip: Regex,
    pub(super) hyphen: Regex,
    pub(super) comparator_trim: Regex,
    pub(super) tilde_trim: Regex,
    pub(super) caret_trim: Regex,
    pub(super) tilde: Regex,
    pub(super) caret: Regex,
    pub(super) xrange: Regex,
    pub(super) star: Regex,
    pub(super) gte0: Regex,
    pub(super) comparator: Regex,
}

/// The longest run of `[a-zA-Z0-9-]` for which the length bounds of node-semver's "safe"
/// expressions cannot matter: every bounded repetition matches at most one such run.
const LONGEST_UNBOUNDED_RUN: usize = MAX_LENGTH - 6;

/// `makeSafeRegex`: bound the repetitions node-semver bounds. With `bounded` false the
/// `\d` and `[a-zA-Z0-9-]` repetitions stay unbounded, which matches the same text when no
/// run of those characters is longer than [`LONGEST_UNBOUNDED_RUN`] and builds much
/// smaller automata; `\s` is always bounded to one, as it changes what matches.
fn safe(value: &str, bounded: bool) -> String {
    let mut v = value.to_string();
    let tokens: &[(&str, usize)] = if bounded {
        &[
            (r"\s", 1),
            (r"\d", MAX_LENGTH),
            ("[a-zA-Z0-9-]", LONGEST_UNBOUNDED_RUN),
        ]
    } else {
        &[(r"\s", 1)]
    };
    for &(token, max) in tokens {
        v = v
            .replace(&format!("{token}*"), &format!("{token}{{0,{max}}}"))
            .replace(&format!("{token}+"), &format!("{token}{{1,{max}}}"));
    }
    // JavaScript's `\d` is ASCII only.
    v.replace(r"\d", "[0-9]")
}

fn compile(src: &str, bounded: bool) -> Regex {
    // The patterns are fixed and tested (`tests::regexes_compile`), so building them
    // cannot fail at run time; the size limit is raised for the bounded repetitions.
    #[allow(clippy::expect_used)]
    RegexBuilder::new(&safe(src, bounded))
        .size_limit(1 << 28)
        .dfa_size_limit(1 << 26)
        .build()
        .expect("node-semver regular expressions compile")
}

/// The expressions to use on `text`: the small unbounded ones unless `text` has a run long
/// enough for node-semver's bounds to change the outcome.
pub(super) fn res(text: &str) -> &'static Res {
    static FAST: OnceLock<Res> = OnceLock::new();
    static SAFE: OnceLock<Res> = OnceLock::new();
    let mut run = 0;
    let mut longest = 0;
    for b in text.bytes() {
        run = if b.is_ascii_alphanumeric() || b == b'-' {
            run + 1
        } else {
            0
        };
        longest = longest.max(run);
    }
    if longest > LONGEST_UNBOUNDED_RUN {
        SAFE.get_or_init(|| build_res(true))
    } else {
        FAST.get_or_init(|| build_res(false))
    }
}

fn build_res(bounded: bool) -> Res {
    let compile_b = |src: &str| compile(src, bounded);
    {
        let ldn = "[a-zA-Z0-9-]";
        let ni = r"0|[1-9]\d*";
        let nil = r"\d+";
        let nni = format!(r"\d*[a-zA-Z-]{ldn}*");
        let main = format!(r"({ni})\.({ni})\.({ni})");
        let main_loose = format!(r"({nil})\.({nil})\.({nil})");
        let pri = format!("(?:{nni}|{ni})");
        let pril = format!("(?:{nni}|{nil})");
        let pre = format!(r"(?:-({pri}(?:\.{pri})*))");
        let pre_loose = format!(r"(?:-?({pril}(?:\.{pril})*))");
        let bi = format!("{ldn}+");
        let build = format!(r"(?:\+({bi}(?:\.{bi})*))");
        let fullplain = format!("v?{main}{pre}?{build}?");
        let looseplain = format!(r"[v=\s]*{main_loose}{pre_loose}?{build}?");
        let gtlt = "((?:<|>)?=?)";
        let xri = format!(r"{ni}|x|X|\*");
        let xrangeplain = format!(r"[v=\s]*({xri})(?:\.({xri})(?:\.({xri})(?:{pre})?{build}?)?)?");
        let lonetilde = "(?:~>?)";
        let lonecaret = r"(?:\^)";
        // BUILDSTRIPRE is built from the plain (not length-limited) source.
        let build_strip = Regex::new(&build.replace(r"\d", "[0-9]"));
        #[allow(clippy::expect_used)]
        let build_strip = build_strip.expect("node-semver build regex compiles");
        Res {
            full: compile_b(&format!("^{fullplain}$")),
            build: compile_b(&build),
            build_strip,
            hyphen: compile_b(&format!(r"^\s*({xrangeplain})\s+-\s+({xrangeplain})\s*$")),
            comparator_trim: compile_b(&format!(r"(\s*){gtlt}\s*({looseplain}|{xrangeplain})")),
            tilde_trim: compile_b(&format!(r"(\s*){lonetilde}\s+")),
            caret_trim: compile_b(&format!(r"(\s*){lonecaret}\s+")),
            tilde: compile_b(&format!("^{lonetilde}{xrangeplain}$")),
            caret: compile_b(&format!("^{lonecaret}{xrangeplain}$")),
            xrange: compile_b(&format!(r"^{gtlt}\s*{xrangeplain}$")),
            star: compile_b(r"(<|>)?=?\s*\*"),
            gte0: compile_b(r"^\s*>=\s*0\.0\.0\s*$"),
            comparator: compile_b(&format!(r"^{gtlt}\s*({fullplain})$|^$")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_compile() {
        let _ = build_res(false);
        let _ = build_res(true);
    }
}
