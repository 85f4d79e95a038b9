//! One collection round trip on either path. Facebook Login's calls go in
//! one batch request; `graph.instagram.com` serves no batch requests (none
//! is documented for Instagram Login; the sandbox refuses them), so an
//! Instagram-login account's calls go as requests of their own, a few in
//! flight at once, each answering with its own usage headers, under the
//! same budget, retries and error path.

use futures_util::StreamExt;

use crate::app::App;
use crate::graph::{Auth, BatchReply, Call, GraphError, Usage};
use crate::store::Login;

/// An Instagram-login account's requests in flight at once: its round takes
/// about as long as its slowest request rather than the sum of them, while
/// the calls Meta and our budget count stay the same. Few, because the
/// engine already collects many accounts at once.
const IN_FLIGHT: usize = 4;

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
    let requests: Vec<_> = calls
        .iter()
        .map(|call| {
            let mut own = call.clone();
            own.auth = Auth::Instagram(token);
            async move { clients.graph.send_once(&own).await }
        })
        .collect();
    let items: Vec<_> = futures_util::stream::iter(requests).buffered(IN_FLIGHT).collect().await;
    // The usage Meta reported last, as a batch's own headers report it.
    let usage = (items.iter().rev())
        .find_map(|item| item.as_ref().ok().map(|reply| reply.usage.clone()))
        .unwrap_or_default();
    Ok(BatchReply { items, usage })
}
