//! Synthetic Lync 2010 Group Chat databases, for rehearsals and benchmarks.
//!
//! [`generate`] fills a database that already holds the empty legacy 2010 schema
//! (`fixtures/schema/legacy2010.*.sql`) with a plausible deployment: principals with their
//! full (transitive) affiliation lists, a nested category tree with scopes, member lists,
//! managers and auditorium rooms, and a skewed chat history. Everything is drawn from a
//! seeded SplitMix64 generator, one stream per phase, so the same options write the same
//! rows in the same order, on SQLite and PostgreSQL alike. The history is generated while
//! it is written, so memory depends on the numbers of users and rooms, never of messages.

use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use sqlx::AnyConnection;

use crate::db::{Db, Dialect};
use crate::progress::{Bar, Progress};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Users (type 5; about 1% are federated, type 7).
    pub users: u64,
    /// AD security groups (type 9).
    pub groups: u64,
    /// Chat rooms (categories come with them: one per 8 rooms, at least 3).
    pub rooms: u64,
    /// Messages over all rooms, exactly.
    pub messages: u64,
    /// Seed: the same options give the same database.
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthSummary {
    /// Users, federated ones included.
    pub users: u64,
    /// AD security groups.
    pub groups: u64,
    /// Categories, not counting the root.
    pub categories: u64,
    /// Chat rooms.
    pub rooms: u64,
    /// Messages.
    pub messages: u64,
}

const T0: u64 = 634_000_000_000_000_000; // .NET ticks: mid-January 2010
const DAY: u64 = 864_000_000_000;
const ROWS_PER_STMT: usize = 500;
const ROWS_PER_TX: u64 = 50_000;
const SYSTEM: u64 = 1;
const DOMAIN: u64 = 2;
const DC: &str = "DC=contoso,DC=example";
const SCOPE: u64 = 0; // an ACL entry of a node's scope rather than a role
const MEMBER: u64 = 11;
const MANAGER: u64 = 12;
const VOICED: u64 = 13;

/// Lookup tables, the version row and the system user. Role ids are deliberately not
/// 1, 2, 3: readers must match `rtypeDesc`.
const FIXED_SQL: &[&str] = &[
    "INSERT INTO tblPrincipalType (ptypeID, ptypeDesc, ptypeIsSystemUser, ptypeIsUser, \
     ptypeIsFederated) VALUES (1, 'Any', 0, 0, 0), (2, 'AnyUser', 0, 1, 0), \
     (3, 'AnyGroup', 0, 0, 0), (4, 'SystemUser', 1, 0, 0), (5, 'User', 0, 1, 0), \
     (6, 'ExternalUser', 0, 1, 0), \
     (7, 'FederatedUser', 0, 1, 1), (8, 'DC', 0, 0, 0), (9, 'Group', 0, 0, 0), \
     (10, 'Folder', 0, 0, 0), (11, 'Federated Group', 0, 0, 1)",
    "INSERT INTO tblEnumAttribute (attributeID, attributeName) \
     VALUES (1, 'Visibility'), (2, 'Behavior')",
    "INSERT INTO tblEnumValue (valueID, attributeID, attributeValue) VALUES (2, 1, 'private'), \
     (3, 1, 'scope'), (4, 2, 'normal'), (5, 2, 'auditorium')",
    "INSERT INTO tblRoleType (rtypeID, rtypeDesc, rtypeAllowedPermSet, honorsOverride, \
     honorsScope) VALUES (11, 'Member', 3968, 1, 1), (12, 'Manager', 12276, 0, 0), \
     (13, 'Voiced', 8064, 0, 1)",
    "INSERT INTO tblVersion (versionId, versionedOn, description, poolId) \
     VALUES (1, '2010-11-15 08:00:00', 'Lync Server 2010 Group Chat', '{guid}')",
    "INSERT INTO tblPrincipal (prinID, prinGuid, prinUri, prinName, prinDisabled, prinTypeID, \
     prinAllowedPermSet, prinUseInheritedPerms, prinAddedBy, prinAddedOn, prinUpdatedBy, \
     prinUpdatedOn, prinVerifiedOn) VALUES (1, '{guid}', 'sip:system@groupchat.local', \
     'Group Chat System', 0, 4, 7, 0, 1, 633948000000000000, 1, 633948000000000000, \
     '2010-11-15 08:00:00')",
];

// `|`-separated lists, so that they stay compact on the page.
const OUS: &str = "Corp|Sales|Engineering|Marketing|Finance|Human Resources|IT|Operations|Legal|\
    Support|Research|Facilities";
const CATEGORIES: &str = "Sales|Engineering|Marketing|Finance|Human Resources|Operations|Legal|\
    Support|Research|Product|IT|EMEA|North America|APAC|LATAM|Platform|Security|Partners|Projects|\
    Communications|Procurement|Data";
