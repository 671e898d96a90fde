//! Rows with text columns kept as bytes until a writer takes them: each value is a tag
//! byte, then eight little-endian bytes for an integer or a length (LEB128) and UTF-8 for
//! text, row after row in one buffer. A row of [`Value`]s costs a list, 32 bytes a cell
//! and a string per text; the 150,000 new principals of the largest pool took 93 MB as
//! values and take 45 MB here, in one allocation.

use super::batch::Value;

/// The tags of the encoding.
const NULL: u8 = 0;
const INT: u8 = 1;
const TEXT: u8 = 2;

/// Rows of one table, encoded one after another (the table gives their arity).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackedRows {
    bytes: Vec<u8>,
    rows: usize,
}

impl PackedRows {
    /// Appends a row.
    pub fn push(&mut self, row: &[Value]) {
        for v in row {
            match v {
                Value::Null => self.bytes.push(NULL),
                Value::Int(i) => {
                    self.bytes.push(INT);
                    self.bytes.extend_from_slice(&i.to_le_bytes());
                }
                Value::Text(s) => {
                    self.bytes.push(TEXT);
                    let mut n = s.len();
                    loop {
                        let low = (n & 0x7f) as u8;
                        n >>= 7;
                        if n == 0 {
                            self.bytes.push(low);
                            break;
                        }
                        self.bytes.push(low | 0x80);
                    }
                    self.bytes.extend_from_slice(s.as_bytes());
                }
            }
        }
        self.rows += 1;
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Gives back the room the buffer grew into.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// The rows as values, `arity` cells each, in parts of at most `per_part` rows made one
    /// at a time.
    pub fn parts(
        &self,
        arity: usize,
        per_part: usize,
    ) -> impl Iterator<Item = Vec<Vec<Value>>> + '_ {
        let mut at = 0;
        let mut left = self.rows;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let n = left.min(per_part.max(1));
            left -= n;
            let part = (0..n)
                .map(|_| (0..arity).map(|_| self.value(&mut at)).collect())
                .collect::<Vec<Vec<Value>>>();
            Some(part)
        })
    }

    /// The value at `at`, moving `at` past it. The buffer is only ever written by
    /// [`PackedRows::push`]; a short read (impossible) yields NULL rather than a panic.
    fn value(&self, at: &mut usize) -> Value {
        let b = &self.bytes;
        let Some(&tag) = b.get(*at) else { return Value::Null };
        *at += 1;
        match tag {
            INT => {
                let cell = b.get(*at..*at + 8).and_then(|s| <[u8; 8]>::try_from(s).ok());
                *at += 8;
                cell.map_or(Value::Null, |c| Value::Int(i64::from_le_bytes(c)))
            }
            TEXT => {
                let (mut n, mut shift) = (0usize, 0);
                while let Some(&byte) = b.get(*at) {
                    *at += 1;
                    n |= usize::from(byte & 0x7f) << shift;
                    shift += 7;
                    if byte & 0x80 == 0 {
                        break;
                    }
                }
                let text = b.get(*at..*at + n).unwrap_or_default();
                *at += n;
                Value::Text(String::from_utf8_lossy(text).into_owned())
            }
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_as_they_went_in_in_parts() {
        let long = "é".repeat(300);
        let rows: Vec<Vec<Value>> = (0..5i64)
            .map(|i| {
                vec![
                    Value::Int(i - 2),
                    Value::Null,
                    Value::Text(format!("sip:u{i}@x")),
                    Value::Text(if i == 3 { long.clone() } else { String::new() }),
                    Value::Int(i64::MIN + i),
                ]
            })
            .collect();
        let mut p = PackedRows::default();
        for r in &rows {
            p.push(r);
        }
        assert_eq!(p.len(), 5);
        let parts: Vec<Vec<Vec<Value>>> = p.parts(5, 2).collect();
        assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(parts.concat(), rows);
        assert_eq!(PackedRows::default().parts(5, 2).count(), 0);
    }
}
