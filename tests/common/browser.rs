//! Headless Debian `chromium` driven through its command line (`--dump-dom`, `--screenshot`,
//! `--print-to-pdf`), and what the tests read back: the DOM's start tags and PNG sizes.
//!
//! `scripts/test.sh` installs chromium. Without it the tests that need it fail, unless
//! `ACDSTREAM_TEST_SKIP_BROWSER` is set, which skips them with a message.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A browser run that takes longer than this is stuck, and is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ACDSTREAM_TEST_CHROMIUM") {
        return Some(path.into());
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("ACDSTREAM_TEST_SKIP_BROWSER").is_some(),
            "chromium is needed for the wallboard tests: run scripts/test.sh (it installs \
             Debian's chromium) or apt-get install chromium; set ACDSTREAM_TEST_SKIP_BROWSER=1 \
             to skip them"
        );
        eprintln!("SKIPPED: chromium not found and ACDSTREAM_TEST_SKIP_BROWSER is set");
    }
    found
}

/// Runs headless chromium on `url` with `args`; its standard output. Times are shown in UTC
/// (`TZ`), so that the test can spell the page's clock times itself.
pub fn browse(browser: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium failed on {url}: {status}");
            break;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {url} within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The DOM after the page has run `budget_ms` of (virtual) time.
pub fn dump_dom(browser: &Path, profile: &Path, url: &str, budget_ms: u32) -> String {
    let args = [
        format!("--virtual-time-budget={budget_ms}"),
        "--dump-dom".to_owned(),
    ];
    browse(browser, profile, &args, url)
}

/// One element of the dumped DOM: its attributes and the text up to the next tag.
#[derive(Debug)]
pub struct Element {
    pub attrs: BTreeMap<String, String>,
    pub text: String,
}

/// Every start tag of `html`, in document order (what the page writes: double-quoted
/// attributes, text escaped by the browser).
pub fn elements(html: &str) -> Vec<Element> {
    let html = without(&without(html, "script"), "style");
    let mut out = Vec::new();
    let mut rest = html.as_str();
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('/') || tag.starts_with('!') {
            continue;
        }
        let mut attrs = BTreeMap::new();
        let mut t = tag.split_once(' ').map_or("", |(_, a)| a);
        while let Some(eq) = t.find("=\"") {
            let name = t[..eq].trim().to_owned();
            let after = &t[eq + 2..];
            let Some(close) = after.find('"') else { break };
            attrs.insert(name, unescape(&after[..close]));
            t = &after[close + 1..];
        }
        let text = unescape(&rest[..rest.find('<').unwrap_or(rest.len())]);
        out.push(Element { attrs, text });
    }
    out
}

/// `html` without the `tag` elements, whose text is code, not markup.
pub fn without(html: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find(&close)
            .map_or("", |end| &rest[start + end + close.len()..]);
    }
    out.push_str(rest);
    out
}

pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// A PNG's size and its IHDR width and height.
pub fn png_size(path: &Path) -> (u64, u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (bytes.len() as u64, be(16), be(20))
}

pub fn screenshot(browser: &Path, profile: &Path, url: &str, out: &Path) -> (u64, u32, u32) {
    let args = [
        "--window-size=1920,1080".to_owned(),
        "--virtual-time-budget=3000".to_owned(),
        format!("--screenshot={}", out.display()),
    ];
    browse(browser, profile, &args, url);
    png_size(out)
}
