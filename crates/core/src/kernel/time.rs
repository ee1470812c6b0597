//! Timestamps: stored as integer milliseconds since the epoch, written on the wire as
//! ISO-8601 UTC with exactly three fractional digits and a `Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(Utc::now().timestamp_millis())
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `ms` milliseconds.
    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Parses an ISO-8601 / RFC 3339 timestamp with an explicit offset.
    pub fn parse(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s).ok().map(|d| Self(d.timestamp_millis()))
    }

    /// The wire form, e.g. `2021-06-25T19:07:33.155Z`.
    pub fn to_iso(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| serde::de::Error::custom("invalid timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_has_three_fraction_digits() {
        assert_eq!(Timestamp(1_624_648_053_155).to_iso(), "2021-06-25T19:07:33.155Z");
        assert_eq!(Timestamp(1_624_648_053_000).to_iso(), "2021-06-25T19:07:33.000Z");
    }

    #[test]
    fn parse_accepts_offsets_and_round_trips() {
        let t = Timestamp::parse("2021-06-25T21:07:33.155+02:00").unwrap();
        assert_eq!(t.to_iso(), "2021-06-25T19:07:33.155Z");
        assert!(Timestamp::parse("yesterday").is_none());
    }
}
