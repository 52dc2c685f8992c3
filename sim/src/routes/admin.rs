//! `/admin/version/`.

use super::Ctx;
use crate::errors::Reply;
use crate::render;

pub(super) fn version(ctx: &Ctx<'_>) -> Reply {
    Reply::json(200, render::version(ctx.profile))
}
