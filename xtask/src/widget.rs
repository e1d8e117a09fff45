//! Building the widget: compile `heard-widget` to WebAssembly, generate its
//! JS glue with wasm-bindgen (as a library, so no tool needs installing), and
//! put both next to the widget's stylesheet in `target/widget/`, where the
//! collector serves them under `/widget/`. A release build also writes each
//! served file's brotli and gzip forms beside it (`precompress`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use wasm_bindgen_cli_support::Bindgen;

use crate::setup::{self, WASM_TARGET};
use crate::{cmd, target_dir};

/// The name the loader imports: `heard_widget.js` and `heard_widget_bg.wasm`.
const OUT_NAME: &str = "heard_widget";
/// The size-first cargo profile in the workspace manifest.
const RELEASE_PROFILE: &str = "widget-release";

/// Builds the widget into `<workspace_root>/target/widget/` and returns that
/// directory. `release` uses the size-first `widget-release` profile and
/// strips names from the wasm; otherwise a quick debug build.
pub fn build_widget(workspace_root: &Path, release: bool) -> anyhow::Result<PathBuf> {
    setup::ensure_wasm_target(workspace_root)?;

    let mut build = cmd::cargo(
        workspace_root,
        &[
            "build",
            "--package",
            "heard-widget",
            "--target",
            WASM_TARGET,
        ],
    );
    if release {
        build.args(["--profile", RELEASE_PROFILE]);
        // Panic locations name their source files; shorter names are
        // bytes every shopper saves (the wasm32 target only: build scripts
        // and the host are untouched).
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        for (from, to) in source_prefixes() {
            flags.push_str(&format!(" --remap-path-prefix={from}={to}"));
        }
        build.env("RUSTFLAGS", flags.trim());
    }
    cmd::run(&mut build)?;

    let profile_dir = if release { RELEASE_PROFILE } else { "debug" };
    let wasm = target_dir(workspace_root)
        .join(WASM_TARGET)
        .join(profile_dir)
        .join(format!("{OUT_NAME}.wasm"));
    let out_dir = workspace_root.join("target").join("widget");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        // The library's default differs from the CLI's: without the default
        // module path, `init()` cannot find the .wasm next to the glue.
        .omit_default_module_path(false)
        .typescript(false)
        .remove_name_section(release)
        .remove_producers_section(release)
        .out_name(OUT_NAME)
        .generate(&out_dir)
        .with_context(|| format!("generating JS bindings for {}", wasm.display()))?;

    // The glue's comments (our doc comments, as JSDoc) and indentation are
    // for people reading it; shoppers download them on the first open.
    let glue = out_dir.join(format!("{OUT_NAME}.js"));
    let text = fs::read_to_string(&glue).with_context(|| format!("reading {}", glue.display()))?;
    fs::write(&glue, minify_glue(&text))
        .with_context(|| format!("writing the minified {}", glue.display()))?;

    // Comments and indentation are for people editing the stylesheet; every
    // shopper would download them on the first open, so they go here.
    let css = workspace_root.join("www").join("widget.css");
    let source = fs::read_to_string(&css).with_context(|| format!("reading {}", css.display()))?;
    fs::write(out_dir.join("widget.css"), minify_css(&source))
        .with_context(|| format!("writing the minified {}", css.display()))?;
    copy_catalogs(
        &workspace_root.join("widget").join("i18n"),
        &out_dir.join("i18n"),
    )?;
    // A debug wasm is about 11 MB: brotli at quality 11 would take some
    // twenty seconds of every debug build, and the collector compresses
    // what has no sibling as it sends it. Stale siblings must go, though, or
    // they would be served in place of the files just built.
    precompress(&out_dir, release)?;
    Ok(out_dir)
}

/// The kinds of file the collector serves from the widget directory, all
/// worth compressing (the wasm most: 481 KB raw, 141 KB brotli).
const COMPRESSED_EXTENSIONS: &[&str] = &["wasm", "js", "css", "json"];

/// The encodings written beside each file, by the suffix the collector's
/// `ServeDir` looks for.
const SIBLING_SUFFIXES: &[&str] = &["br", "gz"];

