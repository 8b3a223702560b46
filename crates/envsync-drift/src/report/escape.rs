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
//!
//! JSON gets the same treatment in its own syntax ([`json_pretty`]): serde_json escapes
//! only what JSON requires (below U+0020), and JSON is read on terminals too.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

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

/// Pretty JSON with every [unsafe](is_unsafe) character in a string written as a
/// `\uXXXX` escape: the same data for a parser, nothing raw for a terminal.
pub fn json_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, SafeFormatter(PrettyFormatter::new()));
    value.serialize(&mut ser)?;
    // serde_json writes only valid UTF-8; escapes are ASCII.
    String::from_utf8(out).map_err(|e| serde_json::Error::io(io::Error::other(e)))
}

/// serde_json's pretty printer with unsafe characters in strings escaped as well.
struct SafeFormatter(PrettyFormatter<'static>);

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // Every unsafe character is in the Basic Multilingual Plane.
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
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
    fn json_escapes_what_serde_json_leaves_raw() {
        let value = serde_json::json!({
            "name": "\x1b]0;PWNED\x07",
            "version": ["del\x7f", "c1\u{9b}", "rlo\u{202E}", "ok ↑ \"q\" \\"],
        });
        let text = json_pretty(&value).expect("serialises");
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text}");
        assert!(text.contains("\"\\u001b]0;PWNED\\u0007\""), "{text}");
        assert!(text.contains("\"del\\u007f\""), "{text}");
        assert!(text.contains("\"rlo\\u202e\""), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, value);
        assert_eq!(
            text,
            serde_json::to_string_pretty(&back)
                .expect("serialises")
                .replace('\x7f', "\\u007f")
                .replace('\u{9b}', "\\u009b")
                .replace('\u{202E}', "\\u202e"),
            "otherwise the same bytes as serde_json's pretty printer"
        );
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
