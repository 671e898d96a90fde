//! `gcmigrate files`: copy a wave's linked files into the Persistent Chat file store
//! ([`crate::files::copy`]), list the missing ones by room GUID and chatId in
//! `reports/files-missing-<wave>.csv`. Exit 0 when every file is in place, 1 when some
//! are missing from the legacy repository (the wave's links would not all resolve, as a
//! failed verify), 2 on a destination file that differs (nothing copied).

use anyhow::Result;

use crate::cli::FilesArgs;
use crate::error::{bad_input, Outcome};
use crate::files::copy::{self, Request};
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `files`.
pub async fn run(args: FilesArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    let plan = super::stored_plan(&ws).await?;
    let wave = args.wave.as_deref();
    if let Some(w) = wave {
        if !plan.waves.iter().any(|x| x.name == w) {
            let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
            return Err(bad_input(format!(
                "no wave `{w}` in the plan (waves: {})",
                names.join(", ")
            )));
        }
    }
    let label = wave.unwrap_or(crate::mapping::wave_name::EVERY_WAVE);
    let req = Request {
        wave,
        from: &args.from,
        to: &args.to,
        dry_run: args.dry_run,
        overwrite: args.overwrite,
    };
    let out = copy::run(&ws, &req, &progress).await?;
    for (src, dest, size) in &out.would_copy {
        crate::progress::out_line(&format!(
            "would copy {} -> {} ({size} bytes)",
            src.display(),
            dest.display()
        ));
    }
    let missing_csv = ws.reports_dir().join(format!("files-missing-{label}.csv"));
    write_missing(&missing_csv, &out.missing)?;
    let distinct = {
        let mut m: Vec<&str> = out.missing.iter().map(|r| r.rel_path.as_str()).collect();
        m.sort_unstable();
        m.dedup();
        m.len()
    };
    let done = if args.dry_run {
        format!("dry run: {} file(s) would be copied", out.would_copy.len())
    } else {
        format!("{} file(s) copied ({})", out.copied, crate::files::human(out.bytes))
    };
    progress.note(&format!(
        "files ({label}) {done}, {} already in place (copy journal), {} found at the destination with the same bytes; {distinct} missing from {} ({} link(s)){}",
        out.in_place,
        out.adopted,
        args.from.display(),
        out.missing.len(),
        if distinct > 0 { format!(": {}", missing_csv.display()) } else { String::new() }
    ));
    progress.notes(
        out.missing.iter().map(|r| {
            format!(
                "  missing {} (room {} {}, chatId {})",
                r.rel_path, r.room_guid, r.room_path, r.chat_id
            )
        }),
        &missing_csv.display().to_string(),
    );
    for rel in &out.changed_since_plan {
        progress.note(&format!("  {rel} changed in the repository since the plan's inventory; the copy holds the current bytes"));
    }
    Ok(if out.missing.is_empty() { Outcome::Success } else { Outcome::Findings })
}

/// `reports/files-missing-<wave>.csv`: one row per link whose file is missing.
fn write_missing(path: &std::path::Path, rows: &[crate::staging::FileLinkRow]) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["room_guid", "room_path", "chat_id", "path", "link"])?;
    for r in rows {
        w.write_record([&r.room_guid, &r.room_path, &r.chat_id.to_string(), &r.rel_path, &r.link])?;
    }
    w.flush()?;
    Ok(())
}
