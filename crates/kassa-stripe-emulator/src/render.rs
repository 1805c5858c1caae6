//! Rendering with account lookups: `expand[]`, list objects and pagination.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::form::Params;
use crate::objects::Charge;
use crate::state::Account;

pub fn charge_json(acct: &Account, ch: &Charge) -> Value {
    let refunds = ch
        .refunds
        .iter()
        .rev()
        .filter_map(|id| acct.refunds.get(id).map(|r| r.to_json()))
        .collect();
    ch.to_json(refunds)
}

/// Any stored object by id (its prefix says the kind).
pub fn object_json(acct: &Account, id: &str) -> Option<Value> {
    let prefix = id.split('_').next().unwrap_or_default();
    match prefix {
        "cus" => acct.customers.get(id).map(|c| c.to_json()),
        "pm" => acct.payment_methods.get(id).map(|p| p.to_json()),
        "pi" => acct.payment_intents.get(id).map(|p| p.to_json()),
        "ch" => acct.charges.get(id).map(|c| charge_json(acct, c)),
        "re" => acct.refunds.get(id).map(|r| r.to_json()),
        "dp" => acct.disputes.get(id).map(|d| d.to_json()),
        "prv" => acct.reviews.get(id).map(|r| r.to_json()),
        "seti" => acct.setup_intents.get(id).map(|s| s.to_json()),
        "setatt" => acct.setup_attempts.get(id).map(|s| s.to_json()),
        "we" => acct.webhook_endpoints.get(id).map(|w| w.to_json()),
        "evt" => acct.events.get(id).map(|e| e.to_json(acct)),
        _ => None,
    }
}

fn cannot_expand(path: &str) -> ApiError {
    ApiError::invalid(format!("This property cannot be expanded ({path}).")).param("expand")
}

fn expand_at(acct: &Account, value: &mut Value, segs: &[&str], full: &str) -> ApiResult<()> {
    let Some((first, rest)) = segs.split_first() else {
        return Ok(());
    };
    if let Value::Array(items) = value {
        for item in items {
            expand_at(acct, item, segs, full)?;
        }
        return Ok(());
    }
    let Value::Object(map) = value else {
        return Err(cannot_expand(full));
    };
    let Some(field) = map.get_mut(*first) else {
        return Err(cannot_expand(full));
    };
    if let Value::String(id) = field {
        let Some(obj) = object_json(acct, id) else {
            return Err(cannot_expand(full));
        };
        *field = obj;
    }
    match field {
        Value::Null => Ok(()),
        Value::Object(_) | Value::Array(_) if !rest.is_empty() => {
            expand_at(acct, field, rest, full)
        }
        Value::Object(_) => Ok(()),
        _ => Err(cannot_expand(full)),
    }
}

/// Applies `expand[]` to a rendered object.
pub fn expand(acct: &Account, value: &mut Value, paths: &[String]) -> ApiResult<()> {
    for path in paths {
        let segs: Vec<&str> = path.split('.').collect();
        if segs.len() > 4 {
            return Err(ApiError::invalid(format!(
                "You cannot expand more than 4 levels of a property. Property: {path}"
            ))
            .param("expand"));
        }
        expand_at(acct, value, &segs, path)?;
    }
    Ok(())
}

/// Renders an object by id and applies `expand[]` from the request.
pub fn respond(acct: &Account, id: &str, p: &Params) -> ApiResult<Value> {
    let mut v = object_json(acct, id).ok_or_else(|| ApiError::internal("object vanished"))?;
    expand(acct, &mut v, &p.expand())?;
    Ok(v)
}

/// `limit`, `starting_after`, `ending_before`.
pub struct Page {
    pub limit: usize,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

impl Page {
    pub fn from(p: &Params) -> ApiResult<Page> {
        let limit = p.int(&["limit"])?.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid(
                "This value must be greater than or equal to 1 and less than or equal to 100.",
            )
            .param("limit"));
        }
        Ok(Page {
            limit: limit as usize,
            starting_after: p.str_nonempty(&["starting_after"])?.map(str::to_string),
            ending_before: p.str_nonempty(&["ending_before"])?.map(str::to_string),
        })
    }

    /// Picks a page from ids ordered newest first (lazily unless `ending_before` is used).
    pub fn apply<'a>(&self, ids: impl Iterator<Item = &'a str>) -> (Vec<&'a str>, bool) {
        if let Some(before) = &self.ending_before {
            let all: Vec<&str> = ids.collect();
            let pos = all.iter().position(|i| i == before).unwrap_or(0);
            let start = pos.saturating_sub(self.limit);
            return (all[start..pos].to_vec(), start > 0);
        }
        let mut page: Vec<&str> = match &self.starting_after {
            Some(after) => ids
                .skip_while(|i| i != after)
                .skip(1)
                .take(self.limit + 1)
                .collect(),
            None => ids.take(self.limit + 1).collect(),
        };
        let has_more = page.len() > self.limit;
        page.truncate(self.limit);
        (page, has_more)
    }
}

/// A list response for ids (newest first), with `expand[]` applied (`data.x` paths).
pub fn list<'a>(
    acct: &Account,
    url: &str,
    ids: impl Iterator<Item = &'a str>,
    p: &Params,
) -> ApiResult<Value> {
    let page = Page::from(p)?;
    let (ids, has_more) = page.apply(ids);
    let data: Vec<Value> = ids.iter().filter_map(|id| object_json(acct, id)).collect();
    let mut v = json!({ "object": "list", "data": data, "has_more": has_more, "url": url });
    expand(acct, &mut v, &p.expand())?;
    Ok(v)
}
