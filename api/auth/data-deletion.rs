//! POST /api/auth/data-deletion (Meta's Data Deletion Request Callback, form field signed_request)
use urlinsta_core::http::{Route, vercel};
use vercel_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|req| vercel::handle(req, Route::AuthDataDeletion))).await
}
