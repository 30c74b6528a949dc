//! Owns converting a file in the JSON layout of schemas 1 and 2 (one row
//! per record, the whole record as JSON) to schema 4, in place, inside the
//! writer's opening transaction: either every record is converted or the
//! file is left as it was (and the error names the file and what to do).
//! Each old row's key stays its key (under schema 1 that was the caller's
//! `x-request-id`), so lookups by it keep working.

use rusqlite::Transaction;
use signalbox_core::DecisionRecord;

use crate::schema;
use crate::store::Store;
use crate::totals::Fold;

/// Converts the open file from `version` (1 or 2) to the current layout.
pub(crate) fn from_json(tx: &Transaction<'_>, version: i64) -> Result<(), String> {
    tx.execute_batch(
        "DROP INDEX IF EXISTS decisions_time;
         DROP INDEX IF EXISTS decisions_tenant_time;
         DROP INDEX IF EXISTS decisions_route_time;
         DROP INDEX IF EXISTS decisions_outcome_time;
         DROP INDEX IF EXISTS decisions_caller;
         ALTER TABLE decisions RENAME TO decisions_json;",
    )
    .map_err(|e| e.to_string())?;
    tx.execute_batch(&format!("{}{}", schema::CREATE, crate::totals::CREATE))
        .map_err(|e| e.to_string())?;
    let mut store = Store::load(tx).map_err(|e| e.to_string())?;
    let caller = if version >= schema::CALLER_ID_VERSION {
        "caller_request_id"
    } else {
        "NULL"
    };
    let mut stmt = tx
        .prepare(&format!(
            "SELECT request_id, {caller}, record FROM decisions_json ORDER BY time_ms, request_id"
        ))
        .map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut converted = 0u64;
    let mut insert = Store::prepare_insert(tx).map_err(|e| e.to_string())?;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let key: String = row.get(0).map_err(|e| e.to_string())?;
        let caller: Option<String> = row.get(1).map_err(|e| e.to_string())?;
        let json: String = row.get(2).map_err(|e| e.to_string())?;
        let mut record: DecisionRecord =
            serde_json::from_str(&json).map_err(|e| format!("record `{key}`: {e}"))?;
        record.request_id = key;
        record.caller_request_id = caller;
        store
            .insert(tx, &mut insert, &mut record)
            .map_err(|e| format!("record {converted}: {e}"))?;
        converted += 1;
    }
    drop(rows);
    drop(stmt);
    drop(insert);
    store
        .finish_batch(tx, Some(Fold::All))
        .map_err(|e| e.to_string())?;
    tx.execute_batch("DROP TABLE decisions_json")
        .map_err(|e| e.to_string())?;
    tracing::info!(
        records = converted,
        from = version,
        "Decision log converted to schema 4."
    );
    Ok(())
}
