use pingan_core::category::CategoryError;
use pingan_core::lifecycle::LifecycleError;
use pingan_core::{Explain, Reason};

use crate::geography::atlas::RouteError;
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
    #[error("{0}")]
    Route(#[from] RouteError),
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("{0}")]
    Categories(#[from] CategoryError),
    #[error("no category {0:?} to file a case under")]
    UnknownCategory(String),
    #[error("{0} is required")]
    MissingField(&'static str),
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} must be from {min} to {max}")]
    OutOfRange { field: &'static str, min: i64, max: i64 },
    #[error("{field} is not valid: {reason}")]
    InvalidField { field: &'static str, reason: Reason },
    #[error("a report needs a location: lon and lat, a grid code, or an address")]
    MissingLocation,
    #[error("the address {address:?} names no place in the served area{}", ambiguity_en(.candidates))]
    AddressNotPlaced { address: String, candidates: Vec<String> },
    #[error("{place} lies outside {area}, the area this filer files reports for")]
    OutsideFilersArea { place: String, area: String },
    #[error("no grid {0}")]
    UnknownGrid(String),
    #[error("no division {0}")]
    UnknownDivision(String),
    #[error("no case {0}")]
    CaseNotFound(String),
    #[error("{0:?} names no unit: use centre:CODE, department:COUNTY:KIND or grid:CODE")]
    BadUnit(String),
    #[error("the case is already at the top of the division tree and cannot be escalated")]
    CannotEscalate,
    #[error("the photo is {size} bytes; at most {max} are accepted")]
    PhotoTooLarge { size: usize, max: usize },
    #[error("this address has stored {max} bytes of photos without an account today: try again tomorrow, or log in")]
    PhotoQuotaReached { max: u64 },
    #[error("not a photo: JPEG, PNG or WebP images are accepted")]
    NotAPhoto,
    #[error("{count} photos; at most {max} are accepted")]
    TooManyPhotos { count: usize, max: usize },
    #[error("no photo {0:?}: upload it first and name it by the hash returned")]
    UnknownPhoto(String),
    #[error("category {0:?} is missing: categories cases are filed under cannot be dropped")]
    CategoryDropped(String),
    #[error("no unit {0:?}: no such division, department, provider or grid")]
    UnknownUnit(String),
    #[error("{target} lies outside the line of {division} in the division tree: dispatch to a unit above or below it")]
    TargetElsewhere { target: String, division: String },
    #[error("no dispatch rule or department fits this case: name the unit to dispatch it to")]
    NoDispatchTarget,
    #[error("report {} of the batch: {error}", index + 1)]
    InBatch { index: usize, error: Box<AppError> },
    #[error("no grids under {0}: import or generate them first")]
    NoGridsUnder(String),
    #[error("{0}")]
    Access(#[from] crate::access::AccessError),
    #[error("no webhook {0}")]
    UnknownWebhook(i64),
    #[error("webhooks may not be delivered to {address}: {reason} (the operator may allow it with --webhook-allow)")]
    TargetRefused { address: String, reason: Reason },
    #[error("the personal-data key file is unusable: {0}")]
    BadKeyFile(String),
    #[error("personal data could not be sealed or opened: {0}")]
    Sealing(String),
    #[error("this server has no key for personal data, so it cannot take reporter contact details")]
    NoDataKey,
    #[error("{}", wrong_keys_en(.missing, .different))]
    WrongDataKeys { missing: Vec<String>, different: Vec<String> },
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
            AppError::Route(e) => e.code(),
            AppError::Lifecycle(e) => e.code(),
            AppError::Categories(e) => e.code(),
            AppError::UnknownCategory(_) => "unknown_category",
            AppError::MissingField(_) => "missing_field",
            AppError::TooLong { .. } => "too_long",
            AppError::MissingLocation => "missing_location",
            AppError::AddressNotPlaced { .. } => "address_not_placed",
            AppError::InvalidField { .. } => "invalid_field",
            AppError::OutOfRange { .. } => "out_of_range",
            AppError::OutsideFilersArea { .. } => "outside_filers_area",
            AppError::UnknownGrid(_) => "unknown_grid",
            AppError::UnknownDivision(_) => "unknown_division",
            AppError::CaseNotFound(_) => "case_not_found",
            AppError::BadUnit(_) => "unknown_unit",
            AppError::CannotEscalate => "cannot_escalate",
            AppError::NoGridsUnder(_) => "no_grids",
            AppError::InBatch { error, .. } => error.code(),
            AppError::UnknownUnit(_) => "unknown_unit",
            AppError::CategoryDropped(_) => "category_dropped",
            AppError::PhotoTooLarge { .. } => "photo_too_large",
            AppError::NotAPhoto => "unsupported_photo_type",
            AppError::PhotoQuotaReached { .. } => "photo_quota_reached",
            AppError::TooManyPhotos { .. } => "too_many_photos",
            AppError::UnknownPhoto(_) => "unknown_photo",
            AppError::NoDispatchTarget => "no_dispatch_target",
            AppError::TargetElsewhere { .. } => "target_elsewhere",
            AppError::Access(e) => e.code(),
            AppError::UnknownWebhook(_) => "webhook_not_found",
            AppError::TargetRefused { .. } => "webhook_target_refused",
            AppError::BadKeyFile(_) => "bad_key_file",
            AppError::Sealing(_) => "personal_data_unreadable",
            AppError::NoDataKey => "no_data_key",
            AppError::WrongDataKeys { .. } => "data_keys_missing",
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
            AppError::Route(e) => e.message_zh(),
            AppError::Lifecycle(e) => e.message_zh(),
            AppError::Categories(e) => e.message_zh(),
            AppError::UnknownCategory(code) => format!("没有事项分类“{code}”"),
            AppError::MissingField(field) => format!("缺少必填项 {field}"),
            AppError::TooLong { field, max } => format!("{field} 超过 {max} 个字符"),
            AppError::MissingLocation => "上报须提供位置：经纬度、网格代码或地址".into(),
            AppError::AddressNotPlaced { address, candidates } if candidates.is_empty() => {
                format!("无法从地址“{address}”确定所在区划：请写明县（区）、乡镇（街道）或村（社区）名称，或提供经纬度")
            }
            AppError::AddressNotPlaced { address, candidates } => {
                format!("地址“{address}”可能属于{}，无法确定：请写明上级区划名称，或提供经纬度", candidates.join("、"))
            }
            AppError::OutOfRange { field, min, max } => format!("{field} 须在 {min} 至 {max} 之间"),
            AppError::InvalidField { field, reason } => format!("{field} 格式有误：{}", reason.zh),
            AppError::OutsideFilersArea { place, area } => format!("{place} 不在本账号受理上报的区域 {area} 内"),
            AppError::UnknownGrid(code) => format!("没有网格 {code}"),
            AppError::UnknownDivision(code) => format!("没有行政区划 {code}"),
            AppError::CaseNotFound(case) => format!("没有事件 {case}"),
            AppError::BadUnit(unit) => {
                format!("“{unit}”不是有效的单位，应为 centre:区划代码、department:县代码:部门 或 grid:网格代码")
            }
            AppError::CannotEscalate => "事件已在最高层级，无法再上报".into(),
            AppError::NoGridsUnder(code) => format!("{code} 下没有网格，请先导入或生成网格"),
            AppError::PhotoTooLarge { size, max } => format!("照片大小 {size} 字节，超过上限 {max} 字节"),
            AppError::NotAPhoto => "不是照片：仅接受 JPEG、PNG 或 WebP 图片".into(),
            AppError::PhotoQuotaReached { max } => {
                format!("此地址今日未登录上传的照片已达 {max} 字节上限，请明天再试或登录后上传")
            }
            AppError::TooManyPhotos { count, max } => format!("照片 {count} 张，最多 {max} 张"),
            AppError::UnknownPhoto(hash) => format!("没有照片“{hash}”：请先上传，再用返回的哈希引用"),
            AppError::CategoryDropped(code) => format!("缺少分类“{code}”：已有事件使用的分类不能删除"),
            AppError::UnknownUnit(unit) => format!("没有单位“{unit}”：区划、部门、服务商或网格不存在"),
            AppError::NoDispatchTarget => "没有适用的派单规则或部门，请指定派往单位".into(),
            AppError::TargetElsewhere { target, division } => {
                format!("{target} 不在 {division} 的上下级范围内：只能派往其上级或下级单位")
            }
            AppError::InBatch { index, error } => format!("第 {} 条：{}", index + 1, error.message_zh()),
            AppError::Access(e) => e.message_zh(),
            AppError::UnknownWebhook(id) => format!("没有订阅 {id}"),
            AppError::TargetRefused { address, reason } => {
                format!("订阅不能推送到 {address}：{}（运营方可用 --webhook-allow 允许）", reason.zh)
            }
            AppError::BadKeyFile(e) => format!("个人信息密钥文件不可用：{e}"),
            AppError::Sealing(e) => format!("个人信息无法加密或解密：{e}"),
            AppError::NoDataKey => "本服务未配置个人信息密钥，无法接收报告人联系方式".into(),
            AppError::WrongDataKeys { missing, different } => {
                let mut parts = Vec::new();
                if !missing.is_empty() {
                    parts.push(format!("密钥文件中缺少密钥 {}", missing.join("、")));
                }
                if !different.is_empty() {
                    parts.push(format!("密钥 {} 与封存数据时所用的不是同一把", different.join("、")));
                }
                format!(
                    "数据库中的个人信息无法用此密钥文件解密：{}。请用本数据库对应的密钥文件启动（--data-key-file）",
                    parts.join("；")
                )
            }
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Which keys the database needs that the key file lacks or holds differently.
fn wrong_keys_en(missing: &[String], different: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("the key file lacks key {}", missing.join(", ")));
    }
    if !different.is_empty() {
        parts.push(format!("key {} in the key file is not the one the data was sealed with", different.join(", ")));
    }
    format!(
        "the database holds personal data this key file cannot open: {}; start with the key file that belongs to \
         this database (--data-key-file)",
        parts.join("; ")
    )
}

/// ", which fits A, B … equally: name a division above it, or give lon and lat", or a hint when
/// nothing fitted.
fn ambiguity_en(candidates: &[String]) -> String {
    if candidates.is_empty() {
        ": name its county, township or village, or give lon and lat".into()
    } else {
        format!(", which fits {} equally: name a division above it, or give lon and lat", candidates.join(", "))
    }
}
