//! authentik's `Pagination` (DRF `PageNumberPagination` on Django's `Paginator`).

use std::ops::Range;

use crate::errors::Reply;
use crate::out::Out;
use crate::profile::Profile;
use crate::py;
use crate::query::Query;

/// The page of `count` items the query asks for: the index range and the `pagination` object.
pub fn page(count: usize, q: &Query, profile: Profile) -> Result<(Range<usize>, Out), Reply> {
    let per_page = page_size(q, profile);
    let count_u = count as u128;
    // Paginator.num_pages: an empty list still has one page.
    let num_pages = if count == 0 {
        1
    } else {
        count_u.div_ceil(per_page)
    };
    let invalid = || Reply::detail(404, "Invalid page.");
    let number: u128 = match q.get("page") {
        None | Some("") => 1,
        Some("last") => num_pages,
        Some(raw) => {
            let n = py::int(raw).ok_or_else(invalid)?;
            if n < 1 || n as u128 > num_pages {
                return Err(invalid());
            }
            n as u128
        }
    };
    let start = per_page.saturating_mul(number - 1).min(count_u) as usize;
    let end = per_page.saturating_mul(number).min(count_u) as usize;
    let int = |v: u128| Out::Int(i64::try_from(v).unwrap_or(i64::MAX));
    let pagination = Out::obj([
        ("next", int(if number < num_pages { number + 1 } else { 0 })),
        ("previous", int(number.saturating_sub(1))),
        ("count", int(count_u)),
        ("current", int(number)),
        ("total_pages", int(num_pages)),
        (
            "start_index",
            int(if count == 0 { 0 } else { start as u128 + 1 }),
        ),
        (
            "end_index",
            int(if number == num_pages {
                count_u
            } else {
                per_page.saturating_mul(number)
            }),
        ),
    ]);
    Ok((start..end, pagination))
}

/// `page_size`: a positive integer (capped on current releases); anything else means the
/// default.
fn page_size(q: &Query, profile: Profile) -> u128 {
    let requested = q
        .get("page_size")
        .and_then(py::int)
        .filter(|n| *n > 0)
        .map(|n| n as u128);
    match (requested, profile.max_page_size()) {
        (Some(n), Some(max)) => n.min(max),
        (Some(n), None) => n,
        (None, _) => profile.default_page_size(),
    }
}

/// The list body: `{pagination, results}` plus `autocomplete: {}` on current releases.
pub fn body(pagination: Out, results: Vec<Out>, profile: Profile) -> Out {
    let mut pairs = vec![("pagination", pagination), ("results", Out::Arr(results))];
    if profile.autocomplete() {
        pairs.push(("autocomplete", Out::Obj(Vec::new())));
    }
    Out::obj(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(count: usize, query: &str, profile: Profile) -> Result<(Range<usize>, String), u16> {
        page(count, &Query::parse(Some(query)), profile)
            .map(|(r, o)| (r, String::from_utf8(o.to_bytes()).unwrap_or_default()))
            .map_err(|r| r.status)
    }

    #[test]
    fn matches_transcripts() {
        let p = Profile::V2024_4;
        assert_eq!(
            run(3, "page_size=1", p),
            Ok((
                0..1,
                r#"{"next":2,"previous":0,"count":3,"current":1,"total_pages":3,"start_index":1,"end_index":1}"#.into()
            ))
        );
        assert_eq!(
            run(3, "page_size=1&page=2", p),
            Ok((
                1..2,
                r#"{"next":3,"previous":1,"count":3,"current":2,"total_pages":3,"start_index":2,"end_index":2}"#.into()
            ))
        );
        assert_eq!(
            run(3, "page_size=0", p),
            Ok((
                0..3,
                r#"{"next":0,"previous":0,"count":3,"current":1,"total_pages":1,"start_index":1,"end_index":3}"#.into()
            ))
        );
        assert_eq!(
            run(0, "", p),
            Ok((
                0..0,
                r#"{"next":0,"previous":0,"count":0,"current":1,"total_pages":1,"start_index":0,"end_index":0}"#.into()
            ))
        );
        assert_eq!(run(3, "page_size=1&page=99", p), Err(404));
        for bad in ["page=0", "page=-1", "page=abc", "page=1.0"] {
            assert_eq!(run(3, bad, p), Err(404), "{bad}");
        }
        assert_eq!(run(3, "page_size=1&page=last", p).map(|(r, _)| r), Ok(2..3));
    }

    #[test]
    fn page_size_per_profile() {
        assert_eq!(
            run(500, "page_size=1000", Profile::V2023_10).map(|(r, _)| r),
            Ok(0..500)
        );
        assert_eq!(run(500, "", Profile::V2023_10).map(|(r, _)| r), Ok(0..100));
        assert_eq!(
            run(500, "page_size=1000", Profile::Current).map(|(r, _)| r),
            Ok(0..100)
        );
        assert_eq!(run(500, "", Profile::Current).map(|(r, _)| r), Ok(0..20));
        assert_eq!(
            run(500, "page_size=abc", Profile::Current).map(|(r, _)| r),
            Ok(0..20)
        );
        assert_eq!(
            run(500, "page_size=-1", Profile::V2024_4).map(|(r, _)| r),
            Ok(0..100)
        );
    }
}
