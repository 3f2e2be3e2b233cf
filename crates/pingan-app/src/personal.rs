//! Personal data at rest: reporters' contact details are sealed with AES-256-GCM before they reach
//! the store, and shown masked unless an authorised person reveals one record.
//!
//! Keys come from a key file, one key per line (`ID BASE64-OF-32-BYTES`), newest first: the first
//! seals, every key opens. To rotate, put a new line at the top and restart; records sealed under
//! an older key stay readable while its line is kept, and [`reseal`] moves them to the new key.

use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pingan_core::Timestamp;
use pingan_store::cases::{CaseBody, Reporter};
use pingan_store::{Store, StoreError};

use crate::{AppError, Progress};

const NONCE_BYTES: usize = 12;

pub struct Vault {
    /// Newest first.
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys themselves.
        f.debug_struct("Vault").field("keys", &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>()).finish()
    }
}

impl Vault {
    /// Parses a key file's text.
    pub fn parse(text: &str) -> Result<Vault, AppError> {
        let bad = |line: usize, why: &str| AppError::BadKeyFile(format!("line {line}: {why}"));
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, encoded) = line.split_once(char::is_whitespace).ok_or_else(|| bad(index, "expected `ID KEY`"))?;
            if id.contains('.') || keys.iter().any(|(known, _)| known == id) {
                return Err(bad(index, "key ids are unique and contain no '.'"));
            }
            let bytes = STANDARD.decode(encoded.trim()).map_err(|_| bad(index, "the key is not base64"))?;
            if bytes.len() != 32 {
                return Err(bad(index, "a key is 32 bytes"));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| bad(index, "a key is 32 bytes"))?;
            keys.push((id.to_owned(), cipher));
        }
        if keys.is_empty() {
            return Err(AppError::BadKeyFile("no key".into()));
        }
        Ok(Vault { keys })
    }

    /// A key file's text holding one fresh random key named `id`.
    pub fn generate(id: &str) -> String {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        format!(
            "# Pingan's keys for personal data, newest first: the first seals, every key opens.\n{id} {}\n",
            STANDARD.encode(key)
        )
    }

    /// A fresh key id: random, so that a key made by mistake elsewhere never takes the name of the
    /// one a database was sealed under.
    pub fn new_key_id() -> String {
        format!("k-{:08x}", OsRng.next_u32())
    }

    /// Reads the key file at `path`, creating it with a fresh key (readable by its owner only) if
    /// there is none.
    pub fn open_or_create(path: &Path) -> Result<Vault, AppError> {
        if !path.exists() {
            let text = Vault::generate(&Vault::new_key_id());
            write_private(path, &text)
                .map_err(|e| AppError::BadKeyFile(format!("cannot write {}: {e}", path.display())))?;
        }
        Vault::read(path)
    }

    /// Reads the key file at `path`, which must exist.
    pub fn read(path: &Path) -> Result<Vault, AppError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::BadKeyFile(format!("cannot read {}: {e}", path.display())))?;
        Vault::parse(&text)
    }

    /// The id of the key that seals.
    pub fn current_key(&self) -> &str {
        &self.keys[0].0
    }

    /// Whether the file holds a key named `id`.
    pub fn has_key(&self, id: &str) -> bool {
        self.keys.iter().any(|(known, _)| known == id)
    }

    /// The id of the key `sealed` was sealed under.
    pub fn key_of(sealed: &str) -> &str {
        sealed.split_once('.').map_or("", |(id, _)| id)
    }

    /// `KEY-ID.BASE64(NONCE ‖ CIPHERTEXT)`, bound to `case_id` (authenticated, not stored): a
    /// sealed value copied onto another case does not open there.
    pub fn seal(&self, reporter: &Reporter, case_id: &str) -> Result<String, AppError> {
        let plain = serde_json::to_vec(reporter).map_err(|e| AppError::Sealing(e.to_string()))?;
        self.seal_bytes(&plain, case_id)
    }

    pub fn open(&self, sealed: &str, case_id: &str) -> Result<Reporter, AppError> {
        serde_json::from_slice(&self.open_bytes(sealed, case_id)?).map_err(|e| AppError::Sealing(e.to_string()))
    }

    /// Seals any bytes as [`Vault::seal`] does, bound to `context`.
    pub fn seal_bytes(&self, plain: &[u8], context: &str) -> Result<String, AppError> {
        let (id, cipher) = &self.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, Payload { msg: plain, aad: context.as_bytes() })
            .map_err(|_| AppError::Sealing("encryption failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{id}.{}", STANDARD.encode(bytes)))
    }

    /// Opens what [`Vault::seal_bytes`] sealed under `context`.
    pub fn open_bytes(&self, sealed: &str, context: &str) -> Result<Vec<u8>, AppError> {
        let (id, encoded) = sealed.split_once('.').ok_or_else(|| AppError::Sealing("not a sealed value".into()))?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .ok_or_else(|| AppError::Sealing(format!("key {id} is not in the key file")))?;
        let bytes = STANDARD.decode(encoded).map_err(|_| AppError::Sealing("not base64".into()))?;
        if bytes.len() < NONCE_BYTES {
            return Err(AppError::Sealing("too short".into()));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| AppError::Sealing("too short".into()))?;
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| AppError::Sealing("the value does not open with its key".into()))
    }
}

