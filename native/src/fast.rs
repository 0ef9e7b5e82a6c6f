//! The fast path: one pass over a message's bytes straight to its `Event`, no tape.
//!
//! `event` takes the common capture event (strings without escapes, numbers of at most 19
//! digits or read by the standard library, free-form `outputs` fields nested at most 8 deep)
//! and declines anything else: the full path (simd-json's tape and `rules::event`) then decides,
//! so a declined message costs a second parse and nothing else. It accepts a message only when
//! the full path accepts it too, with the same values (`tests` below checks it on every message
//! of the Rust tests; the parity property test checks both against the Python reference). The
//! schema's rules are the same as in rules.rs; the typing rules are in docs/decode.md.

use crate::rules::{is_name, Event, Val};

/// Nesting the fast path reads inside free-form `outputs` fields (the full path allows 32).
const MAX_DEPTH: usize = 8;

/// 10^0 ..= 10^22: exactly representable, so `m * 10^e` and `m / 10^e` round once.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `x` (exact up to its lowest zero byte; the bytes above
/// one may be marked too, so only the lowest mark is read).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// A position in a message. Every method returns None where the fast path declines.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace (not consumed).
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string without escapes or control characters, at its opening quote.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let mut ascii = true;
        let mut i = start;
        loop {
            // eight bytes at a time up to the first that is not plain ASCII text
            while let Some(word) = self.b.get(i..i + 8) {
                let x = u64::from_le_bytes(word.try_into().ok()?);
                let stop = zero_bytes(x ^ (LO * u64::from(b'"')))
                    | zero_bytes(x ^ (LO * u64::from(b'\\')))
                    | (x.wrapping_sub(LO * 0x20) & !x & HI)
                    | (x & HI);
                if stop != 0 {
                    i += (stop.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            let c = *self.b.get(i)?;
            if c == b'"' {
                break;
            }
            if c == b'\\' || c < 0x20 {
                return None;
            }
            ascii &= c < 0x80;
            i += 1;
        }
        self.i = i + 1;
        let s = &self.b[start..i];
        if ascii {
            // SAFETY: every byte is ASCII, so the slice is valid UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(s) })
        } else {
            std::str::from_utf8(s).ok()
        }
    }

    fn digits(&mut self) -> (u64, usize) {
        let (mut m, start) = (0u64, self.i);
        while let Some(&c) = self.b.get(self.i).filter(|c| c.is_ascii_digit()) {
            m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            self.i += 1;
        }
        (m, self.i - start)
    }

    /// A JSON number: an int literal in the signed 64-bit range, or a finite float.
    #[inline(always)]
    fn number(&mut self) -> Option<Val<'a>> {
        self.ws();
        let start = self.i;
        let neg = self.b.get(self.i) == Some(&b'-');
        self.i += usize::from(neg);
        let (int, n_int) = self.digits();
        if n_int == 0 || (n_int > 1 && self.b[self.i - n_int] == b'0') {
            return None; // no digit, or a leading zero
        }
        let (mut m, mut n) = (int, n_int);
        let mut scale = 0i64;
        let mut float = false;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            let (frac, n_frac) = self.digits();
            if n_frac == 0 {
                return None;
            }
            m = if n + n_frac <= 19 {
                int * POW10_U64[n_frac] + frac
            } else {
                u64::MAX
            };
            (n, scale, float) = (n + n_frac, -(n_frac as i64), true);
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            let sign = match self.b.get(self.i) {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            self.i += usize::from(sign != 0);
            let (exp, n_exp) = self.digits();
            if n_exp == 0 || n_exp > 4 {
                return None;
            }
            scale += if sign < 0 { -(exp as i64) } else { exp as i64 };
            float = true;
        }
        if !float {
            if n > 18 {
                return text(&self.b[start..self.i])?.parse().ok().map(Val::Int);
            }
            let v = m as i64;
            return Some(Val::Int(if neg { -v } else { v }));
        }
        let f = if n <= 19 && m < (1 << 53) && (-22..=22).contains(&scale) {
            let f = m as f64;
            let f = if scale < 0 {
                f / POW10[(-scale) as usize]
            } else {
                f * POW10[scale as usize]
            };
            if neg {
                -f
            } else {
                f
            }
        } else {
            text(&self.b[start..self.i])?.parse::<f64>().ok()?
        };
        f.is_finite().then_some(Val::Float(f))
    }

    /// A feature value or `outputs.prediction`: `str | int64 | float | bool | None`.
    #[inline(always)]
    fn scalar(&mut self) -> Option<Val<'a>> {
        Some(match self.peek()? {
            b'"' => Val::Str(self.string()?),
            b'n' => {
                self.literal(b"null")?;
                Val::Null
            }
            b't' => {
                self.literal(b"true")?;
                Val::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Val::Bool(false)
            }
            _ => self.number()?,
        })
    }

    /// A `float` field: any JSON number (ints too).
    fn float(&mut self) -> Option<f64> {
        match self.number()? {
            Val::Int(i) => Some(i as f64),
            Val::Float(f) => Some(f),
            _ => None,
        }
    }

    /// `null` (true) or not (false, nothing consumed).
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(true);
        }
        Some(false)
    }

    /// An object, calling `each` with the cursor after each key's colon.
    #[inline]
    fn object(&mut self, mut each: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            each(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Any value nested at most `depth` containers deep.
    fn any(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' if depth > 0 => self.object(|c, _| c.any(depth - 1)),
            b'[' if depth > 0 => {
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.any(depth - 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'{' | b'[' => None,
            _ => self.scalar().map(|_| ()),
        }
    }

    /// `None` or a `str` of `min..=max` characters.
    fn optional_text(&mut self, min: usize, max: usize) -> Option<()> {
        if self.null()? {
            return Some(());
        }
        let n = self.string()?.chars().count();
        (min..=max).contains(&n).then_some(())
    }

    /// `None` or an object of numbers.
    fn optional_numbers(&mut self) -> Option<()> {
        if self.null()? {
            return Some(());
        }
        self.object(|c, _| c.float().map(|_| ()))
    }

    fn outputs(&mut self) -> Option<()> {
        if self.null()? {
            return Some(());
        }
        self.object(|c, key| match key {
            "prediction" => c.scalar().map(|_| ()),
            "probability" => {
                if !c.null()? {
                    c.float()?;
                }
                Some(())
            }
            "scores" => c.optional_numbers(),
            _ => c.any(MAX_DEPTH),
        })
    }
}

/// True when every token outside strings is one JSON allows, ended where JSON lets it end:
/// numbers and `true`/`false`/`null` followed by whitespace, `,`, `]`, `}` or the end, nothing
/// but whitespace and `{}[]:,` between them (so no control byte outside strings). simd-json
/// (the full path) is laxer after a number (`1\u{7f},` read as 1, `1\u{0}2` as 1); a message
/// it would read that way is refused here (the reference then rejects it). Numbers must also be
/// in this module's range (an int beyond 64 bits is refused: the reference decides).
pub fn strict_tokens(b: &[u8]) -> bool {
    let mut c = Cursor { b, i: 0 };
    while let Some(&x) = b.get(c.i) {
        let ok = match x {
            b'"' => {
                c.i += 1;
                while let Some(&y) = b.get(c.i).filter(|y| **y != b'"') {
                    c.i += if y == b'\\' { 2 } else { 1 };
                }
                c.i += 1;
                continue;
            }
            b'-' | b'0'..=b'9' => c.number().is_some(),
            b't' => c.literal(b"true").is_some(),
            b'f' => c.literal(b"false").is_some(),
            b'n' => c.literal(b"null").is_some(),
            b'{' | b'}' | b'[' | b']' | b':' | b',' | b' ' | b'\t' | b'\n' | b'\r' => {
                c.i += 1;
                continue;
            }
            _ => false,
        };
        let ends = matches!(
            b.get(c.i),
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}')
        );
        if !ok || !ends {
            return false;
        }
    }
    true
}

/// 10^0 ..= 10^19 as integers.
const POW10_U64: [u64; 20] = {
    let mut out = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        out[i] = out[i - 1] * 10;
        i += 1;
    }
    out
};

