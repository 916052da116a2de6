//! Configuration tests (in a `figment::Jail`): defaults, the TOML file, environment overrides,
//! and errors that name the variable to fix.

use std::net::SocketAddr;
use std::time::Duration;

use figment::Jail;

use codex_cloud_backend::config::{ConfigError, LogFormat, Settings};

/// Runs `f` in a jail (a scratch working directory, environment restored afterwards).
#[allow(clippy::result_large_err)] // figment's `Jail` API returns `figment::Error`.
fn jail(f: impl FnOnce(&mut Jail)) {
    Jail::expect_with(|jail| {
        let stray: Vec<String> = std::env::vars()
            .map(|(key, _)| key)
            .filter(|key| key.starts_with("CODEX_"))
            .filter(|key| key != "CODEX_TEST_DATABASE_URL" && key != "CODEX_CONFIG")
            .collect();
        assert!(stray.is_empty(), "unset {stray:?} to run the configuration tests");
        f(jail);
        Ok(())
    });
}

fn load() -> Result<Settings, ConfigError> {
    Settings::from_figment(Settings::figment(None))
}

fn error() -> String {
    match load() {
        Ok(settings) => panic!("expected a configuration error, got {settings:?}"),
        Err(e) => e.to_string(),
    }
}

fn oidc_on(jail: &mut Jail) {
    jail.set_env("CODEX_OIDC_ISSUER", "https://op.example.com");
    jail.set_env("CODEX_OIDC_CLIENT_ID", "codex-local");
    jail.set_env("CODEX_OIDC_CLIENT_SECRET", "super-secret");
}

#[test]
fn without_configuration_the_defaults_apply() {
    jail(|_| {
        let settings = load().expect("defaults are valid");

        assert_eq!(settings.database_url, "sqlite://codex.db?mode=rwc");
        assert_eq!(settings.bind, "127.0.0.1:8000".parse::<SocketAddr>().unwrap());
        assert_eq!(settings.access_token_ttl, time::Duration::seconds(900));
        assert_eq!(settings.token_issuer, "codex-cloud-backend");
        assert_eq!(settings.token_audience, "codex-cloud");
        assert_eq!(settings.log_format, LogFormat::Text);
        assert!(settings.max_concurrent_hashes >= 1);
        assert_eq!(settings.hash_queue_timeout, Duration::from_secs(5));
        assert_eq!(settings.max_connections, 10_000);
        assert!(settings.oidc.is_none(), "OpenID Connect is off by default");
    });
}

#[test]
fn with_the_three_required_oidc_variables_the_optional_ones_take_their_defaults() {
    jail(|jail| {
        oidc_on(jail);

        let oidc = load().expect("valid").oidc.expect("OpenID Connect is on");

        assert_eq!(oidc.issuer.as_str(), "https://op.example.com");
        assert_eq!(oidc.client_id, "codex-local");
        assert_eq!(oidc.client_secret.expose(), "super-secret");
        assert_eq!(oidc.redirect_uri.as_str(), "http://localhost:8000/auth/oidc/callback");
        assert_eq!(oidc.jwks_cache_ttl, Duration::from_secs(3600));
        assert_eq!(oidc.jwks_cache_refresh, Duration::from_secs(300));
        assert_eq!(oidc.invitation_ttl, time::Duration::seconds(604_800));
        assert_eq!(oidc.post_logout_redirect_uri, None);
    });
}

#[test]
fn the_invitation_lifetime_and_the_post_logout_uri_are_read() {
    jail(|jail| {
        oidc_on(jail);
        jail.set_env("CODEX_INVITATION_TTL", "3600");
        jail.set_env("CODEX_OIDC_POST_LOGOUT_REDIRECT_URI", "https://codex.example.com/bye");

        let oidc = load().expect("valid").oidc.expect("OpenID Connect is on");

        assert_eq!(oidc.invitation_ttl, time::Duration::hours(1));
        assert_eq!(oidc.post_logout_redirect_uri.as_deref(), Some("https://codex.example.com/bye"));
    });
}

