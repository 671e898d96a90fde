//! `gcmigrate plan`: snapshot + mappings → plan and assessment report.

use std::path::Path;

use anyhow::Result;

use crate::cli::PlanArgs;
use crate::error::Outcome;
use crate::mapping::Mappings;
use crate::model::date_to_ticks;
use crate::plan::{Plan, Severity};
use crate::progress::Progress;
use crate::staging::Workspace;

/// Runs `plan`.
pub async fn run(args: PlanArgs, progress: Progress) -> Result<Outcome> {
    let ws = Workspace::open(&args.ws.workspace, false).await?;
    ws.check_manifest().await?;
    let target = args.target.as_deref().map(crate::db::DbUrl::parse).transpose()?;
    let files_from = args.files_from.as_deref();
    let plan =
        stage_with_target(&ws, args.mappings.as_deref(), target.as_ref(), files_from, progress)
            .await?;
    Ok(if plan.has_errors() { Outcome::Findings } else { Outcome::Success })
}

/// Records, in `rejects/plan.csv`, the messages of rooms that are not in the plan at all
/// (unknown or rejected rooms) among `staged`: no wave will ever read them, so the plan
/// accounts for them.
async fn record_unplanned(
    ws: &Workspace,
    plan: &Plan,
    snap: &crate::model::Snapshot,
    staged: &std::collections::BTreeSet<i64>,
) -> Result<()> {
    use crate::plan::messages::{Classifier, Disposition};
    let classifier =
        Classifier::new(&plan.rooms, &plan.excluded_rooms, snap, plan.options.since.as_deref());
    let planned: std::collections::HashSet<i64> = plan.rooms.iter().map(|r| r.legacy_id).collect();
    for room in staged.iter().filter(|r| !planned.contains(r)) {
        let mut rows = Vec::new();
        ws.for_each_chat(*room, |c| rows.push(c)).await?;
        let rejects: Vec<_> = rows
            .iter()
            .filter_map(|c| match classifier.classify(c.channel_id, c.user_id, c.chat_date) {
                Disposition::Rejected(reason) => Some((c, reason)),
                _ => None,
            })
            .collect();
        ws.record_rejects("plan", &rejects).await?;
    }
    ws.export_rejects("plan").await?;
    Ok(())
}

/// Runs verify's access comparison on the plan itself: a right the plan would grant that
/// the legacy side did not is a blocking finding; losses are summed up by their rule.
fn add_access_findings(plan: &mut Plan, snap: &crate::model::Snapshot) {
    use crate::plan::Finding;
    let report = crate::verify::planned::check(plan, snap);
    let mut found = Vec::new();
    for g in &report.gained {
        found.push(Finding {
            severity: Severity::Error,
            code: "ACCESS_WIDENED".into(),
            subject: g.room_path.clone(),
            guid: Some(g.room.clone()),
            message: format!(
                "{} would gain `{}` on this room, which the legacy rules did not grant ({})",
                g.user,
                g.right.as_str(),
                g.detail
            ),
        });
    }
    let mut by_rule: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for l in &report.lost {
        match &l.rule {
            Some(rule) if !l.blocking => *by_rule.entry(rule.clone()).or_default() += 1,
            _ => found.push(Finding {
                severity: Severity::Warning,
                code: "ACCESS_LOST_UNEXPLAINED".into(),
                subject: l.room_path.clone(),
                guid: Some(l.room.clone()),
                message: format!(
                    "{} would lose `{}` on this room and no mapping rule explains it ({})",
                    l.user,
                    l.right.as_str(),
                    l.detail
                ),
            }),
        }
    }
    for (rule, n) in by_rule {
        found.push(Finding {
            severity: Severity::Info,
            code: "ACCESS_LOST".into(),
            subject: "/".into(),
            guid: None,
            message: format!("{n} (user, room, right) grant(s) are lost by rule {rule}; the verification report lists each"),
        });
    }
    plan.add_findings(found);
}

/// The plan stage: builds, stores and reports the plan. `mappings` is the `--mappings`
/// argument: a directory, `NONE`, or `None` for what the last plan read
/// ([`super::mappings_dir`]).
pub async fn stage(ws: &Workspace, mappings: Option<&Path>, progress: Progress) -> Result<Plan> {
    stage_with_target(ws, mappings, None, None, progress).await
}

