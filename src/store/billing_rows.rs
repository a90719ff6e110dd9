//! The SQLite store as the billing rules' rows: [`BillingReads`] for a read or write
//! transaction, [`BillingWrites`] for a write. The tables are in `billing.sql`; decisions never
//! read them (a plan change reaches decisions through the org row it writes).

use rusqlite::{params, OptionalExtension};

use super::{Reader, Writer};
use crate::billing::{BillingReads, BillingWrites, SubscriptionRow};
use crate::error::Result;

fn sub_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    Ok(SubscriptionRow {
        id: r.get(0)?,
        org: r.get(1)?,
        customer: r.get(2)?,
        status: r.get(3)?,
        plan: r.get(4)?,
        past_due_since: r.get(5)?,
        last_created: r.get(6)?,
        last_event: r.get(7)?,
    })
}

const SUB_COLUMNS: &str =
    "id, org, customer, status, plan, past_due_since, last_created, last_event";

impl Reader<'_> {
    fn billing_event_outcome(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT outcome FROM stripe_events WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?)
    }

    fn billing_customer_org(&self, customer: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT org FROM stripe_customers WHERE customer = ?1")?
            .query_row(params![customer], |r| r.get(0))
            .optional()?)
    }

    fn billing_subscription(&self, id: &str) -> Result<Option<SubscriptionRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {SUB_COLUMNS} FROM stripe_subscriptions WHERE id = ?1"
            ))?
            .query_row(params![id], sub_row)
            .optional()?)
    }

    fn billing_subscriptions_of(&self, org: &str) -> Result<Vec<SubscriptionRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {SUB_COLUMNS} FROM stripe_subscriptions WHERE org = ?1 ORDER BY id"
        ))?;
        let rows = st.query_map(params![org], sub_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

macro_rules! billing_reads {
    ($t:ty) => {
        impl BillingReads for $t {
            fn event_outcome(&self, id: &str) -> Result<Option<String>> {
                self.billing_event_outcome(id)
            }
            fn customer_org(&self, customer: &str) -> Result<Option<String>> {
                self.billing_customer_org(customer)
            }
            fn subscription(&self, id: &str) -> Result<Option<SubscriptionRow>> {
                self.billing_subscription(id)
            }
            fn subscriptions_of(&self, org: &str) -> Result<Vec<SubscriptionRow>> {
                self.billing_subscriptions_of(org)
            }
        }
    };
}

billing_reads!(Reader<'_>);
billing_reads!(Writer<'_>);

impl BillingWrites for Writer<'_> {
    fn record_event(
        &self,
        id: &str,
        kind: &str,
        created: i64,
        now: i64,
        outcome: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO stripe_events (id, type, created, received_at, outcome) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome",
            )?
            .execute(params![id, kind, created, now, outcome])?;
        Ok(())
    }

    fn link_customer(&self, customer: &str, org: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO stripe_customers (customer, org) VALUES (?1, ?2)")?
            .execute(params![customer, org])?;
        Ok(())
    }

    fn put_subscription(&self, r: &SubscriptionRow) -> Result<()> {
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO stripe_subscriptions ({SUB_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                r.id,
                r.org,
                r.customer,
                r.status,
                r.plan,
                r.past_due_since,
                r.last_created,
                r.last_event
            ])?;
        Ok(())
    }

    fn put_pending(&self, event_id: &str, customer: &str, created: i64, event: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO stripe_pending (event_id, customer, created, event) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![event_id, customer, created, event])?;
        Ok(())
    }

    fn take_pending(&self, customer: &str) -> Result<Vec<String>> {
        let events: Vec<String> = {
            let mut st = self.conn.prepare_cached(
                "SELECT event FROM stripe_pending WHERE customer = ?1 ORDER BY created, seq",
            )?;
            let rows = st.query_map(params![customer], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        self.conn
            .prepare_cached("DELETE FROM stripe_pending WHERE customer = ?1")?
            .execute(params![customer])?;
        Ok(events)
    }
}
