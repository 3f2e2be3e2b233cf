//! Photos of reports and results: checked (JPEG, PNG or WebP, at most 5 MiB), stored once under the
//! SHA-256 of their bytes, and named by that hash in cases.

use chrono::TimeDelta;
use pingan_core::Timestamp;
use pingan_store::{NewPhoto, Store};
use sha2::{Digest, Sha256};

use crate::AppError;

pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// Photos one report or one result may carry.
pub const MAX_PHOTOS: usize = 9;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPhoto {
    pub hash: String,
    pub mime: &'static str,
    pub size: usize,
    /// False when the same photo was stored before.
    pub new: bool,
}

/// The media type the bytes' signature shows, if it is one Pingan keeps.
pub fn media_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// The bytes of new photos one address may store in a day without an account: a report's nine
/// photos at their largest, a few times over.
pub const ANONYMOUS_DAILY_BYTES: u64 = 200 * 1024 * 1024;
/// How long a photo waits for a case to name it before it is removed.
pub const UNATTACHED_KEPT: TimeDelta = TimeDelta::days(1);
const DAY: TimeDelta = TimeDelta::days(1);

/// Who sends a photo.
#[derive(Clone, Copy, Debug)]
pub enum Uploader<'a> {
    /// An account (its id): no quota.
    Account(&'a str),
    /// Someone without an account, known by their address: a daily quota.
    Anonymous(Option<std::net::IpAddr>),
}

impl Uploader<'_> {
    fn name(&self) -> String {
        match self {
            Uploader::Account(id) => format!("account:{id}"),
            Uploader::Anonymous(Some(address)) => format!("address:{address}"),
            Uploader::Anonymous(None) => "address:unknown".into(),
        }
    }
}

pub async fn store_photo(
    store: &dyn Store,
    bytes: Vec<u8>,
    now: Timestamp,
    uploader: Uploader<'_>,
) -> Result<StoredPhoto, AppError> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(AppError::PhotoTooLarge { size: bytes.len(), max: MAX_PHOTO_BYTES });
    }
    let mime = media_type(&bytes).ok_or(AppError::NotAPhoto)?;
    let hash = pingan_core::hex(&Sha256::digest(&bytes));
    let size = bytes.len();
    let name = uploader.name();
    if let Uploader::Anonymous(_) = uploader {
        let stored = store.photo_bytes_since(&name, now.plus(-DAY)).await?;
        if stored + size as u64 > ANONYMOUS_DAILY_BYTES
            && store.missing_photos(std::slice::from_ref(&hash)).await?.len() == 1
        {
            return Err(AppError::PhotoQuotaReached { max: ANONYMOUS_DAILY_BYTES });
        }
    }
    let photo = NewPhoto { hash: hash.clone(), mime: mime.to_owned(), bytes, at: now, uploader: name };
    let new = store.put_photo(photo).await?;
    Ok(StoredPhoto { hash, mime, size, new })
}

/// Removes the photos stored more than [`UNATTACHED_KEPT`] before `now` that no case names;
/// how many.
pub async fn remove_unattached(store: &dyn Store, now: Timestamp) -> Result<u64, AppError> {
    Ok(store.remove_unattached_photos(now.plus(-UNATTACHED_KEPT)).await?)
}

/// Checks that a report or result names at most [`MAX_PHOTOS`] photos, each one stored.
pub async fn check_photos(store: &dyn Store, hashes: &[String]) -> Result<(), AppError> {
    if hashes.is_empty() {
        return Ok(());
    }
    if hashes.len() > MAX_PHOTOS {
        return Err(AppError::TooManyPhotos { count: hashes.len(), max: MAX_PHOTOS });
    }
    if let Some(bad) =
        hashes.iter().find(|h| h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        return Err(AppError::UnknownPhoto(bad.clone()));
    }
    match store.missing_photos(hashes).await?.into_iter().next() {
        Some(missing) => Err(AppError::UnknownPhoto(missing)),
        None => Ok(()),
    }
}
