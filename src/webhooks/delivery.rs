//! Sending deliveries: the worker each instance runs, the signing (Standard Webhooks 1.0), the
//! retry schedule, and the address rules that keep webhooks off internal networks (SSRF).
//!
//! **The worker.** Every second, and at once when a commit wrote deliveries, it looks for
//! active webhooks whose first pending delivery (in feed order) is due, and claims each with a
//! lease (`queries::claim`: on PostgreSQL `FOR UPDATE SKIP LOCKED` on the webhook's row, then
//! `lease_until`), so that two instances never send to one webhook at once. It then sends
//! that webhook's deliveries one at a time in feed order, holding no transaction (and on
//! SQLite no write lock) during an HTTP call, and records the outcomes of each run of up to
//! [`PER_WRITE`] attempts in one write (an attempt made but not yet recorded when the instance
//! dies is made again). A delivery that fails ends its run and holds back the later ones until
//! it is delivered or marked failed. Before each attempt after a run's first the worker reads
//! the webhook's version (`queries::leased_version`): a change committed meanwhile
//! (deactivation, deletion, a new secret or URL) ends the run, so no attempt starts with the
//! old settings. Each body is made from the change's audit entry when it
//! is sent (`queries::heads`), the same bytes on every attempt. An instance that dies
//! leaves its lease to expire ([`LEASE`]); its deliveries are still in the database and are
//! sent by whichever instance claims the webhook next: at least once, never lost.
//!
//! **Addresses.** Unless `WEBHOOK_ALLOW_PRIVATE_TARGETS`, a target on a loopback, private,
//! link-local, carrier-grade NAT, unique-local, IPv4-mapped, multicast, unspecified or other
//! non-public address ([`is_forbidden`]) is refused when the webhook is registered (its name
//! resolved, every address checked) and at every send: the sender's resolver
//! ([`CheckedResolver`]) checks every address a name resolves to and hands the connector only
//! checked ones, so the connection goes to an address that was checked; redirects are not
//! followed and no proxy is used.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;
use tokio::sync::Notify;

use super::model::{DeliveryStatus, message_id};
use super::queries::{self, AttemptRecord};
use crate::config::WebhookSettings;
use crate::db::{Db, DbConnection};
use crate::error::ApiError;

/// How long a claim on a webhook lasts without being renewed (each attempt renews it). Longer
/// than one attempt can take ([`TIMEOUT`]); after a crash, the webhook waits this long at most.
pub const LEASE: Duration = Duration::from_secs(30);
/// How long one attempt may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the worker looks for due deliveries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);
/// The least time between two looks when commits wake the worker: under a write load every
/// commit wakes it, and each look is a read (on PostgreSQL two queries) that finds nothing
/// new while a webhook's deliveries are being sent (its drain reads them itself).
const WAKE_GAP: Duration = Duration::from_millis(10);
/// Webhooks one instance sends to at once.
const PARALLEL: usize = 8;
/// Deliveries sent under one claim before the webhook is given back (others may take it).
const PER_CLAIM: usize = 500;
/// Deliveries read, sent in order and then recorded in one write: a write per delivery queued
/// behind the creates on SQLite's one writer (about 130 deliveries/s under a full create load).
/// An attempt made but not recorded yet is sent again after a crash: still at least once.
const PER_WRITE: usize = 64;
/// How long a run of attempts goes on before their outcomes are recorded, which renews the
/// lease: one more attempt ([`TIMEOUT`]) after it still ends well inside [`LEASE`].
const RECORD_EVERY: Duration = Duration::from_secs(5);
/// The most of a receiver's answer that is kept as `last_error`.
const MAX_ERROR: usize = 500;

/// A new signing secret: `whsec_` and the base64 of 32 random bytes; and what is stored of it
/// (the key, the base64 after the prefix).
pub fn new_secret() -> (String, String) {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let stored = STANDARD.encode(key);
    (format!("whsec_{stored}"), stored)
}

