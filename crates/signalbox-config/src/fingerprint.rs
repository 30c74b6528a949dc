//! Owns the content hash a reload compares: two loads with the same hash
//! build the same runtime, so the gateway skips the second one.
//!
//! The policy version already covers the merged document after
//! interpolation (the main file, its includes, `${VAR}` values). Credentials
//! are resolved after that, from `{env: VAR}` or `{file: PATH}`, so their
//! values are hashed here as well: a rotated key file reloads although the
//! document did not change, while an edit of comments or formatting alone
//! does not.

use sha2::{Digest, Sha256};

use crate::model::{Config, ProviderConfig, StateBackend};

impl Config {
    /// SHA-256 over the policy version and every resolved credential.
    pub fn content_hash(&self) -> [u8; 32] {
        // Exhaustive on purpose: a new field is either part of the document
        // (and so of `version`) or must be hashed here.
        let Config {
            server: _,
            regions: _,
            providers,
            routes: _,
            aliases: _,
            risk_tiers: _,
            tenants,
            anonymous_tenant: _,
            admin,
            decision_log: _,
            intents: _,
            policy_rules: _,
            resilience: _,
            privacy: _,
            prompts: _,
            state,
            quality,
            shadow: _,
            canaries: _,
            version,
            origin,
            includes: _,
            // Comments and formatting: a new text with the same document
            // builds the same runtime.
            source_text: _,
        } = self;
        let mut hash = Hasher(Sha256::new());
        hash.field(version.as_bytes());
        hash.field(origin.as_bytes());
        for provider in providers {
            hash_provider(&mut hash, provider);
        }
        for tenant in tenants {
            for key in &tenant.api_key_hashes {
                hash.field(key);
            }
            hash.field(b"/tenant");
        }
        hash.optional(admin.token_hash.as_ref().map(|h| h.as_slice()));
        for token in &admin.tokens {
            hash.field(token.name.as_bytes());
            hash.field(token.role.label().as_bytes());
            hash.field(&token.hash);
            for kind in token.actions.iter().flatten() {
                hash.field(kind.label().as_bytes());
            }
            hash.field(b"/admin-token");
        }
        match &state.backend {
            StateBackend::Memory => hash.field(b"memory"),
            StateBackend::Redis { url } => hash.field(url.expose().as_bytes()),
        }
        // Suite files are read at load, like `{file:}` credentials: an
        // edited suite reloads although the document did not change.
        for suite in &quality.suites {
            hash.field(suite.text.as_bytes());
        }
        hash.0.finalize().into()
    }
}

fn hash_provider(hash: &mut Hasher, provider: &ProviderConfig) {
    hash.optional(provider.api_key.as_ref().map(|k| k.expose().as_bytes()));
    match &provider.aws {
        None => hash.optional(None),
        Some(aws) => {
            hash.field(aws.access_key_id.expose().as_bytes());
            hash.field(aws.secret_access_key.expose().as_bytes());
            hash.optional(aws.session_token.as_ref().map(|t| t.expose().as_bytes()));
        }
    }
}

/// Length-prefixed fields, so that no two different sequences of values
/// feed the same bytes to the digest.
struct Hasher(Sha256);

impl Hasher {
    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn optional(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => {
                self.0.update([1]);
                self.field(bytes);
            }
            None => self.0.update([0]),
        }
    }
}

#[cfg(test)]
mod tests {

    use crate::{EnvVars, load_file};

    fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const DOC: &str = "providers:\n  - { name: p, kind: openai-compatible, base-url: \"http://127.0.0.1:9\", api-key: { file: key.txt } }\nroutes:\n  - { id: r, provider: p, model: m, region: us }\naliases:\n  - { name: chat, routes: [r] }\n";

    #[test]
    fn comments_keep_the_hash_and_content_or_key_files_change_it() {
        let scratch = crate::test_temp::temp_dir();
        let dir = scratch.path();
        let key = write(dir, "key.txt", "sk-one\n");
        let doc = DOC.replace("key.txt", key.to_str().unwrap());
        let main = write(dir, "signalbox.yaml", &doc);
        let first = load_file(&main, &EnvVars).unwrap().content_hash();
        assert_eq!(load_file(&main, &EnvVars).unwrap().content_hash(), first);

        write(dir, "signalbox.yaml", &format!("# a comment\n{doc}"));
        let commented = load_file(&main, &EnvVars).unwrap().content_hash();
        assert_eq!(commented, first, "a comment changes nothing that runs");

        write(dir, "key.txt", "sk-two\n");
        let rotated = load_file(&main, &EnvVars).unwrap().content_hash();
        assert_ne!(rotated, first, "a rotated key file must reload");

        write(dir, "signalbox.yaml", &doc.replace("model: m", "model: n"));
        let edited = load_file(&main, &EnvVars).unwrap().content_hash();
        assert_ne!(edited, rotated);
    }
}
