//! Contract cases for external identities: link, upsert, unlink, lookups, exact comparison.

use codex_cloud_core::domain::{ExternalIdentity, User, UserId};
use codex_cloud_core::ports::LinkStoreError;
use codex_cloud_tests::TestStore;
use codex_cloud_tests::database::AnyStore;

use super::{at, email, issuer, new_identity, new_user, subject};

contract_tests!(
    a_linked_identity_is_found_with_its_user_and_listed_for_the_user,
    linking_an_identity_twice_is_already_linked_whichever_user_asks,
    linking_to_an_unknown_user_is_unknown_user,
    upserting_an_identity_twice_moves_the_link_instead_of_failing,
    linking_or_updating_for_an_unknown_user_is_unknown_user,
    unlinking_removes_the_link_and_a_second_unlink_finds_nothing,
    a_user_sees_only_their_own_identities,
    issuers_and_subjects_are_compared_exactly,
    unlinking_an_identity_of_a_user_leaves_other_users_links_alone,
);

const OP: &str = "https://op.example.com/tenant";

async fn user(store: &dyn AnyStore, address: &str) -> User {
    store.create_user(new_user(address, at(0)), &super::audit()).await.expect("create user")
}

async fn owner(store: &dyn AnyStore, iss: &str, sub: &str) -> Option<UserId> {
    let user = store.user_by_identity(&issuer(iss), &subject(sub)).await;
    user.expect("user_by_identity").map(|u| u.id)
}

async fn a_linked_identity_is_found_with_its_user_and_listed_for_the_user(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;

    let linked = store
        .link_identity(
            new_identity(OP, "00u123", ada.id, Some("Ada@Corp.example"), at(5)),
            &super::audit(),
        )
        .await
        .expect("link");
    let without_email = store
        .link_identity(new_identity(OP, "00u456", ada.id, None, at(6)), &super::audit())
        .await
        .expect("link without e-mail");

    assert_eq!(linked.issuer, issuer(OP));
    assert_eq!(linked.subject, subject("00u123"));
    assert_eq!(linked.user_id, ada.id);
    assert_eq!(linked.email, Some(email("ada@corp.example")));
    assert_eq!((linked.created_at, linked.updated_at), (at(5), at(5)));
    assert_eq!(without_email.email, None);
    assert_ne!(linked.id, without_email.id);
    let found =
        store.user_by_identity(&issuer(OP), &subject("00u123")).await.expect("user_by_identity");
    assert_eq!(found, Some(ada.clone()));
    let mut listed = store.identities_of_user(ada.id).await.expect("list");
    listed.sort_by(|a, b| a.subject.as_str().cmp(b.subject.as_str()));
    assert_eq!(listed, vec![linked, without_email]);
}

async fn linking_an_identity_twice_is_already_linked_whichever_user_asks(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;
    let bob = user(&*store, "bob@example.com").await;
    store
        .link_identity(new_identity(OP, "00u123", ada.id, None, at(1)), &super::audit())
        .await
        .expect("link");

    for who in [ada.id, bob.id] {
        let again = store
            .link_identity(new_identity(OP, "00u123", who, None, at(2)), &super::audit())
            .await;
        assert!(matches!(again, Err(LinkStoreError::AlreadyLinked)), "{again:?}");
    }

    assert_eq!(owner(&*store, OP, "00u123").await, Some(ada.id));
    assert!(store.identities_of_user(bob.id).await.expect("list").is_empty());
}

async fn linking_to_an_unknown_user_is_unknown_user(t: TestStore) {
    let store = t.store();

    let result = store
        .link_identity(new_identity(OP, "00u123", UserId::new(), None, at(1)), &super::audit())
        .await;

    assert!(matches!(result, Err(LinkStoreError::UnknownUser)), "{result:?}");
    assert_eq!(owner(&*store, OP, "00u123").await, None);
}

async fn upserting_an_identity_twice_moves_the_link_instead_of_failing(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;
    let bob = user(&*store, "bob@example.com").await;
    let first = store
        .link_or_update_identity(
            new_identity(OP, "00u123", ada.id, Some("a@op.example"), at(1)),
            &super::audit(),
        )
        .await
        .expect("first upsert");

    let second = store
        .link_or_update_identity(
            new_identity(OP, "00u123", bob.id, Some("b@op.example"), at(60)),
            &super::audit(),
        )
        .await
        .expect("second upsert");

    let expected = ExternalIdentity {
        user_id: bob.id,
        email: Some(email("b@op.example")),
        updated_at: at(60),
        ..first.clone()
    };
    assert_eq!(second, expected);
    assert_eq!(first.created_at, at(1));
    assert_eq!(owner(&*store, OP, "00u123").await, Some(bob.id));
    assert!(store.identities_of_user(ada.id).await.expect("ada").is_empty());
    let bobs = store.identities_of_user(bob.id).await.expect("bob");
    assert_eq!(bobs, vec![expected.clone()]);

    let same_again = store
        .link_or_update_identity(
            new_identity(OP, "00u123", bob.id, Some("b@op.example"), at(60)),
            &super::audit(),
        )
        .await
        .expect("identical upsert");
    assert_eq!(same_again, expected);
}

