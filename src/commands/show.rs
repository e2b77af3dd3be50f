//! `rtech show`: a saved plan as text or JSON (no AWS call).

use std::process::ExitCode;

use anyhow::Result;

use super::{print_plan, Ui, EXIT_OK};
use crate::cli::ShowArgs;
use crate::plan::saved;

pub(super) fn show(a: &ShowArgs, ui: &Ui) -> Result<ExitCode> {
    let plan = saved::read(&a.planfile)?;
    print_plan(&plan, a.json, ui, &format!("the spec of env {}", plan.env));
    Ok(ExitCode::from(EXIT_OK))
}
