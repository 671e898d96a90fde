//! PowerShell for one wave: `configure` creates the wave's add-ins, categories (only those
//! its rooms need), scopes, creators, rooms and role lists with Microsoft's
//! `New-`/`Set-CsPersistentChat*` cmdlets; `unconfigure` removes them again, rooms first
//! (a category can only be removed once empty). Scripts are reproducible byte for byte (no
//! date), rerunnable (existing objects are not created twice), and every name is a
//! single-quoted literal, so quotes, `$`, backticks and `;` in names stay inert data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::Addin;
use crate::plan::{Plan, PlanCategory, PlanRoom};

mod lists;
use lists::Lists;

/// A PowerShell single-quoted literal. Inside one, only a quote character ends the string,
/// and PowerShell counts the typographic quotes ‘ ’ ‚ ‛ as quotes too: each is doubled.
/// Control characters (line breaks included) become spaces, so a name cannot end a line or
/// a comment. Bidi controls keep their value but not their effect on the page: the literal
/// becomes `('a' + [char]0x202E + 'b')`, so an editor cannot display the script in an order
/// that differs from how PowerShell reads it ("Trojan Source").
pub fn quote(s: &str) -> String {
    let mut out = String::from("'");
    let mut split = false;
    for c in s.chars() {
        match c {
            '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => {
                out.push(c);
                out.push(c);
            }
            c if is_bidi(c) => {
                split = true;
                let _ = write!(out, "' + [char]0x{:04X} + '", c as u32);
            }
            c if breaks_line(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('\'');
    if split {
        format!("({out})")
    } else {
        out
    }
}

/// The characters the plan replaces in names (so a planned name passes unchanged).
fn breaks_line(c: char) -> bool {
    crate::plan::build::is_name_control(c)
}

/// Characters that reorder the display of the text around them.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Text safe inside a `#` comment: one line, bidi controls shown as `[U+202E]`.
pub(crate) fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_bidi(c) {
            let _ = write!(out, "[U+{:04X}]", c as u32);
        } else {
            out.push(if breaks_line(c) { ' ' } else { c });
        }
    }
    out
}

/// What one wave needs in one pool, in plan order.
struct Wave<'a> {
    name: &'a str,
    /// The pool's plan name and its PowerShell variable (`$PoolFqdn`, or `$PoolFqdn_<pool>`
    /// when the plan has several pools).
    pool: &'a str,
    var: String,
    /// `<wave>`, or `<wave>@<pool>` when the plan has several pools (`plan::scope::label`).
    label: String,
    rooms: Vec<&'a PlanRoom>,
    categories: Vec<&'a PlanCategory>,
    addins: Vec<&'a Addin>,
}

impl<'a> Wave<'a> {
    fn new(plan: &'a Plan, name: &'a str, pool: &'a str) -> Self {
        let rooms: Vec<&PlanRoom> = plan.rooms_of(Some(name), pool).collect();
        let keys: BTreeSet<&str> = rooms.iter().map(|r| r.category.as_str()).collect();
        let categories: Vec<&PlanCategory> =
            plan.categories.iter().filter(|c| keys.contains(c.key.as_str())).collect();
        let addins: BTreeMap<(&str, &str), &Addin> = rooms
            .iter()
            .filter_map(|r| addin(plan, r.addin.as_deref()?))
            .map(|a| ((a.name.as_str(), a.id.as_str()), a))
            .collect();
        let several = plan.pools().len() > 1;
        Wave {
            name,
            pool,
            var: pool_variable(pool, several),
            label: crate::plan::scope::label(Some(name), pool, several),
            rooms,
            categories,
            addins: addins.into_values().collect(),
        }
    }
}

/// The variable (and script parameter) holding a pool's FQDN: `$PoolFqdn` when the plan has
/// one pool, else named after the pool (`pc-eng` → `$PoolFqdn_pc_eng`; characters other than
/// ASCII letters and digits become one `_`), so the command line says which pool is meant.
pub fn pool_variable(pool: &str, several: bool) -> String {
    if !several {
        return "$PoolFqdn".to_owned();
    }
    let mut ident = String::new();
    for c in pool.chars() {
        if c.is_ascii_alphanumeric() {
            ident.push(c);
        } else if !ident.ends_with('_') {
            ident.push('_');
        }
    }
    let ident = ident.trim_matches('_');
    if ident.is_empty() {
        "$PoolFqdn_pool".to_owned()
    } else {
        format!("$PoolFqdn_{ident}")
    }
}

