//! Re-sealing every stored secret under a new master key (master key rotation), in one
//! transaction: either every sealed value and the key check change, or none does.

use crate::sql;
use crate::{StorageError, Store};

/// A column holding values sealed for one purpose, in a table keyed by a BIGINT column.
pub struct SealedColumn {
    pub table: &'static str,
    pub key: &'static str,
    pub column: &'static str,
    pub purpose: &'static str,
}

impl Store {
    /// Replaces each sealed value `v` of `columns` by `reseal(purpose, v)` and sets the meta
    /// value `check_key` to `new_check`; returns how many values were re-sealed. Nothing is written if
    /// any value cannot be re-sealed (a wrong old key, a damaged value).
    pub async fn reseal_all<E: std::fmt::Display>(
        &self,
        columns: &[SealedColumn],
        check_key: &str,
        new_check: &str,
        reseal: impl Fn(&str, &str) -> Result<String, E>,
    ) -> Result<usize, StorageError> {
        let mut tx = self.writer.begin().await?;
        let mut n = 0;
        for c in columns {
            let rows = sql::query(&format!(
                "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL",
                key = c.key,
                column = c.column,
                table = c.table
            ))
            .fetch_all(&mut tx)
            .await?;
            for r in rows {
                let id: i64 = r.try_get(0usize)?;
                let old: String = r.try_get(1usize)?;
                let new = reseal(c.purpose, &old).map_err(|e| {
                    StorageError::Corrupt(format!(
                        "{}.{} of {} {id}: {e}",
                        c.table, c.column, c.key
                    ))
                })?;
                sql::query(&format!(
                    "UPDATE {table} SET {column} = $1 WHERE {key} = $2",
                    key = c.key,
                    column = c.column,
                    table = c.table
                ))
                .bind(new)
                .bind(id)
                .execute(&mut tx)
                .await?;
                n += 1;
            }
        }
        let r = sql::query("UPDATE meta SET value = $1 WHERE key = $2")
            .bind(new_check)
            .bind(check_key)
            .execute(&mut tx)
            .await?;
        if r.rows_affected() != 1 {
            return Err(StorageError::Corrupt(format!(
                "meta key {check_key} is missing"
            )));
        }
        tx.commit().await?;
        self.cache.invalidate();
        Ok(n)
    }
}
