//! A deterministic stand-in for surveyed grids: each county's area is divided among its villages and
//! each village's area into several grids, so that every point of the county lies in exactly one grid
//! of exactly one real village.
//!
//! The county polygon is rasterised on a lattice of `resolution` units (0.001° ≈ 100 m by default).
//! Village seeds are drawn from the county's cells and ordered along a Hilbert curve, so that the
//! villages of one township (consecutive codes) get neighbouring seeds; every cell then goes to a
//! nearby seed by a growth that only ever extends a region into an adjacent cell, so regions are
//! connected. Grids are grown the same way inside each village. Outlines follow cell edges, so
//! neighbouring grids share identical edges and the exact point-in-polygon rule of [`Region`] gives
//! every point one owner.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use pingan_core::{DivisionCode, GridCode};

use crate::fixed::{Bbox, FixedPoint};
use crate::region::Region;
use crate::trace::{CellMask, Placement, outline};

pub struct CountyPlan<'a> {
    pub code: DivisionCode,
    pub boundary: &'a Region,
    /// The county's villages; consecutive villages of a township end up side by side.
    pub villages: Vec<VillagePlan>,
}

pub struct VillagePlan {
    pub code: DivisionCode,
    pub name: String,
}

#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Side of a lattice cell in 1e-7 degree units; even, so cell centres are whole units.
    pub resolution: i64,
    /// Fewest and most grids a village gets (chosen per village from its code).
    pub grids_per_village: (u16, u16),
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { resolution: 10_000, grids_per_village: (2, 5), seed: 2022 }
    }
}