fn addin<'a>(plan: &'a Plan, id: &str) -> Option<&'a Addin> {
    plan.addins.iter().find(|a| a.id.eq_ignore_ascii_case(id))
}

/// The script that creates the configuration of the wave's rooms in one pool.
pub fn configure(plan: &Plan, wave: &str, pool: &str) -> String {
    let w = Wave::new(plan, wave, pool);
    let mut lists = Lists::new(&plan.principals);
    let var = &w.var;
    let mut body = String::from("\n# Add-ins\n");
    for a in &w.addins {
        let _ = write!(
            body,
            "\n# Add-in {} (legacy siopId {})\n$id = {var} + {}\nif (-not (Test-PcObject Addin $id)) {{\n    New-CsPersistentChatAddin -Name {} -Url {} -PersistentChatPoolFqdn {var} | Out-Null\n}}\n",
            comment(&a.name),
            comment(&a.id),
            quote(&format!("\\{}", a.name)),
            quote(&a.name),
            quote(&a.url)
        );
    }
    body.push_str("\n# Categories: created once, then scope, creators and settings\n");
    for c in &w.categories {
        category(&mut body, &w, &mut lists, c);
    }
    body.push_str("\n# Rooms: created once (New- cannot set roles), then their role lists\n");
    for r in &w.rooms {
        room(&mut body, &w, &mut lists, plan, r);
    }
    let mut s = header(&w, "configure", "Creates");
    s.push_str(&lists.declarations());
    s.push_str(&body);
    if !lists.without_dn.is_empty() {
        let _ = writeln!(
            s,
            "\nWrite-Warning ('gcmigrate: {} left out of the lists for want of an AD distinguished name (see the comments at $List…)')",
            count(lists.without_dn.len(), "group, OU or domain was", "groups, OUs or domains were")
        );
    }
    let _ = writeln!(
        s,
        "\nWrite-Host ('gcmigrate: wave ' + {} + ' configured in pool ' + {var})",
        quote(w.name)
    );
    s
}

fn category(s: &mut String, w: &Wave<'_>, lists: &mut Lists<'_>, c: &PlanCategory) {
    let var = &w.var;
    let split = c.split_reason.as_deref().map(|r| format!(" (split: {r})")).unwrap_or_default();
    let _ = writeln!(s, "\n# Category from legacy {}{}", comment(&c.legacy_path), comment(&split));
    let _ = writeln!(s, "$id = {var} + {}", quote(&format!("\\{}", c.name)));
    let desc =
        if c.desc.is_empty() { String::new() } else { format!(" -Description {}", quote(&c.desc)) };
    let _ = writeln!(
        s,
        "if (-not (Test-PcObject Category $id)) {{\n    New-CsPersistentChatCategory -Name {} -PersistentChatPoolFqdn {var}{desc} | Out-Null\n}}",
        quote(&c.name)
    );
    s.push_str("$p = @{\n    Identity       = $id\n");
    // Microsoft's text for -Invitations is inverted; $true means invitations are on.
    let _ = writeln!(s, "    Invitations    = {}", ps_bool(c.invite));
    let _ = writeln!(s, "    FileUpload     = {}", ps_bool(c.file_post));
    let _ = writeln!(s, "    ChatHistory    = {}", ps_bool(c.logged));
    lists.splat(s, "AllowedMembers", &c.allowed);
    lists.splat(s, "DeniedMembers", &c.denied);
    lists.splat(s, "Creators", &c.creators);
    s.push_str("}\nSet-CsPersistentChatCategory @p\n");
}

