//! One SQL Server session for the stages that work outside the load's pool — verify,
//! freeze and rollback: statements whose failures become one-line runtime errors naming
//! the server (never the password), and a row stream for results too large to hold.

use anyhow::Result;
use futures_util::TryStreamExt;
use tiberius::error::Error as TdsError;
use tiberius::ToSql;

use super::{connect_spec, scrub, statement_error, Client, ConnSpec, TdsRow};
use crate::db::DbUrl;

/// A connected session and the label its messages use.
pub struct Session {
    client: Client,
    label: String,
    password: Option<String>,
}

impl Session {
    /// Connects within the URL's connect timeout (a failure says what to check, exit 3).
    pub async fn connect(url: &DbUrl) -> Result<Session> {
        let spec = ConnSpec::parse(url)?;
        let client = connect_spec(&spec).await?;
        Ok(Session { client, label: spec.label(), password: spec.password().map(str::to_string) })
    }

    /// `host[:port]/database`, without credentials.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A failed statement as a runtime failure (permission errors say what to GRANT).
    pub fn error(&self, what: &str, e: &TdsError) -> anyhow::Error {
        session_error(&self.label, self.password.as_deref(), what, e)
    }

    /// Runs a query, keeping the server's error for the caller to classify.
    pub async fn try_rows(
        &mut self,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<TdsRow>, TdsError> {
        super::query(&mut self.client, sql, params).await
    }

    /// Runs a query; `what` names it in the error.
    pub async fn rows(
        &mut self,
        what: &str,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<TdsRow>> {
        self.try_rows(sql, params).await.map_err(|e| self.error(what, &e))
    }

    /// Runs a statement with `@P1…` parameters; returns the rows affected.
    pub async fn execute(&mut self, what: &str, sql: &str, params: &[&dyn ToSql]) -> Result<u64> {
        super::execute(&mut self.client, sql, params).await.map_err(|e| self.error(what, &e))
    }

    /// Runs a parameterless batch, keeping the server's error for the caller to classify.
    pub async fn try_batch(&mut self, sql: &str) -> Result<(), TdsError> {
        super::batch(&mut self.client, sql).await
    }

    /// Runs a parameterless batch.
    pub async fn batch(&mut self, what: &str, sql: &str) -> Result<()> {
        self.try_batch(sql).await.map_err(|e| self.error(what, &e))
    }

    /// Whether `table` has the columns `cols`; a permission error is an error, not "absent".
    pub async fn has_columns(&mut self, table: &str, cols: &str) -> Result<bool> {
        super::has_columns(&mut self.client, table, cols)
            .await
            .map_err(|e| self.error(&format!("reading {table}"), &e))
    }

    /// Streams the rows of a query into `f`, one at a time (memory flat in the rows).
    pub async fn for_each(
        &mut self,
        what: &str,
        sql: &str,
        params: &[&dyn ToSql],
        mut f: impl FnMut(TdsRow) -> Result<()>,
    ) -> Result<()> {
        let result: Result<Result<()>, TdsError> = async {
            let mut rows = self.client.query(sql, params).await?.into_row_stream();
            while let Some(r) = rows.try_next().await? {
                if let Err(e) = f(r.into_iter().collect()) {
                    return Ok(Err(e));
                }
            }
            Ok(Ok(()))
        }
        .await;
        result.map_err(|e| self.error(what, &e))?
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A statement failure on `label` as one runtime line, scrubbed of `password`: a server
/// message may echo a connection property.
fn session_error(label: &str, password: Option<&str>, what: &str, e: &TdsError) -> anyhow::Error {
    let msg = format!("{:#}", statement_error(label, what, e));
    crate::error::runtime(scrub(&msg, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_failures_are_one_runtime_line_without_the_password() {
        let e = TdsError::Protocol("login property Pa55w0rd!x echoed\nover two lines".into());
        let err = session_error("sql01:1433/mgc", Some("Pa55w0rd!x"), "reading tblNode", &e);
        let f = err.downcast_ref::<crate::error::Failure>().expect("a Failure");
        assert_eq!(f.kind, crate::error::FailureKind::Runtime);
        let m = format!("{err:#}");
        assert!(m.contains("reading tblNode failed on SQL Server sql01:1433/mgc"), "{m}");
        assert!(!m.contains("Pa55w0rd!x") && !m.contains('\n'), "{m}");
    }
}
