//! GET, POST /api/insights/:userId/media/history
use urlinsta_core::http::{Route, vercel};
use vercel_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|req| vercel::handle(req, Route::InsightsMediaHistory))).await
}
