//! The registry in formats other tools read as they are: the events as an iCalendar feed that
//! calendar programs subscribe to (`calendar`), and the joint projects and the hub as IATI
//! Standard 2.03 files for the IATI registry (`iati`). Each format is written by a maintained
//! crate (`icalendar`, `quick-xml`) from records read through the resources' own queries, a
//! bounded chunk at a time.

pub mod calendar;
pub mod iati;

use actix_web::http::header::{self, HeaderValue};

/// `Content-Disposition: inline; filename="NAME"`: shown in place, saved under NAME.
fn inline_file(name: &'static str) -> (header::HeaderName, HeaderValue) {
    let value = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"));
    (header::CONTENT_DISPOSITION, value)
}
