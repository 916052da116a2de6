//! Administration of users: list, look up, disable and enable.

use crate::BoxError;
use crate::domain::{User, UserId};
use crate::ports::StoreError;
use crate::service::{Accounts, Admin};

#[derive(Debug, thiserror::Error)]
pub enum ManageUsersError {
    #[error("no such user")]
    UnknownUser,
    #[error(transparent)]
    Internal(BoxError),
}

impl From<StoreError> for ManageUsersError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

impl Accounts {
    /// Users ordered by creation.
    ///
    /// # Errors
    /// `Internal` only.
    pub async fn list_users(
        &self,
        _admin: &Admin,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<User>, ManageUsersError> {
        Ok(self.users.list_users(offset, limit).await?)
    }

    /// # Errors
    /// `UnknownUser`.
    pub async fn user(&self, _admin: &Admin, id: UserId) -> Result<User, ManageUsersError> {
        self.users.user_by_id(id).await?.ok_or(ManageUsersError::UnknownUser)
    }

    /// Disables a user: they can no longer log in, and their tokens stop working at once.
    ///
    /// # Errors
    /// `UnknownUser`.
    pub async fn disable_user(&self, _admin: &Admin, id: UserId) -> Result<User, ManageUsersError> {
        let user = self.users.disable_user(id, self.clock.now()).await?;
        user.ok_or(ManageUsersError::UnknownUser)
    }

    /// # Errors
    /// `UnknownUser`.
    pub async fn enable_user(&self, _admin: &Admin, id: UserId) -> Result<User, ManageUsersError> {
        let user = self.users.enable_user(id, self.clock.now()).await?;
        user.ok_or(ManageUsersError::UnknownUser)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::UserId;
    use crate::service::fakes::{PASSWORD, World};
    use crate::service::{Admin, ManageUsersError};

    #[tokio::test]
    async fn disabling_and_enabling_flip_the_flag_and_an_unknown_user_is_unknown() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", Some(PASSWORD), false).await;

        assert!(w.accounts.disable_user(&admin, ada.id).await.unwrap().disabled);
        assert!(!w.accounts.enable_user(&admin, ada.id).await.unwrap().disabled);
        for result in [
            w.accounts.disable_user(&admin, UserId::new()).await,
            w.accounts.enable_user(&admin, UserId::new()).await,
            w.accounts.user(&admin, UserId::new()).await,
        ] {
            assert!(matches!(result, Err(ManageUsersError::UnknownUser)), "{result:?}");
        }
    }
}