const ROOMS: &str = "Pipeline|Standup|Announcements|Help Desk|Releases|Incidents|Design Review|\
    Social|Town Hall|Forecast|Key Accounts|Builds|On-call|Hiring|Budget|Roadmap|Café ☕|Q&A|\
    Ops Handoff|Planning";
const FIRST: &str = "Anna|Pierre|John|Mei|Carlos|Aiko|Sofia|Klaus|Priya|José|Zoë|Søren|Łukasz|\
    Chloé|Omar|Helen|Dmitri|Fatima|Li|Noah";
const LAST: &str = "Lindqvist|Dubois|Smith|Chen|García|Tanaka|Rossi|Müller|Natarajan|Núñez|\
    O'Brien|Kowalski|Haddad|Nguyen|Ivanova|Brown|Wang";
const WORDS: &str = "the|a|we|is|on|for|to|and|meeting|release|build|customer|deal|please|update|\
    review|today|tomorrow|thanks|ok|agreed|pipeline|ticket|server|deploy|budget|forecast|quarter|\
    draft|slides|call|team|project|status|issue|fixed|broken|green|done|next|week|Monday|Friday|\
    approve|contract|legal|invoice|report|dashboard|latency|outage|v4.2|10:00|UTC|3.5M|EUR|#4521|\
    can|you|check|it's|I'll";
const UNICODE_WORDS: &str = "café|naïve|résumé|Grüße|Zürich|façade|jalapeño|Kündigungsfrist|\
    crème brûlée|Łódź|Ελλάδα|Привет|東京|会议|مرحبا|שלום|🎉|👍|🚀|😊|🍕|✅|👍🏽|🇫🇷|…|—|«ok»";

/// Entry `i` (modulo the length) of a `|`-separated list.
fn item(list: &'static str, i: u64) -> &'static str {
    let n = list.matches('|').count() as u64 + 1;
    list.split('|').nth((i % n) as usize).unwrap_or_default()
}

/// Entry `i` of a list, numbered once the list is used up, so that names stay unique.
fn numbered(list: &'static str, i: u64) -> String {
    let n = list.matches('|').count() as u64 + 1;
    let base = item(list, i);
    if i < n {
        base.to_string()
    } else {
        format!("{base} {}", i / n + 1)
    }
}

/// SplitMix64: tiny, fast, and its stream never changes (unlike the `rand` crate's).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// An independent stream per phase, so that changing one phase leaves the others alone.
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }

    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// In `0..n`, skewed towards 0 (the scaled product of two uniforms).
    fn skewed(&mut self, n: u64) -> u64 {
        let (a, b) = (u128::from(self.below(n)), u128::from(self.below(n)));
        (a * b / u128::from(n.max(1))) as u64
    }

    /// `None` (inherit) mostly; an explicit 0 or 1 with probability `per_mille` / 1000.
    fn opt_bit(&mut self, per_mille: u64) -> Option<i32> {
        self.chance(per_mille).then(|| self.below(2) as i32)
    }

    /// A version-4 GUID, lowercase 8-4-4-4-12.
    fn guid(&mut self) -> String {
        let a = (self.next() & !0xF000) | 0x4000;
        let b = (self.next() & !(3 << 62)) | (2 << 62);
        let (a1, a2, a3) = (a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF);
        format!("{a1:08x}-{a2:04x}-{a3:04x}-{:04x}-{:012x}", b >> 48, b & 0xFFFF_FFFF_FFFF)
    }
}

const PRINCIPAL_COLS: &str = "prinID, prinGuid, prinUri, prinName, prinCompanyName, prinEmail, \
    prinADPath, prinADUserPrincipalName, prinDisabled, prinTypeID, prinAllowedPermSet, \
    prinUseInheritedPerms, prinAddedBy, prinAddedOn, prinUpdatedBy, prinUpdatedOn, prinVerifiedOn";
const NODE_COLS: &str = "nodeID, nodeGuid, parentID, nodeType, nodeName, nodeDesc, topic, \
    filestoreURI, inheritance, scopeChange, overrideMember, invite, logged, filePost, disabled, \
    restrictChildCreate, behavior, visibility, scopeDefinerId, roleDefinerId, siopID, nodeAddedBy, \
    nodeAddedOn, nodeUpdatedBy, nodeUpdatedOn";
const CHAT_COLS: &str = "channelId, chatId, chatDate, userId, isAlert, content";
const ROLE_COLS: &str = "prinRoleNodeID, prinRolePrinID, prinRoleTypeID, prinRoleUpdatedBy, \
    honorsOverride, honorsScope";

/// A string as an SQL literal (the generator never produces NUL or backslashes).
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An optional value as SQL: the value, or `NULL`.
fn nul<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or("NULL".to_string(), |v| v.to_string())
}

