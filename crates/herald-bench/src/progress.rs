//! Progress bars on stderr, one shape for every phase (hidden when stderr
//! is not a terminal, so `--json` output stays clean when piped).

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A bar of `len` steps with a label before it.
pub fn bar(len: u64, label: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>28} [{bar:32.cyan/blue}] {elapsed_precise} {msg}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(label.to_string());
    pb
}

/// A spinner for a wait of unknown length.
pub fn spinner(label: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>28} {spinner} {elapsed_precise} {msg}")
    {
        pb.set_style(style);
    }
    pb.set_prefix(label.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}