/// Writes `name.br` (brotli, quality 11) and `name.gz` (gzip -9) beside every
/// served file under `dir`, its subdirectories included, or with `write`
/// false only removes them; either way it removes the siblings of files that
/// are gone. Always rewritten, not compared with the source: bindgen and the
/// minifiers rewrite every file on each build anyway, and the whole release
/// set takes about a second (brotli on the wasm nearly all of it). Each
/// sibling is written to a temporary name and renamed into place, so a
/// running collector never sends a half-written one.
fn precompress(dir: &Path, write: bool) -> anyhow::Result<()> {
    // Listed before anything is written, so the walk never meets its own output.
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            precompress(&path, write)?;
        } else {
            files.push(path);
        }
    }
    files.sort();
    let extension_of = |path: &Path| {
        path.extension()
            .and_then(|extension| extension.to_str())
            .unwrap_or_default()
            .to_owned()
    };
    // What an interrupted build left half-written, a sibling whose file is
    // gone, and any sibling when not writing: removed before writing, which
    // may reuse a temporary name.
    for path in &files {
        let extension = extension_of(path);
        let stale = extension == "partial"
            || (SIBLING_SUFFIXES.contains(&extension.as_str())
                && (!write || !path.with_extension("").is_file()));
        if stale {
            fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    if write {
        for path in &files {
            if COMPRESSED_EXTENSIONS.contains(&extension_of(path).as_str()) {
                let bytes =
                    fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                write_sibling(path, "br", &brotli(&bytes)?)?;
                write_sibling(path, "gz", &gzip(&bytes)?)?;
            }
        }
    }
    Ok(())
}

/// `path` with `.suffix` added (`a.wasm` → `a.wasm.br`), written whole.
fn write_sibling(path: &Path, suffix: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    let sibling = PathBuf::from(name);
    let mut partial = sibling.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    fs::rename(&partial, &sibling).with_context(|| format!("renaming to {}", sibling.display()))
}

/// Brotli at quality 11 with a 4 MB window, what `brotli -q 11` writes.
fn brotli(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 4096, 11, 22);
        writer.write_all(bytes)?;
        // Dropping the writer finishes the stream.
    }
    Ok(compressed)
}

/// Gzip at its highest level, what `gzip -9` writes.
fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// The long prefixes of the source paths a release build embeds, and what
/// they become: the crates from the registry (`…/registry/src/index…/`) lose
/// everything before the crate's own directory. (The standard library's
/// `/rustc/{commit}/` paths come precompiled: remapping them changes
/// nothing.) Found at build time; nothing here names a machine.
fn source_prefixes() -> Vec<(String, String)> {
    let mut prefixes = Vec::new();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    if let Some(Ok(indexes)) =
        cargo_home.map(|home| fs::read_dir(home.join("registry").join("src")))
    {
        for index in indexes.flatten() {
            prefixes.push((format!("{}/", index.path().display()), String::new()));
        }
    }
    // Paths with spaces would split the flags; leave those alone.
    prefixes.retain(|(from, _)| !from.contains(' '));
    prefixes
}

