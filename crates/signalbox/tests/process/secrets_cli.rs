//! Process-level tests of configuration hygiene: `check` and `serve`
//! resolve secrets through one function and refuse the same files with the
//! same message; `check` warns about providers on metadata addresses.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::common::{TempDir, bin, temp_dir, temp_file};

/// A one-provider configuration whose key is read from `key_file`.
fn config_with_key_file(
    tag: &str,
    key_file: &Path,
    base_url: &str,
) -> (TempDir, std::path::PathBuf) {
    temp_file(
        tag,
        "config.yaml",
        &format!(
            r#"
regions: [us]
providers:
  - name: p
    kind: openai-compatible
    base-url: {base_url}
    api-key: {{ file: {} }}
routes:
  - {{ id: a, provider: p, model: m, region: us }}
aliases:
  - name: chat
    routes: [a]
"#,
            key_file.display()
        ),
    )
}

/// Runs `serve` on `config`, which must fail to start; returns its stderr.
fn serve_refuses(config: &Path) -> String {
    // In a directory of its own: the default decision log is relative.
    let cwd = temp_dir("secrets-serve");
    let mut child = crate::common::bin_in(cwd.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--no-watch", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started with a configuration it should refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn check_and_serve_refuse_a_two_line_key_file_with_the_same_message() {
    let (_key_dir, key) = temp_file("two-line-key", "key", "sk-first\nsk-second\n");
    let (_config_dir, config) = config_with_key_file("two-line-key", &key, "http://127.0.0.1:1/v1");
    let expected = format!(
        "providers[0].api-key: file {} has more than one line; a secret must be one line of visible ASCII",
        key.display()
    );

    let out = bin().arg("check").arg(&config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "check accepted it: {stdout}");
    assert!(stdout.contains(&expected), "{stdout}");

    let stderr = serve_refuses(&config);
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("sk-first"), "{stderr}");
}

#[test]
fn check_and_serve_refuse_a_device_as_a_key_file() {
    let (_config_dir, config) =
        config_with_key_file("dev-zero", Path::new("/dev/zero"), "http://127.0.0.1:1/v1");
    let expected = "providers[0].api-key: secret file /dev/zero is not a regular file (a device)";
    let out = bin().arg("check").arg(&config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(expected), "{stdout}");
    assert!(serve_refuses(&config).contains(expected));
}

#[test]
fn check_warns_about_a_provider_on_a_metadata_address() {
    let (_key_dir, key) = temp_file("metadata-url", "key", "sk-test\n");
    let (_config_dir, config) =
        config_with_key_file("metadata-url", &key, "http://169.254.169.254/v1");
    let out = bin().arg("check").arg(&config).output().unwrap();
    let stdout = crate::common::success_stdout(&out);
    assert!(
        stdout.contains(
            "warning: providers[0].base-url: host 169.254.169.254 is a link-local address"
        ),
        "{stdout}"
    );

    let (_config_dir, config) = config_with_key_file("ordinary-url", &key, "http://127.0.0.1:1/v1");
    let stdout = crate::common::success_stdout(&bin().arg("check").arg(&config).output().unwrap());
    assert!(!stdout.contains("warning"), "{stdout}");
}
