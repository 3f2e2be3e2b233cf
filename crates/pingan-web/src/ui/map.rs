//! Server-rendered SVG maps: the grid map (grids filled by village, county borders on top, an
//! optional marker) and the workload map of a command centre (grids or divisions filled by their
//! open and overdue cases). Pure: regions in, SVG text out.

use std::fmt::Write;

use pingan_core::{DivisionCode, GridCode};
use pingan_geo::{FixedPoint, Region};

const WIDTH: f64 = 960.0;

const NO_GRIDS: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 960 80" role="img"><text x="20" y="45">尚无网格 · no grids loaded</text></svg>"#;

pub struct MapLayers<'a> {
    pub grids: &'a [(GridCode, String, Region)],
    pub boundaries: &'a [(DivisionCode, Region)],
    pub marker: Option<(f64, f64)>,
    pub highlight: Option<&'a str>,
}

/// Equirectangular projection with longitude shrunk by the cosine of the middle latitude.
struct Projection {
    min_lon: f64,
    max_lat: f64,
    scale_x: f64,
    scale_y: f64,
}

impl Projection {
    /// The projection that fits `extent` into the map's width, and the map's height.
    fn fitting(extent: pingan_geo::Bbox) -> (Projection, f64) {
        let middle_latitude = (extent.min.lat() + extent.max.lat()) / 2.0;
        let span_x = (extent.max.lon() - extent.min.lon()) * middle_latitude.to_radians().cos();
        let scale_y = WIDTH / span_x.max(1e-9);
        let projection = Projection {
            min_lon: extent.min.lon(),
            max_lat: extent.max.lat(),
            scale_x: scale_y * middle_latitude.to_radians().cos(),
            scale_y,
        };
        (projection, ((extent.max.lat() - extent.min.lat()) * scale_y).ceil())
    }

    /// Map coordinates in half-pixels, so that rounding keeps shapes crisp at any zoom a browser offers.
    fn half_pixels(&self, p: FixedPoint) -> (i64, i64) {
        (
            ((p.lon() - self.min_lon) * self.scale_x * 2.0).round() as i64,
            ((self.max_lat - p.lat()) * self.scale_y * 2.0).round() as i64,
        )
    }
}

fn village_hue(grid: &GridCode) -> u64 {
    let village = grid.village();
    village.as_str().bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 360
}

/// Appends an SVG path's `d` for `region`, dropping points that rounding merged and points on a
/// straight run.
fn write_path(out: &mut String, region: &Region, projection: &Projection) {
    for ring in region.polygons().iter().flatten() {
        let mut points: Vec<(i64, i64)> = ring.iter().map(|&p| projection.half_pixels(p)).collect();
        points.dedup();
        let n = points.len();
        let kept: Vec<(i64, i64)> = (0..n)
            .filter(|&i| {
                let (a, b, c) = (points[(i + n - 1) % n], points[i], points[(i + 1) % n]);
                (b.0 - a.0) * (c.1 - b.1) != (b.1 - a.1) * (c.0 - b.0)
            })
            .map(|i| points[i])
            .collect();
        if kept.len() < 3 {
            continue;
        }
        for (i, (x, y)) in kept.iter().enumerate() {
            let command = if i == 0 { 'M' } else { 'L' };
            let _ = write!(
                out,
                "{command}{}{} {}{}",
                x / 2,
                if x % 2 == 0 { "" } else { ".5" },
                y / 2,
                if y % 2 == 0 { "" } else { ".5" }
            );
        }
        out.push('Z');
    }
}

