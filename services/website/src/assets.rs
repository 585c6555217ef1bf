//! Static files (stylesheet, avatars, favicon), embedded in the binary by `build.rs`
//! through memory-serve, which also answers `ETag` / `If-None-Match` with 304 and sets
//! `Cache-Control`. A library rather than hand-written serving: it gets conditional
//! requests, content types and compression right once.

use axum::Router;
use memory_serve::CacheControl;

pub fn router() -> Router {
    let assets = memory_serve::load!()
        .index_file(None)
        // Assets change only with a deploy; a day fresh, then revalidated by ETag.
        .cache_control(CacheControl::Custom("public, max-age=86400"))
        .into_router::<()>();
    Router::new()
        // `nest`, not `nest_service`: a missing asset falls through to the site's 404 page.
        .nest("/static", assets.clone())
        // Browsers ask for it at the root whatever the pages say.
        .route_service("/favicon.ico", assets.into_service::<axum::body::Body>())
}
