//! Argon2id password hashing on a fixed set of hashing threads, one per slot, with a bounded,
//! time-limited queue in front of them. Each hash takes ~19 MiB: on a fixed set of threads the
//! allocator's per-thread arenas stay as few as the slots, whereas the blocking pool would
//! leave one behind on every thread that ever hashed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::{Argon2, PasswordHasher as _};
use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use codex_cloud_core::domain::{Password, PasswordHash};
use codex_cloud_core::ports::{PasswordHasher, PasswordHasherError};

/// How many callers may wait per hashing slot before further ones are turned away at once.
pub const WAITING_PER_SLOT: usize = 64;

/// The admission to password hashing: at most `slots` hashes at once, at most `capacity` callers
/// waiting for a slot, none of them longer than `timeout`. A caller turned away, or one that
/// waited too long, gets `Busy` and nothing is hashed: under a login flood, memory and the wait
/// of real users stay bounded.
pub struct HashQueue {
    slots: Arc<Semaphore>,
    slot_count: usize,
    waiting: AtomicUsize,
    capacity: usize,
    timeout: Duration,
}

/// A slot: hashing may run while it is held.
pub struct HashSlot {
    _permit: OwnedSemaphorePermit,
}

impl HashQueue {
    /// `slots` hashes at once (at least one), `WAITING_PER_SLOT` callers per slot waiting at
    /// most `timeout` each.
    pub fn new(slots: usize, timeout: Duration) -> Self {
        let slots = slots.max(1);
        Self::with_capacity(slots, slots.saturating_mul(WAITING_PER_SLOT), timeout)
    }

    /// `slots` hashes at once, at most `capacity` callers waiting (0: none may wait).
    pub fn with_capacity(slots: usize, capacity: usize, timeout: Duration) -> Self {
        metrics::gauge!(HASH_QUEUE_METRIC).set(0.0);
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            slot_count: slots.max(1),
            waiting: AtomicUsize::new(0),
            capacity,
            timeout,
        }
    }

    /// A slot, waiting for one if the queue has room and for at most the timeout.
    ///
    /// # Errors
    /// `Busy` when the queue is full or the wait ran out.
    pub async fn admit(&self) -> Result<HashSlot, PasswordHasherError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            metrics::histogram!(HASH_WAIT_METRIC).record(0.0);
            return Ok(HashSlot { _permit: permit });
        }
        let busy =
            PasswordHasherError::Busy { retry_after: self.timeout.max(Duration::from_secs(1)) };
        let _waiting = match Waiting::enter(&self.waiting, self.capacity) {
            Some(waiting) => waiting,
            None => {
                metrics::counter!(HASH_REFUSED_METRIC, "reason" => "queue_full").increment(1);
                return Err(busy);
            }
        };
        let started = tokio::time::Instant::now();
        let admitted = tokio::time::timeout(self.timeout, self.slots.clone().acquire_owned()).await;
        metrics::histogram!(HASH_WAIT_METRIC).record(started.elapsed().as_secs_f64());
        match admitted {
            Ok(Ok(permit)) => Ok(HashSlot { _permit: permit }),
            Ok(Err(closed)) => Err(PasswordHasherError::Internal(closed.to_string().into())),
            Err(_) => {
                metrics::counter!(HASH_REFUSED_METRIC, "reason" => "timeout").increment(1);
                Err(busy)
            }
        }
    }

    /// Callers waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// One place in the queue, given back when dropped (also when the caller goes away).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize, capacity: usize) -> Option<Self> {
        count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < capacity).then_some(n + 1))
            .ok()?;
        metrics::gauge!(HASH_QUEUE_METRIC).increment(1.0);
        Some(Self(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!(HASH_QUEUE_METRIC).decrement(1.0);
    }
}

/// Callers waiting for a hashing slot now.
pub const HASH_QUEUE_METRIC: &str = "codex_password_hash_queue_depth";
/// Seconds each admitted or refused caller waited for a slot (0 when one was free).
pub const HASH_WAIT_METRIC: &str = "codex_password_hash_wait_seconds";
/// Callers turned away (`reason`: `queue_full`, `timeout`).
pub const HASH_REFUSED_METRIC: &str = "codex_password_hash_refused_total";

/// Argon2id with the crate defaults: m=19456 KiB, t=2, p=1 (OWASP's recommended minimum).
///
/// Each hash takes ~19 MiB for tens of milliseconds, so hashes are admitted through a
/// [`HashQueue`] instead of exhausting memory.
#[derive(Clone)]
pub struct Argon2PasswordHasher {
    queue: Arc<HashQueue>,
    threads: HashThreads,
    dummy: Arc<str>,
}

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// This hashing thread's argon2 memory (~19 MiB), kept from one hash to the next so the
    /// process holds one such block per hashing thread and no more.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How long a hashing thread keeps its argon2 memory with no hash to do: through a login storm
