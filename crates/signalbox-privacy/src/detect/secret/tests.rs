use super::*;

fn secret(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let run_end = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || b"_+/-".contains(c))
        .count();
    secret_at(b, 0, run_end, Some(&EntropySpec::default())).map(|end| &text[..end])
}

#[test]
fn prefixed_credentials() {
    for key in [
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "sk-proj-4fTq9ZbX2mLw8RkVn3Hc7JdPq1Ys6Ga0",
        "sk-ant-api03-Xy7kQ2mN9pL4vR8sT1wZ6bC3dF5gH0jK",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "xoxb-2048-1024-AbCdEfGhIjKl",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ] {
        assert_eq!(secret(key), Some(key), "{key}");
    }
    assert_eq!(
        secret("AKIAIOSFODNN7EXAMPLE, next"),
        Some("AKIAIOSFODNN7EXAMPLE")
    );
}

#[test]
fn jwt_and_private_key() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(secret(&format!("{jwt} trailing")), Some(jwt));
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----";
    assert_eq!(secret(&format!("{pem}\nbye")), Some(pem));
    let escaped =
        r"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    assert_eq!(secret(escaped), Some(escaped));
}

#[test]
fn high_entropy_tokens_but_not_hashes_or_identifiers() {
    assert_eq!(
        secret("Zx8Qp2Lm7Vn4Rt6Yk1Hs9Dw3Fb5Gc0Ja"),
        Some("Zx8Qp2Lm7Vn4Rt6Yk1Hs9Dw3Fb5Gc0Ja")
    );
    let with_keyword = "password: u8jzPde0IgxLd6GncfBAep";
    let start = with_keyword.len() - 22;
    let b = with_keyword.as_bytes();
    assert_eq!(
        secret_at(
            b,
            start,
            b.len(),
            Some(&EntropySpec {
                min_len: 20,
                min_bits_per_char: 4.0
            })
        ),
        Some(b.len())
    );
    let without = "note: u8jzPde0IgxLd6GncfBAep";
    let b = without.as_bytes();
    assert_eq!(
        secret_at(
            b,
            6,
            b.len(),
            Some(&EntropySpec {
                min_len: 20,
                min_bits_per_char: 4.0
            })
        ),
        None
    );
    for text in [
        "3f786850e387550fdab836ed7e6dc881de23001b",
        "550e8400-e29b-41d4-a716-446655440000",
        "AbstractSingletonProxyFactoryBean",
        "getUserAccountBalanceForReport2",
        "src/components/UserProfile2/index",
        "skeleton-loading-placeholder",
        "handleOAuth2CallbackForProvider3",
        "sha512-Qz2ZVb7L8nKc3mT9pX4wR6yH1jE5sA0dF7gU2iO8lB3vN6kM9qW4eR7tY1uI5oP2aS8dG3hJ6kL9zX0cV4bN7mQ",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg",
        "sk-learn",
    ] {
        assert_eq!(secret(text), None, "{text}");
    }
}

#[test]
fn entropy_of_uniform_and_constant_histograms() {
    let mut counts = [0u16; 128];
    counts[usize::from(b'a')] = 8;
    assert!(shannon_bits(&counts, 8).abs() < 1e-9);
    counts[usize::from(b'b')] = 8;
    assert!((shannon_bits(&counts, 16) - 1.0).abs() < 1e-9);
}
