//! scim-server over real HTTP: the binary runs in a throw-away directory
//! against the fake TimeCamp, and the tests play Entra ID's and Okta's
//! documented requests, then look at TimeCamp after the debounced sync.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use scim_test_support::{FakeTimecamp, MotoServer, Project, WebhookReceiver};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_scim-server");
const TOKEN: &str = "scim-test-token-7c1e9a20";
const ROOT: u64 = 10;
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A running scim-server.
struct Scim {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    root: String,
    log: PathBuf,
    client: reqwest::Client,
}

impl Drop for Scim {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A project whose scim-server syncs into `tc` one second after the last change.
fn project(tc: &FakeTimecamp) -> Project {
    Project::new()
        .timecamp(tc, ROOT)
        .env("SCIM_BEARER_TOKEN", TOKEN)
        .env("SCIM_SYNC_DELAY_SECONDS", "1")
        .env("DISABLE_FILE_LOGGING", "true")
}

impl Scim {
    fn start(p: &Project) -> Self {
        Self::start_logging(p, "scim.log")
    }

    /// Starts the server on a free port, which it names in its start-up line.
    fn start_logging(p: &Project, log_name: &str) -> Self {
        let log = p.path(log_name);
        let child = p
            .command(BIN, &[])
            .env("SCIM_HOST", "127.0.0.1")
            .env("SCIM_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut s = Self {
            child: Some(child),
            root: String::new(),
            log,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = s.log();
            if let Some(rest) = text.split("SCIM base URL ").nth(1) {
                let url = rest.split_whitespace().next().unwrap();
                s.root = url.trim_end_matches("/scim/v2").to_owned();
                return s;
            }
            if let Some(status) = s.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("scim-server exited ({status}) before listening:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "scim-server did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// SIGTERM, then waits for the exit (60 s at most).
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "scim-server did not stop on SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(method, path, body, Some(TOKEN)).await
    }

    async fn call_as(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let url = if path.starts_with('/') && !path.starts_with("/health") {
            format!("{}/scim/v2{path}", self.root)
        } else {
            format!("{}{path}", self.root)
        };
        let mut req = self.client.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    async fn health(&self) -> Value {
        self.call_as("GET", "/health", None, None).await.1
    }

    /// Waits until every saved change is synced (60 s at most).
    async fn synced(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let h = self.health().await;
            if h["unsynced_changes"] == false && h["syncs"]["last"] == "synced" {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "no sync finished: {h}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a sync attempt ends as `outcome`.
    async fn sync_ended(&self, outcome: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let h = self.health().await;
            if h["syncs"]["last"] == outcome {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "no sync ended {outcome}: {h}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn query(filter: &str) -> String {
    form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

/// Entra ID's create request, as its documentation shows it.
fn entra_user(
    user_name: &str,
    given: &str,
    family: &str,
    department: &str,
    external: &str,
) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": external,
        "userName": user_name,
        "active": true,
        "displayName": format!("{given} {family}"),
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE: {"department": department, "employeeNumber": "123"},
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

#[test]
fn refuses_to_start_without_a_long_enough_token_or_the_timecamp_settings() {
    let tc = FakeTimecamp::start(ROOT);
    Project::new()
        .timecamp(&tc, ROOT)
        .run(BIN, &[])
        .expect_code(2)
        .expect_stderr("SCIM_BEARER_TOKEN is not set");
    project(&tc)
        .env("SCIM_BEARER_TOKEN", "short")
        .run(BIN, &[])
        .expect_code(2)
        .expect_stderr("at least 16 characters");
    Project::new()
        .env("SCIM_BEARER_TOKEN", TOKEN)
        .run(BIN, &[])
        .expect_code(2)
        .expect_stderr("TIMECAMP_API_KEY");
    project(&tc)
        .env("SCIM_GROUP_SOURCE", "roles")
        .run(BIN, &[])
        .expect_code(2)
        .expect_stderr("SCIM_GROUP_SOURCE");
    project(&tc)
        .env("SCIM_TLS_CERT_FILE", "/nonexistent.pem")
        .run(BIN, &[])
        .expect_code(2)
        .expect_stderr("SCIM_TLS_KEY_FILE");
}

#[tokio::test]
async fn every_route_but_health_needs_the_token_and_errors_are_scim_errors() {
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc);
    let s = Scim::start(&p);
    let h = s.health().await;
    assert_eq!(h["status"], "healthy");
    for token in [None, Some("wrong-token-0000000000")] {
        for path in ["/Users", "/Schemas", "/ServiceProviderConfig", "/nothing"] {
            let (status, body) = s.call_as("GET", path, None, token).await;
            assert_eq!(status, 401, "{path}: {body}");
            assert_eq!(
                body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
        }
    }
    let (status, body) = s.call("GET", "/Users/nobody", None).await;
    assert_eq!((status, body["status"].as_str()), (404, Some("404")));
    let (status, body) = s.call("DELETE", "/Schemas", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (405, Some("405")),
        "{body}"
    );
    // The Bearer scheme name in any case.
    let resp = s
        .client
        .get(format!("{}/scim/v2/Users", s.root))
        .header("authorization", format!("bEaReR {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/scim+json");
}

#[tokio::test]
async fn entra_id_provisioning_reaches_timecamp_in_one_sync_per_quiet_period() {
    let tc =
        FakeTimecamp::start(ROOT)
            .group(11, "Sales", ROOT)
            .user(500, "owner@x.com", "Owner", ROOT);
    let p = project(&tc);
    let s = Scim::start(&p);

    // The connection test: a filter on a random userName finds nobody.
    let list = s
        .ok(
            "GET",
            &format!(
                "/Users?filter={}",
                query(r#"userName eq "1c6ee2b4-7d3c-47d2-a0a3-2c1d8e5c9f11""#)
            ),
            None,
        )
        .await;
    assert_eq!(
        (
            list["totalResults"].as_u64(),
            list["Resources"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );

    // Lookup, then create; Entra ID also filters on externalId.
    let lookup = s
        .ok(
            "GET",
            &format!("/Users?filter={}", query(r#"userName eq "ann@x.com""#)),
            None,
        )
        .await;
    assert_eq!(lookup["totalResults"], 0);
    let ann = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN")),
        )
        .await;
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ann["meta"]["location"],
        format!("{}/scim/v2/Users/{ann_id}", s.root)
    );
    let bob = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("bob@x.com", "Bob", "Brown", "Sales", "E-BOB")),
        )
        .await;
    let bob_id = bob["id"].as_str().unwrap().to_owned();
    let by_external = s
        .ok(
            "GET",
            &format!("/Users?filter={}", query(r#"externalId eq "E-ANN""#)),
            None,
        )
        .await;
    assert_eq!(by_external["Resources"][0]["id"], ann_id.as_str());
    // A second create of the same userName, in another case, is a conflict.
    let (status, body) = s
        .call(
            "POST",
            "/Users",
            Some(entra_user("ANN@x.com", "A", "S", "Sales", "E-2")),
        )
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{body}"
    );
    // The manager comes later, as a bare id.
    s.ok(
        "PATCH",
        &format!("/Users/{ann_id}"),
        Some(patch(
            json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": bob_id}]),
        )),
    )
    .await;
    s.synced().await;
    assert_eq!(tc.group_path_of("ann@x.com"), "Company/Sales");
    assert_eq!(tc.display_name("ann@x.com").as_deref(), Some("Ann Smith"));
    assert_eq!(
        tc.setting_of("ann@x.com", "external_id").as_deref(),
        Some("E-ANN")
    );
    assert!(
        tc.is_enabled("owner@x.com"),
        "a user the provider never pushed is left alone"
    );
    assert!(
        s.log()
            .contains("Artifact saved: storage=local path=var/users.json")
    );

    // Entra ID's update: several operations, capitalised, with a value filter.
    s.ok(
        "PATCH",
        &format!("/Users/{ann_id}"),
        Some(patch(json!([
            {"op": "Replace", "path": "displayName", "value": "Ann Jones"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Marketing"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ann@x.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Jones"},
        ]))),
    )
    .await;
    s.synced().await;
    assert_eq!(tc.display_name("ann@x.com").as_deref(), Some("Ann Jones"));
    assert_eq!(tc.group_path_of("ann@x.com"), "Company/Marketing");

    // Deprovisioning: active as the string "False", then DELETE.
    let ann = s
        .ok(
            "PATCH",
            &format!("/Users/{ann_id}"),
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!(ann["active"], false);
    s.synced().await;
    assert!(!tc.is_enabled("ann@x.com"));
    let (status, _) = s.call("DELETE", &format!("/Users/{bob_id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(
        s.call("GET", &format!("/Users/{bob_id}"), None).await.0,
        404
    );
    s.synced().await;
    assert!(!tc.is_enabled("bob@x.com"), "DELETE disables");
    assert!(
        tc.user_id("bob@x.com").is_some(),
        "TimeCamp users are never deleted"
    );
    assert!(tc.is_enabled("owner@x.com"));
    let journal =
        std::fs::read_to_string(s.log.parent().unwrap().join("var/logs/changes.jsonl")).unwrap();
    assert!(
        journal
            .lines()
            .any(|l| l.contains("\"kind\":\"disable\"") && l.contains("bob@x.com")),
        "{journal}"
    );
}

#[tokio::test]
async fn entra_id_group_requests_keep_membership() {
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc);
    let s = Scim::start(&p);
    let ann = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN")),
        )
        .await;
    let bob = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("bob@x.com", "Bob", "Brown", "Sales", "E-BOB")),
        )
        .await;
    let (ann, bob) = (ann["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    let lookup = s
        .ok(
            "GET",
            &format!(
                "/Groups?filter={}",
                query(r#"displayName eq "TimeCamp users""#)
            ),
            None,
        )
        .await;
    assert_eq!(lookup["totalResults"], 0);
    let g = s
        .ok("POST", "/Groups", Some(json!({"schemas": [GROUP], "externalId": "G-1", "displayName": "TimeCamp users", "members": []})))
        .await;
    let gid = g["id"].as_str().unwrap();
    s.ok(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "Add", "path": "members", "value": [{"value": ann}, {"value": bob}]}]),
        )),
    )
    .await;
    let member = s
        .ok(
            "GET",
            &format!(
                "/Groups?filter={}&excludedAttributes=members",
                query(&format!(r#"id eq "{gid}" and members[value eq "{bob}"]"#))
            ),
            None,
        )
        .await;
    assert_eq!(member["totalResults"], 1);
    assert!(member["Resources"][0].get("members").is_none());
    s.ok(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "Remove", "path": "members", "value": [{"value": bob}]}]),
        )),
    )
    .await;
    let g = s.ok("GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(g["members"], json!([{"value": ann}]));
    let user = s.ok("GET", &format!("/Users/{ann}"), None).await;
    assert_eq!(user["groups"][0]["display"], "TimeCamp users");
    assert_eq!(
        s.call("DELETE", &format!("/Groups/{gid}"), None).await.0,
        204
    );
    assert_eq!(s.call("GET", &format!("/Groups/{gid}"), None).await.0, 404);
}

#[tokio::test]
async fn okta_provisioning_with_pushed_groups_as_timecamp_groups() {
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc).env("SCIM_GROUP_SOURCE", "groups");
    let s = Scim::start(&p);
    // Okta's connection test, then its lookup.
    let page = s.ok("GET", "/Users?startIndex=1&count=1", None).await;
    assert_eq!(
        page["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    let lookup = s
        .ok(
            "GET",
            &format!(
                "/Users?filter={}&startIndex=1&count=100",
                query(r#"userName eq "carl@x.com""#)
            ),
            None,
        )
        .await;
    assert_eq!(lookup["totalResults"], 0);
    let okta_user = |title: &str| {
        json!({
            "schemas": [USER],
            "userName": "carl@x.com",
            "name": {"givenName": "Carl", "familyName": "Cole"},
            "emails": [{"primary": true, "value": "carl@x.com", "type": "work"}],
            "displayName": "Carl Cole",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true,
            "title": title,
        })
    };
    let carl = s.ok("POST", "/Users", Some(okta_user("Engineer"))).await;
    let carl_id = carl["id"].as_str().unwrap().to_owned();
    assert!(
        carl.get("password").is_none(),
        "a password is never returned: {carl}"
    );
    let group = s
        .ok(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Support", "members": []})),
        )
        .await;
    let gid = group["id"].as_str().unwrap().to_owned();
    s.ok(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": carl_id, "display": "carl@x.com"}]}]))),
    )
    .await;
    s.synced().await;
    assert_eq!(tc.group_path_of("carl@x.com"), "Company/Support");

    // Okta renames a group with a pathless replace that repeats its id, and
    // updates a user with PUT of the whole resource.
    s.ok(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "replace", "value": {"id": gid, "displayName": "Support Team"}}]),
        )),
    )
    .await;
    let replaced = s
        .ok("PUT", &format!("/Users/{carl_id}"), Some(okta_user("Lead")))
        .await;
    assert_eq!(replaced["id"], carl_id.as_str());
    assert_eq!(replaced["title"], "Lead");
    s.synced().await;
    assert_eq!(tc.group_path_of("carl@x.com"), "Company/Support Team");

    // Deactivation.
    s.ok(
        "PATCH",
        &format!("/Users/{carl_id}"),
        Some(patch(
            json!([{"op": "replace", "value": {"active": false}}]),
        )),
    )
    .await;
    s.synced().await;
    assert!(!tc.is_enabled("carl@x.com"));
    let gone = s
        .ok(
            "GET",
            &format!("/Users?filter={}", query(r#"userName eq "carl@x.com""#)),
            None,
        )
        .await;
    assert_eq!(
        gone["Resources"][0]["active"], false,
        "SCIM still shows the user, inactive"
    );
}

#[tokio::test]
async fn a_push_that_would_disable_too_many_is_refused_alerted_and_answered_correctly() {
    let hook = WebhookReceiver::start();
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc).env("NOTIFY_WEBHOOK_URL", hook.url());
    let s = Scim::start(&p);
    let mut ids = Vec::new();
    for i in 0..10 {
        let u = s
            .ok(
                "POST",
                "/Users",
                Some(entra_user(
                    &format!("u{i}@x.com"),
                    "U",
                    &i.to_string(),
                    "Ops",
                    &format!("E{i}"),
                )),
            )
            .await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    s.synced().await;
    assert_eq!(tc.user_count(), 10);
    drop(s);
    // The six deactivations reach a server that does not sync them one by
    // one (its quiet period is long); the next start syncs them together.
    let quiet = p.env("SCIM_SYNC_DELAY_SECONDS", "3600");
    let mut s = Scim::start_logging(&quiet, "quiet.log");
    for id in &ids[..6] {
        let u = s
            .ok(
                "PATCH",
                &format!("/Users/{id}"),
                Some(patch(
                    json!([{"op": "Replace", "path": "active", "value": false}]),
                )),
            )
            .await;
        assert_eq!(u["active"], false, "the provider is told what it set");
    }
    assert_eq!(s.terminate().code(), Some(0));
    let p = quiet.env("SCIM_SYNC_DELAY_SECONDS", "1");
    let s = Scim::start_logging(&p, "restarted.log");
    s.sync_ended("refused").await;
    for i in 0..10 {
        assert!(
            tc.is_enabled(&format!("u{i}@x.com")),
            "nobody is disabled by a refused sync"
        );
    }
    assert_eq!(
        s.ok("GET", &format!("/Users/{}", ids[0]), None).await["active"],
        false
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hook.bodies().iter().any(|b| b["outcome"] == "refused") {
        assert!(Instant::now() < deadline, "no alert: {:?}", hook.bodies());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alert = hook
        .bodies()
        .into_iter()
        .find(|b| b["outcome"] == "refused")
        .unwrap();
    assert_eq!(alert["stage"], "scim-server");
    assert!(
        alert["text"].as_str().unwrap().contains("REFUSED"),
        "{alert}"
    );
    assert!(s.log().contains("raise TIMECAMP_MAX_DEACTIVATIONS"));
}

#[tokio::test]
async fn ids_and_changes_survive_a_kill_and_an_unsynced_change_is_synced_after_restart() {
    let tc = FakeTimecamp::start(ROOT);
    // A long quiet period: the first server never syncs.
    let p = project(&tc).env("SCIM_SYNC_DELAY_SECONDS", "3600");
    let mut s = Scim::start(&p);
    let ann = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN")),
        )
        .await;
    let id = ann["id"].as_str().unwrap().to_owned();
    // The first save is a snapshot; the next ones go to the changes file.
    let bob = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("bob@x.com", "Bob", "Brown", "Ops", "E-BOB")),
        )
        .await;
    let title = patch(json!([{"op": "replace", "path": "title", "value": "Lead"}]));
    s.ok("PATCH", &format!("/Users/{id}"), Some(title)).await;
    // Killed right after the answer: what was answered is on disk.
    s.kill();
    assert!(p.exists("var/scim_population.json"));
    assert!(p.exists("var/scim_population.changes.json"));
    // What a kill in the middle of a save leaves: the temporary files it
    // was writing, as large as the population. Every crash would add some.
    let leftovers = [
        "var/.scim_population.json.a1B2c3.tmp",
        "var/.scim_population.changes.json.Zz9Yx8.tmp",
    ];
    for name in leftovers {
        std::fs::write(p.path(name), b"{\"format\": 1, \"snap").unwrap();
    }
    let p = p.env("SCIM_SYNC_DELAY_SECONDS", "1");
    let s = Scim::start_logging(&p, "scim2.log");
    for name in leftovers {
        assert!(!p.exists(name), "{name} is left");
    }
    let again = s.ok("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(again["userName"], "ann@x.com");
    assert_eq!(again["title"], "Lead");
    assert_eq!(again["meta"]["created"], ann["meta"]["created"]);
    let bob_id = bob["id"].as_str().unwrap();
    assert_eq!(
        s.ok("GET", &format!("/Users/{bob_id}"), None).await["userName"],
        "bob@x.com"
    );
    assert!(s.log().contains("not synced yet"), "{}", s.log());
    s.synced().await;
    assert_eq!(tc.group_path_of("ann@x.com"), "Company/Sales");
}

#[tokio::test]
async fn a_leavers_address_pushed_for_someone_else_never_takes_over_the_leavers_account() {
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc).env("TIMECAMP_MAX_DEACTIVATIONS", "100%");
    let s = Scim::start(&p);
    let ann = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN")),
        )
        .await;
    s.synced().await;
    let account = tc.user_id("ann@x.com").unwrap();
    drop(s);
    // Ann leaves, and her address goes to a newcomer (another externalId)
    // before any sync has disabled her account.
    let quiet = p.env("SCIM_SYNC_DELAY_SECONDS", "3600");
    let mut s = Scim::start_logging(&quiet, "quiet.log");
    let id = ann["id"].as_str().unwrap();
    s.ok("DELETE", &format!("/Users/{id}"), None).await;
    let newcomer = entra_user("ann@x.com", "Ann", "Other", "Ops", "E-NEW");
    let (status, body) = s.call("POST", "/Users", Some(newcomer.clone())).await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{body}"
    );
    assert_eq!(s.terminate().code(), Some(0));
    // The sync disables Ann; the provider's retry is then accepted, and the
    // sync holds the newcomer back from her account as a reused address.
    let p = quiet.env("SCIM_SYNC_DELAY_SECONDS", "1");
    let s = Scim::start_logging(&p, "after.log");
    s.synced().await;
    assert!(!tc.is_enabled("ann@x.com"));
    s.ok("POST", "/Users", Some(newcomer)).await;
    s.synced().await;
    assert_eq!(tc.user_id("ann@x.com"), Some(account));
    assert!(!tc.is_enabled("ann@x.com"), "{}", s.log());
    assert_eq!(tc.display_name("ann@x.com").as_deref(), Some("Ann Smith"));
    assert_eq!(
        tc.setting_of("ann@x.com", "external_id").as_deref(),
        Some("E-ANN")
    );
}

#[tokio::test]
async fn sigterm_during_a_sync_stops_it_between_requests_and_the_next_start_finishes() {
    let tc = FakeTimecamp::start(ROOT).latency(Duration::from_millis(100));
    let p = project(&tc).env("TIMECAMP_CONCURRENCY", "1");
    let mut s = Scim::start(&p);
    for i in 0..30 {
        s.ok(
            "POST",
            "/Users",
            Some(entra_user(
                &format!("u{i}@x.com"),
                "U",
                &i.to_string(),
                "Ops",
                &format!("E{i}"),
            )),
        )
        .await;
    }
    // Wait until the sync writes to TimeCamp, then stop the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    while tc.writes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the sync did not start:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = s.terminate();
    assert_eq!(status.code(), Some(0), "{}", s.log());
    let log = s.log();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("scim-server stopped"), "{log}");
    let s = Scim::start_logging(&p, "scim2.log");
    s.synced().await;
    for i in 0..30 {
        assert!(
            tc.user_id(&format!("u{i}@x.com")).is_some(),
            "u{i} was created after the restart"
        );
    }
}

#[tokio::test]
async fn hostile_requests_get_scim_errors_and_the_server_keeps_answering() {
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc).env("SCIM_SYNC_DELAY_SECONDS", "3600");
    let s = Scim::start(&p);
    let ann = s
        .ok(
            "POST",
            "/Users",
            Some(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN")),
        )
        .await;
    let id = ann["id"].as_str().unwrap();

    // A body over the limit is refused from its announced length, or when
    // the limit is reached while it streams.
    let huge = raw_post(&s, "Content-Length: 2097152\r\n", &[]);
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    assert!(huge.contains("\"status\":\"413\""), "{huge}");
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
    let streamed = raw_post(
        &s,
        "Transfer-Encoding: chunked\r\n",
        chunk.repeat(32).as_bytes(),
    );
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");

    for filter in [
        "userName eq",
        "userName eq \"a\" and",
        "((((((((",
        "userName regex \"a\"",
        &"x".repeat(9000),
    ] {
        let (status, body) = s
            .call("GET", &format!("/Users?filter={}", query(filter)), None)
            .await;
        assert_eq!(
            (status, body["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{filter}: {body}"
        );
    }
    let deep = format!(
        "emails[{}type eq \"work\"{}].value",
        "not (".repeat(150),
        ")".repeat(150)
    );
    let (status, body) = s
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": deep, "value": "a"}]),
            )),
        )
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (400, Some("invalidPath")),
        "{body}"
    );
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let resp = s
        .client
        .post(format!("{}/scim/v2/Users", s.root))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(deep_json)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Text from the request never starts a line of the log of its own.
    let (status, _) = s
        .call(
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": "evil\nFORGED - INFO - Deleted user ceo@x.com\r\u{1b}[2K"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s.call("DELETE", "/Users/x%0AFORGED%20line", None).await;
    assert_eq!(status, 404);
    assert!(
        !s.log().lines().any(|l| l.starts_with("FORGED")) && !s.log().contains('\u{1b}'),
        "{}",
        s.log()
    );
    // A key twice in one object: which userName is meant cannot be told.
    let resp = s
        .client
        .post(format!("{}/scim/v2/Users", s.root))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(format!(
            r#"{{"schemas": ["{USER}"], "userName": "twice@x.com", "userName": "ann@x.com"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (status, body) = s
        .call("PATCH", &format!("/Users/{id}"), Some(json!("not a patch")))
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (400, Some("invalidSyntax"))
    );
    let resp = s
        .client
        .post(format!("{}/scim/v2/Users", s.root))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body("userName=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    // Thousands of concurrent requests: each gets an answer, none a crash.
    let before = rss_kib(s.pid());
    let mut tasks = tokio::task::JoinSet::new();
    // One client: it opens a connection for each request in flight.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for i in 0..2000 {
        let client = client.clone();
        let url = if i % 2 == 0 {
            format!(
                "{}/scim/v2/Users?filter={}",
                s.root,
                query(r#"userName eq "ann@x.com""#)
            )
        } else {
            format!("{}/scim/v2/Users/{id}", s.root)
        };
        tasks.spawn(async move {
            // At the cap, a connection that has sent nothing for a second is
            // closed to make room, and on a loaded machine this client can be
            // that slow between connecting and writing: it then tries again,
            // as the identity providers retry a request whose connection
            // closed. Every request gets an answer within a few tries.
            let mut tries = 0;
            loop {
                tries += 1;
                let sent = client
                    .get(&url)
                    .bearer_auth(TOKEN)
                    .timeout(Duration::from_secs(120))
                    .send()
                    .await;
                let resp = match sent {
                    Ok(resp) => resp,
                    Err(e) if tries < 5 && !e.is_timeout() => continue,
                    Err(e) => return Err(e),
                };
                let status = resp.status().as_u16();
                let body: Value = resp.json().await?;
                // Refused ones get a SCIM error too.
                assert!(status == 200 || body["status"] == "503", "{status} {body}");
                return Ok::<(u16, u32), reqwest::Error>((status, tries));
            }
        });
    }
    let mut statuses = std::collections::BTreeMap::new();
    let mut retried = 0;
    while let Some(result) = tasks.join_next().await {
        let (status, tries) = result.unwrap().expect("every request is answered");
        *statuses.entry(status).or_insert(0) += 1;
        retried += u32::from(tries > 1);
    }
    assert!(
        retried < 200,
        "{retried} of 2,000 requests had to be sent again"
    );
    assert_eq!(statuses.values().sum::<i32>(), 2000);
    assert!(
        statuses.keys().all(|s| [200, 503].contains(s)),
        "answered or asked to come back: {statuses:?}"
    );
    let after = rss_kib(s.pid());
    assert!(
        after < before + 200 * 1024,
        "memory grew from {before} KiB to {after} KiB"
    );
    assert_eq!(s.health().await["status"], "healthy");
}

#[tokio::test]
async fn health_answers_while_every_turn_waits_for_a_body_that_never_comes() {
    use std::io::{Read, Write};
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc).env("SCIM_SYNC_DELAY_SECONDS", "3600");
    let s = Scim::start(&p);
    let addr = s.root.trim_start_matches("http://").to_owned();
    // More requests than are handled at once, each announcing a body it
    // never sends: each holds its turn until the request times out.
    let stalled: Vec<std::net::TcpStream> = (0..80)
        .map(|_| {
            let mut conn = std::net::TcpStream::connect(&addr).unwrap();
            let head = format!(
                "POST /scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{"
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A liveness probe, and a caller without the token, are answered now,
    // not when the stalled requests time out.
    assert_eq!(s.health().await["status"], "healthy");
    let (status, _) = s.call_as("GET", "/Users", None, None).await;
    assert_eq!(status, 401);
    for mut conn in stalled {
        conn.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        let read = conn.read(&mut buf);
        assert!(
            read.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "a stalled request was answered first: {read:?}"
        );
    }
}

#[tokio::test]
async fn idle_connections_are_closed_and_health_still_answers() {
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc);
    let s = Scim::start(&p);
    let addr = s.root.trim_start_matches("http://").to_owned();
    // More idle connections than the server serves at once.
    let mut idle: Vec<std::net::TcpStream> = (0..300)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    assert_eq!(s.health().await["status"], "healthy");
    // A client that never sends its headers is hung up on (after 10 s).
    let silent = idle.pop().unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0u8; 16];
    let read = std::io::Read::read(&mut &silent, &mut buf);
    assert!(
        matches!(read, Ok(0))
            || read.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection is closed"
    );
    drop(idle);
}

#[tokio::test]
async fn serves_https_from_its_own_certificate_files() {
    let certs = tempfile::tempdir().unwrap();
    scim_test_support::make_certificates(certs.path(), "IP:127.0.0.1");
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc)
        .env(
            "SCIM_TLS_CERT_FILE",
            &certs.path().join("server.pem").display().to_string(),
        )
        .env(
            "SCIM_TLS_KEY_FILE",
            &certs.path().join("server.key").display().to_string(),
        );
    let s = Scim::start(&p);
    assert!(s.root.starts_with("https://"), "{}", s.root);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(certs.path().join("ca.pem")).unwrap())
        .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/scim/v2/ServiceProviderConfig", s.root))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["meta"]["location"],
        format!("{}/scim/v2/ServiceProviderConfig", s.root)
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(s.root.replace("https://", "http://") + "/health")
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

/// Not a tokio test: the moto helpers run their own runtime.
#[test]
fn the_pushed_population_lives_in_s3_when_storage_is_s3() {
    let moto = MotoServer::start();
    moto.create_bucket("scim");
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc)
        .env("USE_S3_STORAGE", "true")
        .env("S3_ENDPOINT_URL", &moto.url())
        .env("S3_ACCESS_KEY_ID", "test")
        .env("S3_SECRET_ACCESS_KEY", "test")
        .env("S3_BUCKET_NAME", "scim")
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("S3_PATH_PREFIX", "team-a");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut s = Scim::start(&p);
    let ann = rt.block_on(async {
        let ann = s
            .ok(
                "POST",
                "/Users",
                Some(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN")),
            )
            .await;
        s.synced().await;
        ann
    });
    assert_eq!(tc.group_path_of("ann@x.com"), "Company/Sales");
    assert!(
        moto.get("scim", "team-a/var/scim_population.json")
            .is_some()
    );
    assert!(moto.get("scim", "team-a/var/users.json").is_some());
    assert!(!p.exists("var/scim_population.json"));
    // The sync's lock was an object in the bucket, which the CronJobs of
    // other pods share, and it is released; no lock file on the pod's disk.
    assert!(!p.exists("var/timecamp.lock"), "no local lock with S3");
    assert!(moto.get("scim", "team-a/var/timecamp.lock").is_none());
    assert_eq!(s.terminate().code(), Some(0));
    let s = Scim::start_logging(&p, "scim2.log");
    let again = rt.block_on(s.ok(
        "GET",
        &format!("/Users/{}", ann["id"].as_str().unwrap()),
        None,
    ));
    assert_eq!(again["userName"], "ann@x.com");
}

/// remove-empty-groups in a CronJob of another pod holds the lock object in
/// the bucket: scim-server's sync waits for it, then fails naming its holder,
/// and changes nothing in TimeCamp meanwhile.
#[test]
fn a_lock_held_in_the_bucket_by_another_pod_keeps_the_sync_from_timecamp() {
    let moto = MotoServer::start();
    moto.create_bucket("scim");
    let now = chrono::Utc::now();
    let held = json!({"holder": "remove-empty-groups, pid 7 on pod-a", "started": now.to_rfc3339(),
        "expires": (now + chrono::Duration::minutes(5)).to_rfc3339(), "renewals": 0});
    moto.put(
        "scim",
        "team-a/var/timecamp.lock",
        &serde_json::to_vec(&held).unwrap(),
    );
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc)
        .env("USE_S3_STORAGE", "true")
        .env("S3_ENDPOINT_URL", &moto.url())
        .env("S3_ACCESS_KEY_ID", "test")
        .env("S3_SECRET_ACCESS_KEY", "test")
        .env("S3_BUCKET_NAME", "scim")
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("S3_PATH_PREFIX", "team-a")
        .env("TIMECAMP_LOCK_WAIT_SECONDS", "1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut s = Scim::start(&p);
    rt.block_on(async {
        s.ok(
            "POST",
            "/Users",
            Some(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN")),
        )
        .await;
        s.sync_ended("failed").await;
    });
    assert!(
        tc.writes().is_empty(),
        "nothing changed under another's lock"
    );
    assert!(s.log().contains("pod-a"), "{}", s.log());
    assert_eq!(s.terminate().code(), Some(0));
}

#[test]
fn sync_users_refuses_the_var_directory_of_scim_server() {
    let tc = FakeTimecamp::start(ROOT);
    let p = Project::new()
        .timecamp(&tc, ROOT)
        .file("var/scim_population.json", r#"{"format": 1}"#)
        .prepared(&json!([{"timecamp_email": "a@x.com", "timecamp_user_name": "A", "timecamp_groups_breadcrumb": "", "timecamp_status": "active", "timecamp_role": "user"}]));
    p.run(env!("CARGO_BIN_EXE_sync-users"), &[])
        .expect_code(1)
        .expect_stderr("scim-server");
    assert!(tc.writes().is_empty());
}

/// POSTs `body` to /Users on a raw connection with `headers`, and returns
/// what the server answered (it may answer before reading the whole body).
fn raw_post(s: &Scim, headers: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = s.root.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/scim+json\r\n{headers}\r\n"
    );
    conn.write_all(head.as_bytes()).unwrap();
    // The server may stop reading once it has refused the body.
    let _ = conn.write_all(body);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&answer).contains("\"detail\"") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Resident memory of a process, from /proc.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// The conformance suite nobody here wrote: scim2-tester, through scim2-cli
/// (`scim2 --url URL test`), installed by scripts/test into
/// target/test-tools/scim2 (or named by `SCIM2_CLI`). Any ERROR or CRITICAL
/// check fails the test.
#[tokio::test]
async fn the_scim2_tester_conformance_suite_finds_no_error() {
    #[allow(clippy::disallowed_methods)] // the test harness's own variable, not a setting
    let cli = std::env::var_os("SCIM2_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/test-tools/scim2/bin/scim2")
        });
    assert!(
        cli.exists(),
        "{} is not installed: run scripts/test, which installs scim2-cli into target/test-tools/scim2, or set SCIM2_CLI",
        cli.display()
    );
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc).env("SCIM_SYNC_DELAY_SECONDS", "3600");
    let s = Scim::start(&p);
    let out = tokio::process::Command::new(&cli)
        .args(["--url", &format!("{}/scim/v2", s.root), "test"])
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {TOKEN}"))
        .output()
        .await
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("CRITICAL") || l.starts_with("Error"))
        .collect();
    let successes = text.lines().filter(|l| l.starts_with("SUCCESS")).count();
    assert!(failures.is_empty(), "scim2-tester failed:\n{text}");
    assert!(
        successes >= 100,
        "scim2-tester ran only {successes} checks:\n{text}"
    );
}

