use std::collections::HashMap;
use std::path::PathBuf;

use super::{Secret, SecretSource, resolve};

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("signalbox-config-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn from_env_var() {
    let vars: HashMap<String, String> = [("KEY".to_owned(), "sk-test".to_owned())].into();
    let secret = resolve(&SecretSource::Env("KEY".into()), &vars).unwrap();
    assert_eq!(secret.expose(), "sk-test");
}

#[test]
fn missing_or_empty_env_var_names_the_variable() {
    let vars: HashMap<String, String> = [("EMPTY".to_owned(), String::new())].into();
    assert_eq!(
        resolve(&SecretSource::Env("NOPE".into()), &vars).unwrap_err(),
        "environment variable NOPE is not set"
    );
    assert_eq!(
        resolve(&SecretSource::Env("EMPTY".into()), &vars).unwrap_err(),
        "environment variable EMPTY is empty"
    );
}

#[test]
fn from_file_without_trailing_newline() {
    let path = temp_file("key", "sk-from-file\n");
    let secret = resolve(&SecretSource::File(path.clone()), &HashMap::new()).unwrap();
    assert_eq!(secret.expose(), "sk-from-file");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn empty_or_missing_file_names_the_file() {
    let path = temp_file("empty", "\n");
    let err = resolve(&SecretSource::File(path.clone()), &HashMap::new()).unwrap_err();
    assert_eq!(err, format!("file {} is empty", path.display()));
    std::fs::remove_file(&path).unwrap();
    let err = resolve(&SecretSource::File(path.clone()), &HashMap::new()).unwrap_err();
    assert!(err.starts_with(&format!("cannot read secret file {}", path.display())));
}

#[test]
fn debug_and_display_are_redacted() {
    let secret = Secret::new("sk-very-secret");
    assert_eq!(format!("{secret:?}"), "Secret(***)");
    assert_eq!(format!("{secret}"), "Secret(***)");
    assert!(!format!("{:?}", Some(secret)).contains("very-secret"));
}

#[test]
fn hash_secret_is_sha256() {
    let hash = super::hash_secret("abc");
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
