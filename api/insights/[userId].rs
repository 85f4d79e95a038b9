//! GET /api/insights/:userId?from=&to=&metric=&format=json|csv
use urlinsta_core::http::{Route, vercel};
use vercel_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|req| vercel::handle(req, Route::Insights))).await
}
