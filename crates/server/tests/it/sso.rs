//! SAML single sign-on through the real ACS: responses recorded once from a signing IdP
//! (`tests/fixtures/saml/`, see its README) are posted to a connection pinned to the
//! names they were signed for, then followed through `/sso/token` and `/sso/profile`,
//! and bent by one byte or replayed to see each refusal and its login attempt.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use vestibule_core::Timestamp;
use vestibule_core::sso::SsoRequest;
use vestibule_test_support::{Backend, TestDb, TestServer};

/// The SP base URL, external key and IdP the fixtures were signed for (`record.py`).
const SP_BASE: &str = "https://sso.vestibule.test";
const EXTERNAL_KEY: &str = "RecordedSamlFixture000001";
const IDP_ENTITY_ID: &str = "https://idp.example.test/recorded";
const IDP_SSO_URL: &str = "https://idp.example.test/sso";
/// The AuthnRequest `response.xml` answers.
const REQUEST_ID: &str = "_RecordedAuthnRequest0001";

const IDP_CERTIFICATE: &str = include_str!("../fixtures/saml/idp-certificate.pem");
const RESPONSE: &str = include_str!("../fixtures/saml/response.xml");
const IDP_INITIATED_RESPONSE: &str = include_str!("../fixtures/saml/idp-initiated-response.xml");

/// A localhost redirect URI: allowed unregistered in dev mode.
const REDIRECT_URI: &str = "http://localhost:8123/callback";

fn acs_url() -> String {
    format!("{SP_BASE}/sso/saml/acs/{EXTERNAL_KEY}")
}

fn sp_entity_id() -> String {
    format!("{SP_BASE}/sso/saml/metadata/{EXTERNAL_KEY}")
}

