//! Alerts: one JSON message to `NOTIFY_WEBHOOK_URL` when a stage fails or a
//! guard refuses it, when a run leaves something for an admin to settle
//! (people held back because who they are is not certain), and (with
//! `NOTIFY_ON=changes` or `always`) after a run that changed something. The body has a `text` field, so a Slack or Teams
//! incoming webhook shows it as it is, plus the structured fields for
//! anything else. The URL is a secret (it carries the webhook's key): it is
//! checked at start (an `http://` or `https://` URL, or the stage stops
//! with exit 2 before doing anything), never logged, and never sent
//! anywhere but its own origin: the alert goes through the shared HTTP layer,
//! which follows no redirect to another origin and sends no `Referer`. A
//! webhook that fails is logged without the URL and never changes the
//! stage's exit code.

use std::sync::Mutex;
use std::time::Duration;

use scim_core::{ConfigError, Env};
use scim_http::{Client, ClientOptions, Hints, Request, RetryPolicy};
use serde_json::{Value, json};

/// When to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOn {
    /// A failed or refused stage.
    Failure,
    /// That, and a run that changed something.
    Changes,
    /// After every run.
    Always,
}

#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// `NOTIFY_WEBHOOK_URL`, checked to be an `http://` or `https://` URL.
    pub url: scim_http::Url,
    pub on: NotifyOn,
    /// This machine's name, for the message; read once, at start, so no
    /// file is read on the async runtime's threads.
    pub host: String,
}

impl NotifySettings {
    /// `None` when no webhook is set.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let on = match env.get("NOTIFY_ON").map(str::to_ascii_lowercase).as_deref() {
            None | Some("failure") => NotifyOn::Failure,
            Some("changes") => NotifyOn::Changes,
            Some("always") => NotifyOn::Always,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "NOTIFY_ON",
                    value: other.to_owned(),
                    expected: "failure, changes or always",
                });
            }
        };
        let url = env.url(
            "NOTIFY_WEBHOOK_URL",
            "the webhook's http:// or https:// URL (the value is not shown: it holds the webhook's key)",
        )?;
        Ok(url.map(|url| Self {
            url,
            on,
            host: scim_core::host::host_name().unwrap_or_else(|| "unknown host".into()),
        }))
    }
}

/// What a stage reports about its run, for the message.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// The summary counts, as the stage's JSON output has them.
    pub counts: Value,
    /// Whether the run changed TimeCamp.
    pub changed: bool,
    /// What an admin must settle, one line each (held-back people): sent
    /// whatever `NOTIFY_ON` says.
    pub attention: Vec<String>,
}

static SUMMARY: Mutex<Option<RunSummary>> = Mutex::new(None);

/// Called by a stage once it knows what it did.
pub fn report(summary: RunSummary) {
    if let Ok(mut s) = SUMMARY.lock() {
        *s = Some(summary);
    }
}

fn take_summary() -> RunSummary {
    SUMMARY
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .unwrap_or_default()
}

/// How a run ended, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

/// Whether this run is worth a message.
pub fn wanted(on: NotifyOn, outcome: Outcome, changed: bool, attention: bool) -> bool {
    if attention {
        return true;
    }
    match on {
        NotifyOn::Always => true,
        NotifyOn::Changes => outcome != Outcome::Success || changed,
        NotifyOn::Failure => outcome != Outcome::Success,
    }
}

