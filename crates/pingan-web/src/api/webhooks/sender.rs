//! Sends the webhook outbox (see [`pingan_app::webhooks`]): one task per active subscription,
//! started and stopped as subscriptions come and go, each working off its due deliveries oldest
//! first and recording every attempt. Requests go out on blocking threads with a timeout, so a
//! receiver that never answers holds only its own subscription's task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use pingan_app::targets::TargetPolicy;
use pingan_app::webhooks::{DeliverySettings, Sent, Webhooks, signature};
use pingan_store::webhooks::{Delivery, WebhookRow};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

pub use ureq::unversioned::resolver::DefaultResolver;

/// Deliveries read per look at a subscription's outbox.
const BATCH: u32 = 100;

/// Resolves a receiver's name, then refuses the delivery if any address it resolves to is one
/// the engine's [`TargetPolicy`] refuses: checked before connecting, at every delivery (a name may
/// resolve elsewhere tomorrow).
#[derive(Debug)]
struct Guarded {
    policy: TargetPolicy,
    names: Box<dyn Resolver>,
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

impl std::error::Error for TargetRefused {}

impl Resolver for Guarded {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.names.resolve(uri, config, timeout)?;
        if let Some((address, reason)) = resolved.iter().find_map(|a| self.policy.refusal(a.ip()).map(|r| (a.ip(), r)))
        {
            return Err(ureq::Error::Other(Box::new(TargetRefused { address, why: reason.en })));
        }
        Ok(resolved)
    }
}

/// Sends the outbox for ever. `names` resolves receivers' names (the system's resolver, or a
/// test's own).
pub async fn keep_delivering(webhooks: Arc<Webhooks>, settings: DeliverySettings, names: Box<dyn Resolver>) {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(settings.timeout))
        .http_status_as_error(false)
        // A receiver answers where it was subscribed; a redirect is a failed delivery.
        .max_redirects(0)
        // Straight to the receiver: through a proxy, the addresses checked would be the proxy's.
        .proxy(None)
        .build();
    let resolver = Guarded { policy: webhooks.targets().clone(), names };
    let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), resolver);
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
            running.entry(webhook.id).or_insert_with(|| {
                tokio::spawn(deliver_for(webhooks.clone(), webhook.clone(), agent.clone(), settings))
            });
        }
        let _ = tokio::time::timeout(settings.poll, webhooks.outbox_filled()).await;
    }
}

/// Works off one subscription's due deliveries, then waits for more.
async fn deliver_for(webhooks: Arc<Webhooks>, webhook: WebhookRow, agent: ureq::Agent, settings: DeliverySettings) {
    loop {
        let due = match webhooks.due(webhook.id, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(webhook = webhook.id, %error, "webhook outbox unreadable");
                Vec::new()
            }
        };
        if due.is_empty() {
            let _ = tokio::time::timeout(settings.poll, webhooks.outbox_filled()).await;
            continue;
        }
        for delivery in due {
            let sent = send(&webhook, &agent, webhooks.now().seconds(), &delivery).await;
            let attempt = settings.attempt(&delivery, webhooks.now(), sent);
            if let Err(error) = webhooks.record(delivery.id, attempt).await {
                tracing::warn!(webhook = webhook.id, delivery = delivery.id, %error, "webhook attempt not recorded");
            }
        }
    }
}

/// POSTs `delivery` to the subscription's URL, signed at `timestamp` (Unix seconds).
async fn send(webhook: &WebhookRow, agent: &ureq::Agent, timestamp: i64, delivery: &Delivery) -> Sent {
    let signed = signature(&webhook.secret, timestamp, &delivery.event);
    let action = serde_json::from_str::<serde_json::Value>(&delivery.event)
        .ok()
        .and_then(|event| event["action"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let (agent, url, body, id) = (agent.clone(), webhook.url.clone(), delivery.event.clone(), delivery.id);
    let sent = tokio::task::spawn_blocking(move || {
        agent
            .post(&url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("Pingan-Webhook/", env!("CARGO_PKG_VERSION")))
            .header("x-pingan-event", &action)
            .header("x-pingan-delivery", &id.to_string())
            .header("x-pingan-timestamp", &timestamp.to_string())
            .header("x-pingan-signature", &signed)
            .send(&body)
            .map(|response| response.status().as_u16())
    })
    .await;
    match sent {
        Ok(Ok(status)) => Sent::Answered(status),
        Ok(Err(error)) => Sent::NoAnswer(error.to_string()),
        Err(error) => Sent::NoAnswer(error.to_string()),
    }
}
