use pingan_core::Explain;
use pingan_geo::crosswalk::CrosswalkError;
use pingan_geo::geojson_io::GeoJsonError;
use pingan_geo::tessellate::TessellateError;
use pingan_store::StoreError;

/// Why a use case refused or failed. Input problems name the file, line or feature at fault.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{file}, line {line}: {reason}")]
    BadRow { file: String, line: u64, reason: String },
    #[error("{file}: {reason}")]
    BadFile { file: String, reason: String },
    #[error("{0}")]
    GeoJson(#[from] GeoJsonError),
    #[error("feature {feature}: {reason}")]
    BadFeature { feature: usize, code: String, reason: String },
    #[error("grids {first} and {second} of village {village} overlap")]
    OverlappingGrids { village: String, first: String, second: String },
    #[error("{0}")]
    Crosswalk(#[from] CrosswalkError),
    #[error("{0}")]
    Tessellate(#[from] TessellateError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl Explain for AppError {
    fn code(&self) -> &'static str {
        match self {
            AppError::BadRow { .. } => "invalid_row",
            AppError::BadFile { .. } => "invalid_file",
            AppError::GeoJson(e) => e.code(),
            AppError::BadFeature { .. } => "invalid_feature",
            AppError::OverlappingGrids { .. } => "overlapping_grids",
            AppError::Crosswalk(e) => e.code(),
            AppError::Tessellate(_) => "tessellation_failed",
            AppError::Store(e) => e.code(),
        }
    }

    fn message_zh(&self) -> String {
        match self {
            AppError::BadRow { file, line, reason } => format!("{file} 第 {line} 行有误：{reason}"),
            AppError::BadFile { file, reason } => format!("{file} 无法读取：{reason}"),
            AppError::GeoJson(e) => e.message_zh(),
            AppError::BadFeature { feature, code, reason } => format!("第 {feature} 个要素（{code}）有误：{reason}"),
            AppError::OverlappingGrids { village, first, second } => {
                format!("村（社区）{village} 的网格 {first} 与 {second} 相互重叠")
            }
            AppError::Crosswalk(e) => e.message_zh(),
            AppError::Tessellate(e) => format!("网格生成失败：{e}"),
            AppError::Store(e) => e.message_zh(),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}