fn room(s: &mut String, w: &Wave<'_>, lists: &mut Lists<'_>, plan: &Plan, r: &PlanRoom) {
    let var = &w.var;
    let cat = plan.category(&r.category).map_or(r.category.as_str(), |c| c.name.as_str());
    let _ = writeln!(
        s,
        "\n# Room from legacy {} ({} messages in the plan)",
        comment(&r.legacy_path),
        r.message_count
    );
    let _ = writeln!(s, "$id = {var} + {}", quote(&format!("\\{}", r.target_name)));
    s.push_str("if (-not (Test-PcObject Room $id)) {\n    $p = @{\n");
    let _ = writeln!(s, "        Name                   = {}", quote(&r.target_name));
    let _ = writeln!(s, "        Category               = {}", quote(cat));
    let _ = writeln!(s, "        PersistentChatPoolFqdn = {var}");
    let _ = writeln!(
        s,
        "        Type                   = '{}'",
        if r.behavior == 5 { "Auditorium" } else { "Normal" }
    );
    let privacy = match r.visibility {
        2 => "Secret",
        6 => "Open",
        _ => "Closed",
    };
    let _ = writeln!(s, "        Privacy                = '{privacy}'");
    // Rooms can only inherit invitations or turn them off (ChatRoomInvitations).
    let _ = writeln!(
        s,
        "        Invitations            = '{}'",
        if r.invite == Some(false) { "False" } else { "Inherit" }
    );
    if !r.desc.is_empty() {
        let _ = writeln!(s, "        Description            = {}", quote(&r.desc));
    }
    match r.addin.as_deref().map(|id| (id, addin(plan, id))) {
        Some((_, Some(a))) => {
            let _ = writeln!(s, "        Addin                  = {}", quote(&a.name));
        }
        Some((id, None)) => {
            let _ = writeln!(
                s,
                "        # add-in {} is not in the plan: associate it by hand",
                comment(id)
            );
        }
        None => {}
    }
    if r.disabled {
        s.push_str("        Disabled               = $true\n");
    }
    s.push_str("    }\n    New-CsPersistentChatRoom @p | Out-Null\n}\n");
    s.push_str("$p = @{\n    Identity       = $id\n");
    lists.splat(s, "Members", &r.members);
    lists.splat(s, "Managers", &r.managers);
    if r.behavior == 5 {
        lists.splat(s, "Presenters", &r.presenters);
    } else if !r.presenters.is_empty() {
        s.push_str("    # Presenters left out: a Normal room cannot have Presenters\n");
    }
    s.push_str("}\nSet-CsPersistentChatRoom @p\n");
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn ps_bool(b: bool) -> &'static str {
    if b {
        "$true"
    } else {
        "$false"
    }
}

/// The script that removes what [`configure`] created for the wave in the pool.
pub fn unconfigure(plan: &Plan, wave: &str, pool: &str) -> String {
    let w = Wave::new(plan, wave, pool);
    let mut s = header(&w, "unconfigure", "Removes");
    s.push_str("\n# Rooms first: a category can only be removed once it is empty\n");
    for r in w.rooms.iter().rev() {
        let _ = writeln!(s, "\n# Room from legacy {}", comment(&r.legacy_path));
        let _ = writeln!(s, "$id = {} + {}", w.var, quote(&format!("\\{}", r.target_name)));
        s.push_str("if (Test-PcObject Room $id) {\n    Remove-CsPersistentChatRoom -Identity $id -Confirm:$false\n}\n");
    }
    s.push_str("\n# Categories, unless rooms of another wave still use them\n");
    for c in w.categories.iter().rev() {
        let _ = writeln!(s, "\n# Category from legacy {}", comment(&c.legacy_path));
        let _ = writeln!(s, "$id = {} + {}", w.var, quote(&format!("\\{}", c.name)));
        s.push_str(
            "if (Test-PcObject Category $id) {\n    if (@(Get-CsPersistentChatRoom -Category $id).Count -eq 0) {\n        \
             Remove-CsPersistentChatCategory -Identity $id -Confirm:$false\n    } else {\n        \
             Write-Warning ('Category kept, other rooms still use it: ' + $id)\n    }\n}\n",
        );
    }
    s.push_str("\n# Add-ins, unless other rooms still use them\n");
    for a in w.addins.iter().rev() {
        let var = &w.var;
        let _ = writeln!(s, "\n# Add-in {}", comment(&a.name));
        let _ = writeln!(s, "$id = {var} + {}", quote(&format!("\\{}", a.name)));
        let _ = write!(
            s,
            "if (Test-PcObject Addin $id) {{\n    if (@(Get-CsPersistentChatRoom -PersistentChatPoolFqdn {var} -Addin {}).Count -eq 0) {{\n        \
             Remove-CsPersistentChatAddin -Identity $id -Confirm:$false\n    }} else {{\n        \
             Write-Warning ('Add-in kept, other rooms still use it: ' + $id)\n    }}\n}}\n",
            quote(&a.name)
        );
    }
    let _ = writeln!(
        s,
        "\nWrite-Host ('gcmigrate: wave ' + {} + ' removed from pool ' + {})",
        quote(w.name),
        w.var
    );
    s
}

