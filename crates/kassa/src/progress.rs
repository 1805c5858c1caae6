//! The progress bar of `kassa rebill run`, on standard error: redrawn in place on a terminal,
//! a line every tenth of the way otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub struct Bar {
    total: usize,
    started: Instant,
    tty: bool,
    /// The last tenth written (not on a terminal).
    last_tenth: AtomicUsize,
}

const WIDTH: usize = 30;

impl Bar {
    pub fn new(total: usize) -> Bar {
        Bar {
            total,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            last_tenth: AtomicUsize::new(0),
        }
    }

    fn line(&self, done: usize) -> String {
        let total = self.total.max(done).max(1);
        let filled = done * WIDTH / total;
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        format!(
            "[{}{}] {done}/{} purchases, {rate:.0}/s",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            self.total.max(done)
        )
    }

    pub fn show(&self, done: usize) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r{}", self.line(done));
            let _ = err.flush();
            return;
        }
        let tenth = done * 10 / self.total.max(1);
        if tenth > self.last_tenth.load(Ordering::Relaxed) {
            self.last_tenth.store(tenth, Ordering::Relaxed);
            let _ = writeln!(err, "{}", self.line(done));
        }
    }

    /// Ends the bar; returns the seconds the run took.
    pub fn finish(&self, done: usize) -> f64 {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = writeln!(err, "\r{}", self.line(done));
        } else if self.total > 0 && self.last_tenth.load(Ordering::Relaxed) < 10 {
            let _ = writeln!(err, "{}", self.line(done));
        }
        self.started.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_count() {
        let b = Bar::new(60);
        let l = b.line(30);
        assert!(
            l.starts_with(&format!(
                "[{}{}] 30/60 purchases",
                "#".repeat(15),
                "-".repeat(15)
            )),
            "{l}"
        );
        assert!(b.line(60).starts_with(&format!("[{}]", "#".repeat(30))));
        assert!(Bar::new(0)
            .line(0)
            .starts_with(&format!("[{}]", "-".repeat(30))));
    }
}