/// Rows of one table, written as multi-row INSERTs of literal values: one SQL text for both
/// engines (PostgreSQL casts quoted literals into uuid and timestamp columns by itself).
struct Batch {
    table: &'static str,
    head: usize,
    sql: String,
    rows: usize,
}

impl Batch {
    fn new(table: &'static str, cols: &str) -> Batch {
        let sql = format!("INSERT INTO {table} ({cols}) VALUES ");
        Batch { table, head: sql.len(), sql, rows: 0 }
    }

    /// Adds a row (or a few), as parenthesised values; writing to a `String` cannot fail.
    fn add(&mut self, rows: fmt::Arguments<'_>) {
        self.sql.push_str(if self.rows > 0 { ", " } else { "" });
        let _ = self.sql.write_fmt(rows);
        self.rows += 1;
    }

    /// Writes the pending rows if they fill a statement; returns how many it wrote.
    async fn flush_full(&mut self, conn: &mut AnyConnection) -> Result<u64> {
        if self.rows < ROWS_PER_STMT {
            return Ok(0);
        }
        self.flush(conn).await
    }

    /// Writes the pending rows and returns how many there were.
    async fn flush(&mut self, conn: &mut AnyConnection) -> Result<u64> {
        if self.rows == 0 {
            return Ok(0);
        }
        let what = || format!("synth: writing {}", self.table);
        sqlx::raw_sql(&self.sql).execute(&mut *conn).await.with_context(what)?;
        self.sql.truncate(self.head);
        Ok(std::mem::take(&mut self.rows) as u64)
    }
}

/// `tblChat` rows, written through one prepared multi-row INSERT that is reused: for the
/// bulk of the data, binding is cheaper than parsing literals on both engines.
struct ChatBatch {
    dialect: Dialect,
    full_sql: String,
    rows: Vec<(u64, u64, u64, u64, u8, String)>,
}

impl ChatBatch {
    fn new(dialect: Dialect) -> ChatBatch {
        ChatBatch { dialect, full_sql: Self::sql(dialect, ROWS_PER_STMT), rows: Vec::new() }
    }

    /// The INSERT for `rows` rows.
    fn sql(dialect: Dialect, rows: usize) -> String {
        // Anonymous `?` on SQLite: sqlx looks every `$n` up by name, which is quadratic.
        let row = |r: usize| match dialect {
            Dialect::Sqlite => "(?, ?, ?, ?, ?, ?)".to_string(),
            _ => {
                format!("(${}, ${}, ${}, ${}, ${}, ${})", r + 1, r + 2, r + 3, r + 4, r + 5, r + 6)
            }
        };
        let values: Vec<String> = (0..rows).map(|r| row(r * 6)).collect();
        format!("INSERT INTO tblChat ({CHAT_COLS}) VALUES {}", values.join(", "))
    }

    /// Writes the pending rows if they fill a statement; returns how many it wrote.
    async fn flush_full(&mut self, conn: &mut AnyConnection) -> Result<u64> {
        if self.rows.len() < ROWS_PER_STMT {
            return Ok(0);
        }
        self.flush(conn).await
    }

    /// Writes the pending rows and returns how many there were.
    async fn flush(&mut self, conn: &mut AnyConnection) -> Result<u64> {
        let n = self.rows.len();
        if n == 0 {
            return Ok(0);
        }
        let partial;
        let sql = if n == ROWS_PER_STMT {
            &self.full_sql
        } else {
            partial = Self::sql(self.dialect, n);
            &partial
        };
        let mut q = sqlx::query(sql);
        for (room, chat, date, user, alert, text) in &self.rows {
            let ints = [*room, *chat, *date, *user].map(|v| v as i64);
            q = q.bind(ints[0]).bind(ints[1]).bind(ints[2]).bind(ints[3]).bind(i32::from(*alert));
            q = q.bind(text.as_str());
        }
        q.execute(&mut *conn).await.context("synth: writing tblChat")?;
        self.rows.clear();
        Ok(n as u64)
    }
}

/// Principal ids: 1 the system user, 2 the domain, then OUs, groups and users.
#[derive(Debug, Clone)]
struct Ids {
    ous: u64,
    groups: u64,
    users: u64,
}

