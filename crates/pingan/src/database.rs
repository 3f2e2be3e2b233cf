//! Choosing the storage engine from a URL, loudly: a URL that names no known engine is refused.

use std::path::PathBuf;
use std::sync::Arc;

use pingan_store::{Store, StoreError};
use pingan_store_postgres::PostgresStore;
use pingan_store_sqlite::SqliteStore;

pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(url, None).await?));
    }
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        if path.is_empty() {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        return Ok(Arc::new(SqliteStore::open(&PathBuf::from(path))?));
    }
    Err(StoreError::UnsupportedUrl(url.to_owned()))
}

#[cfg(test)]
mod tests {
    use pingan_core::Explain;

    use super::*;

    #[tokio::test]
    async fn unknown_schemes_are_refused_not_guessed() {
        for url in ["mysql://localhost/pingan", "pingan.db", "sqlite://", "http://127.0.0.1:5432/"] {
            let error = open_store(url).await.err().unwrap_or_else(|| panic!("{url} was accepted"));
            assert_eq!(error.code(), "unsupported_database_url", "{url}: {error}");
        }
    }
}
