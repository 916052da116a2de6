//! Passwords too common to allow.

/// Knows the most common passwords (at least the 30 000 of a maintained list).
pub trait PasswordBlocklist: Send + Sync {
    /// Whether `password`, compared without regard to case, is one of them.
    fn is_common(&self, password: &str) -> bool;
}
