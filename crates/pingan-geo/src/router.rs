//! Point → grid routing.
//!
//! Two structures over the same regions:
//! * a uniform cell index: a cell that no region's edge passes through lies wholly inside one region
//!   (or none), so most points are answered by one array read, with no polygon test at all; a cell
//!   that edges pass through lists its candidate regions for the exact test;
//! * an R-tree of bounding boxes, for the nearest region to a point outside every region.
//!
//! Cells are half-open boxes `[x0, x1) × [y0, y1)`. Under the half-open point-in-polygon rule of
//! [`Region::contains`], a point's owner equals that of a point infinitesimally up and right of it,
//! so if no edge crosses a cell's open interior, every point of the half-open cell has the same
//! owner. That is what makes the one-read answer exact, including on shared edges and corners.

use std::collections::HashMap;

use pingan_core::GridCode;
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use crate::fixed::{Bbox, FixedPoint};
use crate::region::Region;

#[derive(Clone, Debug)]
pub struct RouterEntry {
    pub code: GridCode,
    pub region: Region,
}

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

pub struct Router {
    entries: Vec<RouterEntry>,
    boxes: RTree<BoxEntry>,
    cells: CellIndex,
}

impl Router {
    pub fn build(entries: Vec<RouterEntry>) -> Router {
        let boxes = RTree::bulk_load(
            entries
                .iter()
                .enumerate()
                .map(|(id, entry)| GeomWithData::new(degree_rectangle(entry.region.bbox()), id as u32))
                .collect(),
        );
        let cells = CellIndex::build(&entries);
        Router { entries, boxes, cells }
    }

    pub fn entries(&self) -> &[RouterEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Side of one index cell, in 1e-7 degree units, and the number of cells.
    pub fn cell_stats(&self) -> (i64, usize) {
        (self.cells.size, self.cells.values.len())
    }

    /// The region that owns `p`, if any.
    #[inline]
    pub fn route(&self, p: FixedPoint) -> Option<&RouterEntry> {
        let slot = self.cells.slot(p)?;
        match self.cells.values[slot] {
            EMPTY => None,
            value if value & LIST == 0 => Some(&self.entries[(value - 1) as usize]),
            value => {
                let list = (value & !LIST) as usize;
                let (start, end) = (self.cells.list_starts[list] as usize, self.cells.list_starts[list + 1] as usize);
                self.cells.list_items[start..end]
                    .iter()
                    .map(|&id| &self.entries[id as usize])
                    .find(|entry| entry.region.contains(p))
            }
        }
    }

    /// The same answer found through the R-tree of bounding boxes and an exact test of each
    /// candidate, without the cell index: the plain method, kept as a baseline and a cross-check.
    pub fn route_by_rtree(&self, p: FixedPoint) -> Option<&RouterEntry> {
        let mut candidates: Vec<u32> = self.boxes.locate_all_at_point(&[p.lon(), p.lat()]).map(|b| b.data).collect();
        candidates.sort_unstable();
        candidates.into_iter().map(|id| &self.entries[id as usize]).find(|entry| entry.region.contains(p))
    }

    /// The region nearest to `p` and its distance in degrees (zero when `p` is inside it).
    pub fn nearest(&self, p: FixedPoint) -> Option<(&RouterEntry, f64)> {
        let cos_lat = p.lat().to_radians().cos();
        let mut best: Option<(u32, f64)> = None;
        for (candidate, box_distance2) in self.boxes.nearest_neighbor_iter_with_distance_2(&[p.lon(), p.lat()]) {
            // Box distances are unscaled; scaling longitude by cos(lat) shrinks a distance at most by cos(lat).
            if let Some((_, best_distance)) = best
                && box_distance2.sqrt() * cos_lat > best_distance
            {
                break;
            }
            let distance = self.entries[candidate.data as usize].region.distance_degrees(p);
            if best.is_none_or(|(_, d)| distance < d) {
                best = Some((candidate.data, distance));
            }
        }
        best.map(|(id, distance)| (&self.entries[id as usize], distance))
    }
}

fn degree_rectangle(bbox: Bbox) -> Rectangle<[f64; 2]> {
    Rectangle::from_aabb(AABB::from_corners([bbox.min.lon(), bbox.min.lat()], [bbox.max.lon(), bbox.max.lat()]))
}

/// How a region meets a cell: its edges pass through the cell, or it holds the whole cell.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Presence {
    Crosses,
    Covers,
}

