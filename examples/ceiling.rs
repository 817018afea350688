//! The machine's HTTP ceiling for the benchmark: actix-web answering a small fixed JSON object,
//! and nothing else. `bench/run.sh` reports the service's figures as ratios to this one, so
//! that they mean something on a noisy machine.
//!
//!     cargo run --release --example ceiling -- 127.0.0.1:18090
//!
//! The address comes from the first argument, else `BIND`, else 127.0.0.1:18090. It runs
//! `WORKERS` HTTP workers when that is set, else actix's default of one per CPU core. (The
//! service on SQLite runs two per core by default, see `app::default_workers`; more workers lower
//! this ceiling: 136 000 requests/s on 2 cores with 2 workers, 111 000-113 000 with 4.)

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BIND").ok())
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let mut server = HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(r#"{"status":"ok","service":"ceiling"}"#)
            }),
        )
    });
    if let Some(workers) = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse::<usize>().ok())
    {
        server = server.workers(workers.max(1));
    }
    server.bind(bind)?.run().await
}