#[test]
fn the_client_secret_is_not_printed_with_the_settings() {
    jail(|jail| {
        oidc_on(jail);

        let settings = load().expect("valid");

        assert!(!format!("{settings:?}").contains("super-secret"));
    });
}

#[test]
fn codex_toml_in_the_working_directory_is_read() {
    jail(|jail| {
        jail.create_file(
            "codex.toml",
            r#"
                database_url = "postgres://codex@db/codex"
                bind = "0.0.0.0:9000"
                access_token_ttl = 120
                log_format = "json"
                oidc_issuer = "https://op.example.com"
                oidc_client_id = "from-file"
                oidc_client_secret = "file-secret"
                oidc_jwks_cache_ttl = 600
                oidc_jwks_cache_refresh = 60
            "#,
        )
        .expect("write the file");

        let settings = load().expect("valid");

        assert_eq!(settings.database_url, "postgres://codex@db/codex");
        assert_eq!(settings.bind, "0.0.0.0:9000".parse::<SocketAddr>().unwrap());
        assert_eq!(settings.access_token_ttl, time::Duration::seconds(120));
        assert_eq!(settings.log_format, LogFormat::Json);
        let oidc = settings.oidc.expect("on");
        assert_eq!(oidc.client_id, "from-file");
        assert_eq!(oidc.jwks_cache_ttl, Duration::from_secs(600));
        assert_eq!(oidc.jwks_cache_refresh, Duration::from_secs(60));
    });
}

#[test]
fn codex_toml_is_read_only_from_the_working_directory_not_from_its_parents() {
    jail(|jail| {
        jail.create_file("codex.toml", "bind = \"127.0.0.1:1111\"").expect("write the file");
        jail.create_dir("sub").expect("create sub");
        jail.change_dir("sub").expect("enter sub");

        let settings = load().expect("valid");

        assert_eq!(settings.bind.port(), 8000, "a parent's codex.toml was read");
    });
}

#[test]
fn a_file_named_explicitly_is_read_instead_of_codex_toml() {
    jail(|jail| {
        jail.create_file("codex.toml", "bind = \"127.0.0.1:1111\"").expect("write the file");
        jail.create_file("other.toml", "bind = \"127.0.0.1:2222\"").expect("write the file");
        let path = jail.directory().join("other.toml");

        let settings = Settings::from_figment(Settings::figment(Some(path))).expect("valid");

        assert_eq!(settings.bind.port(), 2222);
    });
}

#[test]
fn a_file_named_explicitly_that_does_not_exist_is_an_error() {
    jail(|jail| {
        let missing = jail.directory().join("missing.toml");

        let result = Settings::from_figment(Settings::figment(Some(missing)));

        assert!(result.is_err(), "{result:?}");
    });
}

#[test]
fn the_environment_overrides_the_file() {
    jail(|jail| {
        jail.create_file("codex.toml", "bind = \"127.0.0.1:1111\"\naccess_token_ttl = 120\n")
            .expect("write the file");
        jail.set_env("CODEX_BIND", "127.0.0.1:3333");
        jail.set_env("CODEX_DATABASE_URL", "sqlite::memory:");

        let settings = load().expect("valid");

        assert_eq!(settings.bind.port(), 3333);
        assert_eq!(settings.database_url, "sqlite::memory:");
        assert_eq!(settings.access_token_ttl, time::Duration::seconds(120));
    });
}

