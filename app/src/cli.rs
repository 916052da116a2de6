//! The command line: `serve` (the default), `create-admin`, `set-password`, `migrate`,
//! `openapi`, `link-identity`, `unlink-identity`, `invite`, `rotate-signing-key`,
//! `list-signing-keys`.

use std::io::{BufRead as _, Read as _};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use codex_cloud_core::domain::{SigningKeyState, SigningKeyStatus, UserId};
use codex_cloud_core::service::{Admin, CreateUser, LinkIdentity};

use codex_cloud_adapters::OutboundHttp;
use codex_cloud_adapters::oidc::check::check_provider;
pub use codex_cloud_adapters::oidc::check::{Finding, Outcome};

use crate::bootstrap::{Backend, Overrides, Services};
use crate::config::Settings;

#[derive(Debug, Parser)]
#[command(name = "codex-cloud-backend", version, about = "The Codex Cloud authentication backend")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Create an administrator and print its id.
    CreateAdmin {
        /// The administrator's e-mail address.
        email: String,
        /// The password (prefer --password-stdin: arguments are visible to other local users).
        #[arg(required_unless_present = "password_stdin", conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (it must meet the policy); ends all of the user's sessions.
    SetPassword {
        /// The user's e-mail address.
        email: String,
        /// The password (prefer --password-stdin: arguments are visible to other local users).
        #[arg(required_unless_present = "password_stdin", conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Link an external identity (issuer, subject) to a local user.
    LinkIdentity(LinkArgs),
    /// Remove the link of an external identity.
    UnlinkIdentity {
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        subject: String,
    },
    /// Invite a user to link their provider account: prints the invitation's single-use URL
    /// (valid for CODEX_INVITATION_TTL seconds).
    Invite(UserArgs),
    /// Make a new token signing key: published at once, signing after
    /// CODEX_SIGNING_KEY_PUBLISH_DELAY seconds; prints its key id.
    RotateSigningKey,
    /// List the token signing keys: key id, state (next, active, retired) and dates.
    ListSigningKeys,
    /// Check the OpenID Connect settings against the provider: one line per check (ok, warn or
    /// FAIL, what was seen, how to fix it); exits 1 when a check failed.
    OidcCheck {
        /// Print the results as one JSON document instead.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("user").required(true).args(["user_id", "user_email"])))]
pub struct LinkArgs {
    /// The provider's issuer, exactly as in CODEX_OIDC_ISSUER.
    #[arg(long)]
    pub issuer: String,
    /// The provider's `sub` for the user.
    #[arg(long)]
    pub subject: String,
    #[arg(long)]
    pub user_id: Option<Uuid>,
    #[arg(long)]
    pub user_email: Option<String>,
    /// The e-mail address the provider knows the user by (informational).
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("user").required(true).args(["user_id", "user_email"])))]
pub struct UserArgs {
    #[arg(long)]
    pub user_id: Option<Uuid>,
    #[arg(long)]
    pub user_email: Option<String>,
}

/// Runs a command other than `serve`.
///
/// # Errors
/// Any failure, with a message for the operator.
pub async fn run(command: Command, settings: &Settings) -> anyhow::Result<()> {
    let operator = Admin::operator();
    match command {
        Command::Serve => bail!("serve is run by main"),
        Command::Migrate => {
            crate::db::connect(&settings.database_url).await.context("migration failed")?;
            eprintln!("migrations applied");
        }
        Command::Openapi => {
            println!("{}", crate::http::document(settings.password_min_length));
        }
        Command::CreateAdmin { email, password, password_stdin } => {
            let password = match (password, password_stdin) {
                (Some(p), false) => p,
                (None, true) => read_password_line()?,
                _ => bail!("give the password as an argument or with --password-stdin"),
            };
            let services = services(settings).await?;
            let request = CreateUser { email: &email, password: Some(&password), is_admin: true };
            let user = services.accounts.create_user(&operator, request).await?;
            eprintln!("created administrator {}", user.email);
            println!("{}", user.id);
        }
        Command::SetPassword { email, password, password_stdin } => {
            let password = match (password, password_stdin) {
                (Some(p), false) => p,
                (None, true) => read_password_line()?,
                _ => bail!("give the password as an argument or with --password-stdin"),
            };
            let accounts = services(settings).await?.accounts;
            let user = accounts.user_by_email(&operator, &email).await?;
            accounts.set_password(&operator, user.id, &password).await?;
            eprintln!("password set for {}; their sessions are ended", user.email);
        }
        Command::LinkIdentity(args) => {
            let links = services(settings).await?.links;
            let user_id = match (args.user_id, &args.user_email) {
                (Some(id), _) => UserId::from_uuid(id),
                (None, Some(email)) => links.user_id_by_email(&operator, email).await?,
                (None, None) => bail!("give --user-id or --user-email"),
            };
            let request = LinkIdentity {
                issuer: &args.issuer,
                subject: &args.subject,
                user_id,
                email: args.email.as_deref(),
            };
            let identity = links.link_identity(&operator, request).await?;
            eprintln!("linked ({}, {}) to user {}", identity.issuer, identity.subject, user_id);
            println!("{}", identity.id);
        }
        Command::Invite(args) => {
            let services = services(settings).await?;
            let Some(invitations) = services.invitations else {
                bail!(
                    "OpenID Connect is not configured: set CODEX_OIDC_ISSUER, \
                     CODEX_OIDC_CLIENT_ID and CODEX_OIDC_CLIENT_SECRET"
                );
            };
            let user_id = match (args.user_id, &args.user_email) {
                (Some(id), _) => UserId::from_uuid(id),
                (None, Some(email)) => services.links.user_id_by_email(&operator, email).await?,
                (None, None) => bail!("give --user-id or --user-email"),
            };
            let issued = invitations.invite(&operator, user_id).await?;
            eprintln!(
                "invitation {} for user {user_id}, valid until {}",
                issued.invitation.id,
                rfc3339(issued.invitation.expires_at)
            );
            println!("{}", issued.url);
        }
        Command::RotateSigningKey => {
            let backend = Backend::build(settings, Overrides::default()).await?;
            let key = backend.rotate_signing_key().await?;
            match key.state {
                SigningKeyState::Active => eprintln!(
                    "signing key {} is active now; each replica signs with it within \
                     CODEX_SIGNING_KEY_RELOAD_INTERVAL",
                    key.kid
                ),
                _ => eprintln!(
                    "signing key {} is published by each replica within \
                     CODEX_SIGNING_KEY_RELOAD_INTERVAL, and signs from {}",
                    key.kid,
                    rfc3339(key.activates_at)
                ),
            }
            println!("{}", key.kid);
        }
        Command::OidcCheck { json } => oidc_check(settings, json).await?,
        Command::ListSigningKeys => {
            let backend = Backend::build(settings, Overrides::default()).await?;
            print!("{}", key_table(&backend.signing_keys()));
        }
        Command::UnlinkIdentity { issuer, subject } => {
            let links = services(settings).await?.links;
            links.unlink_identity(&operator, &issuer, &subject).await?;
            eprintln!("unlinked ({issuer}, {subject})");
        }
    }
    Ok(())
}

/// Runs `oidc-check` and prints its findings.
async fn oidc_check(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let findings = match &settings.oidc {
        Some(oidc) => {
            let http = OutboundHttp::with_extra_roots(oidc.ca_pem.as_deref())
                .context("cannot build the HTTP client (CODEX_OIDC_CA_FILE)")?;
            let client = crate::bootstrap::oidc_client_settings(oidc);
            let clock = codex_cloud_adapters::SystemClock;
            check_provider(&client, &http, oidc.allow_insecure_http, &clock).await
        }
        None => vec![missing_variables()],
    };
    print_findings(&findings, json);
    let failed = findings.iter().filter(|f| f.outcome == Outcome::Fail).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", findings.len());
    }
    Ok(())
}

