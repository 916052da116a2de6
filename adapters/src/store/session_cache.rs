//! The bearer check's cache of sessions with their users, so that a token checked again within
//! a second costs no database round trip.
//!
//! Exact on this replica: every change this store makes to sessions, users or identity links
//! invalidates the cache after it commits, and a read that raced with such a change is not
//! cached (the generation moved). Elsewhere bounded: an entry is trusted for `TTL` after it was
//! read, so a logout, disable, unlink or password change on another replica is seen here within
//! a second, whatever the replicas' clocks say.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use codex_cloud_core::domain::{Session, SessionId, User};

use crate::sync::lock;

/// How long an entry is trusted after it was read.
pub const TTL: Duration = Duration::from_millis(900);
/// At most this many entries: when full, expired ones go, and if none had expired, all.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
struct State {
    generation: u64,
    entries: HashMap<SessionId, (Session, User, Instant)>,
}

/// When a read began, and in which generation.
#[derive(Clone, Copy, Debug)]
pub struct ReadTicket {
    generation: u64,
    started: Instant,
}

/// See `SessionCache::invalidate_after`.
pub struct InvalidateOnDrop<'a>(&'a SessionCache);

impl Drop for InvalidateOnDrop<'_> {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

#[derive(Default)]
pub struct SessionCache {
    state: Mutex<State>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache").finish_non_exhaustive()
    }
}

impl SessionCache {
    /// A session read less than `TTL` ago.
    pub fn get(&self, id: SessionId) -> Option<(Session, User)> {
        let state = lock(&self.state);
        let (session, user, read_at) = state.entries.get(&id)?;
        (read_at.elapsed() < TTL).then(|| (session.clone(), user.clone()))
    }

    /// Taken before a read: the read's result is cached only if nothing changed meanwhile, and
    /// its age counts from here (before the database took its snapshot).
    pub fn begin_read(&self) -> ReadTicket {
        ReadTicket { generation: lock(&self.state).generation, started: Instant::now() }
    }

    /// Caches what the read of `ticket` found.
    pub fn insert(&self, ticket: ReadTicket, session: Session, user: User) {
        let mut state = lock(&self.state);
        if state.generation != ticket.generation {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.retain(|_, (_, _, read_at)| read_at.elapsed() < TTL);
            if state.entries.len() >= MAX_ENTRIES {
                state.entries.clear();
            }
        }
        state.entries.insert(session.id, (session, user, ticket.started));
    }

    /// Invalidates the cache when dropped: taken before a change, so that whatever happens to
    /// the change (committed, failed at commit, or abandoned by a caller that went away) nothing
    /// read before it is trusted afterwards.
    pub fn invalidate_after(&self) -> InvalidateOnDrop<'_> {
        InvalidateOnDrop(self)
    }

    /// After a committed change to sessions, users or links: nothing cached before counts.
    pub fn invalidate(&self) {
        let mut state = lock(&self.state);
        state.generation = state.generation.wrapping_add(1);
        state.entries.clear();
    }
}
