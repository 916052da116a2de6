//! Contract cases for invitations and a user's own links: stored by digest, listed newest first,
//! revoked; redeemed at most once, never onto someone else's identity, never for a disabled
//! user; and a passwordless user's last link survives concurrent removals.

use time::Duration;
use uuid::Uuid;

use codex_cloud_core::domain::{Invitation, NewUser, TokenDigest, User, UserId, VerifiedIdentity};
use codex_cloud_core::ports::{OwnUnlink, RedeemError};
use codex_cloud_tests::TestStore;
use codex_cloud_tests::database::AnyStore;

use super::{at, email, issuer, new_identity, new_user, subject};

contract_tests!(
    invitations_are_found_by_token_listed_newest_first_and_revoked_once,
    an_invitation_of_an_unknown_user_is_refused,
    of_two_concurrent_redemptions_exactly_one_spends_the_invitation,
    an_identity_linked_to_someone_else_is_refused_and_nothing_changes,
    an_identity_linked_to_the_invited_user_already_is_kept_and_the_invitation_spent,
    expired_revoked_and_disabled_users_invitations_are_not_redeemed,
    of_two_concurrent_removals_of_a_passwordless_users_last_two_links_one_is_refused,
    a_user_with_a_password_may_remove_their_only_link,
);

const OP: &str = "https://op.example.com";

async fn user(store: &dyn AnyStore, address: &str, password: bool) -> User {
    let mut new: NewUser = new_user(address, at(0));
    if !password {
        new.password_hash = None;
    }
    store.create_user(new, &super::audit()).await.expect("create user")
}

fn invitation(user: UserId, token: &str, created: i64) -> Invitation {
    Invitation {
        id: Uuid::now_v7(),
        user_id: user,
        token: TokenDigest::of(token),
        created_at: at(created),
        expires_at: at(created) + Duration::days(7),
        spent_at: None,
    }
}

fn identity(sub: &str) -> VerifiedIdentity {
    VerifiedIdentity { issuer: issuer(OP), subject: subject(sub), email: None }
}

async fn invited(store: &dyn AnyStore, user: UserId, token: &str) -> Invitation {
    let invitation = invitation(user, token, 1);
    store.create_invitation(&invitation, &super::audit()).await.expect("create invitation");
    invitation
}

async fn stored(store: &dyn AnyStore, token: &str) -> Option<Invitation> {
    store.invitation_by_token(&TokenDigest::of(token)).await.expect("by token")
}

async fn invitations_are_found_by_token_listed_newest_first_and_revoked_once(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com", false).await;
    let first = invitation(ada.id, "first", 1);
    let second = invitation(ada.id, "second", 2);
    for i in [&first, &second] {
        store.create_invitation(i, &super::audit()).await.expect("create");
    }
    assert_eq!(stored(&*store, "first").await, Some(first.clone()));
    assert_eq!(stored(&*store, "nope").await, None);
    let listed = store.invitations_of_user(ada.id).await.expect("list");
    assert_eq!(listed, vec![second.clone(), first.clone()]);
    assert!(store.revoke_invitation(first.id, &super::audit()).await.expect("revoke"));
    assert!(!store.revoke_invitation(first.id, &super::audit()).await.expect("again"));
    assert_eq!(stored(&*store, "first").await, None);
}

async fn an_invitation_of_an_unknown_user_is_refused(t: TestStore) {
    let store = t.store();
    let refused =
        store.create_invitation(&invitation(UserId::new(), "t", 1), &super::audit()).await;
    assert!(
        matches!(refused, Err(codex_cloud_core::ports::InvitationStoreError::UnknownUser)),
        "{refused:?}"
    );
}

async fn of_two_concurrent_redemptions_exactly_one_spends_the_invitation(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com", false).await;
    let invitation = invited(&*store, ada.id, "raced").await;
    let (one, two, event) = (identity("one"), identity("two"), super::audit());
    let (a, b) = tokio::join!(
        store.redeem_invitation(invitation.id, &one, at(10), &event),
        store.redeem_invitation(invitation.id, &two, at(10), &event),
    );
    let winners = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{a:?} {b:?}");
    assert!([&a, &b].iter().any(|r| matches!(r, Err(RedeemError::InvalidInvitation))));
    assert_eq!(store.identities_of_user(ada.id).await.expect("links").len(), 1);
    assert_eq!(stored(&*store, "raced").await.expect("kept").spent_at, Some(at(10)));
}

