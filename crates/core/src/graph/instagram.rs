//! The Graph client pointed at Instagram Login's hosts (`api.instagram.com`,
//! `graph.instagram.com`): the same retries,
//! usage headers and one error path as for `graph.facebook.com`, without
//! `appsecret_proof` (Instagram Login's docs define none for these tokens).

use url::Url;

use super::GraphClient;
use crate::config::{Config, InstagramLogin};

/// One client per host: the code exchange's and the graph's.
#[derive(Debug, Clone)]
pub struct InstagramClients {
    pub api: GraphClient,
    pub graph: GraphClient,
}

impl InstagramClients {
    pub fn new(config: &Config, ig: &InstagramLogin) -> Result<Self, reqwest::Error> {
        Ok(InstagramClients {
            api: GraphClient::for_host(config, &ig.api_base_url, &ig.app_id, &ig.app_secret)?,
            graph: GraphClient::for_host(config, &ig.graph_base_url, &ig.app_id, &ig.app_secret)?,
        })
    }
}

/// `base` with `path` appended to whatever path it already has, so that a
/// base of `http://127.0.0.1:9/ig/www` (the sandbox) works like Meta's host.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path.trim_start_matches('/'));
    url.set_path(&joined);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_under_the_base_path() {
        let meta = Url::parse("https://www.instagram.com").unwrap();
        assert_eq!(
            join(&meta, "oauth/authorize").as_str(),
            "https://www.instagram.com/oauth/authorize"
        );
        let sandbox = Url::parse("http://127.0.0.1:9/ig/www/").unwrap();
        assert_eq!(join(&sandbox, "/oauth/authorize").path(), "/ig/www/oauth/authorize");
    }
}