const EMPTY: u32 = 0;
const LIST: u32 = 1 << 31;
/// Index cells at most; past it the cells are made coarser (4 bytes each: 128 MiB).
const MAX_CELLS: usize = 1 << 25;

struct CellIndex {
    origin_x: i64,
    origin_y: i64,
    size: i64,
    columns: usize,
    rows: usize,
    /// EMPTY, a region id + 1, or LIST | the number of a candidate list.
    values: Vec<u32>,
    list_starts: Vec<u32>,
    list_items: Vec<u32>,
}

impl CellIndex {
    fn build(entries: &[RouterEntry]) -> CellIndex {
        let Some(extent) = entries.iter().map(|e| e.region.bbox()).reduce(Bbox::union) else {
            return CellIndex {
                origin_x: 0,
                origin_y: 0,
                size: 1,
                columns: 0,
                rows: 0,
                values: Vec::new(),
                list_starts: vec![0],
                list_items: Vec::new(),
            };
        };
        let mut size = choose_cell_size(entries);
        let (mut columns, mut rows, mut origin_x, mut origin_y);
        loop {
            origin_x = i64::from(extent.min.x).div_euclid(size) * size;
            origin_y = i64::from(extent.min.y).div_euclid(size) * size;
            columns = ((i64::from(extent.max.x) - origin_x) / size + 1) as usize;
            rows = ((i64::from(extent.max.y) - origin_y) / size + 1) as usize;
            if columns * rows <= MAX_CELLS {
                break;
            }
            size = next_nice(size);
        }
        let mut index = CellIndex {
            origin_x,
            origin_y,
            size,
            columns,
            rows,
            values: vec![EMPTY; columns * rows],
            list_starts: Vec::new(),
            list_items: Vec::new(),
        };
        let mut shared: HashMap<usize, Vec<u32>> = HashMap::new();
        for (id, entry) in entries.iter().enumerate() {
            index.add_region(id as u32, &entry.region, &mut shared);
        }
        index.freeze_lists(shared);
        index
    }

    #[inline]
    fn slot(&self, p: FixedPoint) -> Option<usize> {
        let dx = i64::from(p.x) - self.origin_x;
        let dy = i64::from(p.y) - self.origin_y;
        if dx < 0 || dy < 0 {
            return None;
        }
        let (column, row) = ((dx / self.size) as usize, (dy / self.size) as usize);
        (column < self.columns && row < self.rows).then_some(row * self.columns + column)
    }

    fn column_of(&self, x: i32) -> usize {
        ((i64::from(x) - self.origin_x) / self.size) as usize
    }

    fn row_of(&self, y: i32) -> usize {
        ((i64::from(y) - self.origin_y) / self.size) as usize
    }

    /// Records `id` in every cell its edges cross (as a candidate) and every cell it wholly covers.
    fn add_region(&mut self, id: u32, region: &Region, shared: &mut HashMap<usize, Vec<u32>>) {
        let bbox = region.bbox();
        let (c0, c1, r0, r1) =
            (self.column_of(bbox.min.x), self.column_of(bbox.max.x), self.row_of(bbox.min.y), self.row_of(bbox.max.y));
        let width = c1 - c0 + 1;
        let mut crossed = vec![false; width * (r1 - r0 + 1)];
        for (a, b) in region.edges() {
            let (ec0, ec1) = (self.column_of(a.x.min(b.x)), self.column_of(a.x.max(b.x)));
            let (er0, er1) = (self.row_of(a.y.min(b.y)), self.row_of(a.y.max(b.y)));
            for row in er0..=er1 {
                for column in ec0..=ec1 {
                    let local = (row - r0) * width + column - c0;
                    if !crossed[local] && self.edge_crosses_cell(a, b, column, row) {
                        crossed[local] = true;
                        self.record(row * self.columns + column, id, Presence::Crosses, shared);
                    }
                }
            }
        }
        let mut crossings: Vec<i64> = Vec::new();
        for row in r0..=r1 {
            // Which cell corners (x, y) of this row lie inside: the parity of edges crossing the ray
            // from the corner, where corner `column` counts edge e iff column < first_column_right(e).
            let y = self.origin_y + row as i64 * self.size;
            crossings.clear();
            for (a, b) in region.edges() {
                if (i64::from(a.y) > y) != (i64::from(b.y) > y) {
                    crossings.push(self.first_column_not_left_of_crossing(a, b, y));
                }
            }
            crossings.sort_unstable();
            let mut passed = crossings.partition_point(|&k| k <= c0 as i64);
            for column in c0..=c1 {
                while passed < crossings.len() && crossings[passed] <= column as i64 {
                    passed += 1;
                }
                let inside = (crossings.len() - passed) % 2 == 1;
                if inside && !crossed[(row - r0) * width + column - c0] {
                    self.record(row * self.columns + column, id, Presence::Covers, shared);
                }
            }
        }
    }