#[test]
fn partial_oidc_configuration_fails_naming_each_missing_variable() {
    let all = ["CODEX_OIDC_ISSUER", "CODEX_OIDC_CLIENT_ID", "CODEX_OIDC_CLIENT_SECRET"];
    let values = ["https://op.example.com", "codex-local", "super-secret"];
    // Every non-empty proper subset of the three.
    for present in 1..7u8 {
        jail(|jail| {
            for (index, (name, value)) in all.iter().zip(values).enumerate() {
                if present & (1 << index) != 0 {
                    jail.set_env(name, value);
                }
            }

            let message = error();

            // The advice comes first: "set X and Y (or unset all of ...)".
            let advice = message.split('(').next().unwrap_or_default();
            for (index, name) in all.iter().enumerate() {
                let missing = present & (1 << index) == 0;
                assert_eq!(advice.contains(name), missing, "{name} in {message:?}");
            }
        });
    }
}

#[test]
fn empty_oidc_variables_count_as_unset() {
    jail(|jail| {
        jail.set_env("CODEX_OIDC_ISSUER", "");
        jail.set_env("CODEX_OIDC_CLIENT_ID", " ");

        assert!(load().expect("valid").oidc.is_none());
    });
}

#[test]
fn cors_origins_are_read_as_browsers_send_them() {
    jail(|jail| {
        jail.set_env(
            "CODEX_CORS_ALLOWED_ORIGINS",
            " https://App.Example.com/ , http://localhost:5173",
        );
        jail.set_env("CODEX_CORS_ALLOW_CREDENTIALS", "true");
        let settings = load().expect("valid");
        assert_eq!(
            settings.cors_allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert!(settings.cors_allow_credentials);
    });
    jail(|_| {
        let settings = load().expect("valid");
        assert!(settings.cors_allowed_origins.is_empty(), "none by default");
        assert!(!settings.cors_allow_credentials);
    });
}

#[test]
fn bad_values_fail_naming_their_variable() {
    let cases: &[(&str, &str, bool)] = &[
        ("CODEX_ACCESS_TOKEN_TTL", "abc", false),
        ("CODEX_ACCESS_TOKEN_TTL", "-5", false),
        ("CODEX_ACCESS_TOKEN_TTL", "0", false),
        ("CODEX_ACCESS_TOKEN_TTL", "1000000", false),
        ("CODEX_BIND", "not an address", false),
        ("CODEX_DATABASE_URL", "mysql://db/codex", false),
        ("CODEX_LOG_FORMAT", "xml", false),
        ("CODEX_MAX_CONCURRENT_HASHES", "0", false),
        ("CODEX_MAX_CONCURRENT_HASHES", "257", false),
        ("CODEX_HASH_QUEUE_TIMEOUT", "0", false),
        ("CODEX_HASH_QUEUE_TIMEOUT", "301", false),
        ("CODEX_HASH_QUEUE_TIMEOUT", "soon", false),
        ("CODEX_MAX_CONNECTIONS", "0", false),
        ("CODEX_MAX_CONNECTIONS", "many", false),
        ("CODEX_KEY_ENCRYPTION_KEY", "c2hvcnQ=", false),
        ("CODEX_KEY_ENCRYPTION_KEY_FILE", "/nonexistent/kek", false),
        ("CODEX_TOKEN_ISSUER", " ", false),
        ("CODEX_OIDC_ISSUER", "ftp://op.example.com", true),
        ("CODEX_OIDC_REDIRECT_URI", "not a url", true),
        ("CODEX_OIDC_REDIRECT_URI", "ftp://localhost/cb", true),
        ("CODEX_OIDC_JWKS_CACHE_TTL", "0", true),
        ("CODEX_OIDC_JWKS_CACHE_TTL", "soon", true),
        ("CODEX_OIDC_JWKS_CACHE_REFRESH", "0", true),
        ("CODEX_OIDC_JWKS_CACHE_REFRESH", "-1", true),
        ("CODEX_OIDC_ALLOW_INSECURE_HTTP", "maybe", true),
        ("CODEX_OIDC_CA_FILE", "/nonexistent/ca.pem", true),
        ("CODEX_OIDC_POST_LOGOUT_REDIRECT_URI", "/relative", true),
        ("CODEX_OIDC_POST_LOGOUT_REDIRECT_URI", "https://codex.example.com/bye#x", true),
        ("CODEX_INVITATION_TTL", "59", true),
        ("CODEX_INVITATION_TTL", "31536001", true),
        ("CODEX_INVITATION_TTL", "a week", true),
        ("CODEX_CORS_ALLOWED_ORIGINS", "https://app.example.com/path", false),
        ("CODEX_CORS_ALLOWED_ORIGINS", "app.example.com", false),
        ("CODEX_CORS_ALLOWED_ORIGINS", "*", false),
        ("CODEX_CORS_ALLOWED_ORIGINS", "ftp://app.example.com", false),
        ("CODEX_CORS_ALLOW_CREDENTIALS", "perhaps", false),
        ("CODEX_METRICS_BIND", "9100", false),
        ("CODEX_SIGNING_KEY_PUBLISH_DELAY", "-1", false),
        ("CODEX_SIGNING_KEY_RELOAD_INTERVAL", "0", false),
    ];
    for &(name, value, with_oidc) in cases {
        jail(|jail| {
            if with_oidc {
                oidc_on(jail);
            }
            jail.set_env(name, value);

            let message = error();

            assert!(message.contains(name), "{name}={value:?} gave {message:?}");
        });
    }
}

#[test]
fn a_bad_value_in_the_file_names_its_variable() {
    jail(|jail| {
        jail.create_file("codex.toml", "access_token_ttl = \"soon\"").expect("write the file");

        let message = error();

        assert!(message.contains("CODEX_ACCESS_TOKEN_TTL"), "{message:?}");
    });
}

#[test]
fn numeric_and_quoted_client_credentials_are_taken_verbatim() {
    let cases = [
        ("4711", "12345678"),
        ("codex-local", "\"wrapped in double quotes\""),
        ("007", "1e3"),
        ("true", "[1, 2]"),
        ("codex-local", "{ a = 1 }"),
    ];
    for (client_id, secret) in cases {
        jail(|jail| {
            jail.set_env("CODEX_OIDC_ISSUER", "https://op.example.com");
            jail.set_env("CODEX_OIDC_CLIENT_ID", client_id);
            jail.set_env("CODEX_OIDC_CLIENT_SECRET", secret);

            let oidc = load().expect("valid").oidc.expect("OpenID Connect is on");

            assert_eq!(oidc.client_id, client_id);
            assert_eq!(oidc.client_secret.expose(), secret);
        });
    }
}

#[test]
fn a_bad_numeric_value_is_named_but_never_repeated_in_the_error() {
    let names = [
        "CODEX_ACCESS_TOKEN_TTL",
        "CODEX_MAX_CONCURRENT_HASHES",
        "CODEX_OIDC_JWKS_CACHE_TTL",
        "CODEX_OIDC_JWKS_CACHE_REFRESH",
    ];
    let values = ["ttl-s3cret-value", "98765.4321", "-987654", "\"quoted-s3cret\"", "[4711]"];
    for name in names {
        for value in values {
            jail(|jail| {
                if name.starts_with("CODEX_OIDC_") {
                    oidc_on(jail);
                }
                jail.set_env(name, value);

                let message = error();

                assert!(message.contains(name), "{name}={value:?} gave {message:?}");
                let core = value.trim_matches(|c| matches!(c, '"' | '[' | ']'));
                assert!(!message.contains(core), "{name}={value:?} is repeated in {message:?}");
            });
        }
    }
    jail(|jail| {
        jail.set_env("CODEX_ACCESS_TOKEN_TTL", "1000001");

        let message = error();

        assert!(message.contains("CODEX_ACCESS_TOKEN_TTL"), "{message:?}");
        assert!(!message.contains("1000001"), "{message:?}");
    });
}

#[test]
fn an_unparsable_database_url_is_an_error_naming_the_variable_without_its_password() {
    for url in ["postgres://u:p@[x", "postgresql://u:p@db.example:99999/codex", "sqlite://[x"] {
        jail(|jail| {
            jail.set_env("CODEX_DATABASE_URL", url);

            let message = error();

            assert!(message.contains("CODEX_DATABASE_URL"), "{url:?} gave {message:?}");
            assert!(!message.contains("u:p@"), "{url:?} is repeated in {message:?}");
        });
    }
}

#[test]
fn numeric_looking_token_issuer_and_audience_are_taken_as_text() {
    jail(|jail| {
        jail.set_env("CODEX_TOKEN_ISSUER", "4711");
        jail.set_env("CODEX_TOKEN_AUDIENCE", "\"1e3\"");

        let settings = load().expect("valid");

        assert_eq!(settings.token_issuer, "4711");
        assert_eq!(settings.token_audience, "\"1e3\"");
    });
}

#[test]
fn an_error_in_the_oidc_settings_never_repeats_the_client_secret() {
    let secret = "s3cr3t-12345678";
    let cases: [&[(&str, &str)]; 3] = [
        &[("CODEX_OIDC_CLIENT_SECRET", secret)],
        &[("CODEX_OIDC_CLIENT_SECRET", secret), ("CODEX_OIDC_ISSUER", "ftp://op.example.com")],
        &[("CODEX_OIDC_CLIENT_SECRET", secret), ("CODEX_OIDC_JWKS_CACHE_TTL", "soon")],
    ];
    for variables in cases {
        jail(|jail| {
            oidc_on(jail);
            for (name, value) in variables {
                jail.set_env(name, value);
            }
            if variables.len() == 1 {
                jail.set_env("CODEX_OIDC_ISSUER", "");
            }

            let message = error();

            assert!(!message.contains(secret), "{variables:?} gave {message:?}");
        });
    }
}

#[test]
fn the_provider_ca_file_must_hold_a_certificate_and_is_read_at_start_up() {
    jail(|jail| {
        oidc_on(jail);
        jail.create_file("empty.pem", "no certificate here").expect("write the file");
        jail.set_env("CODEX_OIDC_CA_FILE", "empty.pem");

        let message = error();

        assert!(message.contains("CODEX_OIDC_CA_FILE"), "{message:?}");
    });
    jail(|jail| {
        oidc_on(jail);
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        jail.create_file("ca.pem", pem).expect("write the file");
        jail.set_env("CODEX_OIDC_CA_FILE", "ca.pem");
        jail.set_env("CODEX_OIDC_ALLOW_INSECURE_HTTP", "true");

        let oidc = load().expect("valid").oidc.expect("OpenID Connect is on");

        assert_eq!(oidc.ca_pem.as_deref(), Some(pem.as_bytes()));
        assert!(oidc.allow_insecure_http);
    });
    jail(|jail| {
        oidc_on(jail);

        let oidc = load().expect("valid").oidc.expect("OpenID Connect is on");

        assert!(oidc.ca_pem.is_none());
        assert!(!oidc.allow_insecure_http, "plain http off the machine is off by default");
    });
}

#[test]
fn an_empty_variable_leaves_the_files_key_encryption_key_in_place() {
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    jail(|jail| {
        jail.create_file("codex.toml", &format!("key_encryption_key = \"{key}\""))
            .expect("write the file");
        jail.set_env("CODEX_KEY_ENCRYPTION_KEY", "");

        let settings = load().expect("valid");

        assert_eq!(settings.key_encryption_key.expect("the file's key").expose(), key);
    });
    jail(|jail| {
        jail.set_env("CODEX_KEY_ENCRYPTION_KEY", key);
        jail.set_env("CODEX_KEY_ENCRYPTION_KEY_FILE", "kek");

        let message = error();

        assert!(message.contains("both set"), "{message}");
        assert!(!message.contains(key), "{message}");
    });
}
