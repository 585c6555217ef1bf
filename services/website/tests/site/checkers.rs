//! The web quality checkers the tests use, fetched from npm on first use and cached
//! under the target directory (like DynamoDB Local in `cargo xtask test`), so a fresh
//! machine with node, npm and java needs nothing else: axe-core (accessibility, run in
//! the page over WebDriver) and the Nu HTML checker (`vnu-jar`, run with java).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

const AXE: &str = "axe-core@4.14.1";
const VNU: &str = "vnu-jar@26.9.27";

/// Where fetched packages live: `<target>/tmp/web-checkers/<name>/`.
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-checkers")
}

/// `file` inside the npm package `spec`, fetched (`npm pack`, no install scripts) into
/// the cache the first time. Unpacked beside its final place and renamed into it, so a
/// run cut short never leaves half a package to be trusted next time.
fn npm_file(spec: &str, file: &str) -> PathBuf {
    // One fetch at a time within this test binary.
    static FETCHING: Mutex<()> = Mutex::new(());
    let _one = FETCHING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = cache().join(spec.replace(['@', '/'], "-"));
    let wanted = dir.join(file);
    if wanted.is_file() {
        return wanted;
    }
    let work = cache().join(format!(
        "partial-{}-{}",
        std::process::id(),
        ulid::Ulid::new()
    ));
    std::fs::create_dir_all(&work).expect("a cache directory for the web checkers");
    eprintln!("fetching {spec} from npm into {}", cache().display());
    let packed = Command::new("npm")
        .args(["pack", "--silent", spec])
        .current_dir(&work)
        .output()
        .unwrap_or_else(|e| panic!("run `npm pack {spec}` (is Node/npm installed?): {e}"));
    assert!(
        packed.status.success(),
        "`npm pack {spec}` failed: {}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let stdout = String::from_utf8_lossy(&packed.stdout);
    let tarball = stdout.lines().last().unwrap_or_default().trim().to_owned();
    let unpacked = Command::new("tar")
        .args(["xzf", &tarball])
        .current_dir(&work)
        .status()
        .expect("run tar");
    assert!(unpacked.success(), "unpack {tarball}");
    let package = work.join("package");
    assert!(package.join(file).is_file(), "{spec} has no {file}");
    if std::fs::rename(&package, &dir).is_err() {
        // Another run got there first; its copy is as good.
        assert!(
            wanted.is_file(),
            "{} could not be put in place",
            dir.display()
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    wanted
}

/// axe-core's script, to inject into a page.
pub fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = npm_file(AXE, "axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// One message of the Nu HTML checker.
#[derive(Debug, Clone)]
pub struct HtmlMessage {
    pub page: String,
    pub kind: String,
    pub message: String,
    pub extract: String,
}

/// Checks every `(name, html)` with the Nu HTML checker in one run of java; every
/// message it has, errors and warnings.
pub fn check_html(pages: &[(String, String)]) -> Vec<HtmlMessage> {
    let jar = npm_file(VNU, "build/dist/vnu.jar");
    let dir = cache().join(format!(
        "pages-{}-{}",
        std::process::id(),
        ulid::Ulid::new()
    ));
    std::fs::create_dir_all(&dir).expect("a directory for the pages");
    let mut files = Vec::new();
    for (name, html) in pages {
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, html).expect("write a page");
        files.push(file);
    }
    let output = Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .args(["--format", "json", "--stdout"])
        .args(&files)
        .output()
        .expect("run the Nu HTML checker (is java installed?)");
    let _ = std::fs::remove_dir_all(&dir);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the Nu HTML checker's report is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    report["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| {
            let url = message["url"].as_str().unwrap_or_default();
            let page = url
                .rsplit('/')
                .next()
                .unwrap_or(url)
                .trim_end_matches(".html")
                .to_owned();
            let kind = match (message["type"].as_str(), message["subType"].as_str()) {
                (Some(kind), Some(sub)) => format!("{kind}/{sub}"),
                (Some(kind), None) => kind.to_owned(),
                _ => "unknown".to_owned(),
            };
            HtmlMessage {
                page,
                kind,
                message: message["message"].as_str().unwrap_or_default().to_owned(),
                extract: message["extract"].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}
