use std::collections::HashMap;
use std::path::Path;

use crate::test_temp::{temp_dir, temp_file};

use super::{Secret, SecretSource, resolve};

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
        resolve(&SecretSource::Env("NOPE".into()), &vars)
            .unwrap_err()
            .to_string(),
        "environment variable NOPE is not set"
    );
    assert_eq!(
        resolve(&SecretSource::Env("EMPTY".into()), &vars)
            .unwrap_err()
            .to_string(),
        "environment variable EMPTY is empty"
    );
}

#[test]
fn from_file_without_trailing_newline() {
    let (_dir, path) = temp_file("key", "sk-from-file\n");
    let secret = resolve(&SecretSource::File(path.clone()), &HashMap::new()).unwrap();
    assert_eq!(secret.expose(), "sk-from-file");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn empty_or_missing_file_names_the_file() {
    let (_dir, path) = temp_file("empty", "\n");
    let err = file_error(&path);
    assert_eq!(err, format!("file {} is empty", path.display()));
    std::fs::remove_file(&path).unwrap();
    let err = file_error(&path);
    assert!(err.starts_with(&format!("cannot read secret file {}", path.display())));
}

fn file_error(path: &Path) -> String {
    resolve(&SecretSource::File(path.to_owned()), &HashMap::new())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_device_is_refused_without_reading_it() {
    // Read unbounded, /dev/zero grew a process to 23 GB.
    let err = file_error(Path::new("/dev/zero"));
    assert_eq!(
        err,
        "secret file /dev/zero is not a regular file (a device)"
    );
}

#[test]
fn a_directory_is_refused() {
    let dir = std::env::temp_dir();
    let err = file_error(&dir);
    assert_eq!(
        err,
        format!(
            "secret file {} is not a regular file (a directory)",
            dir.display()
        )
    );
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = temp_dir();
    let path = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    // Opening a FIFO for reading blocks until a writer appears: resolve on
    // a thread, so a regression fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || tx.send(file_error(&p)));
    let err = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("resolving a FIFO must not block");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        err,
        format!(
            "secret file {} is not a regular file (a FIFO)",
            path.display()
        )
    );
}

#[test]
fn an_oversized_file_is_refused() {
    let (_dir, path) = temp_file("big", &"k".repeat(64 * 1024 + 1));
    let err = file_error(&path);
    assert_eq!(
        err,
        format!("secret file {} is larger than 64 KiB", path.display())
    );
    std::fs::write(&path, "k".repeat(64 * 1024)).unwrap();
    let secret = resolve(&SecretSource::File(path.clone()), &HashMap::new()).unwrap();
    assert_eq!(
        secret.expose().len(),
        64 * 1024,
        "the bound itself is allowed"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_symlink_to_a_regular_file_is_read() {
    // Mounted secrets (Kubernetes, Docker) are symlinks.
    let (dir, target) = temp_file("link-target", "sk-linked\n");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let secret = resolve(&SecretSource::File(link.clone()), &HashMap::new()).unwrap();
    assert_eq!(secret.expose(), "sk-linked");
    std::fs::remove_file(link).unwrap();
    std::fs::remove_file(target).unwrap();
}

#[test]
fn a_value_a_header_cannot_carry_is_refused_without_printing_it() {
    let (_dir, path) = temp_file("two-lines", "sk-first\nsk-second\n");
    let err = file_error(&path);
    assert_eq!(
        err,
        format!(
            "file {} has more than one line; a secret must be one line of visible ASCII",
            path.display()
        )
    );
    std::fs::remove_file(&path).unwrap();
    for (value, what) in [
        ("sk-\u{1}x", "has a control character"),
        ("sk-é", "has a non-ASCII character"),
        (" sk-x", "starts or ends with whitespace"),
        ("sk-x\r\nsk-y", "has more than one line"),
    ] {
        let vars: HashMap<String, String> = [("K".to_owned(), value.to_owned())].into();
        let err = resolve(&SecretSource::Env("K".into()), &vars)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("environment variable K {what}; a secret must be one line of visible ASCII")
        );
        assert!(!err.contains("sk-"), "{err}");
    }
    let vars: HashMap<String, String> = [("K".to_owned(), "sk a\tb".to_owned())].into();
    assert!(resolve(&SecretSource::Env("K".into()), &vars).is_ok());
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
