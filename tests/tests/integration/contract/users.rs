//! Contract cases for users: creation, lookup by id and e-mail, duplicates, listing, disabling.

use time::Duration;
use uuid::Uuid;

use codex_cloud_core::domain::{NewUser, User, UserId};
use codex_cloud_core::ports::{DisableOutcome, UserStoreError};
use codex_cloud_tests::TestStore;

use super::{at, email, new_user};

contract_tests!(
    a_created_user_is_returned_as_stored_and_found_by_id_and_by_email_in_any_case,
    a_user_without_a_password_keeps_none,
    an_email_taken_already_is_a_duplicate_even_in_another_case,
    users_are_listed_by_creation_time_then_id_one_page_at_a_time,
    disabling_a_user_sets_the_flag_and_the_update_time_and_enabling_clears_it,
    disabling_an_unknown_user_is_none,
    the_store_answers_a_ping,
    a_second_user_with_the_same_id_is_a_duplicate_id,
    the_last_enabled_administrator_cannot_be_disabled,
    throttle_counts_change_only_from_the_state_they_were_read_in,
);

async fn a_created_user_is_returned_as_stored_and_found_by_id_and_by_email_in_any_case(
    t: TestStore,
) {
    let store = t.store();
    let mut new = new_user("Ada.Lovelace@Example.com", at(0));
    new.is_admin = true;
    let expected = User {
        id: new.id,
        email: new.email.clone(),
        password_hash: new.password_hash.clone(),
        is_admin: true,
        disabled: false,
        created_at: at(0),
        updated_at: at(0),
    };

    let created = store.create_user(new, &super::audit()).await.expect("create");

    assert_eq!(created, expected);
    assert_eq!(created.email.as_str(), "ada.lovelace@example.com");
    let by_id = store.user_by_id(expected.id).await.expect("by id");
    assert_eq!(by_id, Some(expected.clone()));
    for address in ["ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM"] {
        let by_email = store.user_by_email(&email(address)).await.expect("by email");
        assert_eq!(by_email, Some(expected.clone()), "{address}");
    }
    assert_eq!(store.user_by_id(UserId::new()).await.expect("unknown"), None);
    let nobody = store.user_by_email(&email("nobody@example.com")).await;
    assert_eq!(nobody.expect("unknown email"), None);
}

async fn a_user_without_a_password_keeps_none(t: TestStore) {
    let store = t.store();
    let mut new = new_user("sso-only@example.com", at(0));
    new.password_hash = None;
    let id = new.id;

    store.create_user(new, &super::audit()).await.expect("create");

    let user = store.user_by_id(id).await.expect("read").expect("exists");
    assert_eq!(user.password_hash, None);
}

async fn an_email_taken_already_is_a_duplicate_even_in_another_case(t: TestStore) {
    let store = t.store();
    let first = store
        .create_user(new_user("ada@example.com", at(0)), &super::audit())
        .await
        .expect("create");

    for address in ["ada@example.com", "ADA@Example.COM"] {
        let again = store.create_user(new_user(address, at(1)), &super::audit()).await;
        assert!(matches!(again, Err(UserStoreError::DuplicateEmail)), "{address}: {again:?}");
    }

    let users = store.list_users(0, 10).await.expect("list");
    assert_eq!(users, vec![first]);
}

async fn users_are_listed_by_creation_time_then_id_one_page_at_a_time(t: TestStore) {
    let store = t.store();
    // Ids run against creation order; c and d were created in the same second.
    let specs = [("a", 5, 0), ("b", 4, 1), ("c", 2, 2), ("d", 3, 2), ("e", 1, 3)];
    let users: Vec<_> = specs
        .iter()
        .map(|&(name, id, second)| {
            let mut new = new_user(&format!("{name}@example.com"), at(second));
            new.id = UserId::from_uuid(Uuid::from_u128(id));
            new
        })
        .collect();
    for index in [4, 2, 0, 3, 1] {
        store.create_user(users[index].clone(), &super::audit()).await.expect("create");
    }
    let page = |offset, limit| {
        let store = store.clone();
        async move {
            let page = store.list_users(offset, limit).await.expect("list");
            page.into_iter()
                .map(|u| u.email.as_str().chars().next().unwrap_or('?'))
                .collect::<String>()
        }
    };

    assert_eq!(page(0, 100).await, "abcde");
    assert_eq!(page(0, 2).await, "ab");
    assert_eq!(page(2, 2).await, "cd");
    assert_eq!(page(4, 2).await, "e");
    assert_eq!(page(5, 2).await, "");
    assert_eq!(page(0, 0).await, "");
}

