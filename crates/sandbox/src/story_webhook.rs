//! Meta's `story_insights` webhook: about an hour after a story expires,
//! its final numbers are POSTed to the app's callback, signed with
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed by
//! the app secret>`; counts under 5 are sent as -1. Deliveries can repeat
//! and arrive out of order, which [`DeliveryOptions`] reproduces.
//!
//! The payload fields are the documented example's (`impressions` among
//! them); whether Meta now also sends `views`, `shares` or `navigation` is
//! unverified, so a receiver should store whatever numbers come.

use chrono::Duration;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::control::Control;
use crate::media::{MIN_STORY_VIEWERS, Media, ProductType};
use crate::world::World;

/// Meta sends `story_insights` this long after a story expires.
const DELIVERY_DELAY_HOURS: i64 = 1;

/// One `story_insights` delivery as Meta would POST it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryDelivery {
    pub media_id: String,
    pub instagram_user_id: String,
    /// The raw JSON body.
    pub body: String,
    /// The `X-Hub-Signature-256` header value: `sha256=<hex>`.
    pub signature: String,
}

/// How [`Control::deliver_story_insights`] sends what is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Each delivery is POSTed this many times (at least once).
    pub times: u32,
    /// Newest story first instead of oldest first.
    pub reverse: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            times: 1,
            reverse: false,
        }
    }
}

/// What a story's webhook reports: Meta's documented fields, -1 under 5.
fn final_values(story: &Media) -> Vec<(&'static str, i64)> {
    let at = story.expires_at();
    let value = |metric: &str| story.value(metric, at).unwrap_or(0);
    let navigation = value("navigation");
    let fields = [
        ("impressions", value("views")),
        ("reach", value("reach")),
        ("taps_forward", navigation * 7 / 10),
        ("taps_back", navigation / 10),
        ("exits", navigation / 5),
        ("replies", value("replies")),
    ];
    fields
        .into_iter()
        .map(|(name, v)| (name, if v < MIN_STORY_VIEWERS { -1 } else { v }))
        .collect()
}

fn delivery(world: &World, story: &Media) -> StoryDelivery {
    let mut value = json!({ "media_id": story.id });
    for (name, v) in final_values(story) {
        value[name] = json!(v);
    }
    let sent_at = story.expires_at() + Duration::hours(DELIVERY_DELAY_HOURS);
    let body = json!({
        "object": "instagram",
        "entry": [{
            "id": story.owner,
            "time": sent_at.timestamp(),
            "changes": [{ "field": "story_insights", "value": value }],
        }],
    })
    .to_string();
    StoryDelivery {
        media_id: story.id.clone(),
        instagram_user_id: story.owner.clone(),
        signature: sign(&world.app_secret, body.as_bytes()),
        body,
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, as Meta signs deliveries.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Control {
    /// Where `story_insights` deliveries are POSTed (the app's callback URL).
    pub fn set_story_webhook_url(&self, url: &str) {
        self.world().media.webhook_url = Some(url.to_string());
    }

    /// The deliveries due now and not yet sent: stories that expired at
    /// least an hour ago, oldest first. Nothing is sent or marked.
    pub fn due_story_deliveries(&self) -> Vec<StoryDelivery> {
        let world = self.world();
        let now = world.now();
        let mut due: Vec<&Media> = world
            .media
            .items
            .values()
            .filter(|m| m.product == ProductType::Story && !m.deleted)
            .filter(|m| m.expires_at() + Duration::hours(DELIVERY_DELAY_HOURS) <= now)
            .filter(|m| !world.media.delivered.contains(&m.id))
            .collect();
        due.sort_by_key(|m| (m.posted_at, m.id.clone()));
        due.into_iter().map(|m| delivery(&world, m)).collect()
    }

    /// POSTs every due delivery to the configured URL as `options` say and
    /// marks them sent. Returns the status of each POST in sending order (0
    /// when the receiver could not be reached); nothing without a URL.
    pub async fn deliver_story_insights(&self, options: DeliveryOptions) -> Vec<u16> {
        let Some(url) = self.world().media.webhook_url.clone() else {
            return Vec::new();
        };
        let mut due = self.due_story_deliveries();
        {
            let mut world = self.world();
            world.media.delivered.extend(due.iter().map(|d| d.media_id.clone()));
        }
        if options.reverse {
            due.reverse();
        }
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for d in &due {
            for _ in 0..options.times.max(1) {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", &d.signature)
                    .body(d.body.clone())
                    .send()
                    .await;
                statuses.push(sent.map_or(0, |r| r.status().as_u16()));
            }
        }
        statuses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_raw_body() {
        // RFC 4231 test case 2.
        let signature = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            signature,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
