//! Background threads yield the processor to intake.
//!
//! The writer thread is intake's one serial stage: every acknowledgement
//! waits for its commit. On a small server the search indexer and the
//! cluster sweep's comparisons share the same cores, and work that nobody
//! is waiting on must not make the writer wait for a core. Threads doing
//! such catch-up work lower their own scheduling priority once, when they
//! start:
//!
//! - **The idle scheduling class (`SCHED_IDLE`).** A thread in it runs
//!   when a core has nothing else to run, and any ordinary thread that
//!   wakes takes its core at once. A nice value is not enough for that:
//!   the scheduler lets the running thread finish a protected share of its
//!   slice before a waking one may take the core, whatever their nice
//!   values, and the writer wakes thousands of times a second (a commit's
//!   `fsync`, a lock) — at nice 10 it spent about a third of its time
//!   runnable and waiting (BENCHMARKS.md, "Intake: where the time goes").
//! - **Nice 10 as well**, which is what a thread keeps where the class is
//!   refused: about a tenth of a core that a thread at 0 also wants.
//!
//! The class is safe only because the background threads hold no lock the
//! writer needs for long. SQLite's page caches were one: the bundled
//! SQLite is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, which puts every
//! connection's page cache under one global mutex, taken at every page
//! fetched, and a background thread preempted while holding it stalled the
//! writer for as long as the machine stayed busy. `.cargo/config.toml`
//! undefines that option, so each connection's cache is its own and takes
//! no lock. What is still shared is malloc's two arenas (`main.rs`), held
//! for a few instructions at a time.

/// The nice value background threads take: a thread at 10 gets about a
/// tenth of a core that a thread at 0 also wants.
pub const BACKGROUND_NICE: i32 = 10;

/// Moves the calling thread to the idle scheduling class and lowers its
/// nice value to [`BACKGROUND_NICE`]. On Linux both belong to a thread,
/// not to its process. Neither can be undone without privileges, so only
/// threads that do nothing else call it. Failing is harmless (the thread
/// keeps its priority) and logged.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        if let Err(error) = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::debug!(
                ?error,
                "could not move a background thread to the idle class"
            );
        }
        let thread = rustix::thread::gettid();
        if let Err(error) = rustix::process::setpriority_process(Some(thread), BACKGROUND_NICE) {
            tracing::debug!(%error, "could not lower a background thread's priority");
        }
    }
}

/// Whether the calling thread is in the idle scheduling class (tests).
#[cfg(all(test, target_os = "linux"))]
fn this_thread_is_idle_class() -> bool {
    use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
    thread_priority::thread_schedule_policy().is_ok_and(|policy| {
        policy == ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
    })
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
        let (background, idle) = std::thread::spawn(|| {
            let idle_before = this_thread_is_idle_class();
            lower_this_thread();
            assert!(!idle_before, "a new thread starts in the ordinary class");
            (this_thread_nice(), this_thread_is_idle_class())
        })
        .join()
        .unwrap();
        assert_eq!(background, BACKGROUND_NICE.max(before));
        assert!(idle, "the background thread runs in the idle class");
        assert_eq!(
            this_thread_nice(),
            before,
            "the caller's thread is untouched"
        );
        assert!(
            !this_thread_is_idle_class(),
            "the caller's class is untouched"
        );
    }
}
