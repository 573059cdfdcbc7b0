//! The layer against small servers on loopback: what is retried, what is
//! never sent twice, what is refused, and what the messages name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use scim_core::Secret;
use scim_http::{
    Client, ClientOptions, ErrorKind, Hints, Next, Paging, Request, RetryPolicy, TransientRefusal,
    Url,
};
use serde_json::json;

const HINTS: Hints = Hints {
    credentials: "TEST_API_KEY",
    forbidden: "",
    bad_request: "",
    location: "TEST_API_URL",
    insecure_switch: None,
    timeout_setting: "TEST_TIMEOUT_SECONDS",
    budget_setting: "",
    wait_budget_setting: "",
};

fn client_with(timeout: Duration, tweak: impl FnOnce(&mut ClientOptions)) -> Client {
    let mut options = ClientOptions {
        timeout,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            max_wait: Duration::from_secs(5),
            unanswered_budget: Duration::from_secs(30),
            wait_budget: Duration::from_secs(30),
        },
        error_text: scim_http::ErrorText {
            json: &["/message"],
            headers: &[],
        },
        ..ClientOptions::new("Test", HINTS)
    };
    tweak(&mut options);
    Client::new(options).unwrap()
}

fn client() -> Client {
    client_with(Duration::from_secs(5), |_| {})
}

/// A server whose every answer `answer` gives, from the number of the
/// request (1-based) and its headers; returns its base URL and the count.
async fn serve<F, Fut>(answer: F) -> (Url, Arc<AtomicU32>)
where
    F: Fn(u32, HeaderMap) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send,
{
    let count = Arc::new(AtomicU32::new(0));
    let seen = count.clone();
    let app = Router::new().fallback(any(move |headers: HeaderMap| {
        let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
        let answer = answer.clone();
        async move { answer(n, headers).await }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (Url::parse(&format!("http://{addr}/api/")).unwrap(), count)
}

fn ok() -> Response {
    axum::Json(json!({"ok": true})).into_response()
}

fn status(code: u16, headers: &[(&'static str, &str)]) -> Response {
    let mut r = (
        StatusCode::from_u16(code).unwrap(),
        axum::Json(json!({"message": "said the server"})),
    )
        .into_response();
    for (k, v) in headers {
        r.headers_mut().insert(*k, v.parse().unwrap());
    }
    r
}

#[tokio::test]
async fn an_unsafe_request_that_timed_out_is_not_sent_again() {
    let (url, count) = serve(|_, _| async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        ok()
    })
    .await;
    let c = client_with(Duration::from_millis(300), |_| {});
    let create = Request::post(url.join("group").unwrap(), "PUT group").unsafe_to_repeat();
    let err = c.send(&create).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert!(
        err.to_string().contains("may or may not have taken effect"),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1, "sent once");
    assert_eq!(c.request_counts().retries, 0);

    let read = Request::get(url.join("group").unwrap(), "GET group");
    let err = c.send(&read).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("no answer within 0 s (TEST_TIMEOUT_SECONDS)"),
        "{err}"
    );
    assert_eq!(c.request_counts().retries, 2, "a read is tried three times");
}

#[tokio::test]
async fn an_unsafe_request_is_not_repeated_after_a_gateway_error_but_is_after_429() {
    let (url, count) = serve(|n, _| async move {
        match n {
            1 => status(429, &[("retry-after", "0")]),
            2 => status(502, &[]),
            _ => ok(),
        }
    })
    .await;
    let c = client();
    let invite = Request::post(url.join("group/1/user").unwrap(), "POST group/1/user")
        .unsafe_to_repeat()
        .json(json!({"email": ["a@x.com"]}));
    let err = c.send(&invite).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert!(err.to_string().contains("answered 502"), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 2, "429 retried, 502 not");
}

#[tokio::test]
async fn an_unsafe_request_is_sent_again_when_it_never_left() {
    // A port nobody listens on: the connection is refused, nothing was sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/api/group")).unwrap();
    let err = c
        .send(&Request::post(url, "PUT group").unsafe_to_repeat())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Connect { .. }), "{err:?}");
    assert_eq!(c.request_counts().writes, 3, "every attempt was made");
    assert!(err.to_string().contains("check TEST_API_URL"), "{err}");
}

#[tokio::test]
async fn an_answer_larger_than_the_limit_is_refused_while_it_streams() {
    // Chunked, no length announced, never ending: only a streaming check stops it.
    let (url, _) = serve(|_, _| async {
        let chunk = vec![b'x'; 64 * 1024];
        let endless = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        Response::new(Body::from_stream(endless))
    })
    .await;
    let c = client_with(Duration::from_secs(30), |o| o.max_body = 1024 * 1024);
    let err = c
        .send(&Request::get(url.clone(), "GET everything"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::TooLarge { limit } if *limit == 1024 * 1024),
        "{err:?}"
    );
    assert_eq!(c.request_counts().retries, 0, "not retried");

    let (url, _) = serve(|_, _| async {
        let mut r = Response::new(Body::from(vec![b' '; 2 * 1024 * 1024]));
        r.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        r
    })
    .await;
    let err = c.send(&Request::get(url, "GET big")).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_and_no_referer_is_sent() {
    let referers: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = referers.clone();
    let (elsewhere, elsewhere_count) = serve(move |_, headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(
                headers
                    .get("referer")
                    .map(|v| v.to_str().unwrap().to_owned()),
            );
            ok()
        }
    })
    .await;
    let target = elsewhere.join("collect").unwrap().to_string();
    let (url, _) = serve(move |_, _| {
        let target = target.clone();
        async move { status(307, &[("location", &target)]) }
    })
    .await;
    let c = client();
    let alert =
        Request::post(url.join("hook/SECRET-KEY").unwrap(), "the alert").json(json!({"text": "x"}));
    let err = c.send(&alert).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Redirect { status: 307, .. }),
        "{err:?}"
    );
    assert_eq!(
        elsewhere_count.load(Ordering::SeqCst),
        0,
        "nothing reached the other origin"
    );
    assert!(!err.to_string().contains("SECRET-KEY"), "{err}");

    // Within the origin a redirect is followed, without a Referer.
    let (same, _) = serve(move |n, _| async move {
        if n == 1 {
            status(307, &[("location", "/api/moved")])
        } else {
            ok()
        }
    })
    .await;
    c.send(&Request::get(same.join("x").unwrap(), "GET x"))
        .await
        .unwrap();
    assert!(referers.lock().unwrap().iter().all(Option::is_none));
}