/// it is reused, and after one it goes back to the allocator.
const KEEP_MEMORY_WHILE_IDLE: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a hashing thread waits for a job before it looks at its idle time again.
const QUEUE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Hands this thread's argon2 memory back (the next hash allocates it again).
fn release_memory() {
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.capacity() > 0 {
            *blocks = Vec::new();
        }
    });
}

/// Argon2 of `password` into `out`, in this thread's own memory (grown when a hash needs more).
fn argon2_into(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let needed = argon.params().block_count();
    let usual = argon2::Params::default().block_count();
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < needed {
            // A failed allocation fails this hash, never the process.
            blocks
                .try_reserve_exact(needed - blocks.len())
                .map_err(|_| argon2::Error::OutOfMemory)?;
            blocks.resize(needed, argon2::Block::default());
        }
        let hashed =
            argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..needed]);
        // Memory grown for an unusually costly stored hash is not kept.
        if blocks.len() > usual {
            blocks.truncate(usual);
            blocks.shrink_to(usual);
        }
        hashed
    })
}

/// The costliest stored hash that is checked at all (1 GiB, 64 passes, 64 lanes): a stored
/// hash beyond it is refused rather than allowed to take the machine's memory.
const MAX_M_COST_KIB: u32 = 1 << 20;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 64;

/// A new argon2id hash (OWASP parameters, 128-bit random salt) as a PHC string.
fn hash_phc(password: &[u8]) -> Result<String, String> {
    use argon2::password_hash::phc::{Output, ParamsString, Salt};
    let params = argon2::Params::default();
    let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params.clone());
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let mut out = [0_u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon, password, &salt, &mut out).map_err(|e| e.to_string())?;
    let phc = argon2::PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (compared in constant time).
fn verify_phc(password: &[u8], phc: &str) -> bool {
    use argon2::password_hash::phc::Output;
    let Ok(parsed) = argon2::PasswordHash::new(phc) else { return false };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else { return false };
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        tracing::warn!("a stored password hash has costs beyond the limits and is refused");
        return false;
    }
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let mut out = vec![0_u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon2_into(&argon, password, salt.as_ref(), &mut out).is_err() {
        return false;
    }
    Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// The hashing threads: as many as the queue has slots, so an admitted hash always finds one.
/// They end when the last hasher sharing them is dropped.
#[derive(Clone)]
struct HashThreads {
    jobs: flume::Sender<Job>,
}

impl HashThreads {
    fn start(count: usize) -> Result<Self, PasswordHasherError> {
        // Each thread waits on the queue by itself (flume's receivers are shared), so that
        // every one of them notices when it has been idle.
        let (jobs, queue) = flume::unbounded::<Job>();
        for i in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    crate::background::lower_priority(crate::background::Priority::Hashing);
                    let mut last_job = std::time::Instant::now();
                    loop {
                        match queue.recv_timeout(QUEUE_POLL) {
                            // A panicking hash fails its caller, not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                                last_job = std::time::Instant::now();
                            }
                            Err(flume::RecvTimeoutError::Timeout) => {
                                if last_job.elapsed() >= KEEP_MEMORY_WHILE_IDLE {
                                    release_memory();
                                }
                            }
                            Err(flume::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                })
                .map_err(|e| PasswordHasherError::Internal(e.to_string().into()))?;
        }
        Ok(Self { jobs })
    }
}