/// The message body.
pub fn message(
    stage: &str,
    outcome: Outcome,
    exit_code: u8,
    summary: &RunSummary,
    error: Option<&str>,
    host: &str,
    time: &str,
) -> Value {
    let headline = match outcome {
        Outcome::Success if !summary.attention.is_empty() => format!(
            "timecamp-scim {stage} on {host}: done, but {} person(s) held back: who they are is \
             not certain, and nothing was changed for them",
            summary.attention.len()
        ),
        Outcome::Success => format!("timecamp-scim {stage} on {host}: done"),
        Outcome::Failure => format!("timecamp-scim {stage} on {host} FAILED (exit {exit_code})"),
        Outcome::Refused => format!(
            "timecamp-scim {stage} on {host} was REFUSED by a safety guard (exit {exit_code}); nothing was changed"
        ),
    };
    let mut text = headline;
    if let Some(e) = error {
        text.push_str(&format!(": {e}"));
    }
    if let Some(line) = summary.counts.get("line").and_then(Value::as_str) {
        text.push_str(&format!("\n{line}"));
    }
    // A chat message stays readable: the first ten, then how many more.
    for line in summary.attention.iter().take(10) {
        text.push_str(&format!("\n- {line}"));
    }
    if summary.attention.len() > 10 {
        text.push_str(&format!(
            "\n- and {} more (sync-users --dry-run lists them)",
            summary.attention.len() - 10
        ));
    }
    json!({
        "text": text,
        "stage": stage,
        "outcome": outcome.as_str(),
        "exit_code": exit_code,
        "summary": summary.counts,
        "errors": error.map(|e| vec![e.to_owned()]).unwrap_or_default(),
        "attention": summary.attention,
        "host": host,
        "time": time,
    })
}

/// Sends the message for this run if the settings ask for it. Never fails:
/// a webhook that is down must not turn a good sync into a failed one.
pub async fn send(
    settings: &NotifySettings,
    stage: &str,
    outcome: Outcome,
    exit_code: u8,
    error: Option<&str>,
) {
    let summary = take_summary();
    if !wanted(
        settings.on,
        outcome,
        summary.changed,
        !summary.attention.is_empty(),
    ) {
        return;
    }
    let body = message(
        stage,
        outcome,
        exit_code,
        &summary,
        error,
        &settings.host,
        &scim_sync::journal::now(),
    );
    let client = match Client::new(ClientOptions {
        timeout: Duration::from_secs(10),
        // One try: a second copy of an alert is worse than a logged failure.
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        secret_url: true,
        ..ClientOptions::new("the notification webhook", HINTS)
    }) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("cannot send the notification: {e}");
            return;
        }
    };
    let alert = Request::post(settings.url.clone(), "the alert")
        .unsafe_to_repeat()
        .json(body);
    match client.send(&alert).await {
        Ok(_) => tracing::info!("Notification sent ({})", outcome.as_str()),
        Err(e) => tracing::warn!("cannot send the notification ({e}); the run's outcome stands"),
    }
}

/// What the webhook's failures point at.
const HINTS: Hints = Hints {
    credentials: "NOTIFY_WEBHOOK_URL (its key)",
    forbidden: "",
    bad_request: "",
    location: "NOTIFY_WEBHOOK_URL",
    insecure_switch: None,
    timeout_setting: "",
    budget_setting: "",
    wait_budget_setting: "",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_always_sent_changes_only_when_asked() {
        assert!(wanted(NotifyOn::Failure, Outcome::Refused, false, false));
        assert!(!wanted(NotifyOn::Failure, Outcome::Success, true, false));
        assert!(wanted(NotifyOn::Changes, Outcome::Success, true, false));
        assert!(!wanted(NotifyOn::Changes, Outcome::Success, false, false));
        assert!(wanted(NotifyOn::Always, Outcome::Success, false, false));
        // Someone held back: sent, whatever NOTIFY_ON says.
        assert!(wanted(NotifyOn::Failure, Outcome::Success, false, true));
    }

    #[test]
    fn the_message_reads_well_in_chat_and_carries_the_fields() {
        let summary = RunSummary {
            counts: json!({"line": "Summary: created 1, disabled 0", "created": 1}),
            changed: true,
            attention: Vec::new(),
        };
        let m = message(
            "sync-users",
            Outcome::Refused,
            3,
            &summary,
            Some("refusing to disable 8 of 20"),
            "h1",
            "t",
        );
        let text = m["text"].as_str().unwrap();
        assert!(
            text.starts_with("timecamp-scim sync-users on h1 was REFUSED"),
            "{text}"
        );
        assert!(text.contains("refusing to disable 8 of 20"), "{text}");
        assert_eq!(m["outcome"], "refused");
        assert_eq!(m["exit_code"], 3);
        assert_eq!(m["summary"]["created"], 1);
    }
}
