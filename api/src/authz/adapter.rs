//! Casbin's `Adapter` over our own SeaORM entity (`authz_policies`), plus the writes services make in their transactions.

use async_trait::async_trait;
use casbin::error::AdapterError;
use casbin::{Adapter, Filter, Model};
use entities::authz_policy;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use crate::db::Db;

/// The value columns, in order.
const VALUE_COLUMNS: [authz_policy::Column; 6] = [
    authz_policy::Column::V0,
    authz_policy::Column::V1,
    authz_policy::Column::V2,
    authz_policy::Column::V3,
    authz_policy::Column::V4,
    authz_policy::Column::V5,
];

/// One policy line: its type (`p`, `g`, `g2`) and up to six values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    pub ptype: String,
    pub values: Vec<String>,
}

impl Rule {
    pub fn new(ptype: &str, values: &[&str]) -> Self {
        Self {
            ptype: ptype.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn from_row(row: authz_policy::Model) -> Self {
        let mut values = vec![row.v0, row.v1, row.v2, row.v3, row.v4, row.v5];
        while values.last().is_some_and(String::is_empty) {
            values.pop();
        }
        Self {
            ptype: row.ptype,
            values,
        }
    }

    fn to_row(&self) -> authz_policy::ActiveModel {
        let value = |i: usize| Set(self.values.get(i).cloned().unwrap_or_default());
        authz_policy::ActiveModel {
            ptype: Set(self.ptype.clone()),
            v0: value(0),
            v1: value(1),
            v2: value(2),
            v3: value(3),
            v4: value(4),
            v5: value(5),
            ..Default::default()
        }
    }

    /// Rules shipped in `policy.csv` (permissions and the plan table), as opposed to per-organization assignments.
    pub fn is_static(&self) -> bool {
        self.ptype == "p"
            || (self.ptype == "g2" && self.values.first().is_some_and(|v| v.starts_with("plan:")))
    }
}

/// Parses `policy.csv`: `ptype, v0, v1, …` per line; `#` starts a comment.
pub fn parse_policy(text: &str) -> Vec<Rule> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split(',').map(str::trim);
            let ptype = fields.next()?;
            Some(Rule {
                ptype: ptype.to_owned(),
                values: fields.map(str::to_owned).collect(),
            })
        })
        .collect()
}

fn adapter_error(err: DbErr) -> casbin::Error {
    AdapterError(Box::new(err)).into()
}

/// Every stored rule.
pub async fn load_rules(conn: &impl ConnectionTrait) -> Result<Vec<Rule>, DbErr> {
    Ok(authz_policy::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(Rule::from_row)
        .collect())
}

/// Makes the stored static rules equal to `wanted` (the versioned `policy.csv`); assignments are untouched.
pub async fn sync_static(db: &Db, wanted: &[Rule]) -> Result<bool, DbErr> {
    let stored: Vec<Rule> = load_rules(db.conn())
        .await?
        .into_iter()
        .filter(Rule::is_static)
        .collect();
    let mut stored_sorted = stored.clone();
    stored_sorted.sort();
    let mut wanted_sorted = wanted.to_vec();
    wanted_sorted.sort();
    wanted_sorted.dedup();
    if stored_sorted == wanted_sorted {
        return Ok(false);
    }
    let txn = db.begin_write().await?;
    for rule in stored.iter().filter(|r| !wanted_sorted.contains(r)) {
        delete_rule(&*txn, rule).await?;
    }
    for rule in wanted_sorted.iter().filter(|r| !stored.contains(r)) {
        rule.to_row().insert(&*txn).await?;
    }
    txn.commit().await?;
    Ok(true)
}

async fn delete_rule(conn: &impl ConnectionTrait, rule: &Rule) -> Result<u64, DbErr> {
    let mut query =
        authz_policy::Entity::delete_many().filter(authz_policy::Column::Ptype.eq(&rule.ptype));
    for (i, column) in VALUE_COLUMNS.into_iter().enumerate() {
        query = query.filter(column.eq(rule.values.get(i).cloned().unwrap_or_default()));
    }
    Ok(query.exec(conn).await?.rows_affected)
}

