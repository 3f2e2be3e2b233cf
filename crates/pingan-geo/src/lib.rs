//! Geography for Pingan. Polygons are held in fixed-point coordinates (1e-7 degree, about a
//! centimetre) so that point-in-polygon tests are exact integer arithmetic: a point on an edge
//! shared by two grids belongs to exactly one of them, never to both and never to neither.
//! No IO here beyond parsing bytes handed in by the caller.

pub mod crosswalk;
pub mod fixed;
pub mod geojson_io;
pub mod region;
pub mod router;
pub mod tessellate;
mod trace;

pub use fixed::{Bbox, FixedPoint, OutOfRange};
pub use region::Region;
pub use router::{Router, RouterEntry};
