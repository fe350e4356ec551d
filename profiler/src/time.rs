//! Timestamps as unix milliseconds, written and read as RFC 3339 (UTC).
//!
//! Windows are `[start, end)` in unix milliseconds; these helpers turn them into the
//! RFC 3339 text of JSON output and back, without a calendar dependency (the civil-date
//! algorithms are Howard Hinnant's, exact over the proleptic Gregorian calendar).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the unix epoch, now.
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The earliest and latest unix seconds of the years 0000 to 9999.
const MIN_SECS: i64 = days_from_civil(0, 1, 1) * 86_400;
const MAX_SECS: i64 = days_from_civil(10_000, 1, 1) * 86_400 - 1;

const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats unix milliseconds as RFC 3339 in UTC, with milliseconds when not whole.
///
/// ```
/// use sextant::time::format_rfc3339;
/// assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
/// assert_eq!(format_rfc3339(1_764_057_600_250), "2025-11-25T08:00:00.250Z");
/// ```
pub fn format_rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    if milli == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
    }
}

/// Reads an RFC 3339 timestamp (`2025-11-25T08:00:00Z`, fractions and `±HH:MM`
/// offsets allowed) or plain unix seconds (`1764057600`, fractions allowed) into unix
/// milliseconds.
///
/// # Errors
///
/// A message saying what is wrong: `text` is neither form, names a day its month does
/// not have or an offset past ±23:59, or falls outside the years 0000 to 9999 (which
/// RFC 3339 can write).
///
/// ```
/// use sextant::time::parse_timestamp;
/// assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Ok(0));
/// assert_eq!(parse_timestamp("2025-11-25T08:00:00.25Z"), Ok(1_764_057_600_250));
/// assert_eq!(parse_timestamp("1764057600"), Ok(1_764_057_600_000));
/// assert!(parse_timestamp("yesterday").is_err());
/// ```
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let expected = || {
        format!(
            "`{text}` is not a timestamp: expected RFC 3339 (2025-11-25T08:00:00Z) or unix seconds"
        )
    };
    if let Ok(secs) = t.parse::<f64>() {
        // The seconds RFC 3339 can write back: years 0000 to 9999.
        if (MIN_SECS as f64..=MAX_SECS as f64).contains(&secs) {
            return Ok((secs * 1000.0).round() as i64);
        }
        return Err(format!(
            "`{text}` is out of range: unix seconds from {MIN_SECS} to {MAX_SECS} \
             (the years 0000 to 9999)"
        ));
    }
    let b = t.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(expected());
    }
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return Err(expected());
    };
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) {
        return Err(expected());
    }
    let days = days_from_civil(y, mo, d);
    // A day past the month's end comes back as another date.
    if civil_from_days(days) != (y, mo, d) {
        return Err(format!(
            "`{text}` is not a date: {y:04}-{mo:02} has no day {d}"
        ));
    }
    if h > 23 || mi > 59 || s > 60 {
        return Err(expected());
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(expected());
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_min = match &t[i..] {
        "Z" | "z" => 0,
        rest if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let (Some(oh), Some(om)) = (num(i + 1..i + 3), num(i + 4..i + 6)) else {
                return Err(expected());
            };
            if oh > 23 || om > 59 {
                return Err(format!(
                    "`{text}` is not a timestamp: the UTC offset must be at most ±23:59"
                ));
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return Err(expected()),
    };
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_min * 60;
    if !(MIN_SECS..=MAX_SECS).contains(&secs) {
        return Err(format!(
            "`{text}` is out of range: in UTC it falls outside the years 0000 to 9999"
        ));
    }
    Ok(secs * 1000 + millis)
}

/// Reads a duration such as `90s`, `15m`, `2h`, `7d` or `500ms` into milliseconds.
///
/// # Errors
///
/// A message naming the accepted units when `text` is not such a duration, or is zero.
///
/// ```
/// use sextant::time::parse_duration_ms;
/// assert_eq!(parse_duration_ms("60s"), Ok(60_000));
/// assert_eq!(parse_duration_ms("15m"), Ok(900_000));
/// assert!(parse_duration_ms("15").is_err());
/// ```
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let factor = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => 0,
    };
    match digits.parse::<i64>() {
        Ok(n) if n > 0 && factor > 0 => n
            .checked_mul(factor)
            .ok_or_else(|| format!("`{text}` is too long a duration")),
        _ => Err(format!(
            "`{text}` is not a duration: expected a positive whole number and a unit, ms, s, m, h or d (e.g. 60s, 15m)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip_over_centuries() {
        let mut ms = -5_000_000_000_000i64;
        while ms < 20_000_000_000_000 {
            assert_eq!(parse_timestamp(&format_rfc3339(ms)), Ok(ms), "{ms}");
            ms += 86_399_999_937;
        }
    }

    #[test]
    fn rejects_malformed_timestamps_without_panicking() {
        for bad in [
            "",
            "2025-13-01T00:00:00Z",
            "2025-11-25T08:00:00",
            "2025-11-25T08:00:00+1",
            "2025-11-25T08:00:00.Z",
            "2025-11-25T25:00:00Z",
            "2025-11-25T08:00:00é",
            "nan",
            "1e300",
            // Days a month does not have, offsets past ±23:59, times RFC 3339 cannot
            // write back.
            "2025-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-01-01T00:00:00+99:99",
            "2025-01-01T00:00:00+01:60",
            "2025-01-01T00:00:00+0100x",
            "1e14",
            "-62167219201",
            "253402300800",
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?}");
        }
        let err = parse_timestamp("2025-02-31T00:00:00Z").unwrap_err();
        assert!(err.contains("has no day 31"), "{err}");
    }

    #[test]
    fn accepts_the_edges_of_what_it_takes() {
        assert_eq!(
            parse_timestamp("2024-02-29T00:00:00Z"),
            parse_timestamp("1709164800")
        );
        assert!(parse_timestamp("2000-02-29T00:00:00Z").is_ok());
        assert!(parse_timestamp("1900-02-29T00:00:00Z").is_err());
        assert_eq!(
            parse_timestamp("2025-01-01T23:59:00+23:59"),
            parse_timestamp("2025-01-01T00:00:00Z")
        );
        for secs in [-62_167_219_200i64, 253_402_300_799] {
            let ms = parse_timestamp(&secs.to_string()).unwrap();
            assert_eq!(parse_timestamp(&format_rfc3339(ms)), Ok(ms));
        }
    }
}