/// Replaces the roles `subject` holds in `organization` (an empty list removes it), inside the caller's transaction.
pub async fn store_roles(
    conn: &impl ConnectionTrait,
    subject: &str,
    organization: &str,
    roles: &[String],
) -> Result<(), DbErr> {
    authz_policy::Entity::delete_many()
        .filter(authz_policy::Column::Ptype.eq("g"))
        .filter(authz_policy::Column::V0.eq(subject))
        .exec(conn)
        .await?;
    for role in roles {
        Rule::new("g", &[subject, role, organization])
            .to_row()
            .insert(conn)
            .await?;
    }
    Ok(())
}

/// Records the organization's plan, inside the caller's transaction.
pub async fn store_plan(
    conn: &impl ConnectionTrait,
    organization: &str,
    plan: &str,
) -> Result<(), DbErr> {
    authz_policy::Entity::delete_many()
        .filter(authz_policy::Column::Ptype.eq("g2"))
        .filter(authz_policy::Column::V0.eq(organization))
        .exec(conn)
        .await?;
    Rule::new("g2", &[organization, plan])
        .to_row()
        .insert(conn)
        .await?;
    Ok(())
}

/// The Casbin adapter: reads and writes `authz_policies` through our pool.
pub struct SeaOrmAdapter {
    db: Db,
    filtered: bool,
}

impl SeaOrmAdapter {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            filtered: false,
        }
    }
}

fn section(ptype: &str) -> &str {
    if ptype.starts_with('g') { "g" } else { "p" }
}

fn load_into(m: &mut dyn Model, rule: Rule) {
    let sec = section(&rule.ptype).to_owned();
    m.add_policy(&sec, &rule.ptype, rule.values);
}

#[async_trait]
impl Adapter for SeaOrmAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        self.filtered = false;
        for rule in load_rules(self.db.conn()).await.map_err(adapter_error)? {
            load_into(m, rule);
        }
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        f: Filter<'a>,
    ) -> casbin::Result<()> {
        let keep = |wanted: &[&str], values: &[String]| {
            wanted
                .iter()
                .enumerate()
                .all(|(i, w)| w.is_empty() || values.get(i).is_some_and(|v| v == w))
        };
        self.filtered = true;
        for rule in load_rules(self.db.conn()).await.map_err(adapter_error)? {
            let wanted = if section(&rule.ptype) == "g" {
                &f.g
            } else {
                &f.p
            };
            if keep(wanted, &rule.values) {
                load_into(m, rule);
            }
        }
        Ok(())
    }

    async fn save_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        let mut rules = Vec::new();
        for sec in ["p", "g"] {
            if let Some(assertions) = m.get_model().get(sec) {
                for (ptype, assertion) in assertions {
                    for values in assertion.get_policy() {
                        rules.push(Rule {
                            ptype: ptype.clone(),
                            values: values.clone(),
                        });
                    }
                }
            }
        }
        let txn = self.db.conn().begin().await.map_err(adapter_error)?;
        authz_policy::Entity::delete_many()
            .exec(&txn)
            .await
            .map_err(adapter_error)?;
        for rule in rules {
            rule.to_row().insert(&txn).await.map_err(adapter_error)?;
        }
        txn.commit().await.map_err(adapter_error)
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        authz_policy::Entity::delete_many()
            .exec(self.db.conn())
            .await
            .map_err(adapter_error)?;
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        self.filtered
    }

    async fn add_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.add_policies(_sec, ptype, vec![rule]).await
    }

    async fn add_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let txn = self.db.conn().begin().await.map_err(adapter_error)?;
        for values in rules {
            Rule {
                ptype: ptype.to_owned(),
                values,
            }
            .to_row()
            .insert(&txn)
            .await
            .map_err(adapter_error)?;
        }
        txn.commit().await.map_err(adapter_error)?;
        Ok(true)
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.remove_policies(_sec, ptype, vec![rule]).await
    }

    async fn remove_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let mut removed = 0;
        for values in rules {
            let rule = Rule {
                ptype: ptype.to_owned(),
                values,
            };
            removed += delete_rule(self.db.conn(), &rule)
                .await
                .map_err(adapter_error)?;
        }
        Ok(removed > 0)
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        let mut query =
            authz_policy::Entity::delete_many().filter(authz_policy::Column::Ptype.eq(ptype));
        for (offset, value) in field_values.iter().enumerate() {
            let Some(column) = VALUE_COLUMNS.get(field_index + offset) else {
                break;
            };
            if !value.is_empty() {
                query = query.filter(column.eq(value));
            }
        }
        let result = query.exec(self.db.conn()).await.map_err(adapter_error)?;
        Ok(result.rows_affected > 0)
    }
}
