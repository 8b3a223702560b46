//! The one way text that came from a target (package names and versions, os-release
//! fields, paths, error output) is made safe to show a person: control characters and
//! bidirectional formatting characters are written out visibly instead of raw.
//!
//! A package named `\x1b]0;PWNED\x07` would otherwise set the terminal's title, and one
//! versioned `\x1b[2J` would clear the screen; a right-to-left override would make a
//! table row read differently from what it holds (Trojan Source, CVE-2021-42574).
//!
//! Backslashes are left as they are, so escaping is idempotent: escaped text contains
//! nothing left to escape, and a second pass (say, the CLI escaping a whole error chain
//! whose parts were already escaped) changes nothing.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw: C0 controls, DEL and C1 controls (the
/// Unicode category Cc), and the characters of the Unicode property Bidi_Control (ALM,
/// LRM, RLM, the embeddings and overrides U+202A..U+202E, the isolates U+2066..U+2069).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every [unsafe](is_unsafe) character written as Rust writes it in a string
/// literal: `\n`, `\r`, `\t`, else `\u{1b}`, `\u{202e}`. Borrowed when nothing needed
/// escaping, which is almost always.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Writing into a String cannot fail.
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], but keeps line breaks (`\n`) of text that is meant to span several
/// lines, such as an error chain or a list of problems; every other unsafe character,
/// including `\r`, is escaped.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let lines: Vec<Cow<'_, str>> = text.split('\n').map(escape).collect();
    Cow::Owned(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let got = escape(input);
        assert_eq!(got, expected, "{input:?}");
        assert_eq!(escape(&got), got, "escaping twice changes nothing");
        assert!(!got.chars().any(is_unsafe), "{got:?}");
    }

    #[test]
    fn controls_are_visible() {
        check("openssl", "openssl");
        check("3.0.15-1~deb12u1 ↑", "3.0.15-1~deb12u1 ↑");
        check("C:\\temp", "C:\\temp");
        check("\x1b]0;PWNED\x07", "\\u{1b}]0;PWNED\\u{7}");
        check("\x1b[2J", "\\u{1b}[2J");
        check("a\nb\r\tc\0", "a\\nb\\r\\tc\\u{0}");
        check("del\x7f", "del\\u{7f}");
        check("c1\u{9b}31m", "c1\\u{9b}31m");
        check("\u{85}next line", "\\u{85}next line");
    }

    #[test]
    fn bidi_controls_are_visible() {
        check("abc\u{202E}fed", "abc\\u{202e}fed");
        check(
            "\u{202A}\u{202B}\u{202C}\u{202D}",
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
        );
        check(
            "\u{2066}x\u{2067}\u{2068}\u{2069}",
            "\\u{2066}x\\u{2067}\\u{2068}\\u{2069}",
        );
        check("\u{200E}\u{200F}\u{061C}", "\\u{200e}\\u{200f}\\u{61c}");
        // Right-to-left letters themselves are text, not control.
        check("שלום", "שלום");
    }

    #[test]
    fn lines_keep_their_breaks() {
        assert_eq!(escape_lines("one\ntwo"), "one\ntwo");
        assert_eq!(
            escape_lines("error: `\x1b[2J`\n  caused by: \r\x07"),
            "error: `\\u{1b}[2J`\n  caused by: \\r\\u{7}"
        );
    }
}
