//! Owns reading a file still in the JSON layout of schemas 1 and 2 (one
//! row per record, the whole record as JSON), as a reader finds it before
//! any writer of this build has converted it: lookups and listings work as
//! they did; aggregates need the current layout (`LogError::Legacy`).

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use signalbox_core::DecisionRecord;

use super::{Facet, MAX_LIMIT, Query};
use crate::{LogError, schema};

/// The records `id` names (see [`super::LogReader::find`]).
pub(super) fn find(
    conn: &Connection,
    version: i64,
    id: &str,
    tenant: Option<&str>,
) -> Result<Vec<DecisionRecord>, LogError> {
    let tenant_clause = if tenant.is_some() {
        " AND tenant = ?2"
    } else {
        ""
    };
    let by_key = format!("SELECT record FROM decisions WHERE request_id = ?1{tenant_clause}");
    let found = records(conn, &by_key, id, tenant)?;
    if !found.is_empty() || version < schema::CALLER_ID_VERSION {
        return Ok(found);
    }
    let by_caller = format!(
        "SELECT record FROM decisions WHERE caller_request_id = ?1{tenant_clause}
         ORDER BY time_ms DESC, request_id DESC LIMIT {MAX_LIMIT}"
    );
    records(conn, &by_caller, id, tenant)
}

/// Records matching `q`, newest first.
pub(super) fn query(
    conn: &Connection,
    version: i64,
    q: &Query,
) -> Result<Vec<DecisionRecord>, LogError> {
    let (where_, mut values) = filter(version, q);
    values.push(Value::Integer(
        i64::try_from(q.effective_limit()).unwrap_or(i64::MAX),
    ));
    let sql = format!(
        "SELECT record FROM decisions{where_} ORDER BY time_ms DESC, request_id DESC LIMIT ?{}",
        values.len()
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(serde_json::from_str(&json?)?);
    }
    Ok(out)
}

/// The `WHERE` clause (empty, or starting with a space) and its bound
/// values for every filter of `q` but the limit.
fn filter(version: i64, q: &Query) -> (String, Vec<Value>) {
    let Query {
        request_id,
        tenant,
        route,
        outcome,
        since_ms,
        until_ms,
        facets,
        limit: _,
    } = q;
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    if let Some(id) = request_id {
        let caller = if version >= schema::CALLER_ID_VERSION {
            "caller_request_id"
        } else {
            "NULL"
        };
        values.push(Value::Text(id.clone()));
        let n = values.len();
        clauses.push(format!("(request_id = ?{n} OR {caller} = ?{n})"));
    }
    let mut column = |column: &str, op: &str, value: Value| {
        values.push(value);
        clauses.push(format!("{column} {op} ?{}", values.len()));
    };
    if let Some(tenant) = tenant {
        column("tenant", "=", Value::Text(tenant.clone()));
    }
    if let Some(route) = route {
        column("route", "=", Value::Text(route.clone()));
    }
    if let Some(outcome) = outcome {
        column("outcome", "=", Value::Text(outcome.clone()));
    }
    if let Some(since) = since_ms {
        column("time_ms", ">=", Value::Integer(schema::to_sql_ms(*since)));
    }
    if let Some(until) = until_ms {
        column("time_ms", "<", Value::Integer(schema::to_sql_ms(*until)));
    }
    for facet in facets {
        values.push(facet_value(facet));
        clauses.push(condition(facet, values.len()));
    }
    if clauses.is_empty() {
        return (String::new(), values);
    }
    (format!(" WHERE {}", clauses.join(" AND ")), values)
}

/// The SQL condition on the stored JSON, with `?{n}` standing for the value.
fn condition(facet: &Facet, n: usize) -> String {
    let field = |path: &str| format!("json_extract(record, '$.{path}') = ?{n}");
    let member = |path: &str| {
        format!("EXISTS (SELECT 1 FROM json_each(record, '$.{path}') WHERE value = ?{n})")
    };
    let signal = |name: &str, test: &str| {
        format!(
            "EXISTS (SELECT 1 FROM json_each(record, '$.signals') \
             WHERE json_extract(value, '$.name') = '{name}' AND {test})"
        )
    };
    match facet {
        Facet::Alias(_) => field("alias"),
        Facet::Provider(_) => field("provider"),
        Facet::ModelVersion(_) => field("model_version"),
        Facet::PromptVersion(_) => field("prompt_version"),
        Facet::PolicyVersion(_) => format!("policy_version = ?{n}"),
        Facet::Intent(_) => signal("intent", &format!("json_extract(value, '$.value') = ?{n}")),
        Facet::Degraded(_) => member("degraded"),
        Facet::OperatorAction(_) => member("operator_actions"),
        Facet::Tools(_) => signal(
            "tools",
            &format!("(json_extract(value, '$.value') != 'none') = ?{n}"),
        ),
    }
}

fn facet_value(facet: &Facet) -> Value {
    match facet {
        Facet::Alias(v)
        | Facet::Provider(v)
        | Facet::ModelVersion(v)
        | Facet::PromptVersion(v)
        | Facet::PolicyVersion(v)
        | Facet::Intent(v)
        | Facet::Degraded(v)
        | Facet::OperatorAction(v) => Value::Text(v.clone()),
        Facet::Tools(on) => Value::Integer(i64::from(*on)),
    }
}

/// Runs `sql` with `?1 = id` and, when given, `?2 = tenant`.
fn records(
    conn: &Connection,
    sql: &str,
    id: &str,
    tenant: Option<&str>,
) -> Result<Vec<DecisionRecord>, LogError> {
    let mut stmt = conn.prepare(sql)?;
    let values = std::iter::once(id).chain(tenant);
    let rows = stmt.query_map(params_from_iter(values), |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(serde_json::from_str(&json?)?);
    }
    Ok(out)
}
