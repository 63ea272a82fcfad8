//! awslambdaric's event (what `json.loads` made of it) back to JSON text, for the pipeline,
//! which parses text as it does in `bootstrap`.
//!
//! Written here rather than with the json module or pythonize: `json.JSONEncoder.encode` cost
//! 110,000 instructions for an HTTP API event and pythonize with serde-transcode 60,000 (it asks
//! every object whether it is a dataclass, an attribute lookup that fails); this walk over the
//! seven types `json.loads` produces costs a fraction of either (callgrind, bench/RESULTS.md).
//! Anything else, such as an int past 64 bits, is [`Unsupported`], and the caller falls back
//! to the json module.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

/// Deeper than any event a gateway sends; the json module's own limit then decides.
const MAX_DEPTH: usize = 128;

/// A value this walk does not write (the json module will).
#[derive(Debug)]
pub struct Unsupported;

/// `value` as JSON text.
pub fn to_json(value: &Bound<'_, PyAny>) -> Result<String, Unsupported> {
    let mut out = Vec::with_capacity(4096);
    write(value, &mut out, 0)?;
    String::from_utf8(out).map_err(|_| Unsupported)
}

fn write(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), Unsupported> {
    if depth > MAX_DEPTH {
        return Err(Unsupported);
    }
    if let Ok(text) = value.cast::<PyString>() {
        // A lone surrogate (from a "\ud800" escape) has no UTF-8: the json module escapes it.
        write_str(text.to_str().map_err(|_| Unsupported)?, out)
    } else if let Ok(dict) = value.cast::<PyDict>() {
        out.push(b'{');
        for (index, (key, item)) in dict.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            let key = key.cast::<PyString>().map_err(|_| Unsupported)?;
            write_str(key.to_str().map_err(|_| Unsupported)?, out)?;
            out.push(b':');
            write(&item, out, depth + 1)?;
        }
        out.push(b'}');
        Ok(())
    } else if let Ok(list) = value.cast::<PyList>() {
        out.push(b'[');
        for (index, item) in list.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write(&item, out, depth + 1)?;
        }
        out.push(b']');
        Ok(())
    } else if value.is_none() {
        out.extend_from_slice(b"null");
        Ok(())
    } else if let Ok(flag) = value.cast::<PyBool>() {
        // Before int: bool is one.
        out.extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
        Ok(())
    } else if value.cast::<PyInt>().is_ok() {
        if let Ok(number) = value.extract::<i64>() {
            serde_json::to_writer(&mut *out, &number).map_err(|_| Unsupported)
        } else {
            let number = value.extract::<u64>().map_err(|_| Unsupported)?;
            serde_json::to_writer(&mut *out, &number).map_err(|_| Unsupported)
        }
    } else if let Ok(number) = value.cast::<PyFloat>() {
        let number = number.value();
        // NaN and the infinities are not JSON (serde_json would write null).
        if !number.is_finite() {
            return Err(Unsupported);
        }
        serde_json::to_writer(&mut *out, &number).map_err(|_| Unsupported)
    } else {
        Err(Unsupported)
    }
}

/// A JSON string. Most of an event's strings need no escape: they are copied whole, and only
/// the others go through serde_json's escaping (which looks at each byte on its way). The
/// check folds over every byte without stopping early, so that the compiler vectorizes it.
fn write_str(text: &str, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    let needs_escape = text.bytes().fold(false, |found, byte| {
        found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if needs_escape {
        return serde_json::to_writer(&mut *out, text).map_err(|_| Unsupported);
    }
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}