/// `webhook-signature`'s value: `v1,` and the base64 HMAC-SHA256, keyed with the secret's
/// bytes, of `{webhook-id}.{webhook-timestamp}.{body}` (Standard Webhooks 1.0).
pub fn sign(
    stored_key: &str,
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, String> {
    let key = STANDARD
        .decode(stored_key)
        .map_err(|_| "the stored signing key is not base64".to_owned())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Whether a webhook may not be sent to `ip` (unless WEBHOOK_ALLOW_PRIVATE_TARGETS): every
/// address that is not a public unicast one. Loopback, private (10/8, 172.16/12, 192.168/16),
/// link-local (169.254/16, with the cloud metadata address 169.254.169.254; fe80::/10),
/// carrier-grade NAT (100.64/10), unique-local (fc00::/7, with fd00:ec2::254), IPv4-mapped
/// and IPv4-compatible IPv6, NAT64 and 6to4 of a refused IPv4 address, unspecified, multicast,
/// broadcast, and the reserved, benchmarking and documentation ranges.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || ip.is_multicast()
        || a >= 240 // reserved, and the broadcast address
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique-local, fd00:ec2::254 among them
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || ip.to_ipv4_mapped().is_some() // ::ffff:a.b.c.d: another way to write IPv4
        || segments[..6] == [0; 6] // ::a.b.c.d, IPv4-compatible (deprecated)
        || (segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // NAT64
            && forbidden_v4(embedded(segments[6], segments[7])))
        || (segments[0] == 0x2002 && forbidden_v4(embedded(segments[1], segments[2]))) // 6to4
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // discard
}

/// Why a target URL may not be registered: an address, or a name resolving to one, that
/// [`is_forbidden`] refuses. A name that does not resolve now is accepted: it is checked again
/// at each send.
pub async fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("is not a URL: {e}"))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let refused = |ip: IpAddr| {
        format!(
            "must point at a public address; {ip} is loopback, private, link-local, \
             carrier-grade NAT, unique-local, IPv4-mapped, metadata or otherwise not public \
             (WEBHOOK_ALLOW_PRIVATE_TARGETS is off)"
        )
    };
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) if is_forbidden(IpAddr::V4(ip)) => Err(refused(IpAddr::V4(ip))),
        Some(url::Host::Ipv6(ip)) if is_forbidden(IpAddr::V6(ip)) => Err(refused(IpAddr::V6(ip))),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(refused(IpAddr::V4(Ipv4Addr::LOCALHOST)));
            }
            let lookup = tokio::net::lookup_host((name.as_str(), port));
            if let Ok(Ok(addresses)) = tokio::time::timeout(Duration::from_secs(3), lookup).await {
                for address in addresses {
                    if is_forbidden(address.ip()) {
                        return Err(refused(address.ip()));
                    }
                }
            }
            Ok(())
        }
        Some(_) => Ok(()),
        None => Err("must name a host".to_owned()),
    }
}

/// The sender's name resolution: every address a name resolves to is checked, and only when
/// all pass are they handed to the connector, which connects to one of them.
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(bad) = found.iter().find(|a| is_forbidden(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, which is not a public address: refused (SSRF)",
                    bad.ip()
                )
                .into());
            }
            if found.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// The outcome of one attempt.
#[derive(Debug)]
struct Attempt {
    status: Option<u16>,
    retry_after: Option<Duration>,
    error: Option<String>,
}

/// The worker of one instance: claims webhooks, sends their deliveries, records the outcomes.
pub struct Sender {
    db: Db,
    client: reqwest::Client,
    allow_private: bool,
    schedule: Vec<u64>,
    /// This instance's name in `lease_owner`.
    owner: String,
    wake: Arc<Notify>,
    /// The webhooks this instance is sending to now.
    busy: Mutex<HashSet<i64>>,
}