async fn an_identity_linked_to_someone_else_is_refused_and_nothing_changes(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com", false).await;
    let bob = user(&*store, "bob@example.com", false).await;
    let link = new_identity(OP, "bobs", bob.id, None, at(0));
    store.link_identity(link, &super::audit()).await.expect("link bob");
    let invitation = invited(&*store, ada.id, "t").await;
    let refused =
        store.redeem_invitation(invitation.id, &identity("bobs"), at(10), &super::audit()).await;
    assert!(matches!(refused, Err(RedeemError::AlreadyLinked)), "{refused:?}");
    assert_eq!(stored(&*store, "t").await.expect("kept").spent_at, None, "stays unspent");
    let owner = store.user_by_identity(&issuer(OP), &subject("bobs")).await.expect("owner");
    assert_eq!(owner.map(|u| u.id), Some(bob.id));
    assert!(store.identities_of_user(ada.id).await.expect("links").is_empty());
}

async fn an_identity_linked_to_the_invited_user_already_is_kept_and_the_invitation_spent(
    t: TestStore,
) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com", false).await;
    let link = new_identity(OP, "adas", ada.id, Some("ada@example.com"), at(0));
    let existing = store.link_identity(link, &super::audit()).await.expect("link");
    let invitation = invited(&*store, ada.id, "t").await;
    let kept = store
        .redeem_invitation(invitation.id, &identity("adas"), at(10), &super::audit())
        .await
        .expect("redeemed");
    assert_eq!(kept.id, existing.id);
    assert_eq!(kept.email, Some(email("ada@example.com")));
    assert_eq!(stored(&*store, "t").await.expect("kept").spent_at, Some(at(10)));
}

async fn expired_revoked_and_disabled_users_invitations_are_not_redeemed(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com", false).await;
    let expiring = invited(&*store, ada.id, "expiring").await;
    let late = expiring.expires_at;
    let expired = store.redeem_invitation(expiring.id, &identity("a"), late, &super::audit()).await;
    assert!(matches!(expired, Err(RedeemError::InvalidInvitation)), "{expired:?}");

    let revoked = invited(&*store, ada.id, "revoked").await;
    store.revoke_invitation(revoked.id, &super::audit()).await.expect("revoke");
    let gone = store.redeem_invitation(revoked.id, &identity("a"), at(10), &super::audit()).await;
    assert!(matches!(gone, Err(RedeemError::InvalidInvitation)), "{gone:?}");

    let disabled_user = invited(&*store, ada.id, "disabled").await;
    store.disable_user(ada.id, at(5), &super::audit()).await.expect("disable");
    let refused =
        store.redeem_invitation(disabled_user.id, &identity("a"), at(10), &super::audit()).await;
    assert!(matches!(refused, Err(RedeemError::InvalidInvitation)), "{refused:?}");
    assert_eq!(stored(&*store, "disabled").await.expect("kept").spent_at, None);
    assert!(store.identities_of_user(ada.id).await.expect("links").is_empty());
}

async fn of_two_concurrent_removals_of_a_passwordless_users_last_two_links_one_is_refused(
    t: TestStore,
) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com", false).await;
    for sub in ["one", "two"] {
        let link = new_identity(OP, sub, ada.id, None, at(0));
        store.link_identity(link, &super::audit()).await.expect("link");
    }
    let (op, one, two, event) = (issuer(OP), subject("one"), subject("two"), super::audit());
    let (a, b) = tokio::join!(
        store.unlink_own_identity(ada.id, &op, &one, &event),
        store.unlink_own_identity(ada.id, &op, &two, &event),
    );
    let mut outcomes = [a.expect("first"), b.expect("second")];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [OwnUnlink::LastLoginMethod, OwnUnlink::Removed]);
    assert_eq!(store.identities_of_user(ada.id).await.expect("links").len(), 1);
    let other = store.unlink_own_identity(UserId::new(), &op, &one, &super::audit()).await;
    assert_eq!(other.expect("unknown user"), OwnUnlink::NotLinked);
}

async fn a_user_with_a_password_may_remove_their_only_link(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com", true).await;
    let bob = user(&*store, "bob@example.com", true).await;
    let link = new_identity(OP, "only", ada.id, None, at(0));
    store.link_identity(link, &super::audit()).await.expect("link");
    let (op, only) = (issuer(OP), subject("only"));
    let foreign = store.unlink_own_identity(bob.id, &op, &only, &super::audit()).await;
    assert_eq!(foreign.expect("bob"), OwnUnlink::NotLinked, "never someone else's");
    let removed = store.unlink_own_identity(ada.id, &op, &only, &super::audit()).await;
    assert_eq!(removed.expect("ada"), OwnUnlink::Removed);
    assert!(store.identities_of_user(ada.id).await.expect("links").is_empty());
}