#[test]
fn health_says_saving_fails_without_naming_the_bucket() {
    let moto = MotoServer::start();
    moto.create_bucket("hr-secret-bucket");
    let endpoint = moto.url();
    let tc = FakeTimecamp::start(ROOT);
    let p = project(&tc)
        .env("USE_S3_STORAGE", "true")
        .env("S3_ENDPOINT_URL", &endpoint)
        .env("S3_ACCESS_KEY_ID", "test")
        .env("S3_SECRET_ACCESS_KEY", "test")
        .env("S3_BUCKET_NAME", "hr-secret-bucket")
        .env("S3_FORCE_PATH_STYLE", "true");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = Scim::start(&p);
    rt.block_on(async {
        assert_eq!(s.health().await["saving"], "ok");
        // The bucket's server goes away; the next push cannot be saved.
        drop(moto);
        let push = s
            .client
            .post(format!("{}/scim/v2/Users", s.root))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(entra_user("ann@x.com", "Ann", "Smith", "Sales", "E-ANN").to_string())
            .send();
        let pushing = tokio::spawn(push);
        let mut health = s.health().await;
        for _ in 0..200 {
            if health["status"] == "unhealthy" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            health = s.health().await;
        }
        assert_eq!(health["status"], "unhealthy", "{health}");
        assert_eq!(health["saving"], "failing; the log says why");
        let text = health.to_string();
        assert!(
            !text.contains("hr-secret-bucket")
                && !text.contains(endpoint.trim_start_matches("http://")),
            "{text}"
        );
        pushing.abort();
    });
    assert!(
        s.log().contains("cannot save the pushed population"),
        "{}",
        s.log()
    );
}