#[tokio::test]
async fn a_host_name_that_does_not_resolve_is_named_and_not_retried() {
    let c = client();
    let url = Url::parse("https://no-such-host.invalid/third_party/api/group").unwrap();
    let err = c.send(&Request::get(url, "GET group")).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NameNotResolved { host } if host == "no-such-host.invalid"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("no-such-host.invalid does not resolve"),
        "{text}"
    );
    assert!(text.contains("check TEST_API_URL"), "{text}");
    assert_eq!(c.request_counts().reads, 1, "not retried");
}

#[tokio::test]
async fn hostile_retry_after_values_fail_at_once_without_a_panic() {
    for value in ["inf", "1e20", "Fri, 31 Dec 9999 23:59:59 GMT", "3600"] {
        let v = value.to_owned();
        let (url, count) = serve(move |_, _| {
            let v = v.clone();
            async move { status(429, &[("retry-after", &v)]) }
        })
        .await;
        let c = client();
        let err = c.send(&Request::get(url, "GET group")).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::WaitTooLong {
                    status: Some(429),
                    ..
                }
            ),
            "{value}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("longer than the 5 s this tool waits"),
            "{err}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 1, "{value}");
    }
    // Values that mean nothing fall back to the backoff; negative ones to no wait.
    for value in ["NaN", "-5", "soon"] {
        let v = value.to_owned();
        let (url, count) = serve(move |n, _| {
            let v = v.clone();
            async move {
                if n == 1 {
                    status(429, &[("retry-after", &v)])
                } else {
                    ok()
                }
            }
        })
        .await;
        client()
            .send(&Request::get(url, "GET group"))
            .await
            .unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2, "{value}");
    }
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_spent_rate_limit_window_delays_the_next_request_not_the_answer() {
    // The window resets two seconds on; the timeout is shorter than that, so
    // a wait inside the request (before its body is read) would time it out.
    let (url, count) = serve(|_, _| async {
        let mut r = axum::Json(json!([1, 2, 3])).into_response();
        let h = r.headers_mut();
        h.insert("x-rate-limit-remaining", "0".parse().unwrap());
        h.insert(
            "x-rate-limit-reset",
            (epoch_now() + 2).to_string().parse().unwrap(),
        );
        r
    })
    .await;
    let c = client_with(Duration::from_millis(800), |_| {});
    let first = c.send(&Request::get(url.clone(), "page 1")).await.unwrap();
    assert_eq!(first.json().unwrap(), json!([1, 2, 3]));
    let second = c.send(&Request::get(url, "page 2")).await.unwrap();
    assert_eq!(second.json().unwrap(), json!([1, 2, 3]));
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(c.request_counts().retries, 0);
}