/// Header comment, parameters, strict mode and the existence helper shared by both scripts.
fn header(w: &Wave<'_>, kind: &str, verb: &str) -> String {
    let stem = super::file_stem(&w.label);
    let mut s = format!(
        "# {kind}-{stem}.ps1: generated by gcmigrate from the migration plan. Do not edit; regenerate it.\n\
         # Wave: {}\n\
         # Pool: {} (one script per wave and pool)\n\
         # {verb} {}, {} and {} with their scopes and role lists.\n",
        comment(w.name),
        comment(w.pool),
        count(w.addins.len(), "add-in", "add-ins"),
        count(w.categories.len(), "category", "categories"),
        count(w.rooms.len(), "room", "rooms"),
    );
    if kind == "unconfigure" {
        s.push_str("# Removing a room deletes its messages. Shared categories and add-ins are kept while in use.\n");
    } else {
        let _ = writeln!(s, "# Its inverse is unconfigure-{stem}.ps1. History is not part of it: gcmigrate load moves messages.");
    }
    s.push_str("#\n# Run in the Lync Server Management Shell as a member of CsPersistentChatAdministrator:\n");
    let param = &w.var[1..];
    let _ = writeln!(s, "#   .\\{kind}-{stem}.ps1 -{param} <pool FQDN>");
    let _ = writeln!(s, "#   -{param} is the pool the plan calls {}", comment(&quote(w.pool)));
    s.push_str("#\n# Notes\n");
    if kind == "unconfigure" {
        s.push_str("# - Safe to rerun: objects that are already gone are skipped.\n");
    } else {
        s.push_str(
            "# - Safe to rerun: add-ins, categories and rooms that already exist are not created again.\n\
             # - Users are listed by SIP URI, groups, OUs and domains by their AD distinguished name\n\
             #   (prinADPath in the legacy database); one without a DN is left out with a comment and\n\
             #   a plan finding (PRINCIPAL_WITHOUT_DN).\n\
             # - Each distinct list of principals is declared once ($List1, ...) and used by name.\n\
             # - Disabled principals (federated users, SIP-disabled accounts) are left out of the lists.\n",
        );
    }
    s.push_str(
        "# - Every name is a single-quoted literal (nothing in it is expanded); line breaks and other\n\
         #   control characters in names were replaced by spaces, bidi controls are written as [char].\n\
         # - The generator writes this file as UTF-8 with a byte-order mark for Windows PowerShell.\n\n\
         [CmdletBinding()]\nparam(\n",
    );
    let help = quote(&format!("FQDN of the Persistent Chat pool for plan pool '{}'", w.pool));
    let _ = write!(
        s,
        "    # FQDN of the Persistent Chat pool the plan calls {}\n    \
         [Parameter(Mandatory, HelpMessage = {help})]\n    [string]{}",
        comment(&quote(w.pool)),
        w.var
    );
    s.push_str(
        "\n)\n\nSet-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n\n\
         # True when the object exists (the Get- cmdlets fail on an unknown identity).\n\
         function Test-PcObject([string]$Kind, [string]$Identity) {\n    try {\n        $found = @(switch ($Kind) {\n            \
         'Addin' { Get-CsPersistentChatAddin -Identity $Identity -ErrorAction Stop }\n            \
         'Category' { Get-CsPersistentChatCategory -Identity $Identity -ErrorAction Stop }\n            \
         'Room' { Get-CsPersistentChatRoom -Identity $Identity -ErrorAction Stop }\n        })\n    \
         } catch {\n        return $false\n    }\n    return $found.Count -gt 0\n}\n",
    );
    s
}

#[cfg(test)]
mod tests;
