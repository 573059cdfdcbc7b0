//! A webhook receiver on loopback: keeps every JSON body POSTed to it, for
//! testing the alerts the stages send, and every request that reached it
//! (to show that a credential did not). It can also answer with a redirect.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request that reached the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `Referer` header, if any.
    pub referer: Option<String>,
}

#[derive(Default)]
struct Kept {
    bodies: Vec<Value>,
    requests: Vec<Received>,
    /// Answer every request with a 307 to this URL.
    redirect_to: Option<String>,
}

/// Accepts `POST /hook/<anything>` and remembers the bodies; records any
/// other request too.
pub struct WebhookReceiver {
    url: String,
    base: String,
    kept: Arc<Mutex<Kept>>,
}

async fn receive(
    State(kept): State<Arc<Mutex<Kept>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut kept = kept.lock().unwrap();
    kept.requests.push(Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        authorization: header("authorization"),
        referer: header("referer"),
    });
    if let Some(to) = &kept.redirect_to {
        return (StatusCode::TEMPORARY_REDIRECT, [("location", to.clone())]).into_response();
    }
    if method == Method::POST && uri.path().starts_with("/hook/") {
        match serde_json::from_slice(&body) {
            Ok(v) => {
                kept.bodies.push(v);
                "ok".into_response()
            }
            Err(_) => StatusCode::BAD_REQUEST.into_response(),
        }
    } else {
        axum::Json(serde_json::json!({"value": []})).into_response()
    }
}

impl WebhookReceiver {
    pub fn start() -> Self {
        let kept: Arc<Mutex<Kept>> = Arc::default();
        let app = Router::new().fallback(receive).with_state(kept.clone());
        let addr = crate::serve(app);
        Self {
            // The path plays the part of the key a real webhook URL carries.
            url: format!("http://{addr}/hook/T0-SECRET-KEY"),
            base: format!("http://{addr}"),
            kept,
        }
    }

    /// A receiver that answers every request with `307 Temporary Redirect`
    /// to `location`.
    pub fn redirecting_to(location: &str) -> Self {
        let hook = Self::start();
        hook.kept.lock().unwrap().redirect_to = Some(location.to_owned());
        hook
    }

    /// The webhook URL, with its secret path.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://` and the address, without a path.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.kept.lock().unwrap().bodies.clone()
    }

    /// Every request that reached the receiver, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.kept.lock().unwrap().requests.clone()
    }
}
