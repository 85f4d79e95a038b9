//! One collection round trip on either path. Facebook Login's calls go in
//! one batch request; `graph.instagram.com` serves no batch requests (none
//! is documented for Instagram Login; the sandbox refuses them), so an
//! Instagram-login account's calls go one by one, each answering with its
//! own usage headers, under the same budget, retries and error path.

use crate::app::App;
use crate::graph::{Auth, BatchReply, Call, GraphError, Usage};
use crate::store::Login;

/// The answers of `calls` for an account collected through `login`, in order.
/// `auth` carries the account's stored token (its Page token column).
// GraphError is the one error value of every Graph call; each call has its own.
#[allow(clippy::result_large_err)]
pub async fn send_round(app: &App, login: Login, auth: Auth<'_>, calls: &[Call<'_>]) -> Result<BatchReply, GraphError> {
    let (Login::Instagram, Auth::Page(token) | Auth::User(token)) = (login, auth) else {
        return app.graph.send_batch_once(auth, calls).await;
    };
    let Some(clients) = app.instagram.as_ref() else {
        // Never send an Instagram-login token to Facebook's host.
        return Err(GraphError::transport(
            "instagram",
            None,
            "Instagram Login is not configured (IG_APP_ID is unset); this account cannot be collected".into(),
            None,
            Usage::default(),
        ));
    };
    let mut items = Vec::with_capacity(calls.len());
    let mut usage = Usage::default();
    for call in calls {
        let mut own = call.clone();
        own.auth = Auth::Instagram(token);
        let answer = clients.graph.send_once(&own).await;
        if let Ok(reply) = &answer {
            usage = reply.usage.clone();
        }
        items.push(answer);
    }
    Ok(BatchReply { items, usage })
}
