//! Routing initial sales over several gateways (the CRM's load balancer): the order in which a
//! profile's gateways are tried. Rebills never route: they stay on their gateway.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Each sale starts at the next gateway in turn.
    RoundRobin,
    /// Stay on the first gateway until it cannot take the sale (cap, disabled), then the next.
    Priority,
    /// Spread sales by weight (percentages adding up to 100).
    Weighted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub gateway_id: i64,
    /// Percent, for `weighted`.
    #[serde(default)]
    pub weight: u32,
}

/// Checks a profile's members for its algorithm.
pub fn validate(algorithm: Algorithm, members: &[Member]) -> Result<(), ValidationError> {
    if members.is_empty() || members.len() > 50 {
        return Err(ValidationError::new(
            "gateways",
            "must list 1 to 50 gateways",
        ));
    }
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|o| o.gateway_id == m.gateway_id) {
            return Err(ValidationError::new(
                format!("gateways[{i}].gateway_id"),
                "is listed twice",
            ));
        }
    }
    if algorithm == Algorithm::Weighted {
        let total: u32 = members.iter().map(|m| m.weight).sum();
        if total != 100 {
            return Err(ValidationError::new(
                "gateways",
                format!("weights must add up to 100, not {total}"),
            ));
        }
    }
    Ok(())
}

/// The gateways to try for the `n`-th sale of the profile (`n` counts sales), best first. For
/// `weighted`, `n` picks a slot of a 100-slot wheel laid out in proportion to the weights, so
/// every 100 sales follow the percentages exactly.
pub fn order(algorithm: Algorithm, members: &[Member], n: u64) -> Vec<i64> {
    let ids: Vec<i64> = members.iter().map(|m| m.gateway_id).collect();
    if ids.is_empty() {
        return ids;
    }
    let start = match algorithm {
        Algorithm::Priority => 0,
        Algorithm::RoundRobin => (n % ids.len() as u64) as usize,
        Algorithm::Weighted => {
            // Interleave the slots so that consecutive sales spread out (a stride over 100 that
            // is coprime with 100), then find whose share the slot falls in.
            let slot = (n.wrapping_mul(37) % 100) as u32;
            let mut acc = 0;
            members
                .iter()
                .position(|m| {
                    acc += m.weight;
                    slot < acc
                })
                .unwrap_or(0)
        }
    };
    ids[start..]
        .iter()
        .chain(ids[..start].iter())
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ids: &[(i64, u32)]) -> Vec<Member> {
        ids.iter()
            .map(|(g, w)| Member {
                gateway_id: *g,
                weight: *w,
            })
            .collect()
    }

    #[test]
    fn round_robin_rotates() {
        let ms = m(&[(1, 0), (2, 0), (3, 0)]);
        assert_eq!(order(Algorithm::RoundRobin, &ms, 0), vec![1, 2, 3]);
        assert_eq!(order(Algorithm::RoundRobin, &ms, 1), vec![2, 3, 1]);
        assert_eq!(order(Algorithm::RoundRobin, &ms, 5), vec![3, 1, 2]);
    }

    #[test]
    fn priority_always_starts_first() {
        let ms = m(&[(7, 0), (8, 0)]);
        assert_eq!(order(Algorithm::Priority, &ms, 41), vec![7, 8]);
    }

    #[test]
    fn weighted_follows_the_percentages_every_hundred() {
        let ms = m(&[(1, 70), (2, 20), (3, 10)]);
        let mut counts = [0; 4];
        for n in 0..100 {
            counts[order(Algorithm::Weighted, &ms, n)[0] as usize] += 1;
        }
        assert_eq!(&counts[1..], &[70, 20, 10]);
        // Spread out: the first ten sales are not all on gateway 1.
        let first: std::collections::HashSet<i64> = (0..10)
            .map(|n| order(Algorithm::Weighted, &ms, n)[0])
            .collect();
        assert!(first.len() > 1);
    }

    #[test]
    fn validation() {
        assert_eq!(
            validate(Algorithm::Weighted, &m(&[(1, 50), (2, 40)]))
                .unwrap_err()
                .param,
            "gateways"
        );
        assert_eq!(
            validate(Algorithm::Priority, &m(&[(1, 0), (1, 0)]))
                .unwrap_err()
                .param,
            "gateways[1].gateway_id"
        );
        assert!(validate(Algorithm::RoundRobin, &[]).is_err());
        assert!(validate(Algorithm::Weighted, &m(&[(1, 50), (2, 50)])).is_ok());
    }
}