/// Removes what the browser ignores from a stylesheet: comments and the
/// whitespace people need but the CSS grammar does not. Careful rather than
/// clever: strings and unquoted `url(…)` pass through byte for byte, a run of
/// whitespace becomes one space unless it touches punctuation where no space is
/// ever significant (`{ } ; , >` and after `:`), so descendant selectors
/// (`.a .b`, `.a :focus`), `calc(1px + 2px)` and `and (…)` keep their spaces.
fn minify_css(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    // A whitespace run (or comment) seen but not yet written: written as one
    // space only if the characters on both sides need it.
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = '\0';
                for inner in chars.by_ref() {
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
                pending_space = true;
            }
            c if c.is_whitespace() => pending_space = true,
            _ => {
                if pending_space && needs_space_between(out.chars().last(), c) {
                    out.push(' ');
                }
                pending_space = false;
                if c == '}' && out.ends_with(';') {
                    // The last declaration of a block needs no semicolon.
                    out.pop();
                }
                out.push(c);
                match c {
                    '"' | '\'' => copy_string(&mut chars, c, &mut out),
                    '(' if out.ends_with("url(")
                        && chars
                            .peek()
                            .is_some_and(|next| *next != '"' && *next != '\'') =>
                    {
                        for inner in chars.by_ref() {
                            out.push(inner);
                            if inner == ')' {
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out.trim_end().to_owned()
}

/// Removes comment lines and indentation from the JS glue wasm-bindgen
/// generates. Line by line and only what is certain: a line that is wholly a
/// `//` comment or part of a `/* … */` block that starts a line goes; other
/// lines lose their leading whitespace, which JavaScript never reads — except
/// inside a template literal that spans lines, which is copied as it is.
/// Line breaks stay, so automatic semicolon insertion sees what it saw.
fn minify_glue(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut in_comment = false;
    let mut in_template = false;
    for line in source.lines() {
        let code = line.trim();
        if in_template {
            out.push_str(line);
        } else if in_comment {
            in_comment = !line.contains("*/");
            continue;
        } else if code.starts_with("/*") {
            in_comment = !code.contains("*/");
            continue;
        } else if code.is_empty() || code.starts_with("//") {
            continue;
        } else {
            out.push_str(code);
        }
        out.push('\n');
        // An odd number of backticks on a line of code opens or closes a
        // template literal across lines.
        if line.matches('`').count() % 2 == 1 {
            in_template = !in_template;
        }
    }
    out
}

/// Whether whitespace between `before` and `after` can change the meaning.
fn needs_space_between(before: Option<char>, after: char) -> bool {
    const TIGHT_BOTH_SIDES: &[char] = &['{', '}', ';', ',', '>'];
    match before {
        None => false,
        Some(before) => {
            !(TIGHT_BOTH_SIDES.contains(&before)
                || before == ':'
                || TIGHT_BOTH_SIDES.contains(&after))
        }
    }
}

/// Copies a quoted string after its opening `quote`, escapes included.
fn copy_string(chars: &mut impl Iterator<Item = char>, quote: char, out: &mut String) {
    let mut escaped = false;
    for c in chars {
        out.push(c);
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return;
        }
    }
}

/// Copies the language catalogs next to the widget, where it fetches the
/// shopper's language from `/widget/i18n/{tag}.json` (English is built in,
/// but copied too so every language is served the same way).
fn copy_catalogs(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let entries = fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
            && let Some(name) = path.file_name()
        {
            fs::copy(&path, to.join(name))
                .with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Read;
    use std::path::Path;

    use super::{minify_css, minify_glue, precompress};

    fn unbrotli(path: &Path) -> Vec<u8> {
        let mut plain = Vec::new();
        brotli::Decompressor::new(fs::read(path).expect("br sibling").as_slice(), 4096)
            .read_to_end(&mut plain)
            .expect("valid brotli");
        plain
    }

    fn gunzip(path: &Path) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(fs::read(path).expect("gz sibling").as_slice())
            .read_to_end(&mut plain)
            .expect("valid gzip");
        plain
    }

    #[test]
    fn every_served_file_gets_siblings_that_decode_to_it_and_stale_ones_go() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path();
        fs::create_dir(root.join("i18n")).expect("i18n");
        // Repetitive enough to shrink, varied enough to be a real test.
        let wasm: Vec<u8> = (0..200_000u32)
            .map(|i| ((i % 251) ^ (i / 977)) as u8)
            .collect();
        fs::write(root.join("w_bg.wasm"), &wasm).expect("wasm");
        fs::write(
            root.join("w.js"),
            "export function f() { return 1; }\n".repeat(50),
        )
        .expect("js");
        fs::write(root.join("widget.css"), ".a{color:red}".repeat(40)).expect("css");
        fs::write(root.join("i18n").join("fr.json"), r#"{"send":"Envoyer"}"#).expect("json");
        fs::write(root.join("notes.txt"), "not served").expect("txt");
        // What an earlier build or an interrupted one left behind.
        fs::write(root.join("gone.js.br"), "stale").expect("stale br");
        fs::write(root.join("i18n").join("xx.json.gz"), "stale").expect("stale gz");
        fs::write(root.join("w.js.gz.partial"), "half").expect("partial");

        precompress(root, true).expect("precompress");

        for name in ["w_bg.wasm", "w.js", "widget.css", "i18n/fr.json"] {
            let path = root.join(name);
            let plain = fs::read(&path).expect("plain");
            let br = root.join(format!("{name}.br"));
            let gz = root.join(format!("{name}.gz"));
            assert_eq!(unbrotli(&br), plain, "{name}.br");
            assert_eq!(gunzip(&gz), plain, "{name}.gz");
        }
        let wasm_br = fs::metadata(root.join("w_bg.wasm.br")).expect("br").len();
        assert!(wasm_br * 2 < wasm.len() as u64, "{wasm_br} bytes brotli");
        for gone in [
            "notes.txt.br",
            "notes.txt.gz",
            "gone.js.br",
            "i18n/xx.json.gz",
            "w.js.gz.partial",
        ] {
            assert!(!root.join(gone).exists(), "{gone} exists");
        }

        // Once more changes nothing but the bytes of changed files.
        fs::write(root.join("w.js"), "export const changed = true;\n").expect("js");
        precompress(root, true).expect("again");
        assert_eq!(
            unbrotli(&root.join("w.js.br")),
            b"export const changed = true;\n"
        );
        assert_eq!(
            gunzip(&root.join("w.js.gz")),
            b"export const changed = true;\n"
        );

        // A debug build writes none and leaves none from the release build.
        precompress(root, false).expect("debug");
        for name in ["w_bg.wasm", "w.js", "widget.css", "i18n/fr.json"] {
            assert!(root.join(name).is_file(), "{name} kept");
            assert!(!root.join(format!("{name}.br")).exists(), "{name}.br left");
            assert!(!root.join(format!("{name}.gz")).exists(), "{name}.gz left");
        }
    }

    #[test]
    fn the_glue_loses_comments_and_indentation_but_no_code() {
        let glue = "/**\n * Docs with `ticks`\n */\nexport class A {\n    // note `x\n    f() {\n        return `${a}\n    kept`;\n    }\n    g() { return 1; } /* inline */\n}\n\n";
        assert_eq!(
            minify_glue(glue),
            "export class A {\nf() {\nreturn `${a}\n    kept`;\n}\ng() { return 1; } /* inline */\n}\n"
        );
    }

    /// The widget's real stylesheet, so the test covers what ships.
    const WIDGET_CSS: &str = include_str!("../../www/widget.css");

    /// Comments removed by a separate, simple pass (the stylesheet has no
    /// `/*` inside strings).
    fn without_comments(css: &str) -> String {
        let mut without_comments = String::new();
        let mut rest = css;
        while let Some(start) = rest.find("/*") {
            without_comments.push_str(&rest[..start]);
            without_comments.push(' ');
            let end = rest[start..].find("*/").expect("closed comment") + start + 2;
            rest = &rest[end..];
        }
        without_comments.push_str(rest);
        without_comments
    }

    /// Each rule's selector with whitespace normalised: what the minifier
    /// must keep, in order.
    fn selectors(css: &str) -> Vec<String> {
        without_comments(css)
            .split('{')
            .map(|before| {
                let prelude = before.rsplit(['}', ';']).next().unwrap_or_default();
                prelude
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace(", ", ",")
                    .replace(" >", ">")
                    .replace("> ", ">")
                    .replace(": ", ":")
            })
            .collect()
    }

    fn quoted_strings(css: &str) -> Vec<String> {
        without_comments(css)
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_widget_stylesheet_keeps_every_rule_selector_and_string() {
        let minified = minify_css(WIDGET_CSS);
        assert!(
            minified.len() < WIDGET_CSS.len() * 3 / 4,
            "minified {} of {} bytes",
            minified.len(),
            WIDGET_CSS.len()
        );
        assert!(!minified.contains("/*"));
        assert!(!minified.contains('\n'));
        assert_eq!(
            minified.matches('{').count(),
            WIDGET_CSS.matches('{').count()
        );
        assert_eq!(
            minified.matches('}').count(),
            WIDGET_CSS.matches('}').count()
        );
        assert_eq!(selectors(&minified), selectors(WIDGET_CSS));
        assert!(selectors(WIDGET_CSS).len() > 50);
        assert_eq!(quoted_strings(&minified), quoted_strings(WIDGET_CSS));
    }

    #[test]
    fn comments_go_and_meaningful_spaces_stay() {
        assert_eq!(
            minify_css(
                "/* head */\n.a .b,\n.c > .d :focus {\n  width: calc(1px + 2px); /* why */\n  color: red;\n}\n"
            ),
            ".a .b,.c>.d :focus{width:calc(1px + 2px);color:red}"
        );
        assert_eq!(
            minify_css("@media screen and (max-width: 480px) {\n  .a { margin: 0 auto }\n}"),
            "@media screen and (max-width:480px){.a{margin:0 auto}}"
        );
    }

    #[test]
    fn strings_and_urls_pass_through_untouched() {
        let css = ".a::before { content: \"/* not a comment */  \\\"x\\\"  ;}\"; \
                   background: url(data:image/svg+xml;a/*b*/c) }\n\
                   .b { font-family: 'Segoe  UI', x }";
        assert_eq!(
            minify_css(css),
            ".a::before{content:\"/* not a comment */  \\\"x\\\"  ;}\";background:url(data:image/svg+xml;a/*b*/c)}\
             .b{font-family:'Segoe  UI',x}"
        );
    }
}