#[tokio::test]
async fn status_errors_name_the_settings_their_client_declared() {
    let (url, _) = serve(|n, _| async move {
        match n {
            1 => status(401, &[]),
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    })
    .await;
    let c = client();
    let err = c
        .send(&Request::get(
            url.join("group?x=secret").unwrap(),
            "GET group",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        "Test answered 401 to GET group: said the server; check TEST_API_KEY"
    );
    let err = c
        .send(&Request::get(
            url.join("grup?x=secret").unwrap(),
            "GET grup",
        ))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("at {}grup:", url)), "{text}");
    assert!(text.contains("check TEST_API_URL"), "{text}");
    assert!(!text.contains("secret"), "no query: {text}");
    let err = c
        .send(&Request::get(url.join("user/9").unwrap(), "GET user 9").not_found_is_an_answer())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("TEST_API_URL"), "{err}");
}

#[tokio::test]
async fn a_transient_refusal_is_retried_a_bounded_number_of_times() {
    let (url, count) =
        serve(|n, _| async move { if n <= 2 { status(403, &[]) } else { ok() } }).await;
    let c = client();
    let refusal = TransientRefusal {
        status: 403,
        attempts: 3,
        step: Duration::from_millis(10),
    };
    let create = Request::post(url.clone(), "PUT group")
        .unsafe_to_repeat()
        .transient_refusal(refusal);
    c.send(&create).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 3);

    let (url, count) = serve(|_, _| async { status(403, &[]) }).await;
    let err = c.send(&create.to(url, "PUT group")).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(count.load(Ordering::SeqCst), 3, "three tries in all");
}

