//! Golden files: for each directory under `tests/golden/`, `prepare-timecamp`
//! run on its `users.json` with the variables of its `env` file must write
//! exactly its `expected.json`, byte for byte (formatting included).

use std::path::Path;

use scim_test_support::Project;

const BIN: &str = env!("CARGO_BIN_EXE_prepare-timecamp");

fn check(case: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(case);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{case}/{name}: {e}"))
    };
    let project = Project::new()
        .file("var/users.json", read("users.json"))
        .env("DISABLE_FILE_LOGGING", "true")
        .env_lines(&read("env"));
    project.run(BIN, &[]).expect_success();
    let actual = project.read("var/timecamp_users.json");
    let expected = read("expected.json");
    assert!(
        actual == expected.trim_end_matches('\n'),
        "{case}: output differs from expected.json\n--- actual\n{actual}\n--- expected\n{expected}"
    );
}

macro_rules! golden {
    ($($case:ident),* $(,)?) => {
        $(#[test] fn $case() { check(stringify!($case)); })*

        #[test]
        fn every_golden_directory_has_a_test() {
            let listed = [$(stringify!($case)),*];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden");
            for entry in std::fs::read_dir(dir).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(listed.contains(&name.as_str()), "golden case {name} is not run");
            }
        }
    };
}

golden!(
    bamboohr_is_supervisor_role,
    data_problems,
    department_basic,
    department_role_ids,
    department_skip_prefixes,
    hybrid_readme_example,
    hybrid_worked_example,
    job_title_user_names,
    ldap_email_and_roles,
    supervisor_external_id,
    supervisor_job_titles,
    supervisor_readme_example,
);

/// The README's first command runs prepare on the shipped sample; its output is
/// shipped too, and must stay what prepare really writes.
#[test]
fn shipped_samples_agree_with_prepare() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let users = std::fs::read_to_string(root.join("users.json.sample")).unwrap();
    let expected = std::fs::read_to_string(root.join("timecamp_users.json.sample")).unwrap();
    let project = Project::new()
        .file("var/users.json", users)
        .env("DISABLE_FILE_LOGGING", "true");
    project.run(BIN, &[]).expect_success();
    assert_eq!(project.read("var/timecamp_users.json"), expected);
}
