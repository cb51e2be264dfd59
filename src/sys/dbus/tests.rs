//! The wire format against byte sequences worked out by hand from the
//! specification's alignment rules.

use super::wire::{split_signature, Decoder, Encoder, Kind, Message, Value};

fn enc(values: &[Value]) -> Vec<u8> {
    let mut e = Encoder::default();
    for v in values {
        e.put(v).unwrap();
    }
    e.buf
}

#[test]
fn a_property_is_a_struct_of_string_and_variant() {
    let v = Value::prop("Delegate", Value::Bool(true));
    assert_eq!(v.signature(), "(sv)");
    let mut want = vec![8, 0, 0, 0];
    want.extend(b"Delegate\0");
    want.extend([1, b'b', 0]); // variant signature "b", then the bool 4-aligned at 16
    want.extend([1, 0, 0, 0]);
    assert_eq!(enc(&[v]), want);
}

#[test]
fn array_length_excludes_the_padding_before_the_first_element() {
    // An empty a(sv): the length, then padding to 8 that is not counted.
    let empty = Value::Array("(sv)".into(), vec![]);
    assert_eq!(enc(&[empty]), [0, 0, 0, 0, 0, 0, 0, 0]);
    // One element: s "A" at 8, variant "u" at 14, the u32 4-aligned at 20.
    let one = Value::Array("(sv)".into(), vec![Value::prop("A", Value::U32(7))]);
    assert_eq!(enc(&[one]), [16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, b'A', 0, 1, b'u', 0, 0, 0, 0, 7, 0, 0, 0]);
    // au: no padding, 4-aligned elements.
    assert_eq!(
        enc(&[Value::Array("u".into(), vec![Value::U32(1), Value::U32(2)])]),
        [8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]
    );
}

#[test]
fn alignment_of_basic_types() {
    assert_eq!(enc(&[Value::Byte(1), Value::U64(2)]), [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(enc(&[Value::Byte(1), Value::I32(-1)]), [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(enc(&[Value::Byte(1), Value::I16(2)]), [1, 0, 2, 0]);
    assert_eq!(enc(&[Value::Sig("as".into())]), [2, b'a', b's', 0]);
    assert_eq!(enc(&[Value::Path("/".into())]), [1, 0, 0, 0, b'/', 0]);
    // A variant holding an array of structs: signature, then the array.
    let v =
        Value::Variant(Box::new(Value::Array("(su)".into(), vec![Value::Struct(vec![Value::str(""), Value::U32(3)])])));
    assert_eq!(
        enc(&[v]),
        [5, b'a', b'(', b's', b'u', b')', 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]
    );
}

#[test]
fn decoding_reverses_encoding_for_every_type() {
    let dict = Value::Array(
        "{sv}".into(),
        vec![Value::DictEntry(Box::new(Value::str("k")), Box::new(Value::Variant(Box::new(Value::I64(-5)))))],
    );
    let values = vec![
        Value::Byte(9),
        Value::Bool(false),
        Value::I16(-2),
        Value::U16(3),
        Value::I32(-4),
        Value::U32(5),
        Value::I64(-6),
        Value::U64(u64::MAX),
        Value::Double(1.5),
        Value::Fd(0),
        Value::str("héllo"),
        Value::Path("/org/freedesktop/systemd1".into()),
        Value::Sig("a(sa(sv))".into()),
        Value::strings(&["a", "bc"]),
        Value::Array(
            "(sa(sv))".into(),
            vec![Value::Struct(vec![
                Value::str("x"),
                Value::Array("(sv)".into(), vec![Value::prop("PIDs", Value::Array("u".into(), vec![Value::U32(42)]))]),
            ])],
        ),
        dict,
        Value::Variant(Box::new(Value::Struct(vec![Value::Byte(1), Value::U64(2)]))),
    ];
    let bytes = enc(&values);
    let sig: String = values.iter().map(Value::signature).collect();
    let mut d = Decoder::new(&bytes, false);
    let back: Vec<Value> = split_signature(&sig).unwrap().into_iter().map(|t| d.get(t).unwrap()).collect();
    assert_eq!(back, values);
}

#[test]
fn big_endian_values_are_read() {
    assert_eq!(Decoder::new(&[0, 0, 0, 7], true).get("u").unwrap(), Value::U32(7));
    assert_eq!(Decoder::new(&[0, 0, 0, 1, b'x', 0], true).get("s").unwrap(), Value::str("x"));
}

#[test]
fn a_message_round_trips_and_its_header_is_as_specified() {
    let m = Message::call(
        Some("org.freedesktop.systemd1"),
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "StartTransientUnit",
        vec![
            Value::str("nook-x.scope"),
            Value::str("replace"),
            Value::Array("(sv)".into(), vec![Value::prop("Delegate", Value::Bool(true))]),
            Value::Array("(sa(sv))".into(), vec![]),
        ],
    );
    assert_eq!(m.signature(), "ssa(sv)a(sa(sv))");
    let bytes = m.encode(7).unwrap();
    assert_eq!(&bytes[..4], [b'l', 1, 0, 1]);
    let body_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 7);
    let head: [u8; 16] = bytes[..16].try_into().unwrap();
    assert_eq!(Message::length(&head).unwrap(), bytes.len());
    assert_eq!((bytes.len() - body_len) % 8, 0, "the body starts 8-aligned");
    let back = Message::decode(&bytes).unwrap();
    assert_eq!(back, Message { serial: 7, ..m });
    assert_eq!(back.kind, Kind::MethodCall);
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    for sig in ["a", "(s", "s)", "z", "{s", "a{"] {
        assert!(split_signature(sig).is_err(), "{sig}");
    }
    assert_eq!(split_signature("a{sv}as(uoss)").unwrap(), ["a{sv}", "as", "(uoss)"]);
    // A string running past the end, an array longer than the buffer, a bad bool.
    assert!(Decoder::new(&[9, 0, 0, 0, b'a'], false).get("s").is_err());
    assert!(Decoder::new(&[64, 0, 0, 0, 1, 0, 0, 0], false).get("au").is_err());
    assert!(Decoder::new(&[2, 0, 0, 0], false).get("b").is_err());
    assert!(Message::decode(b"x234567890123456").is_err());
    // Every truncation of a valid message fails cleanly.
    let bytes = Message::signal("/a", "a.b", "C", vec![Value::strings(&["x"])]).encode(1).unwrap();
    for n in 0..bytes.len() {
        assert!(Message::decode(&bytes[..n]).is_err());
    }
    // An array element of the wrong type is refused on the way out.
    let mut e = Encoder::default();
    assert!(e.put(&Value::Array("u".into(), vec![Value::str("x")])).is_err());
}
