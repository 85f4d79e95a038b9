//! GET|POST /api/webhooks/instagram (Meta's subscription check and signed story_insights deliveries)
use urlinsta_core::http::{Route, vercel};
use vercel_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|req| vercel::handle(req, Route::WebhookInstagram))).await
}