/// What a key's probe holds, sealed under it.
const PROBE: &[u8] = b"pingan personal-data key probe";
/// The context a probe is sealed in (no case id is ever this).
const PROBE_CONTEXT: &str = "data-key-probe";
/// Sealed contacts of the newest cases tried, in a database made before probes were kept.
const SAMPLES: u32 = 20;

/// Checks, before a server seals or opens anything, that `vault` opens every record the store
/// holds: each key the store's data is sealed under must be in the key file, under its id and with
/// the same key material (a key made afresh elsewhere, under the same id, is not the same key).
/// Then records the key that seals from now on. A database made before keys were recorded is
/// checked by the sealed contacts of its newest cases instead.
pub async fn check_keys(store: &dyn Store, vault: &Vault, now: Timestamp) -> Result<(), AppError> {
    let probes = store.data_key_probes().await?;
    let mut missing = Vec::new();
    let mut different = Vec::new();
    for (id, probe) in &probes {
        if !vault.has_key(id) {
            missing.push(id.clone());
        } else if vault.open_bytes(probe, PROBE_CONTEXT).ok().as_deref() != Some(PROBE) {
            different.push(id.clone());
        }
    }
    if probes.is_empty() {
        for (case_id, sealed) in store.sealed_samples(SAMPLES).await? {
            let id = Vault::key_of(&sealed).to_owned();
            let list = if vault.has_key(&id) { &mut different } else { &mut missing };
            if vault.open(&sealed, &case_id).is_err() && !list.contains(&id) {
                list.push(id);
            }
        }
    }
    if !missing.is_empty() || !different.is_empty() {
        return Err(AppError::WrongDataKeys { missing, different });
    }
    let current = vault.current_key();
    if !probes.iter().any(|(id, _)| id == current) {
        store.add_data_key_probe(current, &vault.seal_bytes(PROBE, PROBE_CONTEXT)?, now).await?;
    }
    Ok(())
}

/// The key file at `path`, checked against what `store` holds sealed (see [`check_keys`]). A
/// missing file is made with a fresh key only for a database that needs no key yet: otherwise the
/// server would seal new reports under a key that opens none of the old ones.
pub async fn vault_for(store: &dyn Store, path: &Path, now: Timestamp) -> Result<Vault, AppError> {
    if !path.exists() {
        let needed: Vec<String> = store.data_key_probes().await?.into_iter().map(|(id, _)| id).collect();
        if !needed.is_empty() {
            return Err(AppError::WrongDataKeys { missing: needed, different: Vec::new() });
        }
    }
    let vault = Vault::open_or_create(path)?;
    check_keys(store, &vault, now).await?;
    Ok(vault)
}

/// What [`reseal`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    pub cases: u64,
    pub resealed: u64,
    /// Cases still sealed under an older key (an action changed them at the same moment, twice):
    /// run it again before dropping the older keys.
    pub left: u64,
}

/// Seals every reporter's contact again under the vault's current key, so that older keys can be
/// dropped from the key file. Safe beside a running server: each case is written only at the
/// version it was read at, and read again once if an action came in between.
pub async fn reseal(store: &dyn Store, vault: &Vault, progress: &dyn Progress) -> Result<Resealed, AppError> {
    progress.stage("resealing", 0);
    let mut done = Resealed::default();
    let mut after: Option<String> = None;
    loop {
        let ids = store.case_ids(after.as_deref(), 1000).await?;
        let Some(last) = ids.last().cloned() else { break };
        progress.advance(ids.len() as u64);
        for id in ids {
            done.cases += 1;
            match reseal_case(store, vault, &id).await? {
                Outcome::Resealed => done.resealed += 1,
                Outcome::Busy => done.left += 1,
                Outcome::AlreadyCurrent => {}
            }
        }
        after = Some(last);
    }
    progress.finish();
    if done.left == 0 {
        // Nothing is sealed under the older keys any more: a server may start without them.
        store.retire_data_key_probes(&[vault.current_key().to_owned()]).await?;
    }
    Ok(done)
}