impl Argon2PasswordHasher {
    pub fn new(queue: Arc<HashQueue>) -> Result<Self, PasswordHasherError> {
        let dummy = Argon2::default()
            .hash_password(b"codex dummy password for unknown users")
            .map_err(|e| PasswordHasherError::Internal(e.to_string().into()))?
            .to_string();
        let threads = HashThreads::start(queue.slot_count)?;
        Ok(Self { queue, threads, dummy: dummy.into() })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordHasherError> {
        let internal = |e: &str| PasswordHasherError::Internal(e.to_owned().into());
        // The slot moves into the job: if the caller goes away (a client hanging up), the hash
        // still counts against the limit until it really ends.
        let slot = self.queue.admit().await?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = work();
            // Free before answering: a caller that hashes again right away finds the slot.
            drop(slot);
            let _ = done.send(result);
        });
        self.threads.jobs.send(job).map_err(|_| internal("the hashing threads are gone"))?;
        result.await.map_err(|_| internal("a hashing thread failed"))
    }
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHasherError> {
        let password = password.clone();
        let phc = self
            .run(move || hash_phc(password.expose().as_bytes()))
            .await?
            .map_err(|e| PasswordHasherError::Internal(e.into()))?;
        Ok(PasswordHash::new(phc))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PasswordHasherError> {
        let password = password.clone();
        let known = hash.is_some();
        let phc = hash.map_or_else(|| self.dummy.to_string(), |h| h.as_str().to_owned());
        self.run(move || verify_phc(password.expose().as_bytes(), &phc) && known).await
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else {
            return true;
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else {
            return true;
        };
        let wanted = argon2::Params::default();
        parsed.algorithm != argon2::Algorithm::Argon2id.ident()
            || params.m_cost() < wanted.m_cost()
            || params.t_cost() < wanted.t_cost()
            || params.p_cost() < wanted.p_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn hashes_in_kept_memory_are_standard_phc_argon2id_both_ways() {
        use argon2::PasswordVerifier as _;
        let password = b"correct horse battery staple";
        let ours = hash_phc(password).unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        let parsed = argon2::PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(password, &parsed).is_ok(), "the crate agrees");
        let theirs = Argon2::default().hash_password(password).unwrap().to_string();
        assert!(verify_phc(password, &theirs), "a hash made the usual way verifies");
        assert!(verify_phc(password, &ours) && verify_phc(password, &ours), "memory reused");
        assert!(!verify_phc(b"wrong horse battery staple", &ours));
        assert!(!verify_phc(password, "$argon2id$v=19$m=19456,t=2,p=1$bm90IGEgaGFzaA"));
        let absurd = ours.replace("m=19456", "m=4000000000");
        assert!(!verify_phc(password, &absurd), "a stored hash beyond the limits is refused");
        assert_ne!(hash_phc(password).unwrap(), ours, "a fresh salt each time");
    }

    #[tokio::test]
    async fn hashes_run_on_the_hashing_threads_and_a_panic_fails_only_its_caller() {
        let hasher = Argon2PasswordHasher::new(Arc::new(HashQueue::new(1, TIMEOUT))).unwrap();
        let thread = hasher.run(|| std::thread::current().name().map(str::to_owned)).await;
        assert_eq!(thread.unwrap().as_deref(), Some("argon2-0"), "not the blocking pool");
        let failed = hasher.run(|| -> u8 { panic!("a hash that panics") }).await;
        assert!(matches!(failed, Err(PasswordHasherError::Internal(_))));
        let password = Password::candidate("correct horse battery staple").unwrap();
        let hash = hasher.hash(&password).await.expect("the one thread still hashes");
        assert!(hasher.verify(&password, Some(&hash)).await.unwrap());
    }

    fn is_busy(result: &Result<HashSlot, PasswordHasherError>) -> bool {
        matches!(result, Err(PasswordHasherError::Busy { retry_after }) if *retry_after == TIMEOUT)
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_waits_longer_than_the_timeout_is_turned_away() {
        let queue = Arc::new(HashQueue::new(1, TIMEOUT));
        let held = queue.admit().await.expect("a free slot");

        let started = tokio::time::Instant::now();
        let waited = queue.admit().await;

        assert!(is_busy(&waited), "{:?}", waited.err());
        assert_eq!(started.elapsed(), TIMEOUT, "the wait ends at the timeout, not before");
        assert_eq!(queue.waiting(), 0, "the place in the queue is given back");
        drop(held);
        assert!(queue.admit().await.is_ok(), "a freed slot admits the next caller");
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_gets_a_slot_inside_the_timeout_is_admitted() {
        let queue = Arc::new(HashQueue::new(1, TIMEOUT));
        let held = queue.admit().await.expect("a free slot");
        let waiter = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.admit().await.map(|_| ()) })
        };
        tokio::time::sleep(TIMEOUT - Duration::from_millis(10)).await;
        assert_eq!(queue.waiting(), 1);

        drop(held);

        assert!(waiter.await.expect("the waiter").is_ok());
        assert_eq!(queue.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_turns_callers_away_at_once() {
        let queue = Arc::new(HashQueue::with_capacity(1, 2, TIMEOUT));
        let held = queue.admit().await.expect("a free slot");
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.admit().await.map(|_| ()) })
            })
            .collect();
        while queue.waiting() < 2 {
            tokio::task::yield_now().await;
        }

        let started = tokio::time::Instant::now();
        let refused = queue.admit().await;

        assert!(is_busy(&refused), "{:?}", refused.err());
        assert_eq!(started.elapsed(), Duration::ZERO, "no wait when the queue is full");
        drop(held);
        for waiter in waiters {
            let _ = waiter.await.expect("a waiter");
        }
        assert_eq!(queue.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_hasher_checks_nothing() {
        let queue = Arc::new(HashQueue::with_capacity(1, 0, TIMEOUT));
        let hasher = Argon2PasswordHasher::new(queue.clone()).expect("hasher");
        let _held = queue.admit().await.expect("a free slot");
        let password = Password::candidate("correct horse battery staple").expect("a password");

        let verified = hasher.verify(&password, None).await;
        let hashed = hasher.hash(&password).await;

        assert!(matches!(verified, Err(PasswordHasherError::Busy { .. })), "{verified:?}");
        assert!(matches!(hashed, Err(PasswordHasherError::Busy { .. })), "{hashed:?}");
    }
}