impl Sender {
    pub fn new(db: Db, settings: &WebhookSettings) -> Result<Self, reqwest::Error> {
        let allow_private = settings.webhook_allow_private_targets;
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!(
                "coop-registry-webhooks/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Self {
            wake: db.deliveries_written(),
            db,
            client,
            allow_private,
            schedule: settings.webhook_retry_schedule.0.clone(),
            owner: format!("instance-{}", uuid::Uuid::new_v4().simple()),
            busy: Mutex::new(HashSet::new()),
        })
    }

    /// Runs until the task is dropped: claims due webhooks and drains each in a task of its
    /// own. A database that fails is tried again later, less often the longer it fails.
    pub async fn run(self: Arc<Self>) {
        let mut tasks = tokio::task::JoinSet::new();
        let mut failures: u32 = 0;
        loop {
            let free = PARALLEL.saturating_sub(tasks.len());
            let looked = Instant::now();
            if free > 0 {
                match self.claim_due(free).await {
                    Ok(claimed) => {
                        failures = 0;
                        for (webhook, renewed) in claimed {
                            tasks.spawn(self.clone().drain(webhook, renewed));
                        }
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        log::warn!("webhook delivery: cannot look for due deliveries: {error}");
                    }
                }
            }
            let wait = POLL * 2u32.saturating_pow(failures.min(5));
            tokio::select! {
                _ = self.wake.notified() => {
                    tokio::time::sleep(WAKE_GAP.saturating_sub(looked.elapsed())).await;
                }
                _ = tokio::time::sleep(wait) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
    }

    /// Claims up to `free` webhooks whose first pending delivery is due; the scan is a read,
    /// and only a webhook with something due costs a write (its claim). Gives each with the
    /// moment before its lease was taken.
    async fn claim_due(self: &Arc<Self>, free: usize) -> Result<Vec<(i64, Instant)>, ApiError> {
        let busy: HashSet<i64> = self.busy.lock().map(|b| b.clone()).unwrap_or_default();
        let due = self
            .db
            .read(move |conn| {
                let to = horizon(conn)?;
                let now = crate::time::now();
                let mut due = Vec::new();
                for webhook in queries::unleased(conn, now)? {
                    if busy.contains(&webhook) {
                        continue;
                    }
                    if queries::head(conn, webhook, to)?.is_some_and(|head| head.due(now)) {
                        due.push(webhook);
                    }
                }
                Ok(due)
            })
            .await?;
        let mut claimed = Vec::new();
        for webhook in due.into_iter().take(free) {
            let owner = self.owner.clone();
            let asked = Instant::now();
            let taken = self
                .db
                .write(move |conn| {
                    let now = crate::time::now();
                    Ok(queries::claim(conn, webhook, &owner, now, lease_end(now))?)
                })
                .await?;
            if taken {
                if let Ok(mut busy) = self.busy.lock() {
                    busy.insert(webhook);
                }
                claimed.push((webhook, asked));
            }
        }
        Ok(claimed)
    }

    /// Sends `webhook`'s due deliveries in feed order while they succeed, then gives the
    /// lease back (taken or last renewed at `renewed`).
    async fn drain(self: Arc<Self>, webhook: i64, renewed: Instant) {
        if let Err(error) = self.send_in_order(webhook, renewed).await {
            log::warn!("webhook delivery: webhook {webhook}: {error}");
        }
        let owner = self.owner.clone();
        if let Err(error) = self
            .db
            .write(move |conn| Ok(queries::release(conn, webhook, &owner)?))
            .await
        {
            log::warn!("webhook delivery: cannot release webhook {webhook}: {error}");
        }
        if let Ok(mut busy) = self.busy.lock() {
            busy.remove(&webhook);
        }
    }

    /// Sends runs of up to [`PER_WRITE`] due deliveries in feed order, one at a time, and
    /// records each run's outcomes in one write; a delivery that fails ends the run and the
    /// drain (the later ones wait for it). A run stops early after [`RECORD_EVERY`], so that
    /// the lease taken or renewed at `renewed` is renewed before it could run out.
    async fn send_in_order(&self, webhook: i64, mut renewed: Instant) -> Result<(), ApiError> {
        let mut sent = 0;
        for _ in 0..PER_CLAIM {
            if sent >= PER_CLAIM {
                break;
            }
            let owner = self.owner.clone();
            let limit = i64::try_from((PER_CLAIM - sent).min(PER_WRITE)).unwrap_or(1);
            let next = self
                .db
                .read(move |conn| {
                    let Some(target) = queries::leased(conn, webhook, &owner)? else {
                        return Ok(None);
                    };
                    let to = horizon(conn)?;
                    let mut heads = queries::heads(conn, webhook, to, limit)?;
                    // One not due yet (a retry waiting) holds back those after it.
                    let now = crate::time::now();
                    if let Some(waiting) = heads.iter().position(|head| !head.due(now)) {
                        heads.truncate(waiting);
                    }
                    Ok(Some((target, heads)))
                })
                .await?;
            let Some((target, heads)) = next.filter(|(_, heads)| !heads.is_empty()) else {
                return Ok(());
            };
            let mut records = Vec::with_capacity(heads.len());
            let mut held_back = false;
            for (n, head) in heads.into_iter().enumerate() {
                if renewed.elapsed() >= RECORD_EVERY {
                    break;
                }
                // The first attempt follows the read of the target; a later one starts only if
                // the webhook is unchanged since (not deactivated, deleted, rotated, retargeted).
                if n > 0 && !self.unchanged(webhook, target.version).await? {
                    break;
                }
                let at = crate::time::now();
                let attempt = self
                    .attempt(&target.url, &target.key, head.id, &head.payload)
                    .await;
                let record = self.outcome(head.id, at, &attempt, head.attempts + 1);
                held_back = record.status != DeliveryStatus::Delivered;
                records.push(record);
                sent += 1;
                if held_back {
                    break;
                }
            }
            let owner = self.owner.clone();
            let renewing = Instant::now();
            self.db
                .write(move |conn| {
                    let until = lease_end(crate::time::now());
                    Ok(queries::record_attempts(
                        conn, webhook, &owner, &records, until,
                    )?)
                })
                .await?;
            renewed = renewing;
            if held_back {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Whether `webhook` is still active, leased by this instance and at `version`.
    async fn unchanged(&self, webhook: i64, version: i64) -> Result<bool, ApiError> {
        let owner = self.owner.clone();
        let now = self
            .db
            .read_aside(move |conn| Ok(queries::leased_version(conn, webhook, &owner)?))
            .await?;
        Ok(now == Some(version))
    }

    /// One signed POST of `body`; no database connection is held meanwhile.
    async fn attempt(&self, url: &str, key: &str, delivery: i64, body: &str) -> Attempt {
        let failed = |error: String| Attempt {
            status: None,
            retry_after: None,
            error: Some(error),
        };
        if !self.allow_private {
            // An address in the URL itself is connected to without resolution: checked here.
            let literal = url::Url::parse(url).ok().and_then(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            });
            if let Some(ip) = literal.filter(|ip| is_forbidden(*ip)) {
                return failed(format!("{ip} is not a public address: refused (SSRF)"));
            }
        }
        let id = message_id(delivery);
        let timestamp = Utc::now().timestamp();
        let signature = match sign(key, &id, timestamp, body) {
            Ok(signature) => signature,
            Err(error) => return failed(error),
        };
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Utc::now()));
                Attempt {
                    status: Some(status.as_u16()),
                    retry_after,
                    error: (!status.is_success())
                        .then(|| format!("the receiver answered {}", status.as_u16())),
                }
            }
            Err(error) => failed(describe(&error.without_url())),
        }
    }

    /// What an attempt (the `number`th) comes to: delivered on 2xx; failed on 410 (and the
    /// webhook made inactive) or after the last attempt; else pending, due after the
    /// schedule's wait with jitter, or the receiver's `Retry-After` up to the longest wait.
    fn outcome(
        &self,
        delivery: i64,
        at: NaiveDateTime,
        attempt: &Attempt,
        number: i32,
    ) -> AttemptRecord {
        let status_code = attempt.status.map(i32::from);
        let error = attempt.error.as_deref().map(|e| truncate(e, MAX_ERROR));
        if attempt.status.is_some_and(|s| (200..300).contains(&s)) {
            return AttemptRecord {
                delivery,
                at,
                status: DeliveryStatus::Delivered,
                next_attempt_at: None,
                status_code,
                error: None,
                disable: false,
            };
        }
        let gone = attempt.status == Some(410);
        let retries_used = usize::try_from(number).unwrap_or(usize::MAX);
        if gone || retries_used > self.schedule.len() {
            return AttemptRecord {
                delivery,
                at,
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                status_code,
                error: Some(if gone {
                    "the receiver answered 410 Gone: the webhook was made inactive".to_owned()
                } else {
                    error.unwrap_or_default()
                }),
                disable: gone,
            };
        }
        let longest = self.schedule.iter().copied().max().unwrap_or(0);
        let wait = match attempt.retry_after {
            Some(asked) => asked.min(Duration::from_secs(longest)),
            None => jitter(Duration::from_secs(self.schedule[retries_used - 1])),
        };
        let next = crate::time::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        AttemptRecord {
            delivery,
            at,
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(next),
            status_code,
            error,
            disable: false,
        }
    }
}

