//! display-tree: a preview of the group tree that `timecamp_users.json` asks for.
//!
//! The text report keeps the original's layout (statistics, tree, distribution,
//! optional per-group listing, then a CSV of all users), so admins who read it
//! before find it where they expect. The HTML page is `scim_report`'s, the
//! same as sync-users' plan: searchable, collapsible, in natural name order.

use std::collections::BTreeMap;
use std::fmt::Write;

use scim_groups::{normalise_path, path_parts};
use scim_model::{Role, Status, TimecampUser};
use scim_report::{Group, Member, Page};

const RULE: &str =
    "================================================================================";
const ROOT_KEY: &str = "<root>";

/// Active users bucketed by breadcrumb (`<root>` for the root group).
fn distribution(users: &[TimecampUser]) -> BTreeMap<String, Vec<&TimecampUser>> {
    let mut buckets: BTreeMap<String, Vec<&TimecampUser>> = BTreeMap::new();
    for u in users.iter().filter(|u| u.timecamp_status == Status::Active) {
        let crumb = normalise_path(u.timecamp_groups_breadcrumb.as_deref().unwrap_or_default());
        let key = if crumb.is_empty() {
            ROOT_KEY.to_owned()
        } else {
            crumb
        };
        buckets.entry(key).or_default().push(u);
    }
    buckets
}

/// The depth rule of every stage, over the prepared file: the first record
/// whose group path is deeper than [`scim_groups::MAX_PATH_DEPTH`], named. The
/// tool checks it before drawing, as prepare does before writing.
pub fn check_depths(users: &[TimecampUser]) -> Result<(), scim_groups::PathTooDeep> {
    users.iter().enumerate().try_for_each(|(i, u)| {
        scim_groups::check_depth(
            u.timecamp_groups_breadcrumb.as_deref().unwrap_or_default(),
            || format!("record #{} ({})", i + 1, u.timecamp_email),
        )
    })
}

/// The group tree: name → subtree, siblings in sorted order.
#[derive(Default)]
struct Node(BTreeMap<String, Node>);

/// Dropped level by level: the derived drop would recurse once per level.
impl Drop for Node {
    fn drop(&mut self) {
        let mut below: Vec<Node> = std::mem::take(&mut self.0).into_values().collect();
        while let Some(mut n) = below.pop() {
            below.extend(std::mem::take(&mut n.0).into_values());
        }
    }
}

fn tree(users: &[TimecampUser]) -> Node {
    let mut root = Node::default();
    for key in distribution(users).keys().filter(|k| *k != ROOT_KEY) {
        let mut node = &mut root;
        for part in path_parts(key) {
            node = node.0.entry(part.to_owned()).or_default();
        }
    }
    root
}

impl Node {
    /// Groups in the subtree below this node, as the tree draws them
    /// (a path's intermediate groups included).
    fn count(&self) -> usize {
        let mut stack = vec![self];
        let mut n = 0;
        while let Some(node) = stack.pop() {
            n += node.0.len();
            stack.extend(node.0.values());
        }
        n
    }
}

fn role(u: &TimecampUser) -> Role {
    u.timecamp_role.unwrap_or(Role::User)
}

fn name(u: &TimecampUser) -> &str {
    u.timecamp_user_name.as_deref().unwrap_or(&u.timecamp_email)
}

/// The text report (without the CSV section, see [`csv`]).
pub fn text(users: &[TimecampUser], detailed: bool) -> String {
    let mut out = String::new();
    let buckets = distribution(users);
    let active: Vec<&TimecampUser> = buckets.values().flatten().copied().collect();
    let root = tree(users);
    let groups = root.count();
    let _ = writeln!(out, "{RULE}\nTIMECAMP GROUP STRUCTURE\n{RULE}\n");
    let _ = writeln!(out, "📊 STATISTICS:");
    let _ = writeln!(out, "   • Total Active Users: {}", active.len());
    let _ = writeln!(
        out,
        "   • Supervisors: {}",
        active
            .iter()
            .filter(|u| role(u) == Role::Supervisor)
            .count()
    );
    let _ = writeln!(
        out,
        "   • Regular Users: {}",
        active.iter().filter(|u| role(u) == Role::User).count()
    );
    let admins = active
        .iter()
        .filter(|u| role(u) == Role::Administrator)
        .count();
    let guests = active.iter().filter(|u| role(u) == Role::Guest).count();
    if admins + guests > 0 {
        let _ = writeln!(out, "   • Administrators: {admins}, Guests: {guests}");
    }
    let _ = writeln!(out, "   • Total Groups: {groups}");
    let _ = writeln!(out, "\n🌳 GROUP HIERARCHY:");
    if root.0.is_empty() {
        let _ = writeln!(out, "   (No group structure found - all users in root)");
    } else {
        print_tree(&root, &mut out);
    }
    let _ = writeln!(out, "\n👥 USER DISTRIBUTION:");
    for (key, members) in &buckets {
        let label = if key == ROOT_KEY { "(root group)" } else { key };
        let noun = if members.len() == 1 { "user" } else { "users" };
        let _ = writeln!(out, "   • {label:<40} {:>3} {noun}", members.len());
    }
    if detailed {
        let _ = writeln!(out, "\n{RULE}\nDETAILED USER BREAKDOWN\n{RULE}");
        for (key, members) in &buckets {
            let label = if key == ROOT_KEY {
                "ROOT GROUP".to_owned()
            } else {
                key.to_uppercase()
            };
            let _ = writeln!(out, "\n📁 {label} ({} users):", members.len());
            let mut sorted = members.clone();
            sorted.sort_by(|a, b| name(a).cmp(name(b)));
            for u in sorted {
                let icon = if role(u) == Role::Supervisor {
                    "👑"
                } else {
                    "👤"
                };
                let _ = write!(out, "   {icon} {} <{}>", name(u), u.timecamp_email);
                if let Some(real) = u
                    .timecamp_real_email
                    .as_deref()
                    .filter(|r| *r != u.timecamp_email)
                {
                    let _ = write!(out, " [real: {real}]");
                }
                out.push('\n');
            }
        }
    }
    out
}

