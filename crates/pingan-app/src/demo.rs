//! Loading the shipped Jiangxi data into a store: the whole division tree, every county boundary
//! reconciled to today's codes, a department of every kind for every county and city, and
//! generated grids, with made-up staff, for one city.

use pingan_core::{DivisionCode, Level};
use pingan_geo::geojson_io::InvalidAreas;
use pingan_geo::tessellate::Settings;
use pingan_store::Store;

use crate::divisions::{DivisionImportReport, import_divisions};
use crate::geography::{generate_grids, import_boundaries};
use crate::units::{create_departments, shipped_department_kinds, staff_grids};
use crate::{AppError, Progress, jiangxi};

#[derive(Debug, Clone, Copy)]
pub struct JiangxiLoad {
    pub divisions: DivisionImportReport,
    pub boundaries: usize,
    pub departments: usize,
    pub grids: usize,
    pub grid_staff: usize,
}

pub async fn load_jiangxi(
    store: &dyn Store,
    gridded: &DivisionCode,
    progress: &dyn Progress,
) -> Result<JiangxiLoad, AppError> {
    let divisions = import_divisions(store, &jiangxi::division_files(), progress).await?;
    progress.stage("county boundaries", 0);
    let boundaries = import_boundaries(
        store,
        jiangxi::COUNTY_BOUNDARIES,
        Some(jiangxi::COUNTY_CROSSWALK),
        InvalidAreas::Accept,
        jiangxi::BOUNDARY_SOURCE,
    )
    .await?;
    progress.finish();
    let province = gridded.ancestor(Level::Province).unwrap_or_else(|| gridded.clone());
    let departments = create_departments(store, &province, &shipped_department_kinds()?).await?;
    let grids = generate_grids(store, gridded, Settings::default(), progress).await?;
    let grid_staff = staff_grids(store, gridded).await?;
    Ok(JiangxiLoad { divisions, boundaries, departments, grids, grid_staff })
}
