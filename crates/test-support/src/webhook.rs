//! A webhook receiver on loopback: keeps every JSON body POSTed to it, for
//! testing the alerts the stages send.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

/// Accepts `POST /hook/<anything>` and remembers the bodies.
pub struct WebhookReceiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl WebhookReceiver {
    pub fn start() -> Self {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let app = Router::new()
            .route(
                "/hook/{*key}",
                post(
                    |State(bodies): State<Arc<Mutex<Vec<Value>>>>,
                     axum::Json(body): axum::Json<Value>| async move {
                        bodies.lock().unwrap().push(body);
                        "ok"
                    },
                ),
            )
            .with_state(bodies.clone());
        let addr = crate::serve(app);
        Self {
            // The path plays the part of the key a real webhook URL carries.
            url: format!("http://{addr}/hook/T0-SECRET-KEY"),
            bodies,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}
