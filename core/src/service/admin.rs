//! Who may administer users: the capability every administration use case requires.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::domain::{AuditEvent, AuditKind, AuditOutcome, UserId};
use crate::service::Principal;

/// The right to administer users and their identity links. Held by an administrator's
/// principal (`Principal::admin`) or by the operator of the deployment (`Admin::operator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admin {
    acting_user: Option<UserId>,
    address: Option<IpAddr>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("this operation is for administrators")]
pub struct NotAnAdmin;

impl Admin {
    /// The operator: someone with the deployment's database in hand (the command line, or a
    /// program seeding the database). Never derived from a request.
    pub fn operator() -> Self {
        Self { acting_user: None, address: None }
    }

    /// The administrator acting, or `None` for the operator.
    pub fn acting_user(&self) -> Option<UserId> {
        self.acting_user
    }

    /// An audit event of an action of this administrator on `user`.
    pub fn audit(&self, kind: AuditKind, user: UserId, at: OffsetDateTime) -> AuditEvent {
        AuditEvent::new(kind, AuditOutcome::Success, at)
            .user(user)
            .actor(self.acting_user)
            .from_address(self.address)
    }
}

impl Principal {
    /// The caller's administration capability.
    ///
    /// # Errors
    /// `NotAnAdmin` when the caller is not an administrator.
    pub fn admin(&self) -> Result<Admin, NotAnAdmin> {
        if self.user.is_admin {
            Ok(Admin { acting_user: Some(self.user.id), address: self.address })
        } else {
            Err(NotAnAdmin)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::service::fakes::{PASSWORD, World};
    use crate::service::{Admin, NotAnAdmin};

    #[tokio::test]
    async fn only_an_administrators_principal_holds_the_admin_capability() {
        let w = World::new();
        let root = w.user("root@example.com", Some(PASSWORD), true).await;
        w.user("ada@example.com", Some(PASSWORD), false).await;
        let mut principals = Vec::new();
        for email in ["root@example.com", "ada@example.com"] {
            let login = w.auth.login_with_password(email, PASSWORD, None).await.unwrap();
            principals
                .push(w.auth.authenticate_token(login.token.token.expose(), None).await.unwrap());
        }

        let admin = principals[0].admin().unwrap();
        assert_eq!(admin.acting_user(), Some(root.id));
        assert_eq!(principals[1].admin(), Err(NotAnAdmin));
        assert_eq!(Admin::operator().acting_user(), None);
    }
}
