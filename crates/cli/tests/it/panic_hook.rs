//! The last line of defence: a panic in a stage (a bug) still ends as a
//! failed run, alerted through the webhook, exit 1.
//!
//! A stage that panics on purpose must not ship, so it lives here: the test
//! runs this test binary again as a child, asking for one of the ignored
//! tests below, which runs a panicking body through the start-up code every
//! binary shares (`run_stage`).

use scim_test_support::{Project, WebhookReceiver};
use serde_json::Value;

/// Set for the child process only: a run of the ignored tests in the test
/// process itself (`--include-ignored`) must not end that process.
const CHILD: &str = "PANIC_HOOK_TEST_CHILD";

fn in_the_child() -> bool {
    #[allow(clippy::disallowed_methods)] // the harness's own marker, not a setting
    std::env::var_os(CHILD).is_some()
}

/// Run in a child process by the tests below; a panic in the stage itself.
#[test]
#[ignore = "a child process of the panic-hook tests"]
fn child_panics_in_the_stage() {
    if !in_the_child() {
        return;
    }
    let _ = timecamp_scim::run_stage(false, |_env| async {
        panic!("the stage went wrong on purpose");
    });
    unreachable!("the panic hook ends the process");
}

/// Run in a child process by the tests below; a panic in a spawned task,
/// which tokio would otherwise turn into an error the stage may drop.
#[test]
#[ignore = "a child process of the panic-hook tests"]
fn child_panics_in_a_task() {
    if !in_the_child() {
        return;
    }
    let _ = timecamp_scim::run_stage(false, |_env| async {
        let _ = tokio::spawn(async { panic!("a task went wrong on purpose") }).await;
        std::future::pending::<()>().await;
        Ok(())
    });
    unreachable!("the panic hook ends the process");
}

/// Runs one of the child tests in `p`, as a stage binary would run there.
fn run_child(p: &Project, test: &str) -> scim_test_support::Run {
    let me = std::env::current_exe().unwrap();
    let args = [
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
    ];
    let out = p
        .command(me.to_str().unwrap(), &args)
        .env(CHILD, "1")
        .output()
        .unwrap();
    scim_test_support::Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_panic_in_a_stage_or_one_of_its_tasks_is_alerted_and_exits_1() {
    for (test, said) in [
        (
            "panic_hook::child_panics_in_the_stage",
            "the stage went wrong on purpose",
        ),
        (
            "panic_hook::child_panics_in_a_task",
            "a task went wrong on purpose",
        ),
    ] {
        let hook = WebhookReceiver::start();
        let p = Project::new()
            .env("DISABLE_FILE_LOGGING", "true")
            .env("NOTIFY_WEBHOOK_URL", hook.url());
        let run = run_child(&p, test);
        run.expect_code(1)
            .expect_stderr(&format!("internal error (a bug, please report it): {said}"));
        let alerts = hook.bodies();
        assert_eq!(alerts.len(), 1, "{test}: {alerts:?}");
        let alert = &alerts[0];
        assert_eq!(
            (alert["outcome"].as_str(), alert["exit_code"].as_u64()),
            (Some("failure"), Some(1)),
            "{alert}"
        );
        let text = alert["text"].as_str().unwrap();
        assert!(text.contains("FAILED (exit 1)"), "{text}");
        assert!(text.contains(said), "{text}");
        assert!(
            alert["errors"][0]
                .as_str()
                .is_some_and(|e| e.contains("panic_hook.rs")),
            "where it panicked: {alert}"
        );
        assert_eq!(alert["summary"], Value::Null);
    }
}

#[test]
fn a_panic_without_a_webhook_still_exits_1() {
    let p = Project::new().env("DISABLE_FILE_LOGGING", "true");
    run_child(&p, "panic_hook::child_panics_in_the_stage")
        .expect_code(1)
        .expect_stderr("the stage went wrong on purpose");
}
