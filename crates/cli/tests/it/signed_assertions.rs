//! The signed JWTs of fetch-netsuite and fetch-google against the token
//! endpoints of their fakes, which verify them as the services do: the
//! signature with the certificate's public key (by another implementation
//! than the signer's), then the claims. Each claim a service checks is also
//! got wrong once, to show the fake would notice.

use scim_sources::google::ServiceAccount;
use scim_sources::jwt::{Algorithm, SigningKey};
use scim_sources::netsuite::{NetsuiteSettings, client_assertion, token_form};
use scim_test_support::{
    FakeGoogle, FakeNetsuite, GOOGLE_ADMIN, NETSUITE_CERTIFICATE_ID, NETSUITE_CLIENT_ID, TestKey,
};
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn post_form(url: &str, form: &[(&str, String)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn netsuite_settings(fake: &FakeNetsuite, key: TestKey, alg: &str) -> NetsuiteSettings {
    let env = scim_core::Env::from_pairs([
        ("NETSUITE_ACCOUNT_ID", "1234567_SB1"),
        ("NETSUITE_CLIENT_ID", NETSUITE_CLIENT_ID),
        ("NETSUITE_CERTIFICATE_ID", NETSUITE_CERTIFICATE_ID),
        ("NETSUITE_PRIVATE_KEY", key.private_pem()),
        ("NETSUITE_JWT_ALGORITHM", alg),
        ("NETSUITE_BASE_URL", &fake.url()),
    ]);
    NetsuiteSettings::from_env(&env).unwrap()
}

#[tokio::test]
async fn netsuite_takes_the_assertion_of_each_key_type() {
    for (key, alg) in [
        (TestKey::Rsa, "PS256"),
        (TestKey::P256, "ES256"),
        (TestKey::P521, "ES512"),
    ] {
        let fake = FakeNetsuite::start(key, alg);
        let s = netsuite_settings(&fake, key, alg);
        let assertion = client_assertion(&s, now()).unwrap();
        let (status, body) = post_form(&s.token_url(), &token_form(&assertion)).await;
        assert_eq!(status, 200, "{alg}: {body} {:?}", fake.refused_assertions());
        assert!(body["access_token"].is_string());
        // The same assertion again: its jti was used.
        let (status, _) = post_form(&s.token_url(), &token_form(&assertion)).await;
        assert_eq!(status, 400, "{alg}: a replayed assertion is refused");
    }
}

#[tokio::test]
async fn netsuite_refuses_an_assertion_with_a_wrong_claim_or_key() {
    let fake = FakeNetsuite::start(TestKey::Rsa, "PS256");
    let token_url = format!("{}/services/rest/auth/oauth2/v1/token", fake.url());
    let rsa = SigningKey::from_pem(TestKey::Rsa.private_pem(), Algorithm::Ps256).unwrap();
    let good = |n: i64| {
        json!({"iss": NETSUITE_CLIENT_ID, "scope": ["rest_webservices"], "aud": token_url,
               "iat": now(), "exp": now() + 300, "jti": format!("jti-{n}")})
    };
    let with = |n: i64, key: &str, value: Value| {
        let mut claims = good(n);
        claims[key] = value;
        claims
    };
    let cases: Vec<(&str, Option<&str>, Value, &SigningKey)> = vec![
        (
            "the claims as the branch sent them",
            Some(NETSUITE_CERTIFICATE_ID),
            good(1),
            &rsa,
        ),
        (
            "another client",
            Some(NETSUITE_CERTIFICATE_ID),
            with(2, "iss", json!("someone")),
            &rsa,
        ),
        (
            "another audience",
            Some(NETSUITE_CERTIFICATE_ID),
            with(3, "aud", json!("https://x/token")),
            &rsa,
        ),
        (
            "no scope",
            Some(NETSUITE_CERTIFICATE_ID),
            with(4, "scope", json!("restlets")),
            &rsa,
        ),
        (
            "valid for two hours",
            Some(NETSUITE_CERTIFICATE_ID),
            with(5, "exp", json!(now() + 7200)),
            &rsa,
        ),
        (
            "expired",
            Some(NETSUITE_CERTIFICATE_ID),
            with(6, "exp", json!(now() - 10)),
            &rsa,
        ),
        ("another certificate", Some("other-kid"), good(7), &rsa),
    ];
    let p256 = SigningKey::from_pem(TestKey::P256.private_pem(), Algorithm::Es256).unwrap();
    let mut results = Vec::new();
    for (what, kid, claims, key) in
        cases
            .into_iter()
            .chain([("another key", Some(NETSUITE_CERTIFICATE_ID), good(8), &p256)])
    {
        let assertion = key.sign(kid, &claims).unwrap();
        let (status, _) = post_form(&token_url, &token_form(&assertion)).await;
        results.push((what, status));
    }
    assert_eq!(results[0], ("the claims as the branch sent them", 200));
    for (what, status) in &results[1..] {
        assert_eq!(*status, 400, "{what} was taken");
    }
    assert_eq!(fake.refused_assertions().len(), results.len() - 1);

    // Claims changed after signing: the signature no longer holds.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signed = rsa.sign(Some(NETSUITE_CERTIFICATE_ID), &good(9)).unwrap();
    let parts: Vec<&str> = signed.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(with(10, "iss", json!(NETSUITE_CLIENT_ID)).to_string()),
        parts[2]
    );
    let (status, _) = post_form(&token_url, &token_form(&forged)).await;
    assert_eq!(status, 400);
    assert!(
        fake.refused_assertions()
            .last()
            .is_some_and(|why| why.contains("bad signature")),
        "{:?}",
        fake.refused_assertions()
    );
}

#[tokio::test]
async fn google_takes_the_service_accounts_assertion_for_a_delegated_admin_only() {
    let fake = FakeGoogle::start();
    let account = ServiceAccount::from_json(&fake.key_file(), "the key file").unwrap();
    let token_url = format!("{}/token", fake.url());
    let form = |assertion: String| scim_sources::google::token_form(&assertion);
    let (status, body) = post_form(
        &token_url,
        &form(account.assertion(GOOGLE_ADMIN, now()).unwrap()),
    )
    .await;
    assert_eq!(status, 200, "{body} {:?}", fake.refused_assertions());
    assert_eq!(body["token_type"], "Bearer");
    let (status, body) = post_form(
        &token_url,
        &form(account.assertion("someone@acme.com", now()).unwrap()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized_client"))
    );
    let p256 = SigningKey::from_pem(TestKey::P256.private_pem(), Algorithm::Es256).unwrap();
    let forged = p256
        .sign(
            None,
            &json!({"iss": scim_test_support::GOOGLE_SERVICE_ACCOUNT, "sub": GOOGLE_ADMIN,
                            "scope": scim_sources::google::SCOPE, "aud": token_url,
                            "iat": now(), "exp": now() + 60}),
        )
        .unwrap();
    let (status, _) = post_form(&token_url, &form(forged)).await;
    assert_eq!(status, 400, "a token signed by another key is refused");
}
