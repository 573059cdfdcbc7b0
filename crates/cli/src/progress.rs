//! A progress bar for long work when stderr is a terminal (an admin running a
//! first import by hand); under cron, Compose or Kubernetes the same progress
//! goes to the log as plain lines instead (see `scim_sync::apply`).

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scim_sync::progress::ProgressHook;

/// A bar on stderr.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar for `total` steps, when stderr is a terminal and there is work.
    pub fn on_terminal(total: usize, what: &str) -> Option<Self> {
        if total == 0 || !std::io::stderr().is_terminal() {
            return None;
        }
        let style =
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed}, {eta} left)")
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_message(what.to_owned());
        Some(Self(bar))
    }

    /// What the apply loop calls after each step.
    pub fn hook(&self) -> ProgressHook {
        let bar = self.0.clone();
        ProgressHook(Arc::new(move |done, total| {
            // The total grows or shrinks as new users' finishing writes are known.
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }))
    }

    /// Leaves the bar, full or not, where it is.
    pub fn finish(self) {
        self.0.abandon();
    }
}
