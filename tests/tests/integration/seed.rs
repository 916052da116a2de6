//! `db::seed_external_identities`, called exactly as the product documentation shows it.

use uuid::Uuid;

use codex_cloud_adapters::SeaOrmStore;
use codex_cloud_backend::db::{self, ExternalIdentitySeed};
use codex_cloud_core::domain::{
    AuditEvent, AuditKind, AuditOutcome, Email, Issuer, NewUser, Subject, User, UserId,
};
use codex_cloud_core::ports::{IdentityLinkStore, SigningKeyStore, UserStore};
use codex_cloud_tests::app::T0;

const ISSUER: &str = "https://your-tenant.example.com/oidc";
const SUBJECT: &str = "00u123example";

/// The store behind `pool`, to arrange users and read links back.
fn store(pool: &db::DatabaseConnection) -> SeaOrmStore {
    SeaOrmStore::new(pool.clone())
}

async fn create_user(store: &SeaOrmStore, email: &str) -> User {
    let user = NewUser {
        id: UserId::new(),
        email: Email::parse(email).expect("e-mail"),
        password_hash: None,
        is_admin: false,
        created_at: T0,
    };
    let event = AuditEvent::new(AuditKind::UserCreated, AuditOutcome::Success, T0);
    store.create_user(user, &event).await.expect("create user")
}

async fn linked_user(store: &SeaOrmStore) -> Option<UserId> {
    let issuer = Issuer::new(ISSUER).expect("issuer");
    let subject = Subject::new(SUBJECT).expect("subject");
    let user = store.user_by_identity(&issuer, &subject).await;
    user.expect("user_by_identity").map(|u| u.id)
}

#[tokio::test]
async fn seeding_as_documented_links_the_identity_and_seeding_twice_is_harmless()
-> anyhow::Result<()> {
    let pool = db::connect("sqlite::memory:").await?;
    let store = store(&pool);
    let user = create_user(&store, "user@example.com").await;
    let id = user.id.to_string();

    for _ in 0..2 {
        db::seed_external_identities(
            &pool,
            &[ExternalIdentitySeed {
                issuer: "https://your-tenant.example.com/oidc",
                subject: "00u123example",
                user_id: Uuid::parse_str(&id).unwrap(),
                email: Some("user@example.com"),
            }],
        )
        .await?;
    }

    assert_eq!(linked_user(&store).await, Some(user.id));
    let identities = store.identities_of_user(user.id).await?;
    assert_eq!(identities.len(), 1, "seeding twice links once: {identities:?}");
    assert_eq!(identities[0].email, Some(Email::parse("user@example.com")?));
    assert!(store.signing_keys().await?.is_empty(), "seeding writes links and nothing else");
    Ok(())
}

#[tokio::test]
async fn seeding_a_linked_identity_again_moves_it_to_the_seeded_user() -> anyhow::Result<()> {
    let pool = db::connect("sqlite::memory:").await?;
    let store = store(&pool);
    let first = create_user(&store, "first@example.com").await;
    let second = create_user(&store, "second@example.com").await;
    let seed = |user: &User| ExternalIdentitySeed {
        issuer: ISSUER,
        subject: SUBJECT,
        user_id: user.id.as_uuid(),
        email: None,
    };

    db::seed_external_identities(&pool, &[seed(&first)]).await?;
    db::seed_external_identities(&pool, &[seed(&second)]).await?;

    assert_eq!(linked_user(&store).await, Some(second.id));
    assert!(store.identities_of_user(first.id).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_seed_naming_an_unknown_user_or_an_invalid_issuer_fails_with_its_index() {
    let pool = db::connect("sqlite::memory:").await.expect("connect");
    let store = store(&pool);
    let user = create_user(&store, "user@example.com").await;
    let good = ExternalIdentitySeed {
        issuer: ISSUER,
        subject: SUBJECT,
        user_id: user.id.as_uuid(),
        email: None,
    };
    let bad = [
        ExternalIdentitySeed { user_id: Uuid::new_v4(), subject: "someone-else", ..good },
        ExternalIdentitySeed { issuer: "not-a-url", ..good },
        ExternalIdentitySeed { subject: "", ..good },
        ExternalIdentitySeed { email: Some("not an address"), ..good },
    ];

    for seed in bad {
        let error =
            db::seed_external_identities(&pool, &[good, seed]).await.expect_err("a bad seed fails");
        assert_eq!(error.index, 1, "{error}");
    }
    assert_eq!(linked_user(&store).await, Some(user.id));
}
