//! Meta's Instagram webhook: the subscription check (`hub.mode`,
//! `hub.verify_token`, `hub.challenge`) and `story_insights` deliveries,
//! whose `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, keyed by the
//! app secret) is checked in constant time before a byte is parsed.
//!
//! A delivery is validated whole before anything is written, so a malformed
//! one writes nothing; a story's final numbers are written once (see
//! [`Store::save_story_final`]), so a repeated or late delivery changes nothing.

use serde_json::Value;

use crate::app::App;
use crate::crypto::{constant_time_eq, hmac_sha256};
use crate::domain::{InstagramUserId, MediaId, MetricName};
use crate::secret::{AppSecret, Secret};
use crate::store::{FinalMetric, FinalOutcome, FinalValue, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the delivery carries no X-Hub-Signature-256 header")]
    Unsigned,
    #[error("the X-Hub-Signature-256 header does not match the body")]
    BadSignature,
    #[error("the delivery is not an Instagram webhook payload: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a subscription check was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("META_WEBHOOK_VERIFY_TOKEN is not set: subscriptions cannot be verified")]
    NotConfigured,
    #[error("hub.mode must be subscribe and hub.verify_token must match")]
    Refused,
    #[error("hub.challenge must be a short string of letters and digits")]
    BadChallenge,
}

/// Answers Meta's subscription check: the challenge, when mode and token match.
pub fn subscribe(
    verify_token: Option<&Secret>,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
) -> Result<String, SubscribeError> {
    let expected = verify_token.ok_or(SubscribeError::NotConfigured)?;
    let token_ok = token.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.expose().as_bytes()));
    if mode != Some("subscribe") || !token_ok {
        return Err(SubscribeError::Refused);
    }
    // Meta sends a number; anything else is not echoed back.
    match challenge {
        Some(c) if !c.is_empty() && c.len() <= 128 && c.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(c.to_string()),
        _ => Err(SubscribeError::BadChallenge),
    }
}

/// Checks `sha256=<hex>` against the raw body.
pub fn verify_signature(app_secret: &AppSecret, header: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::Unsigned)?;
    let given = header
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(WebhookError::BadSignature)?;
    let expected = hmac_sha256(app_secret.expose().as_bytes(), body);
    if constant_time_eq(&given, &expected) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// One story's final numbers, as a delivery reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryFinal {
    pub instagram_user_id: InstagramUserId,
    pub media_id: MediaId,
    pub values: Vec<FinalMetric>,
}

/// Reads a verified delivery: `{"object":"instagram","entry":[{"id","time",
/// "changes":[{"field","value"}]}]}` (or, as Meta's own example shows it, an
/// array of those). Fields other than `story_insights` are skipped.
pub fn parse(body: &[u8]) -> Result<Vec<StoryFinal>, WebhookError> {
    let malformed = |why: &str| WebhookError::Malformed(why.to_string());
    let payload: Value = serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
    let deliveries = match payload {
        Value::Array(items) => items,
        single => vec![single],
    };
    let mut finals = Vec::new();
    for delivery in &deliveries {
        if delivery["object"] != "instagram" {
            return Err(malformed("`object` must be instagram"));
        }
        let entries = delivery["entry"]
            .as_array()
            .ok_or_else(|| malformed("`entry` must be a list"))?;
        for entry in entries {
            let account = entry["id"]
                .as_str()
                .and_then(InstagramUserId::parse)
                .ok_or_else(|| malformed("`entry.id` must be an Instagram account id"))?;
            let changes = entry["changes"]
                .as_array()
                .ok_or_else(|| malformed("`entry.changes` must be a list"))?;
            for change in changes {
                if change["field"] == "story_insights" {
                    finals.push(story_final(&account, &change["value"])?);
                }
            }
        }
    }
    Ok(finals)
}

fn story_final(account: &InstagramUserId, value: &Value) -> Result<StoryFinal, WebhookError> {
    let malformed = |why: &str| WebhookError::Malformed(why.to_string());
    let object = value
        .as_object()
        .ok_or_else(|| malformed("a story_insights value must be an object"))?;
    let media_id = object
        .get("media_id")
        .and_then(Value::as_str)
        .and_then(MediaId::parse)
        .ok_or_else(|| malformed("`media_id` must be a media id"))?;
    let mut values = Vec::new();
    for (name, number) in object.iter().filter(|(k, _)| *k != "media_id") {
        let metric = MetricName::parse(name).filter(|m| m == name.as_str());
        let (Some(metric), Some(number)) = (metric, number.as_i64()) else {
            return Err(malformed("story metrics must be whole numbers"));
        };
        values.push(FinalMetric {
            metric,
            value: FinalValue::from_meta(number),
        });
    }
    Ok(StoryFinal {
        instagram_user_id: account.clone(),
        media_id,
        values,
    })
}

