//! TEMPORARY placeholder while the Go-template engine is written; replaced before commit.
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
#[error("template: {0}: templates are not available yet")]
pub struct TemplateError(String);

pub fn render(
    name: &str,
    _t: &str,
    _d: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    Err(TemplateError(name.to_string()))
}
