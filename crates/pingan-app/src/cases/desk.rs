//! What the case desk (受理派单台) asks of the engine besides filing and acting: the open cases
//! like the call being taken, looked for while the operator types, and the units a case may be
//! dispatched to.

use pingan_core::lifecycle::Status;
use pingan_store::cases::{CaseFilter, CaseRow};

use super::{CaseEngine, metres_between};
use crate::AppError;
use crate::access::Principal;

/// Where the call says the matter is.
#[derive(Clone, Debug)]
pub enum CallPlace {
    /// A point picked on the map.
    Point { lon: f64, lat: f64 },
    /// An address, or a village or township name.
    Address(String),
}

/// Open cases like a call are looked for among this many of the newest in its place.
const SIMILAR_SCANNED: u32 = 200;

impl CaseEngine {
    /// The open cases of `category` reported within the duplicate window in the place of the
    /// call, among those `by` may see: within the duplicate radius of a point (nearest first),
    /// or anywhere in the division an address names (newest first). At most `limit`.
    pub async fn similar_open_cases(
        &self,
        by: &Principal,
        category: &str,
        place: &CallPlace,
        limit: usize,
    ) -> Result<Vec<CaseRow>, AppError> {
        let category = self.context.category(category)?;
        let now = self.context.timestamp();
        let mut filter = CaseFilter {
            statuses: Status::OPEN.to_vec(),
            categories: vec![category.code.clone()],
            reported_from: Some(now.plus(chrono::Duration::hours(-self.settings.duplicate_window_hours))),
            limit: SIMILAR_SCANNED,
            ..CaseFilter::default()
        };
        match place {
            CallPlace::Point { lon, lat } => {
                let routed = self.atlas.route(*lon, *lat)?;
                let (grid, _) = Self::routed_grid(&routed)?;
                filter.grid_prefix = grid.map(|grid| grid.village().to_string());
            }
            CallPlace::Address(address) => filter.division = Some(self.placed(address)?),
        }
        let mut found = self.list_for(by, filter).await?;
        if let CallPlace::Point { lon, lat } = *place {
            let distance = |case: &CaseRow| case.body.lon.zip(case.body.lat).map(|p| metres_between((lon, lat), p));
            found.retain(|case| distance(case).is_some_and(|metres| metres <= self.settings.duplicate_radius_m));
            found.sort_by(|a, b| distance(a).partial_cmp(&distance(b)).unwrap_or(std::cmp::Ordering::Equal));
        }
        found.truncate(limit);
        Ok(found)
    }

    /// The units `case` may be dispatched to, what the rules choose first (see
    /// [`crate::units::DispatchBook::targets`]).
    pub fn dispatch_targets(&self, case: &CaseRow) -> Result<Vec<String>, AppError> {
        let category = self.context.category(&case.category)?;
        Ok(self.context.dispatch_book().targets(&category, &case.division, case.grid.as_ref()))
    }
}
