//! Self-contained HTML pages of a TimeCamp group tree: display-tree's preview
//! and sync-users' plan (`--output html`) are both a [`Page`] rendered here,
//! so they share one look, one search and one way of collapsing.
//!
//! A page is one file with its style and script inline (it is opened from
//! disk or mailed around, with no server and no network). Groups are nested
//! `<details>`, open down to the second level, so a tree of thousands of
//! people starts short; names sort in natural order (`Team 2` before
//! `Team 10`). The search box filters people by name, e-mail, role, group
//! or change and opens the groups that hold a match; "changes only" shows
//! just what a plan changes. The search also reads `#q=…` from the address
//! (and `#changes`), so a link can point at a person.

use std::cmp::Ordering;
use std::fmt::Write;

/// What a mark says about a group or person; each kind has its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkKind {
    New,
    Move,
    Rename,
    Role,
    Email,
    Disable,
    Enable,
    Skipped,
    Other,
}

impl MarkKind {
    fn class(self) -> &'static str {
        match self {
            MarkKind::New => "new",
            MarkKind::Move => "move",
            MarkKind::Rename => "rename",
            MarkKind::Role => "role",
            MarkKind::Email => "email",
            MarkKind::Disable => "disable",
            MarkKind::Enable => "enable",
            MarkKind::Skipped => "skipped",
            MarkKind::Other => "other",
        }
    }

    /// Whether the mark is something the run changes. A person left alone or
    /// held back is marked with the reason, but is no change: "changes only"
    /// does not show them, and a plan of nothing but such people has no changes.
    pub fn is_change(self) -> bool {
        self != MarkKind::Skipped
    }
}

/// A change (or a note) shown next to a group or person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub kind: MarkKind,
    pub text: String,
}

impl Mark {
    pub fn new(kind: MarkKind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
        }
    }
}

/// Whether any of the marks is a change.
fn any_change(marks: &[Mark]) -> bool {
    marks.iter().any(|m| m.kind.is_change())
}

/// What a banner above the tree is about; each kind has its look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerKind {
    /// Something to act on before a real run (a refusal of a guard).
    Alert,
    /// Something to know at once (the plan changes nothing).
    Info,
}

/// A sentence shown above the tree, in a box, before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub kind: BannerKind,
    pub text: String,
}

impl Banner {
    pub fn alert(text: impl Into<String>) -> Self {
        Self {
            kind: BannerKind::Alert,
            text: text.into(),
        }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self {
            kind: BannerKind::Info,
            text: text.into(),
        }
    }
}

/// A person in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub email: String,
    pub role: String,
    pub marks: Vec<Mark>,
}

/// A group with its people and subgroups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub marks: Vec<Mark>,
    pub members: Vec<Member>,
    pub children: Vec<Group>,
}

impl Group {
    pub fn named(name: impl Into<String>) -> Self {
        let mut group = Self::default();
        group.name = name.into();
        group
    }

    /// The group at `parts` below this one, made (with the groups between)
    /// when missing.
    pub fn at<'p>(&mut self, parts: impl IntoIterator<Item = &'p str>) -> &mut Group {
        let mut node = self;
        for part in parts {
            let i = match node.children.iter().position(|c| c.name == part) {
                Some(i) => i,
                None => {
                    node.children.push(Group::named(part));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i];
        }
        node
    }

    /// This group and every group below it, parents first. Every walk of the
    /// tree goes through here, without recursion: a tree as deep as its
    /// input makes it must not overflow the stack.
    pub fn subtree(&self) -> impl Iterator<Item = &Group> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let g = stack.pop()?;
            stack.extend(g.children.iter().rev());
            Some(g)
        })
    }

    /// People in this group and all below it.
    pub fn total(&self) -> usize {
        self.subtree().map(|g| g.members.len()).sum()
    }

    /// Groups below this one.
    pub fn descendants(&self) -> usize {
        self.subtree().count() - 1
    }
}