#[tokio::test]
async fn paging_never_sends_credentials_to_another_origin() {
    let (elsewhere, elsewhere_count) = serve(|_, _| async { ok() }).await;
    let next = elsewhere.join("users?page=2").unwrap().to_string();
    let (url, count) = serve(move |_, _| {
        let next = next.clone();
        async move { axum::Json(json!({"value": [1], "@odata.nextLink": next})).into_response() }
    })
    .await;
    let c = client();
    let listing = Request::get(url.join("users").unwrap(), "users").bearer(&Secret::new("t"));
    let err = c
        .all(
            &listing,
            Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Paging(scim_http::PagingError::OtherOrigin { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("users, page 1"), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(elsewhere_count.load(Ordering::SeqCst), 0);
}

/// A server (or a proxy before it) whose error page repeats the request's
/// credentials back, as some debugging endpoints do.
async fn echo_server() -> Url {
    let (url, _) = serve(|n, headers: HeaderMap| async move {
        let echoed = format!(
            "you sent authorization={:?} x-api-key={:?}",
            headers.get("authorization"),
            headers.get("x-api-key")
        );
        match n % 3 {
            // The explanation in the declared JSON field.
            0 => (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": echoed})),
            )
                .into_response(),
            // A plain-text error page.
            1 => (StatusCode::FORBIDDEN, echoed).into_response(),
            // A success that is not JSON.
            _ => (StatusCode::OK, echoed).into_response(),
        }
    })
    .await;
    url
}

#[tokio::test]
async fn credentials_a_server_echoes_back_are_not_repeated_in_messages() {
    let url = echo_server().await;
    let c = client_with(Duration::from_secs(5), |o| o.retry.max_attempts = 1);
    let token = "tok-0123456789abcdef";
    let requests = [
        Request::get(url.clone(), "bearer").bearer(&Secret::new(token)),
        // BambooHR: the key is the user name.
        Request::get(url.clone(), "basic").basic(token, &Secret::new("x")),
        Request::get(url.clone(), "basic").basic("SERVICE-1", &Secret::new(token)),
        Request::get(url.clone(), "okta")
            .secret_header("authorization", Secret::new(format!("SSWS {token}"))),
        Request::get(url.clone(), "factorial").secret_header("x-api-key", Secret::new(token)),
    ];
    let basic_encoded = [
        "dG9rLTAxMjM0NTY3ODlhYmNkZWY6eA",
        "U0VSVklDRS0xOnRvay0wMTIzNDU2Nzg5YWJjZGVm",
    ];
    for request in &requests {
        for _ in 0..3 {
            let text = match c.send(request).await {
                Err(e) => e.to_string(),
                Ok(answer) => answer.json().unwrap_err().to_string(),
            };
            assert!(
                text.contains("you sent"),
                "the server's text is shown: {text}"
            );
            assert!(!text.contains(token), "{}: {text}", request.call());
            for encoded in basic_encoded {
                assert!(!text.contains(encoded), "{}: {text}", request.call());
            }
        }
    }
}

#[tokio::test]
async fn a_secret_urls_key_its_server_echoes_back_is_not_shown() {
    let (url, _) = serve(|_, _| async {
        (
            StatusCode::NOT_FOUND,
            "no hook at /api/hooks/T0123/KEY-0123456789abcdef?sig=SIG-0123456789",
        )
            .into_response()
    })
    .await;
    let c = client_with(Duration::from_secs(5), |o| o.secret_url = true);
    let hook = url
        .join("hooks/T0123/KEY-0123456789abcdef?sig=SIG-0123456789")
        .unwrap();
    let err = c.send(&Request::post(hook, "the alert")).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status(), Some(404), "{err:?}");
    assert!(!text.contains("KEY-0123456789abcdef"), "{text}");
    assert!(!text.contains("SIG-0123456789"), "{text}");
}

#[tokio::test]
async fn a_next_link_no_request_can_carry_fails_at_once_without_retries() {
    // Longer than any request line the HTTP library builds (64 KiB).
    let (url, count) = serve(|_, headers: HeaderMap| async move {
        let host = headers["host"].to_str().unwrap().to_owned();
        let next = format!("http://{host}/api/users?skiptoken={}", "a".repeat(70_000));
        axum::Json(json!({"value": [1], "@odata.nextLink": next})).into_response()
    })
    .await;
    let c = client();
    let listing = Request::get(url.join("users").unwrap(), "users").unsafe_to_repeat();
    let err = c
        .all(
            &listing,
            Paging::new("/value", Next::UrlAt("/@odata.nextLink")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Unsendable { .. }),
        "{err:?}"
    );
    assert!(!err.outcome_unknown(), "it never left: {err}");
    assert!(err.to_string().contains("users, page 2"), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "page 2 was never sent");
    assert_eq!(c.request_counts().retries, 0, "{err}");
}

#[tokio::test]
async fn no_attempt_starts_once_the_unanswered_budget_is_spent() {
    let (url, count) = serve(|_, _| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        ok()
    })
    .await;
    let timeout = Duration::from_millis(400);
    let c = client_with(timeout, |o| {
        o.retry.max_attempts = 10;
        o.retry.unanswered_budget = Duration::from_millis(1000);
    });
    let err = c.send(&Request::get(url, "GET group")).await.unwrap_err();
    let ErrorKind::BudgetSpent { spent, budget, .. } = err.kind() else {
        panic!("{err:?}");
    };
    let sent = count.load(Ordering::SeqCst);
    // Each attempt went unanswered for a whole timeout: after three, 1.2 s
    // of a 1 s budget are spent, and a fourth would start past it.
    assert!(sent <= 3, "{sent} attempts: {err}");
    assert!(
        *spent >= timeout * sent,
        "the message counts every attempt ({sent}): {err}"
    );
    assert!(*spent > *budget, "{err}");
}

#[tokio::test]
async fn a_redirect_loop_within_the_origin_is_not_called_a_redirect_elsewhere() {
    let (url, count) = serve(|_, _| async { status(302, &[("location", "/api/again")]) }).await;
    let c = client();
    let err = c
        .send(&Request::get(url.join("start").unwrap(), "GET start"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Redirect { status: 302, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("more than 5 redirects"), "{text}");
    assert!(!text.contains("another origin"), "{text}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        6,
        "the first request and 5 redirects"
    );
}

#[tokio::test]
async fn a_connection_that_never_completes_is_said_to_time_out_connecting() {
    // Accepts, then never answers the TLS handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    // A request timeout above the connection timeout (10 s at most).
    let c = client_with(Duration::from_secs(12), |o| o.retry.max_attempts = 1);
    let url = Url::parse(&format!("https://127.0.0.1:{port}/api/group")).unwrap();
    let err = c.send(&Request::get(url, "GET group")).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Timeout {
                connecting: true,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("no connection within 10 s"), "{text}");
    assert!(!text.contains("12 s"), "{text}");
}

#[tokio::test]
async fn a_write_is_not_turned_into_a_read_by_a_redirect() {
    // 301, 302 and 303 make an HTTP client repeat a POST as a GET, without
    // its body: the write would be lost and the GET's 200 taken for success.
    let methods: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = methods.clone();
    let app = Router::new().fallback(any(
        move |method: axum::http::Method, uri: axum::http::Uri| {
            let record = record.clone();
            async move {
                record
                    .lock()
                    .unwrap()
                    .push(format!("{method} {}", uri.path()));
                match (method.as_str(), uri.path()) {
                    (_, "/done") => ok(),
                    (_, p) if p.starts_with("/status/") => {
                        let code = &p["/status/".len()..];
                        status(code.parse().unwrap(), &[("location", "/done")])
                    }
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c = client();
    for code in [301, 302, 303] {
        methods.lock().unwrap().clear();
        let at = Url::parse(&format!("{base}/status/{code}")).unwrap();
        let alert = Request::post(at.clone(), "the alert").json(json!({"text": "x"}));
        let err = c.send(&alert).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Redirect {
                    refused: scim_http::RedirectRefused::WriteAsRead,
                    ..
                }
            ),
            "{code}: {err:?}"
        );
        // Not safe to repeat: the server may have acted before redirecting.
        let create = Request::post(at, "PUT group").unsafe_to_repeat();
        let err = c.send(&create).await.unwrap_err();
        assert!(err.outcome_unknown(), "{code}: {err:?}");
        assert_eq!(
            *methods.lock().unwrap(),
            [
                format!("POST /status/{code}"),
                format!("POST /status/{code}")
            ],
            "{code}: no GET followed"
        );
    }
    // 307 and 308 keep the method and the body: followed within the origin.
    for code in [307, 308] {
        methods.lock().unwrap().clear();
        let at = Url::parse(&format!("{base}/status/{code}")).unwrap();
        c.send(&Request::post(at, "the alert").json(json!({"text": "x"})))
            .await
            .unwrap();
        assert_eq!(
            *methods.lock().unwrap(),
            [format!("POST /status/{code}"), "POST /done".to_owned()]
        );
    }
    // A read follows any redirect within the origin.
    methods.lock().unwrap().clear();
    c.send(&Request::get(
        Url::parse(&format!("{base}/status/302")).unwrap(),
        "GET x",
    ))
    .await
    .unwrap();
    assert_eq!(
        *methods.lock().unwrap(),
        ["GET /status/302".to_owned(), "GET /done".to_owned()]
    );
}

#[tokio::test]
async fn an_answer_printed_for_debugging_does_not_show_the_requests_credentials() {
    let (url, _) = serve(|_, _| async { ok() }).await;
    let token = "tok-0123456789abcdef";
    let answer = client()
        .send(&Request::get(url, "GET x").bearer(&Secret::new(token)))
        .await
        .unwrap();
    let shown = format!("{answer:?}");
    assert!(!shown.contains(token), "{shown}");
}

#[tokio::test]
async fn a_service_that_always_throttles_is_given_up_on_within_the_wait_budget() {
    // Every answer is 429 "in 0.1 s"; the run may wait 0.16 s in all.
    let (url, count) = serve(|_, _| async { status(429, &[("retry-after", "0.1")]) }).await;
    let c = client_with(Duration::from_secs(5), |o| {
        o.retry.max_attempts = 10;
        o.retry.wait_budget = Duration::from_millis(160);
    });
    let err = c
        .send(&Request::get(url.join("group").unwrap(), "GET group"))
        .await
        .unwrap_err();
    let ErrorKind::WaitBudgetSpent(refused) = err.kind() else {
        panic!("{err:?}");
    };
    assert_eq!(refused.status, Some(429));
    assert_eq!(refused.asked.map(|a| a.source), Some("Retry-After"));
    assert!(refused.waited >= Duration::from_millis(100), "{err}");
    assert_eq!(refused.budget, Duration::from_millis(160));
    // One wait of 0.1 s fits in the budget, a second would not.
    assert_eq!(count.load(Ordering::SeqCst), 2, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "Test answered 429 to GET group: said the server, and asks to wait 0.1 s \
             (Retry-After); not waited: this run has already waited "
        ),
        "{text}"
    );
    assert!(
        text.ends_with(
            " in all for Test (127.0.0.1) to take requests again (at most 0.2 s); run again later"
        ),
        "{text}"
    );

    // A clone shares the budget: its throttled request fails at once.
    let other = c.clone();
    let err = other
        .send(&Request::post(url.join("user").unwrap(), "POST user"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WaitBudgetSpent(_)),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3, "sent once, not waited for");
}

#[tokio::test]
async fn waits_made_side_by_side_by_concurrent_requests_count_once() {
    // Four requests are throttled together with "in 2 s": the run waits 2 s,
    // not 8, so each may wait once in a budget of 3 s (a second wait would
    // end past it).
    let (url, count) = serve(|_, _| async { status(429, &[("retry-after", "2")]) }).await;
    let c = client_with(Duration::from_secs(5), |o| {
        o.retry.max_attempts = 10;
        o.retry.wait_budget = Duration::from_secs(3);
    });
    let requests = (0..4).map(|i| {
        let c = c.clone();
        let url = url.join(&format!("user/{i}")).unwrap();
        async move { c.send(&Request::get(url, format!("GET user {i}"))).await }
    });
    let results = futures::future::join_all(requests).await;
    for result in results {
        let err = result.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WaitBudgetSpent(_)),
            "{err:?}"
        );
    }
    assert_eq!(count.load(Ordering::SeqCst), 8, "each request waited once");
    assert_eq!(c.request_counts().retries, 4);
}

#[tokio::test]
async fn a_spent_rate_limit_window_counts_against_the_wait_budget() {
    let (url, count) = serve(|_, _| async {
        let mut r = axum::Json(json!({"ok": true})).into_response();
        let h = r.headers_mut();
        h.insert("x-rate-limit-remaining", "0".parse().unwrap());
        h.insert(
            "x-rate-limit-reset",
            (epoch_now() + 30).to_string().parse().unwrap(),
        );
        r
    })
    .await;
    let c = client_with(Duration::from_secs(5), |o| {
        o.retry.max_wait = Duration::from_secs(60);
        o.retry.wait_budget = Duration::from_secs(10);
    });
    c.send(&Request::get(url.join("a").unwrap(), "GET a"))
        .await
        .unwrap();
    let err = c
        .send(&Request::get(url.join("b").unwrap(), "GET b"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WaitBudgetSpent(refused) if refused.status.is_none()),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("before GET b, Test's rate-limit window is spent for "),
        "{text}"
    );
    assert!(text.contains("already waited 0.0 s in all"), "{text}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "GET b was not sent");
}

#[tokio::test]
async fn refusals_that_pass_and_gateway_errors_count_against_the_wait_budget() {
    // A refusal that passes, retried with waits of 0.1 s, 0.2 s, ...
    let (url, count) = serve(|_, _| async { status(403, &[]) }).await;
    let c = client_with(Duration::from_secs(5), |o| {
        o.retry.wait_budget = Duration::from_millis(250);
    });
    let create = Request::post(url.clone(), "PUT group")
        .unsafe_to_repeat()
        .transient_refusal(TransientRefusal {
            status: 403,
            attempts: 10,
            step: Duration::from_millis(100),
        });
    let err = c.send(&create).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::WaitBudgetSpent(refused)
                if refused.status == Some(403) && refused.asked.is_none()
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("answered 403 to PUT group: said the server; the next wait would be 0.2 s"),
        "{err}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "0.1 s waited, 0.2 s more not"
    );

    // A gateway error with no time given: its backoff counts too.
    let (url, count) = serve(|_, _| async { status(503, &[]) }).await;
    let c = client_with(Duration::from_secs(5), |o| {
        o.retry.wait_budget = Duration::from_millis(1);
    });
    let err = c.send(&Request::get(url, "GET group")).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::WaitBudgetSpent(refused) if refused.status == Some(503)
        ),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// `[{}, {}, ...]`: `n` empty objects, three bytes each.
fn empties(n: usize) -> String {
    let mut text = "{},".repeat(n);
    text.pop();
    format!("[{text}]")
}

#[tokio::test]
async fn a_page_of_empty_objects_stops_at_the_most_items_while_it_is_parsed() {
    let page = empties(300_000);
    let (url, _) = serve(move |_, _| {
        let page = page.clone();
        async move {
            let mut r = Response::new(Body::from(page));
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        }
    })
    .await;
    let c = client();
    let err = c
        .all(
            &Request::get(url.join("users").unwrap(), "users"),
            Paging::new("", Next::LinkHeader),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Paging(scim_http::PagingError::TooManyItems {
                page: 1,
                limit: 200_000
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "unexpected answer from Test at 127.0.0.1 (users, page 1): page 1 brings the listing past 200000 \
         items, the most this tool reads in one listing; stopped"
    );
}

#[tokio::test]
async fn an_answer_that_would_take_too_much_memory_once_parsed_is_not_parsed() {
    // 1.5 MB of text, well within the body's limit, is some 25 MB parsed.
    let page = empties(500_000);
    let (url, _) = serve(move |_, _| {
        let page = page.clone();
        async move { Response::new(Body::from(page)) }
    })
    .await;
    let c = client_with(Duration::from_secs(5), |o| {
        o.max_json_memory = 16 * 1024 * 1024;
    });
    let err = c
        .json(&Request::get(url.join("users").unwrap(), "GET users"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::TooMuchMemory { limit } if *limit == 16 * 1024 * 1024),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the answer of Test at 127.0.0.1 to GET users would take more than 16 MiB of memory once read, the \
         most this tool gives one answer; not read"
    );
    // Within the bound, the same answer is read.
    let roomy = client();
    assert_eq!(
        roomy
            .json(&Request::get(url.join("users").unwrap(), "GET users"))
            .await
            .unwrap()
            .as_array()
            .map(Vec::len),
        Some(500_000)
    );
}
