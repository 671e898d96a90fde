//! Large JSON bodies kept in a text column, packed: the ledger's and the journal's id maps
//! at the largest pool hold millions of keys (42 MB of JSON), and a plain text would be held
//! three times at once (the string, the statement's copy, the row's). A body up to
//! [`PLAIN_MAX`] stays plain JSON, readable with the database's own JSON functions; a
//! larger one is packed: `z1:` and the base64 of its deflated JSON, written through a
//! stream (the JSON text is never whole in memory) and read through one.

use std::io::{BufReader, BufWriter, Write};

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::read::DecoderReader;
use base64::write::EncoderStringWriter;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What starts a packed body.
const PREFIX: &str = "z1:";

/// The largest body kept as plain JSON.
pub const PLAIN_MAX: usize = 1 << 20;

/// `value` as a body: plain JSON up to `PLAIN_MAX` bytes, packed above.
pub fn pack<T: Serialize>(value: &T) -> Result<String> {
    pack_above(value, PLAIN_MAX)
}

/// `value` as plain JSON up to `plain_max` bytes, packed above.
fn pack_above<T: Serialize>(value: &T, plain_max: usize) -> Result<String> {
    let mut out = Body::Plain(Vec::new(), plain_max);
    // Buffered: the serializer writes a few bytes at a time, and the encoder's cost is per
    // write (3.3 s for the largest pool's 42 MB map unbuffered).
    let mut w = BufWriter::with_capacity(1 << 16, &mut out);
    serde_json::to_writer(&mut w, value).context("packing a body")?;
    w.flush().context("packing a body")?;
    drop(w);
    match out {
        Body::Plain(json, _) => Ok(String::from_utf8(json)?),
        Body::Packed(z) => Ok(z.finish()?.into_inner()),
    }
}

/// A body being written: plain until it outgrows its limit, then packed from the start.
enum Body {
    Plain(Vec<u8>, usize),
    Packed(
        Box<DeflateEncoder<EncoderStringWriter<'static, base64::engine::GeneralPurpose, String>>>,
    ),
}

impl Write for Body {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Body::Plain(json, max) if json.len() + buf.len() <= *max => json.extend_from_slice(buf),
            Body::Plain(json, _) => {
                let text = EncoderStringWriter::from_consumer(PREFIX.to_string(), &STANDARD);
                let mut z = DeflateEncoder::new(text, Compression::fast());
                z.write_all(json)?;
                z.write_all(buf)?;
                *self = Body::Packed(Box::new(z));
            }
            Body::Packed(z) => z.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Body::Plain(..) => Ok(()),
            Body::Packed(z) => z.flush(),
        }
    }
}

/// Reads a body written by [`pack`], or plain JSON.
pub fn unpack<T: DeserializeOwned>(body: &str) -> Result<T> {
    match body.strip_prefix(PREFIX) {
        Some(b64) => {
            let z = DeflateDecoder::new(DecoderReader::new(b64.as_bytes(), &STANDARD));
            Ok(serde_json::from_reader(BufReader::with_capacity(1 << 16, z))?)
        }
        None => Ok(serde_json::from_str(body)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_body_stays_json_and_a_large_one_is_packed_and_reads_back() {
        let small = pack(&vec![1, 2]).unwrap();
        assert_eq!(small, "[1,2]");
        let v: Vec<(i64, i64, i64)> = (0..50_000).map(|i| (i, i * 7, i % 4)).collect();
        assert!(!pack(&v).unwrap().starts_with(PREFIX), "under a megabyte: plain");
        let packed = pack_above(&v, 4096).unwrap();
        assert!(packed.starts_with(PREFIX));
        assert!(packed.len() < serde_json::to_string(&v).unwrap().len() / 2, "{}", packed.len());
        assert_eq!(unpack::<Vec<(i64, i64, i64)>>(&packed).unwrap(), v);
        assert_eq!(unpack::<Vec<i64>>("[1,2]").unwrap(), vec![1, 2]);
    }

    #[test]
    fn a_cut_or_damaged_packed_body_is_an_error_not_a_panic() {
        let packed = pack_above(&(0..10_000).collect::<Vec<i64>>(), 100).unwrap();
        assert!(unpack::<Vec<i64>>(&packed[..packed.len() / 2]).is_err());
        assert!(unpack::<Vec<i64>>("z1:!!not base64!!").is_err());
        assert!(unpack::<Vec<i64>>("{not json").is_err());
    }
}