/// Reads the target's nodes and the ids an earlier load of ours created there.
async fn target_nodes(
    url: &crate::db::DbUrl,
    mine: Option<crate::load::ledger::Mine>,
) -> Result<(Vec<crate::plan::collide::Existing>, std::collections::HashSet<i64>)> {
    let db = crate::db::TargetDb::open(url, crate::db::OpenMode::Existing, 1).await?;
    let nodes = crate::verify::target::existing_nodes(&db).await?;
    // No ledger: nothing of ours is there yet.
    let ours = match &mine {
        Some(m) => crate::load::ledger::id_map(&db, m).await.unwrap_or_default(),
        None => Default::default(),
    };
    db.close().await;
    Ok((nodes, ours.categories.values().chain(ours.rooms.values()).copied().collect()))
}

/// The plan stage, checking names against an existing target when one is given, and the
/// linked files against a copy of the legacy repository (`files_from`).
pub async fn stage_with_target(
    ws: &Workspace,
    mappings: Option<&Path>,
    target: Option<&crate::db::DbUrl>,
    files_from: Option<&Path>,
    progress: Progress,
) -> Result<Plan> {
    let chosen = super::mappings_dir::choose(ws, mappings, progress).await?;
    let mappings = Mappings::load(chosen.dir.as_deref())?;
    let t = crate::timings::phase("plan: snapshot");
    let snap = ws.load_snapshot().await?;
    drop(t);
    crate::mapping::validate(&mappings, &snap)?;
    // The file-link scan runs on its own thread while the plan is built.
    let links = crate::files::inventory::start(ws, &mappings.options.files, &snap, files_from)?;
    let since = mappings.options.since.as_deref().and_then(date_to_ticks);
    let t = crate::timings::phase("plan: author counts");
    let counts = ws.author_counts(since).await?;
    drop(t);
    let t = crate::timings::phase("plan: build");
    let mut plan = crate::plan::build(&snap, &mappings, &counts);
    // The counts have served (12 MB at the largest pool); the unplanned rooms need only
    // which rooms are staged.
    let staged: std::collections::BTreeSet<i64> = counts.iter().map(|c| c.channel_id).collect();
    drop(counts);
    plan.messages.rejected_at_extract = ws.extract_rejects().await?;
    drop(t);
    let t = crate::timings::phase("plan: access findings");
    add_access_findings(&mut plan, &snap);
    drop(t);
    if let Some(url) = target {
        let (nodes, ours) =
            target_nodes(url, crate::load::ledger::Mine::of(ws, &snap).await.ok()).await?;
        crate::plan::collide::apply(&mut plan, &mappings, &nodes, &ours);
    }
    let t = crate::timings::phase("plan: file links");
    let found = crate::files::inventory::finish(ws, &plan, &snap, links, files_from).await?;
    plan.add_findings(found);
    drop(t);
    let t = crate::timings::phase("plan: scripts");
    // Written first: the plan and its reports record their sizes.
    let scripts = crate::export::write_scripts(&ws.scripts_dir(), &plan)?;
    plan.scripts = scripts
        .iter()
        .map(|p| crate::plan::ScriptFile {
            file: p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            bytes: std::fs::metadata(p).map_or(0, |m| m.len()),
        })
        .collect();
    drop(t);
    let t = crate::timings::phase("plan: save + unplanned");
    ws.save_plan(&plan).await?;
    super::mappings_dir::remember(ws, &chosen).await?;
    record_unplanned(ws, &plan, &snap, &staged).await?;
    drop(t);
    let t = crate::timings::phase("plan: reports");
    let files = crate::report::plan::write_all(&ws.reports_dir(), &plan)?;
    let runbooks = super::runbooks::write(ws, &plan, &snap, None).await?;
    drop(t);
    let n = |s| plan.findings.iter().filter(|f| f.severity == s).count();
    progress.note(&format!(
        "plan: {} categories, {} rooms ({} not migrated), {} messages to load of {} read; findings: {} error, {} warning, {} info",
        plan.categories.len(),
        plan.rooms.len(),
        plan.excluded_rooms.len(),
        plan.messages.load,
        plan.messages.read,
        n(Severity::Error),
        n(Severity::Warning),
        n(Severity::Info)
    ));
    let errors = plan.findings.iter().filter(|f| f.severity == Severity::Error);
    let findings_csv = ws.reports_dir().join("findings.csv");
    progress.notes(
        errors.map(|f| format!("  error {}: {}: {}", f.code, f.subject, f.message)),
        &findings_csv.display().to_string(),
    );
    let bytes = plan.script_bytes();
    progress.note(&format!(
        "plan: reports in {} ({runbooks} cutover runbook(s): runbook-<wave>.html); {} PowerShell script(s), {:.1} MB in all, in {}",
        files[0].parent().unwrap_or(ws.dir()).display(),
        scripts.len(),
        bytes as f64 / 1e6,
        ws.scripts_dir().display()
    ));
    Ok(plan)
}
