//! PostgreSQL through sqlx's driver and pool.

use std::borrow::Cow;
use std::sync::Arc;

use sqlx::postgres::{PgRow, Postgres};
use sqlx::{Column, Row as _, TypeInfo};

use super::{Arg, Output, Query, Row, Value, Want};
use crate::error::DbError;
use crate::StorageError;

pub(super) async fn pg_run<'c>(
    on: impl sqlx::PgExecutor<'c>,
    q: Query<'_>,
    want: Want,
) -> Result<Output, StorageError> {
    let mut pq = sqlx::query::<Postgres>(q.sql);
    for a in q.args {
        pq = match a {
            Arg::Int(v) => pq.bind(v),
            Arg::Text(v) => pq.bind(v.map(Cow::into_owned)),
        };
    }
    Ok(match want {
        Want::Nothing => Output {
            rows: Vec::new(),
            affected: pq.execute(on).await.map_err(DbError::from)?.rows_affected(),
        },
        Want::One => Output {
            rows: match pq.fetch_optional(on).await.map_err(DbError::from)? {
                Some(r) => vec![pg_row(&r, &pg_columns(&r))?],
                None => Vec::new(),
            },
            affected: 0,
        },
        Want::All => {
            let rows = pq.fetch_all(on).await.map_err(DbError::from)?;
            // Every row of a statement has the same columns: their names are shared.
            let columns = rows
                .first()
                .map(pg_columns)
                .unwrap_or_else(|| Arc::from([]));
            Output {
                rows: rows
                    .iter()
                    .map(|r| pg_row(r, &columns))
                    .collect::<Result<_, _>>()?,
                affected: 0,
            }
        }
    })
}

fn pg_columns(r: &PgRow) -> Arc<[Box<str>]> {
    r.columns().iter().map(|c| Box::from(c.name())).collect()
}

/// Column `i` of `r` as `T` (NULL as `None`).
fn get<'r, T>(r: &'r PgRow, i: usize) -> Result<Option<T>, StorageError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    r.try_get::<Option<T>, _>(i)
        .map_err(|e| StorageError::Database(DbError::from(e)))
}

fn pg_row(r: &PgRow, columns: &Arc<[Box<str>]>) -> Result<Row, StorageError> {
    let mut values = Vec::with_capacity(columns.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match col.type_info().name() {
            "INT8" => get::<i64>(r, i)?.map(Value::Int),
            "INT4" => get::<i32>(r, i)?.map(|n| Value::Int(n.into())),
            "INT2" => get::<i16>(r, i)?.map(|n| Value::Int(n.into())),
            "BOOL" => get::<bool>(r, i)?.map(|b| Value::Int(b.into())),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => get::<String>(r, i)?.map(Value::Text),
            "FLOAT8" => get::<f64>(r, i)?.map(Value::Real),
            "BYTEA" => get::<Vec<u8>>(r, i)?.map(Value::Blob),
            "VOID" => None,
            other => {
                return Err(StorageError::Corrupt(format!(
                    "column {} has type {other}, which Kassa does not read",
                    col.name()
                )))
            }
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row {
        columns: columns.clone(),
        values,
    })
}
