//! Threads that work beside the request threads, at a lower priority, so that a request thread
//! that wakes gets a core at once and the background work still has every cycle the requests
//! leave idle.

use std::sync::OnceLock;

/// The priority of a background thread, below the request threads' (nice 0). These are absolute
/// nice values: in a process started at a higher nice value already, they are not applied.
#[derive(Clone, Copy)]
pub(crate) enum Priority {
    /// Password hashing (nice 9): a login storm slows other requests less.
    Hashing = 25,
    /// Token signing (nice 4): above the hashing, which it would otherwise wait behind.
    Signing = 37,
}

/// Sets the calling thread's priority; a thread that cannot (a process started at a higher nice
/// value may not lower it) keeps its own.
pub(crate) fn lower_priority(priority: Priority) {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    let lowered = ThreadPriorityValue::try_from(priority as u8)
        .map_err(|e| e.to_string())
        .and_then(|value| {
            set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|e| e.to_string())
        });
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "a background thread keeps its priority");
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `work` on one of the process's signing threads (one per core, started on first use)
/// and waits for its result; `None` if it panicked. Where no signing thread could be started,
/// the blocking pool runs it.
///
/// The RSA private-key operation takes about half a millisecond of one core. On a request
/// thread it would stall every other request queued there; on the blocking pool, at the request
/// threads' priority, it delays the wake-ups of the database work it runs beside (a login signs
/// its token while its session is written).
pub(crate) async fn on_signing_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    static THREADS: OnceLock<flume::Sender<Job>> = OnceLock::new();
    let jobs = THREADS.get_or_init(|| {
        let (jobs, queue) = flume::unbounded::<Job>();
        let count = std::thread::available_parallelism().map_or(1, usize::from);
        for i in 0..count {
            let queue = queue.clone();
            let started =
                std::thread::Builder::new().name(format!("signing-{i}")).spawn(move || {
                    lower_priority(Priority::Signing);
                    while let Ok(job) = queue.recv() {
                        // A panicking job fails its caller (its answer is dropped), not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = started {
                tracing::warn!(error = %e, "a signing thread could not be started");
            }
        }
        jobs
    });
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = answer.send(work());
    });
    // With no thread started, the queue has no receiver left and refuses the job.
    if let Err(flume::SendError(job)) = jobs.send(job) {
        tokio::task::spawn_blocking(job);
    }
    answered.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_off_the_calling_thread_and_a_panic_fails_only_its_caller() {
        let caller = std::thread::current().id();
        let ran_on = on_signing_thread(|| std::thread::current().id()).await.unwrap();
        assert_ne!(ran_on, caller);
        let name = on_signing_thread(|| std::thread::current().name().map(str::to_owned)).await;
        assert!(name.flatten().unwrap().starts_with("signing-"));
        assert_eq!(on_signing_thread(|| -> u8 { panic!("boom") }).await, None);
        assert_eq!(on_signing_thread(|| 7).await, Some(7), "the threads survive a panic");
    }

    /// The nice value of the calling thread, from `/proc` (field 19 of its `stat`).
    fn nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = stat.rsplit_once(") ").unwrap().1;
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn signing_runs_below_the_request_threads_and_above_the_hashing() {
        // Run under `nice -n 5` or more, a thread cannot go back up to 4.
        let here = nice();
        assert_eq!(on_signing_thread(nice).await, Some(here.max(4)));
        let hashing = std::thread::spawn(|| {
            lower_priority(Priority::Hashing);
            nice()
        });
        assert_eq!(hashing.join().unwrap(), here.max(9));
    }
}
