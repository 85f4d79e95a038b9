//! One Graph request as data: its method, path, parameters and credential,
//! described without a URL so that nothing secret is ever formatted.

use crate::secret::AccessToken;

/// Which credential a call carries; explicit at every call site.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    User(&'a AccessToken),
    Page(&'a AccessToken),
    /// `APP_ID|APP_SECRET`, for `debug_token`.
    App,
    /// Token endpoints authenticate with `client_secret` in the parameters.
    None,
    /// An Instagram-login token on Instagram Login's hosts: sent as the
    /// `access_token` parameter, as Meta documents it there, without proof.
    Instagram(&'a AccessToken),
}

/// One Graph request, described without a URL so that nothing secret is ever formatted.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: reqwest::Method,
    /// Relative to the version, e.g. `me/accounts` or `17841.../insights`.
    pub path: String,
    pub params: Vec<(String, String)>,
    pub auth: Auth<'a>,
    /// Without the `vNN.0/` prefix (Instagram Login's token endpoints).
    pub unversioned: bool,
}

impl<'a> Call<'a> {
    pub fn get(path: impl Into<String>, auth: Auth<'a>) -> Self {
        Call::new(reqwest::Method::GET, path.into(), auth)
    }

    /// A POST; its parameters travel as a form body (batches can be long).
    pub fn post(path: impl Into<String>, auth: Auth<'a>) -> Self {
        Call::new(reqwest::Method::POST, path.into(), auth)
    }

    pub fn delete(path: impl Into<String>, auth: Auth<'a>) -> Self {
        Call::new(reqwest::Method::DELETE, path.into(), auth)
    }

    fn new(method: reqwest::Method, path: String, auth: Auth<'a>) -> Self {
        Call {
            method,
            path,
            params: Vec::new(),
            auth,
            unversioned: false,
        }
    }

    /// Addresses `path` at the host's root, without the version.
    pub fn unversioned(mut self) -> Self {
        self.unversioned = true;
        self
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push((key.to_string(), value.into()));
        self
    }

    /// The name used in logs and errors: the path without ids' meaning lost.
    pub(super) fn operation(&self) -> String {
        self.path.clone()
    }

    /// The metrics the call asks for (its `metric` parameter, or an
    /// `insights.metric(...)` expansion in its `fields`), which an error may refuse.
    pub(super) fn requested_metrics(&self) -> Vec<&str> {
        self.params
            .iter()
            .flat_map(|(k, v)| match k.as_str() {
                "metric" => Some(v.as_str()),
                "fields" => v
                    .split("insights.metric(")
                    .nth(1)
                    .and_then(|rest| rest.split(')').next()),
                _ => None,
            })
            .flat_map(|list| list.split(','))
            .collect()
    }
}
