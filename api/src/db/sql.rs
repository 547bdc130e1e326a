//! Raw SQL for both backends: placeholders in the backend's syntax, and the dialect differences that
//! aggregates need (time buckets, durations, hours of the day, float casts).

use sea_orm::{DbBackend, Statement, Value};

/// The width of a time bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeBucket {
    Hour,
    Day,
    Week,
}

/// A statement under construction: text with the backend's placeholders, and its values.
pub(crate) struct Sql {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// A placeholder for `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// `column` truncated to the bucket start, as RFC 3339 text (identical on both backends).
    pub(crate) fn bucket(&self, column: &str, bucket: TimeBucket) -> String {
        match (self.backend, bucket) {
            (DbBackend::Postgres, g) => {
                let unit = match g {
                    TimeBucket::Hour => "hour",
                    TimeBucket::Day => "day",
                    TimeBucket::Week => "week",
                };
                format!(
                    "to_char(date_trunc('{unit}', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')"
                )
            }
            (_, TimeBucket::Hour) => format!("strftime('%Y-%m-%dT%H:00:00Z', {column})"),
            (_, TimeBucket::Day) => format!("strftime('%Y-%m-%dT00:00:00Z', {column})"),
            (_, TimeBucket::Week) => {
                format!("strftime('%Y-%m-%dT00:00:00Z', {column}, '-6 days', 'weekday 1')")
            }
        }
    }

    /// Seconds from `start` to `end`, to the millisecond.
    pub(crate) fn seconds_between(&self, start: &str, end: &str) -> String {
        match self.backend {
            DbBackend::Postgres => {
                format!("ROUND(CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS NUMERIC), 3)")
            }
            _ => format!("ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"),
        }
    }

    /// `expression` as a double-precision float.
    pub(crate) fn as_double(&self, expression: &str) -> String {
        match self.backend {
            DbBackend::Postgres => format!("CAST({expression} AS DOUBLE PRECISION)"),
            _ => format!("CAST({expression} AS REAL)"),
        }
    }

    /// The hour of the day (UTC) of `column`, as an integer.
    pub(crate) fn hour_of_day(&self, column: &str) -> String {
        match self.backend {
            DbBackend::Postgres => {
                format!("CAST(EXTRACT(HOUR FROM {column} AT TIME ZONE 'UTC') AS INTEGER)")
            }
            _ => format!("CAST(strftime('%H', {column}) AS INTEGER)"),
        }
    }

    pub(crate) fn statement(self, text: String) -> Statement {
        Statement::from_sql_and_values(self.backend, text, self.values)
    }
}
