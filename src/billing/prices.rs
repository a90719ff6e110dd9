//! The price → plan map: which catalog tier a Stripe price gives, by price id or lookup key
//! (`TOLLGATE_STRIPE_PRICES=price_id=plan,lookup:lookup_key=plan`). The two never meet: a
//! lookup key (which anyone with dashboard access names freely) matches only `lookup:` entries.

use std::collections::BTreeMap;

/// The prefix of a lookup-key entry.
const LOOKUP: &str = "lookup:";

/// Price ids and lookup keys, each to a plan name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceMap {
    map: BTreeMap<String, String>,
}

impl PriceMap {
    /// Parses `key=plan,key=plan` (spaces around items ignored; a key twice is refused).
    pub fn parse(text: &str) -> std::result::Result<PriceMap, String> {
        let mut map = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return Err(format!("`{item}` is not `price_id=plan`"));
            };
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() || v.is_empty() {
                return Err(format!("`{item}` is not `price_id=plan`"));
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!("price `{k}` is mapped twice"));
            }
        }
        Ok(PriceMap { map })
    }

    /// The plan of a price, by its id first, then its lookup key (`lookup:` entries only).
    pub fn plan(&self, price_id: Option<&str>, lookup_key: Option<&str>) -> Option<&str> {
        price_id
            .filter(|p| !p.starts_with(LOOKUP))
            .and_then(|p| self.map.get(p))
            .or_else(|| lookup_key.and_then(|k| self.map.get(&format!("{LOOKUP}{k}"))))
            .map(String::as_str)
    }

    /// Every plan the map names (checked against the catalog at start).
    pub fn plans(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Refuses a map that names a plan the catalog lacks: every event of that price would be
    /// recorded as `unknown_plan` (checked by `serve` at start and by `validate`).
    pub fn check(&self, catalog: &crate::plans::Catalog) -> crate::error::Result<()> {
        for (price, plan) in self.plans() {
            if catalog.tier(plan).is_none() {
                return Err(crate::error::Error::Config(format!(
                    "TOLLGATE_STRIPE_PRICES maps `{price}` to `{plan}`, which is not a tier of \
                     the plan catalog"
                )));
            }
        }
        Ok(())
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::PriceMap;

    #[test]
    fn ids_win_over_lookup_keys_and_bad_maps_are_refused() {
        let m = PriceMap::parse(" price_pro = professional, lookup:pro_monthly=starter ,").unwrap();
        assert_eq!(
            m.plan(Some("price_pro"), Some("pro_monthly")),
            Some("professional")
        );
        assert_eq!(
            m.plan(Some("price_x"), Some("pro_monthly")),
            Some("starter")
        );
        assert_eq!(m.plan(Some("price_x"), None), None);
        // A lookup key never matches a price id's entry, nor a price id a lookup entry.
        assert_eq!(m.plan(Some("price_cheap"), Some("price_pro")), None);
        assert_eq!(m.plan(Some("lookup:pro_monthly"), None), None);
        for bad in ["a", "a=", "=b", "a=b,a=c"] {
            assert!(PriceMap::parse(bad).is_err(), "{bad}");
        }
        assert!(PriceMap::parse("").unwrap().is_empty());
    }
}
