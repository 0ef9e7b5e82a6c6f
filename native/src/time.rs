//! `event_time` text to epoch milliseconds, for the forms this decoder accepts natively.
//!
//! Accepted: `YYYY-MM-DD`, one of `T`/`t`/space, `HH:MM:SS`, an optional `.` and 1-6 digits,
//! then `Z`/`z`/`+00:00`/`-00:00`. The fraction is floored to the millisecond (as the reference
//! floors the microsecond datetime). Any other text (other offsets, more than 6 fraction digits,
//! impossible dates) returns `None`: the message is handed to the reference decoder, whose
//! verdict stands (docs/decode.md, "The typing rules").

fn digits(b: &[u8]) -> Option<i64> {
    let mut out = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        out = out * 10 + i64::from(c - b'0');
    }
    Some(out)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month_days(y: i64, m: i64) -> i64 {
    const DAYS: [i64; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    DAYS[m as usize] + i64::from(m == 2 && leap)
}

/// Epoch milliseconds of an RFC 3339 UTC time in a form above, else `None`.
pub fn epoch_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 6 {
            return None;
        }
        let frac = &rest[1..1 + n];
        for i in 0..3 {
            millis = millis * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0'));
        }
        rest = &rest[1 + n..];
    }
    if !matches!(rest, b"Z" | b"z" | b"+00:00" | b"-00:00") {
        return None;
    }
    if year < 1 || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day < 1 || day > month_days(year, month) {
        return None;
    }
    let seconds = (days_from_civil(year, month, day) * 24 + hour) * 3600 + minute * 60 + second;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::epoch_millis;

    #[test]
    fn canonical_forms() {
        assert_eq!(epoch_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_millis("1970-01-01T00:00:01.2509Z"), Some(1250));
        assert_eq!(
            epoch_millis("2026-01-01 00:00:00.1+00:00"),
            Some(1_767_225_600_100)
        );
        assert_eq!(epoch_millis("1969-12-31T23:59:59.999z"), Some(-1));
        assert_eq!(
            epoch_millis("2024-02-29t12:00:00-00:00"),
            Some(1_709_208_000_000)
        );
        assert_eq!(
            epoch_millis("0001-01-01T00:00:00Z"),
            Some(-62_135_596_800_000)
        );
    }

    #[test]
    fn other_forms_go_to_the_reference() {
        for text in [
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+05:30",
            "2026-01-01T00:00:00.1234567Z",
            "2025-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:60Z",
            "0000-01-01T00:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-1-01T00:00:00Z",
            "",
            "2026-01-01T00:00:00+0000",
            "2026-01-01T00:00:00Zx",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert_eq!(epoch_millis(text), None, "{text}");
        }
    }
}