/// What a delivery came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Received {
    /// Stories the delivery reported.
    pub stories: usize,
    /// Stories whose final numbers were stored now.
    pub stored: usize,
    /// Stories that already had their final numbers.
    pub repeated: usize,
    /// Stories of accounts not connected here.
    pub unknown_account: usize,
}

/// Verifies, parses and stores one delivery.
pub async fn receive(app: &App, signature: Option<&str>, body: &[u8]) -> Result<Received, WebhookError> {
    verify_signature(&app.config.app_secret, signature, body)?;
    let finals = parse(body)?;
    let mut received = Received {
        stories: finals.len(),
        ..Received::default()
    };
    let now = app.clock.utc_now();
    for story in &finals {
        let outcome = app
            .store
            .save_story_final(&story.instagram_user_id, &story.media_id, &story.values, now)
            .await?;
        match outcome {
            FinalOutcome::Stored => received.stored += 1,
            FinalOutcome::AlreadyFinal => received.repeated += 1,
            FinalOutcome::UnknownAccount => received.unknown_account += 1,
        }
    }
    tracing::info!(?received, "story_insights delivery");
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_metric(name: &str, value: FinalValue) -> FinalMetric {
        FinalMetric {
            metric: MetricName::parse(name).unwrap(),
            value,
        }
    }

    const BODY: &str = r#"{"object":"instagram","entry":[{"id":"17841400000000001","time":1547687043,"changes":[{"field":"story_insights","value":{"media_id":"18023345989012587","exits":1,"replies":-1,"reach":17,"taps_forward":12,"taps_back":0,"impressions":28}}]}]}"#;

    fn signed(secret: &str, body: &[u8]) -> String {
        format!("sha256={}", crate::crypto::hmac_hex(secret.as_bytes(), body))
    }

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let secret = AppSecret::new("s3cret");
        let header = signed("s3cret", BODY.as_bytes());
        assert!(verify_signature(&secret, Some(&header), BODY.as_bytes()).is_ok());
        let reformatted = BODY.replace(':', ": ");
        assert!(matches!(
            verify_signature(&secret, Some(&header), reformatted.as_bytes()),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            verify_signature(&secret, None, BODY.as_bytes()),
            Err(WebhookError::Unsigned)
        ));
        for bad in ["sha1=00", "sha256=zz", "", &signed("other", BODY.as_bytes())] {
            assert!(matches!(
                verify_signature(&secret, Some(bad), BODY.as_bytes()),
                Err(WebhookError::BadSignature)
            ));
        }
    }

    #[test]
    fn story_insights_parse_with_minus_one_as_fewer_than_five() {
        let finals = parse(BODY.as_bytes()).unwrap();
        assert_eq!(finals.len(), 1);
        assert_eq!(finals[0].media_id.as_str(), "18023345989012587");
        assert!(
            finals[0]
                .values
                .contains(&final_metric("replies", FinalValue::FewerThanFive))
        );
        assert!(finals[0].values.contains(&final_metric("reach", FinalValue::Count(17))));
        // Meta's documented example wraps the delivery in an array.
        assert_eq!(parse(format!("[{BODY}]").as_bytes()).unwrap(), finals);
        for bad in [
            "not json",
            r#"{"object":"page","entry":[]}"#,
            r#"{"object":"instagram","entry":[{"id":"x","changes":[]}]}"#,
            r#"{"object":"instagram","entry":[{"id":"1","changes":[{"field":"story_insights","value":{"media_id":"1","reach":"17"}}]}]}"#,
            r#"{"object":"instagram","entry":[{"id":"1","changes":[{"field":"story_insights","value":{"reach":17}}]}]}"#,
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(WebhookError::Malformed(_))),
                "{bad}"
            );
        }
        let comments =
            r#"{"object":"instagram","entry":[{"id":"1","changes":[{"field":"comments","value":{"id":"9"}}]}]}"#;
        assert_eq!(parse(comments.as_bytes()).unwrap(), vec![]);
    }

    #[test]
    fn subscriptions_need_the_token() {
        let token = Secret::new("verify-me");
        let ok = subscribe(Some(&token), Some("subscribe"), Some("verify-me"), Some("1158201444"));
        assert_eq!(ok.unwrap(), "1158201444");
        assert!(subscribe(Some(&token), Some("subscribe"), Some("nope"), Some("1")).is_err());
        assert!(subscribe(Some(&token), Some("unsubscribe"), Some("verify-me"), Some("1")).is_err());
        assert!(subscribe(None, Some("subscribe"), Some("verify-me"), Some("1")).is_err());
        assert!(matches!(
            subscribe(Some(&token), Some("subscribe"), Some("verify-me"), Some("<script>")),
            Err(SubscribeError::BadChallenge)
        ));
    }
}