/// Dropped level by level: the derived drop would recurse once per level.
impl Drop for Group {
    fn drop(&mut self) {
        let mut below = std::mem::take(&mut self.children);
        while let Some(mut g) = below.pop() {
            below.append(&mut g.children);
        }
    }
}

/// One page: a title, banners, the counts at the top, the tree, and notes below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub title: String,
    /// Shown first, under the title.
    pub banners: Vec<Banner>,
    pub counts: Vec<(String, usize)>,
    /// The top of the tree (the root group); drawn open, with its name.
    pub root: Group,
    pub notes: Vec<String>,
}

/// Compares names as people expect: digit runs by their number, the rest
/// without case, then exactly (so the order is total and stable).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let ord = match (x.0, y.0) {
            (true, true) => {
                let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            _ => x.1.to_lowercase().cmp(&y.1.to_lowercase()),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn marks_html(marks: &[Mark]) -> String {
    marks
        .iter()
        .map(|m| {
            format!(
                " <span class=\"mark {}\">{}</span>",
                m.kind.class(),
                esc(&m.text)
            )
        })
        .collect()
}

fn people(n: usize) -> String {
    if n == 1 {
        "1 person".into()
    } else {
        format!("{n} people")
    }
}

/// Whether a group or anything below it is changed.
fn changed(g: &Group) -> bool {
    g.subtree()
        .any(|g| any_change(&g.marks) || g.members.iter().any(|m| any_change(&m.marks)))
}

/// What the summary of each group shows about everything below it, by the
/// group's address, computed in one pass from the deepest groups up.
struct Below {
    /// People in the group and below.
    total: usize,
    /// Whether anything in the group or below is changed.
    changed: bool,
}

fn below(root: &Group) -> std::collections::HashMap<*const Group, Below> {
    let order: Vec<&Group> = root.subtree().collect();
    let mut facts: std::collections::HashMap<*const Group, Below> =
        std::collections::HashMap::with_capacity(order.len());
    // Children come after their parents in `order`: read backwards, every
    // child is done before its parent.
    for g in order.into_iter().rev() {
        let mut own = Below {
            total: g.members.len(),
            changed: any_change(&g.marks) || g.members.iter().any(|m| any_change(&m.marks)),
        };
        for c in &g.children {
            if let Some(c) = facts.get(&std::ptr::from_ref(c)) {
                own.total += c.total;
                own.changed |= c.changed;
            }
        }
        facts.insert(std::ptr::from_ref(g), own);
    }
    facts
}

/// The tree as nested `<details>`, written without recursion.
fn tree_html(root: &Group, out: &mut String) {
    enum Step<'g> {
        Open {
            g: &'g Group,
            path: String,
            depth: usize,
        },
        Close,
    }
    let facts = below(root);
    let mut steps = vec![Step::Open {
        g: root,
        path: String::new(),
        depth: 0,
    }];
    while let Some(step) = steps.pop() {
        let Step::Open { g, path, depth } = step else {
            out.push_str("</details>\n");
            continue;
        };
        let (total, changed) = facts
            .get(&std::ptr::from_ref(g))
            .map_or((g.members.len(), false), |f| (f.total, f.changed));
        group_html(g, &path, depth, total, changed, out);
        steps.push(Step::Close);
        let mut children: Vec<&Group> = g.children.iter().collect();
        children.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        for c in children.into_iter().rev() {
            let child_path = if path.is_empty() {
                c.name.clone()
            } else {
                format!("{path}/{}", c.name)
            };
            steps.push(Step::Open {
                g: c,
                path: child_path,
                depth: depth + 1,
            });
        }
    }
}

