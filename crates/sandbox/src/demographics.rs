//! Audience demographics (`follower_demographics`,
//! `engaged_audience_demographics`, ...): Meta's timeframe and breakdown
//! checks, and up to 45 deterministic results per breakdown, largest first.

use serde_json::{Value, json};

use crate::errors::{GraphError, MIN_FOLLOWERS_FOR_DEMOGRAPHICS};
use crate::insights::{Query, hash, header, scale};
use crate::world::IgAccount;

const MAX_BREAKDOWN_RESULTS: usize = 45;
const TIMEFRAMES: [&str; 2] = ["this_week", "this_month"];
const BREAKDOWNS: [&str; 4] = ["age", "city", "country", "gender"];

pub(crate) fn demographics(ig: &IgAccount, query: &Query) -> Result<Vec<Value>, GraphError> {
    let timeframe = query
        .timeframe
        .as_deref()
        .ok_or_else(|| GraphError::param("The parameter timeframe is required for demographic metrics"))?;
    if !TIMEFRAMES.contains(&timeframe) {
        return Err(GraphError::param(format!(
            "timeframe must be one of the following values: {}",
            TIMEFRAMES.join(", ")
        )));
    }
    let breakdown = query
        .breakdown
        .as_deref()
        .ok_or_else(|| GraphError::param("The parameter breakdown is required for demographic metrics"))?;
    if !BREAKDOWNS.contains(&breakdown) {
        return Err(GraphError::param(format!(
            "breakdown must be one of the following values: {}",
            BREAKDOWNS.join(", ")
        )));
    }
    if ig.followers_count < MIN_FOLLOWERS_FOR_DEMOGRAPHICS {
        return Err(GraphError::insufficient_followers());
    }
    Ok(query
        .metrics
        .iter()
        .map(|metric| {
            let results = breakdown_results(ig, metric.name, breakdown, timeframe);
            let mut entry = header(ig, metric, &query.period);
            entry.insert(
                "total_value".into(),
                json!({ "breakdowns": [{ "dimension_keys": [breakdown], "results": results }] }),
            );
            Value::Object(entry)
        })
        .collect())
}

/// Up to 45 results, largest first, summing to about the audience size.
fn breakdown_results(ig: &IgAccount, metric: &str, breakdown: &str, timeframe: &str) -> Vec<Value> {
    let audience = match metric {
        "follower_demographics" => ig.followers_count,
        "reached_audience_demographics" => ig.followers_count / 3,
        _ => ig.followers_count / 10,
    };
    // Not every account has a known city.
    let audience = if breakdown == "city" {
        scale(audience, 6, 10)
    } else {
        audience
    };
    let keys = dimension_keys(breakdown);
    let weights: Vec<i64> = keys
        .iter()
        .map(|(key, base)| {
            let jitter = (hash(&[&ig.id, metric, breakdown, key, timeframe]) % 100) as i64;
            base * (50 + jitter)
        })
        .collect();
    let sum: i64 = weights.iter().sum::<i64>().max(1);
    let mut results: Vec<(&str, i64)> = keys
        .iter()
        .zip(&weights)
        .map(|((key, _), weight)| (*key, scale(audience, *weight, sum)))
        .filter(|(_, value)| *value > 0)
        .collect();
    results.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    results
        .into_iter()
        .take(MAX_BREAKDOWN_RESULTS)
        .map(|(key, value)| json!({ "dimension_values": [key], "value": value }))
        .collect()
}