pub fn render_svg(layers: &MapLayers<'_>) -> String {
    let extent = layers
        .grids
        .iter()
        .map(|(_, _, region)| region.bbox())
        .chain(layers.boundaries.iter().map(|(_, region)| region.bbox()))
        .reduce(|a, b| a.union(b));
    let Some(extent) = extent else { return NO_GRIDS.into() };
    let (projection, height) = Projection::fitting(extent);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="grid-map" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="网格地图 grid map"><g class="grids" stroke="#fff" stroke-width="0.4" fill-rule="evenodd">"##
    );
    for (code, name, region) in layers.grids {
        let highlighted = layers.highlight == Some(code.as_str());
        let fill = if highlighted { "#d9480f".to_owned() } else { format!("hsl({},55%,78%)", village_hue(code)) };
        let _ = write!(svg, r##"<path data-grid="{code}" fill="{fill}" d=""##);
        write_path(&mut svg, region, &projection);
        let _ = write!(svg, r#""><title>{} {code}</title></path>"#, escape(name));
    }
    svg.push_str(r##"</g><g class="boundaries" fill="none" stroke="#343a40" stroke-width="1.2" fill-rule="evenodd">"##);
    for (code, region) in layers.boundaries {
        let _ = write!(svg, r#"<path data-division="{code}" d=""#);
        write_path(&mut svg, region, &projection);
        svg.push_str(r#""/>"#);
    }
    svg.push_str("</g>");
    if let Some((lon, lat)) = layers.marker
        && let Ok(point) = FixedPoint::from_degrees(lon, lat)
    {
        let (x, y) = projection.half_pixels(point);
        let _ = write!(
            svg,
            r##"<circle id="marker" cx="{}" cy="{}" r="6" fill="#c92a2a" stroke="#fff" stroke-width="2"/>"##,
            x as f64 / 2.0,
            y as f64 / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The cases open in a place, and how many of them are past their resolution deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    pub open: u64,
    pub overdue: u64,
}

impl Workload {
    /// The fill of a place: reds for overdue cases, yellows for open ones, a pale green for none.
    /// The legend of the command centre's page names the same steps.
    pub fn fill(self) -> &'static str {
        match (self.overdue, self.open) {
            (5.., _) => "#c92a2a",
            (2.., _) => "#f03e3e",
            (1, _) => "#ffa8a8",
            (0, 10..) => "#fd7e14",
            (0, 3..) => "#ffc078",
            (0, 1..) => "#ffec99",
            (0, 0) => "#ebfbee",
        }
    }
}

/// A place on the workload map: a grid or a division, what it holds, and where a click on it leads
/// (nowhere when `href` is empty).
pub struct Place<'a> {
    pub label: String,
    pub region: &'a Region,
    pub workload: Workload,
    pub href: String,
}

/// The workload map: each place filled by its open and overdue cases and titled with them, the
/// outlines on top. A click on a place follows its `data-href` (the page's script); the page
/// lists the same figures in a table for those who do not use the map.
pub fn render_workload_svg(places: &[Place<'_>], outlines: &[(DivisionCode, Region)], caption: &str) -> String {
    let extent = places
        .iter()
        .map(|place| place.region.bbox())
        .chain(outlines.iter().map(|(_, region)| region.bbox()))
        .reduce(|a, b| a.union(b));
    let Some(extent) = extent else { return NO_GRIDS.into() };
    let (projection, height) = Projection::fitting(extent);
    // The projection goes with the map, for a page's script to turn a click back into a point.
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="workload-map" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" data-projection="{} {} {} {}"><g stroke="#868e96" stroke-width="0.3" fill-rule="evenodd">"##,
        escape(caption),
        projection.min_lon,
        projection.max_lat,
        projection.scale_x,
        projection.scale_y
    );
    for place in places {
        svg.push_str("<path");
        if !place.href.is_empty() {
            let _ = write!(svg, r#" data-href="{}""#, escape(&place.href));
        }
        let _ = write!(svg, r#" fill="{}" d=""#, place.workload.fill());
        write_path(&mut svg, place.region, &projection);
        let _ = write!(svg, r#""><title>{}</title></path>"#, escape(&place.label));
    }
    svg.push_str(r##"</g><g fill="none" stroke="#343a40" stroke-width="1.2" fill-rule="evenodd">"##);
    for (_, region) in outlines {
        svg.push_str(r#"<path d=""#);
        write_path(&mut svg, region, &projection);
        svg.push_str(r#""/>"#);
    }
    svg.push_str("</g></svg>");
    svg
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