enum Outcome {
    AlreadyCurrent,
    Resealed,
    /// Changed by an action between read and write, twice.
    Busy,
}

async fn reseal_case(store: &dyn Store, vault: &Vault, id: &str) -> Result<Outcome, AppError> {
    for _attempt in 0..2 {
        let Some(case) = store.case_by_id(id).await? else { return Ok(Outcome::AlreadyCurrent) };
        let Some(sealed) = case.body.reporter_sealed.as_deref() else { return Ok(Outcome::AlreadyCurrent) };
        if Vault::key_of(sealed) == vault.current_key() {
            return Ok(Outcome::AlreadyCurrent);
        }
        let body = CaseBody { reporter_sealed: Some(vault.seal(&vault.open(sealed, id)?, id)?), ..case.body };
        match store.replace_body(id, case.version, &body).await {
            Ok(()) => return Ok(Outcome::Resealed),
            Err(StoreError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Outcome::Busy)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Keeps the first `head` and last `tail` characters and stars the rest; at least `min_hidden`
/// characters (or all of a short value) are hidden, taken from the kept ends if need be.
fn mask(value: &str, head: usize, tail: usize, min_hidden: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    let hidden = chars.len().saturating_sub(head + tail).max(min_hidden).min(chars.len());
    let shown = chars.len() - hidden;
    let tail = tail.min(shown);
    let head = shown - tail;
    if chars.is_empty() {
        return "*".into();
    }
    let mut masked: String = chars[..head].iter().collect();
    masked.push_str(&"*".repeat(hidden));
    masked.extend(&chars[chars.len() - tail..]);
    masked
}

/// 13812345678 → 138****5678.
pub fn mask_phone(phone: &str) -> String {
    mask(phone, 3, 4, 4)
}

/// 360302199001011234 → 3603**********1234.
pub fn mask_id_number(id: &str) -> String {
    mask(id, 4, 4, 4)
}

/// 张三丰 → 张**.
pub fn mask_name(name: &str) -> String {
    mask(name, 1, 0, 1)
}

/// What everyone is shown of a reporter by default.
pub fn masked(reporter: &Reporter) -> Reporter {
    Reporter {
        name: reporter.name.as_deref().map(mask_name),
        phone: reporter.phone.as_deref().map(mask_phone),
        id_number: reporter.id_number.as_deref().map(mask_id_number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reporter() -> Reporter {
        Reporter {
            name: Some("张三丰".into()),
            phone: Some("13812345678".into()),
            id_number: Some("360302199001011234".into()),
        }
    }

    #[test]
    fn masks_keep_only_what_identifies_nobody() {
        assert_eq!(
            masked(&reporter()),
            Reporter {
                name: Some("张**".into()),
                phone: Some("138****5678".into()),
                id_number: Some("3603**********1234".into()),
            }
        );
        assert_eq!(mask_phone("110"), "***");
        assert_eq!(mask_phone("88123456"), "****3456", "an 8-digit number keeps four hidden");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("李"), "*");
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_rotation_keeps_old_ones_readable() {
        let old = Vault::parse(&Vault::generate("k1")).unwrap();
        let sealed = old.seal(&reporter(), "case-1").unwrap();
        assert!(sealed.starts_with("k1."));
        assert!(!sealed.contains("13812345678") && !sealed.contains("张"));
        assert_eq!(old.open(&sealed, "case-1").unwrap(), reporter());
        assert!(old.open(&sealed, "case-2").is_err(), "bound to its case");
        let first_key = Vault::generate("k1");
        let rotated_text = format!("{}{}", Vault::generate("k2").replace("# Pingan", "# new"), first_key);
        let rotated = Vault::parse(&rotated_text).unwrap();
        let other = rotated.seal(&reporter(), "case-1").unwrap();
        assert!(other.starts_with("k2."));
        // A different k1: the old value does not open, and says why.
        assert!(matches!(rotated.open(&sealed, "case-1"), Err(AppError::Sealing(_))));
        let tampered = sealed.replacen("k1.", "k1.AAAA", 1);
        assert!(old.open(&tampered, "case-1").is_err());
    }

    #[test]
    fn key_files_are_checked() {
        assert!(Vault::parse("").is_err());
        assert!(Vault::parse("k1 notbase64!").is_err());
        assert!(Vault::parse("k1 AAAA").is_err());
        let key = Vault::generate("k1");
        assert!(Vault::parse(&format!("{key}{key}")).is_err(), "a repeated id");
    }
}
