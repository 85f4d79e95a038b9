//! GET /api/cron/refresh-tokens (Vercel Cron, 0 */6 * * *)
use urlinsta_core::http::{Route, vercel};
use urlinsta_core::jobs::JobKind;
use vercel_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|req| {
        vercel::handle(req, Route::Cron(JobKind::RefreshTokens))
    }))
    .await
}
