use super::*;
use crate::store::test_support::temp_store;

const PASSWORD: &str = "correct horse battery staple";
const NOW: i64 = 1_800_000_000_000;

fn accounts(store: &Store) -> Accounts {
    Accounts::new(store.clone(), LIGHT_PASSWORD_PARAMS).unwrap()
}

#[test]
fn password_rules() {
    assert!(check_password("twelve chars", "a@b.example").is_ok());
    assert!(check_password("eleven char", "a@b.example").is_err());
    // Characters, not bytes: twelve CJK characters are enough.
    assert!(check_password("一二三四五六七八九十一二", "a@b.example").is_ok());
    assert!(check_password(&"x".repeat(MAX_PASSWORD_CHARS), "a@b.example").is_ok());
    assert!(check_password(&"x".repeat(MAX_PASSWORD_CHARS + 1), "a@b.example").is_err());
    assert!(check_password(" Long@Address.example", "long@address.example").is_err());
}

#[test]
fn email_and_name_checks() {
    assert!(check_email("a@b.example").is_ok());
    for bad in ["", "a", "@b", "a@", "a b@c.example", "a@b@c"] {
        assert!(check_email(bad).is_err(), "{bad}");
    }
    assert_eq!(normalise_email("  A@B.Example "), "a@b.example");
    assert!(check_display_name("  ").is_err());
    assert!(check_display_name("Nia\u{7}").is_err());
    assert_eq!(check_display_name(" Nia ").unwrap(), "Nia");
}

#[test]
fn tokens_hash_differently_for_each_use_and_hide_in_debug() {
    let token = SecretToken::generate();
    assert_ne!(token.session_hash(), token.invite_hash());
    assert_ne!(
        URL_SAFE_NO_PAD.encode(token.session_hash()),
        token.csrf_token()
    );
    assert_ne!(token.csrf_token(), token.encode());
    assert_eq!(SecretToken::parse(&token.encode()), Some(token.clone()));
    assert_ne!(SecretToken::generate(), token);
    assert!(!format!("{token:?}").contains(&token.encode()));
    assert!(SecretToken::parse("short").is_none());
}

#[test]
fn secrets_compare_whole() {
    assert!(same_secret("abc", "abc"));
    assert!(!same_secret("abc", "abd"));
    assert!(!same_secret("abc", "ab"));
    assert!(!same_secret("", "a"));
}

#[test]
fn delays_grow_and_stop_at_the_cap() {
    let throttle = AccountPolicy::default().per_email;
    assert_eq!(throttle.delay_after(4), 0);
    assert_eq!(throttle.delay_after(5), 30_000);
    assert_eq!(throttle.delay_after(6), 60_000);
    assert_eq!(throttle.delay_after(7), 120_000);
    assert_eq!(throttle.delay_after(1000), HOUR_MS);
}

#[test]
fn the_default_cost_is_owasps() {
    let params = crate::Settings::default().password_params();
    assert_eq!(params, PasswordParams::default());
    assert_eq!((params.memory_kib, params.iterations), (19_456, 2));
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_phc_strings() {
    let temp = temp_store();
    let accounts = accounts(&temp.store);
    let user = accounts
        .create_owner(
            "Acme",
            "Owner@Acme.example",
            "Olive",
            PASSWORD.to_owned(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(user.email, "owner@acme.example");
    let stored = temp
        .store
        .credentials_by_email("owner@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
        "{}",
        stored.password_hash
    );
    assert!(!stored.password_hash.contains(PASSWORD));
    assert!(!format!("{stored:?}").contains(&stored.password_hash));
    // Same password, another salt.
    let other = accounts.hash(PASSWORD.to_owned()).await.unwrap();
    assert_ne!(other, stored.password_hash);
    assert!(
        accounts
            .verify(PASSWORD.to_owned(), Some(other))
            .await
            .unwrap()
    );
    assert!(!accounts.verify(PASSWORD.to_owned(), None).await.unwrap());
}

#[tokio::test]
async fn a_weak_password_creates_nothing() {
    let temp = temp_store();
    let accounts = accounts(&temp.store);
    let error = accounts
        .create_owner(
            "Acme",
            "owner@acme.example",
            "Olive",
            "short".to_owned(),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, AccountError::Invalid(_)));
    assert!(
        temp.store
            .merchant_id_by_name("Acme")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_copy_of_the_database_holds_no_session_or_invite_token() {
    let temp = temp_store();
    let accounts = accounts(&temp.store);
    let owner = accounts
        .create_owner(
            "Acme",
            "owner@acme.example",
            "Olive",
            PASSWORD.to_owned(),
            NOW,
        )
        .await
        .unwrap();
    let attempt = LoginAttempt {
        email: owner.email.clone(),
        password: PASSWORD.to_owned(),
        address: None,
        previous: None,
    };
    let (session, _) = accounts.login(attempt, NOW).await.unwrap();
    let (invite, _) = accounts
        .invite(&owner, "agent@acme.example", Role::Agent, NOW)
        .await
        .unwrap();
    temp.store.shutdown().await;
    let mut bytes = Vec::new();
    for name in ["heard.sqlite3", "heard.sqlite3-wal"] {
        if let Ok(file) = std::fs::read(temp.directory.path().join(name)) {
            bytes.extend(file);
        }
    }
    for secret in [&session, &invite] {
        let raw = URL_SAFE_NO_PAD.decode(secret.encode()).unwrap();
        assert!(!contains(&bytes, &raw));
        assert!(!contains(&bytes, secret.encode().as_bytes()));
    }
    assert!(!contains(&bytes, session.csrf_token().as_bytes()));
    assert!(
        contains(&bytes, &session.session_hash()),
        "the hash is what is kept"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
