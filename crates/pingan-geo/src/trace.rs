//! Outlines of a set of raster cells: the polygons (with holes) whose union is exactly those cells.
//!
//! Every edge between a cell in the set and one outside it becomes a directed edge with the set on
//! its left, so exteriors run anticlockwise and holes clockwise. Where two cells of the set touch
//! only at a corner, the walk turns left, which keeps them in separate rings that touch at a point.

use crate::fixed::FixedPoint;

/// A rectangle of cells, `true` where the cell is in the set, row 0 at the bottom (south).
pub struct CellMask {
    pub columns: usize,
    pub rows: usize,
    pub cells: Vec<bool>,
}

/// Where the mask sits: the south-west corner of cell (0, 0) and a cell's side, in fixed units.
#[derive(Clone, Copy)]
pub struct Placement {
    pub origin_x: i64,
    pub origin_y: i64,
    pub cell: i64,
}

// Headings, in anticlockwise order so that "turn left" is +1.
const EAST: u8 = 0;
const NORTH: u8 = 1;
const WEST: u8 = 2;
const SOUTH: u8 = 3;

impl CellMask {
    fn at(&self, column: isize, row: isize) -> bool {
        column >= 0
            && row >= 0
            && (column as usize) < self.columns
            && (row as usize) < self.rows
            && self.cells[row as usize * self.columns + column as usize]
    }
}