    fn record(&mut self, slot: usize, id: u32, presence: Presence, shared: &mut HashMap<usize, Vec<u32>>) {
        if let Some(list) = shared.get_mut(&slot) {
            list.push(id);
        } else if self.values[slot] == EMPTY && presence == Presence::Covers {
            self.values[slot] = id + 1;
        } else {
            let mut list = Vec::with_capacity(2);
            if self.values[slot] != EMPTY {
                list.push(self.values[slot] - 1);
            }
            list.push(id);
            self.values[slot] = LIST;
            shared.insert(slot, list);
        }
    }

    fn edge_crosses_cell(&self, a: FixedPoint, b: FixedPoint, column: usize, row: usize) -> bool {
        let x0 = self.origin_x + column as i64 * self.size;
        let y0 = self.origin_y + row as i64 * self.size;
        segment_meets_open_box(a, b, x0, y0, x0 + self.size, y0 + self.size)
    }

    /// The smallest column whose corner on row height `y` is not strictly left of where edge a→b
    /// crosses that height.
    fn first_column_not_left_of_crossing(&self, a: FixedPoint, b: FixedPoint, y: i64) -> i64 {
        let (ax, ay, bx, by) = (i128::from(a.x), i128::from(a.y), i128::from(b.x), i128::from(b.y));
        let mut numerator = (ax - i128::from(self.origin_x)) * (by - ay) + (i128::from(y) - ay) * (bx - ax);
        let mut denominator = (by - ay) * i128::from(self.size);
        if denominator < 0 {
            numerator = -numerator;
            denominator = -denominator;
        }
        // ceil(numerator / denominator)
        (-((-numerator).div_euclid(denominator))) as i64
    }

    fn freeze_lists(&mut self, shared: HashMap<usize, Vec<u32>>) {
        let mut slots: Vec<usize> = shared.keys().copied().collect();
        slots.sort_unstable();
        self.list_starts = Vec::with_capacity(slots.len() + 1);
        self.list_starts.push(0);
        for (number, slot) in slots.into_iter().enumerate() {
            let mut ids = shared[&slot].clone();
            ids.sort_unstable();
            ids.dedup();
            self.list_items.extend(ids);
            self.list_starts.push(self.list_items.len() as u32);
            self.values[slot] = LIST | number as u32;
        }
    }
}

/// Whether the closed segment a–b meets the open box (x0, x1) × (y0, y1). By the separating-axis
/// theorem it does unless the box axes or the segment's normal separate them.
fn segment_meets_open_box(a: FixedPoint, b: FixedPoint, x0: i64, y0: i64, x1: i64, y1: i64) -> bool {
    let (ax, ay, bx, by) = (i64::from(a.x), i64::from(a.y), i64::from(b.x), i64::from(b.y));
    if ax.max(bx) <= x0 || ax.min(bx) >= x1 || ay.max(by) <= y0 || ay.min(by) >= y1 {
        return false;
    }
    let side = |cx: i64, cy: i64| -> i128 {
        i128::from(bx - ax) * i128::from(cy - ay) - i128::from(by - ay) * i128::from(cx - ax)
    };
    let sides = [side(x0, y0), side(x1, y0), side(x1, y1), side(x0, y1)];
    sides.iter().any(|&s| s > 0) && sides.iter().any(|&s| s < 0)
}

/// A cell size about a sixteenth of a typical region's narrower side, rounded down to 1, 2 or 5
/// times a power of ten so that cells line up with regions drawn on decimal lattices.
fn choose_cell_size(entries: &[RouterEntry]) -> i64 {
    let mut sides: Vec<i64> = entries.iter().map(|e| e.region.bbox().width().min(e.region.bbox().height())).collect();
    sides.sort_unstable();
    let typical = sides[sides.len() / 2].max(160) / 16;
    let mut size = 10;
    while next_nice(size) <= typical {
        size = next_nice(size);
    }
    size
}

fn next_nice(size: i64) -> i64 {
    let mut magnitude = 1;
    while magnitude * 10 <= size {
        magnitude *= 10;
    }
    match size / magnitude {
        1 => 2 * magnitude,
        2..=4 => 5 * magnitude,
        _ => 10 * magnitude,
    }
}
