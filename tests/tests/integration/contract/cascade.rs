//! Deleting a user deletes their identity links and sessions with them, on every store.

use codex_cloud_core::domain::{Session, SessionId, SessionMethod};
use codex_cloud_tests::TestStore;

use super::{at, issuer, new_identity, new_user, subject};

contract_tests!(deleting_a_user_deletes_their_identities_and_sessions);

async fn deleting_a_user_deletes_their_identities_and_sessions(t: TestStore) {
    let store = t.store();
    let ada =
        store.create_user(new_user("ada@example.com", at(0)), &super::audit()).await.expect("user");
    let bob =
        store.create_user(new_user("bob@example.com", at(0)), &super::audit()).await.expect("user");
    let op = "https://op.example.com";
    for (sub, who) in [("ada", ada.id), ("bob", bob.id)] {
        store
            .link_identity(new_identity(op, sub, who, None, at(1)), &super::audit())
            .await
            .expect("link");
    }
    let session = |user_id| Session {
        id: SessionId::random(),
        user_id,
        method: SessionMethod::Password,
        created_at: at(2),
        last_used_at: at(2),
        expires_at: at(902),
        revoked_at: None,
    };
    let (adas, bobs) = (session(ada.id), session(bob.id));
    store.start_session(&super::stored(&adas), &super::audit()).await.expect("session");
    store.start_session(&super::stored(&bobs), &super::audit()).await.expect("session");

    assert!(store.delete_user(ada.id).await.expect("delete the user"));
    assert!(!store.delete_user(ada.id).await.expect("delete again"), "deleted once only");

    assert_eq!(store.user_by_id(ada.id).await.expect("user"), None);
    assert!(store.session_with_user(adas.id).await.expect("session").is_none());
    let owner = store.user_by_identity(&issuer(op), &subject("ada")).await;
    assert_eq!(owner.expect("identity"), None);
    assert!(store.identities_of_user(ada.id).await.expect("list").is_empty());
    let (kept, _) = store.session_with_user(bobs.id).await.expect("bob's session").expect("kept");
    assert_eq!(kept, bobs);
    let bobs_owner = store.user_by_identity(&issuer(op), &subject("bob")).await;
    assert_eq!(bobs_owner.expect("bob's identity").map(|u| u.id), Some(bob.id));
}
