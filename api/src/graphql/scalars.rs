//! The custom scalars: `DateTime` (RFC 3339, UTC) and `BigInt` (past 32 bits, written as a string).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, SecondsFormat, Utc};

/// An instant in UTC as RFC 3339 with a `Z`, exactly as REST v1 writes it: `2026-11-25T13:55:09.470772Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

/// An instant in UTC, written in RFC 3339 with a `Z`, such as `2026-11-25T13:55:09.470772Z`; any RFC 3339 offset is
/// accepted as input.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for Timestamp {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|at| Timestamp(at.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// A whole number that may exceed 32 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BigInt(pub u64);

/// A non-negative whole number that may exceed the 32 bits of `Int`, written as a decimal string (`"4294967296"`);
/// a string or a number is accepted as input.
#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        let parsed = match &value {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        parsed
            .map(BigInt)
            .ok_or_else(|| InputValueError::custom("expected a whole number from 0 to 2^64 - 1"))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}