/// A number's text (ASCII by construction).
fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// The event in `bytes` when the fast path reads it, else `Err(inputs)` (the vector handed
/// back for the full path to reuse). `inputs` is an empty vector whose allocation the event's
/// inputs reuse.
pub fn event<'a>(
    bytes: &'a [u8],
    inputs: Vec<(&'a str, Val<'a>)>,
) -> Result<Event<'a>, Vec<(&'a str, Val<'a>)>> {
    let mut c = Cursor { b: bytes, i: 0 };
    let mut ins = inputs;
    let (mut model_id, mut event_ms, mut have_inputs) = (None, None, false);
    let read = c.object(|c, key| {
        match key {
            "model_id" => model_id = Some(c.string().filter(|s| is_name(s))?),
            "event_time" => event_ms = Some(crate::time::epoch_millis(c.string()?)?),
            "inputs" => {
                ins.clear(); // a later duplicate replaces the earlier one
                c.object(|c, name| {
                    ins.push((name, c.scalar()?));
                    Some(())
                })?;
                have_inputs = true;
            }
            "schema_version" => {
                if c.number()? != Val::Int(1) {
                    return None;
                }
            }
            "event_id" => c.optional_text(1, 128)?,
            "variant" => {
                c.string().filter(|s| is_name(s))?;
            }
            "inference_id" => c.optional_text(0, 256)?,
            "outputs" => c.outputs()?,
            "latency_ms" => {
                if !c.null()? && c.float()? < 0.0 {
                    return None;
                }
            }
            "attributions" => c.optional_numbers()?,
            "metadata" => {
                if !c.null()? {
                    c.object(|c, _| c.string().map(|_| ()))?;
                }
            }
            "source" => {
                if !c.null()? && !matches!(c.string()?, "sdk" | "proxy" | "ingest" | "sagemaker") {
                    return None;
                }
            }
            _ => return None, // request/response payloads, unknown fields: the full path
        }
        Some(())
    });
    c.ws();
    match (read, model_id, event_ms, have_inputs, c.i == bytes.len()) {
        (Some(()), Some(model_id), Some(event_ms), true, true) => Ok(Event {
            model_id,
            event_ms,
            inputs: ins,
        }),
        _ => {
            ins.clear();
            Err(ins)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{full, Parser};

    /// A deterministic xorshift generator (no crate for it).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'x>(&mut self, items: &[&'x str]) -> &'x str {
            items[self.below(items.len())]
        }
    }

    const NUMBERS: &[&str] = &[
        "0",
        "-0",
        "1",
        "-1",
        "53.456",
        "-0.0",
        "0.0",
        "1e5",
        "1E+2",
        "1e-2",
        "2.5e-3",
        "0.1e-400",
        "1e309",
        "-1e309",
        "1e-320",
        "4.9e-324",
        "2.2250738585072014e-308",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "9007199254740993",
        "9007199254740993.0",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "123456789012345678",
        "1234567890123456789",
        "123456789012345678901234567890.5",
        "0.30000000000000004",
        "3.141592653589793238462643",
        "1e22",
        "1e23",
        "9007199254740992e22",
        "12345678901234567e-3",
        "1.000000000000000000001",
        "01",
        "1.",
        ".5",
        "+1",
        "-",
        "1e",
        "1e+",
        "00",
        "-01",
        "1.5e00400",
        "1e0400",
        "5e-1",
        "123.456e2",
        "1234567890.0987654321",
        "0e0",
        "-0e-0",
        "99999999999999999999",
    ];
    const STRINGS: &[&str] = &[
        r#""alpha""#,
        r#""""#,
        r#""ü x""#,
        r#""😀""#,
        r#""a\"b""#,
        r#""\u00e9""#,
        r#""\ud800""#,
        "\"tab\there\"",
        "\"del\x7f\"",
        r#""3.5""#,
        r#""a\\b""#,
        "\"\u{2028}\"",
        r#""a longer value, ü in it""#,
        r#""0123456789abcdef\u00e9 escaped after 16""#,
        "\"0123456789\tabcdef raw tab\"",
        "\"0123456\u{1}control byte at 8\"",
        r#""éééééééééé""#,
        r#""abcdefgh""#,
        r#""abcdefg\"h""#,
        "\"abcdefghijklmnop\u{7f}qrstuvwxyz\"",
    ];
    const OTHERS: &[&str] = &[
        "null", "true", "false", "nul", "tru", "[1]", "{}", "NaN", "[]",
    ];
    const NAMES: &[&str] = &[r#""a""#, r#""n00""#, r#""ü x""#, r#""c\u0030""#, r#""""#];
    const TIMES: &[&str] = &[
        r#""2026-01-01T00:00:00.000Z""#,
        r#""2026-01-01T00:00:00+05:30""#,
        r#""2026-01-01""#,
        r#""2026-01-01T00:00:00.5+00:00""#,
        "5",
    ];

    fn value(r: &mut Rng) -> String {
        match r.below(10) {
            0..=4 => r.pick(NUMBERS).to_owned(),
            5..=7 => r.pick(STRINGS).to_owned(),
            _ => r.pick(OTHERS).to_owned(),
        }
    }

    fn field(r: &mut Rng) -> String {
        match r.below(30) {
            0..=5 => format!(
                r#""model_id":{}"#,
                r.pick(&[r#""m1""#, r#""bad id""#, "1", r#""m\u0031""#])
            ),
            6..=9 => format!(r#""event_time":{}"#, r.pick(TIMES)),
            10..=15 => {
                let pairs: Vec<String> = (0..r.below(6))
                    .map(|_| format!("{}:{}", r.pick(NAMES), value(r)))
                    .collect();
                format!(r#""inputs":{{{}}}"#, pairs.join(","))
            }
            16 => format!(
                r#""schema_version":{}"#,
                r.pick(&["1", "1.0", "2", "-1", "01"])
            ),
            17 => format!(
                r#""event_id":{}"#,
                r.pick(&[r#""e""#, r#""""#, "null", "1"])
            ),
            18 => format!(r#""latency_ms":{}"#, value(r)),
            19 => format!(r#""variant":{}"#, r.pick(&[r#""v1""#, "null", r#""a b""#])),
            20 => format!(r#""inference_id":{}"#, value(r)),
            21 => format!(
                r#""outputs":{{"prediction":{},"probability":{},"x":{}}}"#,
                value(r),
                value(r),
                r.pick(&[
                    "[1,[2,{\"y\":[]}]]",
                    "[[[[[[[[[1]]]]]]]]]",
                    "{\"a\":1e999}",
                    "[NaN]"
                ])
            ),
            22 => format!(r#""outputs":{{"scores":{{"a":{}}}}}"#, value(r)),
            23 => format!(r#""attributions":{{"a":{}}}"#, value(r)),
            24 => format!(r#""metadata":{{"k":{}}}"#, value(r)),
            25 => format!(r#""source":{}"#, r.pick(&[r#""sdk""#, r#""x""#, "null"])),
            26 => r#""request":{"content_type":"t","encoding":"CSV","data":"1"}"#.to_owned(),
            27 => r#""unknown":1"#.to_owned(),
            _ => r#""outputs":null"#.to_owned(),
        }
    }

    /// A message: mostly a valid event with random values, sometimes with whitespace,
    /// odd fields, or damaged.
    fn message(r: &mut Rng) -> Vec<u8> {
        let mut fields = vec![
            r#""model_id":"m0""#.to_owned(),
            r#""event_time":"2026-01-01T00:00:00.250Z""#.to_owned(),
            format!(r#""inputs":{{"a":{},"n00":{}}}"#, value(r), value(r)),
        ];
        for _ in 0..r.below(4) {
            let at = r.below(fields.len() + 1);
            fields.insert(at, field(r));
        }
        let sep = [",", ", ", " ,\n", ",\t"][r.below(4)];
        let mut text = format!("{{{}}}", fields.join(sep));
        if r.below(8) == 0 {
            text = text.replace(':', [" : ", ":\r\n", ": "][r.below(3)]);
        }
        let mut bytes = text.into_bytes();
        match r.below(16) {
            0 => bytes.truncate(r.below(bytes.len() + 1)),
            1 => bytes.insert(
                r.below(bytes.len() + 1),
                [b'\xff', b' ', b'}', b'"', 0][r.below(5)],
            ),
            2 => bytes.extend_from_slice(b" \n"),
            3 => bytes.extend_from_slice(b"x"),
            _ => {}
        }
        bytes
    }

    fn same(a: &Val, b: &Val) -> bool {
        match (a, b) {
            (Val::Float(x), Val::Float(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        }
    }

    /// The fast path accepts only what the full path accepts, with the same values, and takes
    /// the common event.
    #[test]
    fn the_fast_path_reads_what_the_full_path_reads() {
        let (mut r, mut parser, mut scratch) =
            (Rng(0x9e37_79b9_7f4a_7c15), Parser::default(), Vec::new());
        let (mut taken, mut accepted) = (0, 0);
        for _ in 0..40_000 {
            let msg = message(&mut r);
            let fast = event(&msg, Vec::new()).ok();
            let slow = full(&msg, &mut scratch, &mut parser);
            accepted += usize::from(slow.is_some());
            let Some(f) = fast else {
                let text = String::from_utf8_lossy(&msg);
                let odd = [
                    "\\",
                    "request",
                    "[[[[[[[[[",
                    "9223372036854775808",
                    "18446744073709551615",
                ];
                assert!(
                    slow.is_none() || odd.iter().any(|o| text.contains(o)),
                    "declined: {text}"
                );
                continue;
            };
            taken += 1;
            let text = String::from_utf8_lossy(&msg);
            let s = slow.unwrap_or_else(|| panic!("the full path refuses {text}"));
            assert_eq!((f.model_id, f.event_ms), (s.model_id, s.event_ms), "{text}");
            assert_eq!(f.inputs.len(), s.inputs.len(), "{text}");
            for ((fk, fv), (sk, sv)) in f.inputs.iter().zip(&s.inputs) {
                assert!(
                    fk == sk && same(fv, sv),
                    "{text}: {fk} {fv:?} vs {sk} {sv:?}"
                );
            }
        }
        assert!(
            taken > 3_000 && taken * 2 > accepted,
            "{taken} of {accepted}"
        );
    }

    #[test]
    fn numbers_read_as_the_standard_library_reads_them() {
        let mut r = Rng(7);
        for _ in 0..100_000 {
            let digits: String = (0..1 + r.below(20))
                .map(|_| char::from(b'0' + r.below(10) as u8))
                .collect();
            let digits = digits.trim_start_matches('0');
            let int = if digits.is_empty() { "0" } else { digits };
            let cut = r.below(int.len() + 1);
            let (a, b) = int.split_at(cut);
            let exp = [
                String::new(),
                format!("e{}", r.below(40) as i64 - 20),
                format!("E-{}", r.below(330)),
            ][r.below(3)]
            .clone();
            let frac = if b.is_empty() {
                String::new()
            } else {
                format!(".{b}")
            };
            let lead = if a.is_empty() { "0" } else { a };
            let text = format!("{}{lead}{frac}{exp}", ["", "-"][r.below(2)]);
            let got = Cursor {
                b: text.as_bytes(),
                i: 0,
            }
            .number();
            match got {
                Some(Val::Float(f)) => assert_eq!(
                    f.to_bits(),
                    text.parse::<f64>().unwrap().to_bits(),
                    "{text}"
                ),
                Some(Val::Int(i)) => assert_eq!(Ok(i), text.parse::<i64>(), "{text}"),
                Some(v) => panic!("{text}: {v:?}"),
                None => assert!(
                    !text.parse::<f64>().unwrap().is_finite() || text.parse::<i64>().is_err(),
                    "{text}"
                ),
            }
        }
    }
}
