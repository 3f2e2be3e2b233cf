//! The weights of a centre's monthly ranking bulletin (排名通报), as its administrator set them:
//! one row per division, the weights kept as JSON (their meaning is the application's).

use async_trait::async_trait;
use pingan_core::{DivisionCode, Timestamp};

use crate::StoreResult;
use crate::sql::{SqlEngine, SqlRow, Statement, write_one};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankingWeightsRow {
    pub division: DivisionCode,
    /// The weights and thresholds, as JSON.
    pub weights: String,
    /// The account that set them, by login.
    pub set_by: String,
    pub set_at: Timestamp,
}

#[async_trait]
pub trait RankingStore: Send + Sync {
    /// Sets a division's weights, replacing what it had.
    async fn put_ranking_weights(&self, row: RankingWeightsRow) -> StoreResult<()>;

    /// The weights set for `division` itself, if any.
    async fn ranking_weights(&self, division: &DivisionCode) -> StoreResult<Option<RankingWeightsRow>>;
}

fn read(row: &SqlRow) -> StoreResult<RankingWeightsRow> {
    let division: String = row.get("division_code")?;
    Ok(RankingWeightsRow {
        division: DivisionCode::parse(&division)
            .map_err(|_| crate::StoreError::Corrupt(format!("ranking weights of {division}")))?,
        weights: row.get("weights")?,
        set_by: row.get("set_by")?,
        set_at: row.get("set_at")?,
    })
}

#[async_trait]
impl<E: SqlEngine> RankingStore for E {
    async fn put_ranking_weights(&self, row: RankingWeightsRow) -> StoreResult<()> {
        let sql = "INSERT INTO ranking_weights (division_code, weights, set_by, set_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (division_code) DO UPDATE SET weights = excluded.weights, set_by = excluded.set_by,
                   set_at = excluded.set_at";
        let values =
            vec![row.division.as_str().into(), row.weights.into(), row.set_by.into(), row.set_at.millis().into()];
        write_one(self, Statement::new(sql, values).about(row.division.to_string())).await?;
        Ok(())
    }

    async fn ranking_weights(&self, division: &DivisionCode) -> StoreResult<Option<RankingWeightsRow>> {
        let sql = "SELECT division_code, weights, set_by, set_at FROM ranking_weights WHERE division_code = $1";
        self.look_up(Statement::new(sql, vec![division.as_str().into()])).await?.as_ref().map(read).transpose()
    }
}
