//! A real browser for the HTML pages the project ships: Debian's Chromium,
//! headless, loads a page from disk, runs its script, and hands back the
//! document as the script left it (`--dump-dom`). The address fragment
//! (`#q=…`) is how a test types into the page's search.

use std::path::Path;
use std::process::Command;

/// Where Chromium is: `$CHROMIUM`, else Debian's `/usr/bin/chromium`.
fn chromium() -> String {
    #[allow(clippy::disallowed_methods)] // the test harness's own variable, not a setting
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).exists(),
        "no Chromium at {path}: scripts/test installs Debian's chromium package (or set CHROMIUM)"
    );
    path
}

/// The page's document after its script ran, opened with `fragment`
/// (without the `#`; empty for none).
pub fn dump_dom(page: &Path, fragment: &str) -> String {
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut url = format!("file://{}", page.display());
    if !fragment.is_empty() {
        url.push('#');
        url.push_str(fragment);
    }
    // The flags keep a headless Chromium off the network: this machine has none.
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .output()
        .expect("Chromium runs");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the document is UTF-8")
}

/// The opening tag of the element whose attributes contain `needle`
/// (e.g. `data-email="ann@x.com"`); panics when there is none.
pub fn tag<'d>(dom: &'d str, needle: &str) -> &'d str {
    let at = dom
        .find(needle)
        .unwrap_or_else(|| panic!("no element with {needle} in the page"));
    let start = dom[..at].rfind('<').expect("a tag starts before it");
    let end = at + dom[at..].find('>').expect("and ends after it");
    &dom[start..=end]
}

/// Whether that element is hidden (`hidden` attribute).
pub fn is_hidden(dom: &str, needle: &str) -> bool {
    tag(dom, needle).contains(" hidden")
}

/// Whether that `<details>` is open.
pub fn is_open(dom: &str, needle: &str) -> bool {
    tag(dom, needle).contains(" open")
}
