//! The one classification of Graph failures: what Meta said (its code,
//! subcode, transience and words), the HTTP status, and the metrics the call
//! asked for decide the kind every caller acts on. Calls and batch
//! operations alike come here (through `answer::read`).

use super::error::{ErrorKind, MetaError};
use crate::domain::MetricName;

/// Meta's answer for demographics of an account under 100 followers (the
/// sandbox's choice; Meta's exact wording is unverified, so the words below
/// count too).
const NOT_ENOUGH_FOLLOWERS_SUBCODE: i64 = 2108006;

/// The one classification of Graph failures: Meta's error (when it sent
/// one), the HTTP status, and the metrics the call asked for. Returns the
/// kind, and for [`ErrorKind::MetricRejected`] the metric.
pub(super) fn classify(
    http_status: Option<u16>,
    meta: Option<&MetaError>,
    requested: &[&str],
) -> (ErrorKind, Option<MetricName>) {
    let Some(e) = meta else {
        let kind = match http_status {
            Some(429) => ErrorKind::Throttled,
            Some(s) if (400..500).contains(&s) && s != 408 => ErrorKind::Other,
            _ => ErrorKind::Transient,
        };
        return (kind, None);
    };
    let kind = match e.code {
        Some(190 | 102) => ErrorKind::Auth,
        Some(4 | 17 | 32 | 613) | Some(80001..=80014) => ErrorKind::Throttled,
        // Story insights under 5 viewers come back as code 10, which is no permission problem.
        Some(10) if too_small(e) => ErrorKind::NotEnoughAudience,
        Some(10) | Some(200..=299) => ErrorKind::Permission,
        Some(1 | 2) => ErrorKind::Transient,
        _ if e.is_transient == Some(true) => ErrorKind::Transient,
        _ if http_status == Some(429) => ErrorKind::Throttled,
        _ if http_status.is_some_and(|s| s >= 500) => ErrorKind::Transient,
        Some(100) if too_small(e) => ErrorKind::NotEnoughAudience,
        Some(100) => match refused_metric(&e.message, requested) {
            Some(metric) => return (ErrorKind::MetricRejected, Some(metric)),
            None => ErrorKind::InvalidParameter,
        },
        Some(803 | 2500) => ErrorKind::InvalidParameter,
        _ => ErrorKind::Other,
    };
    (kind, None)
}

/// Meta saying the audience is too small to report on.
fn too_small(e: &MetaError) -> bool {
    let message = e.message.to_ascii_lowercase();
    match e.code {
        Some(10) => message.contains("not enough viewers"),
        Some(100) => {
            e.error_subcode == Some(NOT_ENOUGH_FOLLOWERS_SUBCODE)
                || ["insufficient", "not enough", "at least 100", "fewer than"]
                    .iter()
                    .any(|w| message.contains(w))
        }
        _ => false,
    }
}

/// The requested metric an error 100 refuses, named as `metric[i]` or by
/// name as a whole word (`... does not support the views metric ...`).
fn refused_metric(message: &str, requested: &[&str]) -> Option<MetricName> {
    let by_index = message
        .split("metric[")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| requested.get(i).copied());
    let by_name = || {
        let words: Vec<&str> = message
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        requested.iter().copied().find(|m| words.contains(m))
    };
    by_index.or_else(by_name).and_then(MetricName::parse)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A Meta error body as Graph sends it, for the tests of its meaning.
    pub(in crate::graph) fn meta(code: i64, subcode: Option<i64>, is_transient: bool, message: &str) -> MetaError {
        MetaError {
            message: message.into(),
            error_type: Some("OAuthException".into()),
            code: Some(code),
            error_subcode: subcode,
            is_transient: Some(is_transient),
            fbtrace_id: None,
        }
    }

    fn kind(status: u16, code: i64, subcode: Option<i64>, is_transient: bool) -> ErrorKind {
        classify(Some(status), Some(&meta(code, subcode, is_transient, "")), &[]).0
    }

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind(400, 190, Some(460), false), ErrorKind::Auth);
        assert_eq!(kind(400, 102, None, false), ErrorKind::Auth);
        for code in [4, 17, 32, 613, 80001, 80002] {
            assert_eq!(kind(400, code, None, false), ErrorKind::Throttled, "{code}");
        }
        assert_eq!(kind(403, 10, None, false), ErrorKind::Permission);
        assert_eq!(kind(403, 200, None, false), ErrorKind::Permission);
        assert_eq!(kind(403, 299, None, false), ErrorKind::Permission);
        assert_eq!(kind(500, 1, None, false), ErrorKind::Transient);
        assert_eq!(kind(500, 2, None, true), ErrorKind::Transient);
        assert_eq!(kind(400, 100, None, false), ErrorKind::InvalidParameter);
        assert_eq!(kind(400, 100, None, true), ErrorKind::Transient);
        assert_eq!(
            kind(400, 100, Some(NOT_ENOUGH_FOLLOWERS_SUBCODE), false),
            ErrorKind::NotEnoughAudience
        );
        for (status, kind) in [
            (None, ErrorKind::Transient),
            (Some(429), ErrorKind::Throttled),
            (Some(503), ErrorKind::Transient),
            (Some(408), ErrorKind::Transient),
            (Some(404), ErrorKind::Other),
        ] {
            assert_eq!(classify(status, None, &[]).0, kind, "{status:?}");
        }
    }

    #[test]
    fn meta_s_words_decide_the_kinds_codes_share() {
        let said = |code, message: &str, requested: &[&str]| {
            classify(Some(400), Some(&meta(code, None, false, message)), requested)
        };
        let requested = ["reach", "impressions", "views"];
        let (kind, metric) = said(
            100,
            "(#100) metric[1] must be one of the following values: reach, views. The metric 'impressions' is no longer supported",
            &requested,
        );
        assert_eq!(
            (kind, metric.as_ref().map(MetricName::as_str)),
            (ErrorKind::MetricRejected, Some("impressions"))
        );
        let (kind, metric) = said(
            100,
            "(#100) Incompatible period: metric views supports period=day only",
            &requested,
        );
        assert_eq!(
            (kind, metric.as_ref().map(MetricName::as_str)),
            (ErrorKind::MetricRejected, Some("views"))
        );
        let media = said(
            100,
            "(#100) The Media Insights API does not support the reposts metric for this media product type",
            &["reach", "reposts"],
        );
        assert_eq!(media.1.as_ref().map(MetricName::as_str), Some("reposts"));
        assert_eq!(
            said(
                100,
                "(#100) The since parameter must be before the until parameter",
                &requested
            )
            .0,
            ErrorKind::InvalidParameter
        );
        assert_eq!(
            said(100, "(#100) reached_audience_demographics is odd", &requested).0,
            ErrorKind::InvalidParameter,
            "whole words only"
        );
        assert_eq!(
            said(100, "(#100) metric[0] reach", &[]).0,
            ErrorKind::InvalidParameter,
            "only what was asked"
        );
        assert_eq!(said(190, "metric[0] reach", &requested).0, ErrorKind::Auth);
        let small =
            "Insufficient followers: follower demographics are available only for accounts with at least 100 followers";
        assert_eq!(
            said(100, small, &["follower_demographics"]).0,
            ErrorKind::NotEnoughAudience
        );
        assert_eq!(
            said(10, "(#10) Not enough viewers for the media to show insights", &[]).0,
            ErrorKind::NotEnoughAudience
        );
        assert_eq!(
            said(10, "(#10) Application does not have permission for this action", &[]).0,
            ErrorKind::Permission
        );
    }
}