#[derive(Clone, Debug)]
pub struct GeneratedGrid {
    pub code: GridCode,
    pub name: String,
    pub region: Region,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TessellateError {
    #[error("county {county} covers {cells} lattice cells, fewer than its {villages} villages; use a finer resolution")]
    CountyTooSmall { county: DivisionCode, cells: usize, villages: usize },
    #[error("village {0} lies outside its county's villages")]
    ForeignVillage(DivisionCode),
}

struct Lattice {
    origin_x: i64,
    origin_y: i64,
    cell: i64,
    columns: usize,
    rows: usize,
}

impl Lattice {
    fn column_row(&self, index: usize) -> (usize, usize) {
        (index % self.columns, index / self.columns)
    }
}

pub fn tessellate(counties: &[CountyPlan<'_>], settings: Settings) -> Result<Vec<GeneratedGrid>, TessellateError> {
    let Some(extent) = counties.iter().map(|c| c.boundary.bbox()).reduce(Bbox::union) else {
        return Ok(Vec::new());
    };
    let cell = settings.resolution;
    let origin_x = i64::from(extent.min.x).div_euclid(cell) * cell;
    let origin_y = i64::from(extent.min.y).div_euclid(cell) * cell;
    let lattice = Lattice {
        origin_x,
        origin_y,
        cell,
        columns: ((i64::from(extent.max.x) - origin_x) / cell + 1) as usize,
        rows: ((i64::from(extent.max.y) - origin_y) / cell + 1) as usize,
    };

    // Level 1: which county owns each cell (0 = none, else county index + 1). Lower codes win overlaps.
    let mut county_of = vec![0u32; lattice.columns * lattice.rows];
    let mut order: Vec<usize> = (0..counties.len()).collect();
    order.sort_by(|&a, &b| counties[a].code.cmp(&counties[b].code));
    for &county in &order {
        rasterise(counties[county].boundary, &lattice, &mut county_of, county as u32 + 1);
    }
    let county_cells = cells_by_label(&county_of, counties.len());

    // Level 2: villages inside counties.
    let mut village_plans: Vec<&VillagePlan> = Vec::new();
    let mut village_seeds: Vec<(usize, u32)> = Vec::new();
    for &county in &order {
        let plan = &counties[county];
        let cells = &county_cells[county];
        if let Some(foreign) = plan.villages.iter().find(|v| !plan.code.contains(&v.code)) {
            return Err(TessellateError::ForeignVillage(foreign.code.clone()));
        }
        if cells.len() < plan.villages.len() {
            return Err(TessellateError::CountyTooSmall {
                county: plan.code.clone(),
                cells: cells.len(),
                villages: plan.villages.len(),
            });
        }
        let mut rng = fastrand::Rng::with_seed(settings.seed ^ stable_hash(plan.code.as_str()));
        let mut seeds = sample(cells, plan.villages.len(), &mut rng);
        seeds.sort_by_key(|&index| {
            let (column, row) = lattice.column_row(index);
            hilbert_index(column as u32, row as u32)
        });
        for (village, seed) in plan.villages.iter().zip(seeds) {
            village_seeds.push((seed, village_plans.len() as u32 + 1));
            village_plans.push(village);
        }
    }
    let village_of = grow(&lattice, &county_of, &village_seeds);
    let village_cells = cells_by_label(&village_of, village_plans.len());

    // Level 3: grids inside villages.
    let mut grid_names: Vec<(GridCode, String)> = Vec::new();
    let mut grid_seeds: Vec<(usize, u32)> = Vec::new();
    for (index, village) in village_plans.iter().enumerate() {
        let cells = &village_cells[index];
        let (fewest, most) = settings.grids_per_village;
        let span = u64::from(most.saturating_sub(fewest)) + 1;
        let wanted = fewest + (stable_hash(village.code.as_str()) % span) as u16;
        let count = usize::from(wanted).min(cells.len());
        let mut rng = fastrand::Rng::with_seed(settings.seed ^ stable_hash(village.code.as_str()).rotate_left(17));
        for (number, seed) in sample(cells, count, &mut rng).into_iter().enumerate() {
            let number = number as u16 + 1;
            let code = GridCode::new(&village.code, number)
                .map_err(|_| TessellateError::ForeignVillage(village.code.clone()))?;
            grid_seeds.push((seed, grid_names.len() as u32 + 1));
            grid_names.push((code, format!("{}第{}网格", village.name, number)));
        }
    }
    let grid_of = grow(&lattice, &village_of, &grid_seeds);
    let grid_cells = cells_by_label(&grid_of, grid_names.len());

    let mut grids = Vec::with_capacity(grid_names.len());
    for ((code, name), cells) in grid_names.into_iter().zip(grid_cells) {
        let polygons = outline_cells(&lattice, &cells);
        // Outlines of at least one cell always have non-degenerate rings.
        if let Ok(region) = Region::new(polygons) {
            grids.push(GeneratedGrid { code, name, region });
        }
    }
    Ok(grids)
}

/// Marks with `label` the still-unowned cells whose centre lies inside `region`.
fn rasterise(region: &Region, lattice: &Lattice, owner: &mut [u32], label: u32) {
    let bbox = region.bbox();
    let half = lattice.cell / 2;
    let first_row = ((i64::from(bbox.min.y) - lattice.origin_y) / lattice.cell) as usize;
    let last_row = ((i64::from(bbox.max.y) - lattice.origin_y) / lattice.cell) as usize;
    let mut crossings: Vec<f64> = Vec::new();
    for row in first_row..=last_row.min(lattice.rows - 1) {
        let y = (lattice.origin_y + row as i64 * lattice.cell + half) as f64;
        crossings.clear();
        for (a, b) in region.edges() {
            let (ay, by) = (f64::from(a.y), f64::from(b.y));
            if (ay > y) != (by > y) {
                crossings.push(f64::from(a.x) + (y - ay) * f64::from(b.x - a.x) / (by - ay));
            }
        }
        crossings.sort_by(f64::total_cmp);
        for pair in crossings.chunks_exact(2) {
            // Cells whose centre x lies in [pair[0], pair[1]).
            let first = ((pair[0] - (lattice.origin_x + half) as f64) / lattice.cell as f64).ceil().max(0.0) as usize;
            let end = ((pair[1] - (lattice.origin_x + half) as f64) / lattice.cell as f64).ceil().max(0.0) as usize;
            for column in first..end.min(lattice.columns) {
                let slot = row * lattice.columns + column;
                if owner[slot] == 0 {
                    owner[slot] = label;
                }
            }
        }
    }
}

/// The cells of each label 1..=count, in index order.
fn cells_by_label(owner: &[u32], count: usize) -> Vec<Vec<usize>> {
    let mut cells = vec![Vec::new(); count];
    for (index, &label) in owner.iter().enumerate() {
        if label != 0 {
            cells[label as usize - 1].push(index);
        }
    }
    cells
}

/// Grows a region from each seed `(cell, label)` into adjacent cells of the same domain, each cell
/// taken by the region whose seed is nearest among those that reach it.
fn grow(lattice: &Lattice, domain: &[u32], seeds: &[(usize, u32)]) -> Vec<u32> {
    let mut owner = vec![0u32; domain.len()];
    let seed_position: Vec<(i64, i64)> = seeds
        .iter()
        .map(|&(cell, _)| {
            let (column, row) = lattice.column_row(cell);
            (column as i64, row as i64)
        })
        .collect();
    let mut frontier: BinaryHeap<Reverse<(i64, usize, u32)>> =
        seeds.iter().enumerate().map(|(i, &(cell, _))| Reverse((0, cell, i as u32))).collect();
    while let Some(Reverse((_, cell, seed))) = frontier.pop() {
        if owner[cell] != 0 {
            continue;
        }
        owner[cell] = seeds[seed as usize].1;
        let (column, row) = lattice.column_row(cell);
        let neighbours = [
            (column > 0).then(|| cell - 1),
            (column + 1 < lattice.columns).then(|| cell + 1),
            (row > 0).then(|| cell - lattice.columns),
            (row + 1 < lattice.rows).then(|| cell + lattice.columns),
        ];
        for next in neighbours.into_iter().flatten() {
            if owner[next] == 0 && domain[next] == domain[cell] {
                let (next_column, next_row) = lattice.column_row(next);
                let (sx, sy) = seed_position[seed as usize];
                let (dx, dy) = (next_column as i64 - sx, next_row as i64 - sy);
                frontier.push(Reverse((dx * dx + dy * dy, next, seed)));
            }
        }
    }
    // Cells of a domain part that no seed reached (an island of a county, say) go to the domain's
    // nearest seed, so that no cell of the domain is left out.
    for cell in 0..owner.len() {
        if owner[cell] == 0 && domain[cell] != 0 {
            let (column, row) = lattice.column_row(cell);
            let nearest = seeds
                .iter()
                .zip(&seed_position)
                .filter(|((seed_cell, _), _)| domain[*seed_cell] == domain[cell])
                .min_by_key(|(_, (sx, sy))| (column as i64 - sx).pow(2) + (row as i64 - sy).pow(2));
            if let Some(((_, label), _)) = nearest {
                owner[cell] = *label;
            }
        }
    }
    owner
}

fn outline_cells(lattice: &Lattice, cells: &[usize]) -> Vec<Vec<Vec<FixedPoint>>> {
    let (mut c0, mut c1, mut r0, mut r1) = (usize::MAX, 0, usize::MAX, 0);
    for &cell in cells {
        let (column, row) = lattice.column_row(cell);
        (c0, c1, r0, r1) = (c0.min(column), c1.max(column), r0.min(row), r1.max(row));
    }
    let columns = c1 - c0 + 1;
    let mut mask = CellMask { columns, rows: r1 - r0 + 1, cells: vec![false; columns * (r1 - r0 + 1)] };
    for &cell in cells {
        let (column, row) = lattice.column_row(cell);
        mask.cells[(row - r0) * columns + column - c0] = true;
    }
    let placement = Placement {
        origin_x: lattice.origin_x + c0 as i64 * lattice.cell,
        origin_y: lattice.origin_y + r0 as i64 * lattice.cell,
        cell: lattice.cell,
    };
    outline(&mask, placement)
}

/// `count` distinct cells drawn from `cells` (a partial Fisher–Yates shuffle).
fn sample(cells: &[usize], count: usize, rng: &mut fastrand::Rng) -> Vec<usize> {
    let mut pool = cells.to_vec();
    for i in 0..count {
        let j = rng.usize(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(count);
    pool
}

/// FNV-1a: stable across platforms and releases, unlike the standard library's hasher.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Position along a Hilbert curve over a 2^16 × 2^16 lattice.
fn hilbert_index(mut x: u32, mut y: u32) -> u64 {
    let mut index = 0u64;
    let mut s = 1u32 << 15;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        index += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = s.wrapping_mul(2).wrapping_sub(1).wrapping_sub(x) & 0xFFFF;
                y = s.wrapping_mul(2).wrapping_sub(1).wrapping_sub(y) & 0xFFFF;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    index
}
