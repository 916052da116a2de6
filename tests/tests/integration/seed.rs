//! `db::seed_external_identities`, called exactly as the product documentation shows it.

use std::sync::Arc;

use uuid::Uuid;

use codex_cloud_adapters::memory::ManualClock;
use codex_cloud_adapters::{Argon2PasswordHasher, SeaOrmIdentityStore};
use codex_cloud_backend::db::{self, ExternalIdentitySeed};
use codex_cloud_core::domain::{Email, Issuer, Subject, User, UserId};
use codex_cloud_core::ports::IdentityStore;
use codex_cloud_core::service::{Auth, CreateUser};
use codex_cloud_tests::app::{PASSWORD, T0};
use codex_cloud_tests::keys::{TOKEN_AUDIENCE, TOKEN_ISSUER, signing_key, token_issuer};

const ISSUER: &str = "https://your-tenant.example.com/oidc";
const SUBJECT: &str = "00u123example";

/// The use cases over the store behind `pool`.
fn auth(pool: &db::DatabaseConnection) -> Auth {
    Auth::new(
        Arc::new(SeaOrmIdentityStore::new(pool.clone())),
        Arc::new(Argon2PasswordHasher::new(1).expect("hasher")),
        Arc::new(token_issuer(TOKEN_ISSUER, TOKEN_AUDIENCE, signing_key())),
        Arc::new(ManualClock::new(T0)),
        time::Duration::minutes(15),
    )
}

async fn create_user(auth: &Auth, email: &str) -> User {
    let request = CreateUser { email, password: Some(PASSWORD), is_admin: false };
    auth.create_user(request).await.expect("create user")
}

async fn linked_user(store: &dyn IdentityStore) -> Option<UserId> {
    let issuer = Issuer::new(ISSUER).expect("issuer");
    let subject = Subject::new(SUBJECT).expect("subject");
    let user = store.user_by_identity(&issuer, &subject).await;
    user.expect("user_by_identity").map(|u| u.id)
}

#[tokio::test]
async fn seeding_as_documented_links_the_identity_and_seeding_twice_is_harmless()
-> anyhow::Result<()> {
    let pool = db::connect("sqlite::memory:").await?;
    let auth = auth(&pool);
    let user = create_user(&auth, "user@example.com").await;
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

    let store = auth.store();
    assert_eq!(linked_user(&**store).await, Some(user.id));
    let identities = store.identities_of_user(user.id).await?;
    assert_eq!(identities.len(), 1, "seeding twice links once: {identities:?}");
    assert_eq!(identities[0].email, Some(Email::parse("user@example.com")?));
    Ok(())
}

#[tokio::test]
async fn seeding_a_linked_identity_again_moves_it_to_the_seeded_user() -> anyhow::Result<()> {
    let pool = db::connect("sqlite::memory:").await?;
    let auth = auth(&pool);
    let first = create_user(&auth, "first@example.com").await;
    let second = create_user(&auth, "second@example.com").await;
    let seed = |user: &User| ExternalIdentitySeed {
        issuer: ISSUER,
        subject: SUBJECT,
        user_id: user.id.as_uuid(),
        email: None,
    };

    db::seed_external_identities(&pool, &[seed(&first)]).await?;
    db::seed_external_identities(&pool, &[seed(&second)]).await?;

    assert_eq!(linked_user(&**auth.store()).await, Some(second.id));
    assert!(auth.store().identities_of_user(first.id).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_seed_naming_an_unknown_user_or_an_invalid_issuer_fails_with_its_index() {
    let pool = db::connect("sqlite::memory:").await.expect("connect");
    let auth = auth(&pool);
    let user = create_user(&auth, "user@example.com").await;
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
    assert_eq!(linked_user(&**auth.store()).await, Some(user.id));
}
