//! Lists the collector's migration files for the raw SQLite loop, so it
//! always builds the schema the collector in this tree builds — every
//! numbered file in order — without a copy that could drift.

// Cargo reads a build script's instructions from its stdout.
#![allow(clippy::print_stdout)]

use std::path::Path;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let directory = Path::new(&manifest_dir).join("../collector/src/store/migrations");
    println!("cargo::rerun-if-changed={}", directory.display());
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .expect("the collector's migrations directory")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "sql"))
        .collect();
    // Numbered names (0001_…) sort into the order the collector applies them.
    files.sort();
    let mut code = String::from("&[\n");
    for file in files {
        let file = file.canonicalize().expect("a readable migration file");
        code.push_str(&format!(
            "    include_str!({:?}),\n",
            file.display().to_string()
        ));
    }
    code.push(']');
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("migrations.rs"), code)
        .expect("writing the migration list");
}