/// How far deliveries may be sent in feed order: on PostgreSQL up to the transactions that
/// have all ended (as the change feed), on SQLite everything committed.
fn horizon(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(match conn {
        DbConnection::Postgres(_) => crate::changes::queries::readable_to(conn)?.txid,
        DbConnection::Sqlite(_) => 0,
    })
}

fn lease_end(now: NaiveDateTime) -> NaiveDateTime {
    now + chrono::Duration::from_std(LEASE).unwrap_or_default()
}

/// `wait` varied by up to ±20%, so that deliveries failed together are not retried together.
fn jitter(wait: Duration) -> Duration {
    wait.mul_f64(rand::rng().random_range(0.8..=1.2))
}

/// `Retry-After`: seconds, or an HTTP date (then the time until it, none if past).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

/// An error with its causes, as one line (reqwest's own message is often only "error sending
/// request").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn non_public_addresses_are_forbidden() {
        for text in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.5",
            "100.64.0.1",
            "100.127.255.254",
            "100.100.100.200",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.10",
            "198.18.0.1",
            "::",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(is_forbidden(ip(text)), "{text} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(!is_forbidden(ip(text)), "{text} must be allowed");
        }
    }

    #[tokio::test]
    async fn registration_refuses_private_targets_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://10.0.0.7/",
            "http://100.64.1.1/",
            "http://localhost:9000/",
            "http://api.localhost/",
        ] {
            assert!(check_target(url, false).await.is_err(), "{url}");
            assert!(check_target(url, true).await.is_ok(), "{url}");
        }
        assert!(
            check_target("https://93.184.215.14/hook", false)
                .await
                .is_ok()
        );
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The expected value was computed independently, with Python's hmac and base64.
        let key = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3aK9yFtCgm0=";
        let signature = sign(
            key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .expect("signs");
        assert_eq!(signature, "v1,IHT0S4ec+mGEJWb/vKJ6/i5NTuYxOyCNJOoYiHeEkRs=");
        let (shown, stored) = new_secret();
        assert_eq!(shown, format!("whsec_{stored}"));
        assert_eq!(STANDARD.decode(&stored).map(|k| k.len()).ok(), Some(32));
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .expect("a date")
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..100 {
            let wait = jitter(Duration::from_secs(10));
            assert!(wait >= Duration::from_secs(8) && wait <= Duration::from_secs(12));
        }
    }
}