/// Realistic keys with rough base weights.
fn dimension_keys(breakdown: &str) -> &'static [(&'static str, i64)] {
    match breakdown {
        "age" => &[
            ("13-17", 4),
            ("18-24", 28),
            ("25-34", 35),
            ("35-44", 18),
            ("45-54", 8),
            ("55-64", 4),
            ("65+", 3),
        ],
        "gender" => &[("F", 55), ("M", 40), ("U", 5)],
        "city" => &[
            ("London, England", 20),
            ("São Paulo, São Paulo (state)", 18),
            ("New York, New York", 16),
            ("Los Angeles, California", 12),
            ("Mumbai, Maharashtra", 12),
            ("Delhi, Delhi", 10),
            ("Rio de Janeiro, Rio de Janeiro (state)", 10),
            ("Mexico City, Distrito Federal", 9),
            ("Madrid, Comunidad de Madrid", 8),
            ("Paris, Île-de-France", 8),
            ("Berlin, Berlin", 7),
            ("Istanbul, Istanbul Province", 7),
            ("Jakarta, Jakarta", 7),
            ("Buenos Aires, Buenos Aires", 6),
            ("Bogotá, Distrito Especial", 6),
            ("Lagos, Lagos State", 6),
            ("Chicago, Illinois", 6),
            ("Toronto, Ontario", 6),
            ("Sydney, New South Wales", 5),
            ("Manchester, England", 5),
            ("Barcelona, Catalonia", 5),
            ("Milan, Lombardy", 5),
            ("Rome, Lazio", 4),
            ("Lisbon, Lisbon District", 4),
            ("Bangalore, Karnataka", 4),
            ("Hyderabad, Telangana", 4),
            ("Chennai, Tamil Nadu", 3),
            ("Manila, Metro Manila", 3),
            ("Cairo, Cairo Governorate", 3),
            ("Dubai, Dubai", 3),
            ("Riyadh, Riyadh Region", 3),
            ("Johannesburg, Gauteng", 3),
            ("Houston, Texas", 3),
            ("Miami, Florida", 3),
            ("Santiago, Santiago Metropolitan Region", 3),
            ("Lima, Lima Region", 3),
            ("Belo Horizonte, Minas Gerais", 2),
            ("Brasília, Distrito Federal", 2),
            ("Curitiba, Paraná", 2),
            ("Guadalajara, Jalisco", 2),
            ("Monterrey, Nuevo León", 2),
            ("Amsterdam, North Holland", 2),
            ("Warsaw, Masovian Voivodeship", 2),
            ("Kyiv, Kyiv", 2),
            ("Seoul, Seoul", 2),
            ("Tokyo, Tokyo", 2),
            ("Bangkok, Bangkok", 2),
            ("Karachi, Sindh", 2),
            ("Dhaka, Dhaka Division", 2),
            ("Melbourne, Victoria", 2),
        ],
        _ => &[
            ("US", 30),
            ("BR", 18),
            ("IN", 16),
            ("GB", 10),
            ("DE", 7),
            ("FR", 6),
            ("MX", 6),
            ("ES", 5),
            ("IT", 5),
            ("CA", 5),
            ("ID", 5),
            ("TR", 4),
            ("AR", 4),
            ("CO", 3),
            ("PH", 3),
            ("NG", 3),
            ("JP", 3),
            ("AU", 3),
            ("NL", 2),
            ("PL", 2),
            ("PT", 2),
            ("CL", 2),
            ("PE", 2),
            ("ZA", 2),
            ("EG", 2),
            ("SA", 2),
            ("AE", 2),
            ("RU", 2),
            ("UA", 1),
            ("KR", 1),
            ("TH", 1),
            ("VN", 1),
            ("MY", 1),
            ("PK", 1),
            ("BD", 1),
            ("SE", 1),
            ("BE", 1),
            ("CH", 1),
            ("AT", 1),
            ("IE", 1),
            ("NZ", 1),
            ("GR", 1),
            ("RO", 1),
            ("CZ", 1),
            ("HU", 1),
            ("IL", 1),
            ("DK", 1),
            ("NO", 1),
            ("FI", 1),
            ("VE", 1),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakdowns_are_capped_and_sorted() {
        let ig = IgAccount {
            id: "1".into(),
            username: "u".into(),
            name: "U".into(),
            followers_count: 100_000,
            follows_count: 1,
            media_count: 1,
        };
        let results = breakdown_results(&ig, "follower_demographics", "country", "this_month");
        assert_eq!(results.len(), MAX_BREAKDOWN_RESULTS);
        let values: Vec<i64> = results.iter().filter_map(|r| r["value"].as_i64()).collect();
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
        let again = breakdown_results(&ig, "follower_demographics", "country", "this_month");
        assert_eq!(results, again);
    }
}