/// The polygons covering exactly the cells of `mask`; each is an exterior ring then its holes.
pub fn outline(mask: &CellMask, placement: Placement) -> Vec<Vec<Vec<FixedPoint>>> {
    let vertex_columns = mask.columns + 1;
    let vertex = |column: usize, row: usize| row * vertex_columns + column;
    // Bit h of outgoing[v] is set when an edge leaves vertex v heading h.
    let mut outgoing = vec![0u8; vertex_columns * (mask.rows + 1)];
    for row in 0..mask.rows {
        for column in 0..mask.columns {
            if !mask.cells[row * mask.columns + column] {
                continue;
            }
            let (c, r) = (column as isize, row as isize);
            if !mask.at(c, r - 1) {
                outgoing[vertex(column, row)] |= 1 << EAST;
            }
            if !mask.at(c + 1, r) {
                outgoing[vertex(column + 1, row)] |= 1 << NORTH;
            }
            if !mask.at(c, r + 1) {
                outgoing[vertex(column + 1, row + 1)] |= 1 << WEST;
            }
            if !mask.at(c - 1, r) {
                outgoing[vertex(column, row + 1)] |= 1 << SOUTH;
            }
        }
    }
    let original = outgoing.clone();
    let mut rings: Vec<Vec<(i64, i64)>> = Vec::new();
    for start in 0..outgoing.len() {
        while outgoing[start] != 0 {
            let first_heading = outgoing[start].trailing_zeros() as u8;
            let mut ring = Vec::new();
            let (mut at, mut heading) = (start, first_heading);
            loop {
                outgoing[at] &= !(1 << heading);
                let (column, row) = (at % vertex_columns, at / vertex_columns);
                ring.push((column as i64, row as i64, heading));
                at = match heading {
                    EAST => vertex(column + 1, row),
                    NORTH => vertex(column, row + 1),
                    WEST => vertex(column - 1, row),
                    _ => vertex(column, row - 1),
                };
                // Left first, then straight, then right; never back.
                heading = [1u8, 0, 3]
                    .iter()
                    .map(|turn| (heading + turn) % 4)
                    .find(|&h| original[at] & (1 << h) != 0)
                    .unwrap_or(heading);
                if at == start && heading == first_heading {
                    break;
                }
            }
            rings.extend(split_at_repeated_vertices(ring).iter().map(|piece| corners(piece)));
        }
    }
    group_rings(rings)
        .into_iter()
        .map(|polygon| {
            polygon
                .into_iter()
                .map(|ring| {
                    ring.into_iter()
                        .map(|(c, r)| {
                            FixedPoint::new(
                                (placement.origin_x + c * placement.cell) as i32,
                                (placement.origin_y + r * placement.cell) as i32,
                            )
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Cuts a walk that passes some vertex twice into simple rings. A walk passes a vertex twice where
/// a hole touches the exterior at a corner; valid polygons need the two as separate rings that
/// touch there, so each loop between two visits becomes a ring of its own.
fn split_at_repeated_vertices(steps: Vec<(i64, i64, u8)>) -> Vec<Vec<(i64, i64, u8)>> {
    let mut pieces = Vec::new();
    let mut path: Vec<(i64, i64, u8)> = Vec::with_capacity(steps.len());
    let mut position: std::collections::HashMap<(i64, i64), usize> = std::collections::HashMap::new();
    for step in steps {
        if let Some(&start) = position.get(&(step.0, step.1)) {
            let piece = path.split_off(start);
            for vertex in &piece {
                position.remove(&(vertex.0, vertex.1));
            }
            pieces.push(piece);
        }
        position.insert((step.0, step.1), path.len());
        path.push(step);
    }
    pieces.push(path);
    pieces
}

/// Keeps only the vertices where the heading changes.
fn corners(steps: &[(i64, i64, u8)]) -> Vec<(i64, i64)> {
    let n = steps.len();
    (0..n).filter(|&i| steps[(i + n - 1) % n].2 != steps[i].2).map(|i| (steps[i].0, steps[i].1)).collect()
}

fn twice_signed_area(ring: &[(i64, i64)]) -> i64 {
    let n = ring.len();
    (0..n).map(|i| ring[i].0 * ring[(i + 1) % n].1 - ring[(i + 1) % n].0 * ring[i].1).sum()
}

/// Puts each hole (clockwise ring) under the exterior that surrounds it.
fn group_rings(rings: Vec<Vec<(i64, i64)>>) -> Vec<Vec<Vec<(i64, i64)>>> {
    let (exteriors, holes): (Vec<_>, Vec<_>) = rings.into_iter().partition(|ring| twice_signed_area(ring) > 0);
    let mut polygons: Vec<Vec<Vec<(i64, i64)>>> = exteriors.into_iter().map(|ring| vec![ring]).collect();
    for hole in holes {
        // A point a quarter cell to the left of the hole's first edge lies in the set, inside the
        // exterior that owns the hole, and on no lattice line (coordinates scaled by four).
        let (a, b) = (hole[0], hole[1]);
        let (dx, dy) = ((b.0 - a.0).signum(), (b.1 - a.1).signum());
        let probe = (2 * (a.0 + b.0) - dy, 2 * (a.1 + b.1) + dx);
        let owner = polygons.iter().position(|polygon| ring_contains_scaled(&polygon[0], probe)).unwrap_or(0);
        if let Some(polygon) = polygons.get_mut(owner) {
            polygon.push(hole);
        }
    }
    polygons
}

fn ring_contains_scaled(ring: &[(i64, i64)], probe: (i64, i64)) -> bool {
    let n = ring.len();
    let mut inside = false;
    for i in 0..n {
        let (a, b) = ((ring[i].0 * 4, ring[i].1 * 4), (ring[(i + 1) % n].0 * 4, ring[(i + 1) % n].1 * 4));
        if (a.1 > probe.1) != (b.1 > probe.1) {
            let crossing_x = a.0 + (probe.1 - a.1) * (b.0 - a.0) / (b.1 - a.1);
            if probe.0 < crossing_x {
                inside = !inside;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;

    fn mask(rows: &[&str]) -> CellMask {
        // Text rows are given north first.
        let columns = rows[0].len();
        let cells = rows.iter().rev().flat_map(|row| row.chars().map(|c| c == '#')).collect();
        CellMask { columns, rows: rows.len(), cells }
    }

    fn check(rows: &[&str], expected_polygons: usize, expected_holes: usize) {
        let mask = mask(rows);
        let polygons = outline(&mask, Placement { origin_x: 0, origin_y: 0, cell: 10 });
        assert_eq!(polygons.len(), expected_polygons, "{rows:?}");
        assert_eq!(polygons.iter().map(|p| p.len() - 1).sum::<usize>(), expected_holes, "{rows:?}");
        let region = Region::new(polygons).unwrap();
        let problems = geo::Validation::validation_errors(&region.to_geo());
        assert!(problems.is_empty(), "{rows:?}: {problems:?}");
        for row in 0..mask.rows {
            for column in 0..mask.columns {
                let centre = FixedPoint::new(column as i32 * 10 + 5, row as i32 * 10 + 5);
                let corner = FixedPoint::new(column as i32 * 10, row as i32 * 10);
                let expected = mask.cells[row * mask.columns + column];
                assert_eq!(region.contains(centre), expected, "{rows:?} centre of ({column},{row})");
                assert_eq!(region.contains(corner), expected, "{rows:?} corner of ({column},{row})");
            }
        }
    }

    #[test]
    fn outlines_cover_exactly_their_cells() {
        check(&["#"], 1, 0);
        check(&["##", "#."], 1, 0);
        check(&["###", "#.#", "###"], 1, 1);
        check(&["#.", ".#"], 2, 0); // touching at a corner only
        check(&[".#", "#."], 2, 0);
        check(&["#####", "#...#", "#.#.#", "#...#", "#####"], 2, 1); // an island inside a hole
        check(&["##.", "#.#", ".##"], 2, 0); // two L shapes touching at two corners
        check(&[".##", "#.#", "###"], 1, 1); // a hole touching the outside at a corner
        check(&["###.", "#.#.", "####", "..##"], 1, 1);
    }
}
