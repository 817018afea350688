//! The machine's HTTP ceiling for the benchmark: actix-web answering a small fixed JSON object,
//! with the same worker count as the service and nothing else. `bench/run.sh` reports the
//! service's figures as ratios to this one, so that they mean something on a noisy machine.
//!
//!     cargo run --release --example ceiling -- 127.0.0.1:18090

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(r#"{"status":"ok","service":"ceiling"}"#)
            }),
        )
    })
    .bind(bind)?
    .run()
    .await
}
