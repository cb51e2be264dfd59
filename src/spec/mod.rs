//! The OCI bundle: loading config.json, and checking it before anything is
//! created, so that a bad config fails with one line naming the field.

mod compat;
mod default;
mod validate;

pub use compat::Doc;
pub use default::default_spec;
pub use oci_spec::runtime::Spec;
pub use validate::validate;

use std::io::Read;
use std::path::{Path, PathBuf};

/// The runtime-spec version nook implements.
pub const OCI_VERSION: &str = "1.3.0";

/// config.json larger than this is refused before it is parsed.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: is {size} bytes, larger than the {max} bytes nook accepts")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("{path}: {field}: {msg}")]
    Parse { path: PathBuf, field: String, msg: String },
    #[error("config.json: {field}: {msg}")]
    Invalid { field: String, msg: String },
}

impl SpecError {
    pub(crate) fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        SpecError::Invalid { field: field.into(), msg: msg.into() }
    }
}

/// A loaded, validated bundle.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
    /// config.json as read (kept in the state directory for `exec`).
    pub raw: Vec<u8>,
}

/// Reads a JSON file of at most `max` bytes and deserializes it, naming the
/// failing field (`process.user.uid: invalid type ...`) on error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, max: u64) -> Result<T, SpecError> {
    let data = read_capped(path, max)?;
    parse_json(&data).map_err(|(field, msg)| SpecError::Parse { path: path.to_owned(), field, msg })
}

/// Reads a file of at most `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, SpecError> {
    let io = |source| SpecError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > max {
        return Err(SpecError::TooLarge { path: path.to_owned(), size, max });
    }
    let mut data = Vec::with_capacity(size as usize);
    file.take(max + 1).read_to_end(&mut data).map_err(io)?;
    if data.len() as u64 > max {
        return Err(SpecError::TooLarge { path: path.to_owned(), size: data.len() as u64, max });
    }
    Ok(data)
}

/// Deserializes JSON bytes; the error is (field path, message).
pub fn parse_json<T: serde::de::DeserializeOwned>(data: &[u8]) -> Result<T, (String, String)> {
    let de = &mut serde_json::Deserializer::from_slice(data);
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { "(document)".to_owned() } else { field };
        (field, e.into_inner().to_string())
    })?;
    Ok(value)
}

/// Deserializes a runtime-spec document of kind `doc` as runc's decoder
/// reads it (see `compat`); the error is (field path, message). A syntax
/// error, or a value error the text as written shows too, is reported as
/// read straight from the text: naming the element, with line and column.
pub fn parse_doc<T: serde::de::DeserializeOwned>(data: &[u8], doc: Doc) -> Result<T, (String, String)> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else { return parse_json(data) };
    compat::normalize(doc, &mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { "(document)".to_owned() } else { field };
        let msg = e.into_inner().to_string();
        match parse_json::<T>(data) {
            // The same error, with its position.
            Err((f, m)) if f == field && m.starts_with(&msg) => (f, m),
            _ => (field, msg),
        }
    })
}

/// Reads a file of at most `max` bytes holding a document of kind `doc`
/// (see [`parse_doc`]).
pub fn read_doc<T: serde::de::DeserializeOwned>(path: &Path, max: u64, doc: Doc) -> Result<T, SpecError> {
    let data = read_capped(path, max)?;
    parse_doc(&data, doc).map_err(|(field, msg)| SpecError::Parse { path: path.to_owned(), field, msg })
}

/// Loads `<bundle>/config.json` and checks it.
pub fn load(bundle: &Path) -> Result<Bundle, SpecError> {
    let dir = std::path::absolute(bundle).map_err(|source| SpecError::Io { path: bundle.to_owned(), source })?;
    let config = dir.join("config.json");
    let raw = read_capped(&config, MAX_CONFIG_BYTES)?;
    let spec: Spec =
        parse_doc(&raw, Doc::Config).map_err(|(field, msg)| SpecError::Parse { path: config.clone(), field, msg })?;
    let rootfs = validate::validate(&spec, &dir)?;
    Ok(Bundle { dir, rootfs, spec, raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_field() {
        let (field, msg) =
            parse_json::<Spec>(br#"{"ociVersion":"1.0.0","process":{"user":{"uid":"x","gid":0},"cwd":"/"}}"#)
                .unwrap_err();
        assert_eq!(field, "process.user.uid");
        assert!(msg.contains("invalid type"), "{msg}");
    }

    #[test]
    fn documents_read_as_runc_reads_them_keep_their_errors() {
        use oci_spec::runtime::Process;
        // A type error the text shows too: named, with its position.
        let (field, msg) =
            parse_doc::<Spec>(br#"{"ociVersion":"1.0.0","process":{"user":{"uid":"x"},"cwd":"/"}}"#, Doc::Config)
                .unwrap_err();
        assert_eq!(field, "process.user.uid");
        assert!(msg.contains("invalid type") && msg.contains("line 1"), "{msg}");
        // `user` may be left out; `cwd` may not.
        let p: Process = parse_doc(br#"{"args":["x"],"cwd":"/"}"#, Doc::Process).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
        let (_, msg) = parse_doc::<Process>(br#"{"args":["x"]}"#, Doc::Process).unwrap_err();
        assert!(msg.contains("cwd") && !msg.contains("user"), "{msg}");
        let (_, msg) = parse_doc::<Process>(b"{\"args\": [", Doc::Process).unwrap_err();
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn syntax_errors_say_where() {
        let (_, msg) = parse_json::<Spec>(b"{\"ociVersion\": ").unwrap_err();
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn oversized_config_is_refused_before_parsing() {
        let dir = std::env::temp_dir().join(format!("nook-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, vec![b' '; 2048]).unwrap();
        let err = read_json::<Spec>(&path, 1024).unwrap_err();
        assert!(matches!(err, SpecError::TooLarge { size: 2048, .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