fn encode(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// The server under the public URL the fixtures name, and a browser that does not follow
/// redirects (each hop is asserted).
struct Sso {
    db: TestDb,
    s: TestServer,
    browser: reqwest::Client,
}

impl Sso {
    async fn start() -> Sso {
        let db = TestDb::new(Backend::Sqlite).await;
        let s = TestServer::start(&db.url, |c| c.public_url = Some(url::Url::parse(SP_BASE).unwrap())).await;
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Sso { db, s, browser }
    }

    fn app(&self) -> &vestibule_core::Vestibule {
        &self.s.running.as_ref().unwrap().app
    }

    /// A SAML connection for the recorded IdP, created through the API in a new
    /// organization, then given the external key the fixtures were signed for (the API
    /// draws a random one).
    async fn connection(&self, saml_extra: Value) -> Value {
        let (status, org) =
            self.s.call(Method::POST, "/organizations", Some(json!({"name": "Recorded IdP Customer"}))).await;
        assert_eq!(status, 201, "{org}");
        let mut saml = json!({
            "idp_entity_id": IDP_ENTITY_ID,
            "idp_sso_url": IDP_SSO_URL,
            "idp_certificate": IDP_CERTIFICATE,
        });
        saml.as_object_mut().unwrap().extend(saml_extra.as_object().unwrap().clone());
        let body = json!({
            "organization_id": org["id"],
            "connection_type": "OktaSAML",
            "name": "Okta",
            "saml": saml,
        });
        let (status, c) = self.s.call(Method::POST, "/connections", Some(body)).await;
        assert_eq!(status, 201, "{c}");
        assert_eq!(c["state"], "active", "{c}");
        assert_eq!(c["saml"]["idp_certificate_count"], 1, "{c}");
        let id = c["id"].as_str().unwrap();
        vestibule_test_support::execute_sql(
            &self.db.url,
            &format!("UPDATE connections SET external_key = '{EXTERNAL_KEY}' WHERE id = '{id}'"),
        )
        .await;
        let (status, c) = self.s.call(Method::GET, &format!("/connections/{id}"), None).await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(c["external_key"], EXTERNAL_KEY);
        assert_eq!(c["saml"]["acs_url"], json!(acs_url()));
        assert_eq!(c["saml"]["sp_entity_id"], json!(sp_entity_id()));
        c
    }

    /// `GET /sso/authorize` for the connection: a 302 to the IdP carrying a deflated
    /// AuthnRequest and, as RelayState, the id of the request now pending.
    async fn authorize(&self, connection: &Value, state: &str) -> String {
        let url = url::Url::parse_with_params(
            &format!("{}/sso/authorize", self.s.base),
            [
                ("client_id", vestibule_server::DEV_CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
                ("response_type", "code"),
                ("connection", connection["id"].as_str().unwrap()),
                ("state", state),
            ],
        )
        .unwrap();
        let resp = self.browser.get(url).send().await.unwrap();
        let (to, q) = redirect(&resp);
        assert_eq!(to, IDP_SSO_URL);
        assert!(q.get("SAMLRequest").is_some_and(|r| !r.is_empty()), "{q:?}");
        let issued = q["RelayState"].clone();
        assert!(issued.starts_with('_') && issued.len() > 20, "{issued}");
        issued
    }

    /// Moves the pending request `issued` to the id the recorded response answers, as if
    /// the IdP had been sent that request: same connection, redirect URI and state.
    async fn answer_with_recorded_id(&self, issued: &str) {
        let store = &self.app().store;
        let (env, _) = store.find_connection_by_key(EXTERNAL_KEY).await.unwrap().expect("pinned connection");
        let now = Timestamp::now();
        let pending = store.get_sso_request(&env, issued, now).await.unwrap().expect("request pending");
        store.insert_sso_request(&env, &SsoRequest { id: REQUEST_ID.to_owned(), ..pending }).await.unwrap();
        assert!(store.consume_sso_request(&env, issued, now).await.unwrap());
    }

    /// The browser's auto-submitted form to the ACS.
    async fn post_acs(&self, xml: &str, relay_state: &str) -> reqwest::Response {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLResponse", &encode(xml))
            .append_pair("RelayState", relay_state)
            .finish();
        self.browser
            .post(format!("{}/sso/saml/acs/{EXTERNAL_KEY}", self.s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap()
    }

    /// `POST /sso/token` with the environment's client id and key.
    async fn exchange(&self, code: &str) -> (u16, Value) {
        let body = json!({
            "client_id": vestibule_server::DEV_CLIENT_ID,
            "client_secret": self.s.key,
            "grant_type": "authorization_code",
            "code": code,
        });
        let resp = self.browser.post(format!("{}/sso/token", self.s.base)).json(&body).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// `(outcome, reason)` of the connection's login attempts, newest first.
    async fn attempts(&self, connection: &Value) -> Vec<(String, Option<String>)> {
        let path = format!("/connections/{}/login_attempts?limit=100", connection["id"].as_str().unwrap());
        let (status, body) = self.s.call(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!(a["object"], "login_attempt", "{a}");
                assert_eq!(a["connection_id"], connection["id"], "{a}");
                (a["outcome"].as_str().unwrap().to_owned(), a["reason"].as_str().map(str::to_owned))
            })
            .collect()
    }
}

/// A 302's target without its query, and the query.
fn redirect(resp: &reqwest::Response) -> (String, HashMap<String, String>) {
    assert_eq!(resp.status(), 302, "expected a redirect");
    let location = resp.headers()["location"].to_str().unwrap();
    let q = url::Url::parse(location).unwrap().query_pairs().into_owned().collect();
    (location.split_once('?').map_or(location, |(to, _)| to).to_owned(), q)
}

/// The code an accepted response sends the application, with its state.
fn code_and_state(resp: &reqwest::Response, redirect_uri: &str) -> (String, Option<String>) {
    let (to, q) = redirect(resp);
    assert_eq!(to, redirect_uri);
    assert!(!q.contains_key("error"), "{q:?}");
    let code = q.get("code").cloned().expect("a code");
    assert!(code.len() >= 32, "{code}");
    (code, q.get("state").cloned())
}

/// A refusal that can name the application: back to it with `error` and no code.
fn refused_back_to_app(resp: &reqwest::Response, reason: &str, state: &str) {
    let (to, q) = redirect(resp);
    assert_eq!(to, REDIRECT_URI);
    assert!(!q.contains_key("code"), "a code was issued: {q:?}");
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_saml_response"), "{q:?}");
    assert_eq!(q["error_description"], format!("The SAML response was refused: {reason}."));
    assert_eq!(q.get("state").map(String::as_str), Some(state));
}

/// A refusal shown to the browser: a JSON error page, no redirect.
async fn refused_on_error_page(resp: reqwest::Response, reason: &str) {
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "invalid_saml_response", "{body}");
    assert_eq!(body["message"], format!("The SAML response was refused: {reason}."), "{body}");
}

fn failed(reason: &str) -> (String, Option<String>) {
    ("failed".to_owned(), Some(reason.to_owned()))
}

fn succeeded() -> (String, Option<String>) {
    ("succeeded".to_owned(), None)
}

/// `RESPONSE` with the byte at the first occurrence of `marker`, plus `offset`, replaced
/// by `with`; the byte must lie inside the signed Assertion.
fn one_byte_changed(marker: &str, offset: usize, with: u8) -> String {
    let at = RESPONSE.find(marker).unwrap_or_else(|| panic!("{marker} in the fixture")) + offset;
    let start = RESPONSE.find("<saml:Assertion ").unwrap();
    let end = RESPONSE.find("</saml:Assertion>").unwrap();
    assert!(start < at && at < end, "{marker} is inside the assertion");
    let mut bytes = RESPONSE.as_bytes().to_vec();
    assert_ne!(bytes[at], with);
    bytes[at] = with;
    let changed = String::from_utf8(bytes).unwrap();
    assert_eq!(RESPONSE.bytes().zip(changed.bytes()).filter(|(a, b)| a != b).count(), 1);
    changed
}

#[tokio::test]
async fn a_recorded_response_to_an_issued_request_signs_the_user_in() {
    let t = Sso::start().await;
    let c = t.connection(json!({})).await;

    // The SP metadata the IdP was configured from names the entity and ACS it signed for.
    let resp = t.browser.get(format!("{}/sso/saml/metadata/{EXTERNAL_KEY}", t.s.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/samlmetadata+xml");
    let metadata = resp.text().await.unwrap();
    assert!(metadata.contains(&format!("entityID=\"{}\"", sp_entity_id())), "{metadata}");
    assert!(metadata.contains(&format!("Location=\"{}\"", acs_url())), "{metadata}");

    let issued = t.authorize(&c, "opaque-state-123").await;
    t.answer_with_recorded_id(&issued).await;
    let resp = t.post_acs(RESPONSE, REQUEST_ID).await;
    let (code, state) = code_and_state(&resp, REDIRECT_URI);
    assert_eq!(state.as_deref(), Some("opaque-state-123"));

    let (status, token) = t.exchange(&code).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 600);
    let p = &token["profile"];
    assert_eq!(p["object"], "profile");
    assert!(p["id"].as_str().unwrap().starts_with("prof_"), "{p}");
    assert_eq!(p["email"], "ada@example.com");
    assert_eq!(p["idp_id"], "ada@example.com");
    assert_eq!(p["first_name"], "Ada");
    assert_eq!(p["last_name"], "Lovelace");
    assert_eq!(p["groups"], json!(["Engineering", "Admins"]));
    assert_eq!(p["connection_id"], c["id"]);
    assert_eq!(p["connection_type"], "OktaSAML");
    assert_eq!(p["organization_id"], c["organization_id"]);
    assert_eq!(p["raw_attributes"]["firstName"], "Ada");

    // The access token reads the same profile again; the code is spent.
    let access = token["access_token"].as_str().unwrap();
    let resp = t.browser.get(format!("{}/sso/profile", t.s.base)).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let again: Value = resp.json().await.unwrap();
    assert_eq!((&again["id"], &again["email"]), (&p["id"], &p["email"]));
    let (status, reuse) = t.exchange(&code).await;
    assert_eq!((status, &reuse["error"]), (400, &json!("invalid_grant")), "{reuse}");

    assert_eq!(t.attempts(&c).await, vec![succeeded()]);
    t.s.stop().await;
}

#[tokio::test]
async fn a_replayed_response_is_refused_and_each_refusal_is_recorded() {
    let t = Sso::start().await;
    let c = t.connection(json!({})).await;
    let issued = t.authorize(&c, "first").await;
    t.answer_with_recorded_id(&issued).await;
    let (code, _) = code_and_state(&t.post_acs(RESPONSE, REQUEST_ID).await, REDIRECT_URI);
    assert_eq!(t.exchange(&code).await.0, 200);

    // The request it answered is used up: the same post again answers nothing we issued.
    refused_on_error_page(t.post_acs(RESPONSE, REQUEST_ID).await, "InResponseTo does not match an issued request")
        .await;

    // Even with that request id pending once more, the assertion itself was seen.
    let issued = t.authorize(&c, "second").await;
    t.answer_with_recorded_id(&issued).await;
    refused_back_to_app(&t.post_acs(RESPONSE, REQUEST_ID).await, "assertion replayed", "second");

    assert_eq!(
        t.attempts(&c).await,
        vec![failed("assertion replayed"), failed("InResponseTo does not match an issued request"), succeeded()]
    );
    t.s.stop().await;
}

#[tokio::test]
async fn a_response_with_one_byte_of_the_assertion_changed_is_refused() {
    let t = Sso::start().await;
    let c = t.connection(json!({})).await;
    let issued = t.authorize(&c, "st").await;
    t.answer_with_recorded_id(&issued).await;

    // Who signs in, what they are called, how long the assertion lasts: each covered by
    // the assertion's signature, and each refused; none uses up the pending request.
    let changes = [
        one_byte_changed(">ada@example.com</saml:NameID>", 3, b'b'),
        one_byte_changed("<saml:AttributeValue>Ada</saml:AttributeValue>", 21, b'E'),
        one_byte_changed("NotOnOrAfter=\"2099-12-31T23:59:59Z\"><saml:AudienceRestriction>", 17, b'8'),
    ];
    for changed in &changes {
        refused_back_to_app(&t.post_acs(changed, REQUEST_ID).await, "signature invalid or missing", "st");
    }
    let refusals = vec![failed("signature invalid or missing"); changes.len()];
    assert_eq!(t.attempts(&c).await, refusals);

    // The response as signed still answers the request, for the subject it named.
    let (code, state) = code_and_state(&t.post_acs(RESPONSE, REQUEST_ID).await, REDIRECT_URI);
    assert_eq!(state.as_deref(), Some("st"));
    let (status, token) = t.exchange(&code).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(
        (&token["profile"]["idp_id"], &token["profile"]["first_name"]),
        (&json!("ada@example.com"), &json!("Ada"))
    );
    let attempts = t.attempts(&c).await;
    assert_eq!(attempts[0], succeeded());
    assert_eq!(attempts[1..], refusals[..]);
    t.s.stop().await;
}

#[tokio::test]
async fn an_unsolicited_response_signs_in_only_where_idp_initiated_login_is_allowed() {
    let t = Sso::start().await;
    let c = t.connection(json!({})).await;
    assert_eq!(c["saml"]["allow_idp_initiated"], false);
    refused_on_error_page(
        t.post_acs(IDP_INITIATED_RESPONSE, "").await,
        "IdP-initiated login is not enabled for this connection",
    )
    .await;

    let id = c["id"].as_str().unwrap();
    let (status, updated) =
        t.s.call(Method::PATCH, &format!("/connections/{id}"), Some(json!({"saml": {"allow_idp_initiated": true}})))
            .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["saml"]["allow_idp_initiated"], true);

    // Allowed, it still needs somewhere to send the user.
    let resp = t.post_acs(IDP_INITIATED_RESPONSE, "").await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "No default redirect URI is registered for IdP-initiated logins.", "{body}");

    let (status, uri) =
        t.s.call(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": "https://app.example/cb"}))).await;
    assert_eq!((status, &uri["default"]), (201, &json!(true)), "{uri}");
    let (code, state) = code_and_state(&t.post_acs(IDP_INITIATED_RESPONSE, "").await, "https://app.example/cb");
    assert_eq!(state, None);
    let (status, token) = t.exchange(&code).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["profile"]["email"], "ada@example.com");
    assert_eq!(token["profile"]["connection_id"], c["id"]);
    assert_eq!(token["profile"]["organization_id"], c["organization_id"]);

    // No request to use up: the replay cache alone refuses it the second time.
    let (to, q) = redirect(&t.post_acs(IDP_INITIATED_RESPONSE, "").await);
    assert_eq!(to, "https://app.example/cb");
    assert!(!q.contains_key("code"), "{q:?}");
    assert_eq!(q["error_description"], "The SAML response was refused: assertion replayed.");

    assert_eq!(
        t.attempts(&c).await,
        vec![
            failed("assertion replayed"),
            succeeded(),
            failed("no default redirect URI for an IdP-initiated login"),
            failed("IdP-initiated login is not enabled for this connection"),
        ]
    );
    t.s.stop().await;
}

#[tokio::test]
async fn idp_metadata_urls_that_embed_a_private_ipv4_are_not_fetched() {
    let (_db, s) = vestibule_test_support::sqlite_server().await;
    let (status, org) = s.call(Method::POST, "/organizations", Some(json!({"name": "Metadata Probe"}))).await;
    assert_eq!(status, 201, "{org}");
    for url in [
        "http://[::a9fe:a9fe]/latest/meta-data",
        "http://[::127.0.0.1]/latest/meta-data",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://[2002:a9fe:a9fe::]/latest/meta-data",
        "http://[fec0::1]/latest/meta-data",
        "http://2852039166/latest/meta-data",
    ] {
        let body = json!({
            "organization_id": org["id"],
            "connection_type": "GenericSAML",
            "saml_options": {"idp_metadata_url": url},
        });
        let (status, got) = s.call(Method::POST, "/connections", Some(body)).await;
        assert_eq!((status, got["code"].as_str()), (422, Some("invalid_request_parameters")), "{url}: {got}");
        assert_eq!(got["errors"][0]["field"], "saml_options.idp_metadata_url", "{url}: {got}");
        assert_eq!(got["errors"][0]["code"], "metadata_url_not_allowed", "{url}: {got}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_profile_request_without_a_valid_token_answers_the_specs_401() {
    let (_db, s) = vestibule_test_support::sqlite_server().await;
    for auth in [None, Some("Bearer nope"), Some("Basic c2tfdGVzdF9kZWZhdWx0Og==")] {
        let mut req = s.http.get(format!("{}/sso/profile", s.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert_eq!(resp.headers()["content-type"], "application/json", "{auth:?}");
        // The v0.61 schema requires `error: "Unauthorized"`; the WorkOS envelope stays.
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "Unauthorized", "message": "Unauthorized", "code": "unauthorized"}),
            "{auth:?}"
        );
    }
    s.stop().await;
}
