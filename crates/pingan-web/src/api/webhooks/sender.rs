//! Sends the webhook outbox (see [`pingan_app::webhooks`]): one task per active subscription,
//! started and stopped as subscriptions come and go, each working off its due deliveries oldest
//! first and recording every attempt. Requests go out on an async client with a timeout, so a
//! receiver that never answers holds only its own subscription's task, and no thread.

use std::collections::HashMap;
use std::error::Error;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use pingan_app::targets::TargetPolicy;
use pingan_app::webhooks::{DeliverySettings, Sent, Webhooks, signature};
use pingan_store::webhooks::{Delivery, WebhookRow};
use reqwest::Client;
use reqwest::redirect::Policy;

pub use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Deliveries read per look at a subscription's outbox.
const BATCH: u32 = 100;

/// Names resolved by the system's resolver.
#[derive(Debug, Default)]
pub struct SystemNames;

impl Resolve for SystemNames {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Resolves a receiver's name, then refuses the delivery if any address it resolves to is one
/// the [`TargetPolicy`] refuses: checked before connecting, at every delivery (a name may resolve
/// elsewhere tomorrow). A URL naming an address is checked the same way before it is sent.
#[derive(Clone)]
struct Guarded {
    policy: Arc<TargetPolicy>,
    names: Arc<dyn Resolve>,
}

/// A delivery refused before connecting.
#[derive(Debug)]
struct TargetRefused {
    address: IpAddr,
    why: &'static str,
}

impl std::fmt::Display for TargetRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused before connecting: {} is {} (allow it with --webhook-allow)", self.address, self.why)
    }
}

impl Error for TargetRefused {}

impl Guarded {
    fn check(&self, address: IpAddr) -> Result<(), TargetRefused> {
        match self.policy.refusal(address) {
            Some(reason) => Err(TargetRefused { address, why: reason.en }),
            None => Ok(()),
        }
    }
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let (guard, lookup) = (self.clone(), self.names.resolve(name));
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = lookup.await?.collect();
            for address in &resolved {
                guard.check(address.ip())?;
            }
            Ok(Box::new(resolved.into_iter()) as Addrs)
        })
    }
}

/// The client deliveries go out on: no redirects (a receiver answers where it was subscribed), no
/// proxy (through one, the addresses checked would be the proxy's), names resolved through `guard`,
/// the web's roots of trust for https.
fn client(guard: Guarded, settings: &DeliverySettings) -> Result<Client, Box<dyn Error>> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(settings.timeout)
        .redirect(Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(guard))
        .user_agent(concat!("Pingan-Webhook/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Sends the outbox for ever. `names` resolves receivers' names (the system's resolver, or a
/// test's own).
pub async fn keep_delivering(webhooks: Arc<Webhooks>, settings: DeliverySettings, names: Arc<dyn Resolve>) {
    let guard = Guarded { policy: Arc::new(webhooks.targets().clone()), names };
    let client = match client(guard.clone(), &settings) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhooks cannot be sent: no HTTP client");
            return;
        }
    };
    let mut running: HashMap<i64, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        let active = webhooks.active();
        running.retain(|id, task| {
            let keep = active.iter().any(|w| w.id == *id) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for webhook in active.iter() {
            let sender = Sender { webhooks: webhooks.clone(), guard: guard.clone(), client: client.clone(), settings };
            running.entry(webhook.id).or_insert_with(|| tokio::spawn(sender.deliver_for(webhook.clone())));
        }
        let _ = tokio::time::timeout(settings.poll, webhooks.outbox_filled()).await;
    }
}

/// What one subscription's task sends with.
struct Sender {
    webhooks: Arc<Webhooks>,
    guard: Guarded,
    client: Client,
    settings: DeliverySettings,
}

impl Sender {
    /// Works off one subscription's due deliveries, then waits for more.
    async fn deliver_for(self, webhook: WebhookRow) {
        loop {
            let due = match self.webhooks.due(webhook.id, BATCH).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(webhook = webhook.id, %error, "webhook outbox unreadable");
                    Vec::new()
                }
            };
            if due.is_empty() {
                let _ = tokio::time::timeout(self.settings.poll, self.webhooks.outbox_filled()).await;
                continue;
            }
            for delivery in due {
                let sent = self.send(&webhook, self.webhooks.now().seconds(), &delivery).await;
                let attempt = self.settings.attempt(&delivery, self.webhooks.now(), sent);
                if let Err(error) = self.webhooks.record(delivery.id, attempt).await {
                    tracing::warn!(webhook = webhook.id, delivery = delivery.id, %error, "webhook attempt not recorded");
                }
            }
        }
    }

    /// POSTs `delivery` to the subscription's URL, signed at `timestamp` (Unix seconds).
    async fn send(&self, webhook: &WebhookRow, timestamp: i64, delivery: &Delivery) -> Sent {
        let url = match reqwest::Url::parse(&webhook.url) {
            Ok(url) => url,
            Err(error) => return Sent::NoAnswer(format!("not a URL: {error}")),
        };
        // A URL naming an address is connected to without resolving a name: checked here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(address)) => Some(IpAddr::V4(address)),
            Some(url::Host::Ipv6(address)) => Some(IpAddr::V6(address)),
            _ => None,
        };
        if let Some(Err(refused)) = literal.map(|address| self.guard.check(address)) {
            return Sent::NoAnswer(refused.to_string());
        }
        let action = serde_json::from_str::<serde_json::Value>(&delivery.event)
            .ok()
            .and_then(|event| event["action"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-pingan-event", action)
            .header("x-pingan-delivery", delivery.id.to_string())
            .header("x-pingan-timestamp", timestamp.to_string())
            .header("x-pingan-signature", signature(&webhook.secret, timestamp, &delivery.event))
            .body(delivery.event.clone())
            .send()
            .await;
        match sent {
            Ok(response) => Sent::Answered(response.status().as_u16()),
            Err(error) => Sent::NoAnswer(with_causes(&error)),
        }
    }
}

/// An error and each of its causes, as one line: the client's own message names only the URL.
fn with_causes(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}