/// The finding when OpenID Connect is off (no variable set; some set stops at the settings).
pub fn missing_variables() -> Finding {
    Finding {
        check: "variables",
        outcome: Outcome::Fail,
        seen: "CODEX_OIDC_ISSUER, CODEX_OIDC_CLIENT_ID and CODEX_OIDC_CLIENT_SECRET are not set"
            .to_owned(),
        fix: "set all three (see README: OpenID Connect)".to_owned(),
    }
}

/// One line per finding (`ok`, `warn`, `FAIL`, the check, what was seen, `fix: …`), or one
/// JSON document `{"ok": bool, "checks": [...]}`.
pub fn print_findings(findings: &[Finding], json: bool) {
    if json {
        let ok = findings.iter().all(|f| f.outcome != Outcome::Fail);
        let document = serde_json::json!({ "ok": ok, "checks": findings });
        println!("{document}");
        return;
    }
    for finding in findings {
        let fix = if finding.fix.is_empty() {
            String::new()
        } else {
            format!(" — fix: {}", finding.fix)
        };
        println!("{:<4}  {:<18}  {}{fix}", finding.outcome.label(), finding.check, finding.seen);
    }
}

/// The keys as a table with a header line, one key per line, columns separated by spaces: kid,
/// state, created, activates (starts signing), retired (a newer key took over) and drops (stops
/// verifying and is deleted); `-` where a date does not apply.
fn key_table(keys: &[SigningKeyStatus]) -> String {
    let date = |at: Option<time::OffsetDateTime>| at.map_or_else(|| "-".to_owned(), rfc3339);
    let mut rows =
        vec![["kid", "state", "created", "activates", "retired", "drops"].map(String::from)];
    for key in keys {
        rows.push([
            key.kid.clone(),
            key.state.as_str().to_owned(),
            rfc3339(key.created_at),
            rfc3339(key.activates_at),
            date(key.retired_at),
            date(key.dropped_at),
        ]);
    }
    let widths: Vec<usize> =
        (0..6).map(|i| rows.iter().map(|row| row[i].len()).max().unwrap_or(0)).collect();
    let mut table = String::new();
    for row in rows {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
    utc.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

async fn services(settings: &Settings) -> anyhow::Result<Services> {
    Ok(Backend::build(settings, Overrides::default()).await?.services)
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(4096)
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