/// The tree with its connectors, written without recursion.
fn print_tree(root: &Node, out: &mut String) {
    // Each level's remaining children, with the indent of that level.
    let mut levels = vec![(root.0.iter().peekable(), String::new())];
    while let Some((siblings, indent)) = levels.last_mut() {
        let Some((name, child)) = siblings.next() else {
            levels.pop();
            continue;
        };
        let (connector, next) = if siblings.peek().is_none() {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let _ = writeln!(out, "{indent}{connector}{name}");
        let indent = format!("{indent}{next}");
        levels.push((child.0.iter().peekable(), indent));
    }
}

/// CSV of all users (inactive included) in file order; CRLF rows, minimal
/// quoting, as Python's csv module writes it. The columns are what the prepared
/// file holds: the original's `job_title` and `supervisor_id` columns are not
/// in it (they were always empty), the e-mail is. Every cell goes through
/// [`csv_cell`].
pub fn csv(users: &[TimecampUser]) -> String {
    let mut out = String::from("external_id,name,email,department,status,role\r\n");
    for u in users {
        let fields = [
            u.timecamp_external_id.as_deref().unwrap_or_default(),
            name(u),
            &u.timecamp_email,
            u.timecamp_groups_breadcrumb.as_deref().unwrap_or_default(),
            u.timecamp_status.as_str(),
            role(u).as_str(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV cell: quoted when it holds a comma, a quote or a line break; and
/// a cell that a spreadsheet would run as a formula (it begins with `=`, `+`,
/// `-`, `@`, a tab or a carriage return: `=cmd|' /C calc'!A0`, `@SUM(1)`)
/// begins with a `'` instead, which spreadsheets read as "this is text" (the
/// OWASP rule against CSV injection). Names and departments come from the
/// source system, where anyone who can edit their own profile can write one.
fn csv_cell(value: &str) -> String {
    let neutral = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// One self-contained HTML page (see `scim_report`): the counts, then the
/// group tree with each group's people, searchable and collapsible.
pub fn html(users: &[TimecampUser], title: &str) -> String {
    let buckets = distribution(users);
    let mut root = Group::named("Root group");
    let mut active = 0;
    let mut supervisors = 0;
    for (key, members) in &buckets {
        let group = if key == ROOT_KEY {
            &mut root
        } else {
            root.at(path_parts(key))
        };
        for u in members {
            active += 1;
            if role(u) == Role::Supervisor {
                supervisors += 1;
            }
            group.members.push(Member {
                name: name(u).to_owned(),
                email: u.timecamp_email.clone(),
                role: role(u).to_string(),
                marks: Vec::new(),
            });
        }
    }
    let groups = root.descendants();
    scim_report::render(&Page {
        title: title.to_owned(),
        counts: vec![
            ("Active users".into(), active),
            ("Supervisors".into(), supervisors),
            ("Groups".into(), groups),
        ],
        root,
        ..Page::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<TimecampUser> {
        serde_json::from_value(serde_json::json!([
            {"timecamp_external_id": "1", "timecamp_user_name": "CEO [Ann Boss]", "timecamp_email": "ann@x.com",
             "timecamp_groups_breadcrumb": "", "timecamp_status": "active", "timecamp_role": "supervisor"},
            {"timecamp_external_id": "2", "timecamp_user_name": "Dev [Bob]", "timecamp_email": "bob@x.com",
             "timecamp_groups_breadcrumb": "Eng/Backend", "timecamp_status": "active", "timecamp_role": "user",
             "timecamp_real_email": "bob@home.org"},
            {"timecamp_external_id": "3", "timecamp_user_name": "Cy", "timecamp_email": "cy@x.com",
             "timecamp_groups_breadcrumb": "Eng/Frontend", "timecamp_status": "active", "timecamp_role": "supervisor"},
            {"timecamp_external_id": "4", "timecamp_user_name": "Di", "timecamp_email": "di@x.com",
             "timecamp_groups_breadcrumb": "Eng", "timecamp_status": "active", "timecamp_role": "administrator"},
            {"timecamp_external_id": "5", "timecamp_user_name": "Old, Timer", "timecamp_email": "old@x.com",
             "timecamp_groups_breadcrumb": "Sales", "timecamp_status": "inactive", "timecamp_role": "user"}
        ]))
        .unwrap()
    }

    #[test]
    fn text_report_has_statistics_tree_and_distribution() {
        let t = text(&users(), false);
        assert!(t.contains("   • Total Active Users: 4\n"), "{t}");
        assert!(
            t.contains("   • Supervisors: 2\n   • Regular Users: 1\n"),
            "{t}"
        );
        assert!(t.contains("   • Total Groups: 3\n"), "{t}");
        assert!(
            t.contains("🌳 GROUP HIERARCHY:\n└── Eng\n    ├── Backend\n    └── Frontend\n"),
            "{t}"
        );
        assert!(
            t.contains("   • (root group)                               1 user\n"),
            "{t}"
        );
        assert!(
            t.contains("   • Eng/Backend                                1 user\n"),
            "{t}"
        );
        assert!(!t.contains("Sales"), "inactive users are not in the tree");
        // Intermediate groups count: the tree draws A, B, C and D.
        let mut deep = users();
        deep[1].timecamp_groups_breadcrumb = Some("A/B/C".into());
        deep[2].timecamp_groups_breadcrumb = Some("A/D".into());
        deep[3].timecamp_groups_breadcrumb = Some("".into());
        let deep_text = text(&deep, false);
        assert!(deep_text.contains("   • Total Groups: 4\n"), "{deep_text}");
    }

    #[test]
    fn detailed_report_lists_members_with_icons() {
        let t = text(&users(), true);
        assert!(
            t.contains(
                "📁 ENG/BACKEND (1 users):\n   👤 Dev [Bob] <bob@x.com> [real: bob@home.org]\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("📁 ROOT GROUP (1 users):\n   👑 CEO [Ann Boss] <ann@x.com>\n"),
            "{t}"
        );
    }

    #[test]
    fn csv_has_the_prepared_fields_and_quotes_like_python() {
        let c = csv(&users());
        let rows: Vec<&str> = c.split("\r\n").collect();
        assert_eq!(rows[0], "external_id,name,email,department,status,role");
        assert_eq!(rows[1], "1,CEO [Ann Boss],ann@x.com,,active,supervisor");
        assert_eq!(rows[5], "5,\"Old, Timer\",old@x.com,Sales,inactive,user");
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_run_as_formulas_begin_with_a_quote() {
        for (value, cell) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("@SUM(1)", "'@SUM(1)"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("\tx", "'\tx"),
            ("\r=1", "\"'\r=1\""),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("Sales/EMEA", "Sales/EMEA"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(value), cell, "{value:?}");
        }
        let mut u = users();
        u[0].timecamp_user_name = Some("=cmd|x".into());
        u[0].timecamp_groups_breadcrumb = Some("@SUM(1)".into());
        u[0].timecamp_external_id = Some("-5".into());
        let c = csv(&u);
        let row = c.split("\r\n").nth(1).unwrap();
        assert_eq!(row, "'-5,'=cmd|x,ann@x.com,'@SUM(1),active,supervisor");
    }

    #[test]
    fn html_page_is_self_contained_and_escaped() {
        let mut u = users();
        u[2].timecamp_user_name = Some("<script>x</script>".into());
        let h = html(&u, "Preview");
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(h.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(
            !h.contains("src=") && !h.contains("href="),
            "nothing loaded from elsewhere"
        );
        assert!(
            h.contains("<b>Eng</b> <span class=\"count\">1 here, 3 people in all</span>"),
            "{h}"
        );
        assert!(
            h.contains("<b>Backend</b> <span class=\"count\">1 person</span>"),
            "a leaf says only its count: {h}"
        );
    }

    /// display-tree refuses a path deeper than any stage accepts; the text
    /// and the page of a deep one are still written without recursion, here
    /// in a stack that one frame per level would overflow.
    #[test]
    fn deep_paths_are_refused_by_name_and_still_drawn_without_recursion() {
        let mut u = users();
        let deep = vec!["G"; 2_000].join("/");
        u[2].timecamp_groups_breadcrumb = Some(deep.into());
        let err = check_depths(&u).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("record #3 (cy@x.com): the group path has 2000 levels"),
            "{err}"
        );
        assert!(check_depths(&users()).is_ok());
        let (text, html) = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || (text(&u, false), html(&u, "Deep")))
            .unwrap()
            .join()
            .unwrap();
        assert!(
            text.contains("   • Total Groups: 2002\n"),
            "{}",
            &text[..400]
        );
        let last = format!("\n{}└── G\n", "    ".repeat(1_999));
        assert!(text.contains(&last));
        assert_eq!(
            html.matches("<details").count(),
            2_003,
            "the root, Eng, Backend and 2,000 levels"
        );
    }

    #[test]
    fn empty_structure_is_said_so() {
        let u: Vec<TimecampUser> = users().into_iter().take(1).collect();
        assert!(text(&u, false).contains("(No group structure found - all users in root)"));
    }
}