async fn linking_or_updating_for_an_unknown_user_is_unknown_user(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;
    store
        .link_or_update_identity(new_identity(OP, "linked", ada.id, None, at(1)), &super::audit())
        .await
        .expect("upsert");

    for sub in ["new", "linked"] {
        let result = store
            .link_or_update_identity(
                new_identity(OP, sub, UserId::new(), None, at(2)),
                &super::audit(),
            )
            .await;
        assert!(matches!(result, Err(LinkStoreError::UnknownUser)), "{sub}: {result:?}");
    }

    assert_eq!(owner(&*store, OP, "new").await, None);
    assert_eq!(owner(&*store, OP, "linked").await, Some(ada.id));
}

async fn unlinking_removes_the_link_and_a_second_unlink_finds_nothing(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;
    store
        .link_identity(new_identity(OP, "00u123", ada.id, None, at(1)), &super::audit())
        .await
        .expect("link");
    let (iss, sub) = (issuer(OP), subject("00u123"));

    assert!(store.unlink_identity(&iss, &sub, &super::audit()).await.expect("unlink"));
    assert!(!store.unlink_identity(&iss, &sub, &super::audit()).await.expect("again"));

    assert_eq!(owner(&*store, OP, "00u123").await, None);
    assert!(store.identities_of_user(ada.id).await.expect("list").is_empty());
    store
        .link_identity(new_identity(OP, "00u123", ada.id, None, at(2)), &super::audit())
        .await
        .expect("an unlinked identity can be linked again");
}

async fn a_user_sees_only_their_own_identities(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;
    let bob = user(&*store, "bob@example.com").await;
    let link = |sub: &'static str, who: UserId, second| {
        let store = store.clone();
        async move {
            store
                .link_identity(new_identity(OP, sub, who, None, at(second)), &super::audit())
                .await
                .expect("link")
        }
    };
    let ada_2 = link("ada-2", ada.id, 10).await;
    let bob_1 = link("bob-1", bob.id, 7).await;
    let ada_1 = link("ada-1", ada.id, 5).await;

    let mut adas = store.identities_of_user(ada.id).await.expect("ada");
    adas.sort_by_key(|i| i.created_at);
    let bobs = store.identities_of_user(bob.id).await.expect("bob");
    let nobodys = store.identities_of_user(UserId::new()).await.expect("none");

    assert_eq!(adas, vec![ada_1, ada_2]);
    assert_eq!(bobs, vec![bob_1]);
    assert!(nobodys.is_empty());
}

async fn issuers_and_subjects_are_compared_exactly(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;
    let bob = user(&*store, "bob@example.com").await;
    store
        .link_identity(new_identity(OP, "Alice", ada.id, None, at(1)), &super::audit())
        .await
        .expect("link");

    assert_eq!(owner(&*store, &format!("{OP}/"), "Alice").await, None);
    assert_eq!(owner(&*store, "https://OP.example.com/tenant", "Alice").await, None);
    assert_eq!(owner(&*store, OP, "alice").await, None);
    assert_eq!(owner(&*store, OP, "Alice ").await, None);
    store
        .link_identity(new_identity(OP, "alice", bob.id, None, at(2)), &super::audit())
        .await
        .expect("a subject differing in case is another identity");
    store
        .link_identity(
            new_identity(&format!("{OP}/"), "Alice", bob.id, None, at(3)),
            &super::audit(),
        )
        .await
        .expect("an issuer with a trailing slash is another issuer");
    assert_eq!(owner(&*store, OP, "Alice").await, Some(ada.id));
    assert_eq!(owner(&*store, OP, "alice").await, Some(bob.id));
}

async fn unlinking_an_identity_of_a_user_leaves_other_users_links_alone(t: TestStore) {
    let store = t.store();
    let ada = user(&*store, "ada@example.com").await;
    let bob = user(&*store, "bob@example.com").await;
    store
        .link_identity(new_identity(OP, "ada-sub", ada.id, None, at(1)), &super::audit())
        .await
        .expect("link");
    let (iss, sub) = (issuer(OP), subject("ada-sub"));

    assert!(
        !store.unlink_identity_of(bob.id, &iss, &sub, &super::audit()).await.expect("not bob's")
    );
    assert_eq!(owner(&*store, OP, "ada-sub").await, Some(ada.id));
    assert!(store.unlink_identity_of(ada.id, &iss, &sub, &super::audit()).await.expect("ada's"));
    assert_eq!(owner(&*store, OP, "ada-sub").await, None);
}
