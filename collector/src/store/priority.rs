//! Background threads yield the processor to intake.
//!
//! The writer thread is intake's one serial stage: every acknowledgement
//! waits for its commit. On a small server the search indexer and the
//! cluster sweep's comparisons share the same cores, and when all of them
//! are runnable the scheduler would give each an equal share, so the writer
//! waits for a core while work that nobody is waiting on runs. Threads doing
//! such catch-up work lower their own scheduling priority (a higher nice
//! value) once, when they start: they still get every idle moment, and a
//! share of a busy machine, but a flood is acknowledged first and indexed
//! and compared right after.

/// The nice value background threads take: a thread at 10 gets about a
/// tenth of a core that a thread at 0 also wants.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`]. On Linux a
/// nice value belongs to a thread, not to its process. The change cannot be
/// undone without privileges, so only threads that do nothing else call it.
/// Failing is harmless (the thread keeps its priority) and logged.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(error) = rustix::process::setpriority_process(Some(thread), BACKGROUND_NICE) {
            tracing::debug!(%error, "could not lower a background thread's priority");
        }
    }
}

/// The calling thread's nice value (tests).
#[cfg(all(test, target_os = "linux"))]
fn this_thread_nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_background_thread_lowers_its_own_priority_only() {
        let before = this_thread_nice();
        let background = std::thread::spawn(|| {
            lower_this_thread();
            this_thread_nice()
        })
        .join()
        .unwrap();
        assert_eq!(background, BACKGROUND_NICE.max(before));
        assert_eq!(
            this_thread_nice(),
            before,
            "the caller's thread is untouched"
        );
    }
}
