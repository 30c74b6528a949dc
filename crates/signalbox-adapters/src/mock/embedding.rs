//! Owns the mock provider's deterministic embeddings: each input's vector
//! is a unit vector seeded by a hash of the input (its text, or its token
//! ids), so one input always gets one vector, two inputs differ, and a
//! test can tell which route answered only by the mock's name, never by
//! the numbers. Every wire format's mock side writes them in its own shape.

/// Vector length when the request names none (OpenAI's
/// `text-embedding-3-small`).
pub const DEFAULT_DIMENSIONS: usize = 1536;

/// The unit vector of `input` (a text, or a token array's JSON) in `dims`
/// dimensions.
pub fn unit_vector(input: &str, dims: usize) -> Vec<f32> {
    // FNV-1a seeds a splitmix64 stream: cheap, stable across platforms.
    let mut state = input.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let raw: Vec<f64> = (0..dims)
        .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    // The wire carries f32: the narrowing is the format.
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// The text a vector is seeded by: a string input itself, else its JSON.
pub fn seed_of(input: &serde_json::Value) -> String {
    match input {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_deterministic_and_distinct() {
        let a = unit_vector("hello", 64);
        assert_eq!(a.len(), 64);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert_eq!(a, unit_vector("hello", 64));
        assert_ne!(a, unit_vector("hello!", 64));
    }
}