async fn disabling_a_user_sets_the_flag_and_the_update_time_and_enabling_clears_it(t: TestStore) {
    let store = t.store();
    let user = store
        .create_user(new_user("ada@example.com", at(0)), &super::audit())
        .await
        .expect("create");

    let outcome = store.disable_user(user.id, at(10), &super::audit()).await.expect("disable");
    let DisableOutcome::Disabled(disabled) = outcome else { panic!("{outcome:?}") };

    assert!(disabled.disabled);
    assert_eq!(disabled.updated_at, at(10));
    assert_eq!(disabled.created_at, at(0));
    let stored = store.user_by_id(user.id).await.expect("read");
    assert_eq!(stored, Some(disabled));

    let enabled = store
        .enable_user(user.id, at(20), &super::audit())
        .await
        .expect("enable")
        .expect("the user exists");

    assert!(!enabled.disabled);
    assert_eq!(enabled.updated_at, at(20));
    assert_eq!(store.user_by_id(user.id).await.expect("read"), Some(enabled));
}

async fn disabling_an_unknown_user_is_none(t: TestStore) {
    let store = t.store();
    let unknown = UserId::new();

    let result = store.disable_user(unknown, at(0) + Duration::seconds(1), &super::audit()).await;

    assert_eq!(result.expect("no error"), DisableOutcome::UnknownUser);
    assert_eq!(store.user_by_id(unknown).await.expect("read"), None);
}

async fn the_last_enabled_administrator_cannot_be_disabled(t: TestStore) {
    let store = t.store();
    let admin = NewUser { is_admin: true, ..new_user("root@example.com", at(0)) };
    let root = store.create_user(admin.clone(), &super::audit()).await.expect("create");
    let other = NewUser { id: UserId::new(), email: email("second@example.com"), ..admin };
    let second = store.create_user(other, &super::audit()).await.expect("create");

    let first = store.disable_user(second.id, at(1), &super::audit()).await.expect("disable");
    assert!(matches!(first, DisableOutcome::Disabled(_)), "{first:?}");
    let last = store.disable_user(root.id, at(2), &super::audit()).await.expect("disable");
    assert_eq!(last, DisableOutcome::LastAdmin);
    assert!(!store.user_by_id(root.id).await.expect("read").expect("exists").disabled);
}

async fn the_store_answers_a_ping(t: TestStore) {
    t.store().ping().await.expect("ping");
}

async fn a_second_user_with_the_same_id_is_a_duplicate_id(t: TestStore) {
    let store = t.store();
    let first = new_user("ada@example.com", at(0));
    store.create_user(first.clone(), &super::audit()).await.expect("create");

    let again = NewUser { email: email("bob@example.com"), ..first.clone() };
    let result = store.create_user(again, &super::audit()).await;

    assert!(matches!(result, Err(UserStoreError::DuplicateId)), "{result:?}");
    let kept = store.user_by_id(first.id).await.expect("read").expect("kept");
    assert_eq!(kept.email, first.email);
    let bob = store.user_by_email(&email("bob@example.com")).await.expect("read");
    assert_eq!(bob, None);
}

async fn throttle_counts_change_only_from_the_state_they_were_read_in(t: TestStore) {
    use codex_cloud_core::domain::{ThrottleKey, ThrottleRecord};
    let store = t.store();
    let key = ThrottleKey::account("ada@example.com");
    let one = ThrottleRecord { failures: 1, window_started_at: at(0), last_failure_at: at(0) };
    let two = ThrottleRecord { failures: 2, last_failure_at: at(5), ..one };

    assert!(store.swap_throttle(&key, None, Some(&one)).await.expect("insert"));
    assert!(!store.swap_throttle(&key, None, Some(&one)).await.expect("again"), "it exists now");
    assert!(store.swap_throttle(&key, Some(&one), Some(&two)).await.expect("update"));
    assert!(!store.swap_throttle(&key, Some(&one), Some(&two)).await.expect("stale"), "stale");
    let read = store.throttle_records(std::slice::from_ref(&key)).await.expect("read");
    assert_eq!(read, [Some(two)]);
    store.forgive_attempt(&key).await.expect("forgive");
    let forgiven = ThrottleRecord { failures: 1, ..two };
    assert_eq!(
        store.throttle_records(std::slice::from_ref(&key)).await.expect("read"),
        [Some(forgiven)]
    );
    assert!(store.swap_throttle(&key, Some(&forgiven), None).await.expect("delete"));
    assert_eq!(store.throttle_records(&[key]).await.expect("read"), [None]);
}
