//! A started sandbox plus a client that speaks to it like urlinsta does.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::Sha256;
use urlinsta_sandbox::{Control, Sandbox, SandboxConfig};

pub const V: &str = "v26.0";
pub const APP_ID: &str = "sandbox-app";
pub const SECRET: &str = "sandbox-secret";
pub const USER_ID: &str = "100000000000001";
pub const PAGE_ID: &str = "200000000000001";
pub const IG_ID: &str = "17841400000000001";
pub const REDIRECT: &str = "http://localhost:3000/api/auth/callback";
pub const SCOPES: &str = "instagram_basic,instagram_manage_insights,pages_show_list,pages_read_engagement";

pub struct Env {
    pub sandbox: Sandbox,
    pub control: Control,
    pub http: reqwest::Client,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// (code, subcode) of a Graph error body.
    pub fn error(&self) -> (i64, Option<i64>) {
        let body = self.json();
        let error = &body["error"];
        assert!(error.is_object(), "expected an error, got {body}");
        (error["code"].as_i64().unwrap_or(-1), error["error_subcode"].as_i64())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> url::Url {
        url::Url::parse(self.header("location").expect("a Location header")).expect("an absolute URL")
    }
}

pub async fn start() -> Env {
    start_with(SandboxConfig::default()).await
}

pub async fn start_with(config: SandboxConfig) -> Env {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    Env {
        control: sandbox.control(),
        sandbox,
        http,
    }
}

pub fn proof(token: &str) -> String {
    sign(token)
}

pub fn sign(message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn app_token() -> String {
    format!("{APP_ID}|{SECRET}")
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sandbox.base_url(), path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the sandbox answers");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.expect("a body"),
        }
    }

    /// GET `path` with exactly these parameters.
    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.send(self.http.get(self.url(path)).query(params)).await
    }

    /// A Graph GET with `token` and its legacy appsecret_proof.
    pub async fn graph(&self, path: &str, token: &str, params: &[(&str, &str)]) -> Answer {
        let proof = proof(token);
        let mut all = vec![("access_token", token), ("appsecret_proof", proof.as_str())];
        all.extend_from_slice(params);
        self.get(&format!("/{V}{path}"), &all).await
    }

    /// The dialog for `scopes`, read like a browser: the confirm form's
    /// action and hidden fields.
    pub async fn dialog(&self, scopes: &str, state: &str) -> (String, Vec<(String, String)>) {
        let page = self
            .get(
                &format!("/{V}/dialog/oauth"),
                &[
                    ("client_id", APP_ID),
                    ("redirect_uri", REDIRECT),
                    ("scope", scopes),
                    ("state", state),
                    ("response_type", "code"),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        (form_action(&page.text), hidden_inputs(&page.text))
    }

    /// Clicks a button of the dialog and returns the redirect.
    pub async fn decide(&self, scopes: &str, state: &str, decision: &str) -> Answer {
        let (action, mut form) = self.dialog(scopes, state).await;
        form.push(("decision".into(), decision.into()));
        let answer = self.send(self.http.post(self.url(&action)).form(&form)).await;
        assert_eq!(answer.status, 302, "{}", answer.text);
        answer
    }

    /// Allow in the dialog, then return the code.
    pub async fn code(&self, scopes: &str) -> String {
        let back = self.decide(scopes, "st4te", "allow").await;
        query(&back.location(), "code").expect("a code")
    }

    pub async fn exchange_code(&self, code: &str, redirect: &str) -> Answer {
        self.get(
            &format!("/{V}/oauth/access_token"),
            &[
                ("client_id", APP_ID),
                ("client_secret", SECRET),
                ("redirect_uri", redirect),
                ("code", code),
            ],
        )
        .await
    }

    pub async fn exchange_token(&self, token: &str) -> Answer {
        self.get(
            &format!("/{V}/oauth/access_token"),
            &[
                ("grant_type", "fb_exchange_token"),
                ("client_id", APP_ID),
                ("client_secret", SECRET),
                ("fb_exchange_token", token),
            ],
        )
        .await
    }

    /// The whole login to a short-lived user token.
    pub async fn short_token(&self) -> String {
        let code = self.code(SCOPES).await;
        let answer = self.exchange_code(&code, REDIRECT).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["access_token"].as_str().expect("a token").to_string()
    }

    /// The whole login to a long-lived user token.
    pub async fn long_token(&self) -> String {
        let short = self.short_token().await;
        let answer = self.exchange_token(&short).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["access_token"].as_str().expect("a token").to_string()
    }

    /// The default Page's token from `/me/accounts`.
    pub async fn page_token(&self, user_token: &str) -> String {
        let accounts = self.graph("/me/accounts", user_token, &[]).await.json();
        accounts["data"]
            .as_array()
            .and_then(|pages| pages.iter().find(|p| p["id"] == PAGE_ID))
            .and_then(|p| p["access_token"].as_str())
            .expect("the default page with a token")
            .to_string()
    }

    pub async fn debug(&self, token: &str) -> Value {
        let answer = self
            .get(
                &format!("/{V}/debug_token"),
                &[("input_token", token), ("access_token", &app_token())],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["data"].clone()
    }
}

pub fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn form_action(html: &str) -> String {
    let start = html.find("<form").expect("a form");
    attribute(&html[start..], "action").expect("an action")
}

fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter(|tag| tag.contains(r#"type="hidden""#))
        .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
        .collect()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(r#"{name}=""#);
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