impl Ids {
    fn new(opts: &SynthOptions) -> Ids {
        Ids { ous: 3 + (opts.groups / 25).min(9), groups: opts.groups, users: opts.users }
    }
    fn group(&self, i: u64) -> u64 {
        3 + self.ous + i
    }
    fn user(&self, i: u64) -> u64 {
        3 + self.ous + self.groups + i
    }
    /// The first user administers the deployment (root manager, creator of the nodes).
    fn admin(&self) -> u64 {
        if self.users > 0 {
            self.user(0)
        } else {
            SYSTEM
        }
    }
    /// A group, big ones more often; the domain when there are no groups.
    fn any_group(&self, rng: &mut Rng) -> u64 {
        if self.groups == 0 {
            DOMAIN
        } else {
            self.group(rng.skewed(self.groups))
        }
    }
    fn any_user(&self, rng: &mut Rng) -> u64 {
        self.user(rng.below(self.users))
    }
    /// A principal for a member list: mostly groups, some users, now and then the domain.
    fn any_member(&self, rng: &mut Rng) -> u64 {
        match rng.below(100) {
            0..=74 if self.groups > 0 => self.any_group(rng),
            0..=94 if self.users > 0 => self.any_user(rng),
            _ => DOMAIN,
        }
    }
}

/// `lo..=hi` distinct principals from `f`, fewer if `f` keeps repeating itself
/// (a duplicate would break the role table's key).
fn distinct(rng: &mut Rng, lo: u64, hi: u64, mut f: impl FnMut(&mut Rng) -> u64) -> Vec<u64> {
    let n = rng.range(lo, hi) as usize;
    let mut out = Vec::new();
    for _ in 0..n * 4 {
        let p = f(rng);
        if !out.contains(&p) {
            out.push(p);
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// The varying part of a `tblPrincipal` row (every type but the system user).
#[derive(Debug, Default)]
struct Prin {
    id: u64,
    ptype: u64,
    uri: String,
    dn: Option<String>,
    name: Option<String>,
    mail: Option<String>,
    disabled: bool,
}

/// Adds `p` to `b`, with a fresh GUID and creation time.
fn add_principal(b: &mut Batch, p: &Prin, rng: &mut Rng) {
    let (id, ptype, guid, uri) = (p.id, p.ptype, rng.guid(), q(&p.uri));
    let added = T0 - 90 * DAY + rng.below(60 * DAY);
    let [name, mail, dn] = [&p.name, &p.mail, &p.dn].map(|v| nul(v.as_deref().map(q)));
    let upn = nul(p.mail.as_deref().filter(|_| ptype == 5).map(q));
    let company = match ptype {
        5 => "'Contoso Ltd.'",
        7 => "'Fabrikam, Inc.'",
        _ => "NULL",
    };
    let (disabled, perms, inherit) =
        (u8::from(p.disabled), u8::from(ptype != 7), u8::from(p.mail.is_some()));
    b.add(format_args!(
        "({id}, '{guid}', {uri}, {name}, {company}, {mail}, {dn}, {upn}, {disabled}, {ptype}, \
         {perms}, {inherit}, 1, {added}, 1, {added}, '2011-06-30 02:00:00')"
    ));
}

/// Writes the domain, OUs, groups and users with their affiliations: self at index -1,
/// then 1..n for the OU, the domain and 1–4 groups. Federated users have only the self row.
async fn write_principals(conn: &mut AnyConnection, ids: &Ids, rng: &mut Rng) -> Result<()> {
    let mut prins = Batch::new("tblPrincipal", PRINCIPAL_COLS);
    let mut affs =
        Batch::new("tblPrincipalAffiliations", "principalID, affiliationID, \"index\", updatedBy");
    // The domain, the OUs and the groups.
    for id in DOMAIN..ids.group(ids.groups) {
        let (ptype, rdn) = match id {
            DOMAIN => (8, String::new()),
            _ if id < ids.group(0) => (10, format!("OU={}", item(OUS, id - 3))),
            _ => (9, format!("CN=GC-{}-{}", item(CATEGORIES, id), id - ids.group(0) + 1)),
        };
        let dn = match ptype {
            8 => DC.to_string(),
            9 => format!("{rdn},OU=Groups,{DC}"),
            _ => format!("{rdn},{DC}"),
        };
        let name = if ptype == 8 { "contoso.example" } else { rdn.trim_start_matches("CN=") };
        let uri = format!("ma-grp://contoso.example/{}", name.replace(' ', "%20"));
        add_principal(&mut prins, &Prin { id, ptype, uri, dn: Some(dn), ..Prin::default() }, rng);
        affs.add(format_args!("({id}, {id}, -1, 1)"));
        if id != DOMAIN {
            affs.add(format_args!("({id}, {DOMAIN}, 1, 1)"));
        }
    }
    for i in 0..ids.users {
        let (id, ou, federated) = (ids.user(i), rng.below(ids.ous), i > 0 && rng.chance(10));
        let mail = format!(
            "user{}@{}",
            i + 1,
            if federated { "fabrikam.example" } else { "contoso.example" }
        );
        let p = Prin {
            id,
            ptype: if federated { 7 } else { 5 },
            uri: format!("sip:{mail}"),
            dn: (!federated).then(|| format!("CN=user{},OU={},{DC}", i + 1, item(OUS, ou))),
            name: Some(format!("{} {}", item(FIRST, rng.next()), item(LAST, rng.next()))),
            mail: Some(mail),
            disabled: i > 0 && rng.chance(20),
        };
        add_principal(&mut prins, &p, rng);
        affs.add(format_args!("({id}, {id}, -1, 1)"));
        if !federated {
            let mut list = vec![3 + ou, DOMAIN];
            if ids.groups > 0 {
                list.extend(distinct(rng, 1, ids.groups.min(4), |r| ids.any_group(r)));
            }
            for (n, a) in list.into_iter().enumerate() {
                affs.add(format_args!("({id}, {a}, {}, 1)", n + 1));
            }
        }
        prins.flush_full(conn).await?;
        affs.flush_full(conn).await?;
    }
    prins.flush(conn).await?;
    affs.flush(conn).await?;
    Ok(())
}

/// Words (a few unicode ones among them) appended to `s` until it holds `target` bytes.
fn fill_words(rng: &mut Rng, s: &mut String, target: usize) {
    static LISTS: OnceLock<[Vec<&str>; 2]> = OnceLock::new();
    let [plain, unicode] =
        LISTS.get_or_init(|| [WORDS, UNICODE_WORDS].map(|l| l.split('|').collect()));
    let mut capital = true;
    while s.trim_end().len() < target {
        let list = if rng.chance(60) { unicode } else { plain };
        let at = s.len();
        s.push_str(list[rng.below(list.len() as u64) as usize]);
        if let Some(c) = s.get_mut(at..at + 1).filter(|_| capital) {
            c.make_ascii_uppercase();
        }
        let (sep, ends) = match rng.below(100) {
            0 if target > 300 => (".\n\n", true),
            0..=6 => (". ", true),
            7 => ("? ", true),
            8..=10 => (", ", false),
            _ => (" ", false),
        };
        s.push_str(sep);
        capital = ends;
    }
    s.truncate(s.trim_end().len());
}

/// An ACL entry: (`SCOPE` or a role type, principal).
type Ace = (u64, u64);

/// A category or room: what its descendants and the writer need, row and ACLs included.
#[derive(Debug, Clone, Default)]
struct NodeSpec {
    id: u64,
    parent: u64,
    depth: u32,
    is_cat: bool,
    scope_def: u64,
    role_def: u64,
    added: u64,
    guid: String,
    /// The `tblNode` values, as SQL.
    row: String,
    acl: Vec<Ace>,
}

/// The ACL entries of a node: scopes on ~60% of the top-level categories (a group or the
/// domain), narrowed to a group on ~20% of the sub-categories; member lists started on some
/// nodes; managers on a few; presenters in auditoriums (behavior 5).
fn node_acl(up: &NodeSpec, is_cat: bool, behavior: u8, ids: &Ids, rng: &mut Rng) -> Vec<Ace> {
    let (top, mut acl) = (up.id == 1, Vec::new());
    if is_cat && top && rng.chance(600) {
        let first = if rng.chance(700) { ids.any_group(rng) } else { DOMAIN };
        acl.push((SCOPE, first));
        if ids.groups > 0 && rng.chance(300) {
            acl.extend(Some((SCOPE, ids.any_group(rng))).filter(|a| a.1 != first));
        }
    } else if is_cat && !top && ids.groups > 0 && rng.chance(200) {
        acl.push((SCOPE, ids.any_group(rng)));
    }
    if rng.chance(if is_cat && top { 500 } else { 250 }) {
        acl.extend(distinct(rng, 1, 3, |r| ids.any_member(r)).into_iter().map(|p| (MEMBER, p)));
    }
    if ids.users > 0 && rng.chance(if is_cat { 150 } else { 100 }) {
        acl.extend(distinct(rng, 1, 2, |r| ids.any_user(r)).into_iter().map(|p| (MANAGER, p)));
    }
    if behavior == 5 && ids.users > 0 {
        let voiced = |r: &mut Rng| if r.chance(200) { ids.any_group(r) } else { ids.any_user(r) };
        acl.extend(distinct(rng, 1, 3, voiced).into_iter().map(|p| (VOICED, p)));
    }
    acl
}

/// Node `id`, the `i`th category or room, under `up`. Definers point at the node itself
/// when it has scope rows / starts a member list, else they are its parent's.
fn make_node(up: &NodeSpec, id: u64, i: u64, is_cat: bool, ids: &Ids, rng: &mut Rng) -> NodeSpec {
    let guid = rng.guid();
    let added = up.added + rng.below(60 * DAY);
    let name = numbered(if is_cat { CATEGORIES } else { ROOMS }, i);
    let mut topic = String::new();
    if !is_cat && rng.chance(300) {
        let target = rng.range(20, 120) as usize;
        fill_words(rng, &mut topic, target);
    }
    let behavior: u8 = if !is_cat && rng.chance(50) { 5 } else { 4 };
    let visibility = match (is_cat, rng.below(10)) {
        (true, 0) | (false, 4 | 5) => Some(2),
        (true, 1) | (false, 0..=3) => Some(3),
        _ => None,
    };
    let acl = node_acl(up, is_cat, behavior, ids, rng);
    let scope_def = if acl.iter().any(|a| a.0 == SCOPE) { id } else { up.scope_def };
    let overrides = acl.iter().any(|a| a.0 == MEMBER);
    let role_def = if overrides { id } else { up.role_def };
    let (pid, guid2, name2) = (up.id, &guid, q(&name));
    let desc = q(&format!("{name} {}", if is_cat { "discussions" } else { "room" }));
    let (topic, cat, ovr, by, visibility) =
        (q(&topic), u8::from(is_cat), u8::from(overrides), ids.admin(), nul(visibility));
    let inherit = u8::from(is_cat && rng.chance(100));
    let narrow = u8::from(is_cat && rng.chance(700));
    let [invite, logged, files] = [50, 50, 50].map(|p| nul(rng.opt_bit(p)));
    let disabled = u8::from(!is_cat && rng.chance(20));
    let restrict = nul(if is_cat { rng.opt_bit(100) } else { None });
    let updated = added + rng.below(200 * DAY);
    let row = format!(
        "({id}, '{guid2}', {pid}, {cat}, {name2}, {desc}, {topic}, NULL, {inherit}, {narrow}, \
         {ovr}, {invite}, {logged}, {files}, {disabled}, {restrict}, {behavior}, {visibility}, \
         {scope_def}, {role_def}, NULL, {by}, {added}, {by}, {updated})"
    );
    let depth = up.depth + 1;
    NodeSpec { id, parent: up.id, depth, is_cat, scope_def, role_def, added, guid, row, acl }
}

/// The whole tree: the root, categories nested at most 4 deep (parents first), then rooms.
fn build_tree(opts: &SynthOptions, ids: &Ids, rng: &mut Rng) -> Vec<NodeSpec> {
    let ncat = (opts.rooms / 8).max(3);
    let top = ncat.min(2 + ncat / 5);
    let mut root_acl = vec![(MEMBER, DOMAIN), (MANAGER, ids.admin())];
    root_acl.truncate(if ids.users > 0 { 2 } else { 1 });
    let (guid, added) = (rng.guid(), T0 - 60 * DAY);
    let row = format!(
        "(1, '{guid}', 1, 1, 'Root', 'Contoso Group Chat', '', \
         'https://gcweb.contoso.example/MGCWebService/MGCWebService.asmx', 0, 1, 1, 1, 1, 1, 0, 0, \
         4, 3, 1, 1, NULL, 1, {added}, 1, {})",
        added + 10 * DAY
    );
    let mut root =
        NodeSpec { is_cat: true, added, guid, row, acl: root_acl, ..NodeSpec::default() };
    (root.id, root.parent, root.scope_def, root.role_def) = (1, 1, 1, 1);
    let mut nodes = vec![root];
    for i in 0..ncat {
        let mut parent = 0;
        if i >= top {
            // Half the time one of the latest categories, so that chains grow deep.
            let back = if rng.chance(500) { rng.skewed(i) } else { rng.below(i) };
            parent = (i - back) as usize;
            if nodes[parent].depth >= 4 {
                parent = nodes[parent].parent as usize - 1;
            }
        }
        let node = make_node(&nodes[parent], nodes.len() as u64 + 1, i, true, ids, rng);
        nodes.push(node);
    }
    for j in 0..opts.rooms {
        let parent = 1 + rng.below(ncat) as usize;
        let node = make_node(&nodes[parent], nodes.len() as u64 + 1, j, false, ids, rng);
        nodes.push(node);
    }
    nodes
}

/// Writes the nodes and their ACL rows (honors* copied from the role type).
async fn write_tree(conn: &mut AnyConnection, nodes: &[NodeSpec], by: u64) -> Result<()> {
    let mut rows = Batch::new("tblNode", NODE_COLS);
    let mut scopes = Batch::new("tblScopePrincipal", "scopeNodeID, scopePrinID, scopeUpdatedBy");
    let mut roles = Batch::new("tblPrincipalRole", ROLE_COLS);
    for n in nodes {
        rows.add(format_args!("{}", n.row));
        for &(kind, p) in &n.acl {
            let id = n.id;
            match kind {
                SCOPE => scopes.add(format_args!("({id}, {p}, {by})")),
                MEMBER => roles.add(format_args!("({id}, {p}, {kind}, {by}, 1, 1)")),
                MANAGER => roles.add(format_args!("({id}, {p}, {kind}, {by}, 0, 0)")),
                _ => roles.add(format_args!("({id}, {p}, {kind}, {by}, 0, 1)")),
            }
        }
        for b in [&mut rows, &mut scopes, &mut roles] {
            b.flush_full(conn).await?;
        }
    }
    for b in [&mut rows, &mut scopes, &mut roles] {
        b.flush(conn).await?;
    }
    Ok(())
}

/// Splits `total` exactly by integer weights (largest remainder, ties to the lower index).
fn apportion(total: u64, weights: &[u128]) -> Vec<u64> {
    let sum: u128 = weights.iter().sum::<u128>().max(1);
    let t = u128::from(total);
    let mut counts: Vec<u64> = weights.iter().map(|&w| (t * w / sum) as u64).collect();
    let left = total - counts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(t * weights[i] % sum), i));
    for &i in order.iter().take(left as usize) {
        counts[i] += 1;
    }
    counts
}

/// Messages per room, Zipf-like: weight 1/rank over shuffled ranks, jittered; ~5% of the
/// rooms are never used. Integer arithmetic only, and the counts sum to `total` exactly.
fn room_counts(total: u64, rooms: usize, rng: &mut Rng) -> Vec<u64> {
    let mut rank: Vec<u64> = (0..rooms as u64).collect();
    for i in (1..rooms).rev() {
        rank.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut weight = |r: u64| {
        if r > 0 && rng.chance(50) {
            0
        } else {
            u128::from(rng.range(50, 150)) * 1_000_000_000_000 / u128::from(r + 1)
        }
    };
    let weights: Vec<u128> = rank.iter().map(|&r| weight(r)).collect();
    apportion(total, &weights)
}

/// A message body: mostly short, a few KB now and then, with file links, HTML links,
/// stories and unicode; never a NUL.
fn content(rng: &mut Rng, room_guid: &str) -> String {
    let target = match rng.below(1000) {
        0..=549 => rng.range(10, 60),
        550..=899 => rng.range(60, 200),
        900..=994 => rng.range(200, 1000),
        _ => rng.range(1000, 8000),
    } as usize;
    let mut s = String::with_capacity(target + 64);
    if target >= 1000 {
        s.push_str("[STORY]");
    }
    // 1% file links (which a mapping rule may rewrite), 0.5% HTML links.
    let link = rng.below(1000);
    if link < 15 {
        let word = item(CATEGORIES, rng.next()).replace(' ', "-");
        let text = if link < 10 {
            let (file, ext) = (rng.guid(), item("docx|xlsx|pdf|png", rng.next()));
            format!(
                "ma-filelink://fs.contoso.example/GroupChatFiles/{room_guid}/{file}/{word}.{ext} "
            )
        } else {
            format!("<a href=\"https://intranet.contoso.example/wiki/{word}\">{word}</a> ")
        };
        s.push_str(&text);
    }
    fill_words(rng, &mut s, target);
    s
}

/// Streams the history room by room: chatId 1.. per room, increasing chatDate, posters
/// skewed within a per-room circle of users; then `tblLastChatId`.
async fn write_chats(db: &Db, rooms: &[NodeSpec], opts: &SynthOptions, bar: &Bar) -> Result<()> {
    let (ids, mut rng) = (Ids::new(opts), Rng::new(opts.seed, 4));
    let counts = room_counts(opts.messages, rooms.len(), &mut rng);
    let mut chats = ChatBatch::new(db.dialect);
    let mut last = Batch::new("tblLastChatId", "nodeID, lastChatId");
    let mut tx = db.pool.begin().await?;
    let mut in_tx = 0;
    for (room, &count) in rooms.iter().zip(&counts) {
        let (id, base, circle) =
            (room.id, rng.skewed(ids.users), rng.range(2, 60).min(ids.users.max(1)));
        let mut date = room.added + rng.range(DAY / 24, 30 * DAY);
        let gap = (rng.range(180, 1400) * DAY / count.max(1)).max(1);
        for chat_id in 1..=count {
            date += 1 + rng.below(2 * gap);
            let user = ids.user((base + rng.skewed(circle)) % ids.users.max(1));
            let alert = u8::from(rng.chance(5));
            chats.rows.push((id, chat_id, date, user, alert, content(&mut rng, &room.guid)));
            let written = chats.flush_full(&mut tx).await?;
            bar.inc(written);
            in_tx += written;
            if in_tx >= ROWS_PER_TX {
                tx.commit().await?;
                tx = db.pool.begin().await?;
                in_tx = 0;
            }
        }
        if count > 0 {
            last.add(format_args!("({id}, {count})"));
        }
    }
    bar.inc(chats.flush(&mut tx).await?);
    last.flush(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Fills `db`, which must hold the empty legacy 2010 schema, with a synthetic deployment.
pub async fn generate(db: &Db, opts: &SynthOptions, progress: &Progress) -> Result<SynthSummary> {
    if opts.messages > 0 && (opts.rooms == 0 || opts.users == 0) {
        bail!("synth: messages need at least one room and one user");
    }
    let ids = Ids::new(opts);
    let ncat = (opts.rooms / 8).max(3);
    if ids.user(opts.users) > i32::MAX as u64 || opts.rooms + ncat >= i32::MAX as u64 {
        bail!("synth: too many principals or rooms for the int id columns");
    }
    let mut rng = Rng::new(opts.seed, 1);
    let mut tx = db.pool.begin().await?;
    for sql in FIXED_SQL {
        let sql = sql.replace("{guid}", &rng.guid());
        sqlx::raw_sql(&sql).execute(&mut *tx).await.context("synth: writing the fixed rows")?;
    }
    write_principals(&mut tx, &ids, &mut Rng::new(opts.seed, 2)).await?;
    let mut nodes = build_tree(opts, &ids, &mut Rng::new(opts.seed, 3));
    write_tree(&mut tx, &nodes, ids.admin()).await?;
    tx.commit().await?;
    nodes.retain(|n| !n.is_cat);
    let bar = progress.bar("synth", opts.messages);
    write_chats(db, &nodes, opts, &bar).await?;
    bar.finish();
    let (users, groups, rooms, messages) = (opts.users, opts.groups, opts.rooms, opts.messages);
    Ok(SynthSummary { users, groups, categories: ncat, rooms, messages })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_stream_and_is_deterministic() {
        assert_eq!(Rng(0).next(), 0xE220_A839_7B1D_CDAF);
        let (mut a, mut b) = (Rng::new(42, 3), Rng::new(42, 3));
        assert!((0..100).all(|_| a.next() == b.next()));
        assert_ne!(Rng::new(42, 3).next(), Rng::new(42, 4).next());
    }

    #[test]
    fn guids_are_lowercase_8_4_4_4_12() {
        let mut rng = Rng::new(1, 1);
        for _ in 0..100 {
            let g = rng.guid();
            let lens: Vec<usize> = g.split('-').map(str::len).collect();
            assert_eq!(lens, [8, 4, 4, 4, 12], "{g}");
            assert!(g.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        }
    }

    #[test]
    fn room_counts_sum_exactly_and_are_skewed() {
        for (total, rooms) in
            [(0, 5), (1, 1), (3, 10), (1000, 7), (1_000_003, 1000), (10_000_000, 33)]
        {
            let c = room_counts(total, rooms, &mut Rng::new(9, 4));
            assert_eq!((c.len(), c.iter().sum::<u64>()), (rooms, total));
        }
        let c = room_counts(1_000_000, 1000, &mut Rng::new(9, 4));
        assert!(*c.iter().max().unwrap_or(&0) > 50_000, "the largest room should be big");
        assert!(c.iter().filter(|&&n| n < 500).count() > 500, "most rooms should be small");
    }

    #[test]
    fn content_has_no_nul_and_a_sane_length() {
        let mut rng = Rng::new(3, 4);
        for _ in 0..20_000 {
            let s = content(&mut rng, "00000000-0000-4000-8000-000000000000");
            assert!(s.len() >= 10 && s.len() < 9000 && !s.contains('\0'), "{s:?}");
        }
    }

    #[test]
    fn tree_definers_follow_the_tree() {
        let opts = SynthOptions { users: 200, groups: 30, rooms: 400, messages: 0, seed: 7 };
        let nodes = build_tree(&opts, &Ids::new(&opts), &mut Rng::new(7, 3));
        assert_eq!(nodes.iter().filter(|n| !n.is_cat).count(), 400);
        for n in &nodes[1..] {
            let p = &nodes[n.parent as usize - 1];
            assert!(p.is_cat && p.id < n.id && n.depth <= 5);
            assert!(n.row.starts_with(&format!("({}, '{}', {}, ", n.id, n.guid, p.id)));
            let has = |kind| n.acl.iter().any(|a| a.0 == kind);
            assert_eq!(n.scope_def, if has(SCOPE) { n.id } else { p.scope_def });
            assert_eq!(n.role_def, if has(MEMBER) { n.id } else { p.role_def });
        }
        assert!(nodes.iter().any(|n| n.depth == 4 && n.is_cat));
        assert!(nodes.iter().any(|n| n.acl.iter().any(|a| a.0 == VOICED)));
    }

    #[test]
    fn sql_text_is_quoted_and_placeholders_fit_the_engine() {
        assert_eq!(q("O'Brien"), "'O''Brien'");
        assert_eq!((nul(None::<i32>), nul(Some(3))), ("NULL".to_string(), "3".to_string()));
        let values = " VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)";
        assert!(ChatBatch::sql(Dialect::Sqlite, 2).ends_with(values));
        let values = " VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)";
        assert!(ChatBatch::sql(Dialect::Postgres, 2).ends_with(values));
    }
}
