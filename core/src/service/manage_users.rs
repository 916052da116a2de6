//! Administration of users: list, look up, disable and enable.

use crate::BoxError;
use crate::domain::{User, UserId};
use crate::service::Auth;

#[derive(Debug, thiserror::Error)]
pub enum ManageUsersError {
    #[error("no such user")]
    UnknownUser,
    #[error(transparent)]
    Internal(BoxError),
}

impl Auth {
    /// # Errors
    /// `Internal` only.
    pub async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, ManageUsersError> {
        self.store.list_users(offset, limit).await.map_err(|e| ManageUsersError::Internal(e.into()))
    }

    /// # Errors
    /// `UnknownUser`.
    pub async fn user(&self, id: UserId) -> Result<User, ManageUsersError> {
        self.store
            .user_by_id(id)
            .await
            .map_err(|e| ManageUsersError::Internal(e.into()))?
            .ok_or(ManageUsersError::UnknownUser)
    }

    /// Disables or re-enables a user. A disabled user's tokens stop working at once.
    ///
    /// # Errors
    /// `UnknownUser`.
    pub async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
    ) -> Result<User, ManageUsersError> {
        self.store
            .set_user_disabled(id, disabled, self.clock.now())
            .await
            .map_err(|e| ManageUsersError::Internal(e.into()))?
            .ok_or(ManageUsersError::UnknownUser)
    }
}