/// One group's summary and its people; its subgroups follow, then `</details>`.
fn group_html(g: &Group, path: &str, depth: usize, total: usize, changed: bool, out: &mut String) {
    let open = if depth <= 2 { " open" } else { "" };
    let count = if g.children.is_empty() {
        people(g.members.len())
    } else {
        format!("{} here, {} in all", g.members.len(), people(total))
    };
    let _ = writeln!(
        out,
        "<details class=\"group\" data-depth=\"{depth}\" data-path=\"{}\"{}{}{open}><summary><b>{}</b> <span class=\"count\">{count}</span>{}</summary>",
        esc(path),
        if changed { " data-changed" } else { "" },
        if any_change(&g.marks) {
            " data-own-change"
        } else {
            ""
        },
        esc(&g.name),
        marks_html(&g.marks)
    );
    if !g.members.is_empty() {
        let mut members: Vec<&Member> = g.members.iter().collect();
        members.sort_by(|a, b| natural_cmp(&a.name, &b.name).then_with(|| a.email.cmp(&b.email)));
        out.push_str("<ul>\n");
        for m in members {
            let search: String = [
                m.name.as_str(),
                m.email.as_str(),
                m.role.as_str(),
                g.name.as_str(),
            ]
            .into_iter()
            .chain(m.marks.iter().map(|k| k.text.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
            let _ = writeln!(
                out,
                "<li class=\"user\" data-email=\"{}\" data-search=\"{}\"{}>{} <span class=\"email\">&lt;{}&gt;</span> <span class=\"role\">{}</span>{}</li>",
                esc(&m.email),
                esc(&search),
                if any_change(&m.marks) {
                    " data-changed"
                } else {
                    ""
                },
                esc(&m.name),
                esc(&m.email),
                esc(&m.role),
                marks_html(&m.marks)
            );
        }
        out.push_str("</ul>\n");
    }
}

const STYLE: &str = "body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; }
.counts span { display: inline-block; margin: 0 1.2rem .3rem 0; }
.tools { margin: 1rem 0; display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; }
#q { font-size: 1rem; padding: .3rem .5rem; width: 40ch; max-width: 100%; box-sizing: border-box; }
details { margin-left: 1.2rem; border-left: 1px solid #ccc; padding-left: .6rem; }
details[data-depth=\"0\"] { margin-left: 0; border-left: none; padding-left: 0; }
summary { cursor: pointer; padding: .15rem 0; }
.count { color: #666; font-size: .9em; }
ul { margin: .2rem 0 .4rem 1rem; padding: 0; list-style: none; }
li { padding: .05rem 0; }
.email { color: #555; }
.role { font-size: .8em; background: #eef; border-radius: 3px; padding: 0 .3em; }
.mark { font-size: .8em; border-radius: 3px; padding: 0 .35em; margin-left: .2em; }
.mark.new { background: #d7f5dd; } .mark.move { background: #dde8ff; } .mark.rename { background: #f0e6ff; }
.mark.role { background: #fff1c9; } .mark.email { background: #e5f6f6; } .mark.disable { background: #ffd9d6; }
.mark.enable { background: #d7f5dd; } .mark.skipped { background: #eee; } .mark.other { background: #f3f3f3; }
.notes { color: #555; }
.banner { padding: .6rem .9rem; border-radius: 4px; margin: .8rem 0; max-width: 60rem; }
.banner.alert { background: #ffd9d6; border: 1px solid #d33; font-weight: 600; }
.banner.info { background: #e5f6f6; border: 1px solid #7bb; }
[hidden] { display: none !important; }";

/// Filters people by the search text (and to changes only), opens the groups
/// holding a match, and restores the first view when both are cleared.
const SCRIPT: &str = r#"(function () {
  var q = document.getElementById('q');
  var only = document.getElementById('changes') || { checked: false, addEventListener: function () {} };
  var groups = Array.prototype.slice.call(document.querySelectorAll('details.group'));
  var users = Array.prototype.slice.call(document.querySelectorAll('li.user'));
  var shown = document.getElementById('shown');
  function apply() {
    var text = q.value.trim().toLowerCase(), changes = only.checked, n = 0;
    if (!text && !changes) {
      users.forEach(function (u) { u.hidden = false; });
      groups.forEach(function (g) { g.hidden = false; g.open = Number(g.dataset.depth) <= 2; });
      shown.textContent = '';
      return;
    }
    users.forEach(function (u) {
      var ok = (!text || u.dataset.search.indexOf(text) >= 0) && (!changes || u.hasAttribute('data-changed'));
      u.hidden = !ok; if (ok) { n++; }
    });
    groups.slice().reverse().forEach(function (g) {
      var own = (!text || g.dataset.path.toLowerCase().indexOf(text) >= 0) && (!changes || g.hasAttribute('data-own-change'));
      var below = g.querySelector('li.user:not([hidden]), details.group:not([hidden])');
      g.hidden = !(own || below);
      g.open = !!below;
    });
    var none = changes && !text && n === 0 && !groups.some(function (g) { return !g.hidden; });
    shown.textContent = none ? 'No changes in this plan' : n + (n === 1 ? ' person matches' : ' people match');
  }
  function fromAddress() {
    var h = decodeURIComponent(location.hash.slice(1));
    var m = /(?:^|&)q=([^&]*)/.exec(h);
    if (m) { q.value = m[1]; }
    if (/(?:^|&)changes(?:&|$)/.test(h)) { only.checked = true; }
    apply();
  }
  q.addEventListener('input', apply);
  only.addEventListener('change', apply);
  document.getElementById('expand').addEventListener('click', function () { groups.forEach(function (g) { if (!g.hidden) { g.open = true; } }); });
  document.getElementById('collapse').addEventListener('click', function () { groups.forEach(function (g) { g.open = Number(g.dataset.depth) === 0; }); });
  window.addEventListener('hashchange', fromAddress);
  fromAddress();
})();"#;

/// The page as one HTML document.
pub fn render(page: &Page) -> String {
    let mut tree = String::new();
    tree_html(&page.root, &mut tree);
    let counts: String = page
        .counts
        .iter()
        .map(|(label, n)| format!("<span>{}: <b>{n}</b></span>", esc(label)))
        .collect();
    let notes: String = page
        .notes
        .iter()
        .map(|n| format!("<li>{}</li>\n", esc(n)))
        .collect();
    let banners: String = page
        .banners
        .iter()
        .map(|b| {
            let (class, role) = match b.kind {
                BannerKind::Alert => ("alert", "alert"),
                BannerKind::Info => ("info", "status"),
            };
            format!(
                "<p class=\"banner {class}\" role=\"{role}\">{}</p>\n",
                esc(&b.text)
            )
        })
        .collect();
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("<h2>Notes</h2>\n<ul class=\"notes\">\n{notes}</ul>\n")
    };
    format!(
        "<!DOCTYPE html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>{title}</title>
<style>
{STYLE}
</style>
</head>
<body>
<h1>{title}</h1>
{banners}<p class=\"counts\">{counts}</p>
<div class=\"tools\"><input id=\"q\" type=\"search\" placeholder=\"Search name, e-mail, group, change\" aria-label=\"Search\">
{changes_only}<button id=\"expand\" type=\"button\">Expand all</button> <button id=\"collapse\" type=\"button\">Collapse all</button>
<span id=\"shown\" aria-live=\"polite\"></span></div>
{tree}{notes}<script>
{SCRIPT}
</script>
</body>
</html>
",
        title = esc(&page.title),
        changes_only = if changed(&page.root) {
            "<label><input id=\"changes\" type=\"checkbox\"> changes only</label>\n"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_natural_order() {
        let mut names = vec!["Team 10", "team 2", "Team 1", "Alpha", "Team 02b", "beta"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["Alpha", "beta", "Team 1", "team 2", "Team 02b", "Team 10"]
        );
        assert_eq!(natural_cmp("a", "A"), "a".cmp("A"), "a total order");
    }

    fn page() -> Page {
        let mut root = Group::named("Company");
        let eng = root.at(["Engineering", "Backend", "Rust"]);
        eng.members.push(Member {
            name: "Zoë <O'Neil>".into(),
            email: "zoe@x.com".into(),
            role: "user".into(),
            marks: vec![Mark::new(MarkKind::Move, "from Sales")],
        });
        root.at(["Engineering"])
            .marks
            .push(Mark::new(MarkKind::New, "new group"));
        Page {
            title: "Plan & preview".into(),
            counts: vec![("Moves".into(), 1)],
            root,
            notes: vec!["a <note>".into()],
            ..Page::default()
        }
    }

    #[test]
    fn banners_come_first_and_an_alert_is_announced() {
        let mut p = page();
        p.banners = vec![
            Banner::alert("A real run would stop here: <5> disables"),
            Banner::info("No changes"),
        ];
        let html = render(&p);
        let alert = html
            .find("<p class=\"banner alert\" role=\"alert\">A real run would stop here: &lt;5&gt; disables</p>")
            .expect("the alert, escaped");
        let info = html
            .find("<p class=\"banner info\" role=\"status\">No changes</p>")
            .expect("the note");
        assert!(alert < info && info < html.find("class=\"counts\"").unwrap());
        assert!(!render(&page()).contains("class=\"banner"));
    }

    /// A person left alone carries the reason, but is no change: the page
    /// offers no "changes only" for them, and their item is not a change.
    #[test]
    fn people_left_alone_are_no_change() {
        let mut root = Group::named("Company");
        root.members.push(Member {
            name: "Boss".into(),
            email: "boss@x.com".into(),
            role: "administrator".into(),
            marks: vec![Mark::new(MarkKind::Skipped, "left alone: ignored")],
        });
        let html = render(&Page {
            root,
            ..Page::default()
        });
        assert!(html.contains(">left alone: ignored</span>"));
        assert!(!html.contains("id=\"changes\""), "nothing to filter on");
        assert!(!html.contains(" data-changed"), "{html}");
    }

    #[test]
    fn groups_open_to_the_second_level_and_text_is_escaped() {
        let html = render(&page());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Plan &amp; preview</title>"));
        assert!(html.contains("Zoë &lt;O&#39;Neil&gt;"));
        assert!(html.contains("data-path=\"Engineering/Backend\" data-changed open>"));
        assert!(
            html.contains("data-depth=\"3\" data-path=\"Engineering/Backend/Rust\" data-changed>"),
            "the third level starts closed"
        );
        assert!(html.contains("<span class=\"mark move\">from Sales</span>"));
        assert!(html.contains("<li>a &lt;note&gt;</li>"));
        assert!(
            html.contains("id=\"changes\""),
            "a page with changes can show only them"
        );
        assert!(!render(&Page::default()).contains("id=\"changes\""));
        assert!(
            !html.contains("src=") && !html.contains("href="),
            "nothing from elsewhere"
        );
    }

    #[test]
    fn totals_count_people_below() {
        let p = page();
        assert_eq!(p.root.total(), 1);
        assert_eq!(p.root.descendants(), 3);
    }

    /// The pages check the depth of the paths they are given, but a page of
    /// any depth is still drawn and dropped without recursion: here in a
    /// stack that one frame per level would overflow.
    #[test]
    fn a_deep_tree_is_drawn_and_dropped_without_recursion() {
        let depth = 3_000;
        let mut root = Group::named("Root");
        root.at(std::iter::repeat_n("G", depth))
            .members
            .push(Member {
                name: "Deep".into(),
                email: "deep@x.com".into(),
                role: "user".into(),
                marks: vec![Mark::new(MarkKind::New, "new")],
            });
        assert_eq!((root.total(), root.descendants()), (1, depth));
        let page = Page {
            root,
            ..Page::default()
        };
        // A thread with a small stack, as tokio's workers have.
        let html = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let html = render(&page);
                drop(page);
                html
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(html.matches("<details").count(), depth + 1);
        assert_eq!(html.matches("</details>").count(), depth + 1);
        assert!(html.contains(
            "data-changed open><summary><b>Root</b> <span class=\"count\">0 here, 1 person in all</span>"
        ));
        assert!(html.contains(&format!("data-depth=\"{depth}\" data-path=\"G/")));
    }
}
