//! Cross-site request refusal for the routes a session cookie can change
//! things with. SameSite=Lax alone is not enough: sibling subdomains of a
//! custom domain are "same-site", and old browsers ignore it. So such a
//! request must show that it came from this very origin: by `Origin`, or,
//! when a browser sends none, by `Sec-Fetch-Site: same-origin`. Bearer-key
//! callers (operators, cron) are no browsers and are not affected.

use hyper::Method;

use super::{ApiError, ApiRequest, Route, session};
use crate::config::Config;

impl Route {
    /// Routes that change state and accept the session cookie.
    fn changes_state_by_cookie(self) -> bool {
        matches!(
            self,
            Route::AuthDisconnect | Route::AuthLogout | Route::InsightsRefresh | Route::InsightsMediaHistory
        )
    }
}

/// 403 for a cookie-carrying request to a state-changing route from anywhere but this origin.
pub fn refuse_cross_site(config: &Config, route: Route, req: &ApiRequest) -> Result<(), ApiError> {
    let reads = matches!(req.method, Method::GET | Method::HEAD);
    if !route.changes_state_by_cookie() || reads || req.bearer().is_some() || !session::has_session_cookie(req) {
        return Ok(());
    }
    if from_this_origin(config, req) {
        return Ok(());
    }
    tracing::warn!(
        route = route.pattern(),
        origin = req.header("origin").map(|o| o.chars().take(100).collect::<String>()),
        fetch_site = req.header("sec-fetch-site"),
        "cross-site request refused"
    );
    Err(ApiError::Forbidden(
        "cross-site requests are refused: send this from urlinsta's own page".into(),
    ))
}

fn from_this_origin(config: &Config, req: &ApiRequest) -> bool {
    match req.header("origin") {
        Some(origin) => own_origins(config, req).iter().any(|o| o.eq_ignore_ascii_case(origin)),
        None => req
            .header("sec-fetch-site")
            .is_some_and(|s| s.eq_ignore_ascii_case("same-origin")),
    }
}

/// This request's own origin (scheme and `Host`), and the deployment's public
/// one (that of OAUTH_REDIRECT_URI) for proxies that rewrite `Host`.
fn own_origins(config: &Config, req: &ApiRequest) -> Vec<String> {
    let mut origins = vec![config.oauth_redirect_uri.origin().ascii_serialization()];
    if let Some(host) = req.header("host") {
        let scheme = if req.secure { "https" } else { "http" };
        origins.push(format!("{scheme}://{host}"));
    }
    origins
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn request(headers: &[(&'static str, &str)]) -> ApiRequest {
        let mut req = ApiRequest::new(Method::POST, "/api/auth/logout");
        req.headers.insert("host", "app.example".parse().unwrap());
        req.headers.insert("cookie", "urlinsta_session=x".parse().unwrap());
        for (k, v) in headers {
            req.headers.insert(*k, v.parse().unwrap());
        }
        req
    }

    fn allowed(config: &Config, headers: &[(&'static str, &str)]) -> bool {
        refuse_cross_site(config, Route::AuthLogout, &request(headers)).is_ok()
    }

    #[test]
    fn only_this_origin_may_post_with_the_cookie() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [
            (
                "DATABASE_PATH".to_string(),
                dir.path().join("u.db").display().to_string(),
            ),
            (
                "OAUTH_REDIRECT_URI".to_string(),
                "https://urlinsta.example/api/auth/callback".to_string(),
            ),
        ]
        .into_iter()
        .collect();
        let config = Config::from_vars(&vars).unwrap();
        assert!(allowed(&config, &[("origin", "http://app.example")]));
        assert!(allowed(&config, &[("origin", "https://urlinsta.example")]));
        assert!(allowed(&config, &[("sec-fetch-site", "same-origin")]));
        for refused in [
            &[("origin", "https://evil.example")][..],
            &[("origin", "http://sub.app.example")][..],
            &[("origin", "null")][..],
            &[("origin", "https://app.example")][..],
            &[("origin", "https://evil.example"), ("sec-fetch-site", "same-origin")][..],
            &[("sec-fetch-site", "cross-site")][..],
            &[("sec-fetch-site", "same-site")][..],
            &[("sec-fetch-site", "none")][..],
            &[][..],
        ] {
            assert!(!allowed(&config, refused), "{refused:?}");
        }
        // Not a browser with a cookie: the route's own checks decide.
        let mut bearer = request(&[("origin", "https://evil.example")]);
        bearer.headers.insert("authorization", "Bearer key".parse().unwrap());
        assert!(refuse_cross_site(&config, Route::AuthLogout, &bearer).is_ok());
        let mut no_cookie = request(&[("origin", "https://evil.example")]);
        no_cookie.headers.remove("cookie");
        assert!(refuse_cross_site(&config, Route::AuthLogout, &no_cookie).is_ok());
        assert!(refuse_cross_site(&config, Route::AuthStatus, &request(&[])).is_ok());
        // A route that reads by GET and changes by POST: only the POST is checked.
        let history = Route::InsightsMediaHistory;
        let evil = request(&[("origin", "https://evil.example")]);
        assert!(refuse_cross_site(&config, history, &evil).is_err());
        let mut read = request(&[("origin", "https://evil.example")]);
        read.method = Method::GET;
        assert!(refuse_cross_site(&config, history, &read).is_ok());
    }
}
