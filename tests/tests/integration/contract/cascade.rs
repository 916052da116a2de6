//! SeaORM-only contract: deleting a user (not a port operation) deletes their identities and
//! sessions with them, as the port requires.

use sea_orm::ConnectionTrait as _;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};

use codex_cloud_core::domain::{Session, SessionId};
use codex_cloud_tests::TestStore;

use super::{at, issuer, new_identity, new_user, subject};

sea_orm_tests!(deleting_a_user_deletes_their_identities_and_sessions);

async fn deleting_a_user_deletes_their_identities_and_sessions(t: TestStore) {
    let store = t.store();
    let ada = store.create_user(new_user("ada@example.com", at(0))).await.expect("user");
    let bob = store.create_user(new_user("bob@example.com", at(0))).await.expect("user");
    let op = "https://op.example.com";
    for (sub, who) in [("ada", ada.id), ("bob", bob.id)] {
        store.link_identity(new_identity(op, sub, who, None, at(1))).await.expect("link");
    }
    let session = |user_id| Session {
        id: SessionId::random(),
        user_id,
        created_at: at(2),
        expires_at: at(902),
        revoked_at: None,
    };
    let (adas, bobs) = (session(ada.id), session(bob.id));
    store.create_session(&adas).await.expect("session");
    store.create_session(&bobs).await.expect("session");

    let delete = Query::delete()
        .from_table(Alias::new("users"))
        .and_where(Expr::col(Alias::new("id")).eq(ada.id.as_uuid()))
        .to_owned();
    let db = t.connection().expect("a SeaORM store");
    let deleted = db.execute(&delete).await.expect("delete the user");
    assert_eq!(deleted.rows_affected(), 1);

    assert_eq!(store.user_by_id(ada.id).await.expect("user"), None);
    assert_eq!(store.session(adas.id).await.expect("session"), None);
    let owner = store.user_by_identity(&issuer(op), &subject("ada")).await;
    assert_eq!(owner.expect("identity"), None);
    assert!(store.identities_of_user(ada.id).await.expect("list").is_empty());
    assert_eq!(store.session(bobs.id).await.expect("bob's session"), Some(bobs));
    let bobs_owner = store.user_by_identity(&issuer(op), &subject("bob")).await;
    assert_eq!(bobs_owner.expect("bob's identity").map(|u| u.id), Some(bob.id));
}
