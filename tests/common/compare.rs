//! The comparison of printed outputs shared by the notebook regression test and the stability
//! test: numbers within a relative tolerance (or, for decimals, one unit of the last printed
//! digit), all other text exactly.

/// The relative tolerance of the notebook regression test (`INTERPRIM_NOTEBOOK_RTOL` overrides).
pub const DEFAULT_RTOL: f64 = 1e-4;
/// Absolute tolerance for numbers near zero.
pub const ATOL: f64 = 1e-9;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Num(f64, String),
    Text(String),
}

/// Split text into numbers and the text between them. A sign belongs to a number unless it
/// follows a letter, digit or '_' ("x1-2" is x, 1, -, 2).
pub fn tokens(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let (mut out, mut text, mut i) = (Vec::new(), String::new(), 0);
    let starts_number = |i: usize| -> Option<usize> {
        let mut j = i;
        if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
            let prev_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if prev_word {
                return None;
            }
            j += 1;
        }
        let digits_from = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let mut has_digits = j > digits_from;
        if j < b.len() && b[j] == b'.' && j + 1 < b.len() && b[j + 1].is_ascii_digit() {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            has_digits = true;
        }
        if !has_digits {
            return None;
        }
        if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
            let mut k = j + 1;
            if k < b.len() && (b[k] == b'-' || b[k] == b'+') {
                k += 1;
            }
            if k < b.len() && b[k].is_ascii_digit() {
                while k < b.len() && b[k].is_ascii_digit() {
                    k += 1;
                }
                j = k;
            }
        }
        Some(j)
    };
    while i < b.len() {
        match starts_number(i) {
            Some(end) => {
                if !text.is_empty() {
                    out.push(Tok::Text(std::mem::take(&mut text)));
                }
                let lit = &s[i..end];
                out.push(Tok::Num(lit.parse().unwrap_or(f64::NAN), lit.to_string()));
                i = end;
            }
            None => {
                let ch = s[i..].chars().next().unwrap_or(' ');
                text.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    if !text.is_empty() {
        out.push(Tok::Text(text));
    }
    out
}

pub fn close(a: f64, b: f64, rtol: f64) -> bool {
    a == b || (a - b).abs() <= rtol * a.abs().max(b.abs()) + ATOL
}

/// One unit in the last printed digit of a decimal literal ("0.25" → 0.01, "1.5e-3" → 1e-4);
/// 0 for integers, which must match within `rtol` alone.
pub fn last_digit_unit(lit: &str) -> f64 {
    let (mantissa, exp) = match lit.find(['e', 'E']) {
        Some(i) => (&lit[..i], lit[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (lit, 0),
    };
    match mantissa.split_once('.') {
        Some((_, decimals)) => 10f64.powi(exp - decimals.len() as i32),
        None => 0.0,
    }
}

/// Whether two printed numbers agree: within `rtol`, or (decimals only) within one unit of the
/// last digit both were printed with.
pub fn numbers_agree(p: f64, ps: &str, q: f64, qs: &str, rtol: f64) -> bool {
    let unit = last_digit_unit(ps).min(last_digit_unit(qs));
    close(p, q, rtol) || (p - q).abs() <= unit * (1.0 + 1e-9)
}

/// None when the lines agree; else why not.
pub fn line_mismatch(expected: &str, actual: &str, rtol: f64) -> Option<String> {
    let (e, a) = (tokens(expected), tokens(actual));
    if e.len() != a.len() {
        return Some("text differs".into());
    }
    for (x, y) in e.iter().zip(&a) {
        match (x, y) {
            (Tok::Num(p, ps), Tok::Num(q, qs)) => {
                if !numbers_agree(*p, ps, *q, qs, rtol) {
                    let rel = (p - q).abs() / p.abs().max(q.abs()).max(f64::MIN_POSITIVE);
                    return Some(format!(
                        "{ps} vs {qs}: relative difference {rel:.1e} > {rtol:.0e}"
                    ));
                }
            }
            (Tok::Text(s), Tok::Text(t)) if s == t => {}
            _ => return Some("text differs".into()),
        }
    }
    None
}
